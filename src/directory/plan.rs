//! Planning: turning a requested change into the exact writes, checked against the
//! committed directory. Planning reads the cache and never writes it; the writer applies
//! the plan after the store commits it.

use std::sync::Arc;

use super::writer::{Command, Outcome};
use super::{Directory, DirectoryError};
use crate::record::{
    name_key, Actor, Change, GroupRecord, Member, MemberChange, StoreOp, UserRecord,
};

/// What a planned change touches; two changes in one batch may not share a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum TouchKey {
    Id(Arc<str>),
    UserName(String),
    GroupName(String),
    /// The group-in-group graph (cycle checks read all of it).
    Graph,
}

/// A change ready to commit.
pub(super) struct Planned {
    pub change: Change,
    pub outcome: Outcome,
    pub keys: Vec<TouchKey>,
}

fn etag_matches(version: u64, if_match: Option<&str>) -> Result<(), DirectoryError> {
    let Some(given) = if_match else { return Ok(()) };
    let current = format!("W/\"{version}\"");
    let ok = given.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag == current || tag.trim_start_matches("W/") == format!("\"{version}\"")
    });
    if ok {
        Ok(())
    } else {
        Err(DirectoryError::VersionMismatch {
            current,
            given: given.to_owned(),
        })
    }
}

fn check_lock(
    actor: &Actor,
    managed: bool,
    kind: &'static str,
    id: &str,
    allow_manual_updates: bool,
) -> Result<(), DirectoryError> {
    if !actor.is_scim() && managed && !allow_manual_updates {
        return Err(DirectoryError::ManualUpdateLocked {
            kind,
            id: id.to_owned(),
        });
    }
    Ok(())
}

/// Checks that `name` is free (or already `own`'s) under a case-insensitive index.
fn claim(
    existing: Option<u32>,
    own: Option<u32>,
    attribute: &'static str,
    name: &str,
) -> Result<(), DirectoryError> {
    match existing {
        Some(ord) if Some(ord) != own => Err(DirectoryError::Uniqueness {
            attribute,
            value: name.to_owned(),
        }),
        _ => Ok(()),
    }
}

fn claim_user_name(
    dir: &Directory,
    name: &str,
    own: Option<u32>,
) -> Result<TouchKey, DirectoryError> {
    claim(dir.user_by_name(name).map(|u| u.ord), own, "userName", name)?;
    Ok(TouchKey::UserName(name_key(name)))
}

fn claim_group_name(
    dir: &Directory,
    name: &str,
    own: Option<u32>,
) -> Result<TouchKey, DirectoryError> {
    claim(
        dir.group_by_name(name).map(|g| g.ord),
        own,
        "displayName",
        name,
    )?;
    Ok(TouchKey::GroupName(name_key(name)))
}

struct ResolvedMembers {
    replace_all: bool,
    add: Vec<Member>,
    remove: Vec<Member>,
    keys: Vec<TouchKey>,
    ids_added: Vec<String>,
    ids_removed: Vec<String>,
}

/// Resolves member ids and refuses unknown members and cycles.
fn resolve_members(
    dir: &Directory,
    group: u32,
    group_id: &str,
    change: &MemberChange,
) -> Result<ResolvedMembers, DirectoryError> {
    let mut out = ResolvedMembers {
        replace_all: change.replace_all,
        add: Vec::new(),
        remove: Vec::new(),
        keys: Vec::new(),
        ids_added: Vec::new(),
        ids_removed: Vec::new(),
    };
    let mut graph = change.replace_all && !dir.members_of_groups_empty(group);
    for id in &change.add {
        let member = dir
            .resolve(id)
            .ok_or_else(|| DirectoryError::UnknownMember(id.clone()))?;
        if let Member::Group(h) = member {
            if dir.descendant_groups(h).contains(&group) {
                return Err(DirectoryError::Cycle {
                    group: group_id.to_owned(),
                    member: id.clone(),
                });
            }
            graph = true;
        }
        if !out.add.contains(&member) {
            out.add.push(member);
            out.keys.push(TouchKey::Id(Arc::from(id.as_str())));
            out.ids_added.push(id.clone());
        }
    }
    for id in &change.remove {
        if let Some(member) = dir.resolve(id) {
            if matches!(member, Member::Group(_)) {
                graph = true;
            }
            if !out.remove.contains(&member) && !out.add.contains(&member) {
                out.remove.push(member);
                out.keys.push(TouchKey::Id(Arc::from(id.as_str())));
                out.ids_removed.push(id.clone());
            }
        }
    }
    if graph {
        out.keys.push(TouchKey::Graph);
    }
    Ok(out)
}

fn members_audit(m: &ResolvedMembers) -> serde_json::Value {
    serde_json::json!({
        "replace_all": m.replace_all,
        "add": m.ids_added,
        "remove": m.ids_removed,
    })
}

/// Plans one command against the committed directory.
pub(super) fn plan(
    dir: &Directory,
    actor: &Actor,
    cmd: &Command,
    now: i64,
    allow_manual_updates: bool,
) -> Result<Planned, DirectoryError> {
    let managed = actor.is_scim();
    let change = |action: &'static str, rtype: &'static str, id: &str| Change {
        at: now,
        actor: actor.label(),
        action,
        resource_type: rtype,
        resource_id: id.to_owned(),
        before: None,
        after: None,
        ops: Vec::new(),
    };
    match cmd {
        Command::CreateUser { draft } => {
            let name_key = claim_user_name(dir, &draft.user_name, None)?;
            let id: Arc<str> = Arc::from(uuid::Uuid::new_v4().to_string());
            let rec = Arc::new(UserRecord::from_draft(
                dir.allocate_user_ord(),
                id.clone(),
                draft,
                now,
                now,
                1,
                managed,
            ));
            let mut c = change("user.create", "User", &id);
            c.after = Some(draft.body.clone());
            c.ops.push(StoreOp::PutUser(rec.clone()));
            Ok(Planned {
                change: c,
                outcome: Outcome::User(rec),
                keys: vec![TouchKey::Id(id), name_key],
            })
        }
        Command::UpdateUser {
            id,
            if_match,
            mutate,
            action,
        } => {
            let cur = dir.user_by_id(id).ok_or_else(|| DirectoryError::NotFound {
                kind: "User",
                id: id.clone(),
            })?;
            etag_matches(cur.version, if_match.as_deref())?;
            check_lock(actor, cur.scim_managed, "User", id, allow_manual_updates)?;
            let draft = mutate(&cur)?;
            let mut keys = vec![
                TouchKey::Id(cur.id.clone()),
                TouchKey::UserName(name_key(&cur.user_name)),
            ];
            keys.push(claim_user_name(dir, &draft.user_name, Some(cur.ord))?);
            let rec = Arc::new(UserRecord::from_draft(
                cur.ord,
                cur.id.clone(),
                &draft,
                cur.created,
                now,
                cur.version + 1,
                cur.scim_managed || managed,
            ));
            let mut c = change(action, "User", id);
            c.before = Some(cur.body.text().into_owned());
            c.after = Some(draft.body.clone());
            c.ops.push(StoreOp::PutUser(rec.clone()));
            Ok(Planned {
                change: c,
                outcome: Outcome::User(rec),
                keys,
            })
        }
        Command::DeleteUser { id, if_match } => {
            let cur = dir.user_by_id(id).ok_or_else(|| DirectoryError::NotFound {
                kind: "User",
                id: id.clone(),
            })?;
            etag_matches(cur.version, if_match.as_deref())?;
            check_lock(actor, cur.scim_managed, "User", id, allow_manual_updates)?;
            let mut c = change("user.delete", "User", id);
            c.before = Some(cur.body.text().into_owned());
            c.ops.push(StoreOp::DeleteUser { ord: cur.ord });
            Ok(Planned {
                change: c,
                outcome: Outcome::Deleted,
                keys: vec![
                    TouchKey::Id(cur.id.clone()),
                    TouchKey::UserName(name_key(&cur.user_name)),
                ],
            })
        }
        Command::CreateGroup { draft, members } => {
            let name_key = claim_group_name(dir, &draft.display_name, None)?;
            let id: Arc<str> = Arc::from(uuid::Uuid::new_v4().to_string());
            let ord = dir.allocate_group_ord();
            let resolved = resolve_members(
                dir,
                ord,
                &id,
                &MemberChange {
                    replace_all: false,
                    add: members.clone(),
                    remove: Vec::new(),
                },
            )?;
            let rec = Arc::new(GroupRecord::from_draft(
                ord,
                id.clone(),
                draft,
                now,
                now,
                1,
                managed,
            ));
            let mut c = change("group.create", "Group", &id);
            c.after = Some(
                serde_json::json!({"resource": draft.body, "members": members_audit(&resolved)})
                    .to_string(),
            );
            c.ops.push(StoreOp::PutGroup(rec.clone()));
            if !resolved.add.is_empty() {
                c.ops.push(StoreOp::Members {
                    group: ord,
                    replace_all: false,
                    add: resolved.add,
                    remove: Vec::new(),
                });
            }
            let mut keys = resolved.keys;
            keys.push(TouchKey::Id(id));
            keys.push(name_key);
            Ok(Planned {
                change: c,
                outcome: Outcome::Group(rec),
                keys,
            })
        }
        Command::UpdateGroup {
            id,
            if_match,
            mutate,
            action,
        } => {
            let cur = dir
                .group_by_id(id)
                .ok_or_else(|| DirectoryError::NotFound {
                    kind: "Group",
                    id: id.clone(),
                })?;
            etag_matches(cur.version, if_match.as_deref())?;
            check_lock(actor, cur.scim_managed, "Group", id, allow_manual_updates)?;
            let (draft, members) = mutate(&cur)?;
            let resolved = resolve_members(dir, cur.ord, id, &members)?;
            let mut keys = resolved.keys.clone();
            keys.push(TouchKey::Id(cur.id.clone()));
            keys.push(TouchKey::GroupName(name_key(&cur.display_name)));
            keys.push(claim_group_name(dir, &draft.display_name, Some(cur.ord))?);
            let rec = Arc::new(GroupRecord::from_draft(
                cur.ord,
                cur.id.clone(),
                &draft,
                cur.created,
                now,
                cur.version + 1,
                cur.scim_managed || managed,
            ));
            let mut c = change(action, "Group", id);
            c.before = Some(cur.body.text().into_owned());
            c.after = Some(
                serde_json::json!({"resource": draft.body, "members": members_audit(&resolved)})
                    .to_string(),
            );
            c.ops.push(StoreOp::PutGroup(rec.clone()));
            if resolved.replace_all || !resolved.add.is_empty() || !resolved.remove.is_empty() {
                c.ops.push(StoreOp::Members {
                    group: cur.ord,
                    replace_all: resolved.replace_all,
                    add: resolved.add,
                    remove: resolved.remove,
                });
            }
            Ok(Planned {
                change: c,
                outcome: Outcome::Group(rec),
                keys,
            })
        }
        Command::DeleteGroup { id, if_match } => {
            let cur = dir
                .group_by_id(id)
                .ok_or_else(|| DirectoryError::NotFound {
                    kind: "Group",
                    id: id.clone(),
                })?;
            etag_matches(cur.version, if_match.as_deref())?;
            check_lock(actor, cur.scim_managed, "Group", id, allow_manual_updates)?;
            let mut c = change("group.delete", "Group", id);
            c.before = Some(cur.body.text().into_owned());
            c.ops.push(StoreOp::DeleteGroup { ord: cur.ord });
            Ok(Planned {
                change: c,
                outcome: Outcome::Deleted,
                keys: vec![
                    TouchKey::Id(cur.id.clone()),
                    TouchKey::GroupName(name_key(&cur.display_name)),
                    TouchKey::Graph,
                ],
            })
        }
    }
}
