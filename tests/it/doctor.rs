//! `scimgate doctor` (the real binary) against an in-process server: the cycle passes
//! and leaves nothing behind; a wrong token and a step that does not hold fail clearly,
//! and the clean-up still runs.

use std::process::{Command, Output};

use serde_json::json;

use crate::proxy_env::standard_policy;
use crate::support::{self, Gate};
use crate::upstream;
use scimgate::tokens::TokenScope;

/// Runs `scimgate doctor` with these arguments; (exit success, stdout, stderr).
async fn doctor(args: Vec<String>) -> (bool, String, String) {
    let out: Output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scimgate"))
            .arg("doctor")
            .args(&args)
            .env_remove("SCIMGATE_DOCTOR_TOKEN")
            .env_remove("SCIMGATE_DOCTOR_SCIM_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn gate_with_policy() -> (Gate, upstream::Upstream) {
    let up = upstream::start().await;
    let gate = support::start_with_policies("", &[("app.yaml", &standard_policy(&up.url()))]).await;
    (gate, up)
}

/// Users and groups left in the directory.
async fn leftovers(gate: &Gate) -> (Vec<String>, Vec<String>) {
    let users = gate.get("/Users").await.expect(200).resources();
    let groups = gate.get("/Groups").await.expect(200).resources();
    (
        support::user_names(&users),
        groups
            .iter()
            .map(|g| g["displayName"].as_str().unwrap_or_default().to_owned())
            .collect(),
    )
}

fn args(gate: &Gate, token: &str, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        "--url".to_owned(),
        gate.root(),
        "--token".to_owned(),
        token.to_owned(),
    ];
    a.extend(extra.iter().map(|s| (*s).to_owned()));
    a
}

#[tokio::test]
async fn the_cycle_passes_with_a_request_the_group_may_make_and_cleans_up() {
    let (gate, _up) = gate_with_policy().await;
    let admin = support::create_token(gate.dir.path(), "doctor", TokenScope::Admin);
    let (ok, out, err) = doctor(args(
        &gate,
        &admin,
        &[
            "--group",
            "readers",
            "--request",
            "GET https://app.test/public/index.html",
        ],
    ))
    .await;
    assert!(ok, "doctor failed:\n{out}\n{err}");
    for step in [
        "find group readers",
        "create user",
        "add user to group",
        "decision allows GET https://app.test/public/index.html",
        "deactivate user",
        "decision denies GET https://app.test/public/index.html",
        "clean up: delete user",
        "clean up: delete group",
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(step))
            .unwrap_or_else(|| panic!("no step {step:?} in:\n{out}"));
        assert!(line.trim_start().starts_with("ok"), "{line}");
        assert!(line.contains(" ms "), "no timing: {line}");
    }
    assert!(
        out.contains("allowed by readers-public on route app"),
        "{out}"
    );
    assert!(
        out.contains("denied by inactive-user on route app"),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("verdict: PASS (8 steps"),
        "{out}"
    );
    // The staging user and the group it created are gone.
    assert_eq!(leftovers(&gate).await, (vec![], vec![]));
}

#[tokio::test]
async fn the_cycle_passes_through_the_scim_api_with_an_existing_group_and_keeps_it() {
    let (gate, _up) = gate_with_policy().await;
    let admin = support::create_token(gate.dir.path(), "doctor", TokenScope::Admin);
    let alice = gate.create_user("alice").await;
    let group = gate
        .create_group("readers", &[alice["id"].as_str().unwrap()])
        .await;
    let scim = gate.token.clone();
    let (ok, out, err) = doctor(args(
        &gate,
        &admin,
        &[
            "--scim-token",
            &scim,
            "--group",
            "readers",
            "--request",
            "GET https://app.test/public/a",
        ],
    ))
    .await;
    assert!(ok, "doctor failed:\n{out}\n{err}");
    assert!(
        out.contains(&format!("exists (id {})", group["id"].as_str().unwrap())),
        "{out}"
    );
    assert!(!out.contains("delete group"), "{out}");
    // The existing group keeps its member and loses the staging user.
    assert_eq!(
        gate.member_ids(group["id"].as_str().unwrap()).await,
        vec![alice["id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(
        leftovers(&gate).await,
        (vec!["alice".to_owned()], vec!["readers".to_owned()])
    );
    // The changes came through the SCIM API: its token is the one counted.
    let m = crate::ops::scrape(gate.running.ops_addr.unwrap()).await;
    assert!(m
        .samples
        .iter()
        .any(|s| s.metric == "scimgate_scim_operations_total"
            && s.labels.get("api") == Some("scim")
            && s.labels.get("operation") == Some("delete_user")));
}

#[tokio::test]
async fn without_a_request_the_directory_is_checked() {
    let (gate, _up) = gate_with_policy().await;
    let admin = support::create_token(gate.dir.path(), "doctor", TokenScope::Admin);
    let (ok, out, err) = doctor(args(&gate, &admin, &[])).await;
    assert!(ok, "doctor failed:\n{out}\n{err}");
    assert!(
        out.contains("directory: user active and in the group"),
        "{out}"
    );
    assert!(out.contains("group scimgate-doctor"), "{out}");
    assert_eq!(leftovers(&gate).await, (vec![], vec![]));
}

#[tokio::test]
async fn a_wrong_token_fails_at_the_first_step_and_writes_nothing() {
    let (gate, _up) = gate_with_policy().await;
    for token in [
        "scimgate_0123456789abcdef_not-a-real-secret",
        gate.token.as_str(),
    ] {
        // A made-up token, and a SCIM token where an admin token is needed.
        let (ok, out, err) = doctor(args(&gate, token, &[])).await;
        assert!(!ok, "doctor passed with a wrong token:\n{out}");
        assert!(out.contains("FAIL  find group scimgate-doctor"), "{out}");
        assert!(out.contains("the token was refused (401)"), "{out}");
        assert!(
            out.contains("verdict: FAIL at \"find group scimgate-doctor\""),
            "{out}"
        );
        assert!(!out.contains("create user"), "{out}");
        assert!(err.contains("did not pass"), "{err}");
        assert!(
            !out.contains(token) && !err.contains(token),
            "the token was printed"
        );
    }
    assert_eq!(leftovers(&gate).await, (vec![], vec![]));
}

#[tokio::test]
async fn a_decision_that_does_not_hold_fails_clearly_and_still_cleans_up() {
    let (gate, _up) = gate_with_policy().await;
    let admin = support::create_token(gate.dir.path(), "doctor", TokenScope::Admin);
    // `writers` is allowed nowhere: the decision is a denial.
    let (ok, out, _) = doctor(args(
        &gate,
        &admin,
        &[
            "--group",
            "writers",
            "--request",
            "GET https://app.test/public/a",
        ],
    ))
    .await;
    assert!(!ok, "doctor passed:\n{out}");
    let failed = out.lines().find(|l| l.contains("FAIL")).unwrap();
    assert!(
        failed.contains("decision allows GET https://app.test/public/a"),
        "{out}"
    );
    assert!(
        failed.contains("denied by default-deny on route app"),
        "{out}"
    );
    assert!(
        failed.contains("allowed groups: admins, readers")
            || failed.contains("allowed groups: readers, admins"),
        "{out}"
    );
    assert!(!out.contains("deactivate user"), "{out}");
    assert!(out.contains("ok    clean up: delete user"), "{out}");
    assert!(out.contains("ok    clean up: delete group"), "{out}");
    assert!(out.contains("verdict: FAIL at \"decision allows"), "{out}");
    assert_eq!(leftovers(&gate).await, (vec![], vec![]));
    // A request line that cannot be read fails before anything is written.
    let (ok, out, _) = doctor(args(&gate, &admin, &["--request", "GET"])).await;
    assert!(!ok);
    assert!(out.contains("FAIL  read --request"), "{out}");
    assert_eq!(leftovers(&gate).await, (vec![], vec![]));
}

#[tokio::test]
async fn decide_answers_with_the_deciding_rule_and_refuses_bad_input() {
    let (gate, _up) = gate_with_policy().await;
    let admin = support::create_token(gate.dir.path(), "ops", TokenScope::Admin);
    let bob = gate.create_user("bob").await;
    gate.create_group("readers", &[bob["id"].as_str().unwrap()])
        .await;
    let decide = |body: serde_json::Value, token: &str| {
        support::send(
            gate.req_as(
                reqwest::Method::POST,
                &format!("{}/decide", gate.admin_base()),
                Some(token),
            )
            .header("content-type", "application/json")
            .body(body.to_string()),
        )
    };
    let r = decide(
        json!({"user": "bob", "method": "get", "url": "https://app.test/public/x"}),
        &admin,
    )
    .await
    .expect(200);
    assert_eq!(r.body["allow"], true);
    assert_eq!(r.body["route"], "app");
    assert_eq!(r.body["rule"], "readers-public");
    assert_eq!(r.body["user"]["groups"], json!(["readers"]));
    let r = decide(
        json!({"user": "bob", "url": "https://app.test/public/secret.json"}),
        &admin,
    )
    .await
    .expect(200);
    assert_eq!(
        (r.body["allow"].clone(), r.body["rule"].clone()),
        (json!(false), json!("no-secrets"))
    );
    let r = decide(
        json!({"user": "nobody", "url": "https://app.test/public/x"}),
        &admin,
    )
    .await
    .expect(200);
    assert_eq!(
        (r.body["rule"].clone(), r.body["user"]["found"].clone()),
        (json!("unknown-user"), json!(false))
    );
    let r = decide(
        json!({"user": "bob", "url": "https://elsewhere.test/"}),
        &admin,
    )
    .await
    .expect(200);
    assert_eq!(
        (r.body["rule"].clone(), r.body["route"].clone()),
        (json!("no-route"), json!(null))
    );
    let r = decide(
        json!({"user": "bob", "url": "https://app.test/a/%2e%2e/%2fb"}),
        &admin,
    )
    .await
    .expect(200);
    assert_eq!(r.body["rule"], "bad-path");
    for bad in [
        json!({"user": "bob"}),
        json!({"user": "bob", "url": "app.test/x"}),
        json!({"user": "bob", "url": "/x", "method": "G(T"}),
    ] {
        let r = decide(bad.clone(), &admin).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert!(
            r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            r.text
        );
    }
    // Only admin tokens.
    assert_eq!(
        decide(json!({"user": "bob", "url": "/"}), &gate.token)
            .await
            .status,
        401
    );
}
