//! The change log's record of each change's writes, as JSON, so that another replica
//! can apply exactly what was committed (ords included) without re-planning it.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::record::{Change, GroupRecord, Member, StoreOp, UserRecord};
use crate::store::StoreError;

fn member(m: &Member) -> Value {
    match m {
        Member::User(o) => json!(["u", o]),
        Member::Group(o) => json!(["g", o]),
    }
}

fn user(u: &UserRecord) -> Value {
    json!({
        "ord": u.ord, "id": &*u.id, "user_name": &*u.user_name,
        "external_id": u.external_id.as_deref(), "active": u.active,
        "emails": u.emails.iter().map(|e| &**e).collect::<Vec<_>>(),
        "license": u.license.as_deref(), "user_type": u.user_type.as_deref(),
        "body": u.body.text(), "created": u.created, "modified": u.modified,
        "version": u.version, "scim_managed": u.scim_managed,
    })
}

fn group(g: &GroupRecord) -> Value {
    json!({
        "ord": g.ord, "id": &*g.id, "display_name": &*g.display_name,
        "external_id": g.external_id.as_deref(), "body": g.body.text(),
        "created": g.created, "modified": g.modified, "version": g.version,
        "scim_managed": g.scim_managed,
    })
}

/// A change's writes as JSON text.
pub(super) fn encode(ops: &[StoreOp]) -> String {
    let ops: Vec<Value> = ops
        .iter()
        .map(|op| match op {
            StoreOp::PutUser(u) => json!({"put_user": user(u)}),
            StoreOp::DeleteUser { ord } => json!({"delete_user": ord}),
            StoreOp::PutGroup(g) => json!({"put_group": group(g)}),
            StoreOp::DeleteGroup { ord } => json!({"delete_group": ord}),
            StoreOp::Members {
                group,
                replace_all,
                add,
                remove,
            } => json!({"members": {
                "group": group, "replace_all": replace_all,
                "add": add.iter().map(member).collect::<Vec<_>>(),
                "remove": remove.iter().map(member).collect::<Vec<_>>(),
            }}),
        })
        .collect();
    Value::Array(ops).to_string()
}

fn bad(what: &str) -> StoreError {
    StoreError::Corrupt(format!("change log: {what}"))
}

fn str_of(v: &Value, key: &str) -> Result<String, StoreError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| bad(key))
}

fn opt_str(v: &Value, key: &str) -> Option<Box<str>> {
    v.get(key).and_then(Value::as_str).map(Box::from)
}

fn u64_of(v: &Value, key: &str) -> Result<u64, StoreError> {
    v.get(key).and_then(Value::as_u64).ok_or_else(|| bad(key))
}

fn i64_of(v: &Value, key: &str) -> Result<i64, StoreError> {
    v.get(key).and_then(Value::as_i64).ok_or_else(|| bad(key))
}

fn ord(v: &Value) -> Result<u32, StoreError> {
    v.as_u64()
        .and_then(|o| u32::try_from(o).ok())
        .ok_or_else(|| bad("ord"))
}

fn bool_of(v: &Value, key: &str) -> Result<bool, StoreError> {
    v.get(key).and_then(Value::as_bool).ok_or_else(|| bad(key))
}

fn decode_member(v: &Value) -> Result<Member, StoreError> {
    let kind = v.get(0).and_then(Value::as_str);
    let o = ord(v.get(1).unwrap_or(&Value::Null))?;
    match kind {
        Some("u") => Ok(Member::User(o)),
        Some("g") => Ok(Member::Group(o)),
        _ => Err(bad("member kind")),
    }
}

fn decode_user(v: &Value) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        ord: ord(v.get("ord").unwrap_or(&Value::Null))?,
        id: Arc::from(str_of(v, "id")?),
        user_name: str_of(v, "user_name")?.into_boxed_str(),
        external_id: opt_str(v, "external_id"),
        active: bool_of(v, "active")?,
        emails: v
            .get("emails")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("emails"))?
            .iter()
            .filter_map(Value::as_str)
            .map(Box::from)
            .collect(),
        license: opt_str(v, "license"),
        user_type: opt_str(v, "user_type"),
        body: str_of(v, "body")?.into(),
        created: i64_of(v, "created")?,
        modified: i64_of(v, "modified")?,
        version: u64_of(v, "version")?,
        scim_managed: bool_of(v, "scim_managed")?,
    })
}

fn decode_group(v: &Value) -> Result<GroupRecord, StoreError> {
    Ok(GroupRecord {
        ord: ord(v.get("ord").unwrap_or(&Value::Null))?,
        id: Arc::from(str_of(v, "id")?),
        display_name: str_of(v, "display_name")?.into_boxed_str(),
        external_id: opt_str(v, "external_id"),
        body: str_of(v, "body")?.into(),
        created: i64_of(v, "created")?,
        modified: i64_of(v, "modified")?,
        version: u64_of(v, "version")?,
        scim_managed: bool_of(v, "scim_managed")?,
    })
}

fn decode_members(v: &Value, key: &str) -> Result<Vec<Member>, StoreError> {
    v.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| bad(key))?
        .iter()
        .map(decode_member)
        .collect()
}

/// The writes of a change, from [`encode`]'s text.
pub(super) fn decode(text: &str) -> Result<Vec<StoreOp>, StoreError> {
    let v: Value = serde_json::from_str(text).map_err(|_| bad("ops are not JSON"))?;
    let Value::Array(items) = v else {
        return Err(bad("ops are not a list"));
    };
    items
        .iter()
        .map(|item| {
            if let Some(u) = item.get("put_user") {
                Ok(StoreOp::PutUser(Arc::new(decode_user(u)?)))
            } else if let Some(o) = item.get("delete_user") {
                Ok(StoreOp::DeleteUser { ord: ord(o)? })
            } else if let Some(g) = item.get("put_group") {
                Ok(StoreOp::PutGroup(Arc::new(decode_group(g)?)))
            } else if let Some(o) = item.get("delete_group") {
                Ok(StoreOp::DeleteGroup { ord: ord(o)? })
            } else if let Some(m) = item.get("members") {
                Ok(StoreOp::Members {
                    group: ord(m.get("group").unwrap_or(&Value::Null))?,
                    replace_all: bool_of(m, "replace_all")?,
                    add: decode_members(m, "add")?,
                    remove: decode_members(m, "remove")?,
                })
            } else {
                Err(bad("unknown op"))
            }
        })
        .collect()
}

/// The `&'static` label a replayed change carries (the writer's labels are static;
/// an unknown one, from a newer build, is kept as a generic label).
pub(super) fn label(s: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "User",
        "Group",
        "user.create",
        "user.delete",
        "group.create",
        "group.delete",
        "replace",
        "patch",
        "user.replace",
        "user.patch",
        "group.replace",
        "group.patch",
    ];
    KNOWN.iter().find(|k| **k == s).copied().unwrap_or("change")
}

/// A change as replayed from the log (its audit record is already in the chain).
pub(super) fn replayed(
    at: i64,
    actor: String,
    action: &str,
    resource_type: &str,
    resource_id: String,
    ops: &str,
) -> Result<Change, StoreError> {
    Ok(Change {
        at,
        actor,
        action: label(action),
        resource_type: label(resource_type),
        resource_id,
        before: None,
        after: None,
        ops: decode(ops)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip() {
        let u = UserRecord {
            external_id: Some("x".into()),
            active: false,
            emails: vec![Box::from("a@x.io")].into_boxed_slice(),
            user_type: Some("Employee".into()),
            body: r#"{"userName":"Ann"}"#.into(),
            created: 1,
            modified: 2,
            version: 3,
            scim_managed: true,
            ..UserRecord::new(7, "u-1", "Ann")
        };
        let g = GroupRecord {
            created: 1,
            modified: 1,
            ..GroupRecord::new(2, "g-1", "G")
        };
        let ops = vec![
            StoreOp::PutUser(Arc::new(u.clone())),
            StoreOp::PutGroup(Arc::new(g.clone())),
            StoreOp::Members {
                group: 2,
                replace_all: true,
                add: vec![Member::User(7), Member::Group(9)],
                remove: vec![Member::User(1)],
            },
            StoreOp::DeleteUser { ord: 7 },
            StoreOp::DeleteGroup { ord: 2 },
        ];
        let back = decode(&encode(&ops)).unwrap();
        assert_eq!(back.len(), 5);
        assert!(matches!(&back[0], StoreOp::PutUser(x) if **x == u));
        assert!(matches!(&back[1], StoreOp::PutGroup(x) if **x == g));
        assert!(
            matches!(&back[2], StoreOp::Members { group: 2, replace_all: true, add, remove }
            if *add == vec![Member::User(7), Member::Group(9)] && *remove == vec![Member::User(1)])
        );
        assert!(matches!(back[3], StoreOp::DeleteUser { ord: 7 }));
        assert!(matches!(back[4], StoreOp::DeleteGroup { ord: 2 }));
        assert!(decode("{}").is_err());
        assert!(decode(r#"[{"nope":1}]"#).is_err());
    }
}
