//! Structured logs keep secrets out: the real binary runs with JSON logs at debug level,
//! requests carry every kind of secret (SCIM and admin tokens, a bad token, bearer JWTs,
//! session and other cookies, a password in a SCIM body, a token in a query string, the
//! route's injected credential, the OIDC client secret in the configuration), and the
//! whole log is searched for each of them. Request events carry their request id.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::issuer::Issuer;
use crate::support::{self, GROUP_SCHEMA, USER_SCHEMA};
use crate::upstream;

const INJECTED: &str = "injected-upstream-credential-7f3a9c";
const CLIENT_SECRET: &str = "oidc-client-secret-5b1e2d";
const INJECT_VAR: &str = "SCIMGATE_IT_LOG_INJECTED";

/// The binary, running; killed when dropped.
struct Serve {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every log line, parsed (each must be a JSON object).
    fn events(&self) -> Vec<Value> {
        self.log_text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
            .collect()
    }

    /// Waits for the event whose message is `message`; returns its fields.
    async fn wait_for(&self, message: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(e) = self.log_text().lines().find_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                (v["fields"]["message"] == message).then(|| v["fields"].clone())
            }) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no {message:?} in:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn spawn(dir: &Path, config: &str) -> Serve {
    let cfg = dir.join("gate.yaml");
    std::fs::write(&cfg, config).unwrap();
    let log = dir.join("stderr.log");
    let child = crate::binary::command()
        .args(["serve", "--config"])
        .arg(&cfg)
        .env(INJECT_VAR, INJECTED)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Serve { child, log }
}

#[tokio::test]
async fn json_logs_carry_request_ids_and_no_secret() {
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let policies = data.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("app.yaml"),
        format!(
            "routes:\n  - name: app\n    match: {{ host: app.test }}\n    upstream: {}\n    inject: {{ authorization: \"Token ${{env:{INJECT_VAR}}}\" }}\n    allow:\n      - {{ groups: [readers], paths: [/public/**] }}\n",
            up.url()
        ),
    )
    .unwrap();
    let scim_token = support::create_token(data, "idp", scimgate::tokens::TokenScope::Scim);
    let admin_token = support::create_token(data, "ops", scimgate::tokens::TokenScope::Admin);
    let config = format!(
        "listen: 127.0.0.1:0\ndata_dir: {d}\npolicies: {p}\nlog:\n  format: json\n  level: debug\n{jwt}oidc:\n  issuer: {iss}\n  client_id: scimgate\n  client_secret: {CLIENT_SECRET}\n",
        d = data.display(),
        p = policies.display(),
        jwt = iss.config(),
        iss = iss.issuer(),
    );
    let serve = spawn(data, &config);
    let listening = serve.wait_for("scimgate listening").await;
    let base = format!("http://{}", listening["addr"].as_str().unwrap());
    let http = reqwest::Client::new();

    // SCIM: a user (with a password, as Okta sends) and a group, with request ids.
    let user = http
        .post(format!("{base}/scim/v2/Users"))
        .bearer_auth(&scim_token)
        .header("x-request-id", "rid-scim-create")
        .header("content-type", "application/scim+json")
        .body(
            json!({"schemas": [USER_SCHEMA], "userName": "lena", "active": true,
                   "password": "scim-password-9d8c7b"})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 201);
    let user: Value = user.json().await.unwrap();
    let group = http
        .post(format!("{base}/scim/v2/Groups"))
        .bearer_auth(&scim_token)
        .header("content-type", "application/scim+json")
        .body(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "readers",
                   "members": [{"value": user["id"]}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(group.status(), 201);
    let bad_scim = "scimgate_0000.wrong-scim-secret-4e5f6a";
    let r = http
        .get(format!("{base}/scim/v2/Users"))
        .bearer_auth(bad_scim)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The proxy: allowed with a JWT (and the injected credential sent upstream), a
    // denied one with a request id, a forged JWT, cookies, a token in the query.
    let jwt = iss.token("lena");
    let r = http
        .get(format!("{base}/public/a?access_token=query-secret-1a2b3c"))
        .header("host", "app.test")
        .bearer_auth(&jwt)
        .header(
            "cookie",
            "scimgate_session=session-secret-8e7d6c; other=cookie-secret-2f3e4d",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = up.seen.requests.lock().last().cloned().unwrap();
    assert_eq!(
        seen["headers"]["authorization"][0],
        format!("Token {INJECTED}")
    );
    let r = http
        .get(format!("{base}/private"))
        .header("host", "app.test")
        .header("x-request-id", "rid-denied")
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let forged = format!("{}x", &jwt[..jwt.len() - 1]);
    let r = http
        .get(format!("{base}/public/a"))
        .header("host", "app.test")
        .header("x-request-id", "rid-forged")
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{base}/public/a"))
        .header("host", "app.test")
        .header("cookie", "scimgate_session=unknown-session-secret-3c4d5e")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The admin API.
    let r = http
        .post(format!("{base}/.scimgate/admin/v1/decide"))
        .bearer_auth(&admin_token)
        .body(json!({"user": "lena", "url": "https://app.test/public/a"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A sign-in attempt (the provider has no discovery document: it fails and logs).
    let _ = http
        .get(format!("{base}/.scimgate/login"))
        .send()
        .await
        .unwrap();

    // The request events carry their ids.
    let denied = serve.wait_for("access denied").await;
    assert_eq!(denied["route"], "app");
    let events = serve.events();
    let in_request = |id: &str| {
        events.iter().any(|e| {
            e["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["request_id"] == id))
        })
    };
    for id in ["rid-scim-create", "rid-denied", "rid-forged"] {
        assert!(in_request(id), "no event carries request id {id}");
    }
    let refused = events
        .iter()
        .find(|e| e["fields"]["message"] == "credentials refused")
        .expect("the forged token is logged as refused");
    assert_eq!(refused["span"]["request_id"], "rid-forged");

    // No secret anywhere in the log.
    let log = serve.log_text();
    assert!(log.lines().count() > 10, "too little was logged:\n{log}");
    for secret in [
        scim_token.as_str(),
        admin_token.as_str(),
        bad_scim,
        "wrong-scim-secret-4e5f6a",
        jwt.as_str(),
        forged.as_str(),
        &jwt[jwt.len() - 40..],
        "session-secret-8e7d6c",
        "cookie-secret-2f3e4d",
        "unknown-session-secret-3c4d5e",
        "scim-password-9d8c7b",
        "query-secret-1a2b3c",
        INJECTED,
        CLIENT_SECRET,
    ] {
        assert!(
            !log.contains(secret),
            "the log holds a secret ({secret}):\n{log}"
        );
    }
    // The secret part of each scimgate token (after the id) in particular.
    for t in [&scim_token, &admin_token] {
        let (_, secret_part) = scimgate::tokens::split(t).unwrap();
        assert!(!log.contains(secret_part), "token secret in the log");
    }
}
