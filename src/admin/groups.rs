//! Admin UI: the group list (search, paged) and one group's page: its member users
//! (paged, by userName), its nested groups and the groups it is nested in.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::error::PageError;
use super::layout::page as layout;
use super::users::{list_query, pager, search_form, ListQuery};
use super::{search, AdminState, PAGE_SIZE};
use crate::directory::Directory;
use crate::web::{html, E};

/// `GET /.scimgate/admin/groups?q=&page=`.
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
        tokio::task::spawn_blocking(move || search::groups(&dir, &text, page, PAGE_SIZE)).await?;
    let dir = &s.gate.dir;
    let mut rows = String::new();
    for group in found.ords.iter().filter_map(|o| dir.group(*o)) {
        rows.push_str(&format!(
            "<tr class=\"group\"><td><a href=\"/.scimgate/admin/groups/{id}\">{name}</a></td>\
<td>{members}</td><td>{external}</td></tr>",
            id = E(&group.id),
            name = E(&group.display_name),
            members = dir.member_count(group.ord),
            external = E(group.external_id.as_deref().unwrap_or("")),
        ));
    }
    let summary = match found.total {
        Some(total) => format!("{total} groups."),
        None if found.ords.is_empty() => "No group matches.".to_owned(),
        None => "Groups matching the search.".to_owned(),
    };
    let main = format!(
        "<h1>Groups</h1>{form}<p class=\"muted\">{summary}</p>\
<table><thead><tr><th>displayName</th><th>Members</th><th>externalId</th></tr></thead>\
<tbody>{rows}</tbody></table>{pager}",
        form = search_form("/.scimgate/admin/groups", &q.q, "displayName or id"),
        summary = E(&summary),
        pager = pager("/.scimgate/admin/groups", &q.q, q.page, found.more),
    );
    Ok(html(
        StatusCode::OK,
        layout("Groups", Some(&viewer.nav()), &main),
    ))
}

/// One page of a group's member users, sorted by userName: (total, page, whether
/// more follow, the nested groups).
fn member_page(dir: &Directory, group: u32, page: usize) -> (usize, Vec<u32>, bool, Vec<u32>) {
    let members = dir.members_of(group);
    let nested: Vec<u32> = members.groups.iter().copied().collect();
    let mut users: Vec<(String, u32)> = members
        .users
        .iter()
        .filter_map(|o| {
            dir.user(*o)
                .map(|u| (crate::ident::caseless_key(&u.user_name), *o))
        })
        .collect();
    let total = users.len();
    let start = page * PAGE_SIZE;
    let end = (start + PAGE_SIZE).min(total);
    if start < total {
        // Only the page's slice is put in order, not the whole set.
        users.select_nth_unstable(start);
        let tail = &mut users[start..];
        if end - start < tail.len() {
            tail.select_nth_unstable(end - start);
        }
        tail[..end - start].sort_unstable();
    }
    let ords = users
        .get(start..end)
        .map(|s| s.iter().map(|(_, o)| *o).collect())
        .unwrap_or_default();
    (total, ords, end < total, nested)
}

/// `GET /.scimgate/admin/groups/{id}?page=`.
#[tracing::instrument(skip_all, fields(group_id = %id))]
pub async fn show(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    let q = list_query(query)?;
    let group = s
        .gate
        .dir
        .group_by_id(&id)
        .ok_or(PageError::NotFound("no group has this id"))?;
    let dir2 = s.gate.dir.clone();
    let (ord, page) = (group.ord, q.page);
    let (total, ords, more, nested) =
        tokio::task::spawn_blocking(move || member_page(&dir2, ord, page)).await?;
    let dir = &s.gate.dir;
    let link = |o: &u32| {
        dir.group(*o).map(|g| {
            format!(
                "<li><a href=\"/.scimgate/admin/groups/{}\">{}</a></li>",
                E(&g.id),
                E(&g.display_name)
            )
        })
    };
    let nested: String = nested.iter().filter_map(link).collect();
    let parents: String = dir
        .parent_groups(group.ord)
        .iter()
        .filter_map(link)
        .collect();
    let list_or_none = |items: String| {
        if items.is_empty() {
            "<p class=\"muted\">None.</p>".to_owned()
        } else {
            format!("<ul>{items}</ul>")
        }
    };
    let rows: String = ords
        .iter()
        .filter_map(|o| dir.user(*o))
        .map(|u| {
            format!(
                "<tr class=\"member\"><td><a href=\"/.scimgate/admin/users/{}\">{}</a></td><td>{}</td></tr>",
                E(&u.id),
                E(&u.user_name),
                if u.active { "active" } else { "inactive" }
            )
        })
        .collect();
    let action = format!("/.scimgate/admin/groups/{}", group.id);
    let main = format!(
        "<h1>Group <span class=\"group-name\">{name}</span></h1>\
<p class=\"muted\">SCIM id <code>{id}</code></p>\
<h2>Member users ({total})</h2><table><thead><tr><th>userName</th><th>Status</th></tr></thead>\
<tbody>{rows}</tbody></table>{pager}\
<h2>Nested groups (their members are members too)</h2>{nested}\
<h2>Nested in</h2>{parents}",
        name = E(&group.display_name),
        id = E(&group.id),
        pager = pager(&action, "", q.page, more),
        nested = list_or_none(nested),
        parents = list_or_none(parents),
    );
    Ok(html(
        StatusCode::OK,
        layout(&group.display_name, Some(&viewer.nav()), &main),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_pages_are_sorted_and_complete() {
        let names: Vec<String> = (0..120).rev().map(|i| format!("m{i:03}")).collect();
        let users: Vec<(&str, &[&str])> =
            names.iter().map(|n| (n.as_str(), &["big"][..])).collect();
        let dir = crate::admin::testing::directory(&users);
        let g = dir.group_by_name("big").unwrap().ord;
        let mut seen = Vec::new();
        for page in 0..3 {
            let (total, ords, more, nested) = member_page(&dir, g, page);
            assert!(nested.is_empty());
            assert_eq!(total, 120);
            assert_eq!(more, page < 2);
            seen.extend(
                ords.iter()
                    .map(|o| dir.user(*o).unwrap().user_name.to_string()),
            );
        }
        let mut want: Vec<String> = names.clone();
        want.sort();
        assert_eq!(seen, want);
        assert!(member_page(&dir, g, 5).1.is_empty());
    }
}
