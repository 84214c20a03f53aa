//! `POST /.scimgate/admin/v1/decide` (admin token): the live decision for one user and
//! one request, judged on the live directory and policy, without calling an upstream.
//!
//! Body: `{"user": "<userName>", "method": "GET", "url": "https://host/path"}` (a bare
//! `/path` matches host-less routes). Answer (200): `allow`, the deciding `route`,
//! `rule` and its `location`, the `user` as the directory holds it (`found`, `active`,
//! effective `groups`), the groups that would be allowed when denied, and the
//! directory `seq` it was judged on. The path is normalised as the proxy does; a path
//! the proxy would refuse is a denial by `bad-path`. This is what `scimgate doctor`
//! checks, and a way to ask "why" without sending the request. A body that is not a
//! decide request is a SCIM error (400), as every refusal of the admin API is.

use std::sync::Arc;

use axum::body::Bytes;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::directory::Directory;
use crate::path::normalise;
use crate::policy::reload::PolicyHandle;
use crate::policy::request::{method_of, split_url};
use crate::policy::{
    Decision, DirectorySubject, RequestFacts, BAD_PATH, INACTIVE_USER, NO_ROUTE, UNKNOWN_USER,
};
use crate::scim::scim_type::ScimType;
use crate::scim::ScimError;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    pub user: String,
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
}

fn default_method() -> String {
    "GET".to_owned()
}

/// The user as the decision saw them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DecidedUser {
    pub user_name: String,
    pub found: bool,
    pub active: bool,
    /// Effective groups (direct and inherited), sorted.
    pub groups: Vec<String>,
}

/// The answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct DecideResponse {
    pub allow: bool,
    /// The route that decided (`null` when none matched).
    pub route: Option<String>,
    pub rule: String,
    pub location: Option<String>,
    pub user: DecidedUser,
    /// When denied: groups whose members this request would be allowed for.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// The directory sequence the decision was judged on.
    pub seq: u64,
}

/// Why a decide request was refused.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("the body is not a decide request: {0}")]
    Body(#[source] serde_json::Error),
    #[error("{0}")]
    Request(String),
}

/// The admin API answers in SCIM's error form (RFC 7644 §3.12), like its token check.
impl From<DecideError> for ScimError {
    fn from(e: DecideError) -> Self {
        let scim_type = match e {
            DecideError::Body(_) => ScimType::InvalidSyntax,
            DecideError::Request(_) => ScimType::InvalidValue,
        };
        ScimError::bad(scim_type, e.to_string())
    }
}

/// What a decision is judged on: the live directory and policies (built by the
/// composition root).
pub struct DecideState {
    dir: Arc<Directory>,
    policy: Arc<PolicyHandle>,
}

impl DecideState {
    pub fn new(dir: Arc<Directory>, policy: Arc<PolicyHandle>) -> Self {
        DecideState { dir, policy }
    }
}

/// The route (nest it beside the admin API, behind its token check).
pub fn routes<S: Clone + Send + Sync + 'static>(state: Arc<DecideState>) -> Router<S> {
    Router::new().route(
        "/decide",
        post(move |body: Bytes| {
            let state = state.clone();
            async move {
                match decide_body(&state, &body) {
                    Ok(answer) => Json(answer).into_response(),
                    Err(e) => ScimError::from(e).into_response(),
                }
            }
        }),
    )
}

fn decide_body(state: &DecideState, body: &[u8]) -> Result<DecideResponse, DecideError> {
    let req: DecideRequest = serde_json::from_slice(body).map_err(DecideError::Body)?;
    decide(state, &req)
}

/// Judges `req` on the current directory and policy.
pub fn decide(state: &DecideState, req: &DecideRequest) -> Result<DecideResponse, DecideError> {
    let method = method_of(&req.method).map_err(DecideError::Request)?;
    let (host, raw_path) = split_url(&req.url).map_err(DecideError::Request)?;
    let policy = state.policy.current();
    let seq = state.dir.seq();
    let record = state.dir.user_by_name(&req.user);
    let subject = record
        .as_ref()
        .filter(|u| u.active)
        .map(|u| DirectorySubject::new(&state.dir, u.clone()));
    let user = DecidedUser {
        user_name: record
            .as_ref()
            .map_or_else(|| req.user.clone(), |u| u.user_name.to_string()),
        found: record.is_some(),
        active: record.as_ref().is_some_and(|u| u.active),
        groups: match &record {
            Some(u) => DirectorySubject::new(&state.dir, u.clone()).group_names(),
            None => Vec::new(),
        },
    };
    let refused = |rule: &str, route: Option<String>| DecideResponse {
        allow: false,
        route,
        rule: rule.to_owned(),
        location: None,
        user: user.clone(),
        allowed_groups: Vec::new(),
        seq,
    };
    let path = match normalise(raw_path) {
        Ok(p) => p,
        Err(_) => return Ok(refused(BAD_PATH, None)),
    };
    let Some(m) = policy.match_route(host, &path.matching) else {
        return Ok(refused(NO_ROUTE, None));
    };
    let route_name = Some(m.route.name.to_string());
    if path
        .check_ambiguity(m.route.settings.allow_ambiguous_paths)
        .is_err()
    {
        return Ok(refused(BAD_PATH, route_name));
    }
    let facts = RequestFacts {
        method: &method,
        path: &path.matching,
    };
    let decision: Decision = match (&record, &subject) {
        (None, _) => m.route.deny_by(UNKNOWN_USER),
        (Some(_), None) => m.route.deny_by(INACTIVE_USER),
        (Some(_), Some(subject)) => policy.decide(&m, facts, subject),
    };
    let allowed_groups = if decision.allow {
        Vec::new()
    } else {
        policy
            .allowing_groups(m.route, facts)
            .iter()
            .map(|g| g.to_string())
            .collect()
    };
    Ok(DecideResponse {
        allow: decision.allow,
        route: route_name,
        rule: decision.by.rule.to_string(),
        location: Some(decision.by.location.to_string()),
        user,
        allowed_groups,
        seq,
    })
}
