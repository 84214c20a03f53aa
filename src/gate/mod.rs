//! The gate: the request pipeline in front of every proxied route.
//!
//! For each request: the path is normalised once (by the dispatcher), a route is chosen
//! by host and path, the caller is authenticated (session cookie or bearer JWT) and
//! mapped to a directory user, the policy decides on the user's *current* directory
//! groups, and an allowed request is forwarded with identity headers and a signed
//! assertion, registered as a live stream so that revocation can cut it. Denials become
//! responses in one place ([`error::GateError`]). A route's `rate_limit:` is kept in
//! token buckets ([`limits`]) and answered 429; a shadow policy set, when configured,
//! is asked beside the live one and differences are counted ([`throttle`]). The gate
//! also serves forward-auth
//! (`/.scimgate/auth`), the assertion key set, and the revocation fan-out after each
//! directory commit ([`hook`]). Every decision is queued for the audit log ([`judge`]).
//! A route's step-up rules and session limits are judged after the policy allows
//! ([`step_up`]).

pub mod caller;
pub mod error;
pub mod forward_auth;
pub mod hook;
pub mod identity;
pub mod judge;
pub mod ladder;
pub mod limits;
pub mod mcp;
pub mod pages;
pub mod pipeline;
pub mod request_form;
pub mod step_up;
mod throttle;

use std::net::IpAddr;
use std::sync::Arc;

use dashmap::DashMap;
use ipnet::IpNet;

use crate::audit::Auditor;
use crate::authn::session::Sessions;
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::policy::reload::PolicyHandle;
use crate::policy::shadow::Shadow;
use crate::policy::Route;
use crate::proxy::assertion::AssertionSigner;
use crate::proxy::client::UpstreamClient;
use crate::proxy::connection_cap::UpstreamLimits;
use crate::proxy::error::ProxyError;
use crate::revoke::Registry;
use caller::Callers;

/// Everything the pipeline reads; shared by every request. Built once by the
/// composition root ([`Gate::new`]); its parts are private to the gate.
pub struct Gate {
    dir: Arc<Directory>,
    policy: Arc<PolicyHandle>,
    sessions: Arc<Sessions>,
    /// Who is calling (bearer JWT or session), shared with the pages.
    callers: Arc<Callers>,
    /// Whether browser login is configured (else browsers get 401 like API callers).
    login_enabled: bool,
    signer: Arc<AssertionSigner>,
    registry: Arc<Registry>,
    trusted_proxies: Vec<IpNet>,
    /// Client-sent headers that carry identity and never reach an upstream.
    identity_headers: crate::proxy::headers::IdentityStrip,
    /// Whether the listener speaks TLS.
    tls: bool,
    /// Where decisions are recorded (queued, never waited on).
    audit: Auditor,
    /// Upstream clients by route name, with the policy digest they were built for.
    clients: DashMap<Arc<str>, (String, Arc<UpstreamClient>)>,
    /// The process's upstream connection cap and pool bounds, shared by every client.
    upstream_limits: UpstreamLimits,
    /// Identity headers per (user, route), valid for one directory sequence.
    identities: identity::IdentityCache,
    /// Where requests, decisions and revocations are counted.
    metrics: Arc<Metrics>,
    /// The token buckets of routes' rate limits.
    limiter: limits::Limiter,
    /// The shadow policy set, when one is configured.
    shadow: Option<Arc<Shadow>>,
    /// The user each MCP session belongs to (`preset: mcp`).
    mcp_sessions: mcp::sessions::McpSessions,
    /// Just-in-time access: requests, approvals and time-bound grants.
    access: Arc<crate::access::Access>,
}

/// What [`Gate::new`] is built from (the composition root fills it in).
pub struct GateParts {
    pub dir: Arc<Directory>,
    pub policy: Arc<PolicyHandle>,
    pub sessions: Arc<Sessions>,
    pub callers: Arc<Callers>,
    pub login_enabled: bool,
    pub signer: Arc<AssertionSigner>,
    pub registry: Arc<Registry>,
    pub trusted_proxies: Vec<IpNet>,
    pub identity_headers: crate::proxy::headers::IdentityStrip,
    pub tls: bool,
    pub audit: Auditor,
    pub metrics: Arc<Metrics>,
    pub limiter: limits::Limiter,
    pub upstream_limits: UpstreamLimits,
    pub shadow: Option<Arc<Shadow>>,
    pub access: Arc<crate::access::Access>,
}

impl Gate {
    /// The gate over `parts`, with empty client and identity caches.
    pub fn new(parts: GateParts) -> Self {
        Gate {
            dir: parts.dir,
            policy: parts.policy,
            sessions: parts.sessions,
            callers: parts.callers,
            login_enabled: parts.login_enabled,
            signer: parts.signer,
            registry: parts.registry,
            trusted_proxies: parts.trusted_proxies,
            identity_headers: parts.identity_headers,
            tls: parts.tls,
            audit: parts.audit,
            clients: DashMap::new(),
            upstream_limits: parts.upstream_limits,
            identities: Default::default(),
            metrics: parts.metrics,
            limiter: parts.limiter,
            shadow: parts.shadow,
            mcp_sessions: Default::default(),
            access: parts.access,
        }
    }
}

impl Gate {
    /// The access service (the 403 page offers its requestable grants).
    pub fn access(&self) -> &Arc<crate::access::Access> {
        &self.access
    }

    /// Whether `peer` is a proxy whose `X-Forwarded-*` headers are believed.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer),
            v4 => v4,
        };
        self.trusted_proxies.iter().any(|n| n.contains(&peer))
    }

    /// The upstream client of a route, built on first use and rebuilt after a policy
    /// reload changed the route.
    pub fn client_for(
        &self,
        route: &Route,
        digest: &str,
    ) -> Result<Arc<UpstreamClient>, ProxyError> {
        if let Some(entry) = self.clients.get(&route.name) {
            if entry.0 == digest {
                return Ok(entry.1.clone());
            }
        }
        let client = Arc::new(UpstreamClient::new(&route.settings, &self.upstream_limits)?);
        self.clients
            .insert(route.name.clone(), (digest.to_owned(), client.clone()));
        Ok(client)
    }
}
