//! Forwarding errors: what can go wrong between an allowed request and its upstream's
//! answer, with the cause (upstream addresses, TLS details, file paths) kept for the
//! log. They become responses in the gate's one map (`gate::error`), which
//! decides each kind's status and shows the client a public message, never this
//! `Display`.

use std::path::PathBuf;

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
    /// No place under the process's upstream connection cap
    /// (`server.max_upstream_connections`) within the route's connect timeout.
    #[error("too many upstream connections open")]
    UpstreamConnectionCap(#[source] hyper_util::client::legacy::Error),
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
