//! The pages people see: `/.scimgate/me` and the admin UI under `/.scimgate/admin/`.
//!
//! Server-rendered HTML, no scripts, scimgate's one page shell and strict CSP
//! ([`crate::web`]). Everyone signed in gets `/me` ([`me`]): who they are, their groups and
//! what each route lets them do. Members of `admin.groups` ([`crate::config::admin`]), checked
//! against the live directory on every request ([`auth`]), get the admin UI: users
//! ([`users`]) and groups ([`groups`]), browsed and searched page by page, one user's
//! access across every route ([`access`]), the audit timeline ([`audit`]), SCIM tokens
//! ([`tokens`]) and policy status ([`policy`], with the shadow set's differences,
//! [`shadow`]). The admin UI answers only on the admin
//! origin, and not on one an upstream also serves unless configured to ([`auth`]);
//! `/me` is read-only and answers on every origin. Every state change is a POST
//! carrying the session's CSRF token from the admin origin. Failures become responses
//! in one place ([`error`]).

pub mod access;
pub mod access_api;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod error;
pub mod groups;
pub mod layout;
pub mod me;
pub mod me_requests;
pub mod policy;
pub mod search;
pub mod shadow;
pub mod shared_origin;
#[cfg(test)]
pub(crate) mod testing;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::authn::session::Sessions;
use crate::clock::SharedClock;
use crate::config::admin::AdminConfig;
use crate::directory::Directory;
use crate::gate::caller::Callers;
use crate::policy::reload::PolicyHandle;
use crate::store::Store;

/// Rows per page in every list.
pub const PAGE_SIZE: usize = 50;

/// What the pages read live, shared with the gate (built by the composition root).
pub struct Live {
    /// The live directory.
    pub dir: Arc<Directory>,
    /// The live policies.
    pub policy: Arc<PolicyHandle>,
    /// Browser sessions (sign-out, cookies).
    pub sessions: Arc<Sessions>,
    /// Who is calling (session or bearer token).
    pub callers: Arc<Callers>,
    /// Whether browser login is configured.
    pub login_enabled: bool,
    /// Whether the listener speaks TLS.
    pub tls: bool,
    /// The shadow policy set, when one is configured (its differences on the policy page).
    pub shadow: Option<Arc<crate::policy::shadow::Shadow>>,
    /// Just-in-time access: the requests on `/me` and the approvers' page.
    pub access: Arc<crate::access::Access>,
}

/// What the pages read.
pub struct AdminState {
    /// Directory, policies, sessions and callers.
    pub live: Live,
    pub store: Arc<dyn Store>,
    pub clock: SharedClock,
    pub config: AdminConfig,
    /// `https://gate.example.com`, when configured.
    pub public_url: Option<String>,
    /// The only origin the admin UI answers on: `admin.origin`, else the public URL's;
    /// `None`: any.
    pub admin_origin: Option<String>,
    /// New token secrets waiting to be shown once.
    pub(crate) fresh_tokens: tokens::FreshTokens,
    /// The browser login, when configured: sign-out signs out at the provider too.
    pub oidc: Option<Arc<crate::authn::OidcLogin>>,
}

impl AdminState {
    pub fn new(
        live: Live,
        store: Arc<dyn Store>,
        clock: SharedClock,
        config: AdminConfig,
        public_url: Option<String>,
    ) -> Self {
        let admin_origin = config.answering_origin(public_url.as_deref());
        AdminState {
            live,
            store,
            clock,
            config,
            public_url,
            admin_origin,
            fresh_tokens: Default::default(),
            oidc: None,
        }
    }

    /// Signs browsers out at this OpenID provider too ([`me::sign_out`]).
    pub fn with_oidc(mut self, oidc: Option<Arc<crate::authn::OidcLogin>>) -> Self {
        self.oidc = oidc;
        self
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        crate::clock::to_millis(self.clock.now())
    }
}

/// The pages' routes, to be nested at `/.scimgate`.
pub fn routes(state: AdminState) -> Router {
    Router::new()
        .merge(crate::web::assets::routes())
        .route("/me", get(me::page))
        .route("/me/sign-out", post(me::sign_out))
        .route("/me/access-requests", post(me_requests::request))
        .route("/me/access-requests/{id}/cancel", post(me_requests::cancel))
        .route("/admin", get(users::home))
        .route("/admin/", get(users::home))
        .route("/admin/users", get(users::list))
        .route("/admin/users/{id}", get(users::show))
        .route("/admin/groups", get(groups::list))
        .route("/admin/groups/{id}", get(groups::show))
        .route("/admin/audit", get(audit::timeline))
        .route("/admin/tokens", get(tokens::list).post(tokens::create))
        .route("/admin/tokens/shown/{nonce}", get(tokens::show_once))
        .route(
            "/admin/tokens/{name}/revoke",
            get(tokens::confirm_revoke).post(tokens::revoke),
        )
        .route("/admin/policy", get(policy::status))
        .route("/admin/access-requests", get(approvals::page))
        .route(
            "/admin/access-requests/{id}/approve",
            post(approvals::approve),
        )
        .route("/admin/access-requests/{id}/deny", post(approvals::deny))
        .route(
            "/admin/access-requests/{id}/revoke",
            post(approvals::revoke),
        )
        .with_state(Arc::new(state))
}
