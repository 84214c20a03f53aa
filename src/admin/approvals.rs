//! The admin UI's "Access requests" page: the pending requests the viewer may approve
//! (approve or deny, with a comment) and the active grants they may end early
//! ("Revoke").
//!
//! Approvers need not be administrators: any signed-in user who may approve at least
//! one requestable grant of the live policy sees this page, listing only what they
//! may decide (never their own request: the service refuses a forged vote too). Others
//! get 403. Like the rest of the admin UI it answers on the admin origin only, and its
//! forms carry the session's CSRF token from that origin.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use axum::Form;
use http::{HeaderMap, StatusCode, Uri};
use serde::Deserialize;

use super::auth::Viewer;
use super::error::PageError;
use super::layout::page as layout;
use super::me_requests::status_html;
use super::AdminState;
use crate::access::{AccessRequest, Actor};
use crate::clock::rfc3339_millis;
use crate::policy::requestable::show_duration;
use crate::policy::{DirectorySubject, Subject};
use crate::web::{csrf_field, html, see_other, E};

/// The page's path.
pub const PATH: &str = "/.scimgate/admin/access-requests";

/// The longest comment the forms let a browser send (the service refuses longer).
const MAX_COMMENT: usize = 1024;

impl AdminState {
    /// The viewer of the approvals page: signed in with a browser, on the admin origin,
    /// and an approver of some requestable grant (or an admin).
    async fn approver(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<(Viewer, DirectorySubject), PageError> {
        self.check_admin_origin(headers)?;
        let viewer = self.viewer(headers, uri, false).await?;
        if !viewer.may_approve && !viewer.is_admin {
            return Err(PageError::NotApprover);
        }
        let subject = DirectorySubject::new(&self.live.dir, viewer.user.clone());
        Ok((viewer, subject))
    }

    /// Whether `subject` may end `r`'s grant early: an approver of its grant now, or
    /// one who voted for it.
    fn may_revoke(&self, subject: &DirectorySubject, r: &AccessRequest) -> bool {
        r.approvals.iter().any(|v| v.approver_id == subject.id())
            || self
                .live
                .policy
                .current()
                .requestable(&r.route, &r.group)
                .is_some_and(|q| q.may_approve(subject))
    }
}

/// `GET /.scimgate/admin/access-requests`.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    let (viewer, subject) = s.approver(&headers, &uri).await?;
    let csrf = viewer.csrf.as_deref().unwrap_or_default();
    let access = &s.live.access;
    let pending = access.pending_for(&subject);
    let now = s.now_ms();
    let active: Vec<AccessRequest> = access
        .all_requests()
        .into_iter()
        .filter(|r| r.grants_at(now) && s.may_revoke(&subject, r))
        .collect();
    let pending = if pending.is_empty() {
        "<p class=\"none\">Nothing waits for you.</p>".to_owned()
    } else {
        let rows: String = pending.iter().map(|r| pending_row(r, csrf)).collect();
        format!(
            "<table class=\"requests\"><thead><tr><th>Requester</th><th>Group</th><th>Route</th>\
<th>For</th><th>Reason</th><th>Status</th><th>Decide</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    let active = if active.is_empty() {
        "<p class=\"none\">No grant you approve is active.</p>".to_owned()
    } else {
        let rows: String = active.iter().map(|r| active_row(r, csrf)).collect();
        format!(
            "<table class=\"grants\"><thead><tr><th>Who</th><th>Group</th><th>Route</th>\
<th>Ends</th><th>End early</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    let main = format!(
        "<h1>Access requests</h1><p class=\"muted\">Requests for the grants you may approve. \
You never decide your own.</p><h2>Waiting for a decision</h2>{pending}\
<h2>Active grants</h2>{active}"
    );
    Ok(html(
        StatusCode::OK,
        layout("Access requests", Some(&viewer.nav()), &main),
    ))
}

/// A pending request with its approve and deny forms.
fn pending_row(r: &AccessRequest, csrf: &str) -> String {
    let form = |action: &str, label: &str, class: &str| {
        format!(
            "<form class=\"inline {class}\" method=\"post\" action=\"{PATH}/{id}/{action}\">{csrf}\
<input type=\"text\" name=\"comment\" maxlength=\"{MAX_COMMENT}\" placeholder=\"comment\" \
aria-label=\"comment\"> <button type=\"submit\">{label}</button></form>",
            id = E(&r.id),
            csrf = csrf_field(csrf),
        )
    };
    format!(
        "<tr class=\"request\" data-id=\"{id}\"><td class=\"user\">{who}</td>\
<td><code class=\"group\">{group}</code></td><td><code class=\"route\">{route}</code></td>\
<td>{span}</td><td class=\"reason\">{reason}</td><td>{status}<div class=\"muted\">asked \
<time>{at}</time></div></td><td>{approve}{deny}</td></tr>",
        id = E(&r.id),
        who = E(&r.requester_name),
        group = E(&r.group),
        route = E(&r.route),
        span = E(&show_duration(r.duration)),
        reason = E(r.reason.as_deref().unwrap_or("—")),
        status = status_html(r),
        at = E(&rfc3339_millis(r.created_at)),
        approve = form("approve", "Approve", "approve"),
        deny = form("deny", "Deny", "deny"),
    )
}

/// An active grant with its revoke form.
fn active_row(r: &AccessRequest, csrf: &str) -> String {
    format!(
        "<tr class=\"grant\" data-id=\"{id}\"><td class=\"user\">{who}</td>\
<td><code class=\"group\">{group}</code></td><td><code class=\"route\">{route}</code></td>\
<td><time>{ends}</time></td><td><form class=\"inline revoke\" method=\"post\" \
action=\"{PATH}/{id}/revoke\">{csrf}<input type=\"text\" name=\"comment\" \
maxlength=\"{MAX_COMMENT}\" placeholder=\"comment\" aria-label=\"comment\"> \
<button type=\"submit\">Revoke</button></form></td></tr>",
        id = E(&r.id),
        who = E(&r.requester_name),
        group = E(&r.group),
        route = E(&r.route),
        ends = E(&r.ends_at.map(rfc3339_millis).unwrap_or_default()),
        csrf = csrf_field(csrf),
    )
}

/// A decision's form fields.
#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    comment: String,
}

/// What a decision form does.
#[derive(Debug, Clone, Copy)]
enum Decision {
    Approve,
    Deny,
    Revoke,
}

/// `POST /.scimgate/admin/access-requests/{id}/approve`.
pub async fn approve(
    state: State<Arc<AdminState>>,
    headers: HeaderMap,
    uri: OriginalUri,
    id: Path<String>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Result<Response, PageError> {
    decide(state, headers, uri, id, form, Decision::Approve).await
}

/// `POST /.scimgate/admin/access-requests/{id}/deny`.
pub async fn deny(
    state: State<Arc<AdminState>>,
    headers: HeaderMap,
    uri: OriginalUri,
    id: Path<String>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Result<Response, PageError> {
    decide(state, headers, uri, id, form, Decision::Deny).await
}

/// `POST /.scimgate/admin/access-requests/{id}/revoke`.
pub async fn revoke(
    state: State<Arc<AdminState>>,
    headers: HeaderMap,
    uri: OriginalUri,
    id: Path<String>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Result<Response, PageError> {
    decide(state, headers, uri, id, form, Decision::Revoke).await
}

#[tracing::instrument(skip_all, fields(decision = ?decision, request = %id))]
async fn decide(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    form: Result<Form<DecisionForm>, FormRejection>,
    decision: Decision,
) -> Result<Response, PageError> {
    let (viewer, subject) = s.approver(&headers, &uri).await?;
    let form = form.map(|Form(f)| f).unwrap_or(DecisionForm {
        csrf: String::new(),
        comment: String::new(),
    });
    s.check_form(&viewer, &headers, &form.csrf)?;
    let comment = Some(form.comment).filter(|c| !c.trim().is_empty());
    let access = &s.live.access;
    let done = match decision {
        Decision::Approve => access.approve(&subject, &id, comment).await?,
        Decision::Deny => access.deny(&subject, &id, comment).await?,
        Decision::Revoke => access.revoke(Actor::User(&subject), &id, comment).await?,
    };
    tracing::info!(approver = %viewer.user.user_name, state = done.state.as_str(), "access request decided on a page");
    Ok(see_other(PATH))
}
