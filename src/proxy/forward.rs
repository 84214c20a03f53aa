//! One forwarded exchange: build the upstream request, wait for a permit and the
//! response head (both bounded by `response_timeout`), and hand back a streaming,
//! cancellable response, or a 101 with a tunnel behind it for websockets.
//!
//! The caller has already normalised the path, run `headers::prepare_request` and
//! `headers::add_identity`; this module only adds what the route itself decides (Host,
//! injected credentials, `Connection: close` without keep-alive). It never buffers a
//! body and never logs header values. A GET, HEAD, OPTIONS or TRACE without a body
//! that the upstream's close of an idle kept-alive connection cut before any answer
//! is sent once more on another connection (as browsers and other proxies do); any
//! other request gets the failure (502).

use std::error::Error as _;
use std::time::Duration;

use axum::body::Body;
use axum::BoxError;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONNECTION, HOST};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri, Version};
use tokio::sync::OwnedSemaphorePermit;

use super::body::CancellableBody;
use super::client::{HttpClient, UpstreamClient};
use super::connection_cap::ConnectionCapReached;
use super::error::ProxyError;
use super::headers::{is_websocket_upgrade, prepare_response};
use super::idle::{ConnectionBounds, IdleRequestBody, StreamIdle};
use super::tunnel;
use crate::config::server::{DEFAULT_STREAM_IDLE_TIMEOUT, DEFAULT_WEBSOCKET_IDLE_TIMEOUT};
use crate::outbound::{closed_before_answer, error_chain};
use crate::policy::RouteSettings;
use crate::revoke::StreamCancel;

/// What one forwarded exchange is tied to besides its request.
pub struct Exchange {
    /// Cancelling it fails a request still waiting (503), ends a streaming response
    /// body with an error, and closes a websocket tunnel.
    pub cancel: StreamCancel,
    /// Kept alive exactly as long as the exchange.
    pub keep: Option<Keep>,
    /// The listener's bounds of the client connection (`None`: the defaults, and a
    /// stall is not signalled to any connection).
    pub bounds: Option<ConnectionBounds>,
}

/// Forwards `req` to the route's upstream at `forward_path` (the normalised path's
/// `forward` form) with the request's query kept verbatim.
///
/// `req` must still carry its extensions: for a websocket upgrade, hyper's `OnUpgrade`
/// lives there (and the server must serve connections with upgrades enabled).
/// Cancelling the exchange's token fails a request still waiting (503), ends a
/// streaming response body with an error, and closes a websocket tunnel. A body the
/// client neither reads nor sends for the route's `stream_idle` timeout (default: the
/// exchange's [`ConnectionBounds`]) is cut and its permit released; a tunnel quiet for
/// `websocket_idle` is closed.
pub async fn forward<B>(
    client: &UpstreamClient,
    settings: &RouteSettings,
    mut req: Request<B>,
    forward_path: &str,
    exchange: Exchange,
) -> Result<Response<Body>, ProxyError>
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let Exchange {
        cancel,
        keep,
        bounds,
    } = exchange;
    let upgrade = is_websocket_upgrade(req.version(), req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let stream_idle = settings
        .stream_idle_timeout
        .or(bounds.as_ref().map(|b| b.stream_idle))
        .unwrap_or(DEFAULT_STREAM_IDLE_TIMEOUT);
    let uri = upstream_uri(client, forward_path, req.uri())?;

    let (parts, body) = req.into_parts();
    let mut headers = parts.headers;
    set_host(&mut headers, settings, &parts.uri);
    inject(&mut headers, settings);
    if client.close_connections && !upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    // Only a kept-alive connection can be closed under a request by its idle timeout.
    let kept_alive = !client.close_connections && !upgrade;
    let replay = if kept_alive && hyper::body::Body::is_end_stream(&body) {
        Replay::of(&parts.method, &uri, &headers)
    } else {
        None
    };
    // Boxed once, here: the client's body type.
    let body = IdleRequestBody::new(body, stream_idle, bounds.clone());
    let mut upstream_req = Request::new(Body::new(body));
    *upstream_req.method_mut() = parts.method;
    *upstream_req.uri_mut() = uri;
    *upstream_req.version_mut() = Version::HTTP_11;
    *upstream_req.headers_mut() = headers;

    let permit = Held {
        _permit: acquire(client, settings.response_timeout, &cancel).await?,
        _keep: keep,
    };
    let http = if upgrade {
        &client.upgrade_http
    } else {
        &client.http
    };
    let exchange =
        tokio::time::timeout(settings.response_timeout, send(http, upstream_req, replay));
    let mut response = tokio::select! {
        answered = exchange => match answered {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(classify(e)),
            Err(_) => return Err(ProxyError::ResponseTimeout),
        },
        () = cancel.cancelled() => return Err(ProxyError::Cancelled),
    };

    let switch = tunnel::decide(upgrade, response.status(), response.headers());
    if switch == tunnel::Switch::Refuse {
        return Err(ProxyError::UnexpectedSwitch);
    }
    if let Some(client_upgrade) = client_upgrade {
        if switch == tunnel::Switch::Tunnel {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            let (mut parts, _) = response.into_parts();
            prepare_response(&mut parts.headers, true);
            parts.extensions = http::Extensions::new();
            let websocket_idle = settings
                .websocket_idle_timeout
                .or(bounds.as_ref().map(|b| b.websocket_idle))
                .unwrap_or(DEFAULT_WEBSOCKET_IDLE_TIMEOUT);
            let idle = tunnel::Idle {
                limit: websocket_idle,
                metrics: bounds.map(|b| b.metrics),
            };
            tunnel::spawn(client_upgrade, upstream_upgrade, cancel, permit, idle);
            return Ok(Response::from_parts(parts, Body::empty()));
        }
    }

    let (mut parts, body) = response.into_parts();
    prepare_response(&mut parts.headers, false);
    parts.extensions = http::Extensions::new();
    let body = CancellableBody::new(body, cancel, Some(permit)).watch_stalls(stream_idle, bounds);
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// Sends `req`, and once more on another connection when a server's close of an idle
/// kept-alive connection cut it before any answer and it can be `replay`ed.
async fn send(
    http: &HttpClient,
    req: Request<Body>,
    replay: Option<Replay>,
) -> Result<Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
    match (http.request(req).await, replay) {
        (Err(e), Some(replay)) if closed_before_answer(&e) => {
            tracing::debug!(error = %error_chain(&e), "the upstream closed the connection before an answer; sending once more");
            http.request(replay.into_request()).await
        }
        (sent, _) => sent,
    }
}

/// A copy of a request that may be sent again: a safe method (RFC 9110 §9.2.1:
/// GET, HEAD, OPTIONS, TRACE) without a body. Others (a POST, or any body already
/// streamed) are never sent twice.
struct Replay {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Replay {
    fn of(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Self> {
        let safe = matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        safe.then(|| Replay {
            method: method.clone(),
            uri: uri.clone(),
            headers: headers.clone(),
        })
    }

    fn into_request(self) -> Request<Body> {
        let mut req = Request::new(Body::empty());
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = self.headers;
        req
    }
}

/// What the caller needs kept alive exactly as long as the exchange (its body or its
/// websocket tunnel) lasts: its registration as a live stream.
pub type Keep = crate::revoke::StreamGuard;

/// What an exchange holds until it ends: the route's concurrency permit and the
/// caller's [`Keep`].
pub(crate) struct Held {
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    _keep: Option<Keep>,
}

/// Upstream base path + `forward_path` without `strip_prefix` + the query of
/// `client_uri` (the request's target, whose query is kept verbatim).
fn upstream_uri(
    client: &UpstreamClient,
    forward_path: &str,
    client_uri: &Uri,
) -> Result<Uri, ProxyError> {
    let path = match client.strip_prefix.as_deref() {
        Some(prefix) => strip_segment_prefix(forward_path, prefix),
        None => forward_path,
    };
    let query = client_uri.query();
    let unchanged = client.base_path.is_empty() && path == client_uri.path();
    let path_and_query: PathAndQuery = match client_uri.path_and_query() {
        // The target as received is already what the upstream gets (a path in normal
        // form, no base path): shared, not written again.
        Some(pq) if unchanged => pq.clone(),
        _ => joined_path_and_query(&client.base_path, path, query)?,
    };
    Uri::builder()
        .scheme(client.scheme.clone())
        .authority(client.authority.clone())
        .path_and_query(path_and_query)
        .build()
        .map_err(ProxyError::UpstreamUri)
}

/// `base_path` + `path` + `?query`.
fn joined_path_and_query(
    base_path: &str,
    path: &str,
    query: Option<&str>,
) -> Result<PathAndQuery, ProxyError> {
    let mut text =
        String::with_capacity(base_path.len() + path.len() + query.map_or(0, str::len) + 1);
    text.push_str(base_path);
    text.push_str(path);
    if let Some(query) = query {
        text.push('?');
        text.push_str(query);
    }
    PathAndQuery::try_from(text).map_err(|e| ProxyError::UpstreamUri(e.into()))
}

/// `path` without `prefix` when the prefix ends at a segment boundary (`/fin` strips
/// `/fin` and `/fin/x`, not `/finance`); what remains always starts with `/`.
fn strip_segment_prefix<'a>(path: &'a str, prefix: &str) -> &'a str {
    match path.strip_prefix(prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

/// The upstream's authority as Host (hyper fills it in from the URI when absent), or
/// with `preserve_host` the client's Host (its `:authority` for HTTP/2 clients).
fn set_host(headers: &mut HeaderMap, settings: &RouteSettings, client_uri: &Uri) {
    if !settings.preserve_host {
        headers.remove(HOST);
        return;
    }
    if !headers.contains_key(HOST) {
        if let Some(value) = client_uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            headers.insert(HOST, value);
        }
    }
}

/// Sets the route's injected headers (sensitive; an injected `authorization` replaces
/// the client's).
fn inject(headers: &mut HeaderMap, settings: &RouteSettings) {
    for (name, value) in &settings.inject {
        if name == AUTHORIZATION {
            headers.remove(AUTHORIZATION);
        }
        let mut value = value.clone();
        value.set_sensitive(true);
        headers.insert(name.clone(), value);
    }
}

/// Waits up to `timeout` for a concurrency permit (none needed when unbounded).
async fn acquire(
    client: &UpstreamClient,
    timeout: Duration,
    cancel: &StreamCancel,
) -> Result<Option<OwnedSemaphorePermit>, ProxyError> {
    let Some(limit) = &client.limit else {
        return Ok(None);
    };
    tokio::select! {
        waited = tokio::time::timeout(timeout, limit.clone().acquire_owned()) => match waited {
            Ok(Ok(permit)) => Ok(Some(permit)),
            // The semaphore is never closed; treat it as overload if it ever is.
            Ok(Err(_)) | Err(_) => Err(ProxyError::Overloaded),
        },
        () = cancel.cancelled() => Err(ProxyError::Cancelled),
    }
}

/// A request body the client stopped sending (the client's fault), connect errors
/// (with timeouts and the upstream connection cap apart), and other failures on an open connection.
fn classify(error: hyper_util::client::legacy::Error) -> ProxyError {
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<StreamIdle>() {
            return ProxyError::RequestBodyStalled;
        }
        source = cause.source();
    }
    if !error.is_connect() {
        return ProxyError::Upstream(error);
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<ConnectionCapReached>() {
            return ProxyError::UpstreamConnectionCap(error);
        }
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return ProxyError::UpstreamConnectTimeout(error);
        }
        source = cause.source();
    }
    ProxyError::UpstreamConnect(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_strip_only_at_segment_boundaries() {
        assert_eq!(strip_segment_prefix("/finance/a/b", "/finance"), "/a/b");
        assert_eq!(strip_segment_prefix("/finance/", "/finance"), "/");
        assert_eq!(strip_segment_prefix("/finance", "/finance"), "/");
        assert_eq!(
            strip_segment_prefix("/financex/a", "/finance"),
            "/financex/a"
        );
        assert_eq!(strip_segment_prefix("/other", "/finance"), "/other");
    }
}
