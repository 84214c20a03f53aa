//! The SCIM 2.0 HTTP API (RFC 7643/7644) at `/scim/v2`, and the admin API that makes
//! manual changes through the same handlers.
//!
//! Only this module knows SCIM's JSON. The protocol core (schemas, filter grammar,
//! PATCH paths and operations) depends on nothing HTTP; the HTTP side parses requests,
//! hands changes to the directory writer and renders what it returns.

pub mod auth;
mod auth_log;
mod body;
mod discovery;
mod draft;
pub mod error;
mod handlers;
mod observe;
mod pages;
mod query;
mod render;
mod scan;

pub use scimgate_scim::{filter, patch, path, schema, scim_type};

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use dashmap::DashMap;

use crate::clock::SharedClock;
use crate::config::ScimConfig;
use crate::directory::writer::Writer;
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tokens::TokenScope;
use handlers::{Groups, Users};

pub use error::ScimError;
#[doc(hidden)]
pub use scan::ScanHold;

/// What the SCIM handlers share.
#[derive(Clone)]
pub struct ScimState(Arc<Inner>);

struct Inner {
    dir: Arc<Directory>,
    writer: Writer,
    store: Arc<dyn Store>,
    clock: SharedClock,
    cfg: ScimConfig,
    /// Whether the listener speaks TLS (for `https` locations).
    tls: bool,
    /// Token name → when its `last_used` was last written (writes are debounced).
    touched: DashMap<String, i64>,
    /// Where calls are counted by token and operation.
    metrics: Arc<Metrics>,
    /// The slots that listings which walk the directory run in.
    scans: scan::Scans,
    /// The low-priority threads that render index-bounded listings and large groups.
    pages: pages::Pages,
    /// How many refused credentials a second are logged.
    auth_log: auth_log::LogBudget,
}

impl ScimState {
    pub fn new(
        dir: Arc<Directory>,
        writer: Writer,
        store: Arc<dyn Store>,
        clock: SharedClock,
        cfg: ScimConfig,
        tls: bool,
        metrics: Arc<Metrics>,
    ) -> Self {
        let scans = scan::Scans::new(&cfg, metrics.clone());
        let pages = pages::Pages::new(&cfg, metrics.clone());
        ScimState(Arc::new(Inner {
            dir,
            writer,
            store,
            clock,
            cfg,
            tls,
            touched: DashMap::new(),
            scans,
            pages,
            metrics,
            auth_log: auth_log::LogBudget::default(),
        }))
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.0.dir
    }
}

/// The User and Group resource routes, shared by the SCIM and admin APIs.
fn resource_routes() -> Router<ScimState> {
    Router::new()
        .route(
            "/Users",
            get(handlers::list::<Users>).post(handlers::create_user),
        )
        .route(
            "/Users/{id}",
            get(handlers::get::<Users>)
                .put(handlers::replace_user)
                .patch(handlers::patch_user)
                .delete(handlers::delete::<Users>),
        )
        .route(
            "/Groups",
            get(handlers::list::<Groups>).post(handlers::create_group),
        )
        .route(
            "/Groups/{id}",
            get(handlers::get::<Groups>)
                .put(handlers::replace_group)
                .patch(handlers::patch_group)
                .delete(handlers::delete::<Groups>),
        )
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
}

/// Wraps routes with the token check for `scope` and gives them the state.
fn guarded(routes: Router<ScimState>, state: ScimState, scope: TokenScope) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            state.0.metrics.clone(),
            observe::count_operation,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), scope),
            auth::require_token,
        ))
        .with_state(state)
}

/// The `/scim/v2` routes (nest them under that prefix).
/// The answer to a path under `/scim` outside `/scim/v2` (a base URL without the
/// version): a SCIM 404 that names the right base URL.
pub async fn outside_v2(uri: axum::http::Uri) -> ScimError {
    ScimError::NotFound(format!(
        "no SCIM endpoint at {}: the SCIM base URL ends in /scim/v2 (e.g. /scim/v2/Users); \
         check the base URL configured in the identity provider",
        uri.path()
    ))
}

pub fn router(state: ScimState) -> Router {
    let routes = resource_routes()
        .route("/Users/.search", post(handlers::search::<Users>))
        .route("/Groups/.search", post(handlers::search::<Groups>))
        .route("/.search", post(handlers::search_all))
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .route("/Bulk", axum::routing::any(handlers::bulk))
        .route("/Me", axum::routing::any(handlers::me));
    guarded(routes, state, TokenScope::Scim)
}

/// The admin API: manual directory changes (locked for SCIM-managed resources unless
/// `scim.allow_manual_updates` is on). Takes admin-scoped tokens.
pub fn admin_router(state: ScimState) -> Router {
    admin_router_with(state, Router::new())
}

/// The admin API with more admin-token routes beside the resources (e.g. `/decide`).
pub fn admin_router_with(state: ScimState, extra: Router<ScimState>) -> Router {
    guarded(resource_routes().merge(extra), state, TokenScope::Admin)
}
