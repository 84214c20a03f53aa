//! The decision both the proxy and forward-auth make: route by host and path, refuse
//! ambiguous paths the route does not accept, authenticate, and ask the policy on the
//! user's current directory groups.

use std::sync::Arc;

use http::{HeaderMap, Method};

use super::caller::NoCaller;
use super::error::{Forbidden, GateError};
use super::Gate;
use crate::policy::{DirectorySubject, PolicySet, RequestFacts, Route};
use crate::proxy::path::NormalPath;

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
}

/// An allowed request: its route and the user it was allowed for.
pub struct Allowed {
    pub route: Arc<Route>,
    pub subject: DirectorySubject,
}

impl Gate {
    /// Judges `ask` under `policy`; every refusal is a [`GateError`].
    pub async fn judge(&self, policy: &PolicySet, ask: Ask<'_>) -> Result<Allowed, GateError> {
        let m = policy
            .match_route(ask.host, &ask.path.matching)
            .ok_or(GateError::NoRoute)?;
        ask.path
            .check_ambiguity(m.route.settings.allow_ambiguous_paths)
            .map_err(|a| GateError::AmbiguousPath(a.to_string()))?;
        if m.route.require_fresh_directory && !self.dir.freshness().is_fresh() {
            return Err(GateError::StaleDirectory);
        }
        let caller = match self.authenticate(ask.headers).await {
            Ok(c) => c,
            Err(NoCaller::Anonymous) => {
                return Err(GateError::Unauthenticated {
                    login_return_to: ask.login_return_to.filter(|_| self.login_enabled),
                    reason: None,
                })
            }
            Err(NoCaller::Refused(e)) => {
                tracing::info!(error = %e, "credentials refused");
                return Err(GateError::Unauthenticated {
                    login_return_to: None,
                    reason: Some(e),
                });
            }
            Err(NoCaller::NotProvisioned) => {
                return Err(GateError::NotProvisioned {
                    browser: ask.browser,
                })
            }
        };
        let subject = DirectorySubject::new(&self.dir, caller.user.clone());
        let facts = RequestFacts {
            method: ask.method,
            path: &ask.path.matching,
        };
        let decision = policy.decide(&m, facts, &subject);
        let user = &caller.user;
        if !decision.allow {
            tracing::info!(user = %user.user_name, route = %m.route.name, rule = %decision.by.rule, "access denied");
            return Err(GateError::Forbidden(Box::new(Forbidden {
                browser: ask.browser,
                user_name: user.user_name.to_string(),
                method: ask.method.to_string(),
                path: ask.path.forward.clone(),
                allowing_groups: policy.allowing_groups(m.route, facts),
                by: decision.by,
            })));
        }
        tracing::debug!(user = %user.user_name, route = %m.route.name, rule = %decision.by.rule, "access allowed");
        Ok(Allowed {
            route: m.route.clone(),
            subject,
        })
    }
}
