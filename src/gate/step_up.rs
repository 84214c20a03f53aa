//! What a route asks of the caller's authentication once the policy allowed the
//! request: its session limits (a browser session too old or idle for the route signs
//! in again; other routes still accept it) and its step-up rules (a sign-in too old
//! or of another `acr` is sent through the provider again, or answered 401
//! `insufficient_user_authentication`). Each such refusal is an audit record
//! (`auth.session_limit`, `auth.step_up` `required`); a request that passes marks the
//! session as used now, and the first one after a step-up sign-in records it
//! (`auth.step_up` `completed`).

use super::caller::{Caller, Via};
use super::error::{GateError, StepUpChallenge};
use super::judge::Ask;
use super::Gate;
use crate::audit::records::{reauth, ReauthRecord, StepUpAsked};
use crate::policy::step_up::AuthFacts;
use crate::policy::{RequestFacts, Route};

impl Gate {
    /// Refuses an allowed request whose caller's session or sign-in falls short of
    /// what `route` asks ([`crate::policy::step_up`]); else notes the session's use.
    pub(super) fn check_authentication(
        &self,
        route: &Route,
        ask: &Ask<'_>,
        facts: RequestFacts<'_>,
        caller: &Caller,
    ) -> Result<(), GateError> {
        let now_ms = self.audit.now_ms();
        let auth = &route.auth;
        let login_return_to = || {
            ask.login_return_to
                .clone()
                .filter(|_| self.login_enabled && caller.via == Via::Session)
        };
        let record = |reason: &str, step_up: Option<StepUpAsked<'_>>| {
            self.audit.record(reauth(&ReauthRecord {
                at: now_ms,
                user_name: &caller.user.user_name,
                user_id: &caller.user.id,
                route: &route.name,
                method: facts.method.as_str(),
                path: facts.path,
                reason,
                via: match caller.via {
                    Via::Session => "session",
                    Via::Bearer => "bearer",
                },
                step_up,
                origin: ask.origin,
            }));
        };
        if let Some((_, session)) = &caller.session {
            let age = now_ms.saturating_sub(session.created_ms);
            let idle = now_ms.saturating_sub(session.last_seen_ms);
            if let Some(reason) = auth.session_refusal(age, idle) {
                tracing::info!(user = %caller.user.user_name, route = %route.name, %reason, "session limit: sign in again");
                record(&reason, None);
                return Err(GateError::SessionLimit {
                    login_return_to: login_return_to(),
                    reason,
                });
            }
        }
        let sign_in = caller.sign_in.as_ref();
        let had = AuthFacts {
            now: now_ms.div_euclid(1000),
            auth_time: sign_in.and_then(|s| s.auth_time),
            acr: sign_in.and_then(|s| s.acr.as_deref()),
        };
        if let Some(needed) = auth.check(facts, &had) {
            tracing::info!(user = %caller.user.user_name, route = %route.name, rule = %needed.rule, reason = %needed.reason, "step-up sign-in required");
            record(
                &needed.reason,
                Some(StepUpAsked {
                    outcome: "required",
                    rule: Some(&needed.rule),
                    rule_location: Some(&needed.location),
                    max_age: needed.max_age.map(|d| d.as_secs()),
                    acr_values: &needed.acr_values,
                    auth_age: had.auth_age_seconds(),
                    acr: had.acr,
                }),
            );
            return Err(GateError::StepUp(Box::new(StepUpChallenge {
                needed,
                login_return_to: login_return_to(),
            })));
        }
        if let Some((token, _)) = &caller.session {
            if let Some(done) = self.sessions.touch(token) {
                let acr_values: Vec<std::sync::Arc<str>> =
                    done.acr_values.iter().map(|a| a.as_str().into()).collect();
                record(
                    "a new sign-in answered the step-up",
                    Some(StepUpAsked {
                        outcome: "completed",
                        rule: None,
                        rule_location: None,
                        max_age: done.max_age,
                        acr_values: &acr_values,
                        auth_age: had.auth_age_seconds(),
                        acr: had.acr,
                    }),
                );
            }
        }
        Ok(())
    }
}
