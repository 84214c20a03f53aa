//! Writing Groups: create (POST), replace (PUT) and patch (PATCH). Member changes are
//! set changes: a PATCH never reads the group's other members.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::{
    body_json, if_match, params, rejected, resource_response, stored_with_id, strip_id, submit,
    submit_and_render, with_etag,
};
use crate::directory::writer::{Command, Outcome};
use crate::record::{Actor, GroupRecord, MemberChange};
use crate::scim::draft::group_draft;
use crate::scim::patch::{apply_group_patch, MemberDelta, PatchRequest};
use crate::scim::schema::{normalize_resource, ResourceKind};
use crate::scim::{ScimError, ScimState};

pub(in crate::scim) async fn create_group(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, ScimError> {
    let p = params(&q)?;
    let json = body_json(&state, &headers, body).await?;
    let (draft, members) = group_draft(normalize_resource(ResourceKind::Group, json)?)?;
    submit_and_render(
        &state,
        &headers,
        actor,
        Command::CreateGroup { draft, members },
        ResourceKind::Group,
        StatusCode::CREATED,
        &p,
    )
    .await
}

pub(in crate::scim) async fn replace_group(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, ScimError> {
    let p = params(&q)?;
    let json = body_json(&state, &headers, body).await?;
    let (draft, members) = group_draft(normalize_resource(ResourceKind::Group, json)?)?;
    let change = MemberChange {
        replace_all: true,
        add: members,
        remove: Vec::new(),
    };
    let cmd = Command::UpdateGroup {
        id,
        if_match: if_match(&headers),
        mutate: Arc::new(move |_| Ok((draft.clone(), change.clone()))),
        action: "group.replace",
    };
    submit_and_render(
        &state,
        &headers,
        actor,
        cmd,
        ResourceKind::Group,
        StatusCode::OK,
        &p,
    )
    .await
}

/// Group PATCH answers 204 (Entra ID's preference; Okta accepts it), or 200 with the
/// resource when the caller asks for attributes. Member changes are applied as set
/// changes: the group's other members are never read.
pub(in crate::scim) async fn patch_group(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, ScimError> {
    let p = params(&q)?;
    let req = PatchRequest::from_json(body_json(&state, &headers, body).await?)?;
    let mutate = Arc::new(move |cur: &GroupRecord| {
        let mut resource = stored_with_id(&cur.body.text(), &cur.id)?;
        let mut delta = MemberDelta::default();
        apply_group_patch(&mut resource, &mut delta, &req).map_err(rejected)?;
        strip_id(&mut resource);
        let (draft, _) = group_draft(resource).map_err(rejected)?;
        let change = MemberChange {
            replace_all: delta.replace_all,
            add: delta.add.into_iter().map(|m| m.value).collect(),
            remove: delta.remove,
        };
        Ok((draft, change))
    });
    let cmd = Command::UpdateGroup {
        id,
        if_match: if_match(&headers),
        mutate,
        action: "group.patch",
    };
    let out = submit(&state, actor, cmd).await?;
    if p.attributes.is_empty() && p.excluded.is_empty() {
        let version = match &out {
            Outcome::Group(g) => g.version,
            _ => 0,
        };
        return Ok(with_etag(StatusCode::NO_CONTENT.into_response(), version));
    }
    resource_response(
        &state,
        &headers,
        ResourceKind::Group,
        StatusCode::OK,
        out,
        p,
    )
    .await
}
