//! Replicas on PostgreSQL: several scimgate instances on one database keep one
//! directory, revoke everywhere, survive a replica crash and a database restart, fail
//! closed when cut off, and an embedded store moves over intact.
//!
//! What runs where (each test makes a database of its own):
//!
//! - separate `scimgate serve` processes, the real binary, started together on a fresh
//!   database (so they also race to migrate it): [`processes`] (the migration race;
//!   a write through one replica served and enforced by the others; revocation and
//!   stream cuts across replicas), [`conflicts`] (same-name creates and concurrent group
//!   PATCHes on several processes at once), [`crash`] (a replica killed under load;
//!   its two replicas start one after the other on a database a token was written to),
//!   [`rate_limits`] (two processes keep one limit for the cluster, each half of it),
//!   [`access`] (a grant voted on from two replicas starts, is revoked and ends on
//!   both, one audit record for its end; and, in process, a grant surviving a restart);
//! - replicas in the test process (`server::spawn` on the test's runtime, started one
//!   after the other; each has its own store connections and change follower, so they
//!   share only the database, but not proven by a process boundary): [`revocation`]
//!   (sessions, made directly as the login flow does), [`outage`] (a private cluster
//!   stopped and started under load), [`pg_tls`] (TLS to the database), [`migrate`]
//!   (`scimgate migrate` and `scimgate audit verify` are the binary; the replica that
//!   reads the moved store is in process).

pub mod env;
mod procs;

mod access;
mod conflicts;
mod crash;
mod migrate;
mod outage;
mod pg_tls;
mod processes;
mod rate_limits;
mod revocation;
