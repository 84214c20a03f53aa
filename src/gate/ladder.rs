//! The proxy benchmark's ablation ladder (`bench/proxy/run`, `bench/ladder.rs`): how
//! much of the pipeline a proxied request goes through, so that the benchmark can
//! print the CPU time and allocations each part adds.
//!
//! Production never lowers it: the rung is [`Rung::Audit`] (everything) unless the
//! ladder's benchmark binary calls [`set`] before it starts the server; nothing in the
//! configuration or on the command line reaches it. Each check is one relaxed atomic
//! load. Below [`Rung::Directory`] a request is allowed for a fixed stand-in user that
//! is in no group, so the rungs under it measure routing and the bearer check alone.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use crate::record::UserRecord;

/// A rung: each includes every part of the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Rung {
    /// Route by host and path, clean the headers, forward.
    Route = 1,
    /// + the bearer JWT is verified (a cache hit after the first request).
    Jwt,
    /// + the caller is looked up in the directory (user and effective groups).
    Directory,
    /// + the route's policy decides.
    Policy,
    /// + the identity headers and the signed assertion.
    Identity,
    /// + the exchange is registered as a live stream (revocation can cut it).
    Revocation,
    /// + the decision and the request are counted under the route (`/metrics`).
    Metrics,
    /// + the decision is queued for the audit log: the whole pipeline.
    Audit,
}

impl Rung {
    /// Every rung, bottom first.
    pub const ALL: [Rung; 8] = [
        Rung::Route,
        Rung::Jwt,
        Rung::Directory,
        Rung::Policy,
        Rung::Identity,
        Rung::Revocation,
        Rung::Metrics,
        Rung::Audit,
    ];

    /// The rung's name in the benchmark's table.
    pub fn name(self) -> &'static str {
        match self {
            Rung::Route => "route",
            Rung::Jwt => "jwt",
            Rung::Directory => "directory",
            Rung::Policy => "policy",
            Rung::Identity => "identity",
            Rung::Revocation => "revocation",
            Rung::Metrics => "metrics",
            Rung::Audit => "audit",
        }
    }

    /// The rung called `name`.
    pub fn parse(name: &str) -> Option<Rung> {
        Rung::ALL.into_iter().find(|r| r.name() == name)
    }
}

static RUNG: AtomicU8 = AtomicU8::new(Rung::Audit as u8);

/// Lowers the pipeline to `rung` for the rest of the process (the benchmark only).
#[doc(hidden)]
pub fn set(rung: Rung) {
    RUNG.store(rung as u8, Ordering::Relaxed);
}

/// Whether requests go through `rung`'s part of the pipeline.
#[inline]
pub fn reaches(rung: Rung) -> bool {
    RUNG.load(Ordering::Relaxed) >= rung as u8
}

/// The stand-in caller of the rungs below [`Rung::Directory`]: in no group, never
/// in the directory.
pub fn stand_in() -> Arc<UserRecord> {
    static USER: OnceLock<Arc<UserRecord>> = OnceLock::new();
    USER.get_or_init(|| Arc::new(UserRecord::new(u32::MAX, "ladder", "ladder")))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_rungs_are_ordered() {
        for (i, r) in Rung::ALL.into_iter().enumerate() {
            assert_eq!(Rung::parse(r.name()), Some(r));
            assert_eq!(r as usize, i + 1);
        }
        assert_eq!(Rung::parse("everything"), None);
        // Production is never lowered: every part runs.
        assert!(Rung::ALL.into_iter().all(reaches));
    }
}
