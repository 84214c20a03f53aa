//! The directory subject over a real `Directory`, and decisions through it.

use std::sync::Arc;

use http::Method;

use super::super::model::{RequestFacts, Subject};
use super::super::DirectorySubject;
use super::set;
use crate::directory::Directory;
use crate::record::{GroupRecord, Member, Snapshot, StoreOp, UserRecord};

fn user(ord: u32, name: &str, active: bool) -> UserRecord {
    UserRecord {
        active,
        emails: vec![format!("{name}@example.com").into_boxed_str()].into(),
        license: Some("analyst".into()),
        user_type: Some("Employee".into()),
        scim_managed: true,
        ..UserRecord::new(ord, format!("u-{ord}"), name)
    }
}

fn group(ord: u32, name: &str) -> GroupRecord {
    GroupRecord {
        scim_managed: true,
        ..GroupRecord::new(ord, format!("g-{ord}"), name)
    }
}

/// alice in Finance-Analysts (nested in Data-Platform); bob in nothing; carol inactive;
/// an empty group.
pub(super) fn directory() -> Arc<Directory> {
    Arc::new(Directory::from_snapshot(Snapshot {
        users: vec![
            user(0, "alice", true),
            user(1, "bob", true),
            user(2, "carol", false),
        ],
        groups: vec![
            group(0, "Finance-Analysts"),
            group(1, "Data-Platform"),
            group(2, "Empty-Group"),
            group(3, "Ünïcode-Team"),
        ],
        memberships: vec![
            (0, Member::User(0)),
            (1, Member::Group(0)),
            (3, Member::User(0)),
            (0, Member::User(2)),
        ],
        last_seq: 1,
    }))
}

#[test]
fn groups_come_from_the_directory_through_nesting() {
    let dir = directory();
    let alice = DirectorySubject::new(&dir, dir.user_by_name("alice").unwrap());
    assert!(alice.in_group("finance-analysts"));
    assert!(alice.in_group("data-platform"), "nested group");
    assert!(alice.in_group("DATA-Platform"));
    assert!(alice.in_group("ünïcode-team"));
    assert!(alice.in_group("ÜNÏCODE-TEAM"));
    assert!(!alice.in_group("empty-group"));
    assert!(!alice.in_group("no-such-group"));
    assert_eq!(
        alice.group_names(),
        vec!["Data-Platform", "Finance-Analysts", "Ünïcode-Team"]
    );
    assert_eq!(alice.user_name(), "alice");
    assert_eq!(alice.id(), "u-0");
    assert_eq!(alice.license(), Some("analyst"));
    assert_eq!(alice.user_type(), Some("Employee"));
    assert_eq!(alice.emails().len(), 1);
    assert_eq!(alice.record().ord, 0);
    let bob = DirectorySubject::new(&dir, dir.user_by_name("bob").unwrap());
    assert!(!bob.in_group("finance-analysts"));
    assert!(bob.group_names().is_empty());
}

#[test]
fn decisions_through_the_directory() {
    let dir = directory();
    let s = set("routes:\n  - name: r\n    upstream: http://h\n    allow:\n      - { name: platform, groups: [Data-Platform] }\n      - { name: unicode, groups: [ÜNÏCODE-team], methods: [POST] }\n");
    let m = s.match_route("h", "/x").unwrap();
    let facts = |method: &'static Method| RequestFacts { method, path: "/x" };
    let alice = DirectorySubject::new(&dir, dir.user_by_name("alice").unwrap());
    let d = s.decide(&m, facts(&Method::GET), &alice);
    assert!(d.allow);
    assert_eq!(&*d.by.rule, "platform");
    let bob = DirectorySubject::new(&dir, dir.user_by_name("bob").unwrap());
    assert!(!s.decide(&m, facts(&Method::GET), &bob).allow);
}

#[test]
fn resolved_group_names_follow_every_directory_change() {
    let dir = directory();
    let s = set("routes:\n  - name: r\n    upstream: http://h\n    allow:\n      - { name: platform, groups: [Data-Platform] }\n      - { name: renamed, groups: [Platform-Team] }\n");
    let m = s.match_route("h", "/x").unwrap();
    let get = RequestFacts {
        method: &Method::GET,
        path: "/x",
    };
    let decide = |name: &str| {
        let who = DirectorySubject::new(&dir, dir.user_by_name(name).unwrap());
        assert!(who.directory_groups().is_some(), "read between changes");
        let d = s.decide(&m, get, &who);
        d.allow.then(|| d.by.rule.to_string())
    };
    // Twice: the second decision reads the table the first one resolved.
    assert_eq!(decide("alice").as_deref(), Some("platform"));
    assert_eq!(decide("alice").as_deref(), Some("platform"));
    assert_eq!(decide("bob"), None);

    // Renamed: the old name grants nothing, the new one does, at once.
    dir.apply(&[StoreOp::PutGroup(Arc::new(group(1, "Platform-Team")))], 2);
    assert_eq!(decide("alice").as_deref(), Some("renamed"));

    // bob joins the (renamed) group directly.
    dir.apply(
        &[StoreOp::Members {
            group: 1,
            replace_all: false,
            add: vec![Member::User(1)],
            remove: vec![],
        }],
        3,
    );
    assert_eq!(decide("bob").as_deref(), Some("renamed"));

    // Deleted, then a new group takes the old name: only its own members get in.
    dir.apply(&[StoreOp::DeleteGroup { ord: 1 }], 4);
    assert_eq!(decide("alice"), None);
    assert_eq!(decide("bob"), None);
    dir.apply(
        &[
            StoreOp::PutGroup(Arc::new(group(7, "Data-Platform"))),
            StoreOp::Members {
                group: 7,
                replace_all: false,
                add: vec![Member::User(1)],
                remove: vec![],
            },
        ],
        5,
    );
    assert_eq!(decide("alice"), None);
    assert_eq!(decide("bob").as_deref(), Some("platform"));
}

#[test]
fn dbt_platform_grants_use_the_resolved_group_table() {
    let dir = directory();
    let s = set("routes:\n  - name: dbt\n    preset: dbt-platform\n    upstream: https://h\n    allow:\n      - { name: ghosts, groups: [Ghosts], methods: [PATCH] }\n    grants:\n      - { group: Data-Platform, permission_set: job_admin }\n      - { group: ÜNÏCODE-team, permission_set: stakeholder }\n");
    // Data platform configurations: W for job_admin, and within alice's analyst cap.
    let path = "/api/v3/accounts/1/projects/5/connections/4/";
    let m = s.match_route("h", path).unwrap();
    let decide = |name: &str, method: &'static Method| {
        let who = DirectorySubject::new(&dir, dir.user_by_name(name).unwrap());
        assert!(who.directory_groups().is_some(), "read between changes");
        let d = s.decide(&m, RequestFacts { method, path }, &who);
        format!("{} {}", d.allow, d.by.rule)
    };
    // alice is in Data-Platform through nesting, and in Ünïcode-Team directly.
    assert_eq!(
        decide("alice", &Method::POST),
        "true grant[0]:Data-Platform:job_admin"
    );
    assert_eq!(
        decide("alice", &Method::POST),
        "true grant[0]:Data-Platform:job_admin"
    );
    assert_eq!(
        decide("alice", &Method::GET),
        "true grant[0]:Data-Platform:job_admin"
    );
    assert_eq!(decide("bob", &Method::GET), "false default-deny");
    dir.apply(
        &[StoreOp::Members {
            group: 3,
            replace_all: false,
            add: vec![Member::User(1)],
            remove: vec![],
        }],
        2,
    );
    assert_eq!(
        decide("bob", &Method::GET),
        "true grant[1]:ÜNÏCODE-team:stakeholder"
    );
    assert_eq!(decide("bob", &Method::POST), "false default-deny");
}
