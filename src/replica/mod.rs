//! Replicas on a shared store: following other replicas' changes, ended sessions and
//! access requests.
//!
//! The follower ([`follow::start`]) holds its own async connection that `LISTEN`s for
//! committed changes and ended sessions. A change notification pokes the directory
//! writer ([`crate::directory::CatchUpSignal`]), which applies the changes after its
//! last sequence and runs the same revocation fan-out as for a local change; an
//! ended-session notification is passed to [`SessionEnds`] (the session cache, wired
//! at start), which forgets the session; an access request notification is passed to
//! [`GrantChanges`] (the access service), which reads the request again. After a lost connection the follower
//! reconnects with backoff, then catches up and has sessions ended meanwhile dropped;
//! it also pokes on a slow timer as a safety net, and every successful catch-up
//! refreshes the directory's [`crate::directory::Freshness`], so a replica cut off for
//! longer than the configured bound fails closed.

pub mod follow;
mod grant_changes;
mod session_ends;

pub use grant_changes::GrantChanges;
pub use session_ends::SessionEnds;
