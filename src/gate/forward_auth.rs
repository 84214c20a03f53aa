//! Forward-auth at `/.scimgate/auth`, for nginx `auth_request` and Traefik `forwardAuth`.
//!
//! The front proxy asks "may this request through?" and passes the original request as
//! `X-Forwarded-Method`, `X-Forwarded-Uri` and `X-Forwarded-Host`. Those headers are
//! believed only from `trusted_proxies`; any other peer is refused, since the answer
//! would be about a request it could have made up. The answer is 200 with the identity
//! headers and the signed assertion, or a refusal from the gate's one map
//! ([`super::error`]): 401 (no or bad credentials), 403, 502 (the identity provider
//! cannot be reached to check a token). On a `preset: mcp` route only GET and DELETE
//! are answered: a POST's messages are in its body, which forward-auth never sees, so
//! it is refused (`preset:mcp-needs-proxy`); such a route is served by the proxy.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use http::{HeaderMap, HeaderValue, Method, Response};

use super::error::{Forbidden, GateError};
use super::judge::{Allowed, Ask};
use super::Gate;
use crate::audit::records::RequestOrigin;
use crate::path::normalise;
use crate::policy::mcp::NEEDS_PROXY;
use crate::policy::Preset;

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The client as the (trusted) front proxy saw it: the last `X-Forwarded-For` entry.
fn forwarded_client(h: &HeaderMap) -> Option<IpAddr> {
    header(h, "x-forwarded-for")?
        .rsplit(',')
        .next()
        .and_then(|ip| ip.trim().parse().ok())
}

/// `GET /.scimgate/auth` (any method is accepted; the judged one is X-Forwarded-Method).
pub async fn handler(
    State(gate): State<Arc<Gate>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    match judge(&gate, peer, &headers).await {
        Ok(r) => r,
        Err(e) => e.into_response(false),
    }
}

async fn judge(
    gate: &Arc<Gate>,
    peer: SocketAddr,
    h: &HeaderMap,
) -> Result<Response<Body>, GateError> {
    if !gate.is_trusted_proxy(peer.ip()) {
        tracing::warn!(%peer, "forward-auth request from a peer not in trusted_proxies");
        return Err(GateError::UntrustedPeer);
    }
    let method = header(h, "x-forwarded-method")
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(Method::GET);
    let uri = header(h, "x-forwarded-uri").unwrap_or("/");
    let host = header(h, "x-forwarded-host")
        .or_else(|| header(h, "host"))
        .unwrap_or("");
    let raw_path = uri.split(['?', '#']).next().unwrap_or("/");
    let path = normalise(raw_path).map_err(|e| GateError::BadPath(e.to_string()))?;
    let policy = gate.policy.current();
    let origin = RequestOrigin {
        request_id: header(h, "x-request-id").map(str::to_owned),
        client_ip: Some(forwarded_client(h).unwrap_or(peer.ip())),
    };
    let Allowed { route, subject, .. } = gate
        .judge(
            &policy,
            Ask {
                host,
                method: &method,
                path: &path,
                headers: h,
                browser: false,
                login_return_to: None,
                origin: &origin,
            },
        )
        .await?;
    if route.preset == Some(Preset::Mcp) && method != Method::GET && method != Method::DELETE {
        return Err(GateError::Forbidden(Box::new(Forbidden {
            browser: false,
            user_name: subject.record().user_name.to_string(),
            method: method.to_string(),
            path: path.forward.clone(),
            by: route.deny_by(NEEDS_PROXY).by,
            allowing_groups: Vec::new(),
            login_enabled: false,
            offers: Vec::new(),
            csrf: None,
        })));
    }
    let identity = gate.identity_headers(&subject, &route.name)?;
    let mut r = Response::new(Body::empty());
    r.headers_mut()
        .extend(identity.iter().map(|(n, v)| (n.clone(), v.clone())));
    r.headers_mut().insert(
        "x-scimgate-route",
        HeaderValue::from_str(&route.name).unwrap_or(HeaderValue::from_static("-")),
    );
    Ok(r)
}
