//! The record formats: one constructor per kind of event, so every writer of a kind
//! says the same thing.
//!
//! | event | actor | action | target | detail |
//! |---|---|---|---|---|
//! | access decision | `user:<userName>` | `access.allow` / `access.deny` | `route:<name>` | method, path, rule, rule_location, directory_seq, request_id, user_id, client_ip |
//! | MCP message (see [`super::mcp`]) | `user:<userName>` | `mcp.allow` / `mcp.deny` | `route:<name>` | method, kind, tool / resource / prompt, rule, rule_location, request_id, user_id, client_ip |
//! | refused before a decision | `anonymous` (or `user:<name>`) | `access.deny` | `route:<name>` or `route:-` | method, path, reason, request_id, client_ip |
//! | refusals past the per-window sample | `anonymous` | `access.deny_aggregate` | `route:<name>` or `route:-` | reason, count, recorded_individually, window_start, window_end, samples |
//! | allows counted per window (`audit.decisions: sampled` or `deny`) | `user:<userName>` (`user:*` past `max_keys`) | `access.allow_aggregate` | `route:<name>` | user_id, count, recorded_individually, first_at, last_at, window_start, window_end |
//! | step-up asked for, and done | `user:<userName>` | `auth.step_up` | `route:<name>` | outcome (`required`: rule, rule_location, reason; `completed`: the first request after the new sign-in), method, path, via, max_age, acr_values, auth_age, acr, request_id, user_id, client_ip |
//! | session too old or idle for a route | `user:<userName>` | `auth.session_limit` | `route:<name>` | method, path, reason, via, request_id, user_id, client_ip |
//! | retention checkpoint | `system` | `audit.checkpoint` | `audit:chain` | through_seq, through_hash, digest, prev_through_seq, kept, pruned, cutoff |
//! | token created / revoked | `cli` or `admin:<name>` | `token.create` / `token.revoke` | `token:<name>` | scope (never the secret) |
//! | policy reload | `system` | `policy.reload` / `policy.reload_refused` | `policies` | digest, generation / error |
//! | queue overflow | `system` | `audit.overflow` | `audit:queue` | dropped (since the last such record), total |
//! | sink spool full | `system` | `audit.sink_dropped` | `audit:sink:<name>` | dropped, policy, total |
//!
//! Directory changes are written by the store with the change (see
//! `Change::audit_entry`): actor `scim:<token>`, action such as `user.create`, target
//! `User/<id>`, and the resource before and after.
//!
//! Client text is bounded ([`super::bounds`]): a path longer than `max_path_bytes` is
//! clipped and the record carries `path_bytes` (the full length) and `path_sha256`;
//! methods and request ids are clipped to fixed lengths.

use std::net::IpAddr;

use serde_json::{json, Value};

use super::bounds::{self, clip, keep_path};
use super::packed::PackedEntry;
use crate::record::AuditEntry;

/// Why a request was refused before the policy was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// No route matches the host and path.
    NoRoute,
    /// The path is ambiguous and the route does not accept that.
    AmbiguousPath,
    /// No credentials were presented.
    Unauthenticated,
    /// Credentials were presented and refused.
    CredentialsRefused,
    /// Credentials were presented but could not be judged: the identity provider (its
    /// signing keys) could not be reached.
    IdpUnavailable,
    /// The identity names no active directory user.
    NotProvisioned,
    /// The route needs a fresh directory and this replica is cut off from the store.
    StaleDirectory,
    /// A browser's icon request (`GET`/`HEAD`, not a navigation, of a path naming a
    /// favicon) that was refused (anonymous, or a signed-in user the route does not
    /// allow it): only ever counted, never recorded one by one ([`super::refusals`]).
    Icon,
}

impl DenyReason {
    /// Every reason, in [`DenyReason::index`] order.
    pub const ALL: [DenyReason; 8] = [
        DenyReason::NoRoute,
        DenyReason::AmbiguousPath,
        DenyReason::Unauthenticated,
        DenyReason::CredentialsRefused,
        DenyReason::IdpUnavailable,
        DenyReason::NotProvisioned,
        DenyReason::StaleDirectory,
        DenyReason::Icon,
    ];

    /// The reason's place in [`DenyReason::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::NoRoute => "no_route",
            DenyReason::AmbiguousPath => "ambiguous_path",
            DenyReason::Unauthenticated => "unauthenticated",
            DenyReason::CredentialsRefused => "credentials_refused",
            DenyReason::IdpUnavailable => "idp_unavailable",
            DenyReason::NotProvisioned => "not_provisioned",
            DenyReason::StaleDirectory => "stale_directory",
            DenyReason::Icon => "icon",
        }
    }
}

/// Where a request came from (for the record only).
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin {
    pub request_id: Option<String>,
    pub client_ip: Option<IpAddr>,
}

/// A policy decision on a request.
#[derive(Debug, Clone)]
pub struct DecisionRecord<'a> {
    pub at: i64,
    pub allow: bool,
    pub user_name: &'a str,
    pub user_id: &'a str,
    pub route: &'a str,
    pub method: &'a str,
    /// The normalised path the policy matched.
    pub path: &'a str,
    pub rule: &'a str,
    pub rule_location: &'a str,
    /// The directory sequence the user's groups were read at.
    pub directory_seq: u64,
    pub origin: &'a RequestOrigin,
}

fn entry(at: i64, actor: String, action: &str, target: String, detail: Value) -> AuditEntry {
    AuditEntry {
        at,
        actor,
        action: action.to_owned(),
        target,
        before: None,
        after: None,
        detail: Some(detail.to_string()),
    }
}

/// The detail of an access record, serialised straight from borrowed fields: this runs
/// on the request path, so no intermediate JSON tree. Fields in alphabetical order,
/// absent ones left out.
#[derive(serde::Serialize)]
struct AccessDetail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    directory_seq: Option<u64>,
    method: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_location: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

impl AccessDetail<'_> {
    /// About how long the detail's JSON is: every key and value with room for a few
    /// escapes (client text rarely has any).
    fn estimate(&self) -> usize {
        let text = |s: Option<&str>| s.map_or(0, |s| s.len() + 20);
        const FIXED: usize = 16 + 64;
        FIXED
            + self.client_ip.map_or(0, |_| 14 + 39)
            + self.directory_seq.map_or(0, |_| 18 + 20)
            + text(Some(self.method))
            + text(Some(self.path))
            + self.path_bytes.map_or(0, |_| 16 + 20)
            + text(self.path_sha256.as_deref())
            + text(self.reason)
            + text(self.request_id)
            + text(self.rule)
            + text(self.rule_location)
            + text(self.user_id)
    }
}

fn access_entry(
    at: i64,
    actor: String,
    action: &str,
    target: String,
    d: &AccessDetail<'_>,
) -> AuditEntry {
    AuditEntry {
        at,
        actor,
        action: action.to_owned(),
        target,
        before: None,
        after: None,
        // Serialising plain strings, numbers and addresses cannot fail.
        detail: serde_json::to_string(d).ok(),
    }
}

/// `access.allow` / `access.deny` for a decision the policy made (path clipped to
/// the default bound).
pub fn decision(r: &DecisionRecord<'_>) -> AuditEntry {
    decision_bounded(r, bounds::DEFAULT_MAX_PATH_BYTES)
}

/// [`decision`] with the path clipped to `max_path_bytes`.
pub fn decision_bounded(r: &DecisionRecord<'_>, max_path_bytes: usize) -> AuditEntry {
    decision_packed(r, max_path_bytes).view().to_entry()
}

/// [`decision_bounded`] as queued from the request path: the actor, target and detail
/// in one buffer, sized up front (one allocation unless client text needs escaping).
pub fn decision_packed(r: &DecisionRecord<'_>, max_path_bytes: usize) -> PackedEntry {
    let path = keep_path(r.path, max_path_bytes);
    let (path_bytes, path_sha256) = path.clipped.unzip();
    let detail = AccessDetail {
        client_ip: r.origin.client_ip,
        directory_seq: Some(r.directory_seq),
        method: clip(r.method, bounds::MAX_METHOD_BYTES),
        path: path.text,
        path_bytes,
        path_sha256,
        reason: None,
        request_id: request_id(r.origin),
        rule: Some(r.rule),
        rule_location: Some(r.rule_location),
        user_id: Some(r.user_id),
    };
    let capacity = "user:route:".len() + r.user_name.len() + r.route.len() + detail.estimate();
    PackedEntry::builder(
        r.at,
        if r.allow {
            "access.allow"
        } else {
            "access.deny"
        },
        capacity,
    )
    .actor(&["user:", r.user_name])
    .target(&["route:", r.route])
    .detail(&detail)
}

fn request_id(origin: &RequestOrigin) -> Option<&str> {
    origin
        .request_id
        .as_deref()
        .map(|id| clip(id, bounds::MAX_REQUEST_ID_BYTES))
}

/// Why the gate asked a signed-in caller to authenticate again on a route.
#[derive(Debug, Clone)]
pub struct ReauthRecord<'a> {
    pub at: i64,
    pub user_name: &'a str,
    pub user_id: &'a str,
    pub route: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// Why (times and context names only).
    pub reason: &'a str,
    /// `session` or `bearer`.
    pub via: &'a str,
    /// The step-up rule and what it asks; `None` for a session limit.
    pub step_up: Option<StepUpAsked<'a>>,
    pub origin: &'a RequestOrigin,
}

/// What a step-up rule asked of the caller's sign-in, and what it had.
#[derive(Debug, Clone)]
pub struct StepUpAsked<'a> {
    /// `required` (the rule is not met) or `completed` (a sign-in answered the ask).
    pub outcome: &'a str,
    /// The rule not met (`required` only).
    pub rule: Option<&'a str>,
    pub rule_location: Option<&'a str>,
    pub max_age: Option<u64>,
    pub acr_values: &'a [std::sync::Arc<str>],
    /// Seconds since the caller's sign-in, when known.
    pub auth_age: Option<u64>,
    pub acr: Option<&'a str>,
}

/// `auth.step_up` (a step-up rule asked for a newer or stronger sign-in) or
/// `auth.session_limit` (the session is too old or idle for the route).
pub fn reauth(r: &ReauthRecord<'_>) -> AuditEntry {
    let path = keep_path(r.path, bounds::DEFAULT_MAX_PATH_BYTES);
    let mut detail = json!({
        "method": clip(r.method, bounds::MAX_METHOD_BYTES),
        "path": path.text,
        "reason": r.reason,
        "via": r.via,
        "user_id": r.user_id,
        "request_id": request_id(r.origin),
        "client_ip": r.origin.client_ip,
    });
    let action = match &r.step_up {
        Some(s) => {
            detail["outcome"] = json!(s.outcome);
            detail["rule"] = json!(s.rule);
            detail["rule_location"] = json!(s.rule_location);
            detail["max_age"] = json!(s.max_age);
            detail["acr_values"] = json!(s.acr_values.iter().map(|a| &**a).collect::<Vec<_>>());
            detail["auth_age"] = json!(s.auth_age);
            detail["acr"] = json!(s.acr);
            "auth.step_up"
        }
        None => "auth.session_limit",
    };
    entry(
        r.at,
        format!("user:{}", r.user_name),
        action,
        format!("route:{}", r.route),
        detail,
    )
}

/// `access.deny` for a request refused before a decision (no route, no or bad
/// credentials, not provisioned). `user_name` when the caller is known. The path is
/// clipped to the default bound.
#[allow(clippy::too_many_arguments)]
pub fn refusal(
    at: i64,
    reason: DenyReason,
    user_name: Option<&str>,
    route: Option<&str>,
    method: &str,
    path: &str,
    origin: &RequestOrigin,
) -> AuditEntry {
    refusal_bounded(
        at,
        reason,
        user_name,
        route,
        method,
        path,
        origin,
        bounds::DEFAULT_MAX_PATH_BYTES,
    )
}

/// [`refusal`] with the path clipped to `max_path_bytes`.
#[allow(clippy::too_many_arguments)]
pub fn refusal_bounded(
    at: i64,
    reason: DenyReason,
    user_name: Option<&str>,
    route: Option<&str>,
    method: &str,
    path: &str,
    origin: &RequestOrigin,
    max_path_bytes: usize,
) -> AuditEntry {
    let path = keep_path(path, max_path_bytes);
    let (path_bytes, path_sha256) = path.clipped.unzip();
    access_entry(
        at,
        user_name.map_or_else(|| "anonymous".to_owned(), |u| format!("user:{u}")),
        "access.deny",
        format!("route:{}", route.unwrap_or("-")),
        &AccessDetail {
            client_ip: origin.client_ip,
            directory_seq: None,
            method: clip(method, bounds::MAX_METHOD_BYTES),
            path: path.text,
            path_bytes,
            path_sha256,
            reason: Some(reason.as_str()),
            request_id: request_id(origin),
            rule: None,
            rule_location: None,
            user_id: None,
        },
    )
}

/// One refused request kept as an example in an aggregate (client text clipped).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefusalSample {
    pub method: String,
    pub path: String,
    /// The full path's length, when `path` was clipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl RefusalSample {
    /// A sample of a refused request, clipped like a record.
    pub fn new(method: &str, path: &str, origin: &RequestOrigin, max_path_bytes: usize) -> Self {
        let kept = clip(path, max_path_bytes);
        RefusalSample {
            method: clip(method, bounds::MAX_METHOD_BYTES).to_owned(),
            path: kept.to_owned(),
            path_bytes: (kept.len() < path.len()).then_some(path.len()),
            client_ip: origin.client_ip,
            request_id: request_id(origin).map(str::to_owned),
        }
    }
}

/// What an aggregate record of anonymous refusals says.
#[derive(Debug, Clone)]
pub struct RefusalAggregate<'a> {
    pub at: i64,
    pub reason: DenyReason,
    /// The route, `None` when no route matched.
    pub route: Option<&'a str>,
    /// Refusals counted here (not recorded one by one).
    pub count: u64,
    /// Refusals of the same key and window recorded one by one before these.
    pub recorded_individually: u64,
    /// Unix milliseconds: the window these were counted in.
    pub window_start: i64,
    pub window_end: i64,
    pub samples: &'a [RefusalSample],
}

/// `access.deny_aggregate`: anonymous refusals of one (route, reason) in one window,
/// past those recorded one by one.
pub fn refusal_aggregate(a: &RefusalAggregate<'_>) -> AuditEntry {
    entry(
        a.at,
        "anonymous".into(),
        "access.deny_aggregate",
        format!("route:{}", a.route.unwrap_or("-")),
        json!({
            "reason": a.reason.as_str(),
            "count": a.count,
            "recorded_individually": a.recorded_individually,
            "window_start": a.window_start,
            "window_end": a.window_end,
            "samples": a.samples,
        }),
    )
}

/// What an aggregate record of allows says.
#[derive(Debug, Clone)]
pub struct AllowAggregate<'a> {
    pub at: i64,
    pub route: &'a str,
    /// `*` for the allows past the window's key cap.
    pub user_name: &'a str,
    /// `None` for the allows past the window's key cap.
    pub user_id: Option<&'a str>,
    /// Allows counted in the window (including those also recorded on their own).
    pub count: u64,
    /// How many of them were also recorded on their own (`access.allow`).
    pub recorded_individually: u64,
    /// Unix milliseconds: the first and the last allow counted.
    pub first_at: i64,
    pub last_at: i64,
    /// Unix milliseconds: the window they were counted in.
    pub window_start: i64,
    pub window_end: i64,
}

/// `access.allow_aggregate`: the allows of one user on one route in one window.
pub fn allow_aggregate(a: &AllowAggregate<'_>) -> AuditEntry {
    let mut detail = json!({
        "count": a.count,
        "recorded_individually": a.recorded_individually,
        "first_at": a.first_at,
        "last_at": a.last_at,
        "window_start": a.window_start,
        "window_end": a.window_end,
    });
    if let (Some(id), Some(map)) = (a.user_id, detail.as_object_mut()) {
        map.insert("user_id".into(), id.into());
    }
    entry(
        a.at,
        format!("user:{}", a.user_name),
        "access.allow_aggregate",
        format!("route:{}", a.route),
        detail,
    )
}

/// Who handled a token: `cli` or `admin:<name>`.
pub fn token_event(at: i64, actor: &str, created: bool, name: &str, scope: &str) -> AuditEntry {
    entry(
        at,
        actor.to_owned(),
        if created {
            "token.create"
        } else {
            "token.revoke"
        },
        format!("token:{name}"),
        json!({ "scope": scope }),
    )
}

/// `policy.reload` (accepted) or `policy.reload_refused` (with the error).
pub fn policy_reload(at: i64, outcome: Result<(&str, u64), &str>) -> AuditEntry {
    match outcome {
        Ok((digest, generation)) => entry(
            at,
            "system".into(),
            "policy.reload",
            "policies".into(),
            json!({ "digest": digest, "generation": generation }),
        ),
        Err(error) => entry(
            at,
            "system".into(),
            "policy.reload_refused",
            "policies".into(),
            json!({ "error": error }),
        ),
    }
}

/// `audit.overflow`: decisions that found the queue full since the last such record.
pub fn overflow(at: i64, dropped: u64, total: u64) -> AuditEntry {
    entry(
        at,
        "system".into(),
        "audit.overflow",
        "audit:queue".into(),
        json!({ "dropped": dropped, "total": total }),
    )
}

/// The action of a sink's loss record.
pub const SINK_DROPPED: &str = "audit.sink_dropped";

/// The target of a sink's loss records: `audit:sink:<name>`.
pub fn sink_target(sink: &str) -> String {
    format!("audit:sink:{sink}")
}

/// `audit.sink_dropped`: records a sink discarded because its spool was full.
pub fn sink_dropped(at: i64, sink: &str, dropped: u64, total: u64, policy: &str) -> AuditEntry {
    entry(
        at,
        "system".into(),
        SINK_DROPPED,
        sink_target(sink),
        json!({ "dropped": dropped, "total": total, "policy": policy }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_detail_holds_what_was_judged() {
        let origin = RequestOrigin {
            request_id: Some("r-1".into()),
            client_ip: Some("10.0.0.9".parse().unwrap()),
        };
        let e = decision(&DecisionRecord {
            at: 5,
            allow: false,
            user_name: "ann",
            user_id: "u1",
            route: "docs",
            method: "GET",
            path: "/a",
            rule: "deny[0]",
            rule_location: "p.yaml:3",
            directory_seq: 42,
            origin: &origin,
        });
        assert_eq!(
            (e.actor.as_str(), e.action.as_str(), e.target.as_str()),
            ("user:ann", "access.deny", "route:docs")
        );
        let d: Value = serde_json::from_str(e.detail.as_deref().unwrap()).unwrap();
        assert_eq!(d["directory_seq"], 42);
        assert_eq!(d["rule"], "deny[0]");
        assert_eq!(d["client_ip"], "10.0.0.9");
        assert_eq!(d["request_id"], "r-1");
    }

    #[test]
    fn refusal_is_anonymous_without_a_user() {
        let e = refusal(
            1,
            DenyReason::NoRoute,
            None,
            None,
            "GET",
            "/x",
            &RequestOrigin::default(),
        );
        assert_eq!(
            (e.actor.as_str(), e.target.as_str()),
            ("anonymous", "route:-")
        );
        assert!(e.detail.unwrap().contains("\"no_route\""));
    }
}
