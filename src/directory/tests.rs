//! Unit tests of the cache: indexes, member sets, effective groups through nesting.

use std::sync::Arc;

use super::*;
use crate::record::StoreOp;

fn user(ord: u32, name: &str) -> Arc<UserRecord> {
    Arc::new(UserRecord {
        external_id: Some(format!("ext-{ord}").into()),
        emails: vec![format!("{}@example.com", name.to_lowercase()).into_boxed_str()].into(),
        scim_managed: true,
        ..UserRecord::new(ord, format!("u{ord}"), name)
    })
}

fn group(ord: u32, name: &str) -> Arc<GroupRecord> {
    Arc::new(GroupRecord {
        scim_managed: true,
        ..GroupRecord::new(ord, format!("g{ord}"), name)
    })
}

fn members(group: u32, add: Vec<Member>, remove: Vec<Member>, replace_all: bool) -> StoreOp {
    StoreOp::Members {
        group,
        replace_all,
        add,
        remove,
    }
}

/// Users ann(0), bob(1); groups eng(0) ⊂ all(1); ann in eng, bob in all.
fn fixture() -> Directory {
    let d = Directory::default();
    d.apply(
        &[
            StoreOp::PutUser(user(0, "Ann")),
            StoreOp::PutUser(user(1, "Bob")),
            StoreOp::PutGroup(group(0, "eng")),
            StoreOp::PutGroup(group(1, "all")),
            members(0, vec![Member::User(0)], vec![], false),
            members(1, vec![Member::Group(0), Member::User(1)], vec![], false),
        ],
        1,
    );
    d
}

#[test]
fn indexes_find_users_case_insensitively() {
    let d = fixture();
    assert_eq!(d.user_by_name("ANN").map(|u| u.ord), Some(0));
    assert_eq!(d.users_by_email("Bob@Example.com"), vec![1]);
    assert_eq!(d.users_by_external_id("ext-1"), vec![1]);
    assert_eq!(d.group_by_name("ENG").map(|g| g.ord), Some(0));
    assert_eq!(d.resolve("g1"), Some(Member::Group(1)));
    assert_eq!(d.seq(), 1);
}

#[test]
fn effective_groups_follow_nesting() {
    let d = fixture();
    assert_eq!(&*d.effective_groups(0), &[0, 1]);
    assert_eq!(&*d.effective_groups(1), &[1]);
    assert_eq!(&*d.direct_groups(0), &[0]);
    assert!(d.group_contains(1, 0));
    assert!(!d.group_contains(0, 1));
}

#[test]
fn unnesting_a_group_removes_indirect_membership() {
    let d = fixture();
    d.apply(&[members(1, vec![], vec![Member::Group(0)], false)], 2);
    assert_eq!(&*d.effective_groups(0), &[0]);
    assert!(d.parent_groups(0).is_empty());
}

#[test]
fn replacing_all_members_recomputes_old_and_new_members() {
    let d = fixture();
    d.apply(&[members(1, vec![Member::User(0)], vec![], true)], 2);
    assert_eq!(&*d.effective_groups(1), &[] as &[u32]);
    assert_eq!(&*d.effective_groups(0), &[0, 1]);
    assert_eq!(&*d.direct_groups(0), &[0, 1]);
    assert_eq!(d.member_count(1), 1);
}

#[test]
fn deleting_a_group_unlinks_it_everywhere() {
    let d = fixture();
    d.apply(&[StoreOp::DeleteGroup { ord: 1 }], 2);
    assert_eq!(&*d.effective_groups(0), &[0]);
    assert_eq!(&*d.effective_groups(1), &[] as &[u32]);
    assert!(d.group_by_name("all").is_none());
    assert!(d.resolve("g1").is_none());
    assert!(d.parent_groups(0).is_empty());
}

#[test]
fn deleting_a_user_removes_it_from_groups_and_indexes() {
    let d = fixture();
    d.apply(&[StoreOp::DeleteUser { ord: 0 }], 2);
    assert!(d.user_by_name("ann").is_none());
    assert!(d.users_by_email("ann@example.com").is_empty());
    assert!(!d.is_member(0, Member::User(0)));
    assert_eq!(d.user_ords(), vec![1]);
}

#[test]
fn renaming_a_user_moves_its_index_entries() {
    let d = fixture();
    let mut renamed = (*user(0, "Anne")).clone();
    renamed.version = 2;
    d.apply(&[StoreOp::PutUser(Arc::new(renamed))], 2);
    assert!(d.user_by_name("ann").is_none());
    assert_eq!(d.user_by_name("anne").map(|u| u.version), Some(2));
    assert!(d.users_by_email("ann@example.com").is_empty());
    // Membership survives a profile update.
    assert_eq!(&*d.effective_groups(0), &[0, 1]);
}

#[test]
fn snapshot_round_trip_rebuilds_effective_groups() {
    let snap = Snapshot {
        users: vec![(*user(0, "Ann")).clone()],
        groups: vec![(*group(0, "eng")).clone(), (*group(1, "all")).clone()],
        memberships: vec![(0, Member::User(0)), (1, Member::Group(0))],
        last_seq: 7,
    };
    let d = Directory::from_snapshot(snap);
    assert_eq!(&*d.effective_groups(0), &[0, 1]);
    assert_eq!(d.seq(), 7);
    assert_eq!(d.allocate_user_ord(), 1);
    assert_eq!(d.allocate_group_ord(), 2);
}

fn by_name(d: &Directory, prefix: &str, desc: bool) -> Vec<String> {
    let (_, ords) = d.user_name_page(prefix, 0, 100, desc);
    ords.iter()
        .map(|o| d.user(*o).unwrap().user_name.to_string())
        .collect()
}

#[test]
fn name_order_follows_creates_renames_deletes_and_loads() {
    let d = fixture();
    d.apply(
        &[
            StoreOp::PutUser(user(2, "carl")),
            StoreOp::PutUser(user(3, "ALICE")),
        ],
        2,
    );
    assert_eq!(by_name(&d, "", false), ["ALICE", "Ann", "Bob", "carl"]);
    assert_eq!(by_name(&d, "", true), ["carl", "Bob", "Ann", "ALICE"]);
    assert_eq!(by_name(&d, "a", false), ["ALICE", "Ann"]);
    assert_eq!(d.user_name_page("A", 1, 1, false), (2, vec![0]));
    // A rename moves the user; a delete removes it.
    d.apply(&[StoreOp::PutUser(user(3, "zed"))], 3);
    d.apply(&[StoreOp::DeleteUser { ord: 1 }], 4);
    assert_eq!(by_name(&d, "", false), ["Ann", "carl", "zed"]);
    assert_eq!(d.users_with_name_prefix("Z"), vec![3]);
    assert!(d.users_with_name_prefix("alice").is_empty());
    // Groups by displayName, through a rename and a delete.
    d.apply(&[StoreOp::PutGroup(group(0, "Zeta"))], 5);
    assert_eq!(d.group_name_page("", 0, 10, false), (2, vec![1, 0]));
    d.apply(&[StoreOp::DeleteGroup { ord: 1 }], 6);
    assert_eq!(d.group_name_page("z", 0, 10, true), (1, vec![0]));
    assert_eq!(d.groups_with_name_prefix(""), vec![0]);
    // Loaded from a snapshot, the order is the same.
    let snap = Snapshot {
        users: (0..4)
            .filter_map(|o| d.user(o))
            .map(|u| (*u).clone())
            .collect(),
        groups: vec![(*group(0, "Zeta")).clone()],
        memberships: Vec::new(),
        last_seq: 6,
    };
    let loaded = Directory::from_snapshot(snap);
    assert_eq!(by_name(&loaded, "", false), ["Ann", "carl", "zed"]);
    assert_eq!(loaded.group_name_page("", 0, 10, false), (1, vec![0]));
    assert_eq!(loaded.user_ords_after(Some(0), 10), vec![2, 3]);
}

/// Now, in Unix milliseconds.
fn now_ms() -> i64 {
    crate::clock::to_millis(time::OffsetDateTime::now_utc())
}

#[test]
fn a_grant_adds_its_group_and_ancestors_to_decisions_only() {
    let d = fixture();
    let epoch = d.epoch();
    // bob(1) is in all(1); a grant of eng(0) brings eng and, through nesting, all.
    d.grant_start(1, "req-1", "ENG", now_ms() + 60_000);
    assert!(d.epoch() > epoch, "a grant moves the epoch");
    assert_eq!(&*d.decision_groups(1), &[0, 1]);
    assert_eq!(&*d.effective_groups(1), &[1], "SCIM's view is unchanged");
    assert!(!d.is_member(0, Member::User(1)));
    assert_eq!(d.members_of(0).users.len(), 1);
    assert_eq!(&*d.decision_groups(0), &*d.effective_groups(0));
    let generation = d.grants_generation();
    assert!(d.grant_end("req-1"));
    assert!(!d.grant_end("req-1"));
    assert!(d.grants_generation() > generation);
    assert_eq!(&*d.decision_groups(1), &[1]);
    assert_eq!(d.grant_count(), 0);
}

#[test]
fn a_grant_past_its_end_is_ignored_before_it_is_removed() {
    let d = fixture();
    d.grant_start(1, "req-old", "eng", now_ms() - 1);
    assert_eq!(&*d.decision_groups(1), &[1]);
    assert_eq!(d.grant_count(), 1);
    // A grant of a group no directory group is named after gives nothing.
    d.grant_start(1, "req-none", "nobody", now_ms() + 60_000);
    assert_eq!(&*d.decision_groups(1), &[1]);
}
