//! The login surface under `/.scimgate`: `/login`, `/callback`, `/logout`, `/signed-out`.
//!
//! - `GET /login?rd=/path`: `rd` passes [`safe_return_to`] or becomes `/`; the flow id
//!   goes in a ten-minute cookie (`__Host-scimgate_flow` under TLS) and the browser is
//!   sent to the IdP. The callback address is `{public_url}/.scimgate/callback`, or
//!   built from the request's Host and the listener's scheme when no public URL is set.
//! - `GET /callback?code&state`: finishes the flow, maps the claims to a directory user
//!   (unknown or inactive → a 403 page, and no session), opens a session, sets its
//!   cookie, clears the flow cookie and returns the browser to where it was going. An
//!   IdP `error=` answer → a 401 page naming the error code.
//! - `GET|POST /logout`: ends the session, clears the cookie, shows `/signed-out`.
//!
//! Failures become pages in one place, [`error_page`]; every response here is
//! `no-store`.

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header::{HOST, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use serde::Deserialize;

use super::flows::FLOW_TTL;
use super::pages::{no_store_headers, page};
use super::{cookie, resolve_user, safe_return_to, AuthnError, OidcLogin, Sessions};
use crate::config::IdentityConfig;
use crate::directory::Directory;

/// Where these routes are mounted.
pub const PREFIX: &str = "/.scimgate";
/// The flow cookie's name (before the `__Host-` prefix under TLS).
pub const FLOW_COOKIE: &str = "scimgate_flow";
const LOGIN: &str = "/.scimgate/login";
const CALLBACK: &str = "/.scimgate/callback";
const SIGNED_OUT: &str = "/.scimgate/signed-out";

/// What the login routes need.
pub struct AuthnState {
    /// `None` when no OpenID provider is configured (then `/login` answers 404).
    pub oidc: Option<Arc<OidcLogin>>,
    pub sessions: Arc<Sessions>,
    pub directory: Arc<Directory>,
    pub identity: IdentityConfig,
    /// `https://gate.example.com`, when configured.
    pub public_url: Option<String>,
    /// Whether browsers reach scimgate over HTTPS: the listener's own TLS, or a
    /// TLS-terminating proxy in front. It sets the cookies' `__Host-` prefix and
    /// `Secure`, and the callback's scheme when no public URL is configured.
    pub tls: bool,
}

/// The login routes, to be nested at [`PREFIX`].
pub fn routes(state: AuthnState) -> Router {
    Router::new()
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout).post(logout))
        .route("/signed-out", get(signed_out))
        .with_state(Arc::new(state))
}

#[derive(Deserialize)]
struct LoginQuery {
    rd: Option<String>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn login(
    State(s): State<Arc<AuthnState>>,
    query: Result<Query<LoginQuery>, QueryRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(oidc) = &s.oidc else {
        return not_configured();
    };
    // Returning into the login routes themselves would loop.
    let return_to = query
        .ok()
        .and_then(|Query(q)| q.rd)
        .and_then(|rd| safe_return_to(&rd))
        .filter(|rd| !(rd.starts_with(LOGIN) || rd.starts_with(CALLBACK)))
        .unwrap_or_else(|| "/".to_owned());
    let Some(redirect_uri) = callback_url(&s, &headers, &uri) else {
        return bad_host();
    };
    match oidc.start(&redirect_uri, return_to).await {
        Ok((authorize_url, flow_id)) => {
            let flow = cookie::set(&flow_cookie(s.tls), &flow_id, FLOW_TTL, s.tls);
            redirect(&authorize_url, [flow])
        }
        Err(e) => error_page(&e),
    }
}

async fn callback(
    State(s): State<Arc<AuthnState>>,
    query: Result<Query<CallbackQuery>, QueryRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let clear_flow = cookie::clear(&flow_cookie(s.tls), s.tls);
    let Some(oidc) = &s.oidc else {
        return not_configured();
    };
    let Ok(Query(q)) = query else {
        return with_cookie(
            page(
                StatusCode::BAD_REQUEST,
                "Bad sign-in answer",
                "The answer from the identity provider could not be read.",
                Some((LOGIN, "Start again")),
            ),
            clear_flow,
        );
    };
    if let Some(code) = q.error {
        let code = error_code(&code);
        tracing::info!(error = %code, "the identity provider refused the sign-in");
        return with_cookie(
            page(
                StatusCode::UNAUTHORIZED,
                "Sign-in was refused",
                &format!("The identity provider answered with the error \"{code}\"."),
                Some((LOGIN, "Try again")),
            ),
            clear_flow,
        );
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return with_cookie(
            error_page(&AuthnError::LoginFailed(
                "the answer lacks the authorization code or state",
            )),
            clear_flow,
        );
    };
    let Some(flow_id) = cookie::find(&headers, &flow_cookie(s.tls)) else {
        return error_page(&AuthnError::LoginFailed(
            "this browser has no sign-in in progress (it expired, or cookies are blocked)",
        ));
    };
    let Some(redirect_uri) = callback_url(&s, &headers, &uri) else {
        return with_cookie(bad_host(), clear_flow);
    };
    let result = async {
        let (claims, return_to) = oidc.finish(&redirect_uri, &code, &state, flow_id).await?;
        let user = resolve_user(&s.directory, &s.identity, &claims)?;
        let token = s.sessions.create(&user.id).await?;
        tracing::info!(user = %user.user_name, id = %user.id, "signed in");
        Ok::<_, AuthnError>((token, return_to))
    }
    .await;
    match result {
        Ok((token, return_to)) => redirect(
            &return_to,
            [s.sessions.set_cookie(&token, s.tls), clear_flow],
        ),
        Err(e) => with_cookie(error_page(&e), clear_flow),
    }
}

async fn logout(State(s): State<Arc<AuthnState>>, headers: HeaderMap) -> Response {
    if let Some(token) = s.sessions.token_from(&headers, s.tls) {
        s.sessions.end(&token).await;
    }
    redirect(SIGNED_OUT, [s.sessions.clear_cookie(s.tls)])
}

async fn signed_out(State(s): State<Arc<AuthnState>>) -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "You are signed out of scimgate.",
        s.oidc.is_some().then_some((LOGIN, "Sign in again")),
    )
}

/// The one place where a login failure becomes a page.
fn error_page(e: &AuthnError) -> Response {
    let status = e.status();
    if status.is_server_error() {
        tracing::warn!(error = %e, code = e.code(), source = ?std::error::Error::source(e), "sign-in failed");
    } else {
        tracing::info!(error = %e, code = e.code(), "sign-in refused");
    }
    match e {
        AuthnError::UnknownUser | AuthnError::InactiveUser => page(
            StatusCode::FORBIDDEN,
            "Not provisioned",
            "You signed in, but your account is not provisioned in scimgate's directory. \
             Ask your administrator to assign you to this application.",
            None,
        ),
        AuthnError::JwksUnavailable | AuthnError::IdpUnavailable => page(
            status,
            "Sign-in is unavailable",
            "The identity provider cannot be reached right now. Try again in a minute.",
            Some((LOGIN, "Try again")),
        ),
        AuthnError::Store(_) | AuthnError::Task(_) => page(
            status,
            "Something went wrong",
            "scimgate could not complete the sign-in.",
            Some((LOGIN, "Try again")),
        ),
        _ => page(
            status,
            "Sign-in failed",
            &e.to_string(),
            Some((LOGIN, "Start again")),
        ),
    }
}

fn not_configured() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Sign-in is not set up",
        "This scimgate has no OpenID provider configured for browser sign-in.",
        None,
    )
}

fn bad_host() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Bad request",
        "The request's Host is missing or not valid.",
        None,
    )
}

/// A 302 to `location`, setting `cookies`.
fn redirect<const N: usize>(location: &str, cookies: [HeaderValue; N]) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        return error_page(&AuthnError::LoginFailed(
            "the redirect address is not valid",
        ));
    };
    let mut resp = (StatusCode::FOUND, no_store_headers()).into_response();
    resp.headers_mut().insert(LOCATION, location);
    for c in cookies {
        resp.headers_mut().append(SET_COOKIE, c);
    }
    resp
}

fn with_cookie(mut resp: Response, cookie: HeaderValue) -> Response {
    resp.headers_mut().append(SET_COOKIE, cookie);
    resp
}

fn flow_cookie(tls: bool) -> String {
    cookie::wire_name(FLOW_COOKIE, tls)
}

/// `{public_url}/.scimgate/callback`, else from the Host (or HTTP/2 authority).
fn callback_url(s: &AuthnState, headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let base = match &s.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| uri.authority().map(|a| a.as_str()))?;
            let valid = !host.is_empty()
                && host.len() <= 255
                && host.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                });
            if !valid {
                return None;
            }
            let scheme = if s.tls { "https" } else { "http" };
            format!("{scheme}://{host}")
        }
    };
    Some(format!("{base}{CALLBACK}"))
}

/// An IdP error code as safe text: RFC 6749 codes are `[\x20-\x7e]` minus `"` and `\`;
/// keep the usual `[A-Za-z0-9_.-]`, at most 64 characters.
fn error_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(64)
        .collect()
}
