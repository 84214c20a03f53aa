//! What the restarted server and the store hold: the directory listed over SCIM
//! (paged), the same view read straight from the SQLite tables, and their comparison.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{anyhow, bail, ensure};
use serde_json::Value;

use super::writers::Client;

/// Resources per listed page.
const PAGE: usize = 500;

#[derive(Debug, PartialEq, Eq)]
pub struct SeenUser {
    pub user_name: String,
    pub active: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct SeenGroup {
    pub name: String,
    pub members: BTreeSet<String>,
}

#[derive(Debug, PartialEq, Eq, Default)]
pub struct Listing {
    pub users: BTreeMap<String, SeenUser>,
    pub groups: BTreeMap<String, SeenGroup>,
}

pub fn str_field<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("resource without {key}: {v}"))
}

/// Every resource of a type, page by page.
async fn list_all(client: &Client, kind: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut start = 1;
    loop {
        let url = format!("{}/{kind}?startIndex={start}&count={PAGE}", client.base);
        let resp = client
            .http
            .get(&url)
            .bearer_auth(&client.token)
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        ensure!(status.is_success(), "GET {url}: {status} {body}");
        let total = body["totalResults"]
            .as_u64()
            .ok_or_else(|| anyhow!("no totalResults: {body}"))? as usize;
        let items = body["Resources"].as_array().cloned().unwrap_or_default();
        let n = items.len();
        out.extend(items);
        if n == 0 || out.len() >= total {
            ensure!(
                out.len() == total,
                "{kind}: listed {} of {total}",
                out.len()
            );
            return Ok(out);
        }
        start += n;
    }
}

pub async fn scim_listing(client: &Client) -> anyhow::Result<Listing> {
    let mut l = Listing::default();
    for u in list_all(client, "Users").await? {
        let id = str_field(&u, "id")?.to_owned();
        let seen = SeenUser {
            user_name: str_field(&u, "userName")?.to_owned(),
            active: u["active"].as_bool().unwrap_or(true),
        };
        ensure!(
            l.users.insert(id.clone(), seen).is_none(),
            "user {id} listed twice"
        );
    }
    for g in list_all(client, "Groups").await? {
        let id = str_field(&g, "id")?.to_owned();
        let mut members = BTreeSet::new();
        for m in g["members"].as_array().into_iter().flatten() {
            members.insert(str_field(m, "value")?.to_owned());
        }
        let seen = SeenGroup {
            name: str_field(&g, "displayName")?.to_owned(),
            members,
        };
        ensure!(
            l.groups.insert(id.clone(), seen).is_none(),
            "group {id} listed twice"
        );
    }
    Ok(l)
}

/// The same view, straight from the SQLite tables (read-only).
pub fn store_listing(db: &Path) -> anyhow::Result<Listing> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut l = Listing::default();
    let mut stmt = conn.prepare("SELECT id, user_name, active FROM users")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        l.users.insert(
            r.get(0)?,
            SeenUser {
                user_name: r.get(1)?,
                active: r.get(2)?,
            },
        );
    }
    let mut stmt = conn.prepare("SELECT id, display_name FROM groups")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        l.groups.insert(
            r.get(0)?,
            SeenGroup {
                name: r.get(1)?,
                members: BTreeSet::new(),
            },
        );
    }
    let mut stmt = conn.prepare(
        "SELECT g.id, m.member_kind, m.member_ord, CASE m.member_kind WHEN 0 THEN u.id ELSE h.id END
         FROM memberships m
         LEFT JOIN groups g ON g.ord = m.group_ord
         LEFT JOIN users u ON m.member_kind = 0 AND u.ord = m.member_ord
         LEFT JOIN groups h ON m.member_kind = 1 AND h.ord = m.member_ord",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let group: Option<String> = r.get(0)?;
        let member: Option<String> = r.get(3)?;
        let (Some(group), Some(member)) = (group, member) else {
            let kind: i64 = r.get(1)?;
            let ord: i64 = r.get(2)?;
            bail!("store holds a dangling membership (member kind {kind}, ord {ord})");
        };
        l.groups
            .get_mut(&group)
            .ok_or_else(|| anyhow!("membership of unknown group {group}"))?
            .members
            .insert(member);
    }
    Ok(l)
}

pub fn compare(scim: &Listing, store: &Listing) -> anyhow::Result<()> {
    for (id, s) in &store.users {
        match scim.users.get(id) {
            None => bail!("user {id} ({}) is in the store but not served", s.user_name),
            Some(u) if u != s => bail!("user {id}: served {u:?}, stored {s:?}"),
            Some(_) => {}
        }
    }
    if let Some(id) = scim.users.keys().find(|id| !store.users.contains_key(*id)) {
        bail!("user {id} is served but not in the store");
    }
    for (id, s) in &store.groups {
        match scim.groups.get(id) {
            None => bail!("group {id} ({}) is in the store but not served", s.name),
            Some(g) if g != s => bail!(
                "group {id}: served {} members, stored {} (served-only: {:?}, stored-only: {:?})",
                g.members.len(),
                s.members.len(),
                g.members.difference(&s.members).collect::<Vec<_>>(),
                s.members.difference(&g.members).collect::<Vec<_>>()
            ),
            Some(_) => {}
        }
    }
    if let Some(id) = scim
        .groups
        .keys()
        .find(|id| !store.groups.contains_key(*id))
    {
        bail!("group {id} is served but not in the store");
    }
    Ok(())
}
