//! Step-up sign-in and per-route session limits (issue 18), through the real server:
//! a bearer token whose `auth_time` is too old or whose `acr` is not accepted gets 401
//! `insufficient_user_authentication` (RFC 9470) with what to get; a browser is sent
//! through the identity provider again with `max_age`, `prompt=login` and
//! `acr_values`, and the ID token's answer is checked; a session too old or idle for a
//! route signs in again while other routes still accept it; each is an audit record;
//! `policy check` names the file and line of a bad step-up rule and `policy explain`
//! shows what a request needs.

use std::process::Command;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::audit::{chain, detail};
use crate::issuer::{now, Issuer};
use crate::oidc_provider::{query_of, Provider};
use crate::proxy_env::{reader, Env};
use crate::upstream;

/// `api.test`: writes need a sign-in within 15 minutes, `/settings/**` too, and
/// `/vault/**` an `acr` of `mfa` or `hwk`; its browser sessions carry `session`.
/// `docs.test`: no step-up, sessions of 12 hours.
fn policy(upstream: &str, session: &str) -> String {
    format!(
        r#"routes:
  - name: api
    match: {{ host: api.test }}
    upstream: {upstream}
    {session}
    step_up:
      - name: writes-fresh
        methods: [POST, PUT, PATCH, DELETE]
        max_auth_age: 15m
      - name: settings-fresh
        paths: [/settings/**]
        max_auth_age: 15m
      - name: vault-mfa
        paths: [/vault/**]
        acr: [mfa, hwk]
    allow:
      - {{ groups: [readers] }}
  - name: docs
    match: {{ host: docs.test }}
    upstream: {upstream}
    session: {{ max_age: 12h }}
    allow:
      - {{ groups: [readers] }}
"#
    )
}

struct World {
    env: Env,
    idp: Provider,
}

async fn world(session: &str) -> World {
    let up = upstream::start().await;
    let idp = Provider::start().await;
    let policy = policy(&up.url(), session);
    let env = Env::start_with(up, Issuer::start().await, &idp.config(), Some(policy)).await;
    reader(&env, "ann").await;
    World { env, idp }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(headers: &HeaderMap) -> String {
    headers["location"].to_str().unwrap().to_owned()
}

fn challenge(headers: &HeaderMap) -> String {
    headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The `name=value` pairs of the response's cookies called `name`.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
}

impl World {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.env.addr())
    }

    /// A request by a bearer token for ann with these extra claims.
    async fn bearer(&self, method: reqwest::Method, path: &str, extra: Value) -> reqwest::Response {
        let mut claims = self.env.iss.claims("ann");
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        client()
            .request(method, self.url(path))
            .header("host", "api.test")
            .bearer_auth(self.env.iss.sign(&claims))
            .send()
            .await
            .unwrap()
    }

    /// A browser navigation to `host` `path` with the session `cookie`.
    async fn browse(&self, host: &str, path: &str, cookie: &str) -> reqwest::Response {
        client()
            .get(self.url(path))
            .header("host", host)
            .header("accept", "text/html")
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    /// Starts a sign-in at `login` (a `/.scimgate/login?..` path): the authorize URL
    /// the browser is sent to and the pending sign-in's cookie.
    async fn start_login(&self, login: &str) -> (String, String) {
        let r = client().get(self.url(login)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FOUND, "{login}");
        let pending = cookie(r.headers(), "scimgate_login_0")
            .or_else(|| cookie(r.headers(), "scimgate_login_1"))
            .expect("a pending sign-in cookie");
        (location(r.headers()), pending)
    }

    /// The provider signs ann in at `authorize` with the ID token claims `extra`; the
    /// callback's answer.
    async fn finish_login(
        &self,
        authorize: &str,
        pending: &str,
        extra: Value,
    ) -> reqwest::Response {
        let callback = self.idp.approve_with(authorize, "ann", extra);
        client()
            .get(self.url(&callback))
            .header("cookie", pending)
            .send()
            .await
            .unwrap()
    }

    /// Signs ann in (from `login`) with these ID token claims; the session cookie.
    async fn sign_in(&self, login: &str, extra: Value) -> String {
        let (authorize, pending) = self.start_login(login).await;
        let done = self.finish_login(&authorize, &pending, extra).await;
        assert_eq!(done.status(), StatusCode::FOUND);
        cookie(done.headers(), "scimgate_session").expect("a session cookie")
    }

    async fn records(&self, action: &str) -> Vec<Value> {
        self.env.gate.running.audit.flush().await;
        chain(self.env.gate.dir.path())
            .iter()
            .filter(|r| r.entry.action == action)
            .map(|r| {
                let mut d = detail(r);
                d["target"] = json!(r.entry.target);
                d["actor"] = json!(r.entry.actor);
                d
            })
            .collect()
    }
}

#[tokio::test]
async fn a_bearer_token_too_old_for_a_write_gets_rfc_9470s_challenge() {
    let w = world("").await;
    let post = reqwest::Method::POST;
    // Reads need no step-up, whatever the token's age.
    let r = w.bearer(reqwest::Method::GET, "/jobs", json!({})).await;
    assert_eq!(r.status(), 200);

    let old = json!({ "auth_time": now() - 3600 });
    let r = w.bearer(post.clone(), "/jobs", old).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let c = challenge(r.headers());
    assert!(c.starts_with("Bearer "), "{c}");
    assert!(
        c.contains(r#"error="insufficient_user_authentication""#),
        "{c}"
    );
    assert!(c.contains(r#"max_age="900""#), "{c}");
    assert!(c.contains("error_description=\"the sign-in is "), "{c}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_user_authentication");

    // No auth_time at all cannot prove a recent sign-in.
    let r = w.bearer(post.clone(), "/jobs", json!({})).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(r.headers()).contains("auth_time"));

    // A fresh one passes.
    let fresh = json!({ "auth_time": now() - 60 });
    let r = w.bearer(post, "/jobs", fresh).await;
    assert_eq!(r.status(), 200);
    let seen: Vec<String> = w.env.up.paths();
    assert_eq!(
        seen,
        ["/jobs", "/jobs"],
        "refused writes never reached the upstream"
    );

    let records = w.records("auth.step_up").await;
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["actor"], "user:ann");
    assert_eq!(records[0]["target"], "route:api");
    assert_eq!(records[0]["rule"], "writes-fresh");
    assert_eq!(records[0]["via"], "bearer");
    assert_eq!(records[0]["max_age"], 900);
    assert_eq!(records[0]["outcome"], "required");
    assert!(records[0]["auth_age"].as_u64().unwrap() >= 3600);
}

#[tokio::test]
async fn a_bearer_token_needs_an_accepted_acr() {
    let w = world("").await;
    let get = reqwest::Method::GET;
    for (claims, want) in [
        (json!({}), 401),
        (json!({ "acr": "pwd" }), 401),
        (json!({ "acr": "hwk" }), 200),
        (json!({ "acr": "mfa" }), 200),
    ] {
        let r = w.bearer(get.clone(), "/vault/keys", claims.clone()).await;
        assert_eq!(r.status().as_u16(), want, "{claims}");
        if want == 401 {
            let c = challenge(r.headers());
            assert!(
                c.contains(r#"error="insufficient_user_authentication""#),
                "{c}"
            );
            assert!(c.contains(r#"acr_values="mfa hwk""#), "{c}");
            assert!(!c.contains("max_age"), "{c}");
        }
    }
    let records = w.records("auth.step_up").await;
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["acr"], "pwd");
    assert_eq!(records[1]["rule"], "vault-mfa");
}

#[tokio::test]
async fn a_browser_steps_up_through_the_provider_and_its_auth_time_is_honoured() {
    let w = world("").await;
    // Signed in an hour ago (the provider's session is old).
    let stale = w
        .sign_in(
            "/.scimgate/login?rd=/",
            json!({ "auth_time": now() - 3600 }),
        )
        .await;
    assert_eq!(w.browse("api.test", "/jobs", &stale).await.status(), 200);

    // A path that needs a recent sign-in sends the browser to sign in again, asking for it.
    let r = w.browse("api.test", "/settings/token", &stale).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let login = location(r.headers());
    assert_eq!(
        login, "/.scimgate/login?rd=/settings/token&max_age=900",
        "the sign-in asks for the step-up"
    );
    let (authorize, pending) = w.start_login(&login).await;
    let q = query_of(&authorize);
    assert_eq!(q.get("max_age").map(String::as_str), Some("900"));
    assert_eq!(q.get("prompt").map(String::as_str), Some("login"));

    // A provider that answers with the old sign-in is refused: no session, no loop.
    let ignored = w
        .finish_login(&authorize, &pending, json!({ "auth_time": now() - 3600 }))
        .await;
    assert_eq!(ignored.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie(ignored.headers(), "scimgate_session").is_none());
    assert!(ignored.text().await.unwrap().contains("auth_time"));

    // A fresh sign-in opens a session that the path accepts.
    let (authorize, pending) = w.start_login(&login).await;
    let done = w
        .finish_login(&authorize, &pending, json!({ "auth_time": now() }))
        .await;
    assert_eq!(done.status(), StatusCode::FOUND);
    assert_eq!(location(done.headers()), "/settings/token");
    let fresh = cookie(done.headers(), "scimgate_session").unwrap();
    let r = w.browse("api.test", "/settings/token", &fresh).await;
    assert_eq!(r.status(), 200);

    let records = w.records("auth.step_up").await;
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["via"], "session");
    assert_eq!(records[0]["rule"], "settings-fresh");
    assert_eq!(records[0]["outcome"], "required");
    assert_eq!(records[1]["outcome"], "completed");
    assert_eq!(records[1]["max_age"], 900);
    assert!(records[1]["auth_age"].as_u64().unwrap() < 900);
}

#[tokio::test]
async fn a_browser_is_asked_for_an_accepted_acr() {
    let w = world("").await;
    let weak = w
        .sign_in(
            "/.scimgate/login?rd=/",
            json!({ "auth_time": now(), "acr": "pwd" }),
        )
        .await;
    let r = w.browse("api.test", "/vault/keys", &weak).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let login = location(r.headers());
    assert_eq!(
        login,
        "/.scimgate/login?rd=/vault/keys&acr_values=mfa%20hwk"
    );
    let (authorize, pending) = w.start_login(&login).await;
    let q = query_of(&authorize);
    assert_eq!(q.get("acr_values").map(String::as_str), Some("mfa hwk"));
    assert_eq!(
        q.get("prompt"),
        None,
        "an acr alone does not force the form"
    );

    // The wrong acr is refused at the callback; the right one is let through.
    let wrong = w
        .finish_login(&authorize, &pending, json!({ "acr": "pwd" }))
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie(wrong.headers(), "scimgate_session").is_none());
    let strong = w.sign_in(&login, json!({ "acr": "mfa" })).await;
    assert_eq!(
        w.browse("api.test", "/vault/keys", &strong).await.status(),
        200
    );
    // The old session still reads what needs no step-up.
    assert_eq!(w.browse("api.test", "/jobs", &weak).await.status(), 200);
}

#[tokio::test]
async fn a_session_too_old_for_a_route_signs_in_again_while_others_accept_it() {
    let w = world("session: { max_age: 2s }").await;
    let s = w.sign_in("/.scimgate/login?rd=/", json!({})).await;
    assert_eq!(w.browse("api.test", "/jobs", &s).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let r = w.browse("api.test", "/jobs", &s).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(r.headers()), "/.scimgate/login?rd=/jobs");
    // An API call with the cookie is told why.
    let r = client()
        .get(w.url("/jobs"))
        .header("host", "api.test")
        .header("cookie", &s)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "session_limit");
    // The docs route (12 h) still accepts the session.
    assert_eq!(w.browse("docs.test", "/index.html", &s).await.status(), 200);
    // A new sign-in is accepted on the API again.
    let again = w.sign_in("/.scimgate/login?rd=/jobs", json!({})).await;
    assert_eq!(w.browse("api.test", "/jobs", &again).await.status(), 200);

    let records = w.records("auth.session_limit").await;
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["target"], "route:api");
    assert!(records[0]["reason"].as_str().unwrap().contains("older"));
}

#[tokio::test]
async fn a_session_idle_too_long_for_a_route_signs_in_again() {
    let w = world("session: { idle_timeout: 2s }").await;
    let s = w.sign_in("/.scimgate/login?rd=/", json!({})).await;
    // Used more often than the timeout, the session lives past it.
    for _ in 0..4 {
        assert_eq!(w.browse("api.test", "/jobs", &s).await.status(), 200);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert_eq!(w.browse("api.test", "/jobs", &s).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = w.browse("api.test", "/jobs", &s).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(r.headers()), "/.scimgate/login?rd=/jobs");
    // A refusal does not count as use: it stays refused.
    let r = w.browse("api.test", "/jobs", &s).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(w.browse("docs.test", "/", &s).await.status(), 200);
    let records = w.records("auth.session_limit").await;
    assert!(records[0]["reason"].as_str().unwrap().contains("idle"));
}

fn scimgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scimgate"))
}

#[test]
fn policy_check_names_the_line_of_a_bad_step_up_rule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("api.yaml"),
        "routes:\n  - name: api\n    upstream: http://127.0.0.1:1\n    step_up:\n      - { methods: [POST] }\n      - { max_auth_age: 15 }\n      - { acr: [\"two words\"] }\n    session: { idle_timeout: 0s }\n    allow:\n      - { everyone: true }\n",
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
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("api.yaml:5:9: a step_up rule must ask for something"),
        "{text}"
    );
    assert!(text.contains("api.yaml:6:25: bad duration `15`"), "{text}");
    assert!(
        text.contains("api.yaml:7:17: acr value `two words`"),
        "{text}"
    );
    assert!(
        text.contains("api.yaml:8:30: duration `0s` must be more than zero"),
        "{text}"
    );
}

#[tokio::test]
async fn policy_explain_shows_what_a_request_needs() {
    let w = world("session: { max_age: 1h, idle_timeout: 15m }").await;
    let data = w.env.gate.dir.path().to_path_buf();
    let run = |method: &str, url: &str| {
        let out = scimgate()
            .args([
                "policy", "explain", "--user", "ann", "--method", method, url,
            ])
            .arg("--data")
            .arg(&data)
            .env("SCIMGATE_POLICIES", data.join("policies"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let post = run("POST", "http://api.test/jobs");
    assert!(
        post.contains("step-up:  writes-fresh (") && post.contains("a sign-in within 900s"),
        "{post}"
    );
    assert!(
        post.contains("session:  browser sessions at most 3600s old, idle at most 900s"),
        "{post}"
    );
    let get = run("GET", "http://api.test/jobs");
    assert!(!get.contains("step-up:"), "{get}");
    let vault = run("GET", "http://api.test/vault/a");
    assert!(vault.contains("acr one of mfa, hwk"), "{vault}");
}
