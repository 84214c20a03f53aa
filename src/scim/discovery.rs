//! Discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`,
//! `/Schemas`. What they advertise is what the handlers do.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::handlers::{base_url, scim_json};
use super::query::list_response;
use super::schema::{self, DBT_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use super::{ScimError, ScimState};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RT_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

pub(super) async fn service_provider_config(
    State(state): State<ScimState>,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&state, &headers);
    let body = json!({
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": state.0.cfg.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A named scimgate token (scimgate token create NAME), sent as Authorization: Bearer <token>",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    });
    scim_json(axum::http::StatusCode::OK, body)
}

fn resource_types_json(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RT_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                {"schema": ENTERPRISE_USER_SCHEMA, "required": false},
                {"schema": DBT_USER_SCHEMA, "required": false},
            ],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
        }),
        json!({
            "schemas": [RT_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
        }),
    ]
}

pub(super) async fn resource_types(State(state): State<ScimState>, headers: HeaderMap) -> Response {
    let all = resource_types_json(&base_url(&state, &headers));
    scim_json(axum::http::StatusCode::OK, list_response(all.len(), 1, all))
}

pub(super) async fn resource_type(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    resource_types_json(&base_url(&state, &headers))
        .into_iter()
        .find(|rt| rt["id"].as_str() == Some(id.as_str()))
        .map(|rt| scim_json(axum::http::StatusCode::OK, rt))
        .ok_or_else(|| ScimError::NotFound(format!("ResourceType {id} not found")))
}

pub(super) async fn schemas(State(state): State<ScimState>, headers: HeaderMap) -> Response {
    let all = schema::schemas_json(&base_url(&state, &headers));
    scim_json(axum::http::StatusCode::OK, list_response(all.len(), 1, all))
}

pub(super) async fn schema(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    schema::schema_json(&id, &base_url(&state, &headers))
        .map(|s| scim_json(axum::http::StatusCode::OK, s))
        .ok_or_else(|| ScimError::NotFound(format!("Schema {id} not found")))
}
