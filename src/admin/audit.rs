//! Admin UI: the audit timeline, newest first, filtered by user, route, action and
//! time, paged by sequence number ("older" continues below the last record shown).
//! Each record shows who did what to what: users and groups by their names (from the
//! directory, else from the record's own body), an access decision with its method,
//! path and deciding rule (or refusal reason); before/after bodies and details fold out
//! (`<details>`, no script needed).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use super::error::PageError;
use super::layout::page as layout;
use super::{AdminState, PAGE_SIZE};
use crate::clock::{rfc3339_millis, to_millis};
use crate::directory::Directory;
use crate::record::{AuditEntry, AuditQuery, AuditRow};
use crate::web::{html, url_encode, E};

/// The timeline's filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct TimelineQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    route: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    /// Show records older than this sequence number.
    before: Option<u64>,
}

/// A time as typed in a filter: RFC 3339, `YYYY-MM-DDTHH:MM[:SS]` or `YYYY-MM-DD`
/// (both UTC); Unix milliseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(to_millis(t));
    }
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(text, &seconds)
        .or_else(|_| PrimitiveDateTime::parse(text, &minutes))
    {
        return Some(to_millis(t.assume_utc()));
    }
    let day = format_description!("[year]-[month]-[day]");
    Date::parse(text, &day)
        .ok()
        .map(|d| to_millis(d.midnight().assume_utc()))
}

impl TimelineQuery {
    fn to_query(&self) -> Result<AuditQuery, PageError> {
        let time = |label: &str, text: &str| -> Result<Option<i64>, PageError> {
            if text.trim().is_empty() {
                return Ok(None);
            }
            parse_time(text).map(Some).ok_or_else(|| {
                PageError::BadRequest(format!(
                    "{label}: {text:?} is not a time (use 2026-01-31, 2026-01-31T14:00 or RFC 3339; UTC)"
                ))
            })
        };
        for (label, v) in [
            ("user", &self.user),
            ("route", &self.route),
            ("action", &self.action),
        ] {
            if v.len() > 256 {
                return Err(PageError::BadRequest(format!("{label} is too long")));
            }
        }
        let text = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
        Ok(AuditQuery {
            before_seq: self.before,
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            user: text(&self.user),
            route: text(&self.route),
            action_prefix: text(&self.action),
            newest_first: true,
            limit: PAGE_SIZE + 1,
            ..AuditQuery::default()
        })
    }

    /// The filters as a query string (without `before`).
    fn link(&self) -> String {
        format!(
            "user={}&amp;route={}&amp;action={}&amp;since={}&amp;until={}",
            url_encode(&self.user),
            url_encode(&self.route),
            url_encode(&self.action),
            url_encode(&self.since),
            url_encode(&self.until)
        )
    }
}

fn folded(label: &str, text: Option<&str>) -> String {
    let Some(text) = text else {
        return String::new();
    };
    const MAX: usize = 4000;
    let shown = match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    };
    format!(
        "<details><summary>{}</summary><pre>{}</pre></details>",
        E(label),
        E(&shown)
    )
}

/// The name a record's body gives its resource (`userName`, else `displayName`).
fn name_in_body(body: Option<&str>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body?).ok()?;
    ["userName", "displayName"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|n| n.as_str()).map(str::to_owned))
}

/// The target, linked to its admin page when it is a user or group, by name (the
/// directory's, else the record's before/after body's; the id when neither has one).
fn target(dir: &Directory, e: &AuditEntry) -> String {
    let named = |page: &str, id: &str, current: Option<String>| {
        let name = current
            .or_else(|| name_in_body(e.after.as_deref()))
            .or_else(|| name_in_body(e.before.as_deref()));
        let label = match &name {
            Some(n) => E(n).to_string(),
            None => E(&e.target).to_string(),
        };
        format!(
            "<a href=\"/.scimgate/admin/{page}/{}\" title=\"{}\">{label}</a>",
            url_encode(id),
            E(&e.target)
        )
    };
    match e.target.split_once('/') {
        Some(("User", id)) => named(
            "users",
            id,
            dir.user_by_id(id).map(|u| u.user_name.to_string()),
        ),
        Some(("Group", id)) => named(
            "groups",
            id,
            dir.group_by_id(id).map(|g| g.display_name.to_string()),
        ),
        _ => E(&e.target).to_string(),
    }
}

/// An access record's request, shown: method and path, and the deciding rule or the
/// refusal's reason.
fn request(e: &AuditEntry) -> String {
    if !e.action.starts_with("access.") || e.action == "access.deny_aggregate" {
        return String::new();
    }
    let Some(d) = e
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
    else {
        return String::new();
    };
    let text = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let why = match (text("rule"), text("reason")) {
        ("", "") => String::new(),
        ("", reason) => format!(" <span class=\"muted\">reason {}</span>", E(reason)),
        (rule, _) => format!(" <span class=\"muted\">rule {}</span>", E(rule)),
    };
    format!(
        "<div class=\"request\"><code>{} {}</code>{why}</div>",
        E(text("method")),
        E(text("path"))
    )
}

fn row(dir: &Directory, r: &AuditRow) -> String {
    let e = &r.entry;
    format!(
        "<tr class=\"audit\" data-action=\"{action}\"><td>{seq}</td><td class=\"muted\">{at}</td>\
<td class=\"actor\">{actor}</td><td class=\"action\"><code>{action}</code></td>\
<td class=\"target\">{target}{request}</td><td>{detail}{before}{after}</td></tr>",
        seq = r.seq,
        at = E(&rfc3339_millis(e.at)),
        actor = E(&e.actor),
        action = E(&e.action),
        target = target(dir, e),
        request = request(e),
        detail = folded("detail", e.detail.as_deref()),
        before = folded("before", e.before.as_deref()),
        after = folded("after", e.after.as_deref()),
    )
}

/// `GET /.scimgate/admin/audit?user=&route=&action=&since=&until=&before=`.
#[tracing::instrument(skip_all)]
pub async fn timeline(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    query: Result<Query<TimelineQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    let Query(q) = query.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let audit_query = q.to_query()?;
    let store = s.store.clone();
    let mut rows = tokio::task::spawn_blocking(move || store.audit_query(&audit_query)).await??;
    let more = rows.len() > PAGE_SIZE;
    rows.truncate(PAGE_SIZE);
    let dir = &s.live.dir;
    let body: String = rows.iter().map(|r| row(dir, r)).collect();
    let older = match (more, rows.last()) {
        (true, Some(last)) => format!(
            "<a rel=\"next\" href=\"/.scimgate/admin/audit?{}&amp;before={}\">Older →</a>",
            q.link(),
            last.seq
        ),
        _ => String::new(),
    };
    let newest = if q.before.is_some() {
        format!(
            "<a href=\"/.scimgate/admin/audit?{}\">← Newest</a>",
            q.link()
        )
    } else {
        String::new()
    };
    let field = |name: &str, label: &str, value: &str, hint: &str| {
        format!(
            "<label>{label}<input name=\"{name}\" value=\"{}\" placeholder=\"{hint}\"></label>",
            E(value)
        )
    };
    let empty = if rows.is_empty() {
        "<p class=\"none\">No records match.</p>"
    } else {
        ""
    };
    let main = format!(
        "<h1>Audit timeline</h1>\
<form class=\"filters\" method=\"get\" action=\"/.scimgate/admin/audit\">{user}{route}{action}{since}{until}\
<button type=\"submit\">Filter</button></form>\
<p class=\"muted\">Newest first. Times are UTC. Records are hash-chained; \
<code>scimgate audit verify</code> checks the chain.</p>{empty}\
<table><thead><tr><th>#</th><th>When</th><th>Who</th><th>What</th><th>Target</th><th></th></tr></thead>\
<tbody>{body}</tbody></table><nav class=\"pager\">{newest}{older}</nav>",
        user = field("user", "User", &q.user, "userName"),
        route = field("route", "Route", &q.route, "route name"),
        action = field("action", "Action", &q.action, "e.g. token. or access.deny"),
        since = field("since", "Since", &q.since, "2026-01-31T09:00"),
        until = field("until", "Until", &q.until, "2026-02-01"),
    );
    Ok(html(
        StatusCode::OK,
        layout("Audit timeline", Some(&viewer.nav()), &main),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_the_forms_people_type() {
        let day = parse_time("2026-01-31").unwrap();
        assert_eq!(parse_time("2026-01-31T00:00"), Some(day));
        assert_eq!(parse_time("2026-01-31T00:00:00Z"), Some(day));
        assert_eq!(parse_time("2026-01-31T01:00:00+01:00"), Some(day));
        assert_eq!(parse_time("2026-01-31T00:01:30"), Some(day + 90_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2026-13-01"), None);
    }

    fn entry(target: &str, after: Option<&str>) -> AuditEntry {
        AuditEntry {
            at: 0,
            actor: "scim:idp".into(),
            action: "user.create".into(),
            target: target.into(),
            before: None,
            after: after.map(str::to_owned),
            detail: None,
        }
    }

    #[test]
    fn user_and_group_targets_link_to_their_pages_by_name() {
        let dir = Directory::default();
        assert_eq!(
            target(&dir, &entry("User/a b", Some(r#"{"userName":"ann"}"#))),
            "<a href=\"/.scimgate/admin/users/a%20b\" title=\"User/a b\">ann</a>"
        );
        assert!(target(&dir, &entry("Group/g1", None))
            .contains("/.scimgate/admin/groups/g1\" title=\"Group/g1\">Group/g1<"));
        assert_eq!(target(&dir, &entry("token:<x>", None)), "token:&lt;x&gt;");
    }

    #[test]
    fn an_access_record_shows_its_request() {
        let mut e = entry("route:docs", None);
        e.action = "access.deny".into();
        e.detail = Some(r#"{"method":"GET","path":"/x<y","rule":"default-deny"}"#.into());
        assert_eq!(
            request(&e),
            "<div class=\"request\"><code>GET /x&lt;y</code> <span class=\"muted\">rule default-deny</span></div>"
        );
        e.action = "user.create".into();
        assert_eq!(request(&e), "");
    }

    #[test]
    fn a_bad_time_is_a_clear_400() {
        let q = TimelineQuery {
            since: "soon".into(),
            ..Default::default()
        };
        let err = q.to_query().unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(err.to_string().contains("since"), "{err}");
    }
}
