//! One proxied request, from route choice to the forwarded response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Either;
use hyper::body::Incoming;
use tracing::Instrument;

use super::caller::is_browser;
use super::error::GateError;
use super::judge::{Allowed, Ask};
use super::ladder::{self, Rung};
use super::limits;
use super::mcp;
use super::Gate;
use crate::audit::records::RequestOrigin;
use crate::authn::routes::own_cookies;
use crate::metrics::routes::RouteMetrics;
use crate::path::NormalPath;
use crate::policy::{DirectorySubject, Preset};
use crate::proxy::compress;
use crate::proxy::credentials::strip_own_credentials;
use crate::proxy::forward::{forward, Exchange};
use crate::proxy::headers::request_trailers::WithoutTrailers;
use crate::proxy::headers::{is_websocket_upgrade, sanitise_request, ClientContext};
use crate::proxy::idle::ConnectionBounds;
use crate::proxy::validators::strengthen_if_none_match;
use crate::revoke::{NewStream, StreamCancel};

/// The request id header (a constant: a name given as text is copied at every insert).
const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The Host the client asked for (HTTP/2's `:authority` is copied into `Host` by the
/// listener), without surrounding whitespace.
pub fn request_host<B>(req: &Request<B>) -> &str {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("")
}

/// Handles a request for a proxied route (anything outside scimgate's own paths).
pub async fn handle(
    gate: Arc<Gate>,
    req: Request<Incoming>,
    peer: SocketAddr,
    path: NormalPath,
    request_id: HeaderValue,
    bounds: Option<ConnectionBounds>,
) -> Response<Body> {
    let span = tracing::info_span!(
        "proxy",
        request_id = request_id.to_str().unwrap_or("-"),
        method = %req.method(),
        path = %path.forward,
    );
    let started = Instant::now();
    let wants_html = is_browser(req.headers());
    let mut route_metrics = None;
    let result = judge_and_forward(
        &gate,
        req,
        Came { peer, bounds },
        &path,
        &request_id,
        wants_html,
        &mut route_metrics,
    )
    .instrument(span.clone())
    .await;
    let route_metrics = route_metrics.unwrap_or_else(|| gate.metrics.routes.unrouted().clone());
    if let Err(GateError::Upstream(e)) = &result {
        if let Some(kind) = e.upstream_kind() {
            route_metrics.upstream_error(kind);
        }
    }
    let mut resp = match result {
        Ok(r) => r,
        // In the request's span: a cause the client is not shown is logged with its id.
        Err(e) => span.in_scope(|| e.into_response(wants_html)),
    };
    if ladder::reaches(Rung::Metrics) {
        route_metrics.finished(started.elapsed());
    }
    resp.headers_mut().insert(X_REQUEST_ID, request_id);
    resp
}

/// The client connection a request came on.
struct Came {
    peer: SocketAddr,
    bounds: Option<ConnectionBounds>,
}

async fn judge_and_forward(
    gate: &Arc<Gate>,
    req: Request<Incoming>,
    came: Came,
    path: &NormalPath,
    request_id: &HeaderValue,
    browser: bool,
    route_metrics: &mut Option<Arc<RouteMetrics>>,
) -> Result<Response<Body>, GateError> {
    let Came { peer, bounds } = came;
    let policy = gate.policy.current();
    let host: Arc<str> = Arc::from(request_host(&req));
    let login_return_to = browser.then(|| match req.uri().query() {
        Some(q) => format!("{}?{q}", path.forward),
        None => path.forward.clone(),
    });
    let method = req.method().clone();
    let origin = RequestOrigin {
        request_id: request_id.to_str().ok().map(str::to_owned),
        client_ip: Some(peer.ip()),
    };
    let (metrics, judged) = gate
        .judge_observed(
            &policy,
            Ask {
                host: &host,
                method: &method,
                path,
                headers: req.headers(),
                browser,
                login_return_to,
                origin: &origin,
            },
        )
        .await;
    *route_metrics = Some(metrics);
    let Allowed {
        route,
        subject,
        limit,
    } = judged?;

    if let Some(location) = route.docs_redirect(&path.matching, &path.forward, req.uri().query()) {
        return Ok(slash_redirect(&location));
    }
    let is_mcp = route.preset == Some(Preset::Mcp);
    let mcp_session = if is_mcp {
        match gate.admit_mcp_session(&route.name, req.headers(), &subject.record().id) {
            Ok(s) => s,
            Err(_) => return Ok(mcp::sessions::not_found()),
        }
    } else {
        None
    };
    let ends_mcp_session = is_mcp && method == Method::DELETE;
    let mut mcp_plan = None;
    let mut req = if is_mcp && method == Method::POST {
        let judge = mcp::Judge::new(
            policy.clone(),
            route.clone(),
            method.clone(),
            &path.matching,
            DirectorySubject::new(&gate.dir, subject.record().clone()),
        );
        let timeout = route.settings.response_timeout;
        match mcp::admit(judge, req, &gate.audit, &origin, timeout).await {
            Ok((req, plan)) => {
                mcp_plan = Some(plan);
                req.map(Either::Left)
            }
            Err(answer) => return Ok(answer),
        }
    } else {
        // Not boxed here: `forward` boxes the body once for the upstream client.
        req.map(|b| Either::Right(WithoutTrailers::new(b)))
    };
    let upgrade = is_websocket_upgrade(req.version(), req.headers());
    let ctx = ClientContext {
        peer: peer.ip(),
        trusted_proxy: gate.is_trusted_proxy(peer.ip()),
        tls: gate.tls,
        host: host.clone(),
    };
    let user = subject.record().clone();
    let identity = if ladder::reaches(Rung::Identity) {
        Some(gate.identity_headers(&subject, &route.name)?)
    } else {
        None
    };
    {
        let headers = req.headers_mut();
        sanitise_request(headers, &ctx, upgrade, &gate.identity_headers);
        strip_own_credentials(
            headers,
            &own_cookies(gate.sessions.cookie_base()),
            route.settings.forward_bearer_token,
        );
        for (name, value) in identity.iter().flat_map(|h| h.iter()) {
            headers.insert(name.clone(), value.clone());
        }
        headers.insert(X_REQUEST_ID, request_id.clone());
    }
    let compress = route.settings.compress;
    let coding = if compress {
        strengthen_if_none_match(req.headers_mut());
        compress::for_request(&method, req.headers())
    } else {
        None
    };
    let client = gate.client_for(&route, policy.digest())?;
    let (cancel, guard) = if ladder::reaches(Rung::Revocation) {
        let (cancel, guard) = gate.registry.register(NewStream {
            user_id: user.id.clone(),
            route: route.name.clone(),
            host: host.clone(),
            method,
            path: path.matching.as_str().into(),
        });
        (cancel, Some(guard))
    } else {
        (StreamCancel::never(), None)
    };
    let exchange = Exchange {
        cancel,
        keep: guard,
        bounds,
    };
    let resp = forward(&client, &route.settings, req, &path.forward, exchange).await?;
    if is_mcp {
        let ended = mcp_session
            .as_deref()
            .filter(|_| ends_mcp_session && resp.status().is_success());
        gate.note_mcp_session(&route.name, resp.headers(), &user.id, ended);
    }
    let resp = match mcp_plan {
        Some(plan) => plan.apply(resp).await,
        None => resp,
    };
    let mut resp = if compress {
        compress::compress_response(resp, coding)
    } else {
        resp
    };
    // What the gate let through must come back through the gate: a browser may keep
    // it, but must ask again before each use, so a revocation also ends cached access.
    if !resp.headers().contains_key(header::CACHE_CONTROL) {
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
    crate::proxy::response_hygiene::apply(
        resp.headers_mut(),
        &own_cookies(gate.sessions.cookie_base()),
        route.cache,
    );
    // The draft's fields on every answer of a limited route, so callers can pace
    // themselves before they are refused.
    if let Some((l, tightest)) = limit.as_ref().and_then(|l| Some((l, l.tightest.as_ref()?))) {
        if let Some((policy, state)) = gate.limiter.admitted_headers(&l.policies, tightest) {
            resp.headers_mut().insert(limits::RATELIMIT_POLICY, policy);
            resp.headers_mut().insert(limits::RATELIMIT, state);
        }
    }
    Ok(resp)
}

/// A permanent redirect to `location` (a path of this host).
fn slash_redirect(location: &str) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(value) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    resp
}
