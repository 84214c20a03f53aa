//! Tests for PATCH request parsing and User PATCH semantics, including the
//! shapes Okta and Microsoft Entra ID send.

use serde_json::{json, Value};

use super::super::schema::{DBT_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
use super::super::scim_type::ScimType;
use super::*;

pub(super) fn req(ops: Value) -> PatchRequest {
    let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
    match PatchRequest::from_json(body) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

fn base() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "b@work.example", "type": "work", "primary": true},
            {"value": "b@home.example", "type": "home"}
        ],
        "active": true
    })
}

fn patched(ops: Value) -> Value {
    let mut r = base();
    if let Err(e) = apply_user_patch(&mut r, &req(ops)) {
        panic!("{e}");
    }
    r
}

fn failed(ops: Value) -> PatchError {
    let mut r = base();
    let before = r.clone();
    let e = match apply_user_patch(&mut r, &req(ops)) {
        Ok(()) => panic!("patch unexpectedly succeeded: {r}"),
        Err(e) => e,
    };
    assert_eq!(
        r, before,
        "a failed PATCH must leave the resource unchanged"
    );
    e
}

#[test]
fn request_parsing() {
    let ok = |b: Value| PatchRequest::from_json(b).map(|r| r.operations.len());
    assert_eq!(
        ok(
            json!({"schemas": [PATCH_OP_SCHEMA], "operations": [{"op": "ADD", "path": "title", "value": "x"}]})
        ),
        Ok(1)
    );
    let cases = [
        (json!([]), ScimType::InvalidSyntax),
        (
            json!({"Operations": [{"op": "add", "value": {}}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "value": {}}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": []}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "move", "path": "a"}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"path": "a"}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": 1}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "add", "path": "title"}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "replace", "value": null}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "remove"}]}),
            ScimType::NoTarget,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "remove", "path": ""}]}),
            ScimType::NoTarget,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "remove", "path": "a[b"}]}),
            ScimType::InvalidPath,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "add", "path": 3, "value": 1}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ["add"]}),
            ScimType::InvalidSyntax,
        ),
    ];
    for (body, want) in cases {
        let got = PatchRequest::from_json(body.clone())
            .err()
            .map(|e| e.scim_type());
        assert_eq!(got, Some(want), "{body}");
    }
    let e = PatchRequest::from_json(json!({"schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": "add", "path": "title", "value": "x"}, {"op": "remove", "path": "a..b"}]}));
    assert!(
        e.is_err_and(|e| e.to_string().contains("Operations[1]") && e.to_string().contains("a..b"))
    );
}

#[test]
fn add_simple_complex_and_multi() {
    let r = patched(json!([
        {"op": "add", "path": "title", "value": "Boss"},
        {"op": "Add", "path": "name", "value": {"middleName": "J"}},
        {"op": "ADD", "path": "emails", "value": [{"value": "new@x", "type": "other"}, {"value": "b@home.example", "type": "home"}]},
        {"op": "add", "path": "phoneNumbers", "value": {"value": "555", "type": "mobile"}},
    ]));
    assert_eq!(r["title"], "Boss");
    assert_eq!(
        r["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"})
    );
    assert_eq!(
        r["emails"].as_array().map(Vec::len),
        Some(3),
        "duplicate skipped"
    );
    assert_eq!(
        r["phoneNumbers"],
        json!([{"value": "555", "type": "mobile"}])
    );
}

#[test]
fn add_primary_demotes_others() {
    let r = patched(json!([
        {"op": "add", "path": "emails", "value": [{"value": "n@x", "primary": true}]}
    ]));
    assert_eq!(r["emails"][0]["primary"], false);
    assert_eq!(r["emails"][2]["primary"], true);
    let r = patched(json!([
        {"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}
    ]));
    assert_eq!(r["emails"][0]["primary"], false);
    assert_eq!(r["emails"][1]["primary"], true);
    let e = failed(json!([{"op": "add", "path": "emails",
        "value": [{"value": "1@x", "primary": true}, {"value": "2@x", "primary": true}]}]));
    assert_eq!(e.scim_type(), ScimType::InvalidValue);
}

#[test]
fn replace_semantics() {
    let r = patched(json!([
        {"op": "replace", "path": "emails", "value": [{"value": "only@x"}]},
        {"op": "replace", "path": "name", "value": {"givenName": "Babs"}},
        {"op": "replace", "path": "userName", "value": "babs"},
        {"op": "replace", "path": "active", "value": "False"},
    ]));
    assert_eq!(r["emails"], json!([{"value": "only@x"}]));
    assert_eq!(
        r["name"],
        json!({"givenName": "Babs", "familyName": "Jensen"})
    );
    assert_eq!(r["userName"], "babs");
    assert_eq!(r["active"], false);
    let r = patched(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "bj@work.example"},
        {"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x", "type": "home"}},
    ]));
    assert_eq!(
        r["emails"][0],
        json!({"value": "bj@work.example", "type": "work", "primary": true})
    );
    assert_eq!(r["emails"][1], json!({"value": "h@x", "type": "home"}));
    let e =
        failed(json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}]));
    assert_eq!(e.scim_type(), ScimType::NoTarget);
    let e = failed(json!([{"op": "replace", "path": "phoneNumbers.value", "value": "x"}]));
    assert_eq!(e.scim_type(), ScimType::NoTarget);
}

#[test]
fn remove_semantics() {
    let r = patched(json!([
        {"op": "remove", "path": "emails[type eq \"work\"]"},
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": "active"},
        {"op": "remove", "path": "nickName"},
        {"op": "remove", "path": "emails[type eq \"nope\"]"},
    ]));
    assert_eq!(
        r["emails"],
        json!([{"value": "b@home.example", "type": "home"}])
    );
    assert_eq!(r["name"], json!({"familyName": "Jensen"}));
    assert!(r.get("active").is_none());
    let r = patched(json!([{"op": "remove", "path": "emails"}, {"op": "remove", "path": "name"}]));
    assert!(r.get("emails").is_none() && r.get("name").is_none());
    let r = patched(
        json!([{"op": "remove", "path": "emails[type eq \"home\"].value"},
        {"op": "remove", "path": "emails[type eq \"home\"].type"}]),
    );
    assert_eq!(r["emails"].as_array().map(Vec::len), Some(1));
    let r = patched(
        json!([{"op": "remove", "path": "emails", "value": [{"value": "b@work.example"}]}]),
    );
    assert_eq!(
        r["emails"],
        json!([{"value": "b@home.example", "type": "home"}])
    );
}

#[test]
fn mutability_errors() {
    for (op, path) in [
        ("remove", "userName"),
        ("remove", "id"),
        ("remove", "meta"),
        ("remove", "groups"),
        ("replace", "id"),
        ("add", "groups"),
        ("replace", "meta.lastModified"),
    ] {
        let mut o = json!({"op": op, "path": path});
        if op != "remove" {
            o["value"] = json!("x");
        }
        let e = failed(json!([o]));
        assert_eq!(e.scim_type(), ScimType::Mutability, "{op} {path}: {e}");
        assert!(e.to_string().contains(path), "{e}");
    }
    let e = failed(json!([{"op": "replace", "path": "userName", "value": ""}]));
    assert_eq!(e.scim_type(), ScimType::InvalidValue);
    let e = failed(json!([{"op": "replace", "path": "favouriteColour", "value": "x"}]));
    assert_eq!(e.scim_type(), ScimType::InvalidPath);
    let e = failed(json!([{"op": "replace", "path": "userName[value eq \"x\"]", "value": "x"}]));
    assert_eq!(e.scim_type(), ScimType::InvalidPath);
}

#[test]
fn password_is_accepted_but_never_stored() {
    let r = patched(json!([
        {"op": "replace", "path": "password", "value": "s3cret"},
        {"op": "replace", "value": {"password": "s3cret"}},
        {"op": "remove", "path": "password"},
    ]));
    assert_eq!(r, base());
}

#[test]
fn atomicity_second_op_fails() {
    let e = failed(json!([
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": "active", "value": "maybe"},
    ]));
    assert_eq!(e.scim_type(), ScimType::InvalidValue);
    assert!(
        e.to_string().contains("Operations[1]") && e.to_string().contains("active"),
        "{e}"
    );
    let e = failed(json!([
        {"op": "add", "path": "title", "value": "Changed"},
        {"op": "remove", "path": "userName"},
    ]));
    assert_eq!(e.scim_type(), ScimType::Mutability);
}

#[test]
fn type_checks_on_written_values() {
    for (path, v) in [
        ("userName", json!(5)),
        ("name", json!([1])),
        ("emails", json!("x@y")),
        ("name.givenName", json!({"a": 1})),
        (
            "urn:ietf:params:scim:schemas:extension:dbtLabs:2.0:User:licenseType",
            json!("admin"),
        ),
    ] {
        let e = failed(json!([{"op": "add", "path": path, "value": v}]));
        assert_eq!(e.scim_type(), ScimType::InvalidValue, "{path}: {e}");
    }
}

#[test]
fn okta_shapes() {
    // Okta deactivation and profile updates.
    let r = patched(json!([{"op": "replace", "value": {"active": false}}]));
    assert_eq!(r["active"], false);
    let r = patched(json!([{"op": "replace", "value": {
        "id": "ignored-without-stored-id", "schemas": [USER_SCHEMA], "meta": {"x": 1},
        "userName": "new", "name": {"familyName": "J2"}, "groups": [{"value": "g"}]
    }}]));
    assert_eq!(r["userName"], "new");
    assert_eq!(
        r["name"],
        json!({"givenName": "Barbara", "familyName": "J2"})
    );
    assert!(r.get("groups").is_none() && r.get("id").is_none());
    // With the id in the stored body, a matching id passes and a different one fails.
    let mut with_id = base();
    with_id["id"] = json!("u-1");
    let ok = req(json!([{"op": "replace", "value": {"id": "u-1", "active": false}}]));
    assert!(apply_user_patch(&mut with_id, &ok).is_ok());
    assert_eq!(
        (with_id["id"].clone(), with_id["active"].clone()),
        (json!("u-1"), json!(false))
    );
    let before = with_id.clone();
    let bad = req(json!([{"op": "replace", "value": {"id": "u-2", "active": true}}]));
    let e = apply_user_patch(&mut with_id, &bad).err();
    assert_eq!(e.map(|e| e.scim_type()), Some(ScimType::Mutability));
    assert_eq!(with_id, before);
}

#[test]
fn entra_shapes() {
    let ent = ENTERPRISE_USER_SCHEMA;
    let r = patched(json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "moved@work.example"},
        {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"},
        {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
        {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
        {"op": "Replace", "path": "displayName", "value": "Babs"},
        {"op": "Add", "path": format!("{ent}:employeeNumber"), "value": "7"},
        {"op": "Replace", "path": format!("{ent}:manager"), "value": "boss-id"},
        {"op": "Add", "value": {
            "name.givenName": "Ann",
            format!("{ent}:department"): "R&D",
            ent: {"costCenter": "CC1"},
            "urn:ietf:params:scim:schemas:extension:dbtLabs:2.0:User:licenseType": "analyst",
            "unknownThing": "ignored"
        }},
    ]));
    assert_eq!(r["active"], false);
    assert_eq!(r["emails"][0]["value"], "moved@work.example");
    assert_eq!(
        r["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555"}])
    );
    assert_eq!(
        r["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}])
    );
    assert_eq!(r["name"]["givenName"], "Ann");
    assert_eq!(
        r[ent],
        json!({"employeeNumber": "7", "manager": {"value": "boss-id"}, "department": "R&D", "costCenter": "CC1"})
    );
    assert_eq!(r[DBT_USER_SCHEMA], json!({"licenseType": "analyst"}));
    assert_eq!(r["schemas"], json!([USER_SCHEMA, ent, DBT_USER_SCHEMA]));
    assert!(r.get("unknownThing").is_none());
    // Removing the manager and the whole extension.
    let mut r2 = r.clone();
    let rm = req(json!([{"op": "Remove", "path": format!("{ent}:manager")}]));
    assert!(apply_user_patch(&mut r2, &rm).is_ok());
    assert!(r2[ent].get("manager").is_none());
    let rm = req(json!([{"op": "remove", "path": ent}]));
    assert!(apply_user_patch(&mut r2, &rm).is_ok());
    assert!(r2.get(ent).is_none());
    assert_eq!(r2["schemas"], json!([USER_SCHEMA, DBT_USER_SCHEMA]));
    let rm = req(json!([{"op": "remove", "path": format!("{DBT_USER_SCHEMA}:licenseType")}]));
    assert!(apply_user_patch(&mut r2, &rm).is_ok());
    assert!(r2.get(DBT_USER_SCHEMA).is_none());
    // A filter that is not plain equality cannot create a value.
    let e = failed(
        json!([{"op": "Add", "path": "emails[type ne \"work\" and value co \"zzz\"].display", "value": "d"}]),
    );
    assert_eq!(e.scim_type(), ScimType::NoTarget);
}

#[test]
fn replace_extension_object_merges() {
    let ent = ENTERPRISE_USER_SCHEMA;
    let mut r = base();
    r[ent] = json!({"employeeNumber": "1", "department": "A"});
    let op = req(json!([{"op": "replace", "value": {ent: {"department": "B"}}}]));
    assert!(apply_user_patch(&mut r, &op).is_ok());
    assert_eq!(r[ent], json!({"employeeNumber": "1", "department": "B"}));
    let op = req(json!([{"op": "replace", "path": ent, "value": {"employeeNumber": null}}]));
    assert!(apply_user_patch(&mut r, &op).is_ok());
    assert_eq!(r[ent], json!({"department": "B"}));
}

#[test]
fn pathless_values_under_an_unknown_schema_are_refused_null_ones_ignored() {
    let e = failed(json!([{"op": "Replace", "value": {
        "title": "kept only if all succeed",
        "urn:example:custom:2.0:User:tag": "701984"
    }}]));
    assert_eq!(e.scim_type(), ScimType::InvalidValue);
    assert!(e.to_string().contains("urn:example:custom:2.0:User"), "{e}");

    let r = patched(json!([{"op": "Replace", "value": {
        "title": "Engineer",
        "urn:example:custom:2.0:User:tag": null,
        "http://schemas.example.com/ext/User": {}
    }}]));
    assert_eq!(r["title"], "Engineer");
    assert!(r.get("urn:example:custom:2.0:User").is_none(), "{r}");
    assert_eq!(r["schemas"], json!([USER_SCHEMA]));
}

#[test]
fn entra_manager_add_with_unqualified_path_and_array_value() {
    let r = patched(json!([{"op": "Add", "path": "manager", "value": [
        {"$ref": "https://h/scim/Users/m-1", "value": "m-1"}
    ]}]));
    assert_eq!(r[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "m-1");
    let schemas = r["schemas"].as_array().cloned().unwrap_or_default();
    assert!(schemas.contains(&json!(ENTERPRISE_USER_SCHEMA)), "{r}");
}
