//! Where each request goes. The path is normalised here, once: scimgate's own paths
//! (`/scim/v2`, `/.scimgate/...`, `/.well-known/scimgate/...`, `/healthz`, `/readyz`)
//! go to the control application, everything else to the gate with the normalised path
//! it will both match and forward.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use tower::ServiceExt;

use crate::gate::error::GateError;
use crate::gate::{caller::is_browser, pipeline, Gate};
use crate::ops::routes::DenyReason;
use crate::proxy::path::normalise;

/// The per-request router of the listener.
pub struct Dispatch {
    control: Router,
    gate: Arc<Gate>,
}

/// Whether a normalised path belongs to scimgate itself.
pub fn is_control_path(p: &str) -> bool {
    fn under(p: &str, prefix: &str) -> bool {
        p == prefix
            || p.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
    p == "/healthz"
        || p == "/readyz"
        || under(p, "/scim/v2")
        || under(p, "/.scimgate")
        || under(p, "/.well-known/scimgate")
}

/// Marks the credential headers sensitive: anything that prints the headers shows
/// `Sensitive` instead of their value (and HTTP/2 never indexes them upstream).
fn mark_sensitive(headers: &mut http::HeaderMap) {
    for name in [
        http::header::AUTHORIZATION,
        http::header::PROXY_AUTHORIZATION,
        http::header::COOKIE,
    ] {
        if let http::header::Entry::Occupied(mut e) = headers.entry(name) {
            for v in e.iter_mut() {
                v.set_sensitive(true);
            }
        }
    }
}

/// A request id: the client's when it is short and printable, else a new one.
fn request_id(req: &Request<Incoming>) -> HeaderValue {
    req.headers()
        .get("x-request-id")
        .filter(|v| v.len() <= 128 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .cloned()
        .unwrap_or_else(|| {
            // From the thread's CSPRNG rather than one `getrandom` call per request.
            let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            HeaderValue::from_bytes(id.hyphenated().encode_lower(&mut text).as_bytes())
                .unwrap_or(HeaderValue::from_static("-"))
        })
}

impl Dispatch {
    pub fn new(control: Router, gate: Arc<Gate>) -> Self {
        Dispatch { control, gate }
    }

    /// Serves one request.
    pub async fn handle(&self, mut req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        mark_sensitive(req.headers_mut());
        let wants_html = is_browser(req.headers());
        let path = match normalise(req.uri().path()) {
            Ok(p) => p,
            Err(e) => {
                self.gate
                    .metrics
                    .routes
                    .unrouted()
                    .refused(DenyReason::BadPath);
                return GateError::BadPath(e.to_string()).into_response(wants_html);
            }
        };
        if is_control_path(&path.matching) {
            if let Some(a) = &path.ambiguity {
                return GateError::AmbiguousPath(a.to_string()).into_response(wants_html);
            }
            if path.forward != req.uri().path() {
                let pq = match req.uri().query() {
                    Some(q) => format!("{}?{q}", path.forward),
                    None => path.forward.clone(),
                };
                let mut parts = req.uri().clone().into_parts();
                match pq.parse() {
                    Ok(pq) => parts.path_and_query = Some(pq),
                    Err(_) => {
                        return GateError::BadPath("unparsable path".into())
                            .into_response(wants_html)
                    }
                }
                match http::Uri::from_parts(parts) {
                    Ok(u) => *req.uri_mut() = u,
                    Err(_) => {
                        return GateError::BadPath("unparsable path".into())
                            .into_response(wants_html)
                    }
                }
            }
            req.extensions_mut().insert(ConnectInfo(peer));
            return match self.control.clone().oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
        }
        let id = request_id(&req);
        pipeline::handle(self.gate.clone(), req, peer, path, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers_print_as_sensitive() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            "Bearer s3cr3t".parse().unwrap(),
        );
        h.append(http::header::COOKIE, "a=c00kie".parse().unwrap());
        h.append(http::header::COOKIE, "b=c00kie2".parse().unwrap());
        h.insert(http::header::ACCEPT, "text/html".parse().unwrap());
        mark_sensitive(&mut h);
        let printed = format!("{h:?}");
        assert!(
            !printed.contains("s3cr3t") && !printed.contains("c00kie"),
            "{printed}"
        );
        assert!(printed.contains("text/html"), "{printed}");
    }

    #[test]
    fn control_paths() {
        for p in [
            "/healthz",
            "/scim/v2",
            "/scim/v2/Users",
            "/.scimgate/login",
            "/.well-known/scimgate/jwks.json",
        ] {
            assert!(is_control_path(p), "{p}");
        }
        for p in [
            "/",
            "/scim/v2x",
            "/scim",
            "/.scimgatex",
            "/healthz/x",
            "/docs/scim/v2",
        ] {
            assert!(!is_control_path(p), "{p}");
        }
    }
}
