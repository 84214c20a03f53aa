//! The SCIM resource handlers: read, list, create, replace, patch and delete Users and
//! Groups. Reads and deletes are shared (generic over [`Kind`]); writes live in
//! `users.rs` and `groups.rs`. Changes go to the directory writer and are answered once
//! durable. Work that grows with a page, a group or a body (listings, large groups,
//! large bodies) runs off the async workers, on the page pool or in a scan slot.

mod groups;
mod users;

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::Value;

pub(in crate::scim) use groups::{create_group, patch_group, replace_group};
pub(in crate::scim) use users::{create_user, patch_user, replace_user};

use super::body::{parse_json, read_body};
use super::error::SCIM_CONTENT_TYPE;
use super::query::{list as list_resources, list_all, plan, ListParams};
use super::render::{etag, group_json, user_json, Ctx};
use super::scan::Deadline;
use super::schema::ResourceKind;
use super::{ScimError, ScimState};
use crate::directory::writer::{Command, Outcome};
use crate::directory::{Directory, DirectoryError};
use crate::record::Actor;

/// A JSON response with the SCIM media type.
pub(super) fn scim_json(status: StatusCode, body: Value) -> Response {
    scim_text(status, body.to_string())
}

/// A response with the SCIM media type whose JSON text is already written.
fn scim_text(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    resp
}

/// The SCIM base URL for locations: configured, else from the request's Host.
pub(super) fn base_url(state: &ScimState, headers: &HeaderMap) -> String {
    if let Some(b) = &state.0.cfg.base_url {
        return format!("{b}/scim/v2");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    let scheme = if state.0.tls { "https" } else { "http" };
    format!("{scheme}://{host}/scim/v2")
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn with_etag(mut resp: Response, version: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

fn not_modified(headers: &HeaderMap, version: u64) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let tag = etag(version);
            v.split(',').map(str::trim).any(|t| t == "*" || t == tag)
        })
}

/// Groups with more members than this are rendered on the page pool, not the worker.
const INLINE_MEMBERS: usize = 256;
/// Request bodies larger than this are parsed on the page pool, not the worker.
const INLINE_BODY_BYTES: usize = 64 * 1024;

/// A rendered resource: its JSON text, version and location.
struct Rendered {
    text: String,
    version: u64,
    location: String,
}

fn render_resource(
    dir: &Directory,
    base: &str,
    kind: ResourceKind,
    outcome: &Outcome,
    params: &ListParams,
) -> Option<Rendered> {
    let ctx = Ctx { dir, base };
    let (body, version, location) = match outcome {
        Outcome::User(u) => (
            user_json(&ctx, u, params.wants("groups")),
            u.version,
            format!("{base}/Users/{}", u.id),
        ),
        Outcome::Group(g) => (
            group_json(&ctx, g, params.wants("members")),
            g.version,
            format!("{base}/Groups/{}", g.id),
        ),
        Outcome::Deleted => return None,
    };
    Some(Rendered {
        text: params.project(kind, body).to_string(),
        version,
        location,
    })
}

/// Answers with the resource a read or change produced: rendered on this worker, or
/// on the page pool for a group with many members.
async fn resource_response(
    state: &ScimState,
    headers: &HeaderMap,
    kind: ResourceKind,
    status: StatusCode,
    outcome: Outcome,
    params: ListParams,
) -> Result<Response, ScimError> {
    let base = base_url(state, headers);
    let dir = state.0.dir.clone();
    let large = match &outcome {
        Outcome::Group(g) => params.wants("members") && dir.member_count(g.ord) > INLINE_MEMBERS,
        _ => false,
    };
    let render = move || render_resource(&dir, &base, kind, &outcome, &params);
    let rendered = if large {
        state.0.pages.run(None, move || Ok(render())).await?
    } else {
        render()
    };
    let Some(r) = rendered else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut resp = with_etag(scim_text(status, r.text), r.version);
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&r.location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    Ok(resp)
}

fn params(q: &HashMap<String, String>) -> Result<ListParams, ScimError> {
    ListParams::from_query(q)
}

async fn submit(state: &ScimState, actor: Actor, cmd: Command) -> Result<Outcome, ScimError> {
    Ok(state.0.writer.submit(actor, cmd).await?)
}

/// Submits a change and answers with the resource it produced.
async fn submit_and_render(
    state: &ScimState,
    headers: &HeaderMap,
    actor: Actor,
    cmd: Command,
    kind: ResourceKind,
    status: StatusCode,
    p: &ListParams,
) -> Result<Response, ScimError> {
    let out = submit(state, actor, cmd).await?;
    resource_response(state, headers, kind, status, out, p.clone()).await
}

/// Reads a JSON request body within the configured size cap; a large one is parsed on
/// the page pool.
async fn body_json(state: &ScimState, headers: &HeaderMap, body: Body) -> Result<Value, ScimError> {
    let bytes = read_body(headers, body, state.0.cfg.max_body_bytes).await?;
    if bytes.len() <= INLINE_BODY_BYTES {
        return parse_json(&bytes);
    }
    state.0.pages.run(None, move || parse_json(&bytes)).await
}

/// The stored body with its `id`, so PATCH can refuse an attempt to change the id.
fn stored_with_id(body: &str, id: &str) -> Result<Value, DirectoryError> {
    let mut resource: Value = serde_json::from_str(body).map_err(rejected)?;
    if let Some(obj) = resource.as_object_mut() {
        obj.insert("id".into(), Value::from(id));
    }
    Ok(resource)
}

fn strip_id(resource: &mut Value) {
    if let Some(obj) = resource.as_object_mut() {
        obj.remove("id");
        obj.remove("meta");
    }
}

/// A change refused while being computed inside the writer (invalid PATCH, bad body).
fn rejected(e: impl std::error::Error + Send + Sync + 'static) -> DirectoryError {
    DirectoryError::Rejected(Box::new(e))
}

/// Answers a listing: on the page pool when an index bounds it, else as a scan
/// (within the scan slots and deadline). Either way off the async workers, and the
/// JSON text is written there too.
async fn answer_list(
    state: &ScimState,
    headers: &HeaderMap,
    kind: ResourceKind,
    p: ListParams,
) -> Result<Response, ScimError> {
    let base = base_url(state, headers);
    let dir = state.0.dir.clone();
    let plan = plan(&dir, &state.0.cfg, kind, &p)?;
    let inline = plan.inline();
    let hold = p.filter.clone();
    let cfg = state.0.cfg.clone();
    let work = move |deadline: &Deadline| {
        let ctx = Ctx {
            dir: &dir,
            base: &base,
        };
        list_resources(&ctx, &cfg, &plan, &p, deadline).map(|v| v.to_string())
    };
    let body = if inline {
        let pages = &state.0.pages;
        pages.run(hold, move || work(&Deadline::none())).await?
    } else {
        state.0.scans.run(hold, work).await?
    };
    Ok(scim_text(StatusCode::OK, body))
}

async fn search_params(
    state: &ScimState,
    headers: &HeaderMap,
    body: Body,
) -> Result<ListParams, ScimError> {
    ListParams::from_search(&body_json(state, headers, body).await?)
}

/// A single resource, or 304 when `If-None-Match` names its version.
async fn answer_get(
    state: &ScimState,
    headers: &HeaderMap,
    kind: ResourceKind,
    found: Option<Outcome>,
    id: &str,
    p: ListParams,
) -> Result<Response, ScimError> {
    let outcome =
        found.ok_or_else(|| ScimError::NotFound(format!("{} {id} not found", kind.name())))?;
    let version = match &outcome {
        Outcome::User(u) => u.version,
        Outcome::Group(g) => g.version,
        Outcome::Deleted => 0,
    };
    if not_modified(headers, version) {
        return Ok(with_etag(StatusCode::NOT_MODIFIED.into_response(), version));
    }
    resource_response(state, headers, kind, StatusCode::OK, outcome, p).await
}

/// What differs between Users and Groups for the handlers shared by both.
pub(super) trait Kind: Send + Sync + 'static {
    const KIND: ResourceKind;
    fn find(dir: &Directory, id: &str) -> Option<Outcome>;
    fn delete(id: String, if_match: Option<String>) -> Command;
}

/// `/Users`.
pub(super) struct Users;
/// `/Groups`.
pub(super) struct Groups;

impl Kind for Users {
    const KIND: ResourceKind = ResourceKind::User;
    fn find(dir: &Directory, id: &str) -> Option<Outcome> {
        dir.user_by_id(id).map(Outcome::User)
    }
    fn delete(id: String, if_match: Option<String>) -> Command {
        Command::DeleteUser { id, if_match }
    }
}

impl Kind for Groups {
    const KIND: ResourceKind = ResourceKind::Group;
    fn find(dir: &Directory, id: &str) -> Option<Outcome> {
        dir.group_by_id(id).map(Outcome::Group)
    }
    fn delete(id: String, if_match: Option<String>) -> Command {
        Command::DeleteGroup { id, if_match }
    }
}

/// `GET /Users`, `GET /Groups`.
pub(super) async fn list<K: Kind>(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    answer_list(&state, &headers, K::KIND, params(&q)?).await
}

/// `POST /Users/.search`, `POST /Groups/.search`.
pub(super) async fn search<K: Kind>(
    State(state): State<ScimState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ScimError> {
    let p = search_params(&state, &headers, body).await?;
    answer_list(&state, &headers, K::KIND, p).await
}

/// `GET /Users/{id}`, `GET /Groups/{id}`.
pub(super) async fn get<K: Kind>(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    let found = K::find(&state.0.dir, &id);
    answer_get(&state, &headers, K::KIND, found, &id, params(&q)?).await
}

/// `DELETE /Users/{id}`, `DELETE /Groups/{id}`: 204 once durable.
pub(super) async fn delete<K: Kind>(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    submit(&state, actor, K::delete(id, if_match(&headers))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /.search`: Users then Groups, paged together.
pub(super) async fn search_all(
    State(state): State<ScimState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ScimError> {
    let p = ListParams::from_search(&body_json(&state, &headers, body).await?)?;
    let base = base_url(&state, &headers);
    let dir = state.0.dir.clone();
    let users = plan(&dir, &state.0.cfg, ResourceKind::User, &p)?;
    let groups = plan(&dir, &state.0.cfg, ResourceKind::Group, &p)?;
    let inline = users.inline() && groups.inline();
    let hold = p.filter.clone();
    let cfg = state.0.cfg.clone();
    let work = move |deadline: &Deadline| {
        let ctx = Ctx {
            dir: &dir,
            base: &base,
        };
        list_all(&ctx, &cfg, (&users, &groups), &p, deadline).map(|v| v.to_string())
    };
    let body = if inline {
        let pages = &state.0.pages;
        pages.run(hold, move || work(&Deadline::none())).await?
    } else {
        state.0.scans.run(hold, work).await?
    };
    Ok(scim_text(StatusCode::OK, body))
}

// ---- Other endpoints ----

pub(super) async fn bulk() -> ScimError {
    ScimError::NotImplemented("/Bulk")
}

pub(super) async fn me() -> ScimError {
    ScimError::NotImplemented("/Me")
}

pub(super) async fn method_not_allowed() -> ScimError {
    ScimError::MethodNotAllowed
}

pub(super) async fn not_found() -> ScimError {
    ScimError::NotFound("no such SCIM endpoint".into())
}
