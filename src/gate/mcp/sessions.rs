//! Which user each MCP session belongs to, so that a session id is worth nothing to
//! anyone but its owner.
//!
//! An MCP server names a session (`Mcp-Session-Id`) in its answer to `initialize` and
//! keeps state under it: the results and notifications of the session's calls reach
//! whoever holds the id (the GET event stream, later POSTs). Every message is still
//! judged on the caller's own identity, but a second user who learned the id could
//! read the first one's results. So the gate binds each session id to the user it was
//! issued to (the caller whose request the server answered with it), and answers a
//! request that carries a session id bound to another user as the transport answers
//! an unknown session: 404, never forwarded.
//!
//! A session this process has not seen (issued before a restart, or by another
//! replica) is bound to the first user who uses it here. The map is bounded twice:
//! each user owns at most [`MAX_SESSIONS_PER_USER`] (past it, that user's own oldest
//! is forgotten), so one caller sending made-up ids cannot push other users' sessions
//! out and then claim them as unknown; and [`MAX_SESSIONS`] per process (past it, the
//! oldest tenth is forgotten, and would be bound again on next use). Ids longer than
//! [`MAX_SESSION_ID_BYTES`] are refused. A session ended by `DELETE` is forgotten.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use dashmap::DashMap;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::gate::Gate;

/// Sessions remembered at most.
pub const MAX_SESSIONS: usize = 100_000;

/// Sessions one user owns at most; binding one more forgets that user's oldest.
pub const MAX_SESSIONS_PER_USER: usize = 1_000;

/// The longest session id remembered; a longer one is refused like another user's
/// (servers issue ids of a few dozen bytes), so the map's memory is bounded.
pub const MAX_SESSION_ID_BYTES: usize = 256;

/// The header that names a session.
pub const SESSION_HEADER: &str = "mcp-session-id";

struct Owner {
    user_id: Arc<str>,
    /// When it was bound (a counter), to forget the oldest first.
    order: u64,
}

type SessionKey = (Arc<str>, Box<str>);

/// Session ids by route, and the user each belongs to.
#[derive(Default)]
pub struct McpSessions {
    map: DashMap<SessionKey, Owner, foldhash::fast::RandomState>,
    /// Each user's sessions, oldest first, with the order they were bound under (an
    /// entry whose session was forgotten since, or bound again, is skipped).
    by_user: DashMap<Arc<str>, VecDeque<(SessionKey, u64)>, foldhash::fast::RandomState>,
    next: AtomicU64,
}

/// A session that belongs to someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotYours;

impl McpSessions {
    /// Whether `user_id` may use `session` on `route`; a session not known here is
    /// bound to them.
    pub fn admit(
        &self,
        route: &Arc<str>,
        session: &str,
        user_id: &Arc<str>,
    ) -> Result<(), NotYours> {
        let key: SessionKey = (route.clone(), session.into());
        if let Some(owner) = self.map.get(&key) {
            return if owner.user_id == *user_id {
                Ok(())
            } else {
                Err(NotYours)
            };
        }
        if self.bind_key(key, user_id) {
            Ok(())
        } else {
            Err(NotYours)
        }
    }

    /// Binds `session` (named by the server's answer) to `user_id`, unless it is
    /// bound already (then the first owner keeps it).
    pub fn bind(&self, route: &Arc<str>, session: &str, user_id: &Arc<str>) {
        self.bind_key((route.clone(), session.into()), user_id);
    }

    /// Binds `key` to `user_id` unless it has an owner; whether `user_id` owns it now.
    fn bind_key(&self, key: SessionKey, user_id: &Arc<str>) -> bool {
        if self.map.len() >= MAX_SESSIONS {
            self.forget_oldest();
        }
        let order = self.next.fetch_add(1, Ordering::Relaxed);
        let mut bound = false;
        let owned = {
            let owner = self.map.entry(key.clone()).or_insert_with(|| {
                bound = true;
                Owner {
                    user_id: user_id.clone(),
                    order,
                }
            });
            owner.user_id == *user_id
        };
        if bound {
            self.note_owned(key, user_id, order);
        }
        owned
    }

    /// Files a new binding under its user, forgetting the user's oldest past
    /// [`MAX_SESSIONS_PER_USER`]. No lock on `map` is held while one on `by_user` is
    /// taken here, and `forget` takes them one after the other, never nested.
    fn note_owned(&self, key: SessionKey, user_id: &Arc<str>, order: u64) {
        let mut owned = self.by_user.entry(user_id.clone()).or_default();
        owned.push_back((key, order));
        while owned.len() > MAX_SESSIONS_PER_USER {
            let Some((old, old_order)) = owned.pop_front() else {
                break;
            };
            self.map
                .remove_if(&old, |_, o| o.order == old_order && o.user_id == *user_id);
        }
    }

    /// Forgets `session` (ended by the client).
    pub fn forget(&self, route: &Arc<str>, session: &str) {
        let key: SessionKey = (route.clone(), session.into());
        let Some((key, owner)) = self.map.remove(&key) else {
            return;
        };
        if let Some(mut owned) = self.by_user.get_mut(&owner.user_id) {
            owned.retain(|(k, order)| !(*order == owner.order && *k == key));
        }
        self.by_user
            .remove_if(&owner.user_id, |_, owned| owned.is_empty());
    }

    /// How many sessions are bound.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn forget_oldest(&self) {
        let mut orders: Vec<u64> = self.map.iter().map(|e| e.order).collect();
        let cut = orders.len() / 10;
        if cut == 0 {
            return;
        }
        let (_, nth, _) = orders.select_nth_unstable(cut);
        let limit = *nth;
        self.map.retain(|_, owner| owner.order > limit);
        self.by_user.retain(|_, owned| {
            owned.retain(|(_, order)| *order > limit);
            !owned.is_empty()
        });
    }
}

impl Gate {
    /// The session a request on an mcp route names, if it is the caller's (or new
    /// here); `Err`: answer [`not_found`] instead.
    pub(crate) fn admit_mcp_session(
        &self,
        route: &Arc<str>,
        headers: &HeaderMap,
        user_id: &Arc<str>,
    ) -> Result<Option<String>, NotYours> {
        let Some(session) = headers.get(SESSION_HEADER) else {
            return Ok(None);
        };
        let Ok(session) = session.to_str() else {
            return Err(NotYours);
        };
        if session.len() > MAX_SESSION_ID_BYTES {
            return Err(NotYours);
        }
        match self.mcp_sessions.admit(route, session, user_id) {
            Ok(()) => Ok(Some(session.to_owned())),
            Err(NotYours) => {
                tracing::warn!(route = %route, user_id = %user_id, "an MCP session of another user was refused");
                Err(NotYours)
            }
        }
    }

    /// After the server answered: binds a session it named to the caller, or forgets
    /// the one a successful `DELETE` ended.
    pub(crate) fn note_mcp_session(
        &self,
        route: &Arc<str>,
        answer: &HeaderMap,
        user_id: &Arc<str>,
        ended: Option<&str>,
    ) {
        if let Some(session) = ended {
            self.mcp_sessions.forget(route, session);
            return;
        }
        if let Some(session) = answer
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|s| s.len() <= MAX_SESSION_ID_BYTES)
        {
            self.mcp_sessions.bind(route, session, user_id);
        }
    }
}

/// 404 with a JSON-RPC error: the session is not one the caller may use.
pub(crate) fn not_found() -> Response<Body> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32001, "message": "session not found: start a new one with initialize"},
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Arc<str> {
        Arc::from(v)
    }

    #[test]
    fn a_session_is_its_owners_only() {
        let m = McpSessions::default();
        let route = s("mcp");
        m.bind(&route, "abc", &s("u1"));
        assert_eq!(m.admit(&route, "abc", &s("u1")), Ok(()));
        assert_eq!(m.admit(&route, "abc", &s("u2")), Err(NotYours));
        // Bound again by another answer: the first owner keeps it.
        m.bind(&route, "abc", &s("u2"));
        assert_eq!(m.admit(&route, "abc", &s("u2")), Err(NotYours));
        // Per route: the same id on another route is another session.
        assert_eq!(m.admit(&s("other"), "abc", &s("u2")), Ok(()));
        // Unknown here: bound to its first user.
        assert_eq!(m.admit(&route, "new", &s("u3")), Ok(()));
        assert_eq!(m.admit(&route, "new", &s("u1")), Err(NotYours));
        m.forget(&route, "abc");
        assert_eq!(m.admit(&route, "abc", &s("u2")), Ok(()));
    }

    #[test]
    fn one_user_inventing_ids_forgets_only_their_own() {
        let m = McpSessions::default();
        let route = s("mcp");
        m.bind(&route, "victim", &s("u1"));
        // u2 sends made-up ids, each bound to them as unknown, well past every cap.
        for i in 0..(MAX_SESSIONS + MAX_SESSIONS_PER_USER) {
            assert_eq!(m.admit(&route, &format!("x{i}"), &s("u2")), Ok(()));
        }
        assert_eq!(m.len(), MAX_SESSIONS_PER_USER + 1);
        // u1's session is still theirs: u2 cannot claim it as unknown.
        assert_eq!(m.admit(&route, "victim", &s("u2")), Err(NotYours));
        assert_eq!(m.admit(&route, "victim", &s("u1")), Ok(()));
        // u2's oldest were forgotten, their newest kept.
        assert_eq!(m.admit(&route, "x0", &s("u1")), Ok(()));
        let newest = format!("x{}", MAX_SESSIONS + MAX_SESSIONS_PER_USER - 1);
        assert_eq!(m.admit(&route, &newest, &s("u1")), Err(NotYours));
    }

    #[test]
    fn an_ended_session_leaves_its_owners_count() {
        let m = McpSessions::default();
        let route = s("mcp");
        m.bind(&route, "keep", &s("u1"));
        for i in 0..(2 * MAX_SESSIONS_PER_USER) {
            let id = format!("s{i}");
            m.bind(&route, &id, &s("u1"));
            m.forget(&route, &id);
        }
        // Ended sessions do not count: the first one is still u1's.
        assert_eq!(m.len(), 1);
        assert_eq!(m.admit(&route, "keep", &s("u2")), Err(NotYours));
    }

    #[test]
    fn the_oldest_are_forgotten_past_the_cap() {
        let m = McpSessions::default();
        let route = s("mcp");
        // Many users, each under their own cap.
        for i in 0..MAX_SESSIONS {
            let user = s(&format!("u{}", i / 100));
            m.bind(&route, &i.to_string(), &user);
        }
        assert_eq!(m.len(), MAX_SESSIONS);
        m.bind(&route, "late", &s("u2"));
        assert!(
            m.len() <= MAX_SESSIONS - MAX_SESSIONS / 10 + 1,
            "{}",
            m.len()
        );
        assert_eq!(m.admit(&route, "late", &s("u1")), Err(NotYours));
        // The newest of the old ones are kept.
        let last = (MAX_SESSIONS - 1).to_string();
        assert_eq!(m.admit(&route, &last, &s("u2")), Err(NotYours));
    }
}
