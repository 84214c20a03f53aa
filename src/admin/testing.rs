//! Test helpers: a directory built from a list of users and their groups.

use crate::directory::Directory;
use crate::record::{GroupRecord, Member, Snapshot, UserRecord};

/// A directory where each `(userName, groups)` user is directly in those groups.
pub fn directory(users: &[(&str, &[&str])]) -> Directory {
    let mut snap = Snapshot::default();
    let mut group_names: Vec<String> = Vec::new();
    for (ord, (name, groups)) in users.iter().enumerate() {
        let ord = ord as u32;
        snap.users.push(UserRecord {
            emails: vec![format!("{name}@example.com").into_boxed_str()].into(),
            scim_managed: true,
            ..UserRecord::new(ord, format!("u{ord}"), *name)
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
            scim_managed: true,
            ..GroupRecord::new(ord as u32, format!("g{ord}"), name.as_str())
        });
    }
    Directory::from_snapshot(snap)
}
