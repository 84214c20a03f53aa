//! One server per data directory: a second `scimgate serve` on the same directory is
//! refused naming the first one's pid, while the `token` and `audit` commands keep
//! working beside the running server; once the first is gone (even killed, leaving its
//! lock file behind) a new server starts.

use std::process::Stdio;

use crate::binary::{self, Serve};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn a_second_server_on_one_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = binary::config(&data, "");
    let mut first = binary::spawn(dir.path(), "first", &config);
    let base = first.base().await;

    // The second one: refused before it touches the store, naming the first's pid.
    let second = binary::command()
        .args(["serve", "--config"])
        .arg(dir.path().join("first.yaml"))
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!second.status.success(), "second server: {second:?}");
    let want = format!(
        "data directory {} in use by pid {}",
        data.display(),
        first.pid()
    );
    assert!(
        stderr(&second).contains(&want),
        "want {want:?} in: {}",
        stderr(&second)
    );
    let lock = std::fs::read_to_string(data.join("scimgate.lock")).unwrap();
    assert_eq!(lock.trim(), first.pid().to_string());

    // The commands that work beside a running server still do, and the server sees
    // their effect.
    let created = binary::run(&data, &["token", "create", "beside"]);
    assert!(
        created.status.success(),
        "token create: {}",
        stderr(&created)
    );
    let token = stdout(&created).trim().to_owned();
    let users = reqwest::Client::new()
        .get(format!("{base}/scim/v2/Users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200);
    let verified = binary::run(&data, &["audit", "verify"]);
    assert!(
        verified.status.success(),
        "audit verify: {} {}",
        stdout(&verified),
        stderr(&verified)
    );
    let listed = binary::run(&data, &["token", "list"]);
    assert!(stdout(&listed).contains("beside"), "{}", stdout(&listed));

    // A server stopped by a signal releases the directory.
    drop(first);
    assert!(data.join("scimgate.lock").exists(), "the lock file stays");
    let mut again = binary::spawn(dir.path(), "again", &config);
    again.base().await;
    drop(again);
}

#[tokio::test]
async fn a_stale_lock_file_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // What a killed server leaves: the file with a pid that holds no lock.
    std::fs::write(data.join("scimgate.lock"), "999999\n").unwrap();
    let mut serve: Serve = binary::spawn(dir.path(), "gate", &binary::config(&data, ""));
    serve.base().await;
    let lock = std::fs::read_to_string(data.join("scimgate.lock")).unwrap();
    assert_eq!(lock.trim(), serve.pid().to_string());
}
