//! Who may call the SCIM (or admin) API: a live token of the right scope, from an
//! allowed network.
//!
//! A refusal says what to check in its SCIM error `detail` ([`AuthFailure`]) and is
//! logged at WARN with its reason and, when the token is genuine but of the other scope,
//! the token's name; never the secret. A wrong secret and a token that was never issued
//! or was revoked (revoking deletes it) are the same "unknown token". The log is
//! bounded by [`super::auth_log`].
//!
//! Tokens are read from the store on every request, so a token created or revoked with
//! `scimgate token` while the server runs takes effect at once. `last_used` is written
//! at most once a minute per token, off the request path.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ScimError, ScimState};
use crate::clock::to_millis;
use crate::record::Actor;
use crate::tokens::PREFIX;
use crate::tokens::{self, TokenScope};

const TOUCH_EVERY_MS: i64 = 60_000;

/// Why a token was refused; the text is the SCIM error's `detail`, written for the
/// identity provider's administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error(
        "missing Authorization header: send Authorization: Bearer <token>, with a token \
         from scimgate token create"
    )]
    Missing,
    #[error("the Authorization header must use the Bearer scheme: Authorization: Bearer <token>")]
    NotBearer,
    #[error(
        "malformed token: scimgate tokens start with {PREFIX}; check that the whole token \
         was copied"
    )]
    Malformed,
    #[error(
        "unknown token: it was never issued by this scimgate or has been revoked; create \
         a new one with scimgate token create <name>"
    )]
    Unknown,
    #[error(
        "this is {} {actual} token; the {api} API needs {} {expected} token (scimgate \
         token create <name> --scope {expected})",
        article(actual),
        article(expected)
    )]
    WrongScope {
        /// The token's name (logged; not in the detail).
        name: String,
        actual: &'static str,
        expected: &'static str,
        api: &'static str,
    },
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

impl AuthFailure {
    /// A short code for the log.
    fn reason(&self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing_authorization",
            AuthFailure::NotBearer => "not_bearer",
            AuthFailure::Malformed => "malformed_token",
            AuthFailure::Unknown => "unknown_token",
            AuthFailure::WrongScope { .. } => "wrong_scope",
        }
    }
}

/// Logs a refusal (within the log budget).
fn log_refusal(
    state: &ScimState,
    scope: TokenScope,
    peer: Option<std::net::IpAddr>,
    f: &AuthFailure,
) {
    let Some(suppressed) = state.0.auth_log.admit(std::time::Instant::now()) else {
        return;
    };
    let api = api_name(scope);
    let peer = peer.map(|p| p.to_string()).unwrap_or_default();
    match f {
        AuthFailure::WrongScope { name, actual, .. } => tracing::warn!(
            reason = f.reason(),
            api,
            token = %name,
            token_scope = actual,
            peer = %peer,
            suppressed,
            "{api} API call refused: {f}"
        ),
        _ => tracing::warn!(
            reason = f.reason(),
            api,
            peer = %peer,
            suppressed,
            "{api} API call refused: {f}"
        ),
    }
}

fn api_name(scope: TokenScope) -> &'static str {
    match scope {
        TokenScope::Scim => "SCIM",
        TokenScope::Admin => "admin",
    }
}

pub(super) async fn require_token(
    State((state, scope)): State<(ScimState, TokenScope)>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match authorize(&state, scope, peer, presented.as_deref()).await {
        Ok(actor) => {
            req.extensions_mut().insert(actor);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The name of the live admin token `authorization` (`Bearer <token>`) presents,
/// checked as the admin API checks it: for surfaces beside the admin API that also
/// accept admin tokens (the access requests API).
pub async fn admin_token(state: &ScimState, authorization: &str) -> Result<String, ScimError> {
    match authorize(state, TokenScope::Admin, None, Some(authorization)).await? {
        Actor::Admin { token } => Ok(token),
        Actor::Scim { .. } => Err(ScimError::Forbidden("an admin token is needed".into())),
    }
}

async fn authorize(
    state: &ScimState,
    scope: TokenScope,
    peer: Option<std::net::IpAddr>,
    authorization: Option<&str>,
) -> Result<Actor, ScimError> {
    let cidrs = &state.0.cfg.allowed_cidrs;
    if scope == TokenScope::Scim && !cidrs.is_empty() {
        let allowed = peer.is_some_and(|ip| {
            let ip = match ip {
                std::net::IpAddr::V6(v6) => {
                    v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip)
                }
                v4 => v4,
            };
            cidrs.iter().any(|n| n.contains(&ip))
        });
        if !allowed {
            if let Some(suppressed) = state.0.auth_log.admit(std::time::Instant::now()) {
                tracing::warn!(peer = ?peer, suppressed, "SCIM call from an address outside scim.allowed_cidrs");
            }
            return Err(ScimError::Forbidden(
                "this client address may not call the SCIM API".into(),
            ));
        }
    }
    let refuse = |f: AuthFailure| {
        log_refusal(state, scope, peer, &f);
        ScimError::Unauthorized(f)
    };
    let Some(authorization) = authorization.filter(|v| !v.trim().is_empty()) else {
        return Err(refuse(AuthFailure::Missing));
    };
    let presented = authorization
        .split_once(' ')
        .filter(|(kind, _)| kind.eq_ignore_ascii_case("bearer"))
        .map(|(_, rest)| rest.trim())
        .ok_or_else(|| refuse(AuthFailure::NotBearer))?;
    let (id, secret) = tokens::split(presented).ok_or_else(|| refuse(AuthFailure::Malformed))?;
    let store = state.0.store.clone();
    let id_owned = id.to_owned();
    let row = tokio::task::spawn_blocking(move || store.token_by_id(&id_owned))
        .await
        .map_err(|e| ScimError::Internal(Box::new(e)))?
        .map_err(|e| ScimError::Unavailable(e.into()))?
        .ok_or_else(|| refuse(AuthFailure::Unknown))?;
    // The secret first: only its holder learns the token's name and scope.
    if !tokens::secret_matches(&row, secret) {
        return Err(refuse(AuthFailure::Unknown));
    }
    if row.scope != scope.as_str() {
        let actual = TokenScope::parse(&row.scope).map_or("unknown-scope", TokenScope::as_str);
        return Err(refuse(AuthFailure::WrongScope {
            name: row.name,
            actual,
            expected: scope.as_str(),
            api: api_name(scope),
        }));
    }
    touch(state, &row.name);
    Ok(match scope {
        TokenScope::Scim => Actor::Scim { token: row.name },
        TokenScope::Admin => Actor::Admin { token: row.name },
    })
}

fn touch(state: &ScimState, name: &str) {
    let now = to_millis(state.0.clock.now());
    let due = state
        .0
        .touched
        .get(name)
        .is_none_or(|last| now - *last >= TOUCH_EVERY_MS);
    if !due {
        return;
    }
    state.0.touched.insert(name.to_owned(), now);
    let store = state.0.store.clone();
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = store.token_touch(&name, now) {
            tracing::warn!(token = %name, error = %e, "could not record token use");
        }
    });
}
