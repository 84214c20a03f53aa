//! Identity as strict as the identity provider: SCIM refuses user and group names with
//! edge white space (an upstream would trim `bob ` into `bob`), a token claim that is
//! not a valid identifier (KELVIN SIGN `Kim`) is refused rather than mapped to `kim`,
//! policy rules compare names by the one caseless key (every Greek sigma form alike),
//! an e-mail mapping needs `email_verified: true`, and names stored before these rules
//! do not stop the server nor sign anyone in.

use serde_json::{json, Value};

use crate::issuer::Issuer;
use crate::proxy_env::{reader, Env};
use crate::support::{self, patch_ops, user_body, GROUP_SCHEMA};
use crate::upstream;

const EDGE_SPACE_NAMES: [&str; 3] = ["bob ", " bob", "bob\u{a0}"];

#[tokio::test]
async fn scim_refuses_user_names_with_white_space_at_the_edges() {
    let gate = support::start("").await;
    for name in EDGE_SPACE_NAMES {
        let r = gate.post("/Users", &user_body(name)).await;
        r.expect_error(400, Some("invalidValue"));
        assert!(r.text.contains("userName"), "{name:?}: {}", r.text);
    }
    let bob = gate.create_user("bob").await;
    let id = bob["id"].as_str().unwrap().to_owned();
    for name in EDGE_SPACE_NAMES {
        gate.put(&format!("/Users/{id}"), &user_body(name))
            .await
            .expect_error(400, Some("invalidValue"));
        let with_path = patch_ops(json!([{"op": "replace", "path": "userName", "value": name}]));
        gate.patch(&format!("/Users/{id}"), &with_path)
            .await
            .expect_error(400, Some("invalidValue"));
        let without_path = patch_ops(json!([{"op": "replace", "value": {"userName": name}}]));
        gate.patch(&format!("/Users/{id}"), &without_path)
            .await
            .expect_error(400, Some("invalidValue"));
    }
    let r = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(r.body["userName"], "bob");
    // An e-mail that an upstream would trim into another address is refused too.
    let mut body = user_body("carol");
    body["emails"] = json!([{"value": "bob@example.com ", "primary": true}]);
    gate.post("/Users", &body)
        .await
        .expect_error(400, Some("invalidValue"));
    // So is a userType that would slip past an `agents:` cap on `agent`.
    let mut body = user_body("robot");
    body["userType"] = json!("agent\u{200b}");
    gate.post("/Users", &body)
        .await
        .expect_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn scim_refuses_group_names_with_white_space_at_the_edges() {
    let gate = support::start("").await;
    for name in ["readers ", " readers", "readers\u{a0}"] {
        gate.post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": name}),
        )
        .await
        .expect_error(400, Some("invalidValue"));
    }
    let g = gate.create_group("readers", &[]).await;
    let id = g["id"].as_str().unwrap();
    let op = patch_ops(json!([{"op": "replace", "path": "displayName", "value": "readers "}]));
    gate.patch(&format!("/Groups/{id}"), &op)
        .await
        .expect_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn names_that_differ_only_in_case_still_collide() {
    let gate = support::start("").await;
    gate.create_user("bob").await;
    gate.post("/Users", &user_body("BOB"))
        .await
        .expect_error(409, Some("uniqueness"));
    // Final and non-final sigma are one letter: these two are the same user.
    gate.create_user("ΟΔΥΣΣΕΥΣ").await;
    gate.post("/Users", &user_body("οδυσσευσ"))
        .await
        .expect_error(409, Some("uniqueness"));
    // A filter finds it by the same key, by index or by evaluation.
    for f in [
        "userName eq \"οδυσσευσ\"",
        "userName eq \"οδυσσευσ\" and active eq true",
    ] {
        let found = gate.filter("/Users", f).await;
        assert_eq!(found.len(), 1, "{f}");
        assert_eq!(found[0]["userName"], "ΟΔΥΣΣΕΥΣ", "{f}");
    }
    // Simple case folding keeps apart what an IdP keeps apart (and the store agrees).
    gate.create_user("İpek").await;
    gate.create_user("i\u{307}pek").await;
    gate.create_user("straße").await;
    gate.create_user("strasse").await;
    gate.create_group("ΝΑΥΤΕΣ", &[]).await;
    gate.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "ναυτεσ"}),
    )
    .await
    .expect_error(409, Some("uniqueness"));
}

async fn status_for(env: &Env, claims: &Value) -> u16 {
    env.gate
        .http
        .get(format!("http://{}/public/a", env.addr()))
        .header("host", "app.test")
        .bearer_auth(env.iss.sign(claims))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_kelvin_sign_claim_does_not_reach_kim() {
    let env = Env::start("").await;
    reader(&env, "kim").await;
    assert_eq!(status_for(&env, &env.iss.claims("kim")).await, 200);
    let before = env.up.paths().len();
    for claim in ["\u{212a}im", "kim ", "kim\u{a0}", "k\u{200b}im"] {
        let status = status_for(&env, &env.iss.claims(claim)).await;
        assert_eq!(status, 401, "{claim:?}");
    }
    assert_eq!(
        env.up.paths().len(),
        before,
        "the upstream saw a refused claim"
    );
}

/// The standard route, with a deny rule on a user and one on a group, both in capitals.
fn odysseus_policy(upstream: &str) -> String {
    format!(
        r#"routes:
  - name: app
    match: {{ host: app.test, path: /** }}
    upstream: {upstream}
    allow:
      - {{ name: readers-public, groups: [readers], paths: [/public, /public/**] }}
    deny:
      - {{ name: no-odysseus, users: [ΟΔΥΣΣΕΥΣ] }}
      - {{ name: no-sailors, groups: [ΝΑΥΤΕΣ] }}
"#
    )
}

async fn odysseus_env() -> Env {
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let policy = odysseus_policy(&up.url());
    Env::start_with(up, iss, "", Some(policy)).await
}

async fn forbidden_rule(env: &Env, user: &str) -> (u16, Value) {
    let r = env
        .gate
        .http
        .get(format!("http://{}/public/a", env.addr()))
        .header("host", "app.test")
        .bearer_auth(env.iss.token(user))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_deny_rule_on_a_user_denies_every_sigma_form() {
    let env = odysseus_env().await;
    let (ok_id, _) = reader(&env, "penelope").await;
    assert!(!ok_id.is_empty());
    assert_eq!(forbidden_rule(&env, "penelope").await.0, 200);
    for name in ["Οδυσσευς", "οδυσσευσ", "ΟΔΥΣΣΕΥΣ", "οδυσσευς"] {
        let (id, _) = reader(&env, name).await;
        let (status, body) = forbidden_rule(&env, name).await;
        assert_eq!(status, 403, "{name}: {body}");
        assert_eq!(body["rule"], "no-odysseus", "{name}: {body}");
        env.gate.delete(&format!("/Users/{id}")).await.expect(204);
    }
}

#[tokio::test]
async fn a_deny_rule_on_a_group_denies_every_sigma_form() {
    let env = odysseus_env().await;
    for (group, user) in [("ναυτεσ", "elpenor"), ("Ναυτες", "eurylochus")] {
        let (id, _) = reader(&env, user).await;
        assert_eq!(forbidden_rule(&env, user).await.0, 200, "{user}");
        let gid = env.group(group, &[&id]).await;
        let (status, body) = forbidden_rule(&env, user).await;
        assert_eq!(status, 403, "{group}: {body}");
        assert_eq!(body["rule"], "no-sailors", "{group}: {body}");
        env.gate.delete(&format!("/Groups/{gid}")).await.expect(204);
    }
}

#[tokio::test]
async fn an_email_mapping_refuses_an_unverified_email() {
    let env = Env::start("identity:\n  claim: email\n  attribute: emails\n").await;
    reader(&env, "alice").await;
    let claims = |verified: Option<Value>| {
        let mut c = env.iss.claims("someone-else");
        c["email"] = json!("alice@example.com");
        if let Some(v) = verified {
            c["email_verified"] = v;
        }
        c
    };
    assert_eq!(status_for(&env, &claims(Some(json!(true)))).await, 200);
    let before = env.up.paths().len();
    assert_eq!(status_for(&env, &claims(Some(json!(false)))).await, 401);
    assert_eq!(status_for(&env, &claims(Some(json!("false")))).await, 401);
    assert_eq!(status_for(&env, &claims(None)).await, 401);
    assert_eq!(env.up.paths().len(), before);
}

#[tokio::test]
async fn an_email_mapping_may_accept_an_absent_claim_when_configured() {
    let env = Env::start(
        "identity:\n  claim: email\n  attribute: emails\n  email_verified: if_present\n",
    )
    .await;
    reader(&env, "alice").await;
    let mut c = env.iss.claims("someone-else");
    c["email"] = json!("alice@example.com");
    assert_eq!(status_for(&env, &c).await, 200);
    c["email_verified"] = json!(false);
    assert_eq!(status_for(&env, &c).await, 401);
}

#[tokio::test]
async fn the_upstream_gets_the_directory_user_name_as_stored() {
    let env = Env::start("").await;
    reader(&env, "Ann").await;
    assert_eq!(status_for(&env, &env.iss.claims("ANN")).await, 200);
    let seen = env.seen();
    let h = &seen.last().unwrap()["headers"];
    assert_eq!(h["x-auth-request-user"], json!(["Ann"]), "{h}");
}

#[tokio::test]
async fn a_name_stored_before_the_rules_does_not_stop_the_server_nor_sign_in() {
    let env = Env::start("").await;
    let (bob, _) = reader(&env, "bob").await;
    let Env { gate, up, iss } = env;
    {
        // As an older release would have stored it (written beside the running server,
        // which reads its store again on restart).
        let db = rusqlite::Connection::open(gate.dir.path().join("scimgate.db")).unwrap();
        db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        let body: String = db
            .query_row("SELECT body FROM users WHERE id = ?1", [&bob], |r| r.get(0))
            .unwrap();
        let mut body: Value = serde_json::from_str(&body).unwrap();
        body["userName"] = json!("bob ");
        db.execute(
            "UPDATE users SET user_name = 'bob ', user_name_lower = 'bob ', body = ?1 WHERE id = ?2",
            rusqlite::params![body.to_string(), &bob],
        )
        .unwrap();
    }
    let gate = gate.restart().await;
    let env = Env { gate, up, iss };
    let r = env.gate.get(&format!("/Users/{bob}")).await.expect(200);
    assert_eq!(r.body["userName"], "bob ");
    // Neither the trimmed nor the stored form signs in: the upstream would see `bob`.
    assert_eq!(status_for(&env, &env.iss.claims("bob")).await, 403);
    assert_eq!(status_for(&env, &env.iss.claims("bob ")).await, 401);
    // The IdP can still deactivate it (the PATCH leaves the name alone) and delete it.
    let op = patch_ops(json!([{"op": "replace", "value": {"active": false}}]));
    env.gate
        .patch(&format!("/Users/{bob}"), &op)
        .await
        .expect(200);
    env.gate.delete(&format!("/Users/{bob}")).await.expect(204);
}
