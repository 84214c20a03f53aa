//! Forwarding errors and the one place they become HTTP responses.
//!
//! The client sees a status and a short fixed message; the cause (upstream addresses,
//! TLS details, file paths) stays in the error, which rides along as a response
//! extension ([`ProxyErrorCause`]) for the logging layer.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use http::{header, HeaderValue, Response, StatusCode};

use crate::path::{Ambiguity, PathError};

/// Everything that can go wrong between accepting a request and answering it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The path could not be normalised.
    #[error("bad request path")]
    Path(#[from] PathError),
    /// The path is ambiguous and the route does not allow that.
    #[error("ambiguous request path: {0}")]
    AmbiguousPath(Ambiguity),
    /// No connection to the upstream could be made.
    #[error("cannot connect to the upstream")]
    UpstreamConnect(#[source] hyper_util::client::legacy::Error),
    /// Connecting to the upstream took longer than `connect_timeout`.
    #[error("connecting to the upstream timed out")]
    UpstreamConnectTimeout(#[source] hyper_util::client::legacy::Error),
    /// The exchange with the upstream failed after connecting.
    #[error("upstream request failed")]
    Upstream(#[source] hyper_util::client::legacy::Error),
    /// The upstream answered 101 to something other than the websocket the client asked
    /// for (or to a request that asked for no upgrade).
    #[error("the upstream switched to a protocol that was not asked for")]
    UnexpectedSwitch,
    /// No response head within `response_timeout`.
    #[error("the upstream did not answer in time")]
    ResponseTimeout,
    /// The client stopped sending the request body it announced for the route's
    /// `stream_idle` while the upstream waited for it (the client's fault: 408, and
    /// the connection is closed since the rest of the body will not be read).
    #[error("the client stopped sending the request body")]
    RequestBodyStalled,
    /// No concurrency permit within `response_timeout` (`max_concurrency` reached).
    #[error("too many requests in flight to the upstream")]
    Overloaded,
    /// The request was cancelled (revocation or shutdown) before the upstream answered.
    #[error("request cancelled")]
    Cancelled,
    /// The route's upstream URI cannot be used (configuration).
    #[error("bad upstream URI: {reason}")]
    BadUpstreamUri { reason: &'static str },
    /// The upstream URI built for a request is invalid.
    #[error("cannot build the upstream URI")]
    UpstreamUri(#[source] http::Error),
    /// The route's CA file cannot be read or holds no certificate.
    #[error("{}: cannot load upstream CA certificates", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A CA certificate was rejected, or rustls refused the configuration.
    #[error("upstream TLS configuration")]
    Tls(#[source] rustls::Error),
    /// The assertion key file cannot be read or written.
    #[error("{}: assertion key file", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The assertion key file does not hold a P-256 PKCS#8 key.
    #[error("{}: not an ES256 (P-256 PKCS#8 PEM) private key", path.display())]
    KeyInvalid { path: PathBuf },
    /// Key generation or signing failed in the crypto library.
    #[error("assertion signing failed")]
    Signing,
}

/// The error behind an error response, for the logging layer.
#[derive(Debug, Clone)]
pub struct ProxyErrorCause(pub Arc<ProxyError>);

impl ProxyError {
    /// The HTTP status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Path(_) | Self::AmbiguousPath(_) => StatusCode::BAD_REQUEST,
            Self::RequestBodyStalled => StatusCode::REQUEST_TIMEOUT,
            Self::UpstreamConnect(_) | Self::Upstream(_) | Self::UnexpectedSwitch => {
                StatusCode::BAD_GATEWAY
            }
            Self::UpstreamConnectTimeout(_) | Self::ResponseTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Overloaded | Self::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadUpstreamUri { .. }
            | Self::UpstreamUri(_)
            | Self::CaFile { .. }
            | Self::Tls(_)
            | Self::KeyFile { .. }
            | Self::KeyInvalid { .. }
            | Self::Signing => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The short text the client sees: never the cause.
    fn public_message(&self) -> &'static str {
        match self {
            Self::Path(_) => "bad request path",
            Self::AmbiguousPath(_) => "ambiguous request path",
            Self::UpstreamConnect(_) | Self::Upstream(_) => "upstream unavailable",
            Self::UnexpectedSwitch => "upstream switched protocols unexpectedly",
            Self::UpstreamConnectTimeout(_) | Self::ResponseTimeout => "upstream timed out",
            Self::RequestBodyStalled => "request body timed out",
            Self::Overloaded => "upstream busy, try again",
            Self::Cancelled => "request cancelled",
            Self::BadUpstreamUri { .. }
            | Self::UpstreamUri(_)
            | Self::CaFile { .. }
            | Self::Tls(_)
            | Self::KeyFile { .. }
            | Self::KeyInvalid { .. }
            | Self::Signing => "proxy misconfigured",
        }
    }

    /// Whether the client connection must close after the response (HTTP/1; hyper
    /// drops the header from HTTP/2 responses, where only the stream ends).
    pub fn closes_connection(&self) -> bool {
        matches!(self, Self::RequestBodyStalled)
    }

    /// The response for the client: JSON (`{"error": .., "status": ..}`) or plain text.
    /// The error itself is attached as a [`ProxyErrorCause`] extension.
    pub fn into_response(self, wants_json: bool) -> Response<Body> {
        let status = self.status();
        let message = self.public_message();
        let (content_type, body) = if wants_json {
            let body = serde_json::json!({ "error": message, "status": status.as_u16() });
            ("application/json", body.to_string())
        } else {
            ("text/plain; charset=utf-8", format!("{message}\n"))
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.closes_connection() {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
            .extensions_mut()
            .insert(ProxyErrorCause(Arc::new(self)));
        response
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn legacy_error() -> hyper_util::client::legacy::Error {
        // A connection refused on a port nothing listens on gives a real client error.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Body>();
        client
            .get(format!("http://{addr}/secret-path").parse().unwrap())
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn every_variant_has_its_status() {
        let cases: Vec<(ProxyError, StatusCode)> = vec![
            (
                PathError::BadPercentEncoding.into(),
                StatusCode::BAD_REQUEST,
            ),
            (
                ProxyError::AmbiguousPath(Ambiguity::EncodedSlash),
                StatusCode::BAD_REQUEST,
            ),
            (
                ProxyError::UpstreamConnect(legacy_error().await),
                StatusCode::BAD_GATEWAY,
            ),
            (
                ProxyError::UpstreamConnectTimeout(legacy_error().await),
                StatusCode::GATEWAY_TIMEOUT,
            ),
            (
                ProxyError::Upstream(legacy_error().await),
                StatusCode::BAD_GATEWAY,
            ),
            (ProxyError::ResponseTimeout, StatusCode::GATEWAY_TIMEOUT),
            (ProxyError::RequestBodyStalled, StatusCode::REQUEST_TIMEOUT),
            (ProxyError::Overloaded, StatusCode::SERVICE_UNAVAILABLE),
            (ProxyError::Cancelled, StatusCode::SERVICE_UNAVAILABLE),
            (
                ProxyError::BadUpstreamUri { reason: "no host" },
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                ProxyError::UpstreamUri(http::Uri::builder().scheme("\n").build().unwrap_err()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                ProxyError::CaFile {
                    path: "/etc/ca.pem".into(),
                    source: rustls_pki_types::pem::Error::NoItemsFound,
                },
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                ProxyError::Tls(rustls::Error::General("x".into())),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                ProxyError::KeyFile {
                    path: "/k.pem".into(),
                    source: std::io::Error::other("denied"),
                },
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                ProxyError::KeyInvalid {
                    path: "/k.pem".into(),
                },
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (ProxyError::Signing, StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(), status, "{error:?}");
        }
    }

    #[tokio::test]
    async fn responses_never_echo_the_cause() {
        for wants_json in [false, true] {
            let error = ProxyError::UpstreamConnect(legacy_error().await);
            let response = error.into_response(wants_json);
            assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
            assert!(response.extensions().get::<ProxyErrorCause>().is_some());
            let content_type = response.headers()[header::CONTENT_TYPE].clone();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let text = String::from_utf8(body.to_vec()).unwrap();
            assert!(text.contains("upstream unavailable"), "{text}");
            assert!(!text.contains("127.0.0.1") && !text.contains("secret-path"));
            if wants_json {
                assert_eq!(content_type, "application/json");
                let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(json["status"], 502);
            } else {
                assert!(content_type.to_str().unwrap().starts_with("text/plain"));
            }
        }
    }
}
