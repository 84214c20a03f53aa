//! Per-route metric handles for the request path, resolved once per route name.
//!
//! A [`RouteMetrics`] holds the counters and histograms of one route, already looked up
//! in their families, so recording a request is a few atomic adds. The table is an
//! `ArcSwap`ped map: readers never lock; a route seen for the first time (or after a
//! policy reload added it) is resolved once and the map replaced. Route names come from
//! the policy files, so the table is bounded by the routes ever configured.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use prometheus_client::metrics::counter::Counter;

use super::histogram::LatencyHistogram;
use super::{Families, RequestLabels, RouteLabel, UpstreamLabels};

/// The route label of requests no route matched.
pub const NO_ROUTE_LABEL: &str = "-";

/// Why the gate refused a request (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    BadPath,
    AmbiguousPath,
    NoRoute,
    Unauthenticated,
    NotProvisioned,
    Forbidden,
    /// The route needs a fresh directory and this replica is cut off from the store.
    StaleDirectory,
    /// The gate could not finish deciding (e.g. signing the assertion failed).
    Error,
    /// The Host header is missing, repeated, malformed or not the target's authority.
    BadHost,
    /// A transfer coding other than `chunked` (RFC 9112 §6.1: 501).
    BadFraming,
    /// Over a `rate_limit:` of the route (429).
    RateLimited,
}

impl DenyReason {
    pub const ALL: [DenyReason; 11] = [
        DenyReason::BadPath,
        DenyReason::AmbiguousPath,
        DenyReason::NoRoute,
        DenyReason::Unauthenticated,
        DenyReason::NotProvisioned,
        DenyReason::Forbidden,
        DenyReason::StaleDirectory,
        DenyReason::Error,
        DenyReason::BadHost,
        DenyReason::BadFraming,
        DenyReason::RateLimited,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DenyReason::BadPath => "bad_path",
            DenyReason::AmbiguousPath => "ambiguous_path",
            DenyReason::NoRoute => "no_route",
            DenyReason::Unauthenticated => "unauthenticated",
            DenyReason::NotProvisioned => "not_provisioned",
            DenyReason::Forbidden => "forbidden",
            DenyReason::StaleDirectory => "stale_directory",
            DenyReason::Error => "error",
            DenyReason::BadHost => "bad_host",
            DenyReason::BadFraming => "bad_framing",
            DenyReason::RateLimited => "rate_limited",
        }
    }
}

/// What went wrong with an upstream (the `kind` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamErrorKind {
    Connect,
    ConnectTimeout,
    /// No place under the upstream connection cap within the connect timeout.
    ConnectionCap,
    Exchange,
    ResponseTimeout,
    Overloaded,
    Cancelled,
    Config,
}

impl UpstreamErrorKind {
    pub const ALL: [UpstreamErrorKind; 8] = [
        UpstreamErrorKind::Connect,
        UpstreamErrorKind::ConnectTimeout,
        UpstreamErrorKind::ConnectionCap,
        UpstreamErrorKind::Exchange,
        UpstreamErrorKind::ResponseTimeout,
        UpstreamErrorKind::Overloaded,
        UpstreamErrorKind::Cancelled,
        UpstreamErrorKind::Config,
    ];

    pub fn label(self) -> &'static str {
        match self {
            UpstreamErrorKind::Connect => "connect",
            UpstreamErrorKind::ConnectTimeout => "connect_timeout",
            UpstreamErrorKind::ConnectionCap => "connection_cap",
            UpstreamErrorKind::Exchange => "exchange",
            UpstreamErrorKind::ResponseTimeout => "response_timeout",
            UpstreamErrorKind::Overloaded => "overloaded",
            UpstreamErrorKind::Cancelled => "cancelled",
            UpstreamErrorKind::Config => "config",
        }
    }
}

/// The handles of one route.
#[derive(Debug)]
pub struct RouteMetrics {
    allowed: Counter,
    denied: [Counter; DenyReason::ALL.len()],
    decision: LatencyHistogram,
    total: LatencyHistogram,
    upstream: [Counter; UpstreamErrorKind::ALL.len()],
}

impl RouteMetrics {
    fn resolve(f: &Families, route: &Arc<str>) -> Self {
        let count = |decision, reason| {
            f.requests.get_or_create_owned(&RequestLabels {
                route: route.clone(),
                decision,
                reason,
            })
        };
        let label = RouteLabel {
            route: route.clone(),
        };
        RouteMetrics {
            allowed: count("allow", "none"),
            denied: DenyReason::ALL.map(|r| count("deny", r.label())),
            decision: f.decision_seconds.get_or_create_owned(&label),
            total: f.request_seconds.get_or_create_owned(&label),
            upstream: UpstreamErrorKind::ALL.map(|k| {
                f.upstream_errors.get_or_create_owned(&UpstreamLabels {
                    route: route.clone(),
                    kind: k.label(),
                })
            }),
        }
    }

    /// Records an allowed request and how long deciding took.
    pub fn allowed(&self, decided_in: Duration) {
        self.allowed.inc();
        self.decision.observe(decided_in);
    }

    /// Records a denied request and how long deciding took.
    pub fn denied(&self, reason: DenyReason, decided_in: Duration) {
        self.denied[reason as usize].inc();
        self.decision.observe(decided_in);
    }

    /// Counts a request refused before it could be routed (no decision time).
    pub fn refused(&self, reason: DenyReason) {
        self.denied[reason as usize].inc();
    }

    /// Records a forwarding failure.
    pub fn upstream_error(&self, kind: UpstreamErrorKind) {
        self.upstream[kind as usize].inc();
    }

    /// Records the time to a proxied request's response head.
    pub fn finished(&self, total: Duration) {
        self.total.observe(total);
    }
}

/// Route name → handles.
pub struct RouteTable {
    families: Arc<Families>,
    map: ArcSwap<HashMap<Arc<str>, Arc<RouteMetrics>>>,
    unrouted: Arc<RouteMetrics>,
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTable")
            .field("routes", &self.map.load().len())
            .finish()
    }
}

impl RouteTable {
    pub(crate) fn new(families: Arc<Families>) -> Self {
        let unrouted = Arc::new(RouteMetrics::resolve(&families, &Arc::from(NO_ROUTE_LABEL)));
        RouteTable {
            families,
            map: ArcSwap::from_pointee(HashMap::new()),
            unrouted,
        }
    }

    /// The handles of requests that matched no route.
    pub fn unrouted(&self) -> &Arc<RouteMetrics> {
        &self.unrouted
    }

    /// The handles of `route` (resolved on first use).
    pub fn get(&self, route: &Arc<str>) -> Arc<RouteMetrics> {
        if let Some(m) = self.map.load().get(route) {
            return m.clone();
        }
        self.prepare([route.clone()]);
        self.map
            .load()
            .get(route)
            .cloned()
            .unwrap_or_else(|| Arc::new(RouteMetrics::resolve(&self.families, route)))
    }

    /// Resolves the handles of these routes ahead of their first request (at start and
    /// after a policy reload), so their series exist from the first scrape.
    pub fn prepare(&self, routes: impl IntoIterator<Item = Arc<str>>) {
        let fresh: Vec<Arc<str>> = {
            let current = self.map.load();
            routes
                .into_iter()
                .filter(|r| !current.contains_key(r))
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        let resolved: Vec<(Arc<str>, Arc<RouteMetrics>)> = fresh
            .into_iter()
            .map(|r| {
                let m = Arc::new(RouteMetrics::resolve(&self.families, &r));
                (r, m)
            })
            .collect();
        self.map.rcu(|current| {
            let mut next = HashMap::clone(current);
            for (r, m) in &resolved {
                next.entry(r.clone()).or_insert_with(|| m.clone());
            }
            next
        });
    }
}
