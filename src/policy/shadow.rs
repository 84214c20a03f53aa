//! Shadow policies: a candidate set judged beside the live one on real traffic,
//! never deciding anything.
//!
//! The candidate is read from `shadow_policies:` (default: `<policies>/shadow/` when
//! that directory exists) and reloaded like the live set, keeping the last good one
//! when a file is refused (it is the live handle's companion, so SIGHUP and the live
//! watcher reload it too; it has a watcher of its own). For every decision the live set
//! makes on a signed-in user, the shadow set decides the same request for the same user
//! ([`Shadow::judge`]); when the two differ, the difference (would allow / would
//! deny, with both deciding rules) is returned for the gate to count and record, and
//! noted on the [`Board`] the admin UI shows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::error::PolicyError;
use super::model::{Decision, RequestFacts, RuleRef, Subject};
use super::reload::PolicyHandle;
use super::set::PolicySet;
use super::NO_ROUTE;

/// Rows the board keeps (differences of further keys are only counted).
pub const BOARD_KEYS: usize = 500;
/// User names kept per board row, as examples.
pub const BOARD_USERS: usize = 5;

/// Which way the shadow set differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DiffKind {
    /// The live set denies, the shadow set would allow.
    WouldAllow,
    /// The live set allows, the shadow set would deny.
    WouldDeny,
}

impl DiffKind {
    /// The metric label and the audit record's `kind`.
    pub fn label(self) -> &'static str {
        match self {
            DiffKind::WouldAllow => "would_allow",
            DiffKind::WouldDeny => "would_deny",
        }
    }
}

/// One decision on which the sets differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: DiffKind,
    /// The live set's deciding rule.
    pub live: RuleRef,
    /// The shadow set's deciding rule.
    pub shadow: RuleRef,
}

/// One row of the board: a (kind, live rule, shadow rule) and who it happened to.
#[derive(Debug, Clone)]
pub struct BoardRow {
    pub kind: DiffKind,
    pub live: RuleRef,
    pub shadow: RuleRef,
    pub count: u64,
    /// Unix milliseconds of the latest.
    pub last_ms: i64,
    /// Up to [`BOARD_USERS`] user names it happened to.
    pub users: Vec<String>,
}

/// The differences seen since start (or since the shadow set last changed).
#[derive(Debug, Default)]
struct Board {
    digest: String,
    rows: HashMap<(DiffKind, RuleRef, RuleRef), BoardRow>,
    /// Differences of keys past [`BOARD_KEYS`].
    overflow: u64,
}

/// The candidate set and what it has differed on.
#[derive(Debug)]
pub struct Shadow {
    handle: Arc<PolicyHandle>,
    board: Mutex<Board>,
}

impl Shadow {
    /// Loads the candidate set from `dir` (the first load must succeed).
    pub fn load(dir: PathBuf) -> Result<Arc<Shadow>, PolicyError> {
        Ok(Arc::new(Shadow {
            handle: PolicyHandle::load(dir)?,
            board: Mutex::default(),
        }))
    }

    /// The shadow directory of a deployment: `configured`, else `<policies>/shadow`
    /// when it is a directory; `None`: no shadow set.
    pub fn dir_for(configured: Option<&Path>, policies: &Path) -> Option<PathBuf> {
        match configured {
            Some(dir) => Some(dir.to_path_buf()),
            None => Some(policies.join("shadow")).filter(|d| d.is_dir()),
        }
    }

    /// The candidate set's handle (status, reload, watch).
    pub fn handle(&self) -> &Arc<PolicyHandle> {
        &self.handle
    }

    /// Decides the request under the shadow set and compares with the live decision.
    pub fn judge(
        &self,
        host: &str,
        req: RequestFacts<'_>,
        who: &dyn Subject,
        live: &Decision,
    ) -> Option<Difference> {
        let set = self.handle.current();
        let theirs = decide_anywhere(&set, host, req, who);
        if theirs.allow == live.allow {
            return None;
        }
        Some(Difference {
            kind: if theirs.allow {
                DiffKind::WouldAllow
            } else {
                DiffKind::WouldDeny
            },
            live: live.by.clone(),
            shadow: theirs.by,
        })
    }

    /// Notes a difference on the board (for the admin UI).
    pub fn note(&self, diff: &Difference, user_name: &str, at_ms: i64) {
        let digest = self.handle.status().digest;
        let mut board = self.board.lock();
        if board.digest != digest {
            // A new candidate: what the old one differed on no longer says anything.
            *board = Board {
                digest,
                ..Board::default()
            };
        }
        let key = (diff.kind, diff.live.clone(), diff.shadow.clone());
        if !board.rows.contains_key(&key) && board.rows.len() >= BOARD_KEYS {
            board.overflow += 1;
            return;
        }
        let row = board.rows.entry(key).or_insert_with(|| BoardRow {
            kind: diff.kind,
            live: diff.live.clone(),
            shadow: diff.shadow.clone(),
            count: 0,
            last_ms: at_ms,
            users: Vec::new(),
        });
        row.count += 1;
        row.last_ms = row.last_ms.max(at_ms);
        if row.users.len() < BOARD_USERS && !row.users.iter().any(|u| u == user_name) {
            row.users.push(user_name.to_owned());
        }
    }

    /// The board's rows, most frequent first, and the differences past its bound.
    pub fn board(&self) -> (Vec<BoardRow>, u64) {
        let board = self.board.lock();
        let mut rows: Vec<BoardRow> = board.rows.values().cloned().collect();
        rows.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.live.route.cmp(&b.live.route))
                .then_with(|| a.kind.cmp(&b.kind))
        });
        (rows, board.overflow)
    }
}

/// The decision of `set` on a request for `host`: its route's, or `no-route` (deny).
pub fn decide_anywhere(
    set: &PolicySet,
    host: &str,
    req: RequestFacts<'_>,
    who: &dyn Subject,
) -> Decision {
    match set.match_route(host, req.path) {
        Some(m) => set.decide(&m, req, who),
        None => Decision {
            allow: false,
            by: RuleRef {
                route: Arc::from("-"),
                rule: Arc::from(NO_ROUTE),
                location: Arc::from("-"),
            },
        },
    }
}
