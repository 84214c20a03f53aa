//! `/.scimgate/me`: who I am, my groups (direct and through nesting), my license, and
//! what each route lets me do, from the live directory and policies. A bearer caller
//! asking for `application/json` gets the same as JSON. `POST /me/sign-out` ends the
//! session (CSRF-checked), signs out at the OpenID provider when it publishes an
//! end-session endpoint, and shows the login surface's signed-out page.
//!
//! The rendering of a user's profile, groups and access table lives here too: the
//! admin UI's user page shows the same pieces, with the deciding rules.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::access::{explain_all, RouteAccess};
use super::auth::wants_json;
use super::error::PageError;
use super::layout::{page as layout, sign_out_form};
use super::AdminState;
use crate::directory::Directory;
use crate::record::UserRecord;
use crate::web::{html, E};

/// A user's groups: direct, and those reached through nesting.
#[derive(Debug, Serialize)]
pub struct Groups {
    pub direct: Vec<GroupRef>,
    /// Groups the user is in only because a group they are in is nested in them.
    pub inherited: Vec<GroupRef>,
}

#[derive(Debug, Serialize)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// The user's groups, sorted by name.
pub fn groups_of(dir: &Directory, user: &UserRecord) -> Groups {
    let direct = dir.direct_groups(user.ord);
    let to_ref = |ord: &u32| {
        dir.group(*ord).map(|g| GroupRef {
            id: g.id.to_string(),
            name: g.display_name.to_string(),
        })
    };
    let mut d: Vec<GroupRef> = direct.iter().filter_map(to_ref).collect();
    let mut i: Vec<GroupRef> = dir
        .effective_groups(user.ord)
        .iter()
        .filter(|g| direct.binary_search(g).is_err())
        .filter_map(to_ref)
        .collect();
    d.sort_by_cached_key(|g| crate::ident::caseless_key(&g.name));
    i.sort_by_cached_key(|g| crate::ident::caseless_key(&g.name));
    Groups {
        direct: d,
        inherited: i,
    }
}

/// The user's display name from their SCIM body (`name.formatted`, else given and
/// family names).
pub fn display_name(user: &UserRecord) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(&user.body.text()).ok()?;
    let name = body.get("name")?;
    if let Some(f) = name.get("formatted").and_then(|v| v.as_str()) {
        return Some(f.to_owned());
    }
    let parts: Vec<&str> = ["givenName", "familyName"]
        .iter()
        .filter_map(|k| name.get(*k).and_then(|v| v.as_str()))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Profile facts as a `<dl>`.
pub fn profile(user: &UserRecord) -> String {
    let opt = |v: Option<&str>| v.map(|s| E(s).to_string()).unwrap_or_else(|| "—".into());
    let emails: Vec<String> = user.emails.iter().map(|e| E(e).to_string()).collect();
    format!(
        "<dl class=\"profile\"><dt>userName</dt><dd class=\"user-name\">{user_name}</dd>\
<dt>Name</dt><dd>{name}</dd><dt>E-mail</dt><dd>{emails}</dd>\
<dt>License</dt><dd class=\"license\">{license}</dd><dt>User type</dt><dd>{user_type}</dd>\
<dt>Status</dt><dd>{status}</dd></dl>",
        user_name = E(&user.user_name),
        name = opt(display_name(user).as_deref()),
        emails = if emails.is_empty() {
            "—".to_owned()
        } else {
            emails.join(", ")
        },
        license = opt(user.license.as_deref()),
        user_type = opt(user.user_type.as_deref()),
        status = if user.active { "active" } else { "inactive" },
    )
}

/// The groups as a list; with `link`, each names its admin page.
pub fn groups_html(groups: &Groups, link: bool) -> String {
    if groups.direct.is_empty() && groups.inherited.is_empty() {
        return "<p class=\"groups none\">No groups.</p>".to_owned();
    }
    let item = |g: &GroupRef, how: &str| {
        let name = if link {
            format!(
                "<a href=\"/.scimgate/admin/groups/{}\">{}</a>",
                E(&g.id),
                E(&g.name)
            )
        } else {
            E(&g.name).to_string()
        };
        format!("<li><span class=\"group\">{name}</span> <span class=\"muted\">{how}</span></li>")
    };
    let items: String = groups
        .direct
        .iter()
        .map(|g| item(g, "direct"))
        .chain(groups.inherited.iter().map(|g| item(g, "through nesting")))
        .collect();
    format!("<ul class=\"groups\">{items}</ul>")
}

/// The routes table: per route, the methods allowed; with `rules`, every method's
/// decision and deciding rule.
pub fn access_html(routes: &[RouteAccess], rules: bool) -> String {
    if routes.is_empty() {
        return "<p>No routes are configured.</p>".to_owned();
    }
    let mut rows = String::new();
    for r in routes {
        let path = r.path.as_deref().unwrap_or("(depends on the path)");
        let verdict = match &r.path {
            None => "<span class=\"muted\">ask <code>scimgate policy explain</code></span>".into(),
            Some(_) if rules => r
                .methods
                .iter()
                .map(|m| {
                    let class = if m.allow { "allow" } else { "deny" };
                    let word = if m.allow { "allow" } else { "deny" };
                    format!(
                        "<div class=\"decision\"><code>{}</code> <span class=\"{class}\">{word}</span> \
by <code class=\"rule\">{}</code> <span class=\"muted\">{}</span></div>",
                        E(&m.method),
                        E(&m.rule),
                        E(&m.location)
                    )
                })
                .collect::<String>(),
            Some(_) => {
                let allowed = r.allowed();
                if allowed.is_empty() {
                    "<span class=\"deny\">no access</span>".to_owned()
                } else {
                    format!("<span class=\"allow\">{}</span>", E(&allowed.join(", ")))
                }
            }
        };
        let grants = if r.grants.is_empty() {
            String::new()
        } else {
            format!(
                "<div class=\"muted\">dbt grants: {}</div>",
                E(&r.grants.join(", "))
            )
        };
        rows.push_str(&format!(
            "<tr class=\"route\" data-route=\"{name}\"><td><code>{name}</code></td>\
<td class=\"where\">{place}</td><td class=\"methods\">{verdict}{grants}</td></tr>",
            name = E(&r.route),
            place = where_html(r, path),
        ));
    }
    let head = if rules {
        "Decision per method"
    } else {
        "You may"
    };
    format!(
        "<table class=\"access\"><thead><tr><th>Route</th><th>Where</th><th>{head}</th></tr></thead>\
<tbody>{rows}</tbody></table>"
    )
}

/// Where a route answers: a link to its path when a browser can open it (any host, or
/// one literal host; the user may `GET` it), else the host and path as text ("any
/// host" for `*`).
fn where_html(r: &RouteAccess, path: &str) -> String {
    let may_open = r.methods.iter().any(|m| m.method == "GET" && m.allow);
    let any_host = r.host == "*";
    let literal_host = !any_host && !r.host.contains(['*', '{']);
    match &r.path {
        Some(p) if may_open && any_host => {
            format!("<a href=\"{p}\"><code>{p}</code></a>", p = E(p))
        }
        Some(p) if may_open && literal_host => format!(
            "<a href=\"//{h}{p}\"><code>{h}{p}</code></a>",
            h = E(&r.host),
            p = E(p)
        ),
        _ if any_host => format!(
            "<code>{}</code> <span class=\"muted\">on any host</span>",
            E(path)
        ),
        _ => format!("<code>{}</code> <code>{}</code>", E(&r.host), E(path)),
    }
}

/// The routes this user may use (some method allowed, or it depends on the path), and
/// the others.
pub fn split_usable(routes: Vec<RouteAccess>) -> (Vec<RouteAccess>, Vec<RouteAccess>) {
    routes
        .into_iter()
        .partition(|r| r.path.is_none() || !r.allowed().is_empty() || !r.grants.is_empty())
}

#[derive(Serialize)]
struct MeJson<'a> {
    #[serde(rename = "userName")]
    user_name: &'a str,
    name: Option<String>,
    emails: Vec<&'a str>,
    license: Option<&'a str>,
    #[serde(rename = "userType")]
    user_type: Option<&'a str>,
    groups: Groups,
    routes: Vec<RouteAccess>,
}

/// `GET /.scimgate/me`.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    let viewer = s.viewer(&headers, &uri, true).await?;
    let user = &viewer.user;
    let dir = &s.live.dir;
    let groups = groups_of(dir, user);
    let routes = explain_all(&s.live.policy.current(), dir, user);
    if wants_json(&headers) {
        return Ok(Json(MeJson {
            user_name: &user.user_name,
            name: display_name(user),
            emails: user.emails.iter().map(|e| &**e).collect(),
            license: user.license.as_deref(),
            user_type: user.user_type.as_deref(),
            groups,
            routes,
        })
        .into_response());
    }
    let sign_out = viewer
        .csrf
        .as_deref()
        .map(|c| format!("<p>{}</p>", sign_out_form(c, "")))
        .unwrap_or_default();
    let (usable, others) = split_usable(routes);
    let usable = if usable.is_empty() {
        "<p class=\"none\">None yet. Your identity provider's administrators give access by \
adding you to the groups the routes allow.</p>"
            .to_owned()
    } else {
        access_html(&usable, false)
    };
    let others = if others.is_empty() {
        String::new()
    } else {
        let items: String = others
            .iter()
            .map(|r| format!("<li><code>{}</code></li>", E(&r.route)))
            .collect();
        format!(
            "<h2>Routes I may not use</h2><ul class=\"no-access\">{items}</ul>\
<p class=\"muted\">Opening one shows which groups would let you in.</p>"
        )
    };
    let subject = crate::policy::DirectorySubject::new(dir, user.clone());
    let requests = super::me_requests::section(&s, &subject, viewer.csrf.as_deref());
    let approver = if !viewer.may_approve || s.live.access.pending_for(&subject).is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"approver\"><a href=\"{}{}\">Access requests wait for your approval</a></p>",
            E(&viewer.admin_base),
            super::approvals::PATH
        )
    };
    let main = format!(
        "<h1>My access</h1>{approver}{profile}<h2>My groups</h2>{groups}\
<h2>Routes I may use</h2>{usable}{others}{requests}\
<p class=\"muted\">Read from the directory and policies as they are now; a change by \
your identity provider shows here at once.</p>{sign_out}",
        profile = profile(user),
        groups = groups_html(&groups, false),
    );
    Ok(html(
        StatusCode::OK,
        layout("My access", Some(&viewer.nav()), &main),
    ))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /.scimgate/me/sign-out`: ends the session, clears the cookie.
#[tracing::instrument(skip_all)]
pub async fn sign_out(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let viewer = s.viewer(&headers, &uri, false).await?;
    let presented = form.map(|Form(f)| f.csrf).unwrap_or_default();
    s.check_same_origin_form(&viewer, &headers, &presented)?;
    let ended = match &viewer.session {
        Some(token) => Some(s.live.sessions.end(token).await),
        None => None,
    };
    tracing::info!(user = %viewer.user.user_name, "signed out");
    let base = crate::authn::routes::own_base(
        s.public_url.as_deref(),
        s.config.origin.as_deref(),
        s.live.tls,
        &headers,
        &uri,
    );
    let location = crate::authn::routes::sign_out_location(s.oidc.as_deref(), ended, base).await;
    Ok(crate::authn::routes::signed_out_response(
        &location,
        s.live.sessions.clear_cookie(s.live.tls),
    ))
}
