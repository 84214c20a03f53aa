//! Rendering directory records as SCIM resources: the stored body plus `id`, `meta`, a
//! User's `groups` and a Group's `members`.

use serde_json::{json, Map, Value};

use crate::clock::rfc3339_millis;
use crate::directory::Directory;
use crate::record::{GroupRecord, UserRecord};

/// Where resources live, for `meta.location` and `$ref`.
pub(super) struct Ctx<'a> {
    pub dir: &'a Directory,
    /// e.g. `https://gate.example.com/scim/v2`.
    pub base: &'a str,
}

/// The weak ETag of a version.
pub(super) fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

fn body_map(body: &str) -> Map<String, Value> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn meta(kind: &str, location: String, created: i64, modified: i64, version: u64) -> Value {
    json!({
        "resourceType": kind,
        "created": rfc3339_millis(created),
        "lastModified": rfc3339_millis(modified),
        "location": location,
        "version": etag(version),
    })
}

fn ordered(id: &str, mut body: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(s) = body.remove("schemas") {
        out.insert("schemas".into(), s);
    }
    out.insert("id".into(), Value::from(id));
    out.extend(body);
    out
}

/// A user as SCIM returns it; `with_groups` adds the read-only `groups` attribute.
pub(super) fn user_json(ctx: &Ctx<'_>, u: &UserRecord, with_groups: bool) -> Value {
    let mut out = ordered(&u.id, body_map(&u.body.text()));
    if with_groups {
        let direct = ctx.dir.direct_groups(u.ord);
        let groups: Vec<Value> = ctx
            .dir
            .effective_groups(u.ord)
            .iter()
            .filter_map(|g| ctx.dir.group(*g))
            .map(|g| {
                let kind = if direct.binary_search(&g.ord).is_ok() {
                    "direct"
                } else {
                    "indirect"
                };
                json!({
                    "value": &*g.id,
                    "$ref": format!("{}/Groups/{}", ctx.base, g.id),
                    "display": &*g.display_name,
                    "type": kind,
                })
            })
            .collect();
        if !groups.is_empty() {
            out.insert("groups".into(), Value::from(groups));
        }
    }
    out.insert(
        "meta".into(),
        meta(
            "User",
            format!("{}/Users/{}", ctx.base, u.id),
            u.created,
            u.modified,
            u.version,
        ),
    );
    Value::Object(out)
}

/// A group as SCIM returns it; `with_members` adds its members.
pub(super) fn group_json(ctx: &Ctx<'_>, g: &GroupRecord, with_members: bool) -> Value {
    let mut out = ordered(&g.id, body_map(&g.body.text()));
    if with_members {
        let set = ctx.dir.members_of(g.ord);
        let mut users: Vec<u32> = set.users.into_iter().collect();
        users.sort_unstable();
        let mut groups: Vec<u32> = set.groups.into_iter().collect();
        groups.sort_unstable();
        let mut members: Vec<Value> = Vec::with_capacity(users.len() + groups.len());
        // No `display` for users: it would be computed, not what the IdP sent.
        for u in users.iter().filter_map(|o| ctx.dir.user(*o)) {
            members.push(json!({
                "value": &*u.id,
                "$ref": format!("{}/Users/{}", ctx.base, u.id),
                "type": "User",
            }));
        }
        for h in groups.iter().filter_map(|o| ctx.dir.group(*o)) {
            members.push(json!({
                "value": &*h.id,
                "$ref": format!("{}/Groups/{}", ctx.base, h.id),
                "display": &*h.display_name,
                "type": "Group",
            }));
        }
        if !members.is_empty() {
            out.insert("members".into(), Value::from(members));
        }
    }
    out.insert(
        "meta".into(),
        meta(
            "Group",
            format!("{}/Groups/{}", ctx.base, g.id),
            g.created,
            g.modified,
            g.version,
        ),
    );
    Value::Object(out)
}
