//! The decision both the proxy and forward-auth make: route by host and path, refuse
//! ambiguous paths the route does not accept, authenticate, and ask the policy on the
//! user's current directory groups. Every outcome, including refusals before the
//! policy is asked, is queued for the audit log (never waited on).

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method};

use super::caller::NoCaller;
use super::error::{Forbidden, GateError};
use super::ladder::{self, Rung};
use super::limits::Admitted;
use super::Gate;
use crate::audit::records::{DecisionRecord, DenyReason as AuditDenyReason, RequestOrigin};
use crate::authn::error::AuthnError;
use crate::metrics::routes::{DenyReason, RouteMetrics};
use crate::path::NormalPath;
use crate::policy::{DirectorySubject, PolicySet, RequestFacts, Route, RouteMatch};
use crate::record::name_key;
use crate::web::csrf_token;

/// The request being judged.
pub struct Ask<'a> {
    pub host: &'a str,
    pub method: &'a Method,
    pub path: &'a NormalPath,
    pub headers: &'a HeaderMap,
    /// Whether refusals should be pages (a browser navigation).
    pub browser: bool,
    /// Where an anonymous browser returns after login; `None`: answer 401 instead.
    pub login_return_to: Option<String>,
    /// Request id and client address, for the audit record.
    pub origin: &'a RequestOrigin,
}

/// An allowed request: its route and the user it was allowed for.
pub struct Allowed {
    pub route: Arc<Route>,
    pub subject: DirectorySubject,
    /// How the route's rate limit stands for this caller (`None`: the route has none).
    pub limit: Option<Admitted>,
}

impl Gate {
    /// Judges `ask` under `policy`; every refusal is a [`GateError`].
    pub async fn judge(&self, policy: &PolicySet, ask: Ask<'_>) -> Result<Allowed, GateError> {
        self.judge_observed(policy, ask).await.1
    }

    /// [`Gate::judge`], counting the decision and its time under its route; also
    /// returns the route's metric handles for what follows (forwarding).
    pub async fn judge_observed(
        &self,
        policy: &PolicySet,
        ask: Ask<'_>,
    ) -> (Arc<RouteMetrics>, Result<Allowed, GateError>) {
        let started = Instant::now();
        let Some(m) = policy.match_route(ask.host, &ask.path.matching) else {
            self.audit_refusal(&ask, AuditDenyReason::NoRoute, None);
            let metrics = self.metrics.routes.unrouted().clone();
            metrics.denied(DenyReason::NoRoute, started.elapsed());
            return (metrics, Err(GateError::NoRoute));
        };
        if !ladder::reaches(Rung::Metrics) {
            let result = self.judge_route(policy, &m, ask).await;
            return (self.metrics.routes.unrouted().clone(), result);
        }
        let metrics = self.metrics.routes.get(&m.route.name);
        let result = self.judge_route(policy, &m, ask).await;
        match &result {
            Ok(_) => metrics.allowed(started.elapsed()),
            Err(e) => metrics.denied(deny_reason(e), started.elapsed()),
        }
        (metrics, result)
    }

    async fn judge_route(
        &self,
        policy: &PolicySet,
        m: &RouteMatch<'_>,
        ask: Ask<'_>,
    ) -> Result<Allowed, GateError> {
        let route_name = Some(&*m.route.name);
        if let Err(a) = ask
            .path
            .check_ambiguity(m.route.settings.allow_ambiguous_paths)
        {
            self.audit_refusal(&ask, AuditDenyReason::AmbiguousPath, route_name);
            return Err(GateError::AmbiguousPath(a.to_string()));
        }
        if m.route.require_fresh_directory && !self.dir.freshness().is_fresh() {
            self.audit_refusal(&ask, AuditDenyReason::StaleDirectory, route_name);
            return Err(GateError::StaleDirectory);
        }
        if !ladder::reaches(Rung::Jwt) {
            return Ok(Allowed {
                route: m.route.clone(),
                subject: DirectorySubject::without_groups(&self.dir, ladder::stand_in()),
                limit: None,
            });
        }
        let caller = match self.authenticate(ask.headers).await {
            Ok(c) => c,
            Err(NoCaller::Anonymous) => {
                let reason = if is_icon_request(&ask) {
                    AuditDenyReason::Icon
                } else {
                    AuditDenyReason::Unauthenticated
                };
                self.audit_refusal(&ask, reason, route_name);
                return Err(GateError::Unauthenticated {
                    login_return_to: ask.login_return_to.filter(|_| self.login_enabled),
                    reason: None,
                    login_enabled: self.login_enabled,
                });
            }
            Err(NoCaller::Refused(e)) => {
                // An outage is logged once, with its cause, where it is answered
                // (`gate::error`).
                let reason = if e.is_idp_outage() {
                    AuditDenyReason::IdpUnavailable
                } else {
                    tracing::info!(error = %e, "credentials refused");
                    AuditDenyReason::CredentialsRefused
                };
                self.audit_refusal(&ask, reason, route_name);
                return Err(GateError::Unauthenticated {
                    login_return_to: None,
                    reason: Some(e),
                    login_enabled: self.login_enabled,
                });
            }
            Err(NoCaller::NotProvisioned) => {
                self.audit_refusal(&ask, AuditDenyReason::NotProvisioned, route_name);
                return Err(GateError::NotProvisioned {
                    browser: ask.browser,
                    login_enabled: self.login_enabled,
                });
            }
        };
        if !ladder::reaches(Rung::Directory) {
            return Ok(Allowed {
                route: m.route.clone(),
                subject: DirectorySubject::without_groups(&self.dir, caller.user),
                limit: None,
            });
        }
        let subject = DirectorySubject::new(&self.dir, caller.user.clone());
        if !ladder::reaches(Rung::Policy) {
            return Ok(Allowed {
                route: m.route.clone(),
                subject,
                limit: None,
            });
        }
        let directory_seq = self.dir.seq();
        let facts = RequestFacts {
            method: ask.method,
            path: &ask.path.matching,
        };
        let decision = policy.decide(m, facts, &subject);
        if decision.allow {
            self.check_authentication(m.route, &ask, facts, &caller)?;
        }
        let user = &caller.user;
        self.shadow_compare(ask.host, facts, &subject, &decision);
        // Over a rate limit: refused (429) and counted into the window's aggregate,
        // not recorded one by one.
        let limit = match (&m.route.rate_limit, decision.allow) {
            (Some(limits), true) => Some(self.limit(&m.route.name, limits, user)?),
            _ => None,
        };
        // The browser asks for an icon on every page it shows; a refusal of that is
        // counted, not recorded (nor logged at INFO) once per page view.
        let icon_noise = !decision.allow && is_icon_request(&ask);
        if icon_noise {
            tracing::debug!(user = %user.user_name, route = %m.route.name, rule = %decision.by.rule, "icon request denied");
            self.audit_refusal(&ask, AuditDenyReason::Icon, Some(&m.route.name));
        } else if ladder::reaches(Rung::Audit) {
            self.audit.record_decision(&DecisionRecord {
                at: self.audit.now_ms(),
                allow: decision.allow,
                user_name: &user.user_name,
                user_id: &user.id,
                route: &m.route.name,
                method: ask.method.as_str(),
                path: &ask.path.matching,
                rule: &decision.by.rule,
                rule_location: &decision.by.location,
                directory_seq,
                origin: ask.origin,
            });
        }
        if !decision.allow {
            if !icon_noise {
                tracing::info!(user = %user.user_name, route = %m.route.name, rule = %decision.by.rule, "access denied");
            }
            let allowing_groups = policy.allowing_groups(m.route, facts);
            // A browser session is offered the grants that would let this request
            // through (a form needs the session's CSRF token).
            let csrf = match (&caller.session, ask.browser) {
                (Some((token, _)), true) => Some(csrf_token(token)),
                _ => None,
            };
            let offers = if csrf.is_some() {
                self.access
                    .offers_for_route(&subject, &m.route.name)
                    .into_iter()
                    .filter(|o| {
                        let wanted = name_key(&o.group);
                        allowing_groups.iter().any(|g| name_key(g) == wanted)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            return Err(GateError::Forbidden(Box::new(Forbidden {
                browser: ask.browser,
                user_name: user.user_name.to_string(),
                method: ask.method.to_string(),
                path: ask.path.forward.clone(),
                allowing_groups,
                by: decision.by,
                login_enabled: self.login_enabled,
                offers,
                csrf,
            })));
        }
        tracing::debug!(user = %user.user_name, route = %m.route.name, rule = %decision.by.rule, "access allowed");
        Ok(Allowed {
            route: m.route.clone(),
            subject,
            limit,
        })
    }
}

impl Gate {
    /// Records a refusal made before the policy was asked (no authenticated caller):
    /// bounded per window and kept apart from signed-in users' decisions.
    fn audit_refusal(&self, ask: &Ask<'_>, reason: AuditDenyReason, route: Option<&str>) {
        self.audit.record_refusal(
            reason,
            route,
            ask.method.as_str(),
            &ask.path.matching,
            ask.origin,
        );
    }
}

/// Whether `ask` is a browser's icon request: `GET` or `HEAD`, not a page navigation,
/// of a path that names a favicon (`/favicon.ico`, which browsers ask for on their own,
/// or a page's icon link such as the dbt docs UI's, whose unexpanded template
/// `/${require('./assets/favicons/favicon.ico')}` is asked for on every docs page view).
fn is_icon_request(ask: &Ask<'_>) -> bool {
    (ask.method == Method::GET || ask.method == Method::HEAD)
        && !ask.browser
        && ask.path.matching.to_ascii_lowercase().contains("favicon")
}

/// The `reason` label of a refusal.
pub fn deny_reason(e: &GateError) -> DenyReason {
    match e {
        GateError::BadPath(_) => DenyReason::BadPath,
        GateError::AmbiguousPath(_) => DenyReason::AmbiguousPath,
        GateError::NoRoute => DenyReason::NoRoute,
        GateError::BadHost(_) => DenyReason::BadHost,
        GateError::UnsupportedTransferCoding(_) => DenyReason::BadFraming,
        // The identity provider or scimgate failed, not the caller's credentials.
        GateError::Unauthenticated {
            reason: Some(e), ..
        } if e.is_idp_outage() || matches!(e, AuthnError::Store(_) | AuthnError::Task(_)) => {
            DenyReason::Error
        }
        GateError::Unauthenticated { .. }
        | GateError::StepUp(_)
        | GateError::SessionLimit { .. } => DenyReason::Unauthenticated,
        GateError::NotProvisioned { .. } => DenyReason::NotProvisioned,
        GateError::Forbidden(_) | GateError::UntrustedPeer => DenyReason::Forbidden,
        GateError::StaleDirectory => DenyReason::StaleDirectory,
        GateError::Upstream(_) => DenyReason::Error,
        GateError::RateLimited(_) => DenyReason::RateLimited,
    }
}
