//! Upstream clients: one pooled hyper client per route, built from its settings.
//!
//! TLS is rustls with the aws-lc-rs provider, trusting the webpki roots plus the route's
//! `upstream_ca_file`; `https://` upstreams negotiate h2 or HTTP/1.1 by ALPN, and
//! `upstream_h2c` speaks HTTP/2 by prior knowledge to an `http://` upstream. With
//! `keep_alive: false` no idle connection is kept (`dbt docs serve` is single-threaded:
//! one idle connection blocks it). `max_concurrency` is a semaphore whose permit lives
//! as long as the response body.
//!
//! Request bodies are [`axum::body::Body`]: `forward` wraps whatever body it is handed
//! (hyper's `Incoming` included) without buffering. Websocket upgrades go over a second,
//! HTTP/1.1-only client, since an upgrade cannot ride an h2 connection.
//!
//! Both clients of every route connect through the process's one upstream connection
//! cap and keep at most `server.upstream_idle_per_host` idle connections per host
//! ([`UpstreamLimits`], `proxy::connection_cap`).

use std::sync::Arc;

use axum::body::Body;
use http::uri::{Authority, Scheme};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::sync::Semaphore;

use super::connection_cap::{CappedConnector, UpstreamLimits};
use super::error::ProxyError;
use crate::path::normalise;
use crate::policy::RouteSettings;

/// The hyper client type every route uses.
pub type HttpClient = Client<CappedConnector<HttpsConnector<HttpConnector>>, Body>;

/// A route's connection to its upstream.
#[derive(Clone)]
pub struct UpstreamClient {
    pub(crate) http: HttpClient,
    /// HTTP/1.1 only, for websocket upgrades.
    pub(crate) upgrade_http: HttpClient,
    pub(crate) limit: Option<Arc<Semaphore>>,
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    /// The upstream's base path without a trailing slash (empty for `/`).
    pub(crate) base_path: String,
    /// `strip_prefix` in the forwarded form, without a trailing slash.
    pub(crate) strip_prefix: Option<String>,
    /// Send `Connection: close` (no keep-alive, HTTP/1.1).
    pub(crate) close_connections: bool,
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamClient")
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("base_path", &self.base_path)
            .finish_non_exhaustive()
    }
}

impl UpstreamClient {
    /// Builds the client for a route under the process's `limits`; errors are
    /// configuration errors.
    pub fn new(settings: &RouteSettings, limits: &UpstreamLimits) -> Result<Self, ProxyError> {
        let uri = &settings.upstream;
        let scheme = uri
            .scheme()
            .filter(|s| *s == &Scheme::HTTP || *s == &Scheme::HTTPS)
            .cloned()
            .ok_or(ProxyError::BadUpstreamUri {
                reason: "scheme must be http or https",
            })?;
        let authority = uri
            .authority()
            .cloned()
            .ok_or(ProxyError::BadUpstreamUri { reason: "no host" })?;
        if uri.query().is_some() {
            return Err(ProxyError::BadUpstreamUri {
                reason: "an upstream URI cannot have a query",
            });
        }
        if settings.upstream_h2c && scheme == Scheme::HTTPS {
            return Err(ProxyError::BadUpstreamUri {
                reason: "upstream_h2c needs an http:// upstream (https negotiates h2 by ALPN)",
            });
        }
        let base_path = forward_form(uri.path())?;
        let strip_prefix = settings
            .strip_prefix
            .as_deref()
            .map(forward_form)
            .transpose()?
            .filter(|p| !p.is_empty());

        let tls = tls_config(settings)?;
        let http = build_client(settings, limits, tls.clone(), true);
        let upgrade_http = build_client(settings, limits, tls, false);
        Ok(Self {
            http,
            upgrade_http,
            limit: settings
                .max_concurrency
                .map(|n| Arc::new(Semaphore::new(n.max(1)))),
            scheme,
            authority,
            base_path,
            strip_prefix,
            close_connections: !settings.keep_alive && !settings.upstream_h2c,
        })
    }

    /// Permits still free (`None` when unbounded).
    pub fn available_permits(&self) -> Option<usize> {
        self.limit.as_ref().map(|s| s.available_permits())
    }
}

/// A configured path in the form forwarded paths take, without a trailing slash.
fn forward_form(path: &str) -> Result<String, ProxyError> {
    let path = if path.is_empty() { "/" } else { path };
    let normal = normalise(path).map_err(|_| ProxyError::BadUpstreamUri {
        reason: "path cannot be normalised",
    })?;
    Ok(normal.forward.trim_end_matches('/').to_owned())
}

fn tls_config(settings: &RouteSettings) -> Result<rustls::ClientConfig, ProxyError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &settings.upstream_ca_file {
        let ca_error = |source| ProxyError::CaFile {
            path: path.clone(),
            source,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(ca_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(ca_error)?;
        if certs.is_empty() {
            return Err(ca_error(rustls_pki_types::pem::Error::NoItemsFound));
        }
        for cert in certs {
            roots.add(cert).map_err(ProxyError::Tls)?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ProxyError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// `allow_h2`: offer h2 by ALPN (and use h2c when configured); false for upgrades.
fn build_client(
    settings: &RouteSettings,
    limits: &UpstreamLimits,
    tls: rustls::ClientConfig,
    allow_h2: bool,
) -> HttpClient {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(settings.connect_timeout));
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let connector = if allow_h2 {
        builder.enable_http1().enable_http2().wrap_connector(tcp)
    } else {
        builder.enable_http1().wrap_connector(tcp)
    };
    let connector = CappedConnector::new(connector, limits.cap.clone(), settings.connect_timeout);
    let mut client = Client::builder(TokioExecutor::new());
    client
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new());
    client.pool_max_idle_per_host(if settings.keep_alive {
        limits.idle_per_host
    } else {
        0
    });
    if allow_h2 && settings.upstream_h2c {
        client.http2_only(true);
    }
    client.build(connector)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::upstream_connections::UpstreamConnectionMetrics;

    fn limits() -> UpstreamLimits {
        UpstreamLimits::new(16, 4, Arc::new(UpstreamConnectionMetrics::default()))
    }

    fn settings(upstream: &str) -> RouteSettings {
        RouteSettings {
            upstream: upstream.parse().unwrap(),
            strip_prefix: None,
            inject: Vec::new(),
            keep_alive: true,
            max_concurrency: None,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(5),
            stream_idle_timeout: None,
            websocket_idle_timeout: None,
            compress: false,
            preserve_host: false,
            allow_ambiguous_paths: false,
            upstream_h2c: false,
            upstream_ca_file: None,
            forward_bearer_token: false,
        }
    }

    fn reason(error: ProxyError) -> &'static str {
        match error {
            ProxyError::BadUpstreamUri { reason } => reason,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn upstream_uris_are_checked() {
        assert!(UpstreamClient::new(&settings("http://127.0.0.1:8080"), &limits()).is_ok());
        assert!(UpstreamClient::new(&settings("https://cloud.getdbt.com/api"), &limits()).is_ok());
        assert!(
            reason(UpstreamClient::new(&settings("ftp://x"), &limits()).unwrap_err())
                .contains("scheme")
        );
        assert!(
            reason(UpstreamClient::new(&settings("/relative"), &limits()).unwrap_err())
                .contains("scheme")
        );
        assert!(
            reason(UpstreamClient::new(&settings("http://x/?a=1"), &limits()).unwrap_err())
                .contains("query")
        );
        let mut h2c = settings("https://x");
        h2c.upstream_h2c = true;
        assert!(reason(UpstreamClient::new(&h2c, &limits()).unwrap_err()).contains("h2c"));
    }

    #[test]
    fn base_path_and_strip_prefix_take_the_forwarded_form() {
        let mut s = settings("http://x/base/");
        s.strip_prefix = Some("/fin ance/".into());
        let client = UpstreamClient::new(&s, &limits()).unwrap();
        assert_eq!(client.base_path, "/base");
        assert_eq!(client.strip_prefix.as_deref(), Some("/fin%20ance"));
        let root = UpstreamClient::new(&settings("http://x"), &limits()).unwrap();
        assert_eq!(root.base_path, "");
        assert_eq!(root.strip_prefix, None);
    }

    #[test]
    fn ca_files_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let mut s = settings("https://x");
        s.upstream_ca_file = Some(empty);
        assert!(matches!(
            UpstreamClient::new(&s, &limits()),
            Err(ProxyError::CaFile { .. })
        ));
        s.upstream_ca_file = Some(dir.path().join("missing.pem"));
        assert!(matches!(
            UpstreamClient::new(&s, &limits()),
            Err(ProxyError::CaFile { .. })
        ));

        let cert = rcgen::generate_simple_self_signed(vec!["upstream.test".into()]).unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, cert.cert.pem()).unwrap();
        s.upstream_ca_file = Some(good);
        assert!(UpstreamClient::new(&s, &limits()).is_ok());
    }

    #[test]
    fn concurrency_limits_become_semaphores() {
        let mut s = settings("http://x");
        assert_eq!(
            UpstreamClient::new(&s, &limits())
                .unwrap()
                .available_permits(),
            None
        );
        s.max_concurrency = Some(3);
        assert_eq!(
            UpstreamClient::new(&s, &limits())
                .unwrap()
                .available_permits(),
            Some(3)
        );
    }
}
