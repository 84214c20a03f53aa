//! What an operator reads: text logs carry no colour codes when stderr is a file, and an
//! identity provider that does not answer is named in a plain sentence (issuer URL and
//! cause) in the log and as a `degraded: oidc` line of `/readyz`, which stays ready.

use std::time::{Duration, Instant};

use crate::binary;

const POLICY: &str = "routes:\n  - name: app\n    match: { path: /** }\n    upstream: http://127.0.0.1:9\n    allow:\n      - { groups: [readers] }\n";

/// An issuer URL on a loopback port nobody listens on.
fn closed_issuer() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

fn oidc(issuer: &str) -> String {
    format!("oidc:\n  issuer: {issuer}\n  client_id: scimgate\n  client_secret: oidc-secret-for-the-test\n")
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "no {what} in:\n{}", log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn text_logs_to_a_file_have_no_colour_and_name_the_unreachable_idp() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let policies = data.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(policies.join("app.yaml"), POLICY).unwrap();
    let issuer = closed_issuer();
    let config = format!(
        "listen: 127.0.0.1:0\ndata_dir: {}\npolicies: {}\n{}",
        data.display(),
        policies.display(),
        oidc(&issuer)
    );
    let serve = binary::spawn(dir.path(), "gate", &config);
    let log = || serve.log_text();
    wait_until(
        "start-up and the discovery warning",
        || {
            let l = serve.log_text();
            l.contains("scimgate listening") && l.contains("cannot reach the identity provider")
        },
        log,
    )
    .await;
    let text = serve.log_text();
    assert!(text.contains(" WARN "), "a warning is written: {text}");
    assert!(
        !text.as_bytes().contains(&0x1b),
        "ANSI escape in:\n{text:?}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("cannot reach the identity provider"))
        .unwrap();
    assert!(
        line.contains(&format!("OpenID discovery at {issuer} failed")),
        "{line}"
    );
    assert!(line.to_lowercase().contains("refused"), "the cause: {line}");
    assert!(!line.contains("Some("), "no debug struct: {line}");

    // /readyz names the dependency but stays ready.
    let addr = text
        .lines()
        .find(|l| l.contains("scimgate listening"))
        .and_then(|l| l.split("addr=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    let r = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.starts_with("ready\n"), "{body}");
    assert!(
        body.contains(&format!(
            "degraded: oidc: OpenID discovery at {issuer} failed"
        )),
        "{body}"
    );
}

#[tokio::test]
async fn json_logs_carry_the_issuer_and_the_cause_as_fields() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let issuer = closed_issuer();
    let mut serve = binary::spawn(dir.path(), "gate", &binary::config(&data, &oidc(&issuer)));
    serve.base().await;
    let find = |serve: &binary::Serve| {
        serve
            .events()
            .into_iter()
            .find(|e| e["level"] == "WARN" && e["fields"]["issuer"] == issuer.as_str())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let event = loop {
        if let Some(e) = find(&serve) {
            break e;
        }
        assert!(Instant::now() < deadline, "{}", serve.log_text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let error = event["fields"]["error"].as_str().unwrap();
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert!(event["fields"].get("source").is_none(), "{event}");
}
