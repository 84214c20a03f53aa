//! Listeners, TLS, the HTTP stack and graceful shutdown.
//!
//! One accept loop serves plain TCP or TLS (rustls, TLS 1.2+, HTTP/2 by ALPN) through
//! hyper's auto (HTTP/1.1 + HTTP/2) connection builder. The peer address is put on each
//! request as `ConnectInfo` for the SCIM IP allow-list. On SIGINT or SIGTERM the listener
//! closes, open connections drain for up to ten seconds, and the directory writer
//! finishes the changes it has queued.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::clock;
use crate::config::{Config, LogFormat, TlsConfig};
use crate::directory::writer::{Writer, WriterSettings};
use crate::directory::Directory;
use crate::scim::{self, ScimState};
use crate::store::{SqliteStore, Store};

const DRAIN: Duration = Duration::from_secs(10);
/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to complete a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Sets up logging as the configuration says (`RUST_LOG` wins when set).
pub fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Builds the TLS acceptor from PEM files.
pub fn tls_acceptor(tls: &TlsConfig) -> anyhow::Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .with_context(|| format!("{}: cannot read certificates", tls.cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: bad certificate PEM", tls.cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate found", tls.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .with_context(|| format!("{}: cannot read the private key", tls.key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// A running server (see [`spawn`]).
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The directory it serves.
    pub directory: Arc<Directory>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, drains open connections and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Opens the store, loads the directory and builds the application.
async fn build(config: &Config) -> anyhow::Result<(Router, Arc<Directory>)> {
    let started = std::time::Instant::now();
    let path = config.sqlite_path();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await?
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    let store: Arc<dyn Store> = Arc::new(store);
    let loader = store.clone();
    let snapshot = tokio::task::spawn_blocking(move || loader.load()).await??;
    let dir = Arc::new(Directory::from_snapshot(snapshot));
    tracing::info!(
        users = dir.user_count(),
        groups = dir.group_count(),
        seq = dir.seq(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "directory loaded"
    );
    let clock = clock::system();
    let (writer, _writer_task) = Writer::start(
        dir.clone(),
        store.clone(),
        clock.clone(),
        WriterSettings {
            allow_manual_updates: config.scim.allow_manual_updates,
        },
    );
    let state = ScimState::new(
        dir.clone(),
        writer,
        store,
        clock,
        config.scim.clone(),
        config.tls.is_some(),
    );
    Ok((app(state), dir))
}

/// Starts a server in the background on the current runtime (tests and benchmarks
/// bind port 0 and read [`Running::addr`]).
pub async fn spawn(config: Config) -> anyhow::Result<Running> {
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let (app, directory) = build(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, tls, app, async {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        directory,
        shutdown: Some(tx),
        task,
    })
}

/// Opens the store, loads the directory and serves until a shutdown signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let (app, _dir) = build(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        tls = tls.is_some(),
        "scimgate listening"
    );
    serve(listener, tls, app, shutdown_signal()).await;
    Ok(())
}

/// The whole HTTP application: every request gets an `x-request-id` (kept if the
/// client sent one) and a tracing span that carries it.
pub fn app(state: ScimState) -> Router {
    let x_request_id = http::HeaderName::from_static("x-request-id");
    Router::new()
        .nest("/scim/v2", scim::router(state.clone()))
        .nest("/.scimgate/admin/v1", scim::admin_router(state))
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route("/readyz", axum::routing::get(|| async { "ready\n" }))
        .layer(
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(
                    x_request_id.clone(),
                    MakeRequestUuid,
                ))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
                        let id = req
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!(
                            "request",
                            request_id = %id,
                            method = %req.method(),
                            path = %req.uri().path(),
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(x_request_id)),
        )
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                // HTTP/2 carries the host as :authority; give handlers one place to look.
                if !req.headers().contains_key(http::header::HOST) {
                    if let Some(host) = req
                        .uri()
                        .authority()
                        .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
                    {
                        req.headers_mut().insert(http::header::HOST, host);
                    }
                }
                app.clone().oneshot(req)
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // A client that never finishes its headers is cut off (slow-loris).
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let result = match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
                        .await
                        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
                    {
                        Ok(stream) => {
                            let conn =
                                builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                            watcher.watch(conn.into_owned()).await
                        }
                        Err(e) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                    }
                }
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), svc);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("connections drained"),
        () = tokio::time::sleep(DRAIN) => tracing::warn!("drain timed out; closing"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
