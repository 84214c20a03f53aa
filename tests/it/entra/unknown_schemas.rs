//! The rule for schema URIs the service does not know, through the HTTP interface:
//! listed with no data under them they are ignored and never echoed; data under one
//! is refused with 400 `invalidValue` and nothing is stored; a schema of another
//! resource type is refused; a `schemas` entry that is no URI is `invalidSyntax`.

use serde_json::{json, Value};

use crate::support::{self, patch_ops, ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

const ADSCIM_GROUP: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
/// The custom extension of the tutorial's "Design your user and group schema".
const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

fn schemas_of(v: &Value) -> Value {
    v["schemas"].clone()
}

#[tokio::test]
async fn unknown_uri_without_data_is_ignored_everywhere() {
    let gate = support::start("").await;
    let body = json!({
        "schemas": [USER_SCHEMA, CUSTOM],
        "userName": "ignored@example.com",
        CUSTOM: {"tag": null}
    });
    let created = gate.post("/Users", &body).await.expect(201);
    let id = created.id();
    assert_eq!(schemas_of(&created.body), json!([USER_SCHEMA]));
    assert!(created.body.get(CUSTOM).is_none(), "{}", created.text);

    let mut put = body.clone();
    put["displayName"] = json!("Ignored");
    put[CUSTOM] = json!({});
    let replaced = gate.put(&format!("/Users/{id}"), &put).await.expect(200);
    assert_eq!(schemas_of(&replaced.body), json!([USER_SCHEMA]));
    assert_eq!(replaced.body["displayName"], "Ignored");

    let patch = patch_ops(json!([{"op": "Replace", "value": {
        "title": "Engineer",
        format!("{CUSTOM}:tag"): null
    }}]));
    gate.patch(&format!("/Users/{id}"), &patch)
        .await
        .expect(200);
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["title"], "Engineer");
    assert_eq!(schemas_of(&got.body), json!([USER_SCHEMA]));
    assert!(!got.text.contains("CustomExtensionName"), "{}", got.text);

    // Microsoft's Group URI with an empty object under it.
    let group = gate
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA, ADSCIM_GROUP], "displayName": "Plain", ADSCIM_GROUP: {}}),
        )
        .await
        .expect(201);
    assert_eq!(schemas_of(&group.body), json!([GROUP_SCHEMA]));
}

#[tokio::test]
async fn data_under_an_unknown_uri_is_refused_and_nothing_changes() {
    let gate = support::start("").await;

    let resp = gate
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA, ADSCIM_GROUP], "displayName": "Refused",
                    ADSCIM_GROUP: {"mailNickname": "refused"}}),
        )
        .await;
    resp.expect_error(400, Some("invalidValue"));
    assert!(resp.body["detail"]
        .as_str()
        .unwrap_or_default()
        .contains(ADSCIM_GROUP));
    let listed = gate.get("/Groups").await.expect(200);
    assert_eq!(listed.body["totalResults"], 0);

    // Listed or not, object or URI-qualified key: refused.
    for body in [
        json!({"schemas": [USER_SCHEMA, CUSTOM], "userName": "tag@example.com", CUSTOM: {"tag": "701984"}}),
        json!({"schemas": [USER_SCHEMA], "userName": "tag@example.com", CUSTOM: {"tag": "701984"}}),
        json!({"schemas": [USER_SCHEMA], "userName": "tag@example.com", format!("{CUSTOM}:tag"): "701984"}),
    ] {
        let resp = gate.post("/Users", &body).await;
        resp.expect_error(400, Some("invalidValue"));
        assert!(
            resp.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(CUSTOM),
            "{}",
            resp.text
        );
    }
    assert!(gate
        .running
        .directory
        .user_by_name("tag@example.com")
        .is_none());

    let id = gate.create_user("kept@example.com").await["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let before = gate.get(&format!("/Users/{id}")).await.expect(200);
    let put = json!({"schemas": [USER_SCHEMA, CUSTOM], "userName": "kept@example.com",
                     "title": "Changed", CUSTOM: {"tag": "1"}});
    gate.put(&format!("/Users/{id}"), &put)
        .await
        .expect_error(400, Some("invalidValue"));
    let patch = patch_ops(json!([{"op": "Add", "value": {
        "title": "Changed",
        format!("{CUSTOM}:tag"): "1"
    }}]));
    gate.patch(&format!("/Users/{id}"), &patch)
        .await
        .expect_error(400, Some("invalidValue"));
    let after = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(after.body, before.body);
}

#[tokio::test]
async fn another_resource_types_schema_and_non_uris_are_refused() {
    let gate = support::start("").await;
    gate.post(
        "/Users",
        &json!({"schemas": [USER_SCHEMA, GROUP_SCHEMA], "userName": "both@example.com"}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    gate.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA, ENTERPRISE_SCHEMA], "displayName": "Both"}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    gate.post(
        "/Users",
        &json!({"schemas": [USER_SCHEMA, "custom"], "userName": "nouri@example.com"}),
    )
    .await
    .expect_error(400, Some("invalidSyntax"));
    // Without the core schema, whatever else is listed: invalidSyntax.
    gate.post(
        "/Groups",
        &json!({"schemas": [ADSCIM_GROUP], "displayName": "Core Missing"}),
    )
    .await
    .expect_error(400, Some("invalidSyntax"));
    assert_eq!(gate.get("/Users").await.expect(200).body["totalResults"], 0);
    assert_eq!(
        gate.get("/Groups").await.expect(200).body["totalResults"],
        0
    );
}
