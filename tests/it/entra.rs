//! Entra ID's SCIM dialect: capitalised ops, string booleans, dotted path-less
//! replaces, member removal forms, its filters, `excludedAttributes=members`, 204 for
//! group PATCH, and the dbt license extension. `tutorial` replays Microsoft's
//! documented requests as sent; `unknown_schemas` holds the rule for schema URIs the
//! service does not know.

mod tutorial;
mod unknown_schemas;

use serde_json::json;

use crate::support::{
    self, patch_ops, sorted, sorted_values, DBT_SCHEMA, ENTERPRISE_SCHEMA, USER_SCHEMA,
};

fn id_of(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn capitalised_add_replace_remove_ops_are_accepted() {
    let gate = support::start("").await;
    let u = gate
        .create_user_with(&json!({
            "schemas": [USER_SCHEMA],
            "userName": "caps@example.com",
            "displayName": "Old Display",
            "nickName": "capsy",
            "active": true
        }))
        .await;
    let id = id_of(&u);

    let body = patch_ops(json!([
        {"op": "Add", "path": "title", "value": "Engineer"},
        {"op": "Replace", "path": "displayName", "value": "New Display"},
        {"op": "Remove", "path": "nickName"}
    ]));
    let resp = gate.patch(&format!("/Users/{id}"), &body).await.expect(200);
    assert_eq!(resp.body["title"], "Engineer");

    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["title"], "Engineer");
    assert_eq!(got.body["displayName"], "New Display");
    assert!(got.body.get("nickName").is_none(), "{}", got.text);
    assert_eq!(support::version(&got.body), "W/\"2\"");
}

#[tokio::test]
async fn active_as_the_string_false_deactivates() {
    let gate = support::start("").await;
    let u = gate.create_user("entra.leaver@example.com").await;
    let id = id_of(&u);

    let body = patch_ops(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    let resp = gate.patch(&format!("/Users/{id}"), &body).await.expect(200);
    assert_eq!(resp.body["active"], false, "a boolean, not a string");

    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["active"], false);
    let rec = gate
        .running
        .directory
        .user_by_id(&id)
        .expect("user in directory");
    assert!(!rec.active, "the directory must see the user as inactive");

    // And back, path-less, with "True".
    let body = patch_ops(json!([{"op": "Replace", "value": {"active": "True"}}]));
    gate.patch(&format!("/Users/{id}"), &body).await.expect(200);
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["active"], true);
    assert!(gate
        .running
        .directory
        .user_by_id(&id)
        .is_some_and(|u| u.active));

    // A POST with the string form is coerced too.
    let mut body = support::user_body("entra.string@example.com");
    body["active"] = json!("False");
    let created = gate.post("/Users", &body).await.expect(201);
    assert_eq!(created.body["active"], false);
    assert!(gate
        .running
        .directory
        .user_by_name("entra.string@example.com")
        .is_some_and(|u| !u.active));
}

#[tokio::test]
async fn pathless_replace_with_dotted_and_enterprise_urn_keys() {
    let gate = support::start("").await;
    let u = gate
        .create_user_with(&json!({
            "schemas": [USER_SCHEMA],
            "userName": "dotted@example.com",
            "name": {"givenName": "Old", "familyName": "Name", "middleName": "Kept"},
            "active": true
        }))
        .await;
    let id = id_of(&u);

    let employee_key = format!("{ENTERPRISE_SCHEMA}:employeeNumber");
    let mut value = serde_json::Map::new();
    value.insert("name.givenName".into(), json!("Ada"));
    value.insert("name.familyName".into(), json!("Lovelace"));
    value.insert(employee_key, json!("E-1815"));
    let body = patch_ops(json!([{"op": "Replace", "value": value}]));
    gate.patch(&format!("/Users/{id}"), &body).await.expect(200);

    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["name"]["givenName"], "Ada", "{}", got.text);
    assert_eq!(got.body["name"]["familyName"], "Lovelace");
    assert_eq!(
        got.body["name"]["middleName"], "Kept",
        "other sub-attributes stay"
    );
    assert_eq!(got.body[ENTERPRISE_SCHEMA]["employeeNumber"], "E-1815");
    let schemas = got.body["schemas"].as_array().cloned().unwrap_or_default();
    assert!(
        schemas.contains(&json!(ENTERPRISE_SCHEMA)),
        "schemas lists the extension: {schemas:?}"
    );
    // No literal dotted keys leak into the resource.
    assert!(got.body.get("name.givenName").is_none(), "{}", got.text);
    assert!(
        got.body
            .get(format!("{ENTERPRISE_SCHEMA}:employeeNumber"))
            .is_none(),
        "{}",
        got.text
    );
}

#[tokio::test]
async fn remove_member_by_value_filter_path() {
    let gate = support::start("").await;
    let a = id_of(&gate.create_user("ma@example.com").await);
    let b = id_of(&gate.create_user("mb@example.com").await);
    let gid = id_of(&gate.create_group("Filter Remove", &[&a, &b]).await);

    let body = patch_ops(json!([{
        "op": "Remove",
        "path": format!("members[value eq \"{a}\"]")
    }]));
    let resp = gate.patch(&format!("/Groups/{gid}"), &body).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    assert_eq!(gate.member_ids(&gid).await, vec![b.clone()]);
    let ua = gate.get(&format!("/Users/{a}")).await.expect(200);
    assert!(ua.body.get("groups").is_none(), "{}", ua.text);
}

#[tokio::test]
async fn remove_members_with_a_value_array_removes_only_those() {
    let gate = support::start("").await;
    let mut u = Vec::new();
    for n in 0..4 {
        u.push(id_of(
            &gate.create_user(&format!("va{n}@example.com")).await,
        ));
    }
    let gid = id_of(
        &gate
            .create_group("Array Remove", &[&u[0], &u[1], &u[2], &u[3]])
            .await,
    );

    let body = patch_ops(json!([{
        "op": "Remove",
        "path": "members",
        "value": [{"value": u[0]}, {"value": u[2]}]
    }]));
    let resp = gate.patch(&format!("/Groups/{gid}"), &body).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    assert_eq!(gate.member_ids(&gid).await, sorted(&[&u[1], &u[3]]));
}

#[tokio::test]
async fn filter_by_external_id_eq() {
    let gate = support::start("").await;
    for (name, ext) in [
        ("x1@example.com", "aad-0001"),
        ("x2@example.com", "aad-0002"),
        ("x3@example.com", "aad-0003"),
    ] {
        let mut body = support::user_body(name);
        body["externalId"] = json!(ext);
        gate.create_user_with(&body).await;
    }
    let found = gate.filter("/Users", "externalId eq \"aad-0002\"").await;
    assert_eq!(support::user_names(&found), vec!["x2@example.com"]);
    assert!(gate
        .filter("/Users", "externalId eq \"aad-9999\"")
        .await
        .is_empty());
    // externalId is caseExact (RFC 7643 §3.1).
    assert!(gate
        .filter("/Users", "externalId eq \"AAD-0002\"")
        .await
        .is_empty());

    // Groups too.
    let mut g = support::group_body("Ext Group", &[]);
    g["externalId"] = json!("aad-group-1");
    gate.post("/Groups", &g).await.expect(201);
    let found = gate
        .filter("/Groups", "externalId eq \"aad-group-1\"")
        .await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["displayName"], "Ext Group");
}

#[tokio::test]
async fn filter_by_work_email_value_path() {
    let gate = support::start("").await;
    gate.create_user_with(&json!({
        "schemas": [USER_SCHEMA],
        "userName": "worker",
        "emails": [
            {"type": "work", "value": "shared@example.com", "primary": true},
            {"type": "home", "value": "worker@home.example"}
        ]
    }))
    .await;
    // Holds the same address, but as a home e-mail: must not match.
    gate.create_user_with(&json!({
        "schemas": [USER_SCHEMA],
        "userName": "homebody",
        "emails": [
            {"type": "home", "value": "shared@example.com"},
            {"type": "work", "value": "homebody@example.com"}
        ]
    }))
    .await;

    let found = gate
        .filter(
            "/Users",
            "emails[type eq \"work\"].value eq \"shared@example.com\"",
        )
        .await;
    assert_eq!(support::user_names(&found), vec!["worker"]);

    let found = gate
        .filter(
            "/Users",
            "emails[type eq \"work\"].value eq \"homebody@example.com\"",
        )
        .await;
    assert_eq!(support::user_names(&found), vec!["homebody"]);

    let none = gate
        .filter(
            "/Users",
            "emails[type eq \"work\"].value eq \"worker@home.example\"",
        )
        .await;
    assert!(none.is_empty(), "{none:?}");
}

#[tokio::test]
async fn groups_read_with_excluded_members_have_no_members_key() {
    let gate = support::start("").await;
    let u = id_of(&gate.create_user("exc@example.com").await);
    let full = id_of(&gate.create_group("Has Members", &[&u]).await);
    gate.create_group("Empty", &[]).await;

    let listed = gate
        .get_q("/Groups", &[("excludedAttributes", "members")])
        .await
        .expect(200);
    let resources = listed.resources();
    assert_eq!(resources.len(), 2);
    for g in &resources {
        assert!(g.get("members").is_none(), "members returned: {g}");
        assert!(g["displayName"].is_string());
        assert!(g["id"].is_string());
    }

    let one = gate
        .get_q(
            &format!("/Groups/{full}"),
            &[("excludedAttributes", "members")],
        )
        .await
        .expect(200);
    assert!(one.body.get("members").is_none(), "{}", one.text);
    assert_eq!(one.body["displayName"], "Has Members");

    // Entra's lookup form: a filter plus excludedAttributes.
    let looked = gate
        .get_q(
            "/Groups",
            &[
                ("filter", "displayName eq \"Has Members\""),
                ("excludedAttributes", "members"),
            ],
        )
        .await
        .expect(200);
    assert_eq!(looked.body["totalResults"], 1);
    assert!(looked.resources()[0].get("members").is_none());

    // Without it the members are there.
    assert_eq!(gate.member_ids(&full).await, vec![u]);
}

#[tokio::test]
async fn group_patch_answers_204_with_no_body() {
    let gate = support::start("").await;
    let u = id_of(&gate.create_user("p204@example.com").await);
    let gid = id_of(&gate.create_group("Two Oh Four", &[]).await);

    let body = patch_ops(json!([
        {"op": "Add", "path": "members", "value": [{"value": u}]},
        {"op": "Replace", "path": "displayName", "value": "Two Oh Four Renamed"}
    ]));
    let resp = gate.patch(&format!("/Groups/{gid}"), &body).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    assert!(resp.text.is_empty(), "{}", resp.text);

    let got = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(got.body["displayName"], "Two Oh Four Renamed");
    assert_eq!(sorted_values(&got.body["members"]), vec![u]);
    assert_eq!(support::version(&got.body), "W/\"2\"");
}

#[tokio::test]
async fn license_type_extension_is_stored_returned_and_validated() {
    let gate = support::start("").await;
    let created = gate
        .post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA, DBT_SCHEMA],
                "userName": "licensed@example.com",
                DBT_SCHEMA: {"licenseType": "developer"}
            }),
        )
        .await
        .expect(201);
    let id = created.id();
    assert_eq!(created.body[DBT_SCHEMA]["licenseType"], "developer");
    let license = |gate: &support::Gate| {
        gate.running
            .directory
            .user_by_id(&id)
            .and_then(|u| u.license.as_deref().map(str::to_owned))
    };
    assert_eq!(license(&gate).as_deref(), Some("developer"));

    // Every valid value, by PATCH with the URN-qualified path.
    for value in ["analyst", "read_only", "it", "developer"] {
        let body = patch_ops(json!([{
            "op": "Replace",
            "path": format!("{DBT_SCHEMA}:licenseType"),
            "value": value
        }]));
        gate.patch(&format!("/Users/{id}"), &body).await.expect(200);
        let got = gate.get(&format!("/Users/{id}")).await.expect(200);
        assert_eq!(got.body[DBT_SCHEMA]["licenseType"], value, "{}", got.text);
        assert_eq!(license(&gate).as_deref(), Some(value));
    }

    // By PUT.
    let put = json!({
        "schemas": [USER_SCHEMA, DBT_SCHEMA],
        "userName": "licensed@example.com",
        DBT_SCHEMA: {"licenseType": "read_only"}
    });
    gate.put(&format!("/Users/{id}"), &put).await.expect(200);
    assert_eq!(license(&gate).as_deref(), Some("read_only"));
    let before = gate.get(&format!("/Users/{id}")).await.expect(200);

    // "owner" is not a license: refused on PATCH, PUT and POST; nothing changes.
    let body = patch_ops(json!([{
        "op": "Replace",
        "path": format!("{DBT_SCHEMA}:licenseType"),
        "value": "owner"
    }]));
    gate.patch(&format!("/Users/{id}"), &body)
        .await
        .expect_error(400, Some("invalidValue"));
    let mut bad_put = put.clone();
    bad_put[DBT_SCHEMA]["licenseType"] = json!("owner");
    gate.put(&format!("/Users/{id}"), &bad_put)
        .await
        .expect_error(400, Some("invalidValue"));
    let after = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(after.body, before.body);
    assert_eq!(license(&gate).as_deref(), Some("read_only"));

    // Removing the license clears it.
    let rm = patch_ops(json!([{"op": "Remove", "path": format!("{DBT_SCHEMA}:licenseType")}]));
    gate.patch(&format!("/Users/{id}"), &rm).await.expect(200);
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert!(got.body.get(DBT_SCHEMA).is_none(), "{}", got.text);
    assert_eq!(license(&gate), None);

    let bad_post = json!({
        "schemas": [USER_SCHEMA, DBT_SCHEMA],
        "userName": "owner@example.com",
        DBT_SCHEMA: {"licenseType": "owner"}
    });
    gate.post("/Users", &bad_post)
        .await
        .expect_error(400, Some("invalidValue"));
    assert!(gate
        .running
        .directory
        .user_by_name("owner@example.com")
        .is_none());
}

#[tokio::test]
async fn work_email_by_value_path_add_then_replace() {
    let gate = support::start("").await;
    let id = id_of(&gate.create_user("mailless@example.com").await);
    let path = "emails[type eq \"work\"].value";

    // Entra adds the work e-mail by its value path when the user has none yet.
    let body = patch_ops(json!([{"op": "Add", "path": path, "value": "first@work.example"}]));
    gate.patch(&format!("/Users/{id}"), &body).await.expect(200);
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(
        got.body["emails"],
        json!([{"type": "work", "value": "first@work.example"}]),
        "{}",
        got.text
    );
    let found = gate
        .filter(
            "/Users",
            "emails[type eq \"work\"].value eq \"first@work.example\"",
        )
        .await;
    assert_eq!(support::ids(&found), vec![id.clone()]);

    // Then replaces it; the e-mail index follows.
    let body = patch_ops(json!([{"op": "Replace", "path": path, "value": "second@work.example"}]));
    gate.patch(&format!("/Users/{id}"), &body).await.expect(200);
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["emails"][0]["value"], "second@work.example");
    assert_eq!(got.body["emails"].as_array().map(Vec::len), Some(1));
    assert!(gate
        .filter("/Users", "emails.value eq \"first@work.example\"")
        .await
        .is_empty());
    let found = gate
        .filter("/Users", "emails.value eq \"SECOND@work.example\"")
        .await;
    assert_eq!(support::ids(&found), vec![id.clone()]);
    let dir = &gate.running.directory;
    assert!(dir.users_by_email("first@work.example").is_empty());
    assert_eq!(dir.users_by_email("second@work.example").len(), 1);
}

#[tokio::test]
async fn adding_a_present_member_or_removing_an_absent_one_is_harmless() {
    let gate = support::start("").await;
    let a = id_of(&gate.create_user("present@example.com").await);
    let b = id_of(&gate.create_user("absent@example.com").await);
    let gid = id_of(&gate.create_group("Idempotent", &[&a]).await);

    let add_again = patch_ops(json!([{"op": "Add", "path": "members", "value": [{"value": a}]}]));
    let resp = gate.patch(&format!("/Groups/{gid}"), &add_again).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    let remove_absent = patch_ops(json!([{
        "op": "Remove",
        "path": format!("members[value eq \"{b}\"]")
    }]));
    let resp = gate.patch(&format!("/Groups/{gid}"), &remove_absent).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    let remove_absent =
        patch_ops(json!([{"op": "Remove", "path": "members", "value": [{"value": b}]}]));
    let resp = gate.patch(&format!("/Groups/{gid}"), &remove_absent).await;
    assert_eq!(resp.status, 204, "{}", resp.text);

    let got = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(
        got.body["members"].as_array().map(Vec::len),
        Some(1),
        "{}",
        got.text
    );
    assert_eq!(sorted_values(&got.body["members"]), vec![a.clone()]);
    let ub = gate.get(&format!("/Users/{b}")).await.expect(200);
    assert!(ub.body.get("groups").is_none());
}

#[tokio::test]
async fn deleted_user_leaves_its_groups() {
    let gate = support::start("").await;
    let a = id_of(&gate.create_user("deleted@example.com").await);
    let b = id_of(&gate.create_user("stays@example.com").await);
    let gid = id_of(&gate.create_group("Survivors", &[&a, &b]).await);
    let resp = gate.delete(&format!("/Users/{a}")).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    gate.get(&format!("/Users/{a}"))
        .await
        .expect_error(404, None);
    assert_eq!(gate.member_ids(&gid).await, vec![b.clone()]);
    let filter = format!("members[value eq \"{a}\"]");
    assert!(gate.filter("/Groups", &filter).await.is_empty());
    // The name is free again.
    gate.create_user("DELETED@example.com").await;
    // And the deleted id cannot be added back as a member.
    let add = patch_ops(json!([{"op": "Add", "path": "members", "value": [{"value": a}]}]));
    gate.patch(&format!("/Groups/{gid}"), &add)
        .await
        .expect_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn changing_external_id_moves_the_index() {
    let gate = support::start("").await;
    let mut body = support::user_body("moves@example.com");
    body["externalId"] = json!("aad-old");
    let id = id_of(&gate.create_user_with(&body).await);
    body["externalId"] = json!("aad-new");
    gate.put(&format!("/Users/{id}"), &body).await.expect(200);
    assert!(gate
        .filter("/Users", "externalId eq \"aad-old\"")
        .await
        .is_empty());
    let found = gate.filter("/Users", "externalId eq \"aad-new\"").await;
    assert_eq!(support::ids(&found), vec![id.clone()]);
    // Removing it by PATCH empties the index.
    let rm = patch_ops(json!([{"op": "Remove", "path": "externalId"}]));
    gate.patch(&format!("/Users/{id}"), &rm).await.expect(200);
    assert!(gate
        .filter("/Users", "externalId eq \"aad-new\"")
        .await
        .is_empty());
    assert!(gate
        .running
        .directory
        .users_by_external_id("aad-new")
        .is_empty());
}
