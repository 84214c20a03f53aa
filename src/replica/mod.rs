//! Replicas on a shared store: following other replicas' changes, and knowing how
//! fresh this copy is.
//!
//! The follower ([`follow::start`]) holds its own async connection that `LISTEN`s for
//! committed changes and ended sessions. A change notification pokes the directory
//! writer ([`CatchUpSignal`]), which applies the changes after its last sequence and
//! runs the same revocation fan-out as for a local change; an ended-session
//! notification makes [`crate::authn::session::Sessions`] forget the session. After a
//! lost connection the follower reconnects with backoff, then catches up and drops
//! sessions ended meanwhile; it also pokes on a slow timer as a safety net, and every
//! successful catch-up refreshes [`Freshness`], so a replica cut off for longer than the
//! configured bound fails closed.

pub mod follow;
mod freshness;
mod signal;

pub use freshness::{Freshness, FreshnessStatus};
pub use signal::CatchUpSignal;
