//! Test helpers: a directory built from a list of users and their groups.

use crate::directory::{Directory, GroupRecord, Member, UserRecord};
use crate::store::Snapshot;

/// A directory where each `(userName, groups)` user is directly in those groups.
pub fn directory(users: &[(&str, &[&str])]) -> Directory {
    let mut snap = Snapshot::default();
    let mut group_names: Vec<String> = Vec::new();
    for (ord, (name, groups)) in users.iter().enumerate() {
        let ord = ord as u32;
        snap.users.push(UserRecord {
            ord,
            id: format!("u{ord}").into(),
            user_name: (*name).into(),
            external_id: None,
            active: true,
            emails: vec![format!("{name}@example.com").into_boxed_str()].into(),
            license: None,
            user_type: None,
            body: "{}".into(),
            created: 0,
            modified: 0,
            version: 1,
            scim_managed: true,
        });
        for g in *groups {
            let gord = match group_names.iter().position(|n| n == g) {
                Some(i) => i as u32,
                None => {
                    group_names.push((*g).to_owned());
                    (group_names.len() - 1) as u32
                }
            };
            snap.memberships.push((gord, Member::User(ord)));
        }
    }
    for (ord, name) in group_names.iter().enumerate() {
        snap.groups.push(GroupRecord {
            ord: ord as u32,
            id: format!("g{ord}").into(),
            display_name: name.as_str().into(),
            external_id: None,
            body: "{}".into(),
            created: 0,
            modified: 0,
            version: 1,
            scim_managed: true,
        });
    }
    Directory::from_snapshot(snap)
}
