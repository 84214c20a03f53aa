//! The composition root: opens the store, loads the directory and the policies, and
//! wires every component of one application together ([`build`]).
//!
//! Feature modules never wire each other: what one needs from another is handed to it
//! here (the gate's parts, the pages' and the decide endpoint's own state, the audit
//! pipeline and its reload observer, the writer's revocation hook). Every background
//! task is spawned on the [`ShutdownTree`] it is given, with a child token of its own;
//! the lifecycle ([`super::lifecycle`]) binds, serves and stops what this builds.

mod audit_log;
mod notify;
mod readiness;
mod reloads;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::shutdown::ShutdownTree;
use super::{Dispatch, ReloadingCert};
use crate::access::{Access, AccessLimits, AccessParts};
use crate::admin::{AdminState, Live};
use crate::audit::{AuditService, Auditor};
use crate::authn::jwt::JwtVerifier;
use crate::authn::oidc::OidcLogin;
use crate::authn::routes::AuthnState;
use crate::authn::session::Sessions;
use crate::clock;
use crate::config::Config;
use crate::directory::writer::{Writer, WriterSettings};
use crate::directory::CatchUpSignal;
use crate::directory::Directory;
use crate::gate::caller::Callers;
use crate::gate::hook::RevocationHook;
use crate::gate::limits::Limiter;
use crate::gate::{Gate, GateParts};
use crate::metrics::Metrics;
use crate::ops::decide::DecideState;
use crate::ops::Readiness;
use crate::outbound::HttpClient;
use crate::policy::reload::PolicyHandle;
use crate::policy::shadow::Shadow;
use crate::proxy::assertion::AssertionSigner;
use crate::replica::follow::FollowSettings;
use crate::revoke::Registry;
use crate::scim::ScimState;
use crate::store::{PgStore, SqliteStore, Store};
pub use audit_log::{policy_observer, start as start_audit};
pub use routes::{app, Surfaces};

/// How often expired sessions leave memory and the store.
const SESSION_PURGE_EVERY: Duration = Duration::from_secs(600);

/// What [`build`] puts together.
pub(super) struct Built {
    /// The listener's per-request router.
    pub dispatch: Arc<Dispatch>,
    /// The parts a running server exposes.
    pub handles: Handles,
    pub tls: Option<Arc<ReloadingCert>>,
    pub readiness: Readiness,
    /// File watchers (policies, certificate); they stop when dropped.
    pub watchers: Vec<Box<dyn std::any::Any + Send>>,
    /// The directory writer: stopped after the listener drains.
    pub writer: WriterTask,
    /// The audit worker and sinks, flushed after the writer ends.
    pub audit: AuditService,
}

/// The parts of a built application that its owner may read or drive.
pub(super) struct Handles {
    pub dir: Arc<Directory>,
    pub policy: Arc<PolicyHandle>,
    pub sessions: Arc<Sessions>,
    pub audit: Auditor,
    pub metrics: Arc<Metrics>,
    pub registry: Arc<Registry>,
    pub access: Arc<Access>,
}

/// The directory writer's task and the token that tells it to finish.
pub(super) struct WriterTask {
    pub stop: CancellationToken,
    pub task: JoinHandle<()>,
}

/// Opens the store, loads the directory and policies, and builds the application;
/// its background tasks run on `tree`.
pub(super) async fn build(config: &Config, tree: &ShutdownTree) -> anyhow::Result<Built> {
    let started = std::time::Instant::now();
    let tls = config.tls.as_ref().map(ReloadingCert::load).transpose()?;
    let policy = PolicyHandle::load(config.policies_dir.clone())
        .with_context(|| format!("loading policies from {}", config.policies_dir.display()))?;
    let shadow = load_shadow(config, &policy)?;
    let store = open_store(config).await?;
    let loader = store.clone();
    let dir = Arc::new(tokio::task::spawn_blocking(move || Directory::load(&*loader)).await??);
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
    let IdentityProvider { jwt, oidc } = identity_provider(config)?;
    tree.spawn_serving({
        let sessions = sessions.clone();
        move |stop| sessions.purge_every(SESSION_PURGE_EVERY, stop)
    });
    let signer = Arc::new(AssertionSigner::load_or_create(
        &config.assertion.key_file,
        config.assertion.issuer.clone(),
    )?);
    // Live streams still open (tunnels) are cut once the listener has drained.
    let registry = Registry::under(tree.drained_token());
    // On a blocking thread: a sink's first start reads the chain's head from the store.
    let (auditor, audit_service) = {
        let (store, audit_config, data_dir, clock, tree) = (
            store.clone(),
            config.audit.clone(),
            config.data_dir.clone(),
            clock.clone(),
            tree.clone(),
        );
        tokio::task::spawn_blocking(move || {
            audit_log::start(store, &audit_config, &data_dir, clock, &tree)
        })
        .await?
        .context("starting the audit sinks")?
    };
    let metrics = Arc::new(Metrics::new());
    reloads::observe(
        &policy,
        tls.as_ref(),
        policy_observer(auditor.clone()),
        &metrics,
    );
    // Groups the policies name that nobody is in: logged now and on each reload.
    policy.set_directory(dir.clone());
    metrics.sources.set_directory(dir.clone());
    metrics.sources.set_audit(Arc::new(auditor.clone()));
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
    let readiness = readiness::checks(&policy, &store, &dir);
    // The identity provider is reported, not required: see crate::ops::readiness.
    if let Some(login) = &oidc {
        let discovering = login.clone();
        tree.spawn_serving(move |stop| async move {
            tokio::select! {
                () = discovering.discover_now() => {}
                () = stop.cancelled() => {}
            }
        });
        let login = login.clone();
        readiness.add_advisory("oidc", move || login.unreachable().map_or(Ok(()), Err));
    }
    let access = {
        let parts = AccessParts {
            dir: dir.clone(),
            policy: policy.clone(),
            store: store.clone(),
            clock: clock.clone(),
            audit: auditor.clone(),
            metrics: metrics.clone(),
            limits: AccessLimits {
                pending_max_age: config.access_requests.pending_max_age,
                ..AccessLimits::default()
            },
        };
        tokio::task::spawn_blocking(move || Access::load(parts))
            .await?
            .context("loading the access requests")?
    };
    tree.spawn_serving({
        let access = access.clone();
        move |stop| access.run(stop)
    });
    if let Some(notifier) = notify::start(config, &metrics, &clock, tree)? {
        access.set_notifier(notifier);
    }
    let tls_on = config.tls.is_some();
    let callers = Arc::new(Callers::new(
        dir.clone(),
        sessions.clone(),
        jwt,
        config.identity.clone(),
        tls_on,
    ));
    let gate = Arc::new(Gate::new(GateParts {
        dir: dir.clone(),
        policy: policy.clone(),
        sessions: sessions.clone(),
        callers: callers.clone(),
        login_enabled: oidc.is_some(),
        signer: signer.clone(),
        registry: registry.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        identity_headers: config.identity_headers.clone(),
        tls: tls_on,
        audit: auditor.clone(),
        metrics: metrics.clone(),
        limiter: Limiter::new(config.rate_limits.max_callers, config.rate_limits.replicas),
        upstream_limits: super::limits::upstream_limits(
            &config.server,
            metrics.upstream_connections.clone(),
        ),
        shadow: shadow.clone(),
        access: access.clone(),
    }));
    let revocation = Arc::new(RevocationHook(gate.clone()));
    access.set_fanout(revocation.clone());
    let follow = follow_shared_store(config, &dir, &sessions, &access, tree)?;
    let writer_stop = tree.writing_token();
    let (writer, writing) = Writer::start(
        dir.clone(),
        store.clone(),
        clock.clone(),
        WriterSettings {
            allow_manual_updates: config.scim.allow_manual_updates,
            hook: Some(revocation),
            follow,
        },
        writer_stop.clone(),
    );
    let writer_task = tree.tracker().spawn(writing);
    let scim = ScimState::new(
        dir.clone(),
        writer,
        store.clone(),
        clock.clone(),
        config.scim.clone(),
        tls_on,
        metrics.clone(),
    );
    let access_api = crate::admin::access_api::AccessApi {
        access: access.clone(),
        callers: callers.clone(),
        dir: dir.clone(),
        scim: scim.clone(),
    };
    let admin = AdminState::new(
        Live {
            dir: dir.clone(),
            policy: policy.clone(),
            sessions: sessions.clone(),
            callers,
            login_enabled: oidc.is_some(),
            tls: tls_on,
            shadow: shadow.clone(),
            access: access.clone(),
        },
        store.clone(),
        clock.clone(),
        config.admin.clone(),
        config.public_url.clone(),
    )
    .with_oidc(oidc.clone());
    let authn = AuthnState {
        oidc,
        sessions: sessions.clone(),
        directory: dir.clone(),
        identity: config.identity.clone(),
        public_url: config.public_url.clone(),
        admin_origin: config.admin.origin.clone(),
        tls: tls_on,
    };
    let control = app(routes::Surfaces {
        scim,
        authn,
        gate: gate.clone(),
        decide: Arc::new(DecideState::new(dir.clone(), policy.clone())),
        readiness: readiness.clone(),
        admin,
        access_api,
        jwks: signer.jwks_json().to_owned(),
    });
    let mut watchers = reloads::watch(config, &policy, tls.as_ref(), &metrics, &gate, tree);
    if let Some(shadow) = shadow.as_ref().filter(|_| config.watch_files) {
        match shadow.handle().watch() {
            Ok(w) => watchers.push(Box::new(w)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the shadow policy directory; reload with SIGHUP")
            }
        }
    }
    Ok(Built {
        dispatch: Arc::new(Dispatch::new(
            control,
            gate,
            metrics.routes.unrouted().clone(),
        )),
        handles: Handles {
            dir,
            policy,
            sessions,
            audit: auditor,
            metrics,
            registry,
            access,
        },
        tls,
        readiness,
        watchers,
        writer: WriterTask {
            stop: writer_stop,
            task: writer_task,
        },
        audit: audit_service,
    })
}

/// The shadow policy set, when configured (or `<policies>/shadow` exists): loaded
/// now (a bad file stops the start, as for the live set) and reloaded with the live set.
fn load_shadow(config: &Config, policy: &Arc<PolicyHandle>) -> anyhow::Result<Option<Arc<Shadow>>> {
    let Some(dir) = Shadow::dir_for(config.shadow_policies.as_deref(), &config.policies_dir) else {
        return Ok(None);
    };
    let shadow = Shadow::load(dir.clone())
        .with_context(|| format!("loading shadow policies from {}", dir.display()))?;
    tracing::info!(dir = %dir.display(), routes = shadow.handle().current().routes().len(), "shadow policies loaded: judged beside the live set, deciding nothing");
    policy.set_companion(shadow.handle().clone());
    Ok(Some(shadow))
}

/// How callers prove who they are, as configured.
struct IdentityProvider {
    /// Bearer tokens.
    jwt: Option<Arc<JwtVerifier>>,
    /// Browser sign-in.
    oidc: Option<Arc<OidcLogin>>,
}

/// The bearer-token verifier and the browser login, as configured (one outbound
/// client for both).
fn identity_provider(config: &Config) -> anyhow::Result<IdentityProvider> {
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
    Ok(IdentityProvider { jwt, oidc })
}

/// On a shared store: bounds the directory's staleness and starts the follower on
/// `tree`; the signal it pokes the writer with.
fn follow_shared_store(
    config: &Config,
    dir: &Arc<Directory>,
    sessions: &Arc<Sessions>,
    access: &Arc<Access>,
    tree: &ShutdownTree,
) -> anyhow::Result<Option<Arc<CatchUpSignal>>> {
    let Some(pg) = &config.store.postgres else {
        return Ok(None);
    };
    dir.freshness().set_bound(pg.max_stale);
    let signal = Arc::new(CatchUpSignal::default());
    let settings = FollowSettings {
        url: pg.url.clone(),
        tls: pg.tls.clone(),
        timeout: pg.timeout,
        poll: (pg.max_stale / 4).clamp(Duration::from_millis(100), Duration::from_secs(2)),
    };
    let follower = crate::replica::follow::start(
        settings,
        signal.clone(),
        dir.clone(),
        sessions.clone(),
        access.clone(),
        tree.serving_token(),
    )?;
    tree.tracker().spawn(follower);
    Ok(Some(signal))
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
