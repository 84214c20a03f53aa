//! Writing Users: create (POST), replace (PUT) and patch (PATCH).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;

use super::{body_json, if_match, params, rejected, stored_with_id, strip_id, submit_and_render};
use crate::directory::writer::Command;
use crate::record::{Actor, UserRecord};
use crate::scim::draft::user_draft;
use crate::scim::patch::{apply_user_patch, PatchRequest};
use crate::scim::schema::{normalize_resource, ResourceKind};
use crate::scim::{ScimError, ScimState};

pub(in crate::scim) async fn create_user(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, ScimError> {
    let p = params(&q)?;
    let json = body_json(&state, &headers, body).await?;
    let draft = user_draft(&normalize_resource(ResourceKind::User, json)?)?;
    submit_and_render(
        &state,
        &headers,
        actor,
        Command::CreateUser { draft },
        ResourceKind::User,
        StatusCode::CREATED,
        &p,
    )
    .await
}

pub(in crate::scim) async fn replace_user(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, ScimError> {
    let p = params(&q)?;
    let json = body_json(&state, &headers, body).await?;
    let draft = user_draft(&normalize_resource(ResourceKind::User, json)?)?;
    let cmd = Command::UpdateUser {
        id,
        if_match: if_match(&headers),
        mutate: Arc::new(move |_| Ok(draft.clone())),
        action: "user.replace",
    };
    submit_and_render(
        &state,
        &headers,
        actor,
        cmd,
        ResourceKind::User,
        StatusCode::OK,
        &p,
    )
    .await
}

pub(in crate::scim) async fn patch_user(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, ScimError> {
    let p = params(&q)?;
    let req = PatchRequest::from_json(body_json(&state, &headers, body).await?)?;
    let mutate = Arc::new(move |cur: &UserRecord| {
        let mut resource = stored_with_id(&cur.body.text(), &cur.id)?;
        apply_user_patch(&mut resource, &req).map_err(rejected)?;
        strip_id(&mut resource);
        user_draft(&resource).map_err(rejected)
    });
    let cmd = Command::UpdateUser {
        id,
        if_match: if_match(&headers),
        mutate,
        action: "user.patch",
    };
    submit_and_render(
        &state,
        &headers,
        actor,
        cmd,
        ResourceKind::User,
        StatusCode::OK,
        &p,
    )
    .await
}
