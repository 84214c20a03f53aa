//! scimgate's own HTTP surfaces, put together from each surface's own state.

use std::sync::Arc;

use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::admin::AdminState;
use crate::authn::routes::AuthnState;
use crate::gate::Gate;
use crate::ops::decide::DecideState;
use crate::ops::{self, Readiness};
use crate::scim::{self, ScimState};

/// The state of each surface [`app`] serves.
pub struct Surfaces {
    pub scim: ScimState,
    pub authn: AuthnState,
    /// Forward-auth (`/.scimgate/auth`) judges with the gate.
    pub gate: Arc<Gate>,
    pub decide: Arc<DecideState>,
    pub readiness: Readiness,
    pub admin: AdminState,
    /// The access requests API (`/.scimgate/api/access-requests`).
    pub access_api: crate::admin::access_api::AccessApi,
    /// The assertion key set, as served.
    pub jwks: String,
}

/// scimgate's own HTTP surfaces: SCIM, the admin API, login, forward-auth, the
/// assertion key set, health, and the pages (`/me`, the admin UI, the stylesheet).
/// Every request gets an `x-request-id` (kept if the client sent one) and a tracing
/// span that carries it.
pub fn app(surfaces: Surfaces) -> Router {
    let Surfaces {
        scim: state,
        authn,
        gate,
        decide,
        readiness,
        admin,
        access_api,
        jwks,
    } = surfaces;
    let x_request_id = http::HeaderName::from_static("x-request-id");
    let own = Router::new()
        .nest(
            "/admin/v1",
            scim::admin_router_with(state.clone(), ops::decide::routes(decide)),
        )
        .merge(crate::authn::routes::routes(authn))
        .merge(crate::admin::routes(admin))
        .merge(crate::admin::access_api::routes(access_api))
        .route(
            "/auth",
            axum::routing::any(crate::gate::forward_auth::handler).with_state(gate),
        );
    Router::new()
        .nest("/scim/v2", scim::router(state))
        .route("/scim", axum::routing::any(scim::outside_v2))
        .route("/scim/{*rest}", axum::routing::any(scim::outside_v2))
        .nest("/.scimgate", own)
        .route(
            "/.well-known/scimgate/jwks.json",
            axum::routing::get(move || {
                let jwks = jwks.clone();
                async move {
                    (
                        [
                            (http::header::CONTENT_TYPE, "application/jwk-set+json"),
                            (http::header::CACHE_CONTROL, "public, max-age=300"),
                        ],
                        jwks,
                    )
                }
            }),
        )
        .merge(ops::listener::health_routes(readiness))
        .layer(
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(
                    x_request_id.clone(),
                    MakeRequestUuid,
                ))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
                        let id = req
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!(
                            "request",
                            request_id = %id,
                            method = %req.method(),
                            path = %req.uri().path(),
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(x_request_id)),
        )
}
