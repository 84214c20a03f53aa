//! Tests for Group PATCH: membership as set changes (Okta and Entra ID
//! shapes), attribute updates and atomicity.

use serde_json::{json, Value};

use super::super::schema::GROUP_SCHEMA;
use super::super::scim_type::ScimType;
use super::tests_user::req;
use super::*;

fn group() -> Value {
    json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "externalId": "okta-1"})
}

fn user(id: &str) -> MemberRef {
    MemberRef {
        value: id.to_string(),
        kind: Some(MemberKind::User),
    }
}

fn untyped(id: &str) -> MemberRef {
    MemberRef {
        value: id.to_string(),
        kind: None,
    }
}

fn run(ops: Value) -> (Value, MemberDelta) {
    let mut g = group();
    let mut d = MemberDelta::default();
    if let Err(e) = apply_group_patch(&mut g, &mut d, &req(ops)) {
        panic!("{e}");
    }
    (g, d)
}

fn run_err(ops: Value) -> PatchError {
    let mut g = group();
    let mut d = MemberDelta {
        replace_all: false,
        add: vec![user("keep")],
        remove: vec![],
    };
    let (g0, d0) = (g.clone(), d.clone());
    let e = match apply_group_patch(&mut g, &mut d, &req(ops)) {
        Ok(()) => panic!("unexpected success: {g} {d:?}"),
        Err(e) => e,
    };
    assert_eq!((g, d), (g0, d0), "failed PATCH must change nothing");
    e
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn add_members_with_path_and_without() {
    let (_, d) = run(json!([
        {"op": "add", "path": "members", "value": [{"value": "u1", "type": "User"}, {"value": "u2"}]},
        {"op": "Add", "value": {"members": [{"value": "u3", "display": "Three"}, {"value": "u1"}]}},
    ]));
    assert_eq!(
        d,
        MemberDelta {
            replace_all: false,
            add: vec![user("u1"), untyped("u2"), untyped("u3")],
            remove: vec![]
        }
    );
    assert_eq!(
        d.apply_to(&ids(&["u0", "u1"])),
        ids(&["u0", "u1", "u2", "u3"])
    );
}

#[test]
fn remove_by_filter_single_and_or() {
    let (_, d) = run(json!([
        {"op": "remove", "path": "members[value eq \"a\"]"},
        {"op": "remove", "path": "members[value eq \"b\" or value eq \"c\"]"},
        {"op": "remove", "path": "members[VALUE eq \"a\"]"},
    ]));
    assert_eq!(
        d,
        MemberDelta {
            replace_all: false,
            add: vec![],
            remove: ids(&["a", "b", "c"])
        }
    );
    assert_eq!(d.apply_to(&ids(&["a", "x", "c"])), ids(&["x"]));
}

#[test]
fn entra_remove_with_value_array() {
    let (_, d) = run(json!([
        {"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}
    ]));
    assert_eq!(d.remove, ids(&["u1", "u2"]));
    assert!(!d.replace_all);
}

#[test]
fn remove_all_and_replace() {
    let (_, d) = run(json!([{"op": "remove", "path": "members"}]));
    assert_eq!(
        d,
        MemberDelta {
            replace_all: true,
            add: vec![],
            remove: vec![]
        }
    );
    assert!(d.apply_to(&ids(&["a"])).is_empty());
    let (_, d) = run(json!([
        {"op": "remove", "path": "members[value eq \"z\"]"},
        {"op": "replace", "path": "members", "value": [{"value": "n1"}, {"value": "n2", "type": "Group"}]},
        {"op": "remove", "path": "members[value eq \"n1\"]"},
    ]));
    assert_eq!(
        d,
        MemberDelta {
            replace_all: true,
            add: vec![MemberRef {
                value: "n2".into(),
                kind: Some(MemberKind::Group)
            }],
            remove: vec![]
        }
    );
    let (_, d) = run(json!([{"op": "replace", "path": "members", "value": []}]));
    assert_eq!(d.apply_to(&ids(&["a"])), Vec::<String>::new());
}

#[test]
fn later_ops_cancel_earlier_ones() {
    let (_, d) = run(json!([
        {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
        {"op": "remove", "path": "members[value eq \"a\"]"},
        {"op": "remove", "path": "members[value eq \"c\"]"},
        {"op": "add", "path": "members", "value": [{"value": "c", "type": "User"}]},
    ]));
    assert_eq!(
        d,
        MemberDelta {
            replace_all: false,
            add: vec![untyped("b"), user("c")],
            remove: ids(&["a"])
        }
    );
}

#[test]
fn okta_group_push_replace() {
    let mut g = group();
    g["id"] = json!("g-1");
    let mut d = MemberDelta::default();
    let r = req(json!([{"op": "replace", "value": {
        "id": "g-1", "schemas": [GROUP_SCHEMA], "meta": {"resourceType": "Group"},
        "displayName": "Eng 2", "members": [{"value": "u9", "display": "Nine"}]
    }}]));
    assert!(apply_group_patch(&mut g, &mut d, &r).is_ok());
    assert_eq!(g["displayName"], "Eng 2");
    assert_eq!(g["id"], "g-1");
    assert_eq!(
        d,
        MemberDelta {
            replace_all: true,
            add: vec![untyped("u9")],
            remove: vec![]
        }
    );
    let r = req(json!([{"op": "replace", "value": {"id": "other", "displayName": "X"}}]));
    let e = apply_group_patch(&mut g, &mut d, &r).err();
    assert_eq!(e.map(|e| e.scim_type()), Some(ScimType::Mutability));
    assert_eq!(g["displayName"], "Eng 2");
}

#[test]
fn attribute_updates() {
    let (g, d) = run(json!([
        {"op": "replace", "path": "displayName", "value": "Platform"},
        {"op": "replace", "path": "externalId", "value": "entra-7"},
    ]));
    assert_eq!(
        g,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Platform", "externalId": "entra-7"})
    );
    assert!(d.is_empty());
    let (g, _) = run(json!([{"op": "remove", "path": "externalId"}]));
    assert!(g.get("externalId").is_none());
}

#[test]
fn unsupported_member_shapes_and_atomicity() {
    let cases = [
        (
            json!([{"op": "remove", "path": "members[display eq \"x\"]"}]),
            ScimType::InvalidFilter,
        ),
        (
            json!([{"op": "remove", "path": "members[value eq \"a\" and type eq \"User\"]"}]),
            ScimType::InvalidFilter,
        ),
        (
            json!([{"op": "remove", "path": "members[value ne \"a\"]"}]),
            ScimType::InvalidFilter,
        ),
        (
            json!([{"op": "replace", "path": "members[value eq \"a\"]", "value": {"value": "b"}}]),
            ScimType::InvalidFilter,
        ),
        (
            json!([{"op": "replace", "path": "members.value", "value": "b"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "add", "path": "members", "value": [{"value": "a", "type": "Robot"}]}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "add", "path": "members", "value": ["a"]}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "remove", "path": "displayName"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": ""}]),
            ScimType::InvalidValue,
        ),
        (
            json!([{"op": "replace", "path": "userName", "value": "x"}]),
            ScimType::InvalidPath,
        ),
        (
            json!([
                {"op": "add", "path": "members", "value": [{"value": "x"}]},
                {"op": "replace", "path": "displayName", "value": 5}
            ]),
            ScimType::InvalidValue,
        ),
        (
            json!([
                {"op": "replace", "path": "displayName", "value": "ok"},
                {"op": "remove", "path": "members[value co \"x\"]"}
            ]),
            ScimType::InvalidFilter,
        ),
    ];
    for (ops, want) in cases {
        let e = run_err(ops.clone());
        assert_eq!(e.scim_type(), want, "{ops}: {e}");
    }
    let e = run_err(json!([{"op": "remove", "path": "members[display eq \"x\"]"}]));
    assert!(e.to_string().contains("value eq"), "{e}");
}
