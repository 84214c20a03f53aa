//! Replicas on PostgreSQL: several scimgate processes on one database keep one
//! directory, revoke everywhere, survive a replica crash and a database restart, fail
//! closed when cut off, and an embedded store moves over intact.

pub mod env;

mod conflicts;
mod crash;
mod migrate;
mod outage;
mod pg_tls;
mod revocation;
