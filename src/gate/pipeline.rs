//! One proxied request, from route choice to the forwarded response.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use http::{header, HeaderValue, Request, Response};
use hyper::body::Incoming;
use tracing::Instrument;

use super::caller::{is_browser, Caller, NoCaller};
use super::error::{Forbidden, GateError};
use super::Gate;
use crate::policy::{DirectorySubject, RequestFacts};
use crate::proxy::forward::forward;
use crate::proxy::headers::{is_websocket_upgrade, prepare_request, ClientContext};
use crate::proxy::path::NormalPath;
use crate::revoke::NewStream;

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
) -> Response<Body> {
    let span = tracing::info_span!(
        "proxy",
        request_id = request_id.to_str().unwrap_or("-"),
        method = %req.method(),
        path = %path.forward,
    );
    let wants_html = is_browser(req.headers());
    let mut resp = match judge_and_forward(&gate, req, peer, &path, &request_id, wants_html)
        .instrument(span)
        .await
    {
        Ok(r) => r,
        Err(e) => e.into_response(wants_html),
    };
    resp.headers_mut().insert("x-request-id", request_id);
    resp
}

async fn judge_and_forward(
    gate: &Arc<Gate>,
    mut req: Request<Incoming>,
    peer: SocketAddr,
    path: &NormalPath,
    request_id: &HeaderValue,
    browser: bool,
) -> Result<Response<Body>, GateError> {
    let policy = gate.policy.current();
    let host = request_host(&req).to_owned();
    let m = policy
        .match_route(&host, &path.matching)
        .ok_or(GateError::NoRoute)?;
    let route = m.route.clone();
    if let Some(a) = &path.ambiguity {
        if !route.settings.allow_ambiguous_paths {
            return Err(GateError::AmbiguousPath(a.to_string()));
        }
    }
    let caller: Caller = match gate.authenticate(req.headers()).await {
        Ok(c) => c,
        Err(NoCaller::Anonymous) => {
            let login_return_to =
                (browser && gate.login_enabled).then(|| match req.uri().query() {
                    Some(q) => format!("{}?{q}", path.forward),
                    None => path.forward.clone(),
                });
            return Err(GateError::Unauthenticated {
                login_return_to,
                reason: None,
            });
        }
        Err(NoCaller::Refused(e)) => {
            tracing::info!(error = %e, "credentials refused");
            return Err(GateError::Unauthenticated {
                login_return_to: None,
                reason: Some(e),
            });
        }
        Err(NoCaller::NotProvisioned) => return Err(GateError::NotProvisioned { browser }),
    };
    let subject = DirectorySubject::new(&gate.dir, caller.user.clone());
    let method = req.method().clone();
    let facts = RequestFacts {
        method: &method,
        path: &path.matching,
    };
    let decision = policy.decide(&m, facts, &subject);
    if !decision.allow {
        tracing::info!(
            user = %caller.user.user_name,
            route = %route.name,
            rule = %decision.by.rule,
            "access denied"
        );
        return Err(GateError::Forbidden(Box::new(Forbidden {
            browser,
            user_name: caller.user.user_name.to_string(),
            method: method.to_string(),
            path: path.forward.clone(),
            allowing_groups: policy.allowing_groups(&route, facts),
            by: decision.by,
        })));
    }
    tracing::debug!(
        user = %caller.user.user_name,
        route = %route.name,
        rule = %decision.by.rule,
        "access allowed"
    );

    let upgrade = is_websocket_upgrade(req.version(), req.headers());
    let ctx = ClientContext {
        peer: peer.ip(),
        trusted_proxy: gate.is_trusted_proxy(peer.ip()),
        tls: gate.tls,
        host: host.clone(),
    };
    let user = &caller.user;
    let identity = gate.identity_headers(&subject, &route.name)?;
    {
        let headers = req.headers_mut();
        prepare_request(headers, &ctx, upgrade);
        for (name, value) in &identity {
            headers.insert(name.clone(), value.clone());
        }
        headers.insert("x-request-id", request_id.clone());
    }
    let client = gate.client_for(&route, policy.digest())?;
    let (cancel, guard) = gate.registry.register(NewStream {
        user_id: user.id.clone(),
        route: route.name.clone(),
        host: host.into(),
        method,
        path: path.matching.as_str().into(),
    });
    let resp = forward(
        &client,
        &route.settings,
        req,
        &path.forward,
        cancel,
        Some(Box::new(guard)),
    )
    .await?;
    let mut resp = resp;
    // What the gate let through must come back through the gate: a browser may keep
    // it, but must ask again before each use, so a revocation also ends cached access.
    if !resp.headers().contains_key(header::CACHE_CONTROL) {
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
    Ok(resp)
}
