//! Refused SCIM credentials are explained and logged: each kind of refusal gets a 401
//! whose SCIM `detail` says what the identity provider's administrator should check, and
//! a WARN line with the reason (and the token's name when the token is genuine), never
//! the secret; the lines are bounded per second with a count of those left out. A base
//! URL without `/v2` gets a SCIM 404 naming the right one.

use std::time::Duration;

use serde_json::Value;

use crate::binary::{self, Serve};
use crate::support::assert_scim_error;

struct Answer {
    status: u16,
    body: Value,
}

async fn call(base: &str, path: &str, authorization: Option<&str>) -> Answer {
    let mut r = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(a) = authorization {
        r = r.header("authorization", a);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer { status, body }
}

fn detail(a: &Answer) -> &str {
    a.body["detail"].as_str().unwrap_or_default()
}

/// The WARN lines with this reason.
fn refusals(serve: &Serve, reason: &str) -> Vec<Value> {
    serve
        .events()
        .into_iter()
        .filter(|e| e["level"] == "WARN" && e["fields"]["reason"] == reason)
        .map(|e| e["fields"].clone())
        .collect()
}

async fn wait_refusal(serve: &Serve, reason: &str) -> Value {
    for _ in 0..250 {
        if let Some(e) = refusals(serve, reason).pop() {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {reason} refusal in:\n{}", serve.log_text());
}

#[tokio::test]
async fn each_refusal_says_what_to_check_and_is_logged_without_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let good = binary::token(&data, "okta-prod", "scim");
    let admin = binary::token(&data, "ops-admin", "admin");
    let revoked = binary::token(&data, "old-idp", "scim");
    let mut serve = binary::spawn(dir.path(), "gate", &binary::config(&data, ""));
    let base = serve.base().await;
    let out = binary::run(&data, &["token", "revoke", "old-idp"]);
    assert!(out.status.success(), "{out:?}");

    // The right token works, on the right base URL only.
    assert_eq!(
        call(&base, "/scim/v2/Users", Some(&format!("Bearer {good}")))
            .await
            .status,
        200
    );

    let missing = call(&base, "/scim/v2/Users", None).await;
    assert_scim_error(&missing.body, 401, None);
    assert!(
        detail(&missing).contains("Authorization: Bearer"),
        "{}",
        detail(&missing)
    );
    wait_refusal(&serve, "missing_authorization").await;

    let basic = call(&base, "/scim/v2/Users", Some("Basic b2t0YTpwYXNz")).await;
    assert_scim_error(&basic.body, 401, None);
    assert!(
        detail(&basic).contains("Bearer scheme"),
        "{}",
        detail(&basic)
    );
    wait_refusal(&serve, "not_bearer").await;

    let malformed = call(&base, "/scim/v2/Users", Some("Bearer not-a-token")).await;
    assert_scim_error(&malformed.body, 401, None);
    assert!(
        detail(&malformed).contains("malformed token"),
        "{}",
        detail(&malformed)
    );
    wait_refusal(&serve, "malformed_token").await;

    // A genuine id with another secret: as unknown as a token never issued.
    let mut wrong = good.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    let wrong_secret = call(&base, "/scim/v2/Users", Some(&format!("Bearer {wrong}"))).await;
    assert_scim_error(&wrong_secret.body, 401, None);
    assert!(
        detail(&wrong_secret).starts_with("unknown token"),
        "{}",
        detail(&wrong_secret)
    );
    let logged = wait_refusal(&serve, "unknown_token").await;
    assert!(
        logged.get("token").is_none(),
        "a wrong secret names no token: {logged}"
    );

    let gone = call(&base, "/scim/v2/Users", Some(&format!("Bearer {revoked}"))).await;
    assert_scim_error(&gone.body, 401, None);
    assert!(detail(&gone).contains("revoked"), "{}", detail(&gone));
    assert!(
        detail(&gone).contains("scimgate token create"),
        "{}",
        detail(&gone)
    );
    assert_eq!(
        detail(&gone),
        detail(&wrong_secret),
        "revoked and wrong read the same"
    );

    let scope = call(&base, "/scim/v2/Users", Some(&format!("Bearer {admin}"))).await;
    assert_scim_error(&scope.body, 401, None);
    assert!(
        detail(&scope).contains("this is an admin token; the SCIM API needs a scim token"),
        "{}",
        detail(&scope)
    );
    assert!(
        !detail(&scope).contains("ops-admin"),
        "the detail names no token"
    );
    let logged = wait_refusal(&serve, "wrong_scope").await;
    assert_eq!(logged["token"], "ops-admin");
    assert_eq!(logged["api"], "SCIM");

    // The base URL without /v2: a SCIM 404 that names the right one, token or not.
    for auth in [Some(format!("Bearer {good}")), None] {
        for path in ["/scim/Users", "/scim", "/scim/v1/Users"] {
            let a = call(&base, path, auth.as_deref()).await;
            assert_scim_error(&a.body, 404, None);
            assert!(detail(&a).contains("/scim/v2"), "{path}: {}", detail(&a));
        }
    }

    // No secret (nor the wrong one) reaches the log.
    let log = serve.log_text();
    for token in [&good, &admin, &revoked, &wrong] {
        // The secret is all after `scimgate_<id>_`: base64url, so it may hold '_' itself.
        let secret = token.splitn(3, '_').nth(2).unwrap();
        assert!(!log.contains(secret), "a secret is in the log:\n{log}");
    }
}

#[tokio::test]
async fn a_flood_of_refusals_is_logged_within_a_budget_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut serve = binary::spawn(dir.path(), "gate", &binary::config(&data, ""));
    let base = serve.base().await;
    let client = reqwest::Client::new();
    let flood = 200;
    let started = std::time::Instant::now();
    for _ in 0..flood {
        let r = client
            .get(format!("{base}/scim/v2/Users"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let seconds = started.elapsed().as_secs() + 1;
    // One more after the window: its line carries the count of those left out.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(call(&base, "/scim/v2/Users", None).await.status, 401);
    let _ = wait_refusal(&serve, "missing_authorization").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines = refusals(&serve, "missing_authorization");
    assert!(
        (lines.len() as u64) <= 10 * (seconds + 1) + 1,
        "{} lines for {flood} refusals in {seconds} s",
        lines.len()
    );
    let suppressed: u64 = lines
        .iter()
        .map(|l| l["suppressed"].as_u64().unwrap())
        .sum();
    assert!(suppressed > 0, "nothing was left out");
    assert_eq!(
        lines.len() as u64 + suppressed,
        flood + 1,
        "every refusal is either logged or counted"
    );
}
