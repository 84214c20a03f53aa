//! Where each request goes. The path is normalised here, once: scimgate's own paths
//! (`/scim/...`, `/.scimgate/...`, `/.well-known/scimgate/...`, `/healthz`, `/readyz`)
//! go to the control application, everything else to the gate with the normalised path
//! it will both match and forward.
//!
//! Before that the Host is checked ([`check_host`]): routing reads exactly one Host, and
//! a request whose Host could be read another way by the upstream (two of them, none on
//! HTTP/1.1, an absolute-form target or HTTP/2 `:authority` naming another host) is
//! refused with 400, so the host the policy judged is the only one there is.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::{header::HOST, HeaderMap, HeaderValue, Request, Response, Uri, Version};
use hyper::body::Incoming;
use tower::ServiceExt;

use crate::gate::error::GateError;
use crate::gate::{caller::is_browser, pipeline, Gate};
use crate::metrics::routes::{DenyReason, RouteMetrics};
use crate::path::normalise;
use crate::proxy::idle::ConnectionBounds;
use crate::scim::ScimError;

/// The per-request router of the listener.
pub struct Dispatch {
    control: Router,
    gate: Arc<Gate>,
    /// Where refusals before any route is known are counted.
    unrouted: Arc<RouteMetrics>,
}

/// Whether `p` is `prefix` or below it.
fn under(p: &str, prefix: &str) -> bool {
    p == prefix
        || p.strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A refused request path, answered as its surface answers errors: an RFC 7644 error
/// under `/scim` (a SCIM client parses those), the gate's answer everywhere else.
fn refuse_path(raw_path: &str, e: GateError, wants_html: bool) -> Response<Body> {
    if under(raw_path, "/scim") {
        return axum::response::IntoResponse::into_response(ScimError::BadRequest {
            scim_type: None,
            detail: e.public_detail().into_owned(),
        });
    }
    e.into_response(wants_html)
}

/// Whether a normalised path belongs to scimgate itself.
pub fn is_control_path(p: &str) -> bool {
    p == "/healthz"
        || p == "/readyz"
        // All of /scim: a base URL without /v2 gets a SCIM 404 naming the right one.
        || under(p, "/scim")
        || under(p, "/.scimgate")
        || under(p, "/.well-known/scimgate")
}

/// Why a request's Host is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("more than one Host header")]
    Repeated,
    #[error("an HTTP/1.1 request needs a Host header")]
    Missing,
    #[error("the Host header is not host[:port]")]
    Malformed,
    #[error("the Host header names another host than the request target")]
    Mismatch,
}

/// Checks the Host of a request (after the listener copied an HTTP/2 `:authority`
/// into a missing Host): exactly one on HTTP/1.1 and later (RFC 9112 §3.2), a plain
/// `host[:port]` (no user info), and the same host and port as the target's authority
/// when there is one (an absolute-form target, HTTP/2's `:authority`; RFC 9113
/// §8.3.1).
pub fn check_host(version: Version, uri: &Uri, headers: &HeaderMap) -> Result<(), HostError> {
    let mut hosts = headers.get_all(HOST).iter();
    let Some(host) = hosts.next() else {
        return match version {
            Version::HTTP_09 | Version::HTTP_10 => Ok(()),
            _ => Err(HostError::Missing),
        };
    };
    if hosts.next().is_some() {
        return Err(HostError::Repeated);
    }
    let host: http::uri::Authority = host
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|h| !h.is_empty() && !h.contains('@'))
        .and_then(|h| h.parse().ok())
        .ok_or(HostError::Malformed)?;
    if host.host().is_empty() {
        return Err(HostError::Malformed);
    }
    match uri.authority() {
        Some(target) if !same_authority(&host, target, uri.scheme_str()) => {
            Err(HostError::Mismatch)
        }
        _ => Ok(()),
    }
}

/// The first transfer coding of a request other than `chunked`, if any. hyper reads
/// a body whose last coding is `chunked` and drops the header; a coding before it
/// (`gzip, chunked`) would reach the upstream still applied but no longer named, so the
/// request is refused instead (RFC 9112 §6.1: 501 for a coding the server does not
/// understand).
pub fn check_transfer_coding(headers: &HeaderMap) -> Result<(), String> {
    for value in headers.get_all(http::header::TRANSFER_ENCODING) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for coding in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if !coding.eq_ignore_ascii_case("chunked") {
                return Err(coding.to_owned());
            }
        }
    }
    Ok(())
}

/// Same host (without case or a trailing dot) and the same port, a missing port being
/// the scheme's default.
fn same_authority(
    a: &http::uri::Authority,
    b: &http::uri::Authority,
    scheme: Option<&str>,
) -> bool {
    let default = match scheme {
        Some(s) if s.eq_ignore_ascii_case("https") => Some(443),
        Some(s) if s.eq_ignore_ascii_case("http") => Some(80),
        _ => None,
    };
    let name = |h: &str| h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase();
    name(a.host()) == name(b.host()) && a.port_u16().or(default) == b.port_u16().or(default)
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
            id.hyphenated().encode_lower(&mut text);
            // One allocation holds the text and its count: the copies sent upstream
            // and back to the client share it.
            HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text))
                .unwrap_or(HeaderValue::from_static("-"))
        })
}

impl Dispatch {
    pub fn new(control: Router, gate: Arc<Gate>, unrouted: Arc<RouteMetrics>) -> Self {
        Dispatch {
            control,
            gate,
            unrouted,
        }
    }

    /// Serves one request that came on a connection with `bounds`.
    pub async fn handle(
        &self,
        mut req: Request<Incoming>,
        peer: SocketAddr,
        bounds: Option<ConnectionBounds>,
    ) -> Response<Body> {
        mark_sensitive(req.headers_mut());
        let wants_html = is_browser(req.headers());
        if let Err(e) = check_host(req.version(), req.uri(), req.headers()) {
            self.unrouted.refused(DenyReason::BadHost);
            return GateError::BadHost(e.to_string()).into_response(wants_html);
        }
        if let Err(coding) = check_transfer_coding(req.headers()) {
            self.unrouted.refused(DenyReason::BadFraming);
            // The map closes the connection: the body's framing is unknown.
            return GateError::UnsupportedTransferCoding(coding).into_response(wants_html);
        }
        let path = match normalise(req.uri().path()) {
            Ok(p) => p,
            Err(e) => {
                self.unrouted.refused(DenyReason::BadPath);
                let e = GateError::BadPath(e.to_string());
                return refuse_path(req.uri().path(), e, wants_html);
            }
        };
        if is_control_path(&path.matching) {
            if let Some(a) = &path.ambiguity {
                let e = GateError::AmbiguousPath(a.to_string());
                return refuse_path(&path.matching, e, wants_html);
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
                        let e = GateError::BadPath("unparsable path".into());
                        return refuse_path(&path.matching, e, wants_html);
                    }
                }
                match http::Uri::from_parts(parts) {
                    Ok(u) => *req.uri_mut() = u,
                    Err(_) => {
                        let e = GateError::BadPath("unparsable path".into());
                        return refuse_path(&path.matching, e, wants_html);
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
        pipeline::handle(self.gate.clone(), req, peer, path, id, bounds).await
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

    fn headers(hosts: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for host in hosts {
            h.append(HOST, host.parse().unwrap());
        }
        h
    }

    #[test]
    fn one_plain_host_is_required_on_http_1_1() {
        let origin: Uri = "/a".parse().unwrap();
        let v11 = Version::HTTP_11;
        assert_eq!(check_host(v11, &origin, &headers(&["app.test"])), Ok(()));
        assert_eq!(
            check_host(v11, &origin, &headers(&["App.Test:8080"])),
            Ok(())
        );
        assert_eq!(check_host(v11, &origin, &headers(&["[::1]:8080"])), Ok(()));
        assert_eq!(
            check_host(v11, &origin, &headers(&["app.test", "evil.test"])),
            Err(HostError::Repeated)
        );
        assert_eq!(
            check_host(v11, &origin, &headers(&["app.test", "app.test"])),
            Err(HostError::Repeated)
        );
        assert_eq!(
            check_host(v11, &origin, &headers(&[])),
            Err(HostError::Missing)
        );
        assert_eq!(
            check_host(Version::HTTP_2, &origin, &headers(&[])),
            Err(HostError::Missing)
        );
        assert_eq!(check_host(Version::HTTP_10, &origin, &headers(&[])), Ok(()));
        for bad in [
            "",
            "user@app.test",
            "app.test, evil.test",
            "app test",
            "app.test/x",
        ] {
            assert_eq!(
                check_host(v11, &origin, &headers(&[bad])),
                Err(HostError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_host_must_be_the_targets_authority() {
        let v11 = Version::HTTP_11;
        let absolute: Uri = "http://app.test/a".parse().unwrap();
        assert_eq!(check_host(v11, &absolute, &headers(&["APP.test"])), Ok(()));
        assert_eq!(
            check_host(v11, &absolute, &headers(&["app.test:80"])),
            Ok(())
        );
        assert_eq!(
            check_host(v11, &absolute, &headers(&["evil.test"])),
            Err(HostError::Mismatch)
        );
        assert_eq!(
            check_host(v11, &absolute, &headers(&["app.test:8080"])),
            Err(HostError::Mismatch)
        );
        let h2: Uri = "https://app.test/a".parse().unwrap();
        assert_eq!(
            check_host(Version::HTTP_2, &h2, &headers(&["app.test:443"])),
            Ok(())
        );
        assert_eq!(
            check_host(Version::HTTP_2, &h2, &headers(&["loose.test"])),
            Err(HostError::Mismatch)
        );
    }

    #[test]
    fn control_paths() {
        for p in [
            "/healthz",
            "/scim/v2",
            "/scim/v2/Users",
            "/scim",
            "/scim/Users",
            "/.scimgate/login",
            "/.well-known/scimgate/jwks.json",
        ] {
            assert!(is_control_path(p), "{p}");
        }
        for p in ["/", "/scimx", "/.scimgatex", "/healthz/x", "/docs/scim/v2"] {
            assert!(!is_control_path(p), "{p}");
        }
    }
}
