//! The metrics registry: every `scimgate_*` family, what records into it, and the
//! Prometheus text exposition the operations listener serves at `/metrics`.
//!
//! This module is a leaf: the gate, the proxy, the SCIM API, the server and the audit
//! log record into it, and it uses no other module of the crate but the clock. Values
//! read at a scrape come from whoever connects to [`collect::ScrapeSources`] at start
//! (the directory and the audit log, through the traits there).
//!
//! Labels are bounded: route names (from the policy), token names, fixed reason and
//! operation words, HTTP statuses; never user names or paths. The request path records
//! through [`RouteMetrics`] handles resolved once per route (see [`routes`]): atomic
//! counters and lock-free histograms, no label allocation. Values that are state rather
//! than events (directory sizes, the age of each token's last SCIM call, the audit
//! queue) are read when scraped ([`collect`]). Each connection of the main listener is
//! counted in [`connections`]; upstream connections, all routes together, in
//! [`upstream_connections`].

pub mod collect;
pub mod connections;
pub mod histogram;
pub mod routes;
pub mod upstream_connections;

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use collect::{ScrapeSources, StateCollector};
use connections::ConnectionMetrics;
use histogram::LatencyHistogram;
use routes::RouteTable;
use upstream_connections::UpstreamConnectionMetrics;

/// Labels of a per-route request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: Arc<str>,
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// Why a request was denied (`none` when allowed).
    pub reason: &'static str,
}

/// Labels of a per-route histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: Arc<str>,
}

/// Labels of an upstream error counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    pub route: Arc<str>,
    pub kind: &'static str,
}

/// Labels of the rate-limit refusal counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    pub route: Arc<str>,
    /// Which bucket refused: `user`, `user_type`, `route` or `service_token`.
    pub scope: &'static str,
}

/// Labels of the shadow-policy difference counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShadowLabels {
    pub route: Arc<str>,
    /// `would_allow` (the live set denies) or `would_deny` (the live set allows).
    pub kind: &'static str,
}

/// Labels of a SCIM (or admin API) operation counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScimLabels {
    /// `scim` or `admin`.
    pub api: &'static str,
    /// The token's name (never the token).
    pub token: Arc<str>,
    pub operation: &'static str,
    pub status: u16,
}

/// Labels of the SCIM scan counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScanLabels {
    /// `run`, `refused` (every slot busy) or `timed_out`.
    pub outcome: &'static str,
}

/// Labels of the reload counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `policies` or `certificate`.
    pub what: &'static str,
    /// `applied` (a new set or pair is in force) or `refused` (the old one stays).
    pub outcome: &'static str,
}

/// Labels of the access-request webhook counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// `delivered`, `failed` (every attempt refused or failed) or `dropped` (the
    /// queue was full, or the server stopped first).
    pub outcome: &'static str,
}

/// The outcomes of [`Metrics::webhook`], each a series from the first scrape.
pub const WEBHOOK_OUTCOMES: [&str; 3] = ["delivered", "failed", "dropped"];

/// Labels of the ended-grant counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrantEndLabels {
    /// `expired`, `revoked` or `deprovisioned`.
    pub how: &'static str,
}

/// What a reload counted by [`Metrics::reload`] loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    Policies,
    Certificate,
}

impl Reloaded {
    const ALL: [Reloaded; 2] = [Reloaded::Policies, Reloaded::Certificate];

    /// The `what` label.
    fn label(self) -> &'static str {
        match self {
            Reloaded::Policies => "policies",
            Reloaded::Certificate => "certificate",
        }
    }
}

/// The families, shared by the route table and the recorders.
#[derive(Debug, Default)]
pub(crate) struct Families {
    pub requests: Family<RequestLabels, Counter>,
    pub decision_seconds: Family<RouteLabel, LatencyHistogram>,
    pub request_seconds: Family<RouteLabel, LatencyHistogram>,
    pub upstream_errors: Family<UpstreamLabels, Counter>,
    pub scim_operations: Family<ScimLabels, Counter>,
    pub scim_scans: Family<ScanLabels, Counter>,
    pub reloads: Family<ReloadLabels, Counter>,
    pub sessions_ended: Counter,
    pub streams_cut: Counter,
    pub rate_limited: Family<LimitLabels, Counter>,
    pub shadow_differences: Family<ShadowLabels, Counter>,
    pub webhook_events: Family<WebhookLabels, Counter>,
    pub access_pending: Gauge,
    pub access_active: Gauge,
    pub grants_ended: Family<GrantEndLabels, Counter>,
}

/// Every metric of one scimgate instance.
pub struct Metrics {
    registry: Registry,
    pub(crate) families: Arc<Families>,
    /// Per-route handles for the request path.
    pub routes: RouteTable,
    /// What scrape-time values are read from (directory, SCIM activity, audit).
    pub sources: Arc<ScrapeSources>,
    /// The main listener's connections.
    pub connections: Arc<ConnectionMetrics>,
    /// Upstream connections, all routes together.
    pub upstream_connections: Arc<UpstreamConnectionMetrics>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every family registered and nothing recorded.
    pub fn new() -> Self {
        let families = Arc::new(Families::default());
        let sources = Arc::new(ScrapeSources::default());
        let mut registry = Registry::with_prefix("scimgate");
        let f = &families;
        registry.register(
            "requests",
            "Proxied and forward-auth requests by route and decision (allow, or deny with a reason).",
            f.requests.clone(),
        );
        registry.register_with_unit(
            "gate_decision",
            "Time to decide a request: route, authenticate, judge the policy.",
            Unit::Seconds,
            f.decision_seconds.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Time from a proxied request's arrival to its response head (body streaming excluded).",
            Unit::Seconds,
            f.request_seconds.clone(),
        );
        registry.register(
            "upstream_errors",
            "Allowed requests the upstream could not answer, by route and kind.",
            f.upstream_errors.clone(),
        );
        registry.register(
            "scim_operations",
            "SCIM and admin API calls by token name, operation and HTTP status.",
            f.scim_operations.clone(),
        );
        registry.register(
            "scim_scans",
            "SCIM listings that walked the directory: run, refused (every slot busy) or timed_out.",
            f.scim_scans.clone(),
        );
        registry.register(
            "reloads",
            "Reloads of the policies and the TLS certificate (file change or SIGHUP): applied, or refused with the old ones kept.",
            f.reloads.clone(),
        );
        // Every series from the first scrape, so a refusal shows as an increase.
        for what in Reloaded::ALL {
            for outcome in ["applied", "refused"] {
                let what = what.label();
                let _ = f.reloads.get_or_create(&ReloadLabels { what, outcome });
            }
        }
        registry.register(
            "revoked_sessions",
            "Sessions ended because their user was deactivated or deleted.",
            f.sessions_ended.clone(),
        );
        registry.register(
            "streams_cut",
            "Live requests and streams cut because their user lost access.",
            f.streams_cut.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused with 429 by a route's rate_limit, by route and the bucket that refused.",
            f.rate_limited.clone(),
        );
        registry.register(
            "shadow_differences",
            "Decisions where the shadow policy set differs from the live one, by route and kind (would_allow, would_deny).",
            f.shadow_differences.clone(),
        );
        registry.register(
            "access_webhook_events",
            "Access-request events for the webhook, by outcome: delivered, failed (every attempt refused or failed) or dropped (queue full, or the server stopped first).",
            f.webhook_events.clone(),
        );
        for outcome in WEBHOOK_OUTCOMES {
            let _ = f.webhook_events.get_or_create(&WebhookLabels { outcome });
        }
        registry.register(
            "access_requests_pending",
            "Just-in-time access requests waiting for approval.",
            f.access_pending.clone(),
        );
        registry.register(
            "access_grants_active",
            "Time-bound grants from approved access requests in force.",
            f.access_active.clone(),
        );
        registry.register(
            "access_grants_ended",
            "Time-bound grants ended, by how: expired, revoked (early, by an approver or an admin) or deprovisioned (the user was deactivated or deleted).",
            f.grants_ended.clone(),
        );
        for how in ["expired", "revoked", "deprovisioned"] {
            let _ = f.grants_ended.get_or_create(&GrantEndLabels { how });
        }
        registry.register_collector(Box::new(StateCollector(sources.clone())));
        let connections = Arc::new(ConnectionMetrics::default());
        connections.register(&mut registry);
        let upstream_connections = Arc::new(UpstreamConnectionMetrics::default());
        upstream_connections.register(&mut registry);
        Metrics {
            connections,
            upstream_connections,
            registry,
            routes: RouteTable::new(families.clone()),
            families,
            sources,
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Counts sessions ended by a revocation.
    pub fn sessions_ended(&self, n: usize) {
        self.families.sessions_ended.inc_by(n as u64);
    }

    /// Counts live streams cut by a revocation or a policy reload.
    pub fn streams_cut(&self, n: usize) {
        self.families.streams_cut.inc_by(n as u64);
    }

    /// Sets the numbers of pending access requests and active grants.
    pub fn access_open(&self, pending: usize, active: usize) {
        self.families
            .access_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.families
            .access_active
            .set(i64::try_from(active).unwrap_or(i64::MAX));
    }

    /// Counts one time-bound grant ended `how` (`expired`, `revoked`, `deprovisioned`).
    pub fn grant_ended(&self, how: &'static str) {
        self.families
            .grants_ended
            .get_or_create(&GrantEndLabels { how })
            .inc();
    }

    /// Counts one reload of `what`: `applied` when a new set or pair went into force,
    /// else refused.
    pub fn reload(&self, what: Reloaded, applied: bool) {
        let outcome = if applied { "applied" } else { "refused" };
        self.families
            .reloads
            .get_or_create(&ReloadLabels {
                what: what.label(),
                outcome,
            })
            .inc();
    }

    /// Counts one request refused by the `scope` bucket of `route`'s rate limit.
    pub fn rate_limited(&self, route: &Arc<str>, scope: &'static str) {
        self.families
            .rate_limited
            .get_or_create(&LimitLabels {
                route: route.clone(),
                scope,
            })
            .inc();
    }

    /// Counts one decision where the shadow set differs from the live one.
    pub fn shadow_difference(&self, route: &Arc<str>, kind: &'static str) {
        self.families
            .shadow_differences
            .get_or_create(&ShadowLabels {
                route: route.clone(),
                kind,
            })
            .inc();
    }

    /// Counts `n` access-request webhook events with `outcome` (one of
    /// [`WEBHOOK_OUTCOMES`]).
    pub fn webhook(&self, outcome: &'static str, n: u64) {
        self.families
            .webhook_events
            .get_or_create(&WebhookLabels { outcome })
            .inc_by(n);
    }

    /// Counts one SCIM scan event (`run`, `refused`, `timed_out`).
    pub fn scim_scan(&self, outcome: &'static str) {
        self.families
            .scim_scans
            .get_or_create(&ScanLabels { outcome })
            .inc();
    }

    /// Counts one SCIM (`api` = `scim`) or admin API (`admin`) call by a token; for
    /// SCIM tokens, notes when the token was last heard from.
    pub fn scim_operation(
        &self,
        api: &'static str,
        token: &str,
        operation: &'static str,
        status: u16,
    ) {
        let token = if api == "scim" {
            self.sources.scim_seen(token)
        } else {
            Arc::from(token)
        };
        self.families
            .scim_operations
            .get_or_create(&ScimLabels {
                api,
                token,
                operation,
                status,
            })
            .inc();
    }
}

/// The media type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
