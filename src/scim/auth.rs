//! Who may call the SCIM (or admin) API: a live token of the right scope, from an
//! allowed network.
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
use crate::directory::Actor;
use crate::tokens::{self, TokenScope};

const TOUCH_EVERY_MS: i64 = 60_000;

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
            tracing::warn!(peer = ?peer, "SCIM call from an address outside scim.allowed_cidrs");
            return Err(ScimError::Forbidden(
                "this client address may not call the SCIM API".into(),
            ));
        }
    }
    let presented = authorization
        .and_then(|v| {
            let (kind, rest) = v.split_once(' ')?;
            kind.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .ok_or(ScimError::Unauthorized)?;
    let (id, secret) = tokens::split(presented).ok_or(ScimError::Unauthorized)?;
    let store = state.0.store.clone();
    let id_owned = id.to_owned();
    let row = tokio::task::spawn_blocking(move || store.token_by_id(&id_owned))
        .await
        .map_err(|e| ScimError::Internal(Box::new(e)))?
        .map_err(|e| ScimError::Unavailable(e.into()))?
        .ok_or(ScimError::Unauthorized)?;
    if row.scope != scope.as_str() || !tokens::secret_matches(&row, secret) {
        return Err(ScimError::Unauthorized);
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
