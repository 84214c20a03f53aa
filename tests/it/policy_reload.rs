//! Policies change under a running server: a good file takes effect, a bad one is
//! refused with file, line and reason while the last good set stays in force, by the
//! file watcher and by SIGHUP alone (the real binary, watcher off); the `policy`
//! commands check, explain and test.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::issuer::Issuer;
use crate::ops::{scrape, value};
use crate::proxy_env::{reader, standard_policy, Env};
use crate::served::Served;
use crate::upstream;

async fn status(env: &Env, user: &str, path: &str) -> u16 {
    env.get("app.test", path, Some(user))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn wait_for(env: &Env, user: &str, path: &str, want: u16) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if status(env, user, path).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_changed_file_takes_effect_and_a_bad_one_keeps_the_last_good_set() {
    let env = Env::start("").await;
    reader(&env, "olga").await;
    assert_eq!(status(&env, "olga", "/private/a").await, 403);
    let file = env.gate.dir.path().join("policies/app.yaml");
    let open = format!(
        "routes:\n  - name: app\n    match: {{ host: app.test }}\n    upstream: {}\n    allow:\n      - {{ groups: [readers] }}\n",
        env.up.url()
    );
    std::fs::write(&file, &open).unwrap();
    assert!(
        wait_for(&env, "olga", "/private/a", 200).await,
        "the new policy took effect"
    );

    // A broken file: refused, and the last good set stays.
    std::fs::write(
        &file,
        "routes:\n  - name: app\n    upstream: [not, a, url]\n",
    )
    .unwrap();
    // The watcher's refusal is recorded; only then is the decision looked at.
    let policy = &env.gate.running.policy;
    let t0 = Instant::now();
    let err = loop {
        if let Some(err) = policy.status().last_error {
            break err;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no reload refused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(err.contains("app.yaml:3"), "{err}");
    assert_eq!(status(&env, "olga", "/private/a").await, 200);
}

fn scimgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scimgate"))
}

#[test]
fn policy_check_names_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "routes:\n  - name: docs\n    upstream: http://127.0.0.1:1\n    allow:\n      - { groups: [a], methods: [FETCH!] }\n",
    )
    .unwrap();
    let out = scimgate()
        .args(["policy", "check"])
        .arg(dir.path())
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("bad.yaml:5"), "{text}");
}

#[test]
fn shipped_policies_check_and_pass_their_tests() {
    let root = env!("CARGO_MANIFEST_DIR");
    let data = tempfile::tempdir().unwrap();
    let out = scimgate()
        .args(["policy", "check", &format!("{root}/policies")])
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = scimgate()
        .args([
            "policy",
            "test",
            &format!("{root}/policies/tests/docs.test.yaml"),
            "--dir",
            &format!("{root}/policies"),
        ])
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" passed, 0 failed"), "{text}");
}

#[tokio::test]
async fn policy_explain_names_the_deciding_rule() {
    let env = Env::start("").await;
    reader(&env, "pia").await;
    let data = env.gate.dir.path().to_path_buf();
    let pdir = data.join("policies");
    let run = |url: &str| {
        let out = scimgate()
            .args(["policy", "explain", "--user", "pia", "--method", "GET", url])
            .arg("--data")
            .arg(&data)
            .env("SCIMGATE_POLICIES", &pdir)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let allow = run("http://app.test/public/a");
    assert!(allow.to_lowercase().contains("allow"), "{allow}");
    assert!(allow.contains("readers-public"), "{allow}");
    let deny = run("http://app.test/public/secret.json");
    assert!(deny.to_lowercase().contains("deny"), "{deny}");
    assert!(deny.contains("no-secrets"), "{deny}");
}

/// The standard policy with readers allowed everywhere (not only under `/public`).
fn open_policy(upstream: &str) -> String {
    format!(
        "routes:\n  - name: app\n    match: {{ host: app.test }}\n    upstream: {upstream}\n    allow:\n      - {{ groups: [readers] }}\n"
    )
}

#[tokio::test]
async fn sighup_alone_reloads_the_policies_and_refuses_a_bad_set() {
    let up = upstream::start().await;
    // No file watcher: a reload can only come from the signal.
    let mut served = Served::start(
        Issuer::start().await,
        &standard_policy(&up.url()),
        "reload:\n  watch: false\n",
    )
    .await;
    served.serve.wait_for("file watching is off (reload.watch: false): SIGHUP reloads the policies and the certificate").await;
    let ops = served.serve.ops_addr().await;
    served.reader("olga").await;
    assert_eq!(served.status("app.test", "/private/a", "olga").await, 403);

    // A new set on disk: the old decision until SIGHUP, the new one after.
    let file = served.policies.join("app.yaml");
    std::fs::write(&file, open_policy(&up.url())).unwrap();
    assert_eq!(served.status("app.test", "/private/a", "olga").await, 403);
    served.serve.hangup();
    served.serve.wait_for("policies reloaded").await;
    assert_eq!(served.status("app.test", "/private/a", "olga").await, 200);

    // A bad set by SIGHUP: refused with file, line and reason; the last good set stays.
    std::fs::write(
        &file,
        "routes:\n  - name: app\n    upstream: [not, a, url]\n",
    )
    .unwrap();
    served.serve.hangup();
    let refused = served
        .serve
        .wait_for("policy reload refused; the last good policies stay in force")
        .await;
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(error.contains("app.yaml:3"), "{refused}");
    assert_eq!(served.status("app.test", "/private/a", "olga").await, 200);

    // One reload applied, one refused: both by the signal.
    let scrape = scrape(ops).await;
    for (outcome, want) in [("applied", 1.0), ("refused", 1.0)] {
        let labels = [("what", "policies"), ("outcome", outcome)];
        assert_eq!(
            value(&scrape, "scimgate_reloads_total", &labels),
            Some(want),
            "{outcome}"
        );
    }
}
