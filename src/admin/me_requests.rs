//! Access requests on `/.scimgate/me`: the requestable grants the user may ask for,
//! each with its form ([`crate::gate::request_form`], the 403 page's too), and their
//! requests with where each stands (pending with the approvals so far, active with
//! its end, denied with the comment, expired, revoked, cancelled), a pending one with
//! a "Cancel" button. `POST /me/access-requests` asks and `POST
//! /me/access-requests/{id}/cancel` withdraws; both are forms of the session (CSRF
//! token, from this origin: `/me` and the 403 page answer on every origin).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::FormRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use axum::Form;
use http::HeaderMap;
use serde::Deserialize;

use super::error::PageError;
use super::AdminState;
use crate::access::{AccessRequest, NewRequest, RequestState};
use crate::clock::rfc3339_millis;
use crate::gate::request_form::{request_form, REQUEST_PATH};
use crate::policy::requestable::show_duration;
use crate::policy::{DirectorySubject, Subject};
use crate::web::{csrf_field, see_other, E};

/// Where the user follows their requests.
pub const ME_REQUESTS: &str = "/.scimgate/me#requests";

/// The `/me` sections: what the user may ask for, and their requests.
pub fn section(s: &AdminState, subject: &DirectorySubject, csrf: Option<&str>) -> String {
    let access = &s.live.access;
    let offers = access.offers(subject);
    let offers = match csrf {
        _ if offers.is_empty() => String::new(),
        Some(csrf) => {
            let forms: String = offers.iter().map(|o| request_form(o, csrf)).collect();
            format!("<h2>Access I may request</h2>{forms}")
        }
        None => "<h2>Access I may request</h2><p class=\"muted\">Sign in with a browser to \
ask for it.</p>"
            .to_owned(),
    };
    let mine = access.requests_of(subject.id());
    let requests = if mine.is_empty() {
        if offers.is_empty() {
            return String::new();
        }
        "<p class=\"none\">No requests yet.</p>".to_owned()
    } else {
        let rows: String = mine.iter().map(|r| request_row(r, csrf)).collect();
        format!(
            "<table class=\"my-requests\"><thead><tr><th>Group</th><th>Route</th><th>For</th>\
<th>Status</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    format!("<section id=\"requests\">{offers}<h2>My access requests</h2>{requests}</section>")
}

/// One of the user's requests.
fn request_row(r: &AccessRequest, csrf: Option<&str>) -> String {
    let cancel = match csrf {
        Some(csrf) if r.state == RequestState::Pending => format!(
            "<form class=\"inline\" method=\"post\" action=\"{REQUEST_PATH}/{id}/cancel\">{csrf}\
<button type=\"submit\">Cancel</button></form>",
            id = E(&r.id),
            csrf = csrf_field(csrf),
        ),
        _ => String::new(),
    };
    format!(
        "<tr class=\"request\" data-id=\"{id}\" data-state=\"{state}\"><td><code class=\"group\">{group}</code></td>\
<td><code class=\"route\">{route}</code></td><td>{span}</td><td class=\"status\">{status}</td>\
<td>{cancel}</td></tr>",
        id = E(&r.id),
        state = r.state.as_str(),
        group = E(&r.group),
        route = E(&r.route),
        span = E(&show_duration(r.duration)),
        status = status_html(r),
    )
}

/// Where a request stands, in words: `pending (1 of 2 approvals)`, `active until …`,
/// `denied by bo: not now`, …
pub fn status_html(r: &AccessRequest) -> String {
    let when = |ms: Option<i64>| ms.map(rfc3339_millis).unwrap_or_default();
    let said = |text: Option<&str>| {
        text.map(|t| format!(": <q class=\"comment\">{}</q>", E(t)))
            .unwrap_or_default()
    };
    match r.state {
        RequestState::Pending => format!(
            "<span class=\"pending\">pending</span> ({} of {} approvals)",
            r.approvals.len(),
            r.approvals_needed
        ),
        RequestState::Active => format!(
            "<span class=\"allow\">active</span> until <time>{}</time>",
            E(&when(r.ends_at))
        ),
        RequestState::Denied => {
            let by = r.denial.as_ref();
            format!(
                "<span class=\"deny\">denied</span> by {}{}",
                E(by.map(|v| v.approver_name.as_str())
                    .unwrap_or("an approver")),
                said(by.and_then(|v| v.comment.as_deref()))
            )
        }
        RequestState::Expired => format!(
            "<span class=\"muted\">expired</span> at <time>{}</time>",
            E(&when(r.ended_at.or(r.ends_at)))
        ),
        RequestState::Revoked => format!(
            "<span class=\"deny\">revoked</span> by {}{}",
            E(r.ended_by
                .as_deref()
                .map(|by| by.strip_prefix("user:").unwrap_or(by))
                .unwrap_or("an approver")),
            said(r.end_reason.as_deref())
        ),
        RequestState::Cancelled => "<span class=\"muted\">cancelled</span>".to_owned(),
    }
}

/// The request form's fields.
#[derive(Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf: String,
    route: String,
    group: String,
    #[serde(default)]
    reason: String,
    /// Seconds.
    duration: u64,
}

/// `POST /.scimgate/me/access-requests`: asks for a requestable grant.
#[tracing::instrument(skip_all)]
pub async fn request(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    form: Result<Form<RequestForm>, FormRejection>,
) -> Result<Response, PageError> {
    let viewer = s.viewer(&headers, &uri, false).await?;
    let Form(form) = form.map_err(|e| PageError::BadRequest(e.body_text()))?;
    s.check_same_origin_form(&viewer, &headers, &form.csrf)?;
    let subject = DirectorySubject::new(&s.live.dir, viewer.user.clone());
    let reason = Some(form.reason).filter(|r| !r.trim().is_empty());
    let made = s
        .live
        .access
        .request(
            &subject,
            NewRequest {
                route: form.route,
                group: form.group,
                duration: Duration::from_secs(form.duration),
                reason,
            },
        )
        .await?;
    tracing::info!(user = %viewer.user.user_name, request = %made.id, "access requested from a page");
    Ok(see_other(ME_REQUESTS))
}

/// `POST /.scimgate/me/access-requests/{id}/cancel`: withdraws a pending request.
#[tracing::instrument(skip_all)]
pub async fn cancel(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    form: Result<Form<super::me::CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let viewer = s.viewer(&headers, &uri, false).await?;
    let presented = form.map(|Form(f)| f.csrf).unwrap_or_default();
    s.check_same_origin_form(&viewer, &headers, &presented)?;
    let subject = DirectorySubject::new(&s.live.dir, viewer.user.clone());
    s.live.access.cancel(&subject, &id).await?;
    Ok(see_other(ME_REQUESTS))
}
