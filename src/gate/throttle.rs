//! What the gate does around a policy decision besides deciding: the route's rate
//! limit ([`super::limits`]) and the shadow set's opinion ([`crate::policy::shadow`]).
//! Both are counted in the metrics and aggregated in the audit log (one record per
//! key and window, [`crate::audit::tally`]), never one record per request.

use std::sync::Arc;

use super::error::GateError;
use super::limits::Admitted;
use super::Gate;
use crate::audit::tally::TallyKey;
use crate::policy::rate_limit::RateLimits;
use crate::policy::{Decision, RequestFacts, Subject};
use crate::record::UserRecord;

/// The audit action of requests refused by a rate limit.
pub const RATE_LIMITED: &str = "access.rate_limited";
/// The audit action of decisions the shadow set would make otherwise.
pub const SHADOW_DIFFERENCE: &str = "policy.shadow_difference";

impl Gate {
    /// Takes a token from each of the route's buckets that apply to `user`, or
    /// refuses (429), counting the refusal.
    pub(super) fn limit(
        &self,
        route: &Arc<str>,
        limits: &RateLimits,
        user: &UserRecord,
    ) -> Result<Admitted, GateError> {
        self.limiter
            .admit(route, limits, &user.id, user.user_type.as_deref())
            .map_err(|refused| {
                let scope = refused.standing.scope.label();
                self.metrics.rate_limited(route, scope);
                self.audit.tally(TallyKey {
                    action: RATE_LIMITED,
                    actor: format!("user:{}", user.user_name),
                    target: format!("route:{route}"),
                    fields: vec![("scope", scope.to_owned())],
                });
                tracing::debug!(user = %user.user_name, route = %route, scope, "rate limited");
                GateError::RateLimited(Box::new(refused))
            })
    }

    /// Asks the shadow set (if any) about the same request; a difference is counted,
    /// aggregated in the audit log and noted for the admin UI.
    pub(super) fn shadow_compare(
        &self,
        host: &str,
        req: RequestFacts<'_>,
        subject: &dyn Subject,
        live: &Decision,
    ) {
        let Some(shadow) = &self.shadow else {
            return;
        };
        let Some(diff) = shadow.judge(host, req, subject, live) else {
            return;
        };
        let kind = diff.kind.label();
        self.metrics.shadow_difference(&live.by.route, kind);
        self.audit.tally(TallyKey {
            action: SHADOW_DIFFERENCE,
            actor: format!("user:{}", subject.user_name()),
            target: format!("route:{}", live.by.route),
            fields: vec![
                ("kind", kind.to_owned()),
                ("method", req.method.to_string()),
                ("live_rule", diff.live.rule.to_string()),
                ("live_location", diff.live.location.to_string()),
                ("shadow_route", diff.shadow.route.to_string()),
                ("shadow_rule", diff.shadow.rule.to_string()),
                ("shadow_location", diff.shadow.location.to_string()),
            ],
        });
        shadow.note(&diff, subject.user_name(), self.audit.now_ms());
    }
}
