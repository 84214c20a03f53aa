//! The access requests API for scripts, at `/.scimgate/api/access-requests`.
//!
//! A user calls it with their bearer JWT (checked as for proxied API calls,
//! `gate::caller`; a session cookie is not accepted, so no form of another site can
//! call it): they list their requests, those they may approve and what they may
//! request, ask, approve, deny, revoke and cancel. An admin token (`scimgate token
//! create --scope admin`) may list every request and revoke a grant. Bodies are JSON
//! within [`MAX_BODY`]; failures are answered in one place ([`error`]).

pub mod error;
pub mod view;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::access::{Access, AccessRequest, Actor, NewRequest};
use crate::directory::Directory;
use crate::gate::caller::{Callers, NoCaller};
use crate::policy::requestable::parse_duration;
use crate::policy::{DirectorySubject, Subject};
use crate::scim::ScimState;
use error::ApiError;

/// The largest request body (a reason or comment is at most 1 KiB).
pub const MAX_BODY: usize = 16 * 1024;

/// What the API reads.
pub struct AccessApi {
    pub access: Arc<Access>,
    pub callers: Arc<Callers>,
    pub dir: Arc<Directory>,
    /// Admin tokens are checked as the admin API checks them.
    pub scim: ScimState,
}

/// The routes (nest under `/.scimgate`).
pub fn routes(state: AccessApi) -> Router {
    Router::new()
        .route("/api/access-requests", get(list).post(create))
        .route("/api/access-requests/{id}", get(show))
        .route("/api/access-requests/{id}/{action}", post(act))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Arc::new(state))
}

/// Who is calling.
enum Who {
    User(DirectorySubject),
    Admin(String),
}

async fn who(api: &AccessApi, headers: &HeaderMap) -> Result<Who, ApiError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::Unauthenticated(
                "send Authorization: Bearer <token> (your identity provider's JWT, or an admin token)"
                    .into(),
            )
        })?;
    let presented = authorization
        .split_once(' ')
        .filter(|(kind, _)| kind.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .ok_or_else(|| ApiError::Unauthenticated("use the Bearer scheme".into()))?;
    if presented.starts_with(crate::tokens::PREFIX) {
        return match crate::scim::auth::admin_token(&api.scim, authorization).await {
            Ok(name) => Ok(Who::Admin(name)),
            Err(crate::scim::ScimError::Unauthorized(f)) => {
                Err(ApiError::Unauthenticated(f.to_string()))
            }
            Err(crate::scim::ScimError::Forbidden(m)) => Err(ApiError::Forbidden(m)),
            Err(_) => Err(ApiError::Unavailable),
        };
    }
    match api.callers.authenticate(headers).await {
        Ok(caller) => Ok(Who::User(DirectorySubject::new(&api.dir, caller.user))),
        Err(NoCaller::NotProvisioned) => Err(ApiError::Forbidden(
            "the token names no active directory user".into(),
        )),
        Err(NoCaller::Refused(_)) | Err(NoCaller::Anonymous) => Err(ApiError::Unauthenticated(
            "the bearer token was refused".into(),
        )),
    }
}

fn ok(status: StatusCode, body: Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

/// The body as a JSON object (an empty body is an empty object).
fn object(body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        )),
        Err(e) => Err(ApiError::BadRequest(format!("the body is not JSON: {e}"))),
    }
}

/// An optional string member.
fn text(m: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::BadRequest(format!("`{key}` must be a string"))),
    }
}

/// `duration`: `"4h"`, `"90m"`, `"45s"`, or a number of seconds.
fn duration(m: &serde_json::Map<String, Value>) -> Result<Duration, ApiError> {
    match m.get("duration") {
        Some(Value::String(s)) => parse_duration(s).map_err(ApiError::BadRequest),
        Some(Value::Number(n)) => n.as_u64().map(Duration::from_secs).ok_or_else(|| {
            ApiError::BadRequest("`duration` in seconds must be a whole number".into())
        }),
        _ => Err(ApiError::BadRequest(
            "`duration` is required: e.g. \"4h\", \"90m\" or a number of seconds".into(),
        )),
    }
}

/// `GET`: a user's requests, those they may approve and what they may request; for
/// an admin token, every request.
async fn list(State(api): State<Arc<AccessApi>>, headers: HeaderMap) -> Result<Response, ApiError> {
    Ok(match who(&api, &headers).await? {
        Who::Admin(_) => ok(
            StatusCode::OK,
            json!({ "requests": view::requests(&api.access.all_requests()) }),
        ),
        Who::User(me) => {
            let offers: Vec<Value> = api.access.offers(&me).iter().map(view::offer).collect();
            ok(
                StatusCode::OK,
                json!({
                    "requests": view::requests(&api.access.requests_of(me.id())),
                    "to_approve": view::requests(&api.access.pending_for(&me)),
                    "offers": offers,
                }),
            )
        }
    })
}

/// `POST`: asks for `{route, group, duration, reason}`.
async fn create(
    State(api): State<Arc<AccessApi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Who::User(me) = who(&api, &headers).await? else {
        return Err(ApiError::Forbidden(
            "an admin token may list and revoke, not request".into(),
        ));
    };
    let m = object(&body)?;
    let need = |key: &str| {
        text(&m, key)?.ok_or_else(|| ApiError::BadRequest(format!("`{key}` is required")))
    };
    let new = NewRequest {
        route: need("route")?,
        group: need("group")?,
        duration: duration(&m)?,
        reason: text(&m, "reason")?,
    };
    let req = api.access.request(&me, new).await?;
    Ok(ok(StatusCode::CREATED, view::request(&req)))
}

/// Whether `me` may see `req`: theirs, or one they voted on or may approve.
fn visible(api: &AccessApi, me: &DirectorySubject, req: &AccessRequest) -> bool {
    req.requester_id == me.id()
        || req.verdicts().any(|v| v.approver_id == me.id())
        || api.access.may_approve(me, req)
}

/// `GET /{id}`.
async fn show(
    State(api): State<Arc<AccessApi>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = who(&api, &headers).await?;
    let req = api.access.get(&id).ok_or(ApiError::NotFound)?;
    if let Who::User(me) = &caller {
        if !visible(&api, me, &req) {
            return Err(ApiError::NotFound);
        }
    }
    Ok(ok(StatusCode::OK, view::request(&req)))
}

/// `POST /{id}/approve|deny|revoke|cancel`, with an optional `{comment}`.
async fn act(
    State(api): State<Arc<AccessApi>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = who(&api, &headers).await?;
    let m = object(&body)?;
    let comment = text(&m, "comment")?;
    let req = match (&caller, action.as_str()) {
        (Who::Admin(token), "revoke") => {
            let actor = Actor::Admin {
                token: token.clone(),
            };
            api.access.revoke(actor, &id, comment).await?
        }
        (Who::Admin(_), "approve" | "deny" | "cancel") => {
            return Err(ApiError::Forbidden(
                "an admin token may list and revoke; approvals are made by people".into(),
            ))
        }
        (Who::User(me), "approve") => api.access.approve(me, &id, comment).await?,
        (Who::User(me), "deny") => api.access.deny(me, &id, comment).await?,
        (Who::User(me), "revoke") => api.access.revoke(Actor::User(me), &id, comment).await?,
        (Who::User(me), "cancel") => api.access.cancel(me, &id).await?,
        _ => {
            return Err(ApiError::BadRequest(format!(
                "unknown action `{action}`: approve, deny, revoke or cancel"
            )))
        }
    };
    Ok(ok(StatusCode::OK, view::request(&req)))
}
