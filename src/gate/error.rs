//! Every way the gate says no, and the one place those become HTTP responses.
//!
//! Browsers get pages (or a redirect to login), API callers get JSON and a
//! `WWW-Authenticate` challenge. Bodies say what the caller needs to act (which route,
//! which groups would allow it) and nothing about other users.

use std::sync::Arc;

use axum::body::Body;
use http::{header, HeaderValue, Response, StatusCode};

use super::pages;
use crate::authn::error::AuthnError;
use crate::authn::redirect::login_url;
use crate::authn::routes::OIDC_KEYS;
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
    #[error("authentication required")]
    Unauthenticated {
        /// Send the browser to the login page, coming back to this path.
        login_return_to: Option<String>,
        /// Why presented credentials were refused (absent when none were sent).
        reason: Option<AuthnError>,
        /// Whether browser sign-in is configured (else the answer says how to turn it on).
        login_enabled: bool,
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
}

impl GateError {
    pub fn status(&self) -> StatusCode {
        match self {
            GateError::BadPath(_) | GateError::AmbiguousPath(_) | GateError::BadHost(_) => {
                StatusCode::BAD_REQUEST
            }
            GateError::NoRoute => StatusCode::NOT_FOUND,
            GateError::UnsupportedTransferCoding(_) => StatusCode::NOT_IMPLEMENTED,
            GateError::Unauthenticated {
                login_return_to: Some(_),
                ..
            } => StatusCode::FOUND,
            GateError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            GateError::NotProvisioned { .. } | GateError::Forbidden(_) => StatusCode::FORBIDDEN,
            GateError::Upstream(e) => e.status(),
            GateError::StaleDirectory => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The response for this refusal.
    pub fn into_response(self, wants_html: bool) -> Response<Body> {
        let status = self.status();
        match self {
            GateError::Unauthenticated {
                login_return_to: Some(rd),
                ..
            } => {
                let location = login_url(&rd);
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::FOUND;
                if let Ok(v) = HeaderValue::from_str(&location) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            GateError::Unauthenticated {
                login_return_to: None,
                reason,
                login_enabled,
            } => {
                let challenge = match &reason {
                    Some(e) => format!(
                        "Bearer realm=\"scimgate\", error=\"invalid_token\", error_description=\"{}\"",
                        e.to_string().replace(['"', '\\'], "'")
                    ),
                    None => "Bearer realm=\"scimgate\"".to_owned(),
                };
                let detail = match reason {
                    Some(e) => e.to_string(),
                    None if login_enabled => "Sign in, or send a bearer token.".to_owned(),
                    None => format!(
                        "Browser sign-in is off on this scimgate: no OpenID provider is configured. \
                         Its administrator turns it on by setting {OIDC_KEYS} in the configuration \
                         file. Until then, send a bearer token."
                    ),
                };
                let mut r = json_or_page(status, wants_html, "unauthenticated", &detail);
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                r
            }
            GateError::Forbidden(f) => {
                if f.browser || wants_html {
                    pages::html(status, pages::forbidden(&f))
                } else {
                    let body = serde_json::json!({
                        "error": "forbidden",
                        "detail": format!("{} {} is not allowed for {}", f.method, f.path, f.user_name),
                        "route": &*f.by.route,
                        "rule": &*f.by.rule,
                        "allowed_groups": f.allowing_groups.iter().map(|g| &**g).collect::<Vec<_>>(),
                    });
                    json(status, &body)
                }
            }
            GateError::NotProvisioned {
                browser,
                login_enabled,
            } => {
                if browser || wants_html {
                    pages::html(status, pages::not_provisioned(login_enabled))
                } else {
                    json(
                        status,
                        &serde_json::json!({ "error": "not_provisioned", "detail": pages::NOT_PROVISIONED }),
                    )
                }
            }
            GateError::Upstream(e) if e.closes_connection() => {
                // The client's fault (a request body it stopped sending): the rest of
                // the body will not be read, so the connection closes after this.
                tracing::info!(error = %e, "request refused");
                let mut r = json_or_page(status, wants_html, "request_timeout", &e.to_string());
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            }
            GateError::Upstream(e) => {
                tracing::warn!(error = %e, "upstream failure");
                json_or_page(status, wants_html, "upstream", &e.to_string())
            }
            other => json_or_page(status, wants_html, code(&other), &other.to_string()),
        }
    }
}

fn code(e: &GateError) -> &'static str {
    match e {
        GateError::BadPath(_) | GateError::AmbiguousPath(_) => "bad_path",
        GateError::NoRoute => "no_route",
        GateError::BadHost(_) => "bad_host",
        GateError::UnsupportedTransferCoding(_) => "unsupported_transfer_coding",
        GateError::StaleDirectory => "stale_directory",
        _ => "error",
    }
}

fn json_or_page(status: StatusCode, html: bool, code: &str, detail: &str) -> Response<Body> {
    if html {
        pages::html(status, pages::message(status, detail))
    } else {
        json(
            status,
            &serde_json::json!({ "error": code, "detail": detail }),
        )
    }
}

fn json(status: StatusCode, v: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
