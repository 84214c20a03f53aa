//! Listeners, TLS, the HTTP stack and graceful shutdown.
//!
//! One accept loop serves plain TCP or TLS (rustls, TLS 1.2+, HTTP/2 by ALPN, the
//! certificate reloaded when its files change) through hyper's auto (HTTP/1.1 + HTTP/2)
//! connection builder. Each request goes to [`dispatch`]: scimgate's own paths (SCIM,
//! login, forward-auth, health) to the control application, everything else to the gate.
//! Every connection is bounded by the `server:` section ([`limits`]): a cap on open
//! connections ([`accept`]) behind an accept queue sized by `listen_backlog`
//! ([`listen`]), protocol detection, header, idle, keep-alive and TLS
//! handshake timeouts, and a stalled response closing its connection ([`conn`]).
//! Policies and the certificate reload on file change (unless `reload.watch: false`)
//! and on SIGHUP; each reload is counted in the metrics. On SIGINT or SIGTERM the listener
//! closes, open connections drain for up to ten seconds, the directory writer
//! finishes the changes it has queued, and the audit queue is written and shipped.

mod accept;
mod conn;
pub mod data_lock;
mod dispatch;
pub mod limits;
mod listen;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::admin::AdminState;
use crate::authn::jwt::JwtVerifier;
use crate::authn::oidc::OidcLogin;
use crate::authn::routes::AuthnState;
use crate::authn::session::Sessions;
use crate::clock;
use crate::config::server::ServerLimits;
use crate::config::{Config, LogFormat};
use crate::directory::writer::{Writer, WriterSettings};
use crate::directory::{CatchUpSignal, Directory};
use crate::gate::hook::RevocationHook;
use crate::gate::Gate;
use crate::metrics::connections::ConnectionMetrics;
use crate::metrics::Metrics;
use crate::ops::{self, Readiness};
use crate::outbound::HttpClient;
use crate::policy::reload::PolicyHandle;
use crate::proxy::assertion::AssertionSigner;
use crate::replica::follow::FollowSettings;
use crate::revoke::Registry;
use crate::scim::{self, ScimState};
use crate::store::{PgStore, SqliteStore, Store};
pub use dispatch::Dispatch;
pub use tls::ReloadingCert;

/// Sets up logging as the configuration says (`RUST_LOG` wins when set). Text logs are
/// coloured only when stderr is a terminal (never in a file or a pipe).
pub fn init_tracing(config: &Config) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// A running server (see [`spawn`]).
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The directory it serves.
    pub directory: Arc<Directory>,
    /// The gate (policies, sessions, live streams).
    pub gate: Arc<Gate>,
    /// The operations listener's address (`/metrics`, `/healthz`, `/readyz`), unless
    /// `ops.listen` is `off`.
    pub ops_addr: Option<SocketAddr>,
    /// Readiness conditions (`/readyz`); other parts may add theirs.
    pub readiness: Readiness,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    ops_stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, drains open connections and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.ops_stop.cancel();
        let _ = (&mut self.task).await;
    }
}

/// What [`build`] puts together.
struct Built {
    dispatch: Arc<Dispatch>,
    dir: Arc<Directory>,
    gate: Arc<Gate>,
    tls: Option<Arc<ReloadingCert>>,
    readiness: Readiness,
    /// File watchers (policies, certificate); they stop when dropped.
    watchers: Vec<Box<dyn std::any::Any + Send>>,
    /// The audit worker and sinks, flushed after the listener drains.
    audit: crate::audit::AuditService,
}

/// Opens the store, loads the directory and policies, and builds the application.
async fn build(config: &Config) -> anyhow::Result<Built> {
    let started = std::time::Instant::now();
    let tls = config.tls.as_ref().map(ReloadingCert::load).transpose()?;
    let policy = PolicyHandle::load(config.policies_dir.clone())
        .with_context(|| format!("loading policies from {}", config.policies_dir.display()))?;
    let store = open_store(config).await?;
    let loader = store.clone();
    let snapshot = tokio::task::spawn_blocking(move || loader.load()).await??;
    let dir = Arc::new(Directory::from_snapshot(snapshot));
    tracing::info!(
        users = dir.user_count(),
        groups = dir.group_count(),
        seq = dir.seq(),
        routes = policy.current().routes().len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "directory and policies loaded"
    );
    let clock = clock::system();
    let (session_store, session_cfg, session_clock) =
        (store.clone(), config.sessions.clone(), clock.clone());
    let sessions = Arc::new(
        tokio::task::spawn_blocking(move || {
            Sessions::load(session_store, session_cfg, session_clock)
        })
        .await??,
    );
    let http = HttpClient::new()?;
    let jwt = config
        .jwt
        .clone()
        .map(|cfg| Arc::new(JwtVerifier::new(cfg, http.clone())));
    let oidc = config
        .oidc
        .clone()
        .map(|cfg| OidcLogin::new(cfg, http.clone()))
        .transpose()?
        .map(|login| Arc::new(login.with_identity(&config.identity)));
    // Expired sessions leave memory and the store every ten minutes.
    let _purger = sessions.spawn_purger(
        Duration::from_secs(600),
        tokio_util::sync::CancellationToken::new(),
    );
    let signer = Arc::new(AssertionSigner::load_or_create(
        &config.assertion.key_file,
        config.assertion.issuer.clone(),
    )?);
    let registry = Registry::new();
    // On a blocking thread: a sink's first start reads the chain's head from the store.
    let (audit, audit_service) = {
        let (store, audit_config, data_dir, clock) = (
            store.clone(),
            config.audit.clone(),
            config.data_dir.clone(),
            clock.clone(),
        );
        tokio::task::spawn_blocking(move || {
            crate::audit::start(store, &audit_config, &data_dir, clock)
        })
        .await?
        .context("starting the audit sinks")?
    };
    let metrics = Arc::new(Metrics::new());
    observe_reloads(
        &policy,
        tls.as_ref(),
        crate::audit::policy_observer(audit.clone()),
        &metrics,
    );
    // Groups the policies name that nobody is in: logged now and on each reload.
    policy.set_directory(dir.clone());
    metrics.sources.set_directory(dir.clone());
    metrics.sources.set_audit(Arc::new(audit.clone()));
    metrics
        .routes
        .prepare(policy.current().routes().iter().map(|r| r.name.clone()));
    if let Some(w) = crate::admin::shared_origin::warning(
        &config.admin,
        config.public_url.as_deref(),
        &policy.current(),
    ) {
        tracing::warn!("{w}");
    }
    if oidc.is_none() {
        tracing::warn!(
            "browser sign-in is off: no oidc section is configured (set {}); only bearer tokens are accepted",
            crate::authn::routes::OIDC_KEYS
        );
    }
    let readiness = readiness_checks(&policy, &store, &dir);
    // The identity provider is reported, not required: see crate::ops::readiness.
    if let Some(login) = &oidc {
        login.discover_in_background();
        let login = login.clone();
        readiness.add_advisory("oidc", move || login.unreachable().map_or(Ok(()), Err));
    }
    let gate = Arc::new(Gate {
        dir: dir.clone(),
        policy: policy.clone(),
        sessions: sessions.clone(),
        jwt,
        login_enabled: oidc.is_some(),
        identity: config.identity.clone(),
        signer,
        registry,
        trusted_proxies: config.trusted_proxies.clone(),
        identity_headers: config.identity_headers.clone(),
        tls: config.tls.is_some(),
        audit,
        clients: Default::default(),
        identities: Default::default(),
        metrics: metrics.clone(),
    });
    let follow = match &config.store.postgres {
        Some(pg) => {
            dir.freshness().set_bound(pg.max_stale);
            let signal = Arc::new(CatchUpSignal::default());
            let settings = FollowSettings {
                url: pg.url.clone(),
                tls: pg.tls.clone(),
                timeout: pg.timeout,
                poll: (pg.max_stale / 4).clamp(Duration::from_millis(100), Duration::from_secs(2)),
            };
            let _follower = crate::replica::follow::spawn(
                settings,
                signal.clone(),
                dir.clone(),
                sessions.clone(),
                tokio_util::sync::CancellationToken::new(),
            )?;
            Some(signal)
        }
        None => None,
    };
    let (writer, _writer_task) = Writer::start(
        dir.clone(),
        store.clone(),
        clock.clone(),
        WriterSettings {
            allow_manual_updates: config.scim.allow_manual_updates,
            hook: Some(Arc::new(RevocationHook(gate.clone()))),
            follow,
        },
    );
    let admin = AdminState::new(
        gate.clone(),
        store.clone(),
        clock.clone(),
        config.admin.clone(),
        config.public_url.clone(),
    )
    .with_oidc(oidc.clone());
    let state = ScimState::new(
        dir.clone(),
        writer,
        store,
        clock,
        config.scim.clone(),
        config.tls.is_some(),
        metrics.clone(),
    );
    let authn = AuthnState {
        oidc,
        sessions,
        directory: dir.clone(),
        identity: config.identity.clone(),
        public_url: config.public_url.clone(),
        admin_origin: config.admin.origin.clone(),
        tls: config.tls.is_some(),
    };
    let control = app(state, authn, gate.clone(), readiness.clone(), admin);
    let mut watchers: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    if config.watch_files {
        match policy.watch() {
            Ok(w) => watchers.push(Box::new(w)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the policy directory; reload with SIGHUP")
            }
        }
    } else {
        tracing::info!("file watching is off (reload.watch: false): SIGHUP reloads the policies and the certificate");
    }
    // After a policy reload, live streams are judged again under the new rules.
    let mut generations = policy.subscribe();
    let g = gate.clone();
    tokio::spawn(async move {
        while generations.changed().await.is_ok() {
            let routes = g.policy.current();
            g.metrics
                .routes
                .prepare(routes.routes().iter().map(|r| r.name.clone()));
            let cut = g.recheck_streams();
            if cut > 0 {
                tracing::info!(streams = cut, "live streams cut after a policy reload");
            }
        }
    });
    if let Some(cert) = tls.as_ref().filter(|_| config.watch_files) {
        match cert.watch() {
            Ok(w) => watchers.push(Box::new(w)),
            Err(e) => tracing::warn!(error = %e, "cannot watch the TLS files; reload with SIGHUP"),
        }
    }
    Ok(Built {
        dispatch: Arc::new(Dispatch::new(control, gate.clone())),
        dir,
        gate,
        tls,
        readiness,
        watchers,
        audit: audit_service,
    })
}

/// Counts every policy and certificate reload in the metrics; the policies' reloads
/// also go to `audit` (the audit log's observer).
fn observe_reloads(
    policy: &PolicyHandle,
    tls: Option<&Arc<ReloadingCert>>,
    audit: crate::policy::reload::ReloadObserver,
    metrics: &Arc<Metrics>,
) {
    use crate::metrics::Reloaded;
    use crate::policy::reload::ReloadEvent;
    let m = metrics.clone();
    policy.set_observer(Box::new(move |event| {
        m.reload(
            Reloaded::Policies,
            matches!(event, ReloadEvent::Applied { .. }),
        );
        audit(event);
    }));
    if let Some(cert) = tls {
        let m = metrics.clone();
        cert.set_observer(Box::new(move |applied| {
            m.reload(Reloaded::Certificate, applied)
        }));
    }
}

/// The readiness conditions: the policies route something, the store answers, and the
/// directory is within its freshness bound (replicas cut off from the shared store).
/// (The directory and the policies are loaded before any listener opens.)
fn readiness_checks(
    policy: &Arc<PolicyHandle>,
    store: &Arc<dyn Store>,
    dir: &Arc<Directory>,
) -> Readiness {
    let readiness = Readiness::default();
    let policy = policy.clone();
    readiness.add("policies", move || {
        if policy.current().routes().is_empty() {
            Err("no routes are configured: every request would be denied".into())
        } else {
            Ok(())
        }
    });
    let store = store.clone();
    readiness.add("store", move || {
        // Any query will do; an unknown token id is the cheapest the trait offers.
        store
            .token_by_id("-")
            .map(|_| ())
            .map_err(|e| format!("the store does not answer: {e}"))
    });
    let dir = dir.clone();
    readiness.add("directory", move || {
        let s = dir.freshness().status();
        if s.fresh {
            return Ok(());
        }
        let since = s
            .since_catch_up
            .map(|d| d.as_secs_f64())
            .unwrap_or(f64::INFINITY);
        let bound = s.bound.map(|d| d.as_secs_f64()).unwrap_or(0.0);
        Err(format!(
            "the directory has not caught up with the shared store for {since:.1}s (bound {bound:.1}s)"
        ))
    });
    readiness
}

/// Binds and starts the operations listener, if configured. A default address that is
/// taken is a warning (another instance on this host); a configured one is an error.
async fn start_ops(
    config: &Config,
    built: &Built,
    stop: CancellationToken,
) -> anyhow::Result<Option<SocketAddr>> {
    let Some(addr) = config.ops.listen else {
        return Ok(None);
    };
    let listener = match ops::listener::bind(addr).await {
        Ok(l) => l,
        Err(e) if !config.ops.explicit => {
            tracing::warn!(error = %format!("{e:#}"), "no operations listener (set ops.listen)");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let bound = listener.local_addr()?;
    let app = ops::listener::router(built.gate.metrics.clone(), built.readiness.clone());
    ops::listener::spawn(listener, app, stop);
    tracing::info!(addr = %bound, "operations listener (metrics, health) listening");
    Ok(Some(bound))
}

/// Opens the configured store: PostgreSQL when `store.postgres` is set (shared by
/// replicas), else SQLite in the data directory.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(pg) = config.store.postgres.clone() {
        let store = tokio::task::spawn_blocking(move || PgStore::open(&pg))
            .await?
            .context("opening the PostgreSQL store (store.postgres.url)")?;
        return Ok(Arc::new(store));
    }
    let path = config.sqlite_path();
    let tuning = config.store.sqlite;
    let store = tokio::task::spawn_blocking(move || SqliteStore::open_with(&path, &tuning))
        .await?
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    Ok(Arc::new(store))
}

/// Starts a server in the background on the current runtime (tests and benchmarks
/// bind port 0 and read [`Running::addr`]).
pub async fn spawn(config: Config) -> anyhow::Result<Running> {
    let built = build(&config).await?;
    let acceptor = built.tls.clone().map(tls::acceptor).transpose()?;
    let listener = listen::bind(config.listen, config.server.listen_backlog)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    listen::announce(config.server.listen_backlog);
    let addr = listener.local_addr()?;
    let ops_stop = CancellationToken::new();
    let ops_addr = start_ops(&config, &built, ops_stop.clone()).await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let dispatch = built.dispatch.clone();
    let watchers = built.watchers;
    let audit = built.audit;
    let limits = config.server.clone();
    let metrics = built.gate.metrics.connections.clone();
    let task = tokio::spawn(async move {
        serve(listener, acceptor, dispatch, limits, metrics, async {
            let _ = rx.await;
        })
        .await;
        drop(watchers);
        audit.shutdown().await;
    });
    Ok(Running {
        addr,
        directory: built.dir,
        gate: built.gate,
        ops_addr,
        readiness: built.readiness,
        shutdown: Some(tx),
        ops_stop,
        task,
    })
}

/// Locks the data directory ([`data_lock`]), opens the store, loads the directory and
/// serves until a shutdown signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Before the store opens: a second server on this directory would corrupt it.
    let _lock = data_lock::DataDirLock::acquire(&config.data_dir)?;
    let built = build(&config).await?;
    let acceptor = built.tls.clone().map(tls::acceptor).transpose()?;
    let listener = listen::bind(config.listen, config.server.listen_backlog)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    listen::announce(config.server.listen_backlog);
    // The handler is in place before the listener is announced: a SIGHUP sent as soon
    // as the server says it is up reloads instead of ending the process.
    spawn_sighup(built.gate.clone(), built.tls.clone());
    let ops_stop = CancellationToken::new();
    start_ops(&config, &built, ops_stop.clone()).await?;
    tracing::info!(
        addr = %listener.local_addr()?,
        tls = acceptor.is_some(),
        "scimgate listening"
    );
    serve(
        listener,
        acceptor,
        built.dispatch.clone(),
        config.server.clone(),
        built.gate.metrics.connections.clone(),
        shutdown_signal(),
    )
    .await;
    ops_stop.cancel();
    drop(built.watchers);
    built.audit.shutdown().await;
    Ok(())
}

/// SIGHUP reloads the policies and the TLS certificate. The signal is registered
/// before this returns (the default action of an unhandled SIGHUP ends the process).
fn spawn_sighup(gate: Arc<Gate>, tls: Option<Arc<ReloadingCert>>) {
    #[cfg(unix)]
    {
        let hangup = tokio::signal::unix::SignalKind::hangup();
        let mut hup = match tokio::signal::unix::signal(hangup) {
            Ok(hup) => hup,
            Err(e) => {
                tracing::warn!(error = %e, "cannot handle SIGHUP; policies reload on file change only");
                return;
            }
        };
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading policies and certificate");
                let _ = gate.policy.reload();
                if let Some(cert) = &tls {
                    cert.reload();
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (gate, tls);
}

/// scimgate's own HTTP surfaces: SCIM, the admin API, login, forward-auth, the
/// assertion key set, health, and the pages (`/me`, the admin UI, the stylesheet). Every request gets an `x-request-id` (kept if the
/// client sent one) and a tracing span that carries it.
pub fn app(
    state: ScimState,
    authn: AuthnState,
    gate: Arc<Gate>,
    readiness: Readiness,
    admin: AdminState,
) -> Router {
    let x_request_id = http::HeaderName::from_static("x-request-id");
    let jwks = gate.signer.jwks_json().to_owned();
    let own = Router::new()
        .nest(
            "/admin/v1",
            scim::admin_router_with(state.clone(), ops::decide::routes(gate.clone())),
        )
        .merge(crate::authn::routes::routes(authn))
        .merge(crate::admin::routes(admin))
        .route(
            "/auth",
            axum::routing::any(crate::gate::forward_auth::handler).with_state(gate),
        );
    Router::new()
        .nest("/scim/v2", scim::router(state))
        .route("/scim", axum::routing::any(scim::outside_v2))
        .route("/scim/{*rest}", axum::routing::any(scim::outside_v2))
        .nest("/.scimgate", own)
        .route(
            "/.well-known/scimgate/jwks.json",
            axum::routing::get(move || {
                let jwks = jwks.clone();
                async move {
                    (
                        [
                            (http::header::CONTENT_TYPE, "application/jwk-set+json"),
                            (http::header::CACHE_CONTROL, "public, max-age=300"),
                        ],
                        jwks,
                    )
                }
            }),
        )
        .merge(ops::listener::health_routes(readiness))
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

/// Serves on `listener` until `shutdown` resolves, then drains: the connection cap,
/// the accept loop and every connection bound of `limits` ([`accept`], [`conn`]).
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    dispatch: Arc<Dispatch>,
    limits: ServerLimits,
    metrics: Arc<ConnectionMetrics>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let shared = Arc::new(conn::Shared::new(limits, dispatch, tls, metrics));
    accept::accept_loop(listener, shared, shutdown).await;
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
