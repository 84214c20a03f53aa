//! Counts SCIM and admin API calls by token name, operation and status (runs inside the
//! token check, so only authenticated calls are counted, under their token's name).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;

use crate::metrics::Metrics;
use crate::record::Actor;

pub(super) async fn count_operation(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let actor = req.extensions().get::<Actor>().cloned();
    let operation = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", |p| operation(req.method(), p.as_str()));
    let resp = next.run(req).await;
    if let Some(actor) = actor {
        let (api, token) = match &actor {
            Actor::Scim { token } => ("scim", token),
            Actor::Admin { token } => ("admin", token),
        };
        metrics.scim_operation(api, token, operation, resp.status().as_u16());
    }
    resp
}

/// A fixed name for a method on a route template (`/scim/v2/Users/{id}` → `patch_user`).
fn operation(method: &Method, template: &str) -> &'static str {
    let tail = template.rsplit_once("/v2").map_or(template, |(_, t)| t);
    let tail = tail.rsplit_once("/v1").map_or(tail, |(_, t)| t);
    match (method.as_str(), tail) {
        ("GET", "/Users") => "list_users",
        ("POST", "/Users") => "create_user",
        ("GET", "/Users/{id}") => "get_user",
        ("PUT", "/Users/{id}") => "replace_user",
        ("PATCH", "/Users/{id}") => "patch_user",
        ("DELETE", "/Users/{id}") => "delete_user",
        ("GET", "/Groups") => "list_groups",
        ("POST", "/Groups") => "create_group",
        ("GET", "/Groups/{id}") => "get_group",
        ("PUT", "/Groups/{id}") => "replace_group",
        ("PATCH", "/Groups/{id}") => "patch_group",
        ("DELETE", "/Groups/{id}") => "delete_group",
        ("POST", "/Users/.search") => "search_users",
        ("POST", "/Groups/.search") => "search_groups",
        ("POST", "/.search") => "search",
        (_, "/Bulk") => "bulk",
        (_, "/Me") => "me",
        ("POST", "/decide") => "decide",
        ("GET", t)
            if t.starts_with("/ServiceProviderConfig")
                || t.starts_with("/ResourceTypes")
                || t.starts_with("/Schemas") =>
        {
            "discovery"
        }
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_operations_by_template_not_by_path() {
        assert_eq!(
            operation(&Method::PATCH, "/scim/v2/Users/{id}"),
            "patch_user"
        );
        assert_eq!(operation(&Method::POST, "/scim/v2/Groups"), "create_group");
        assert_eq!(
            operation(&Method::DELETE, "/.scimgate/admin/v1/Groups/{id}"),
            "delete_group"
        );
        assert_eq!(
            operation(&Method::GET, "/scim/v2/Schemas/{id}"),
            "discovery"
        );
        assert_eq!(
            operation(&Method::POST, "/.scimgate/admin/v1/decide"),
            "decide"
        );
        assert_eq!(operation(&Method::PUT, "/scim/v2/Nope"), "other");
    }
}
