//! The one outbound HTTP client: scimgate's own requests to other services (the
//! identity provider's discovery, JWKS, token and userinfo endpoints; the audit log's
//! HTTP sink; `scimgate doctor`'s calls to a running instance). Proxied requests have
//! their own clients, one per route.
//!
//! hyper-util's pooled client over hyper-rustls (aws-lc-rs, Mozilla's roots; `http` and
//! `https`; HTTP/1.1 and HTTP/2 by ALPN). Every exchange, body included, must finish in
//! [`TIMEOUT`] and a body may not exceed [`MAX_BODY`]. Redirects are never followed (a
//! followed redirect would let a hostile response steer us at internal addresses).
//! A request that a server's close of an idle kept-alive connection cut before any
//! answer is sent once more, on another connection ([`closed_before_answer`]).
//!
//! A leaf: it uses no other module of scimgate.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::de::DeserializeOwned;

/// Time allowed for one exchange, from connecting to the end of the body.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// Sent on every outbound request (some providers refuse requests without one).
const USER_AGENT: &str = concat!("scimgate/", env!("CARGO_PKG_VERSION"));

/// An error and its causes on one line (`a: b: c`), each cause once, for logs that
/// must read as sentences rather than debug structs.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}

/// Why an outbound request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot set up TLS for outbound requests")]
    Tls(#[source] rustls::Error),
    #[error("{0:?} is not a valid http(s) URL")]
    BadUrl(String),
    #[error("cannot build the request")]
    Request(#[source] http::Error),
    #[error("the request failed")]
    Send(#[source] hyper_util::client::legacy::Error),
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    #[error("the response body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading the response body failed")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the server answered {0}")]
    Status(StatusCode),
    #[error("the response is not the JSON expected")]
    Json(#[source] serde_json::Error),
}

/// A cheap-to-clone handle on a pooled HTTP(S) client.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_body: usize,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish()
    }
}

impl HttpClient {
    /// A client with the default limits.
    pub fn new() -> Result<Self, HttpError> {
        Self::with_limits(TIMEOUT, MAX_BODY)
    }

    /// A client with other limits (tests use short timeouts).
    pub fn with_limits(timeout: Duration, max_body: usize) -> Result<Self, HttpError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(HttpError::Tls)?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            client,
            timeout,
            max_body,
        })
    }

    /// Sends a request and reads the whole (capped) response, whatever its status.
    pub async fn send(&self, req: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        let (mut parts, body) = req.into_parts();
        parts
            .headers
            .entry(header::USER_AGENT)
            .or_insert(HeaderValue::from_static(USER_AGENT));
        let body = Bytes::from(body);
        let exchange = async {
            let resp = match self.client.request(copy(&parts, &body)).await {
                // The server closed a kept-alive connection as the request went out:
                // once more, on another connection.
                Err(e) if closed_before_answer(&e) => {
                    tracing::debug!(uri = %parts.uri, error = %error_chain(&e), "the connection closed before an answer; sending once more");
                    self.client.request(copy(&parts, &body)).await
                }
                sent => sent,
            }
            .map_err(HttpError::Send)?;
            let (parts, body) = resp.into_parts();
            let bytes = Limited::new(body, self.max_body)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpError::TooLarge(self.max_body)
                    } else {
                        HttpError::Body(e)
                    }
                })?
                .to_bytes();
            Ok(Response::from_parts(parts, bytes.to_vec()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout(self.timeout))?
    }

    /// GETs `url` and parses a 2xx JSON answer.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, HttpError> {
        let uri = parse_url(url)?;
        let req = Request::get(uri)
            .header(header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(HttpError::Request)?;
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            return Err(HttpError::Status(resp.status()));
        }
        serde_json::from_slice(resp.body()).map_err(HttpError::Json)
    }
}

/// A request of `parts` and `body` (both kept for a second attempt).
fn copy(parts: &http::request::Parts, body: &Bytes) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(body.clone()));
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers.clone();
    req
}

/// Whether an exchange failed because the connection closed (or was reset) after it
/// was open and before any of the answer arrived: what a server that closes an idle
/// kept-alive connection does to a request that crossed its close. Nothing was
/// answered, so sending again on another connection is what browsers and other
/// clients do; a refused connection, a timeout or a partial answer are not this.
pub fn closed_before_answer(error: &hyper_util::client::legacy::Error) -> bool {
    if error.is_connect() {
        return false;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(e) = cause.downcast_ref::<hyper::Error>() {
            if e.is_incomplete_message() {
                return true;
            }
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            );
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
pub(crate) mod testing;

fn parse_url(url: &str) -> Result<Uri, HttpError> {
    let uri: Uri = url.parse().map_err(|_| HttpError::BadUrl(url.to_owned()))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err(HttpError::BadUrl(url.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use axum::routing::get;

    use super::*;

    /// A loopback server: `/ok` JSON, `/big` a 4 KiB body, `/slow` an answer after 5 s,
    /// anything else 404.
    async fn server() -> String {
        let app = axum::Router::new()
            .route("/ok", get(|| async { r#"{"a":1}"# }))
            .route(
                "/big",
                get(|| async { format!("\"{}\"", "x".repeat(4096)) }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "{}"
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn gets_json_and_enforces_status_size_and_time() {
        let base = server().await;
        let http = HttpClient::with_limits(Duration::from_millis(300), 1024).unwrap();
        let v: serde_json::Value = http.get_json(&format!("{base}/ok")).await.unwrap();
        assert_eq!(v["a"], 1);
        assert!(matches!(
            http.get_json::<serde_json::Value>(&format!("{base}/nope"))
                .await,
            Err(HttpError::Status(StatusCode::NOT_FOUND))
        ));
        assert!(matches!(
            http.get_json::<serde_json::Value>(&format!("{base}/big"))
                .await,
            Err(HttpError::TooLarge(1024))
        ));
        assert!(matches!(
            http.get_json::<serde_json::Value>(&format!("{base}/slow"))
                .await,
            Err(HttpError::Timeout(_))
        ));
        assert!(matches!(
            http.get_json::<serde_json::Value>("ftp://x/y").await,
            Err(HttpError::BadUrl(_))
        ));
    }

    #[tokio::test]
    async fn a_request_crossing_an_idle_close_is_sent_once_more() {
        let (base, connections) = testing::closing_server(1).await;
        let http = HttpClient::new().unwrap();
        let v: serde_json::Value = http.get_json(&format!("{base}/a")).await.unwrap();
        assert_eq!(v, serde_json::json!({}));
        // The kept-alive connection is reused, closed under the request; the body
        // goes again on a new one.
        let post = Request::post(format!("{base}/token"))
            .body(br#"{"code":"c"}"#.to_vec())
            .unwrap();
        let answer = http.send(post).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.body(), br#"{"code":"c"}"#);
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_server_that_never_answers_gets_two_tries_and_an_error() {
        let (base, connections) = testing::closing_server(0).await;
        let http = HttpClient::new().unwrap();
        let failed = http
            .get_json::<serde_json::Value>(&format!("{base}/a"))
            .await;
        assert!(matches!(failed, Err(HttpError::Send(_))), "{failed:?}");
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_error_chain_names_each_cause_once() {
        let inner = std::io::Error::other("connection refused");
        let outer = HttpError::Body(Box::new(inner));
        assert_eq!(
            error_chain(&outer),
            "reading the response body failed: connection refused"
        );
    }
}
