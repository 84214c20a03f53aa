//! The login surface under `/.scimgate`: `/login`, `/callback`, `/logout`, `/signed-out`.
//!
//! - `GET /login?rd=/path[&prompt=login]`: `rd` passes [`safe_return_to`] or becomes `/`; the pending
//!   sign-in is sealed into a ten-minute cookie (one of [`LOGIN_COOKIES`], `__Host-`
//!   prefixed when secure; see [`super::pending`]) and the browser is sent to the IdP.
//!   The callback address is `{public_url}/.scimgate/callback`, or built from the
//!   request's Host and the listener's scheme when no public URL is set. With
//!   `prompt=login` ("sign in as someone else") the IdP is asked to show its login
//!   form even when it has a session with the browser. With `max_age` (seconds) and/or
//!   `acr_values` (the gate sends them when a route's `step_up` rule asks for a recent
//!   sign-in or an authentication context) the IdP is asked for them (with
//!   `prompt=login` for `max_age`) and the callback refuses an ID token whose
//!   `auth_time` or `acr` does not answer ([`super::step_up`]).
//! - `GET /callback?code&state`: finds the browser's pending sign-in that `state`
//!   answers (none → 401, nothing asked of the IdP), finishes it, maps the claims to a
//!   directory user (unknown or inactive → a 403 page, and no session), opens a
//!   session (ending the one the browser had), sets its cookie, clears that pending
//!   sign-in's cookie and returns the browser to where it was going. An unknown user
//!   and a deactivated one get different pages, each saying what happened. An IdP `error=` answer → a 401 page naming the
//!   error code.
//! - `POST /logout`: from our own origin only (`Origin`, else `Referer`, must be the
//!   request's own `scheme://Host`; else 403 and nothing ends); ends the session,
//!   clears the cookie, and sends the browser on to the IdP's `end_session_endpoint`
//!   when it publishes one ([`sign_out_location`]: RP-initiated logout, coming back to
//!   `/signed-out`; by a page that refreshes there, see [`signed_out_response`]), else
//!   303s to `/signed-out`. `GET /logout` ends nothing: it shows a
//!   page with a sign-out button (a cross-site link or image cannot sign anyone out).
//!
//! Cookies are `Secure` and `__Host-` prefixed when browsers reach scimgate over HTTPS
//! (local TLS, or an `https://` public URL: see [`Sessions::secure`]). Failures become
//! pages in one place, [`error_page`]; every response here carries the page headers
//! ([`crate::web::headers`]: `no-store`, the pages' CSP and Referrer-Policy).

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

use super::origin::check_same_origin;
use super::pages::{page, page_with_button, page_with_links};
use super::pending::{LOGIN_COOKIES, LOGIN_TTL};
use super::session::SignIn;
use super::step_up::{sign_in_of, StepUpAsk};
use super::{cookie, resolve_user, safe_return_to, AuthnError, OidcLogin, Sessions};
use crate::config::IdentityConfig;
use crate::directory::Directory;
use crate::outbound::error_chain;
use crate::web::failure::{Failure, FailurePage};

/// Where these routes are mounted.
pub const PREFIX: &str = "/.scimgate";
/// The cookie earlier versions kept a login flow id in (still kept from upstreams).
pub const FLOW_COOKIE: &str = "scimgate_flow";
/// Where sign-out is posted.
pub const LOGOUT: &str = "/.scimgate/logout";
const LOGIN: &str = "/.scimgate/login";
/// Sign in, asking the IdP for its login form even when it knows the browser.
pub const LOGIN_AS_SOMEONE_ELSE: &str = "/.scimgate/login?prompt=login";
const CALLBACK: &str = "/.scimgate/callback";
/// Where a sign-out ends (and where the IdP returns the browser after its own).
pub const SIGNED_OUT: &str = "/.scimgate/signed-out";
/// The configuration keys that turn browser sign-in on.
pub const OIDC_KEYS: &str = "oidc.issuer, oidc.client_id and oidc.client_secret";

/// Every cookie name scimgate sets (before any `__Host-` prefix): the session's
/// configured name, the pending sign-ins', and the older flow cookie.
pub fn own_cookies(session: &str) -> [&str; 2 + LOGIN_COOKIES.len()] {
    let [a, b, c, d] = LOGIN_COOKIES;
    [session, FLOW_COOKIE, a, b, c, d]
}

/// What the login routes need.
pub struct AuthnState {
    /// `None` when no OpenID provider is configured (then `/login` answers 404).
    pub oidc: Option<Arc<OidcLogin>>,
    pub sessions: Arc<Sessions>,
    pub directory: Arc<Directory>,
    pub identity: IdentityConfig,
    /// `https://gate.example.com`, when configured.
    pub public_url: Option<String>,
    /// `admin.origin`, when configured: a sign-in started there comes back there (its
    /// `/.scimgate/callback` must be registered with the IdP too).
    pub admin_origin: Option<String>,
    /// Whether the listener speaks TLS. With an `https://` public URL (a TLS-terminating
    /// proxy in front) cookies are secure too ([`Sessions::secure`]). It sets the
    /// callback's scheme when no public URL is configured.
    pub tls: bool,
}

impl AuthnState {
    /// Whether cookies are `Secure` and `__Host-` prefixed.
    fn secure(&self) -> bool {
        self.sessions.secure(self.tls)
    }
}

/// The login routes, to be nested at [`PREFIX`].
pub fn routes(state: AuthnState) -> Router {
    Router::new()
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout_page).post(logout))
        .route("/signed-out", get(signed_out))
        .with_state(Arc::new(state))
}

#[derive(Deserialize)]
struct LoginQuery {
    rd: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    acr_values: Option<String>,
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
    let (rd, prompt, step_up) = query
        .ok()
        .map(|Query(q)| {
            let ask = StepUpAsk::from_query(q.max_age.as_deref(), q.acr_values.as_deref());
            (q.rd, q.prompt, ask)
        })
        .unwrap_or_default();
    let force_login = prompt.as_deref() == Some("login");
    // Returning into the login routes themselves would loop.
    let return_to = rd
        .and_then(|rd| safe_return_to(&rd))
        .filter(|rd| !(rd.starts_with(LOGIN) || rd.starts_with(CALLBACK)))
        .unwrap_or_else(|| "/".to_owned());
    let Some(redirect_uri) = callback_url(&s, &headers, &uri) else {
        return bad_host();
    };
    let started = async {
        let (authorize_url, pending) = oidc
            .start_step_up(&redirect_uri, return_to, force_login, step_up)
            .await?;
        let sealer = oidc.sealer();
        let slot = sealer.free_slot(&headers, s.secure(), pending.created_ms);
        Ok::<_, AuthnError>((authorize_url, slot, sealer.seal(&pending)?))
    }
    .await;
    match started {
        Ok((authorize_url, slot, sealed)) => {
            let cookie = cookie::set(
                &login_cookie(slot, s.secure()),
                &sealed,
                LOGIN_TTL,
                s.secure(),
            );
            redirect(&authorize_url, [cookie])
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
    let Some(oidc) = &s.oidc else {
        return not_configured();
    };
    let Ok(Query(q)) = query else {
        return Failure::BadRequest.page(FailurePage {
            title: Some("Bad sign-in answer"),
            message: "The answer from the identity provider could not be read.",
            links: &[(LOGIN, "Start again")],
        });
    };
    // The pending sign-in this answer belongs to, if the browser holds it.
    let found = q
        .state
        .as_deref()
        .map(|state| oidc.sealer().find(&headers, s.secure(), state));
    let clear = match &found {
        Some(Ok((slot, _))) => Some(cookie::clear(&login_cookie(*slot, s.secure()), s.secure())),
        _ => None,
    };
    let with_clear = |resp: Response| match &clear {
        Some(c) => with_cookie(resp, c.clone()),
        None => resp,
    };
    if let Some(code) = q.error {
        let code = error_code(&code);
        tracing::info!(error = %code, "the identity provider refused the sign-in");
        return with_clear(Failure::Refused.page(FailurePage {
            title: Some("Sign-in was refused"),
            message: &format!("The identity provider answered with the error \"{code}\"."),
            links: &[(LOGIN, "Try again")],
        }));
    }
    let (Some(code), Some(found)) = (q.code, found) else {
        return error_page(&AuthnError::LoginFailed(
            "the answer lacks the authorization code or state",
        ));
    };
    let (_, pending) = match found {
        Ok(f) => f,
        Err(e) => return error_page(&e),
    };
    let Some(redirect_uri) = callback_url(&s, &headers, &uri) else {
        return with_clear(bad_host());
    };
    let state = pending.state.clone();
    let result = async {
        let signed_in = oidc.finish(&redirect_uri, &code, &state, pending).await?;
        let user = resolve_user(&s.directory, &s.identity, &signed_in.claims)?;
        let token = s
            .sessions
            .create_signed_in(
                &user.id,
                Some(signed_in.id_token),
                Some(SignIn {
                    step_up: signed_in.step_up.clone(),
                    ..sign_in_of(&signed_in.claims)
                }),
            )
            .await?;
        if let Some(ask) = &signed_in.step_up {
            tracing::info!(user = %user.user_name, max_age = ?ask.max_age, acr_values = ?ask.acr_values, auth_time = ?signed_in.claims.auth_time(), acr = ?signed_in.claims.acr(), "stepped up");
        }
        // Someone else signing in on this browser replaces the session it had.
        if let Some(previous) = s.sessions.token_from(&headers, s.tls) {
            s.sessions.end(&previous).await;
        }
        tracing::info!(user = %user.user_name, id = %user.id, "signed in");
        Ok::<_, AuthnError>((token, signed_in.return_to))
    }
    .await;
    match result {
        Ok((token, return_to)) => {
            let session = s.sessions.set_cookie(&token, s.tls);
            match clear {
                Some(c) => redirect(&return_to, [session, c]),
                None => redirect(&return_to, [session]),
            }
        }
        Err(e) => with_clear(error_page(&e)),
    }
}

/// `GET /logout`: signs nobody out; a page with the sign-out button.
async fn logout_page(State(s): State<Arc<AuthnState>>, headers: HeaderMap) -> Response {
    let signed_in = s
        .sessions
        .token_from(&headers, s.tls)
        .is_some_and(|t| s.sessions.lookup(&t).is_some());
    if signed_in {
        page_with_button(
            "Sign out",
            "Sign out of scimgate on this browser?",
            LOGOUT,
            "Sign out",
        )
    } else {
        page(
            "Not signed in",
            "This browser is not signed in to scimgate.",
            s.oidc.is_some().then_some((LOGIN, "Sign in")),
        )
    }
}

/// `POST /logout`: from our own origin only; ends the session and clears the cookie.
async fn logout(State(s): State<Arc<AuthnState>>, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(e) = check_same_origin(&headers, s.secure()) {
        tracing::info!(reason = %e, "sign-out refused");
        return Failure::Forbidden.page(FailurePage {
            title: Some("Sign-out refused"),
            message: &format!("This sign-out request was refused: {e}. Use the sign-out button on scimgate's own pages."),
            links: &[(LOGOUT, "Sign out")],
        });
    }
    let ended = match s.sessions.token_from(&headers, s.tls) {
        Some(token) if s.sessions.lookup(&token).is_some() => Some(s.sessions.end(&token).await),
        Some(token) => {
            s.sessions.end(&token).await;
            None
        }
        None => None,
    };
    let base = own_base(
        s.public_url.as_deref(),
        s.admin_origin.as_deref(),
        s.tls,
        &headers,
        &uri,
    );
    let location = sign_out_location(s.oidc.as_deref(), ended, base).await;
    signed_out_response(&location, s.sessions.clear_cookie(s.tls))
}

/// The answer to a sign-out POST, clearing the session cookie: a 303 to `/signed-out`,
/// or a page continuing at the provider's end-session `location`
/// ([`super::pages::continue_at_provider`]).
pub fn signed_out_response(location: &str, clear_cookie: HeaderValue) -> Response {
    let mut resp = if location == SIGNED_OUT {
        let mut r = redirect(SIGNED_OUT, []);
        *r.status_mut() = StatusCode::SEE_OTHER;
        r
    } else {
        super::pages::continue_at_provider(location)
    };
    resp.headers_mut().append(SET_COOKIE, clear_cookie);
    resp
}

/// Where a browser goes once its scimgate session `ended` (`Some(id token kept)`; `None`:
/// it had none): to the IdP's end-session endpoint, so the IdP's session ends too and
/// the next sign-in may be someone else, coming back to `{base}/.scimgate/signed-out`;
/// else (no session, no endpoint published, no base known) straight to `/signed-out`.
pub async fn sign_out_location(
    oidc: Option<&OidcLogin>,
    ended: Option<Option<Arc<str>>>,
    base: Option<String>,
) -> String {
    if let (Some(oidc), Some(id_token), Some(base)) = (oidc, ended, base) {
        let back = format!("{base}{SIGNED_OUT}");
        if let Some(url) = oidc.end_session_url(id_token.as_deref(), &back).await {
            return url;
        }
    }
    SIGNED_OUT.to_owned()
}

async fn signed_out(State(s): State<Arc<AuthnState>>) -> Response {
    if s.oidc.is_none() {
        return page("Signed out", "You are signed out of scimgate.", None);
    }
    page_with_links(
        "Signed out",
        "You are signed out of scimgate.",
        &[
            (LOGIN, "Sign in again"),
            (LOGIN_AS_SOMEONE_ELSE, "Sign in as someone else"),
        ],
    )
}

/// Where a login failure meets the pages' map ([`crate::web::failure`]): its source
/// names the kind, and the kind decides the status: the caller's credentials or sign-in
/// answer (refused, 401), a directory that does not know the user or has deactivated
/// them (forbidden, 403), the identity provider that cannot be reached (502), scimgate
/// itself (500, its message not shown). Only the credential messages, written for the
/// person signing in, are shown as they are.
fn error_page(e: &AuthnError) -> Response {
    let kind = match e {
        AuthnError::InactiveUser | AuthnError::UnknownUser => Failure::Forbidden,
        e if e.is_idp_outage() => Failure::IdpUnavailable,
        AuthnError::Store(_) | AuthnError::Task(_) => Failure::Internal,
        _ => Failure::Refused,
    };
    if kind.status().is_server_error() {
        tracing::warn!(error = %error_chain(e), code = e.code(), "sign-in failed");
    } else {
        tracing::info!(error = %e, code = e.code(), "sign-in refused");
    }
    let refused = e.to_string();
    let (title, message, links): (&str, &str, &[(&str, &str)]) = match e {
        AuthnError::InactiveUser => (
            "Account deactivated",
            "You signed in at your identity provider, but your account is deactivated in \
             scimgate's directory: your identity provider's administrators turned it off or \
             unassigned you from this application, so scimgate lets it use nothing, and your \
             access page (/.scimgate/me) is not available either. Ask them to reactivate it \
             if you still need access, or sign in with another account.",
            &[(LOGIN_AS_SOMEONE_ELSE, "Sign in as someone else")],
        ),
        AuthnError::UnknownUser => (
            "Not provisioned",
            "You signed in at your identity provider, but no account for you is provisioned \
             in scimgate's directory. Ask your identity provider's administrators to assign \
             you to this application (it then provisions your account), or sign in with \
             another account.",
            &[(LOGIN_AS_SOMEONE_ELSE, "Sign in as someone else")],
        ),
        AuthnError::JwksUnavailable | AuthnError::IdpUnavailable => (
            "Sign-in is unavailable",
            "The identity provider cannot be reached right now. Try again in a minute.",
            &[(LOGIN, "Try again")],
        ),
        AuthnError::Store(_) | AuthnError::Task(_) => {
            ("Something went wrong", "", &[(LOGIN, "Try again")])
        }
        _ => ("Sign-in failed", &refused, &[(LOGIN, "Start again")]),
    };
    kind.page(FailurePage {
        title: Some(title),
        message,
        links,
    })
}

fn not_configured() -> Response {
    Failure::NotFound.page(FailurePage {
        title: Some("Sign-in is not set up"),
        message: &format!(
            "Browser sign-in is off: this scimgate has no OpenID provider configured. \
             Its administrator turns it on by setting {OIDC_KEYS} in the configuration \
             file's oidc section. Until then only API callers with a bearer token get in."
        ),
        links: &[],
    })
}

fn bad_host() -> Response {
    Failure::BadRequest.page(FailurePage {
        title: Some("Bad request"),
        message: "The request's Host is missing or not valid.",
        links: &[],
    })
}

/// A 302 to `location`, setting `cookies`.
fn redirect<const N: usize>(location: &str, cookies: [HeaderValue; N]) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        return error_page(&AuthnError::LoginFailed(
            "the redirect address is not valid",
        ));
    };
    let mut resp = (StatusCode::FOUND, crate::web::page_headers()).into_response();
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

/// The wire name of pending sign-in cookie `slot`.
fn login_cookie(slot: usize, secure: bool) -> String {
    cookie::wire_name(LOGIN_COOKIES[slot % LOGIN_COOKIES.len()], secure)
}

/// `{public_url}/.scimgate/callback`, else from the Host (or HTTP/2 authority).
fn callback_url(s: &AuthnState, headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let base = own_base(
        s.public_url.as_deref(),
        s.admin_origin.as_deref(),
        s.tls,
        headers,
        uri,
    )?;
    Some(format!("{base}{CALLBACK}"))
}

/// The origin browsers reach scimgate at for this request: the admin origin when the
/// request came there, else the public URL, else built from the Host (or HTTP/2
/// authority) and the listener's scheme (`None` when the Host is not valid).
pub fn own_base(
    public_url: Option<&str>,
    admin_origin: Option<&str>,
    tls: bool,
    headers: &HeaderMap,
    uri: &Uri,
) -> Option<String> {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let on_admin = admin_origin.filter(|o| crate::config::origin::host_is_origin(host, o));
    let base = match (public_url, on_admin) {
        (Some(url), Some(admin)) if crate::config::origin::origin_of(url) != admin => {
            admin.to_owned()
        }
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, _) => {
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
            let scheme = if tls { "https" } else { "http" };
            format!("{scheme}://{host}")
        }
    };
    Some(base)
}

/// An IdP error code as safe text: RFC 6749 codes are `[\x20-\x7e]` minus `"` and `\`;
/// keep the usual `[A-Za-z0-9_.-]`, at most 64 characters.
fn error_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(64)
        .collect()
}
