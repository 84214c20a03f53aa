//! Who may change what: the manual-update lock on SCIM-managed resources, token scopes,
//! the IP allow-list, and token rotation.

use reqwest::Method;
use serde_json::{json, Value};

use scimgate::tokens::TokenScope;

use crate::support::{self, group_body, patch_ops, send, user_body, with_json, Gate, Resp};

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// A client for the admin API with an admin token.
struct Admin<'a> {
    gate: &'a Gate,
    token: String,
}

impl<'a> Admin<'a> {
    fn new(gate: &'a Gate) -> Self {
        let token = support::create_token(gate.dir.path(), "admin-1", TokenScope::Admin);
        Admin { gate, token }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gate.admin_base())
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let mut r = self.gate.req_as(method, &self.url(path), Some(&self.token));
        if let Some(b) = body {
            r = with_json(r, b);
        }
        send(r).await
    }

    async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }
}

fn title_patch(title: &str) -> Value {
    patch_ops(json!([{"op": "replace", "path": "title", "value": title}]))
}

#[tokio::test]
async fn admin_api_creates_and_changes_unmanaged_resources() {
    let gate = support::start("").await;
    let admin = Admin::new(&gate);

    let u = admin
        .post("/Users", &user_body("manual@example.com"))
        .await
        .expect(201);
    let uid = u.id();
    admin
        .put(&format!("/Users/{uid}"), &user_body("manual2@example.com"))
        .await
        .expect(200);
    admin
        .patch(&format!("/Users/{uid}"), &title_patch("Hand-made"))
        .await
        .expect(200);
    let g = admin
        .post("/Groups", &group_body("Manual Group", &[&uid]))
        .await
        .expect(201);
    let gid = g.id();
    admin
        .put(
            &format!("/Groups/{gid}"),
            &group_body("Manual Group 2", &[&uid]),
        )
        .await
        .expect(200);
    let resp = admin
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(
                json!([{"op": "replace", "path": "displayName", "value": "Manual Group 3"}]),
            ),
        )
        .await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);

    // The SCIM side sees the same directory.
    let seen = gate.get(&format!("/Users/{uid}")).await.expect(200);
    assert_eq!(seen.body["userName"], "manual2@example.com");
    assert_eq!(seen.body["title"], "Hand-made");
    let seen = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(seen.body["displayName"], "Manual Group 3");
    assert_eq!(
        support::sorted_values(&seen.body["members"]),
        vec![uid.clone()]
    );
    // The admin API reads too.
    let listed = admin.get("/Users").await.expect(200);
    assert_eq!(listed.body["totalResults"], 1);

    admin.delete(&format!("/Groups/{gid}")).await.expect(204);
    admin.delete(&format!("/Users/{uid}")).await.expect(204);
    gate.get(&format!("/Users/{uid}"))
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn admin_changes_to_scim_managed_resources_are_403_while_locked() {
    let gate = support::start("").await;
    let admin = Admin::new(&gate);
    let uid = id_of(&gate.create_user("managed@example.com").await);
    let gid = id_of(&gate.create_group("Managed Group", &[&uid]).await);
    let user_before = gate.get(&format!("/Users/{uid}")).await.expect(200).body;
    let group_before = gate.get(&format!("/Groups/{gid}")).await.expect(200).body;

    admin
        .put(&format!("/Users/{uid}"), &user_body("hijack@example.com"))
        .await
        .expect_error(403, None);
    admin
        .patch(&format!("/Users/{uid}"), &title_patch("Hijacked"))
        .await
        .expect_error(403, None);
    admin
        .delete(&format!("/Users/{uid}"))
        .await
        .expect_error(403, None);
    admin
        .put(
            &format!("/Groups/{gid}"),
            &group_body("Hijacked Group", &[]),
        )
        .await
        .expect_error(403, None);
    admin
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(json!([{"op": "remove", "path": "members"}])),
        )
        .await
        .expect_error(403, None);
    admin
        .delete(&format!("/Groups/{gid}"))
        .await
        .expect_error(403, None);

    assert_eq!(
        gate.get(&format!("/Users/{uid}")).await.expect(200).body,
        user_before
    );
    assert_eq!(
        gate.get(&format!("/Groups/{gid}")).await.expect(200).body,
        group_before
    );

    // Reading is fine.
    admin.get(&format!("/Users/{uid}")).await.expect(200);

    // An admin-made user becomes SCIM-managed once SCIM changes it.
    let own = admin
        .post("/Users", &user_body("adopted@example.com"))
        .await
        .expect(201);
    let oid = own.id();
    admin
        .patch(&format!("/Users/{oid}"), &title_patch("Still mine"))
        .await
        .expect(200);
    gate.put(&format!("/Users/{oid}"), &user_body("adopted@example.com"))
        .await
        .expect(200);
    admin
        .patch(&format!("/Users/{oid}"), &title_patch("Not any more"))
        .await
        .expect_error(403, None);

    // SCIM itself is never locked out.
    gate.put(&format!("/Users/{uid}"), &user_body("managed@example.com"))
        .await
        .expect(200);
}

#[tokio::test]
async fn admin_changes_to_scim_managed_resources_work_when_manual_updates_are_on() {
    let gate = support::start("scim:\n  allow_manual_updates: true\n").await;
    let admin = Admin::new(&gate);
    let uid = id_of(&gate.create_user("unlocked@example.com").await);
    let gid = id_of(&gate.create_group("Unlocked Group", &[&uid]).await);

    admin
        .put(
            &format!("/Users/{uid}"),
            &user_body("unlocked2@example.com"),
        )
        .await
        .expect(200);
    admin
        .patch(&format!("/Users/{uid}"), &title_patch("Edited"))
        .await
        .expect(200);
    let seen = gate.get(&format!("/Users/{uid}")).await.expect(200);
    assert_eq!(seen.body["userName"], "unlocked2@example.com");
    assert_eq!(seen.body["title"], "Edited");

    admin
        .put(
            &format!("/Groups/{gid}"),
            &group_body("Unlocked Group 2", &[]),
        )
        .await
        .expect(200);
    let seen = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(seen.body["displayName"], "Unlocked Group 2");
    assert!(seen.body.get("members").is_none());

    admin.delete(&format!("/Groups/{gid}")).await.expect(204);
    admin.delete(&format!("/Users/{uid}")).await.expect(204);
    gate.get(&format!("/Users/{uid}"))
        .await
        .expect_error(404, None);
    gate.get(&format!("/Groups/{gid}"))
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn tokens_only_work_on_their_own_surface() {
    let gate = support::start("").await;
    let admin = Admin::new(&gate);

    // The SCIM token on the admin API.
    let resp = send(gate.req_as(
        Method::GET,
        &format!("{}/Users", gate.admin_base()),
        Some(&gate.token),
    ))
    .await;
    resp.expect_error(401, None);
    let resp = send(with_json(
        gate.req_as(
            Method::POST,
            &format!("{}/Users", gate.admin_base()),
            Some(&gate.token),
        ),
        &user_body("sneaky@example.com"),
    ))
    .await;
    resp.expect_error(401, None);

    // The admin token on the SCIM API.
    let resp = send(gate.req_as(
        Method::GET,
        &format!("{}/Users", gate.base),
        Some(&admin.token),
    ))
    .await;
    resp.expect_error(401, None);
    let resp = send(with_json(
        gate.req_as(
            Method::POST,
            &format!("{}/Users", gate.base),
            Some(&admin.token),
        ),
        &user_body("sneaky@example.com"),
    ))
    .await;
    resp.expect_error(401, None);
    assert!(gate
        .running
        .directory
        .user_by_name("sneaky@example.com")
        .is_none());

    // Each on its own surface works.
    admin.get("/Users").await.expect(200);
    gate.get("/Users").await.expect(200);
}

#[tokio::test]
async fn ip_outside_the_allow_list_is_403() {
    let gate = support::start("scim:\n  allowed_cidrs: [10.0.0.0/8]\n").await;
    let resp = gate.get("/Users").await;
    resp.expect_error(403, None);
    let resp = gate.post("/Users", &user_body("blocked@example.com")).await;
    resp.expect_error(403, None);
    // Even without a token the answer is 403, not 401 (the address is checked first).
    let resp = send(gate.req_as(Method::GET, &format!("{}/Users", gate.base), None)).await;
    resp.expect_error(403, None);
    assert!(gate
        .running
        .directory
        .user_by_name("blocked@example.com")
        .is_none());
}

#[tokio::test]
async fn ip_inside_the_allow_list_is_allowed() {
    let gate = support::start("scim:\n  allowed_cidrs: [127.0.0.1/32]\n").await;
    gate.post("/Users", &user_body("allowed@example.com"))
        .await
        .expect(201);
    gate.get("/Users").await.expect(200);
    // The token is still required.
    let resp = send(gate.req_as(Method::GET, &format!("{}/Users", gate.base), None)).await;
    resp.expect_error(401, None);

    // A list with several networks, one of which matches.
    let gate = support::start("scim:\n  allowed_cidrs: [10.0.0.0/8, 127.0.0.0/8]\n").await;
    gate.get("/Users").await.expect(200);
}

#[tokio::test]
async fn token_rotation_two_live_tokens_then_revoke_one() {
    let gate = support::start("").await;
    let new_token = support::create_token(gate.dir.path(), "test-idp-rotated", TokenScope::Scim);
    let with_token = |token: &str, method: Method, path: &str| {
        gate.req_as(method, &format!("{}{path}", gate.base), Some(token))
    };

    // Both work at once, for reads and writes.
    for (n, t) in [&gate.token, &new_token].into_iter().enumerate() {
        let r = send(with_token(t, Method::GET, "/Users")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = send(with_json(
            with_token(t, Method::POST, "/Users"),
            &user_body(&format!("rot{n}@example.com")),
        ))
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    // Revoke the old one through a second store handle: refused on the very next request.
    assert!(support::revoke_token(gate.dir.path(), "test-idp"));
    let r = send(with_token(&gate.token, Method::GET, "/Users")).await;
    r.expect_error(401, None);
    let r = send(with_json(
        with_token(&gate.token, Method::POST, "/Users"),
        &user_body("late-old@example.com"),
    ))
    .await;
    r.expect_error(401, None);
    assert!(gate
        .running
        .directory
        .user_by_name("late-old@example.com")
        .is_none());

    // The new one still works.
    let r = send(with_token(&new_token, Method::GET, "/Users")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 2);
    let r = send(with_json(
        with_token(&new_token, Method::POST, "/Users"),
        &user_body("late-new@example.com"),
    ))
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Revoking an unknown name reports false; the new token is unaffected.
    assert!(!support::revoke_token(gate.dir.path(), "no-such-token"));
    let r = send(with_token(&new_token, Method::GET, "/Users")).await;
    assert_eq!(r.status, 200);
}
