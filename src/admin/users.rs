//! Admin UI: the overview, the user list (search, paged) and one user's page (profile,
//! groups, access explained across every route with the deciding rule per method).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::access::explain_all;
use super::error::PageError;
use super::layout::page as layout;
use super::me::{access_html, groups_html, groups_of, profile};
use super::{search, AdminState, PAGE_SIZE};
use crate::web::{html, url_encode, E};

/// `?q=...&page=N` of the lists.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub page: usize,
}

/// The query, or a 400 page for a malformed one.
pub fn list_query(q: Result<Query<ListQuery>, QueryRejection>) -> Result<ListQuery, PageError> {
    let Query(q) = q.map_err(|e| PageError::BadRequest(e.body_text()))?;
    if q.q.len() > 256 {
        return Err(PageError::BadRequest("the search is too long".into()));
    }
    if q.page > 100_000 {
        return Err(PageError::BadRequest("no such page".into()));
    }
    Ok(q)
}

/// The search form and the pager links of a list.
pub fn search_form(action: &str, q: &str, placeholder: &str) -> String {
    format!(
        "<form class=\"filters\" method=\"get\" action=\"{action}\">\
<label>Search<input type=\"search\" name=\"q\" value=\"{q}\" placeholder=\"{placeholder}\"></label>\
<button type=\"submit\">Search</button></form>",
        action = E(action),
        q = E(q),
        placeholder = E(placeholder),
    )
}

pub fn pager(action: &str, q: &str, page: usize, more: bool) -> String {
    let link = |p: usize, label: &str, rel: &str| {
        format!(
            "<a rel=\"{rel}\" href=\"{}?q={}&amp;page={p}\">{label}</a>",
            E(action),
            url_encode(q)
        )
    };
    let mut out = String::from("<nav class=\"pager\">");
    if page > 0 {
        out.push_str(&link(page - 1, "← Previous", "prev"));
    }
    out.push_str(&format!("<span class=\"muted\">Page {}</span>", page + 1));
    if more {
        out.push_str(&link(page + 1, "Next →", "next"));
    }
    out.push_str("</nav>");
    out
}

/// `GET /.scimgate/admin/`: directory and policy at a glance.
#[tracing::instrument(skip_all)]
pub async fn home(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    let dir = &s.gate.dir;
    let set = s.gate.policy.current();
    let main = format!(
        "<h1>scimgate admin</h1><dl><dt>Users</dt><dd><a href=\"/.scimgate/admin/users\">{}</a></dd>\
<dt>Groups</dt><dd><a href=\"/.scimgate/admin/groups\">{}</a></dd>\
<dt>Directory sequence</dt><dd>{}</dd>\
<dt>Routes</dt><dd><a href=\"/.scimgate/admin/policy\">{}</a></dd></dl>\
<p><a href=\"/.scimgate/admin/audit\">Audit timeline</a> · <a href=\"/.scimgate/admin/tokens\">SCIM tokens</a></p>",
        dir.user_count(),
        dir.group_count(),
        dir.seq(),
        set.routes().len(),
    );
    Ok(html(
        StatusCode::OK,
        layout("Admin", Some(&viewer.nav()), &main),
    ))
}

/// `GET /.scimgate/admin/users?q=&page=`.
#[tracing::instrument(skip_all)]
pub async fn list(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    let q = list_query(query)?;
    let dir = s.gate.dir.clone();
    let (text, page) = (q.q.clone(), q.page);
    let found =
        tokio::task::spawn_blocking(move || search::users(&dir, &text, page, PAGE_SIZE)).await?;
    let dir = &s.gate.dir;
    let mut rows = String::new();
    for user in found.ords.iter().filter_map(|o| dir.user(*o)) {
        rows.push_str(&format!(
            "<tr class=\"user\"><td><a href=\"/.scimgate/admin/users/{id}\">{name}</a></td>\
<td>{email}</td><td>{license}</td><td>{status}</td><td>{groups}</td></tr>",
            id = E(&user.id),
            name = E(&user.user_name),
            email = E(user.emails.first().map(|e| &**e).unwrap_or("")),
            license = E(user.license.as_deref().unwrap_or("")),
            status = if user.active { "active" } else { "inactive" },
            groups = dir.direct_groups(user.ord).len(),
        ));
    }
    let summary = match found.total {
        Some(total) => format!("{total} users."),
        None if found.ords.is_empty() => "No user matches.".to_owned(),
        None => "Users matching the search (userName, e-mail, externalId).".to_owned(),
    };
    let main = format!(
        "<h1>Users</h1>{form}<p class=\"muted\">{summary}</p>\
<table><thead><tr><th>userName</th><th>E-mail</th><th>License</th><th>Status</th><th>Groups</th></tr></thead>\
<tbody>{rows}</tbody></table>{pager}",
        form = search_form("/.scimgate/admin/users", &q.q, "userName, e-mail or id"),
        summary = E(&summary),
        pager = pager("/.scimgate/admin/users", &q.q, q.page, found.more),
    );
    Ok(html(
        StatusCode::OK,
        layout("Users", Some(&viewer.nav()), &main),
    ))
}

/// `GET /.scimgate/admin/users/{id}`: profile, groups, access across every route.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn show(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    let dir = &s.gate.dir;
    let user = dir
        .user_by_id(&id)
        .ok_or(PageError::NotFound("no user has this id"))?;
    let groups = groups_of(dir, &user);
    let routes = explain_all(&s.gate.policy.current(), dir, &user);
    let main = format!(
        "<h1>User <span class=\"user-name\">{name}</span></h1>{profile}\
<p class=\"muted\">SCIM id <code>{id}</code> · <a href=\"/.scimgate/admin/audit?user={audit}\">audit records</a></p>\
<h2>Groups</h2>{groups}<h2>Access, route by route</h2>{routes}\
<p class=\"muted\">Each method judged by the live policies on the route's own path; \
<code>scimgate policy explain</code> judges any request.</p>",
        name = E(&user.user_name),
        profile = profile(&user),
        id = E(&user.id),
        audit = url_encode(&user.user_name),
        groups = groups_html(&groups, true),
        routes = access_html(&routes, true),
    );
    Ok(html(
        StatusCode::OK,
        layout(&user.user_name, Some(&viewer.nav()), &main),
    ))
}
