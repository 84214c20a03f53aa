//! Every way a proxied request (or a forward-auth question) fails, and the one map from
//! those failures to HTTP responses.
//!
//! The failure's source decides its status, here and nowhere else: the request itself
//! (4xx), the caller's credentials (401 with a `WWW-Authenticate` error), the policy or
//! the directory (403, 503), the identity provider (502: it cannot be reached, which
//! says nothing about the token), the upstream (502, 503, 504), scimgate's own
//! configuration (500). What the client reads is a public message chosen per kind; a
//! cause (an upstream address, a CA file's path, a TLS alert) never reaches it and is
//! logged instead, in the request's span (with its request id).
//!
//! Browsers get pages (or a redirect to sign in), API callers get
//! `{"error": <code>, "detail": <message>}`. A 403 says what the caller needs to act
//! (which route, which groups would allow it) and nothing about other users.

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::Body;
use http::{header, HeaderValue, Response, StatusCode};

use super::limits::Refused;
use super::pages;
use crate::authn::error::AuthnError;
use crate::authn::redirect::login_url;
use crate::authn::routes::OIDC_KEYS;
use crate::outbound::error_chain;
use crate::policy::step_up::StepUpNeeded;
use crate::policy::RuleRef;
use crate::proxy::error::ProxyError;

/// A refusal by the gate.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("bad request path: {0}")]
    BadPath(String),
    #[error("ambiguous request path ({0}); refused")]
    AmbiguousPath(String),
    #[error("no route for this host and path")]
    NoRoute,
    /// The Host header is missing, repeated, malformed, or not the target's authority.
    #[error("bad Host header: {0}")]
    BadHost(String),
    /// A request body in a transfer coding other than `chunked`: the gate could forward
    /// it only by dropping the coding's label, so it is refused (RFC 9112 §6.1).
    #[error("unsupported transfer coding {0:?}: only chunked is accepted")]
    UnsupportedTransferCoding(String),
    /// A forward-auth question from a peer not in `trusted_proxies`.
    #[error("forward-auth answers only proxies listed in trusted_proxies")]
    UntrustedPeer,
    #[error("authentication required")]
    Unauthenticated {
        /// Send the browser to the login page, coming back to this path.
        login_return_to: Option<String>,
        /// Why presented credentials were refused (absent when none were sent).
        reason: Option<AuthnError>,
        /// Whether browser sign-in is configured (else the answer says how to turn it on).
        login_enabled: bool,
    },
    /// The caller's sign-in is too old or not strong enough for this request (a
    /// route's `step_up` rule): browsers are sent through the provider again, API
    /// callers get RFC 9470's `insufficient_user_authentication`.
    #[error("a newer or stronger sign-in is needed: {}", .0.needed.reason)]
    StepUp(Box<StepUpChallenge>),
    /// The browser session is older or idle for longer than the route allows (its
    /// `session` limits): sign in again.
    #[error("the session is too old or idle for this route: {reason}")]
    SessionLimit {
        /// Send the browser to sign in, coming back to this path.
        login_return_to: Option<String>,
        reason: String,
    },
    #[error("identity is not an active user in the directory")]
    NotProvisioned { browser: bool, login_enabled: bool },
    #[error("access denied by {}", .0.by.rule)]
    Forbidden(Box<Forbidden>),
    #[error(transparent)]
    Upstream(#[from] ProxyError),
    /// The route demands fresh directory state and this replica has been cut off from
    /// the shared store for longer than the configured bound.
    #[error("this replica's directory may be out of date (cut off from the shared store); try again shortly")]
    StaleDirectory,
    /// Over one of the route's `rate_limit:` buckets (429, with `Retry-After`).
    #[error("rate limited ({} bucket)", .0.standing.scope.label())]
    RateLimited(Box<Refused>),
}

/// What a 403 names.
#[derive(Debug)]
pub struct Forbidden {
    pub browser: bool,
    pub user_name: String,
    pub method: String,
    pub path: String,
    pub by: RuleRef,
    /// Groups whose members this route would let through for this request.
    pub allowing_groups: Vec<Arc<str>>,
    /// Whether the page offers "sign in as someone else" (browser sign-in configured).
    pub login_enabled: bool,
    /// Requestable grants of one of `allowing_groups` the caller may ask for (a
    /// browser's page offers a "Request access" form for each).
    pub offers: Vec<crate::access::Offer>,
    /// The session's CSRF token for those forms; `None`: no browser session, no forms.
    pub csrf: Option<String>,
}

/// What a step-up refusal asks for.
#[derive(Debug)]
pub struct StepUpChallenge {
    pub needed: StepUpNeeded,
    /// Send the browser to sign in again (asking for the step-up), coming back here.
    pub login_return_to: Option<String>,
}

impl StepUpChallenge {
    /// `/.scimgate/login?rd=..&max_age=..&acr_values=..`.
    fn login_location(&self, return_to: &str) -> String {
        let mut url = login_url(return_to);
        if let Some(max_age) = self.needed.max_age {
            url.push_str(&format!("&max_age={}", max_age.as_secs()));
        }
        if !self.needed.acr_values.is_empty() {
            url.push_str("&acr_values=");
            for b in self.needed.acr_values.join(" ").bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    url.push(char::from(b));
                } else {
                    url.push_str(&format!("%{b:02X}"));
                }
            }
        }
        url
    }

    /// RFC 9470's challenge: `insufficient_user_authentication`, why, and what to get.
    fn www_authenticate(&self) -> String {
        let mut c = format!(
            "Bearer realm=\"scimgate\", error=\"insufficient_user_authentication\", error_description=\"{}\"",
            self.needed.reason.replace(['"', '\\'], "'")
        );
        if let Some(max_age) = self.needed.max_age {
            c.push_str(&format!(", max_age=\"{}\"", max_age.as_secs()));
        }
        if !self.needed.acr_values.is_empty() {
            c.push_str(&format!(
                ", acr_values=\"{}\"",
                self.needed.acr_values.join(" ")
            ));
        }
        c
    }
}

/// What the client is told about a failure: only public text.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    /// The JSON body's `error`.
    code: &'static str,
    /// The JSON body's `detail`, or the page's message.
    detail: Cow<'static, str>,
    /// The `WWW-Authenticate` challenge.
    challenge: Option<String>,
    /// The connection closes after the answer: the rest of the request is not read.
    close: bool,
}

impl Answer {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Answer {
            status,
            code,
            detail: detail.into(),
            challenge: None,
            close: false,
        }
    }
}

/// The public messages of failures whose cause stays in the log.
const IDP_UNREACHABLE: &str = "The identity provider cannot be reached, so the credentials \
could not be checked. Try again shortly.";
const CREDENTIALS_UNCHECKED: &str = "scimgate could not check the credentials. Try again shortly.";
const MISCONFIGURED: &str = "This route's upstream is misconfigured; scimgate's administrator \
finds the cause in its log.";

/// The status, code and public message of a failure by the upstream exchange.
fn upstream_answer(e: &ProxyError) -> Answer {
    use StatusCode as S;
    let (status, code, detail) = match e {
        ProxyError::Path(_) => (S::BAD_REQUEST, "bad_path", "bad request path"),
        ProxyError::AmbiguousPath(_) => (S::BAD_REQUEST, "bad_path", "ambiguous request path"),
        ProxyError::RequestBodyStalled => (
            S::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body stopped arriving",
        ),
        ProxyError::UpstreamConnect(_) => {
            (S::BAD_GATEWAY, "upstream", "the upstream cannot be reached")
        }
        ProxyError::Upstream(_) => (
            S::BAD_GATEWAY,
            "upstream",
            "the exchange with the upstream failed",
        ),
        ProxyError::UnexpectedSwitch => (
            S::BAD_GATEWAY,
            "upstream",
            "the upstream switched to a protocol that was not asked for",
        ),
        ProxyError::UpstreamConnectTimeout(_) => (
            S::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "connecting to the upstream timed out",
        ),
        ProxyError::ResponseTimeout => (
            S::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "the upstream did not answer in time",
        ),
        ProxyError::UpstreamConnectionCap(_) => (
            S::SERVICE_UNAVAILABLE,
            "upstream_busy",
            "scimgate has too many upstream connections open; try again shortly",
        ),
        ProxyError::Overloaded => (
            S::SERVICE_UNAVAILABLE,
            "upstream_busy",
            "too many requests are in flight to the upstream; try again shortly",
        ),
        ProxyError::Cancelled => (
            S::SERVICE_UNAVAILABLE,
            "cancelled",
            "the request was cancelled (access was revoked, or scimgate is stopping)",
        ),
        ProxyError::BadUpstreamUri { .. }
        | ProxyError::UpstreamUri(_)
        | ProxyError::CaFile { .. }
        | ProxyError::Tls(_)
        | ProxyError::KeyFile { .. }
        | ProxyError::KeyInvalid { .. }
        | ProxyError::Signing => (S::INTERNAL_SERVER_ERROR, "misconfigured", MISCONFIGURED),
    };
    Answer {
        close: matches!(e, ProxyError::RequestBodyStalled),
        ..Answer::new(status, code, detail)
    }
}

/// The answer to presented credentials that were refused (or could not be checked).
fn credentials_answer(e: &AuthnError) -> Answer {
    match e {
        e if e.is_idp_outage() => {
            Answer::new(StatusCode::BAD_GATEWAY, "idp_unavailable", IDP_UNREACHABLE)
        }
        AuthnError::Store(_) | AuthnError::Task(_) => Answer::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            CREDENTIALS_UNCHECKED,
        ),
        AuthnError::UnknownUser | AuthnError::InactiveUser => Answer::new(
            StatusCode::FORBIDDEN,
            "not_provisioned",
            pages::NOT_PROVISIONED,
        ),
        // The credentials themselves: every such message is written for the caller.
        refused => {
            let text = refused.to_string();
            Answer {
                challenge: Some(format!(
                    "Bearer realm=\"scimgate\", error=\"invalid_token\", error_description=\"{}\"",
                    text.replace(['"', '\\'], "'")
                )),
                ..Answer::new(StatusCode::UNAUTHORIZED, "unauthenticated", text)
            }
        }
    }
}

impl GateError {
    /// The map: status, code, public message and headers, by the failure's source.
    fn answer(&self) -> Answer {
        use StatusCode as S;
        match self {
            GateError::BadPath(why) => Answer::new(
                S::BAD_REQUEST,
                "bad_path",
                format!("bad request path: {why}"),
            ),
            GateError::AmbiguousPath(why) => Answer::new(
                S::BAD_REQUEST,
                "bad_path",
                format!("ambiguous request path ({why}); refused"),
            ),
            GateError::BadHost(why) => Answer::new(
                S::BAD_REQUEST,
                "bad_host",
                format!("bad Host header: {why}"),
            ),
            GateError::NoRoute => {
                Answer::new(S::NOT_FOUND, "no_route", "no route for this host and path")
            }
            GateError::UnsupportedTransferCoding(coding) => Answer {
                close: true,
                ..Answer::new(
                    S::NOT_IMPLEMENTED,
                    "unsupported_transfer_coding",
                    format!("unsupported transfer coding {coding:?}: only chunked is accepted"),
                )
            },
            GateError::UntrustedPeer => Answer::new(
                S::FORBIDDEN,
                "untrusted_peer",
                "forward-auth answers only proxies listed in trusted_proxies",
            ),
            GateError::Unauthenticated {
                reason: Some(e), ..
            } => credentials_answer(e),
            GateError::Unauthenticated {
                login_return_to,
                reason: None,
                login_enabled,
            } => {
                let detail: Cow<'static, str> = if *login_enabled {
                    "Sign in, or send a bearer token.".into()
                } else {
                    format!(
                        "Browser sign-in is off on this scimgate: no OpenID provider is configured. \
                         Its administrator turns it on by setting {OIDC_KEYS} in the configuration \
                         file. Until then, send a bearer token."
                    )
                    .into()
                };
                let status = match login_return_to {
                    Some(_) => S::FOUND,
                    None => S::UNAUTHORIZED,
                };
                Answer {
                    challenge: Some("Bearer realm=\"scimgate\"".to_owned()),
                    ..Answer::new(status, "unauthenticated", detail)
                }
            }
            GateError::StepUp(c) => Answer {
                challenge: Some(c.www_authenticate()),
                ..Answer::new(
                    sign_in_status(c.login_return_to.is_some()),
                    "insufficient_user_authentication",
                    c.needed.reason.clone(),
                )
            },
            GateError::SessionLimit {
                login_return_to,
                reason,
            } => Answer {
                challenge: Some(format!(
                    "Bearer realm=\"scimgate\", error=\"invalid_token\", error_description=\"{reason}\""
                )),
                ..Answer::new(
                    sign_in_status(login_return_to.is_some()),
                    "session_limit",
                    format!("{reason}; sign in again"),
                )
            },
            GateError::NotProvisioned { .. } => {
                Answer::new(S::FORBIDDEN, "not_provisioned", pages::NOT_PROVISIONED)
            }
            GateError::Forbidden(f) => Answer::new(
                S::FORBIDDEN,
                "forbidden",
                format!("{} {} is not allowed for {}", f.method, f.path, f.user_name),
            ),
            GateError::Upstream(e) => upstream_answer(e),
            GateError::StaleDirectory => Answer::new(
                S::SERVICE_UNAVAILABLE,
                "stale_directory",
                "this replica's directory may be out of date (cut off from the shared store); \
                 try again shortly",
            ),
            GateError::RateLimited(r) => Answer::new(
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many requests: over this route's {} limit ({} per {} s); retry after {} s",
                    r.standing.scope.label(),
                    r.standing.rate.quota,
                    r.standing.rate.window_secs,
                    r.retry_after()
                ),
            ),
        }
    }

    /// The status this failure earns.
    pub fn status(&self) -> StatusCode {
        self.answer().status
    }

    /// What a client is told: the public message of the map, never the cause.
    pub fn public_detail(&self) -> Cow<'static, str> {
        self.answer().detail
    }

    /// Logs what the client is not told: the cause of a server-side failure.
    fn log_cause(&self, status: StatusCode) {
        match self {
            GateError::Upstream(e) if status.is_server_error() => {
                let cause = error_chain(e);
                if status == StatusCode::INTERNAL_SERVER_ERROR {
                    tracing::error!(error = %cause, status = status.as_u16(), "route misconfigured");
                } else {
                    tracing::warn!(error = %cause, status = status.as_u16(), "upstream failure");
                }
            }
            GateError::Upstream(e) => {
                tracing::info!(error = %error_chain(e), status = status.as_u16(), "request refused");
            }
            GateError::Unauthenticated {
                reason: Some(e), ..
            } if status.is_server_error() => {
                tracing::warn!(error = %error_chain(e), code = e.code(), status = status.as_u16(), "credentials could not be checked");
            }
            _ => {}
        }
    }

    /// The response for this failure: a page when `wants_html`, else JSON.
    pub fn into_response(self, wants_html: bool) -> Response<Body> {
        let answer = self.answer();
        self.log_cause(answer.status);
        let limited = match &self {
            GateError::RateLimited(r) => Some(r.clone()),
            _ => None,
        };
        let mut r = match self {
            GateError::Unauthenticated {
                login_return_to: Some(rd),
                reason: None,
                ..
            } => login_redirect(&login_url(&rd)),
            GateError::SessionLimit {
                login_return_to: Some(rd),
                ..
            } => login_redirect(&login_url(&rd)),
            GateError::StepUp(c) if c.login_return_to.is_some() => {
                let rd = c.login_return_to.as_deref().unwrap_or("/");
                login_redirect(&c.login_location(rd))
            }
            GateError::Forbidden(f) if f.browser || wants_html => {
                pages::html(answer.status, pages::forbidden(&f))
            }
            GateError::Forbidden(f) => json(
                answer.status,
                &serde_json::json!({
                    "error": answer.code,
                    "detail": &answer.detail,
                    "route": &*f.by.route,
                    "rule": &*f.by.rule,
                    "allowed_groups": f.allowing_groups.iter().map(|g| &**g).collect::<Vec<_>>(),
                }),
            ),
            GateError::NotProvisioned {
                browser,
                login_enabled,
            } if browser || wants_html => {
                pages::html(answer.status, pages::not_provisioned(login_enabled))
            }
            _ if wants_html => {
                pages::html(answer.status, pages::message(answer.status, &answer.detail))
            }
            _ => json(
                answer.status,
                &serde_json::json!({ "error": answer.code, "detail": &answer.detail }),
            ),
        };
        let headers = r.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if answer.status == StatusCode::UNAUTHORIZED {
            if let Some(v) = answer
                .challenge
                .and_then(|c| HeaderValue::from_str(&c).ok())
            {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        if answer.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(refused) = limited {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(refused.retry_after()),
            );
            let standing = super::limits::Standing {
                wait_secs: refused.retry_after() as f64,
                ..refused.standing
            };
            if let Some((policy, limit)) = super::limits::headers(&refused.policies, &standing) {
                headers.insert(super::limits::RATELIMIT_POLICY, policy);
                headers.insert(super::limits::RATELIMIT, limit);
            }
        }
        r
    }
}

/// A browser sent to sign in gets 302; an API caller 401.
fn sign_in_status(redirect: bool) -> StatusCode {
    if redirect {
        StatusCode::FOUND
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// A 302 to `location` (the sign-in page).
fn login_redirect(location: &str) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn json(status: StatusCode, v: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
