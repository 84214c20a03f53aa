//! One error→response map per surface, through HTTP against a started server: each
//! failure a client can provoke gets its status and body (proxied requests, forward-auth,
//! pages, SCIM), and no error body carries an internal detail (an upstream address, a
//! CA file's path, the identity provider's URL, the data directory).

use reqwest::Method;
use serde_json::json;
use tokio::net::TcpListener;

use crate::issuer::{now, Issuer};
use crate::proxy_env::{reader, standard_policy, Env};
use crate::support::{self, send, Resp};
use crate::upstream;
use crate::upstream_tls::tls_upstream;

/// An address nothing listens on.
fn dead_addr() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// An upstream that accepts connections and never answers.
async fn silent_upstream() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

/// A proxied request to `host` with `token` as its bearer token (valid or not).
fn with_token(env: &Env, host: &str, path: &str, token: &str) -> reqwest::RequestBuilder {
    env.gate
        .http
        .get(format!("http://{}{path}", env.addr()))
        .header("host", host)
        .bearer_auth(token)
}

/// Fails if the body of `r` holds any of `secrets`.
#[track_caller]
fn assert_no_detail(r: &Resp, secrets: &[String]) {
    for s in secrets {
        assert!(!r.text.contains(s.as_str()), "{s:?} in {}", r.text);
    }
}

/// Asserts a proxied-request error: status, `error` code, a detail, `no-store`.
#[track_caller]
fn assert_answer(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"], code, "{}", r.text);
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.text
    );
    assert_eq!(r.header("cache-control"), Some("no-store"), "{}", r.text);
}

#[tokio::test]
async fn an_unreachable_jwks_is_a_502_on_every_surface_and_a_bad_token_stays_401() {
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let jwks = format!("http://{}/keys/jwks.json", dead_addr());
    let yaml = format!(
        "{}trusted_proxies: [127.0.0.1/32]\n",
        iss.config()
            .replace(&format!("{}/jwks.json", iss.issuer()), &jwks)
    );
    assert!(yaml.contains(&jwks), "{yaml}");
    let gate =
        support::start_with_policies(&yaml, &[("app.yaml", &standard_policy(&up.url()))]).await;
    let env = Env { gate, up, iss };
    reader(&env, "ada").await;
    let secrets = [jwks.clone(), "/keys/".to_owned()];
    let token = env.iss.token("ada");

    // A proxied request: the IdP's outage, not the token, is what the caller reads.
    let r = send(env.get("app.test", "/public/a", Some("ada"))).await;
    assert_answer(&r, 502, "idp_unavailable");
    assert!(r.header("www-authenticate").is_none(), "{:?}", r.headers);
    assert_no_detail(&r, &secrets);
    // Forward-auth judges the same way.
    let r = send(
        env.gate
            .http
            .get(format!("http://{}/.scimgate/auth", env.addr()))
            .header("x-forwarded-uri", "/public/a")
            .header("x-forwarded-host", "app.test")
            .bearer_auth(&token),
    )
    .await;
    assert_answer(&r, 502, "idp_unavailable");
    assert_no_detail(&r, &secrets);
    // The access page does not say "not signed in".
    let r = send(
        env.gate
            .http
            .get(format!("http://{}/.scimgate/me", env.addr()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, 502, "{}", r.text);
    assert!(
        r.text.contains("identity provider cannot be reached"),
        "{}",
        r.text
    );
    assert_no_detail(&r, &secrets);
    // A token that is not a JWT is refused as such, with the invalid_token challenge.
    let r = send(with_token(&env, "app.test", "/public/a", "not.a.jwt")).await;
    assert_answer(&r, 401, "unauthenticated");
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(env.up.paths().is_empty(), "{:?}", env.up.paths());
    // The audit log tells the outage from a refused token too.
    env.gate.running.audit.flush().await;
    let mut reasons: Vec<String> = crate::audit::chain(env.gate.dir.path())
        .iter()
        .filter(|r| r.entry.action == "access.deny")
        .filter_map(|r| {
            crate::audit::detail(r)["reason"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    reasons.sort();
    reasons.dedup();
    assert_eq!(reasons, ["credentials_refused", "idp_unavailable"]);
}

#[tokio::test]
async fn refused_and_missing_credentials_get_401_with_their_challenge() {
    let env = Env::start("").await;
    reader(&env, "bo").await;
    let mut claims = env.iss.claims("bo");
    claims["exp"] = json!(now() - 120);
    claims["iat"] = json!(now() - 600);
    let expired = env.iss.sign(&claims);
    let r = send(with_token(&env, "app.test", "/public/a", &expired)).await;
    assert_answer(&r, 401, "unauthenticated");
    assert_eq!(r.body["detail"], "the token has expired");
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            "Bearer realm=\"scimgate\", error=\"invalid_token\", \
             error_description=\"the token has expired\""
        )
    );
    let r = send(env.get("app.test", "/public/a", None)).await;
    assert_answer(&r, 401, "unauthenticated");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"scimgate\"")
    );
}

#[tokio::test]
async fn upstream_and_policy_failures_get_their_status_and_no_internal_detail() {
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let dead = dead_addr();
    let silent = silent_upstream().await;
    let (tls_port, _ca) = tls_upstream().await;
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("private-ca-dir").join("ca.pem");
    std::fs::create_dir_all(ca_file.parent().unwrap()).unwrap();
    std::fs::write(&ca_file, "not a certificate\n").unwrap();
    let route = |name: &str, host: &str, upstream: String, extra: &str| {
        format!(
            "  - name: {name}\n    match: {{ host: {host} }}\n    upstream: {upstream}\n{extra}    allow:\n      - {{ groups: [readers] }}\n"
        )
    };
    let policy = [
        standard_policy(&up.url()),
        route("dead", "dead.test", format!("http://{dead}"), ""),
        route(
            "silent",
            "silent.test",
            format!("http://{silent}"),
            "    timeouts: { response: 300ms }\n",
        ),
        route(
            "untrusted",
            "untrusted.test",
            format!("https://localhost:{tls_port}"),
            "",
        ),
        route(
            "badca",
            "badca.test",
            format!("https://localhost:{tls_port}"),
            &format!("    upstream_ca_file: {}\n", ca_file.display()),
        ),
    ]
    .concat();
    let env = Env::start_with(up, iss, "", Some(policy)).await;
    let (id, _) = reader(&env, "cy").await;
    let secrets = vec![
        dead.to_string(),
        silent.to_string(),
        format!("localhost:{tls_port}"),
        "127.0.0.1".to_owned(),
        "private-ca-dir".to_owned(),
        ca_dir.path().display().to_string(),
        env.gate.dir.path().display().to_string(),
    ];
    let get = |host: &str, path: &str| send(env.get(host, path, Some("cy")));

    for (host, status, code) in [
        ("dead.test", 502, "upstream"),
        ("silent.test", 504, "upstream_timeout"),
        ("untrusted.test", 502, "upstream"),
        ("badca.test", 500, "misconfigured"),
        ("nowhere.test", 404, "no_route"),
    ] {
        let r = get(host, "/x").await;
        assert_answer(&r, status, code);
        assert_no_detail(&r, &secrets);
    }
    let r = get("app.test", "/private").await;
    assert_answer(&r, 403, "forbidden");
    assert_eq!(r.body["route"], "app");
    assert_eq!(r.body["allowed_groups"], json!(["admins"]));
    assert_no_detail(&r, &secrets);
    let token = env.iss.token("cy");
    let r = send(with_token(&env, "app.test", "/public/%zz", &token)).await;
    assert_answer(&r, 400, "bad_path");

    // A browser gets the same statuses as pages, with nothing more in them.
    let session = env.gate.running.sessions.create(&id).await.unwrap();
    let cookie = format!("{}={session}", env.gate.running.sessions.cookie_name(false));
    for (host, status) in [
        ("dead.test", 502),
        ("silent.test", 504),
        ("untrusted.test", 502),
        ("badca.test", 500),
    ] {
        let r = send(
            env.gate
                .http
                .get(format!("http://{}/x", env.addr()))
                .header("host", host)
                .header("accept", "text/html")
                .header("cookie", &cookie),
        )
        .await;
        assert_eq!(r.status, status, "{host}: {}", r.text);
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("text/html"), "{host}: {ct}");
        assert_no_detail(&r, &secrets);
    }
}

#[tokio::test]
async fn the_scim_and_admin_apis_answer_in_scim_error_form() {
    let gate = support::start("scim:\n  max_body_bytes: 256\n").await;
    let big = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "x".repeat(1024),
    });
    let r = gate.post("/Users", &big).await;
    r.expect_error(413, None);
    let r = send(gate.req_as(Method::GET, &format!("{}/Users", gate.base), Some("nope"))).await;
    r.expect_error(401, None);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"scimgate\"")
    );
    let admin = support::create_token(gate.dir.path(), "ops", scimgate::tokens::TokenScope::Admin);
    for (body, scim_type) in [
        ("{not json", "invalidSyntax"),
        (r#"{"user": "bob", "url": "app.test/x"}"#, "invalidValue"),
    ] {
        let r = send(
            gate.req_as(
                Method::POST,
                &format!("{}/decide", gate.admin_base()),
                Some(&admin),
            )
            .header("content-type", "application/json")
            .body(body),
        )
        .await;
        r.expect_error(400, Some(scim_type));
    }
    // A path refused before the SCIM router sees it (ambiguous: an encoded slash, a
    // path parameter, an encoded NUL) is still answered in SCIM form under /scim.
    for tail in [
        "/Users/a%2Fb",
        "/Users;jsessionid=1",
        "/Users/%00",
        "/Groups/x%5Cy",
    ] {
        let r = send(gate.req_as(
            Method::GET,
            &format!("{}{tail}", gate.base),
            Some(&gate.token),
        ))
        .await;
        r.expect_error(400, None);
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("path"), "{tail}: {detail}");
    }
    // Elsewhere the same refusal is the gate's JSON error.
    let r = send(gate.req_as(
        Method::GET,
        &format!("{}/.scimgate/x%2Fy", gate.root()),
        None,
    ))
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"], "bad_path", "{}", r.text);
}
