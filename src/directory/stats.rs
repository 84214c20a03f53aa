//! What the directory reports when `/metrics` is scraped.

use super::Directory;
use crate::metrics::collect::{DirectoryStats, DirectoryStatsSource, ReplicaStats};

impl DirectoryStatsSource for Directory {
    fn directory_stats(&self) -> DirectoryStats {
        let f = self.freshness().status();
        DirectoryStats {
            users: self.user_count(),
            groups: self.group_count(),
            memberships: self.membership_count(),
            // Only a replica on a shared store has caught up with anything.
            replica: f.since_catch_up.map(|since| ReplicaStats {
                fresh: f.fresh,
                connected: f.connected,
                since_catch_up: since,
            }),
        }
    }
}
