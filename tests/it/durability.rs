//! An acknowledged write survives a restart: stop the server, start a new one on the
//! same data directory, and everything is there.

use serde_json::{json, Value};

use crate::support::{self, patch_ops, user_body, version, Gate, USER_SCHEMA};

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// Everything a client can read: every user and group (with members and groups), with
/// the server's address (which changes across restarts) taken out of locations.
async fn snapshot(gate: &Gate) -> (Value, Value) {
    let users = gate.get_q("/Users", &[("count", "1000")]).await.expect(200);
    let groups = gate
        .get_q("/Groups", &[("count", "1000")])
        .await
        .expect(200);
    let unaddress = |v: &Value| -> Value {
        let text = v.to_string().replace(&gate.root(), "ROOT");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    (unaddress(&users.body), unaddress(&groups.body))
}

/// Names of a user's effective groups, from the directory.
fn effective(gate: &Gate, user_name: &str) -> Vec<String> {
    let dir = &gate.running.directory;
    let Some(user) = dir.user_by_name(user_name) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .effective_groups(user.ord)
        .iter()
        .filter_map(|g| dir.group(*g))
        .map(|g| g.display_name.to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn users_groups_memberships_and_versions_survive_a_restart() {
    let gate = support::start("").await;
    let alice = gate
        .create_user_with(&json!({
            "schemas": [USER_SCHEMA, support::DBT_SCHEMA],
            "userName": "Alice@Durable.example",
            "externalId": "ext-alice",
            "name": {"givenName": "Alice", "familyName": "Durable"},
            "emails": [{"type": "work", "value": "alice@durable.example", "primary": true}],
            support::DBT_SCHEMA: {"licenseType": "analyst"}
        }))
        .await;
    let alice_id = id_of(&alice);
    let bob_id = id_of(&gate.create_user("bob@durable.example").await);
    let gone_id = id_of(&gate.create_user("gone@durable.example").await);
    // Versions above 1: two PUTs on bob, one deactivating him.
    gate.put(
        &format!("/Users/{bob_id}"),
        &user_body("bob@durable.example"),
    )
    .await
    .expect(200);
    let mut inactive = user_body("bob@durable.example");
    inactive["active"] = json!(false);
    gate.put(&format!("/Users/{bob_id}"), &inactive)
        .await
        .expect(200);
    gate.delete(&format!("/Users/{gone_id}")).await.expect(204);

    let inner = id_of(
        &gate
            .create_group("Durable Inner", &[&alice_id, &bob_id])
            .await,
    );
    let outer = id_of(&gate.create_group("Durable Outer", &[&inner]).await);
    let dropped = id_of(&gate.create_group("Durable Dropped", &[&alice_id]).await);
    gate.delete(&format!("/Groups/{dropped}")).await.expect(204);
    // Replace a group's members by PUT (version 2).
    gate.put(
        &format!("/Groups/{inner}"),
        &support::group_body("Durable Inner", &[&alice_id]),
    )
    .await
    .expect(200);

    let before = snapshot(&gate).await;
    let eff_before = effective(&gate, "alice@durable.example");
    assert_eq!(eff_before, vec!["Durable Inner", "Durable Outer"]);
    let seq_before = gate.running.directory.seq();

    let gate = gate.restart().await;

    let after = snapshot(&gate).await;
    assert_eq!(after.0, before.0, "users differ after restart");
    assert_eq!(after.1, before.1, "groups differ after restart");
    assert_eq!(gate.running.directory.seq(), seq_before);
    assert_eq!(effective(&gate, "alice@durable.example"), eff_before);
    assert!(effective(&gate, "bob@durable.example").is_empty());

    let bob = gate.get(&format!("/Users/{bob_id}")).await.expect(200);
    assert_eq!(bob.body["active"], false);
    assert_eq!(version(&bob.body), "W/\"3\"");
    assert_eq!(bob.header("etag"), Some("W/\"3\""));
    let inner_g = gate.get(&format!("/Groups/{inner}")).await.expect(200);
    assert_eq!(version(&inner_g.body), "W/\"2\"");
    assert_eq!(
        support::sorted_values(&inner_g.body["members"]),
        vec![alice_id.clone()]
    );
    gate.get(&format!("/Users/{gone_id}"))
        .await
        .expect_error(404, None);
    gate.get(&format!("/Groups/{dropped}"))
        .await
        .expect_error(404, None);
    let outer_g = gate.get(&format!("/Groups/{outer}")).await.expect(200);
    assert_eq!(
        support::sorted_values(&outer_g.body["members"]),
        vec![inner.clone()]
    );

    // The directory's fields and indexes are rebuilt.
    let dir = &gate.running.directory;
    let a = dir.user_by_name("ALICE@durable.example").expect("alice");
    assert_eq!(a.license.as_deref(), Some("analyst"));
    assert!(dir
        .user_by_name("bob@durable.example")
        .is_some_and(|b| !b.active));
    assert_eq!(dir.users_by_external_id("ext-alice"), vec![a.ord]);
    assert_eq!(dir.users_by_email("alice@durable.example"), vec![a.ord]);
    assert!(dir.group_by_name("durable outer").is_some());

    // Uniqueness holds across the restart, and the next write continues the versions.
    gate.post("/Users", &user_body("BOB@durable.example"))
        .await
        .expect_error(409, Some("uniqueness"));
    gate.post("/Groups", &support::group_body("durable inner", &[]))
        .await
        .expect_error(409, Some("uniqueness"));
    let put = gate
        .put(
            &format!("/Users/{bob_id}"),
            &user_body("bob@durable.example"),
        )
        .await
        .expect(200);
    assert_eq!(version(&put.body), "W/\"4\"");
    // New resources get fresh ids and list after the old ones.
    let carol = id_of(&gate.create_user("carol@durable.example").await);
    let users = gate.get_q("/Users", &[("count", "1000")]).await.expect(200);
    let listed = support::ids(&users.resources());
    assert_eq!(listed, vec![alice_id.clone(), bob_id.clone(), carol]);
}

#[tokio::test]
async fn patched_state_survives_a_restart() {
    let gate = support::start("").await;
    let uid = id_of(&gate.create_user("patched@durable.example").await);
    let vid = id_of(&gate.create_user("member@durable.example").await);
    let gid = id_of(&gate.create_group("Patched Group", &[&uid]).await);
    gate.patch(
        &format!("/Users/{uid}"),
        &patch_ops(json!([{"op": "replace", "value": {"active": false, "title": "Left"}}])),
    )
    .await
    .expect(200);
    let resp = gate
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(json!([
                {"op": "replace", "path": "displayName", "value": "Patched Group Renamed"},
                {"op": "remove", "path": format!("members[value eq \"{uid}\"]")},
                {"op": "add", "path": "members", "value": [{"value": vid}]}
            ])),
        )
        .await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);
    let before = snapshot(&gate).await;

    let gate = gate.restart().await;
    assert_eq!(snapshot(&gate).await, before);
    let u = gate.get(&format!("/Users/{uid}")).await.expect(200);
    assert_eq!(u.body["active"], false);
    assert_eq!(u.body["title"], "Left");
    assert_eq!(version(&u.body), "W/\"2\"");
    let g = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(g.body["displayName"], "Patched Group Renamed");
    assert_eq!(support::sorted_values(&g.body["members"]), vec![vid]);
    assert_eq!(
        effective(&gate, "member@durable.example"),
        vec!["Patched Group Renamed"]
    );
    assert!(effective(&gate, "patched@durable.example").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_acknowledged_writes_all_survive() {
    let gate = support::start("").await;
    let gid = id_of(&gate.create_group("Crowd", &[]).await);
    let mut tasks = Vec::new();
    for n in 0..40 {
        let base = gate.base.clone();
        let token = gate.token.clone();
        let gid = gid.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let created = http
                .post(format!("{base}/Users"))
                .bearer_auth(&token)
                .header("content-type", support::SCIM_JSON)
                .body(user_body(&format!("crowd{n}@durable.example")).to_string())
                .send()
                .await
                .expect("create answered");
            assert_eq!(created.status().as_u16(), 201);
            let body: Value = created.json().await.expect("json");
            let id = body["id"].as_str().unwrap_or_default().to_owned();
            let add =
                patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
            let patched = http
                .patch(format!("{base}/Groups/{gid}"))
                .bearer_auth(&token)
                .header("content-type", support::SCIM_JSON)
                .body(add.to_string())
                .send()
                .await
                .expect("patch answered");
            let status = patched.status().as_u16();
            (id, status)
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let (id, status) = t.await.expect("task");
        assert!(
            status == 204 || status == 200,
            "member add answered {status}"
        );
        ids.push(id);
    }
    ids.sort();
    assert_eq!(gate.member_ids(&gid).await, ids);

    let gate = gate.restart().await;
    assert_eq!(gate.member_ids(&gid).await, ids);
    let all = gate.get_q("/Users", &[("count", "1000")]).await.expect(200);
    assert_eq!(all.body["totalResults"], 40);
    let g = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(version(&g.body), "W/\"41\"");
}

#[tokio::test]
async fn users_created_by_put_only_flows_survive_two_restarts() {
    // No PATCH involved: this one runs whatever the state of the PATCH module.
    let gate = support::start("").await;
    let uid = id_of(&gate.create_user("twice@durable.example").await);
    let gid = id_of(&gate.create_group("Twice", &[&uid]).await);
    let gate = gate.restart().await;
    let mut renamed = user_body("twice-renamed@durable.example");
    renamed["title"] = json!("Restarted");
    gate.put(&format!("/Users/{uid}"), &renamed)
        .await
        .expect(200);
    let before = snapshot(&gate).await;
    let gate = gate.restart().await;
    assert_eq!(snapshot(&gate).await, before);
    let u = gate.get(&format!("/Users/{uid}")).await.expect(200);
    assert_eq!(u.body["userName"], "twice-renamed@durable.example");
    assert_eq!(version(&u.body), "W/\"2\"");
    assert!(gate
        .running
        .directory
        .user_by_name("twice@durable.example")
        .is_none());
    assert_eq!(
        effective(&gate, "twice-renamed@durable.example"),
        vec!["Twice"]
    );
    assert_eq!(gate.member_ids(&gid).await, vec![uid]);
}
