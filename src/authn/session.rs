//! Server-side browser sessions.
//!
//! The cookie carries a random 256-bit token; memory and the store keep only its
//! SHA-256, so neither a database dump nor a heap dump yields a usable cookie. A session
//! is written to the store before its cookie is handed out (so it survives a restart),
//! and every lookup is answered from memory (the request path never waits on the
//! store). Sessions are indexed by user too, so the revocation fan-out ends all of a
//! user's sessions without scanning: [`Sessions::end_user`] is memory-only, because the
//! store already deleted the rows in the same transaction as the deprovisioning.
//!
//! A session opened by a browser sign-in keeps the provider's ID token in memory (not
//! in the store): on sign-out it is the `id_token_hint` that signs the browser out at
//! the provider too. After a restart, or on another replica, the hint is absent and
//! the provider is asked with `client_id` alone.
//!
//! A session ends at its expiry (`sessions.ttl_seconds` after login, not sliding), at
//! sign-out, or when its user is deactivated or deleted. Whether the user is still
//! active and in which groups is read from the directory on every request by the
//! caller, so a session never carries stale rights.
//!
//! On a store shared by several replicas ([`Store::is_shared`]), a session made on
//! another replica is not in this one's memory: [`Sessions::lookup_shared`] falls back
//! to the store on a miss and remembers what it finds. Sign-outs elsewhere arrive as
//! notifications ([`Sessions::forget_hash`]); after the follower reconnects,
//! [`Sessions::resync`] drops the sessions ended while it was away. Deprovisioning
//! reaches every replica through the replicated change and the commit hook.

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use foldhash::fast::RandomState;
use http::{HeaderMap, HeaderValue};
use smallvec::SmallVec;
use tokio_util::sync::CancellationToken;

use super::{cookie, random_token, AuthnError};
use crate::clock::{to_millis, SharedClock};
use crate::config::SessionConfig;
use crate::record::SessionRow;
use crate::store::{Store, StoreError};

/// Length of a session token (32 bytes, base64url).
const TOKEN_LEN: usize = 43;

/// One live session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Session {
    /// The SCIM `id` of the user.
    pub user_id: Arc<str>,
    /// Unix milliseconds.
    pub expires_ms: i64,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// When a request last went through with this session ([`Sessions::touch`]), Unix
    /// milliseconds; this replica's memory only (`created_ms` until then).
    pub last_seen_ms: i64,
    /// How the user signed in, from the ID token; memory only (`None` after a restart
    /// or on another replica, where a route that asks for it signs the user in again).
    pub sign_in: Option<SignIn>,
}

/// What the ID token of a browser sign-in said about the authentication.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignIn {
    /// `auth_time`, Unix seconds.
    pub auth_time: Option<i64>,
    /// `acr`.
    pub acr: Option<Arc<str>>,
    /// What the sign-in was asked for as a step-up, until the first request after it
    /// reports it ([`Sessions::touch`]).
    pub step_up: Option<super::step_up::StepUpAsk>,
}

type Hash = [u8; 32];

/// All live sessions.
pub struct Sessions {
    store: Arc<dyn Store>,
    cfg: SessionConfig,
    clock: SharedClock,
    by_token: DashMap<Hash, Session, RandomState>,
    by_user: DashMap<Arc<str>, SmallVec<[Hash; 2]>, RandomState>,
    /// The ID token each browser sign-in was made with (memory only).
    id_tokens: DashMap<Hash, Arc<str>, RandomState>,
}

impl Sessions {
    /// Loads the sessions that have not expired from the store.
    pub fn load(
        store: Arc<dyn Store>,
        cfg: SessionConfig,
        clock: SharedClock,
    ) -> Result<Self, StoreError> {
        let rows = store.sessions_load(to_millis(clock.now()))?;
        let sessions = Self {
            store,
            cfg,
            clock,
            by_token: DashMap::with_hasher(RandomState::default()),
            by_user: DashMap::with_hasher(RandomState::default()),
            id_tokens: DashMap::with_hasher(RandomState::default()),
        };
        for row in rows {
            let Ok(hash) = Hash::try_from(row.token_hash.as_slice()) else {
                continue;
            };
            sessions.remember(
                hash,
                Session {
                    user_id: Arc::from(row.user_id),
                    expires_ms: row.expires,
                    created_ms: row.created,
                    last_seen_ms: row.created,
                    sign_in: None,
                },
            );
        }
        Ok(sessions)
    }

    /// Opens a session for `user_id`; returns the token for the cookie once the
    /// session is durable.
    pub async fn create(&self, user_id: &str) -> Result<String, AuthnError> {
        self.create_with_id_token(user_id, None).await
    }

    /// [`Sessions::create`], keeping the ID token of the sign-in (in memory) for the
    /// provider's sign-out.
    pub async fn create_with_id_token(
        &self,
        user_id: &str,
        id_token: Option<String>,
    ) -> Result<String, AuthnError> {
        self.create_signed_in(user_id, id_token, None).await
    }

    /// [`Sessions::create_with_id_token`], keeping what the ID token said about the
    /// authentication (`auth_time`, `acr`) for the routes that ask for it.
    pub async fn create_signed_in(
        &self,
        user_id: &str,
        id_token: Option<String>,
        sign_in: Option<SignIn>,
    ) -> Result<String, AuthnError> {
        let token = random_token();
        let hash = hash(&token);
        let now = to_millis(self.clock.now());
        let ttl = i64::try_from(self.cfg.ttl.as_millis()).unwrap_or(i64::MAX);
        let session = Session {
            user_id: Arc::from(user_id),
            created_ms: now,
            expires_ms: now.saturating_add(ttl),
            last_seen_ms: now,
            sign_in,
        };
        let row = SessionRow {
            token_hash: hash.to_vec(),
            user_id: user_id.to_owned(),
            created: session.created_ms,
            expires: session.expires_ms,
        };
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.session_insert(&row)).await??;
        if let Some(id_token) = id_token {
            self.id_tokens.insert(hash, Arc::from(id_token));
        }
        self.remember(hash, session);
        Ok(token)
    }

    /// The live session for a cookie's token (memory only; expired → `None`).
    pub fn lookup(&self, token: &str) -> Option<Session> {
        if token.len() != TOKEN_LEN {
            return None;
        }
        let session = self.by_token.get(&hash(token))?.clone();
        (session.expires_ms > to_millis(self.clock.now())).then_some(session)
    }

    /// The live session for a cookie's token: memory first; on a shared store, a miss
    /// is looked up in the store (the session may have been made on another replica).
    pub async fn lookup_shared(&self, token: &str) -> Option<Session> {
        if let Some(s) = self.lookup(token) {
            return Some(s);
        }
        if token.len() != TOKEN_LEN || !self.store.is_shared() {
            return None;
        }
        let hash = hash(token);
        let now = to_millis(self.clock.now());
        let store = self.store.clone();
        let row = match tokio::task::spawn_blocking(move || store.session_get(&hash, now)).await {
            Ok(Ok(row)) => row?,
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "cannot look a session up in the store");
                return None;
            }
            Err(error) => {
                tracing::warn!(error = %error, "session lookup task failed");
                return None;
            }
        };
        let session = Session {
            user_id: Arc::from(row.user_id),
            expires_ms: row.expires,
            created_ms: row.created,
            last_seen_ms: row.created,
            sign_in: None,
        };
        self.remember(hash, session.clone());
        Some(session)
    }

    /// Notes that a request went through with this session now (for the routes'
    /// idle timeouts). Returns the step-up the session's sign-in answered, the first
    /// time only.
    pub fn touch(&self, token: &str) -> Option<super::step_up::StepUpAsk> {
        if token.len() != TOKEN_LEN {
            return None;
        }
        let now = to_millis(self.clock.now());
        let mut s = self.by_token.get_mut(&hash(token))?;
        s.last_seen_ms = s.last_seen_ms.max(now);
        s.sign_in.as_mut().and_then(|i| i.step_up.take())
    }

    /// Forgets a session ended elsewhere (by its token hash), in memory only.
    pub fn forget_hash(&self, token_hash: &[u8]) {
        if let Ok(hash) = Hash::try_from(token_hash) {
            self.forget(&hash);
        }
    }

    /// Forgets the sessions in memory that the store no longer holds (ended on another
    /// replica while this one was not listening).
    pub async fn resync(&self) {
        let now = to_millis(self.clock.now());
        let store = self.store.clone();
        let rows = match tokio::task::spawn_blocking(move || store.sessions_load(now)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "cannot reload sessions from the store");
                return;
            }
            Err(error) => {
                tracing::warn!(error = %error, "session reload task failed");
                return;
            }
        };
        let live: std::collections::HashSet<Vec<u8>> =
            rows.into_iter().map(|r| r.token_hash).collect();
        let gone: Vec<Hash> = self
            .by_token
            .iter()
            .filter(|e| !live.contains(e.key().as_slice()))
            .map(|e| *e.key())
            .collect();
        for h in &gone {
            self.forget(h);
        }
        if !gone.is_empty() {
            tracing::info!(sessions = gone.len(), "sessions ended elsewhere forgotten");
        }
    }

    /// Signs out: forgets the session in memory and deletes it from the store. Returns
    /// the ID token the session was opened with, when this replica kept it.
    pub async fn end(&self, token: &str) -> Option<Arc<str>> {
        if token.len() != TOKEN_LEN {
            return None;
        }
        let hash = hash(token);
        let id_token = self.id_tokens.get(&hash).map(|t| t.clone());
        self.forget(&hash);
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.session_delete(&hash)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "cannot delete a session from the store")
            }
            Err(error) => tracing::warn!(error = %error, "session deletion task failed"),
        }
        id_token
    }

    /// Ends every session of `user_id` in memory (the store deleted them with the
    /// change that deprovisioned the user). Returns how many ended.
    pub fn end_user(&self, user_id: &str) -> usize {
        let Some((_, hashes)) = self.by_user.remove(user_id) else {
            return 0;
        };
        hashes
            .iter()
            .filter(|h| {
                self.id_tokens.remove(*h);
                self.by_token.remove(*h).is_some()
            })
            .count()
    }

    /// Drops expired sessions from memory and the store; returns how many left memory.
    pub async fn purge_expired(&self) -> Result<usize, AuthnError> {
        let now = to_millis(self.clock.now());
        let mut expired: Vec<(Arc<str>, Hash)> = Vec::new();
        self.by_token.retain(|h, s| {
            let keep = s.expires_ms > now;
            if !keep {
                expired.push((s.user_id.clone(), *h));
            }
            keep
        });
        for (user, hash) in &expired {
            self.id_tokens.remove(hash);
            self.unindex(user, hash);
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.sessions_purge_expired(now)).await??;
        Ok(expired.len())
    }

    /// Purges expired sessions every `every` until `cancel` fires (the caller spawns
    /// it on the shutdown tree).
    pub async fn purge_every(self: Arc<Self>, every: Duration, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(error) = self.purge_expired().await {
                        tracing::warn!(error = %error, "purging expired sessions failed");
                    }
                }
            }
        }
    }

    /// How many sessions are held in memory (expired ones until purged included).
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }

    /// The session cookie's configured name, without the `__Host-` prefix.
    pub fn cookie_base(&self) -> &str {
        &self.cfg.cookie_name
    }

    /// Whether cookies are `Secure` and `__Host-` prefixed: the listener speaks TLS
    /// (`tls`), or browsers reach scimgate at an `https://` public URL
    /// (`sessions.secure`, set by the configuration).
    pub fn secure(&self, tls: bool) -> bool {
        tls || self.cfg.secure
    }

    /// The session cookie's name: `__Host-{name}` when [secure](Self::secure), else
    /// `{name}`.
    pub fn cookie_name(&self, tls: bool) -> String {
        cookie::wire_name(&self.cfg.cookie_name, self.secure(tls))
    }

    /// `Set-Cookie` for a new session (`Path=/; HttpOnly; SameSite=Lax`, `Secure` when
    /// [secure](Self::secure), `Max-Age` the session's lifetime).
    pub fn set_cookie(&self, token: &str, tls: bool) -> HeaderValue {
        cookie::set(
            &self.cookie_name(tls),
            token,
            self.cfg.ttl,
            self.secure(tls),
        )
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear_cookie(&self, tls: bool) -> HeaderValue {
        cookie::clear(&self.cookie_name(tls), self.secure(tls))
    }

    /// The session token from the request's `Cookie` headers, if any.
    pub fn token_from(&self, headers: &HeaderMap, tls: bool) -> Option<String> {
        cookie::find(headers, &self.cookie_name(tls))
            .filter(|t| t.len() == TOKEN_LEN)
            .map(str::to_owned)
    }

    fn remember(&self, hash: Hash, session: Session) {
        // Holding the user's index entry while inserting the session keeps `end_user`
        // from missing a session created at the same moment.
        let mut entry = self.by_user.entry(session.user_id.clone()).or_default();
        entry.push(hash);
        self.by_token.insert(hash, session);
    }

    fn forget(&self, hash: &Hash) {
        self.id_tokens.remove(hash);
        if let Some((_, session)) = self.by_token.remove(hash) {
            self.unindex(&session.user_id, hash);
        }
    }

    fn unindex(&self, user: &str, hash: &Hash) {
        self.by_user.remove_if_mut(user, |_, hashes| {
            hashes.retain(|h| h != hash);
            hashes.is_empty()
        });
    }
}

fn hash(token: &str) -> Hash {
    crate::record::digest::sha256(token.as_bytes())
}

/// The follower of a shared store reports sessions ended on other replicas here.
impl crate::replica::SessionEnds for Sessions {
    fn ended(&self, token_hash: &[u8]) {
        self.forget_hash(token_hash);
    }

    fn resync(&self) -> futures_util::future::BoxFuture<'_, ()> {
        Box::pin(Sessions::resync(self))
    }
}
