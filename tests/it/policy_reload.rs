//! Policies change under a running server: a good file takes effect, a bad one is
//! refused with file, line and reason while the last good set stays in force; the
//! `policy` commands check, explain and test.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::proxy_env::{reader, Env};

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
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(status(&env, "olga", "/private/a").await, 200);
    let st = env.gate.running.gate.policy.status();
    let err = st.last_error.expect("the failed reload is reported");
    assert!(err.contains("app.yaml:3"), "{err}");
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

/// Starts the real binary; returns the child and a channel of its log lines.
fn serve_binary(
    data: &std::path::Path,
    policies: &std::path::Path,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = scimgate()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data")
        .arg(data)
        .arg("--policies")
        .arg(policies)
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn wait_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> Option<String> {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains(needle) {
                return Some(line);
            }
        }
    }
    None
}

#[test]
fn sighup_reloads_the_policies() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let (mut child, rx) = serve_binary(&dir.path().join("data"), &policies);
    assert!(
        wait_line(&rx, "scimgate listening").is_some(),
        "server started"
    );
    let pid = child.id().to_string();
    // A bad file arrives: the signal's reload refuses it and says why.
    std::fs::write(policies.join("bad.yaml"), "routes: [ {name: x} ]\n").unwrap();
    let _ = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(wait_line(&rx, "SIGHUP").is_some(), "SIGHUP was handled");
    let refused = wait_line(&rx, "policy reload refused").expect("the bad file was refused");
    assert!(refused.contains("bad.yaml"), "{refused}");
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let _ = child.wait();
}
