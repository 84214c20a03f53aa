//! A PATCH is all or nothing (RFC 7644 §3.5.2): when one operation fails, none of the
//! earlier ones stay applied.

use serde_json::json;

use crate::support::{self, patch_ops, version, USER_SCHEMA};

fn id_of(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn user_patch_whose_second_op_fails_changes_nothing() {
    let gate = support::start("").await;
    let id = id_of(
        &gate
            .create_user_with(&json!({
                "schemas": [USER_SCHEMA],
                "userName": "atomic@example.com",
                "displayName": "Before",
                "title": "Keep",
                "active": true
            }))
            .await,
    );
    let path = format!("/Users/{id}");
    let before = gate.get(&path).await.expect(200);

    let failing_second_ops = [
        // Unknown attribute.
        json!({"op": "replace", "path": "noSuchAttribute", "value": "x"}),
        // Wrong type.
        json!({"op": "replace", "path": "active", "value": "perhaps"}),
        // Read-only attribute with another value.
        json!({"op": "replace", "path": "id", "value": "another-id"}),
        // Remove without a path.
        json!({"op": "remove"}),
        // Unknown op.
        json!({"op": "merge", "path": "title", "value": "x"}),
    ];
    for second in failing_second_ops {
        let body = patch_ops(json!([
            {"op": "replace", "path": "displayName", "value": "After"},
            second,
            {"op": "replace", "path": "title", "value": "Changed"}
        ]));
        let resp = gate.patch(&path, &body).await;
        assert_eq!(resp.status, 400, "{second}: {}", resp.text);
        support::assert_scim_error(&resp.body, 400, None);

        let after = gate.get(&path).await.expect(200);
        assert_eq!(after.body, before.body, "after {second}");
        assert_eq!(version(&after.body), "W/\"1\"");
        assert_eq!(after.header("etag"), Some("W/\"1\""));
    }

    // A userName taken by someone else fails the change as a whole too.
    gate.create_user("taken@example.com").await;
    let body = patch_ops(json!([
        {"op": "replace", "path": "displayName", "value": "After"},
        {"op": "replace", "path": "userName", "value": "TAKEN@example.com"}
    ]));
    gate.patch(&path, &body)
        .await
        .expect_error(409, Some("uniqueness"));
    let after = gate.get(&path).await.expect(200);
    assert_eq!(after.body, before.body);
    assert!(gate
        .running
        .directory
        .user_by_name("atomic@example.com")
        .is_some());
}

#[tokio::test]
async fn group_patch_whose_second_op_fails_changes_nothing() {
    let gate = support::start("").await;
    let a = id_of(&gate.create_user("ga@example.com").await);
    let b = id_of(&gate.create_user("gb@example.com").await);
    let gid = id_of(&gate.create_group("Atomic Group", &[&a]).await);
    let path = format!("/Groups/{gid}");
    let before = gate.get(&path).await.expect(200);

    let failing = [
        // A member that does not exist.
        json!({"op": "add", "path": "members", "value": [{"value": "6d1b1c1e-0000-4000-8000-00000000dead"}]}),
        // An unknown attribute.
        json!({"op": "replace", "path": "noSuchAttribute", "value": "x"}),
        // A displayName that is not a string.
        json!({"op": "replace", "path": "displayName", "value": 42}),
    ];
    for second in failing {
        let body = patch_ops(json!([
            {"op": "add", "path": "members", "value": [{"value": b}]},
            {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            second
        ]));
        let resp = gate.patch(&path, &body).await;
        assert_eq!(resp.status, 400, "{second}: {}", resp.text);
        support::assert_scim_error(&resp.body, 400, None);

        let after = gate.get(&path).await.expect(200);
        assert_eq!(after.body, before.body, "after {second}");
        assert_eq!(version(&after.body), "W/\"1\"");
        assert_eq!(gate.member_ids(&gid).await, vec![a.clone()]);
        let ub = gate.get(&format!("/Users/{b}")).await.expect(200);
        assert!(ub.body.get("groups").is_none(), "{}", ub.text);
        assert!(gate.running.directory.group_by_name("Renamed").is_none());
    }
}

#[tokio::test]
async fn failed_put_changes_nothing() {
    let gate = support::start("").await;
    let id = id_of(&gate.create_user("putfail@example.com").await);
    let path = format!("/Users/{id}");
    let before = gate.get(&path).await.expect(200);
    let resp = gate
        .put(
            &path,
            &json!({
                "schemas": [USER_SCHEMA],
                "userName": "putfail@example.com",
                "displayName": "Changed",
                "emails": [{"value": "a@example.com", "primary": true}, {"value": "b@example.com", "primary": true}]
            }),
        )
        .await;
    resp.expect_error(400, Some("invalidValue"));
    let after = gate.get(&path).await.expect(200);
    assert_eq!(after.body, before.body);
}
