//! Unit tests for the schema definitions, lookup, normalization and
//! projection.

use serde_json::{json, Value};

use super::super::scim_type::ScimType;
use super::*;

fn user_body() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": "bjensen@example.com",
    })
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn schemas_json_lists_every_schema_with_meta() {
    let all = schemas_json("https://h/scim/v2/");
    let ids: Vec<&str> = all.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            USER_SCHEMA,
            ENTERPRISE_USER_SCHEMA,
            DBT_USER_SCHEMA,
            GROUP_SCHEMA
        ]
    );
    for s in &all {
        assert_eq!(s["schemas"], json!([SCHEMA_SCHEMA]));
        assert_eq!(s["meta"]["resourceType"], "Schema");
        let loc = s["meta"]["location"].as_str().unwrap_or_default();
        assert!(loc.starts_with("https://h/scim/v2/Schemas/urn:"), "{loc}");
        assert!(s["attributes"].as_array().is_some_and(|a| !a.is_empty()));
    }
    let user = schema_json(&USER_SCHEMA.to_uppercase(), "https://h").unwrap_or_default();
    let attrs = user["attributes"].as_array().cloned().unwrap_or_default();
    let user_name = attrs
        .iter()
        .find(|a| a["name"] == "userName")
        .cloned()
        .unwrap_or_default();
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    let password = attrs
        .iter()
        .find(|a| a["name"] == "password")
        .cloned()
        .unwrap_or_default();
    assert_eq!(password["mutability"], "writeOnly");
    assert_eq!(password["returned"], "never");
    let groups = attrs
        .iter()
        .find(|a| a["name"] == "groups")
        .cloned()
        .unwrap_or_default();
    assert_eq!(groups["mutability"], "readOnly");
    assert_eq!(groups["subAttributes"].as_array().map(Vec::len), Some(4));
    assert!(schema_json("urn:nope", "x").is_none());
    let dbt = schema_json(DBT_USER_SCHEMA, "x").unwrap_or_default();
    assert_eq!(
        dbt["attributes"][0]["canonicalValues"],
        json!(["developer", "analyst", "read_only", "it"])
    );
}

#[test]
fn every_complex_attribute_has_sub_attributes() {
    fn walk(a: &AttrDef) {
        assert_eq!(a.is_complex(), !a.sub_attributes.is_empty(), "{}", a.name);
        a.sub_attributes.iter().for_each(walk);
    }
    for s in all_schemas() {
        s.attributes.iter().for_each(walk);
    }
    common_attrs().iter().for_each(walk);
}

#[test]
fn lookup_is_case_insensitive_and_urn_aware() {
    let a = resolve_attr(ResourceKind::User, "USERNAME").map(|r| r.attr.name);
    assert_eq!(a, Some("userName"));
    let r = resolve_attr(ResourceKind::User, "name.GIVENNAME");
    assert_eq!(r.map(|r| r.leaf().name), Some("givenName"));
    let r = resolve_attr(
        ResourceKind::User,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    );
    assert!(matches!(
        r.map(|r| r.location),
        Some(AttrLocation::Extension(s)) if s.id == ENTERPRISE_USER_SCHEMA
    ));
    let r = resolve_attr(
        ResourceKind::User,
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    );
    assert_eq!(
        r.map(|r| (r.location, r.attr.name)),
        Some((AttrLocation::Core, "userName"))
    );
    assert!(matches!(
        resolve_name(ResourceKind::User, &ENTERPRISE_USER_SCHEMA.to_lowercase()),
        Some(ResolvedName::Extension(_))
    ));
    assert!(resolve_attr(ResourceKind::Group, "userName").is_none());
    assert!(resolve_attr(ResourceKind::Group, ENTERPRISE_USER_SCHEMA).is_none());
    assert!(resolve_attr(ResourceKind::User, "name.nope").is_none());
    assert!(resolve_attr(ResourceKind::User, "userName.x").is_none());
    assert!(resolve_attr(ResourceKind::User, "urn:x:y:userName").is_none());
    assert_eq!(
        resolve_attr(ResourceKind::User, "ID").map(|r| r.attr.case_exact),
        Some(true)
    );
    assert_eq!(split_urn("urn:a:b:c.d"), (Some("urn:a:b"), "c.d"));
    assert_eq!(split_urn("ürn"), (None, "ürn"));
}

#[test]
fn normalize_rewrites_casing_and_drops_read_only_and_unknown() {
    let body = json!({
        "SCHEMAS": [USER_SCHEMA.to_lowercase(), ENTERPRISE_USER_SCHEMA],
        "USERNAME": "bjensen",
        "id": "client-chosen",
        "meta": {"resourceType": "User"},
        "groups": [{"value": "g1"}],
        "password": "hunter2",
        "favouriteColour": "blue",
        "Name": {"GivenName": "Barbara", "unknown": 1},
        "emails": {"VALUE": "b@example.com", "type": "work", "primary": "True"},
        "active": "False",
        "externalid": "ext-1",
        ENTERPRISE_USER_SCHEMA: {"EmployeeNumber": "42", "manager": {"value": "m1", "displayName": "M"}},
    });
    let out = normalize_resource(ResourceKind::User, body).unwrap_or_default();
    assert_eq!(
        out,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
            "active": false,
            "externalId": "ext-1",
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "42", "manager": {"value": "m1"}},
        })
    );
    let keys: Vec<&String> = out
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.first().map(|k| k.as_str()), Some("schemas"));
}

#[test]
fn normalize_booleans_from_strings() {
    for (given, want) in [
        ("True", false),
        ("true", false),
        ("FALSE", true),
        ("false", true),
    ] {
        let mut body = user_body();
        body["active"] = json!(given);
        let out = normalize_resource(ResourceKind::User, body).unwrap_or_default();
        assert_eq!(out["active"], json!(!want), "{given}");
    }
    let mut body = user_body();
    body["active"] = json!("yes");
    let err = normalize_resource(ResourceKind::User, body).err();
    assert_eq!(err.map(|e| e.scim_type()), Some(ScimType::InvalidValue));
}

#[test]
fn normalize_rejects_bad_schemas() {
    let cases = [
        (json!({"userName": "a"}), ScimType::InvalidSyntax),
        (
            json!({"schemas": USER_SCHEMA, "userName": "a"}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [GROUP_SCHEMA], "userName": "a"}),
            ScimType::InvalidValue,
        ),
        (
            json!({"schemas": [ENTERPRISE_USER_SCHEMA], "userName": "a"}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [USER_SCHEMA, "urn:example:custom"], "userName": "a",
                   "urn:example:custom": {"tag": "x"}}),
            ScimType::InvalidValue,
        ),
        (
            json!({"schemas": [USER_SCHEMA, GROUP_SCHEMA], "userName": "a"}),
            ScimType::InvalidValue,
        ),
        (
            json!({"schemas": [USER_SCHEMA, "custom"], "userName": "a"}),
            ScimType::InvalidSyntax,
        ),
        (json!([1]), ScimType::InvalidSyntax),
    ];
    for (body, want) in cases {
        let got = normalize_resource(ResourceKind::User, body.clone()).err();
        assert_eq!(got.map(|e| e.scim_type()), Some(want), "{body}");
    }
}

#[test]
fn normalize_requires_user_name_and_display_name() {
    let e = normalize_resource(ResourceKind::User, json!({"schemas": [USER_SCHEMA]})).err();
    assert_eq!(e, Some(SchemaError::MissingRequired("userName".into())));
    let e = normalize_resource(
        ResourceKind::User,
        json!({"schemas": [USER_SCHEMA], "userName": " "}),
    );
    assert!(e.is_err());
    let e = normalize_resource(ResourceKind::Group, json!({"schemas": [GROUP_SCHEMA]})).err();
    assert!(e.is_some_and(|e| e.to_string().contains("displayName")));
}

#[test]
fn normalize_type_errors_name_the_attribute() {
    let cases = [
        ("userName", json!(5)),
        ("name", json!("Barbara")),
        ("emails", json!([{"value": 3}])),
        ("displayName", json!(["a"])),
        ("emails", json!([["x"]])),
    ];
    for (attr, v) in cases {
        let mut body = user_body();
        body[attr] = v;
        let err = normalize_resource(ResourceKind::User, body).err();
        assert!(
            err.as_ref().is_some_and(
                |e| e.scim_type() == ScimType::InvalidValue && e.to_string().contains(attr)
            ),
            "{attr}: {err:?}"
        );
    }
}

#[test]
fn normalize_license_type() {
    let mut body = user_body();
    body[DBT_USER_SCHEMA] = json!({"licenseType": "Developer"});
    let out = normalize_resource(ResourceKind::User, body.clone()).unwrap_or_default();
    assert_eq!(out[DBT_USER_SCHEMA]["licenseType"], "developer");
    assert_eq!(out["schemas"], json!([USER_SCHEMA, DBT_USER_SCHEMA]));
    body[DBT_USER_SCHEMA] = json!({"licenseType": "admin"});
    let err = normalize_resource(ResourceKind::User, body).err();
    assert!(err.is_some_and(
        |e| e.scim_type() == ScimType::InvalidValue && e.to_string().contains("licenseType")
    ));
}

#[test]
fn normalize_primary_at_most_once() {
    let mut body = user_body();
    body["emails"] = json!([
        {"value": "a@x", "primary": true},
        {"value": "b@x", "primary": "true"}
    ]);
    let err = normalize_resource(ResourceKind::User, body).err();
    assert_eq!(err, Some(SchemaError::MultiplePrimary("emails".into())));
}

#[test]
fn normalize_group_keeps_members_and_manager_string_is_wrapped() {
    let body = json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": "Eng",
        "members": [{"value": "u1", "type": "user", "display": "U", "$ref": "x"}, {"value": "g2"}],
        "id": "x",
    });
    let out = normalize_resource(ResourceKind::Group, body).unwrap_or_default();
    assert_eq!(
        out["members"],
        json!([{"value": "u1", "$ref": "x", "type": "User"}, {"value": "g2"}])
    );
    assert!(out.get("id").is_none());
    let refs = parse_member_list(&out["members"]).unwrap_or_default();
    assert_eq!(
        refs[0],
        MemberRef {
            value: "u1".into(),
            kind: Some(MemberKind::User)
        }
    );
    assert_eq!(refs[1].kind, None);
    let bad = json!({"schemas": [GROUP_SCHEMA], "displayName": "E", "members": [{"display": "x"}]});
    assert!(normalize_resource(ResourceKind::Group, bad).is_err());
    assert!(parse_member_list(&json!([{"value": "a", "type": "Robot"}])).is_err());
    assert!(parse_member_list(&json!(["a"])).is_err());
    let mut user = user_body();
    user[ENTERPRISE_USER_SCHEMA] = json!({"manager": "boss-id"});
    let out = normalize_resource(ResourceKind::User, user).unwrap_or_default();
    assert_eq!(
        out[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"value": "boss-id"})
    );
}

#[test]
fn normalize_is_idempotent_and_drops_empty_values() {
    let mut body = user_body();
    body["emails"] = json!([]);
    body["name"] = json!({});
    body["title"] = Value::Null;
    body[ENTERPRISE_USER_SCHEMA] = json!({});
    let out = normalize_resource(ResourceKind::User, body).unwrap_or_default();
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA], "userName": "bjensen@example.com"})
    );
    let again = normalize_resource(ResourceKind::User, out.clone()).unwrap_or_default();
    assert_eq!(again, out);
}

fn full_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "id": "u1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "b@x", "type": "work"}, {"value": "c@x", "type": "home"}],
        "password": "leaked?",
        "groups": [{"value": "g1", "display": "Eng"}],
        "meta": {"resourceType": "User", "location": "https://h/Users/u1"},
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "7", "department": "R&D"},
    })
}

#[test]
fn project_default_drops_never_returned() {
    let out = project(ResourceKind::User, &full_user(), &[], &[]);
    let mut want = full_user();
    if let Some(m) = want.as_object_mut() {
        m.remove("password");
    }
    assert_eq!(out, want);
}

#[test]
fn project_attributes_keeps_always_and_requested() {
    let out = project(
        ResourceKind::User,
        &full_user(),
        &strs(&["userName", "NAME.givenName"]),
        &[],
    );
    assert_eq!(
        out,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
        })
    );
    let out = project(
        ResourceKind::User,
        &full_user(),
        &strs(&["emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"]),
        &[],
    );
    assert_eq!(out["emails"], json!([{"value": "b@x"}, {"value": "c@x"}]));
    assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
    let out = project(
        ResourceKind::User,
        &full_user(),
        &strs(&[ENTERPRISE_USER_SCHEMA]),
        &[],
    );
    assert_eq!(
        out[ENTERPRISE_USER_SCHEMA],
        json!({"employeeNumber": "7", "department": "R&D"})
    );
    assert!(out.get("userName").is_none());
    let out = project(
        ResourceKind::User,
        &full_user(),
        &strs(&["password", "nope"]),
        &[],
    );
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "u1"})
    );
}

#[test]
fn project_excluded_attributes() {
    let out = project(
        ResourceKind::User,
        &full_user(),
        &[],
        &strs(&[
            "id",
            "emails.type",
            "name",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "groups",
        ]),
    );
    assert_eq!(out["id"], "u1");
    assert!(out.get("name").is_none() && out.get("groups").is_none());
    assert_eq!(out["emails"], json!([{"value": "b@x"}, {"value": "c@x"}]));
    assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none(), "{out}");
    let out = project(
        ResourceKind::User,
        &full_user(),
        &[],
        &strs(&[ENTERPRISE_USER_SCHEMA]),
    );
    assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(out["userName"], "bjensen");
}

#[test]
fn project_group_members() {
    let g = json!({"schemas": [GROUP_SCHEMA], "id": "g", "displayName": "Eng",
        "members": [{"value": "u1", "display": "B", "type": "User"}]});
    let out = project(ResourceKind::Group, &g, &[], &strs(&["members"]));
    assert_eq!(
        out,
        json!({"schemas": [GROUP_SCHEMA], "id": "g", "displayName": "Eng"})
    );
    let out = project(ResourceKind::Group, &g, &strs(&["members.value"]), &[]);
    assert_eq!(out["members"], json!([{"value": "u1"}]));
    assert_eq!(split_attr_list(" a, ,b "), strs(&["a", "b"]));
}

const ADSCIM_GROUP: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

#[test]
fn unknown_schema_without_data_is_ignored_and_not_echoed() {
    let bodies = [
        json!({"schemas": [GROUP_SCHEMA, ADSCIM_GROUP], "displayName": "g"}),
        json!({"schemas": [GROUP_SCHEMA, ADSCIM_GROUP], "displayName": "g", ADSCIM_GROUP: null}),
        json!({"schemas": [GROUP_SCHEMA, ADSCIM_GROUP], "displayName": "g", ADSCIM_GROUP: {}}),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "g", ADSCIM_GROUP: {"a": null, "b": []}}),
        json!({"schemas": [GROUP_SCHEMA, "urn:example:x:2.0:Group"], "displayName": "g",
               "urn:example:x:2.0:Group:tag": null}),
    ];
    for body in bodies {
        let out = normalize_resource(ResourceKind::Group, body.clone());
        assert_eq!(
            out,
            Ok(json!({"schemas": [GROUP_SCHEMA], "displayName": "g"})),
            "{body}"
        );
    }
}

#[test]
fn unknown_schema_with_data_is_refused_naming_it() {
    let bodies = [
        json!({"schemas": [GROUP_SCHEMA, ADSCIM_GROUP], "displayName": "g", ADSCIM_GROUP: {"a": 1}}),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "g", ADSCIM_GROUP: "x"}),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "g", "urn:example:x:2.0:Group:tag": "t"}),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "g", "urn:example:x:2.0:Group": {"tag": ["t"]}}),
    ];
    for body in bodies {
        let err = normalize_resource(ResourceKind::Group, body.clone()).err();
        assert!(
            matches!(&err, Some(SchemaError::UnsupportedExtension(uri))
                if body.as_object().is_some_and(|m| m.keys().any(|k| k.starts_with(uri.as_str())))),
            "{body}: {err:?}"
        );
        assert_eq!(err.map(|e| e.scim_type()), Some(ScimType::InvalidValue));
    }
}

#[test]
fn another_resource_types_schema_is_refused_even_without_data() {
    let err = normalize_resource(
        ResourceKind::Group,
        json!({"schemas": [GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA], "displayName": "g"}),
    )
    .err();
    assert!(
        matches!(err, Some(SchemaError::WrongResourceType { .. })),
        "{err:?}"
    );
}

#[test]
fn uri_qualified_attributes_of_known_schemas_are_stored() {
    let mut body = user_body();
    body[format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber")] = json!("E-7");
    body[format!("{USER_SCHEMA}:title")] = json!("Engineer");
    let out = normalize_resource(ResourceKind::User, body).unwrap_or_default();
    assert_eq!(out[ENTERPRISE_USER_SCHEMA]["employeeNumber"], "E-7");
    assert_eq!(out["title"], "Engineer");
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
}

#[test]
fn schema_uri_shape() {
    for ok in [USER_SCHEMA, ADSCIM_GROUP, "urn:x", "a+b.c-d:e"] {
        assert!(is_schema_uri(ok), "{ok}");
    }
    for bad in [
        "",
        "custom",
        ":x",
        "1urn:x",
        "urn:",
        "name.givenName",
        "ur n:x",
    ] {
        assert!(!is_schema_uri(bad), "{bad}");
    }
}

#[test]
fn unqualified_names_resolve_to_the_sole_extension_defining_them() {
    let r = resolve_attr(ResourceKind::User, "manager");
    assert!(
        matches!(r, Some(ResolvedAttr { location: AttrLocation::Extension(s), attr, .. })
            if s.id == ENTERPRISE_USER_SCHEMA && attr.name == "manager"),
        "{r:?}"
    );
    // A core attribute wins; a core-qualified name never falls through.
    let r = resolve_attr(ResourceKind::User, "displayName");
    assert!(matches!(
        r,
        Some(ResolvedAttr {
            location: AttrLocation::Core,
            ..
        })
    ));
    assert!(resolve_attr(ResourceKind::User, &format!("{USER_SCHEMA}:manager")).is_none());
    assert!(resolve_attr(ResourceKind::Group, "manager").is_none());
    assert!(resolve_attr(ResourceKind::User, "nonesuch").is_none());
}

#[test]
fn one_complex_value_in_an_array_is_that_value() {
    let mut body = user_body();
    body[ENTERPRISE_USER_SCHEMA] = json!({"manager": [{"value": "m-1", "$ref": "../Users/m-1"}]});
    let out = normalize_resource(ResourceKind::User, body.clone()).unwrap_or_default();
    assert_eq!(out[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "m-1");
    body[ENTERPRISE_USER_SCHEMA] = json!({"manager": [{"value": "a"}, {"value": "b"}]});
    let err = normalize_resource(ResourceKind::User, body).err();
    assert_eq!(err.map(|e| e.scim_type()), Some(ScimType::InvalidValue));
}
