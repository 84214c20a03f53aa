//! Rate limits per caller, through the real binary: a route's `rate_limit:` buckets per
//! user, per user type and for the whole route, and the injected service token's
//! budget shared by the routes that inject it. Over a limit the caller gets 429 with
//! `Retry-After` and the IETF draft's `RateLimit` / `RateLimit-Policy` fields, the
//! request never reaches the upstream, `/metrics` counts it, and the audit log holds
//! one aggregate record per caller and window instead of one per refused request.
//! The limits here are per hour, so no token comes back while a test runs.

use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value};

use crate::issuer::Issuer;
use crate::ops::{scrape, value};
use crate::served::Served;
use crate::support::USER_SCHEMA;
use crate::upstream;

fn route(name: &str, host: &str, upstream: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    match: {{ host: {host} }}\n    upstream: {upstream}\n    allow:\n      - {{ groups: [readers] }}\n{extra}"
    )
}

fn user(name: &str, user_type: Option<&str>) -> Value {
    let mut body = json!({ "schemas": [USER_SCHEMA], "userName": name, "active": true });
    if let Some(t) = user_type {
        body["userType"] = json!(t);
    }
    body
}

/// Starts the binary with `routes` and the users `(name, userType)`, all in `readers`.
async fn served(routes: &str, users: &[(&str, Option<&str>)]) -> Served {
    let served = Served::start(Issuer::start().await, &format!("routes:\n{routes}"), "").await;
    let mut ids = Vec::new();
    for (name, t) in users {
        ids.push(served.user(&user(name, *t)).await);
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    served.group("readers", &ids).await;
    served
}

async fn get(served: &Served, host: &str, user: &str) -> reqwest::Response {
    served
        .request(Method::GET, host, "/x", user)
        .send()
        .await
        .unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} in {:?}", r.headers()))
}

fn scimgate(data: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("SCIMGATE_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The records `audit search` finds for these arguments (JSON lines).
fn search(data: &std::path::Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "search", "--json"];
    all.extend_from_slice(args);
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(&all)
        .arg("--data")
        .arg(data)
        .env_remove("SCIMGATE_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn detail(record: &Value) -> Value {
    match &record["detail"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        other => other.clone(),
    }
}

#[tokio::test]
async fn over_its_limit_a_user_gets_429_with_the_draft_fields_and_others_go_on() {
    let up = upstream::start().await;
    let limit = "    rate_limit:\n      per_user: { rate: 3/h, burst: 3 }\n";
    let mut served = served(
        &route("app", "app.test", &up.url(), limit),
        &[("olga", None), ("pia", None)],
    )
    .await;
    let ops = served.serve.ops_addr().await;
    for left in (0..3).rev() {
        let r = get(&served, "app.test", "olga").await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "ratelimit-policy"), "\"user\";q=3;w=3600");
        let state = header(&r, "ratelimit");
        assert!(
            state.starts_with(&format!("\"user\";r={left};t=")),
            "{state}"
        );
    }
    let refused = 12;
    for _ in 0..refused {
        let r = get(&served, "app.test", "olga").await;
        assert_eq!(r.status(), 429);
        let retry: u64 = header(&r, "retry-after").parse().unwrap();
        // One token per 1200 s: the next one is at most that far.
        assert!((1..=1200).contains(&retry), "{retry}");
        assert_eq!(
            header(&r, "ratelimit"),
            format!("\"user\";r=0;t={retry}"),
            "the reset is the Retry-After"
        );
        assert_eq!(header(&r, "ratelimit-policy"), "\"user\";q=3;w=3600");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "rate_limited");
    }
    // Another user's bucket is their own.
    assert_eq!(get(&served, "app.test", "pia").await.status(), 200);
    assert_eq!(
        up.paths().len(),
        4,
        "refused requests never reach the upstream"
    );

    let m = scrape(ops).await;
    let limited = value(
        &m,
        "scimgate_rate_limited_total",
        &[("route", "app"), ("scope", "user")],
    );
    assert_eq!(limited, Some(refused as f64));
    let denied = value(
        &m,
        "scimgate_requests_total",
        &[
            ("route", "app"),
            ("decision", "deny"),
            ("reason", "rate_limited"),
        ],
    );
    assert_eq!(denied, Some(refused as f64));

    served.serve.terminate();
    assert!(served.serve.exit().await.success());
    let data = served.data();
    let records = search(
        &data,
        &["--user", "olga", "--action", "access.rate_limited"],
    );
    assert_eq!(
        records.len(),
        1,
        "one aggregate, not one per refusal: {records:?}"
    );
    let d = detail(&records[0]);
    assert_eq!(
        (d["count"].as_u64(), d["scope"].as_str()),
        (Some(refused), Some("user"))
    );
    assert_eq!(records[0]["target"], "route:app");
    let allowed = search(&data, &["--user", "olga", "--action", "access.allow"]);
    assert_eq!(
        allowed.len(),
        3,
        "only admitted requests are decisions: {allowed:?}"
    );
}

#[tokio::test]
async fn agents_share_their_type_bucket_and_the_route_bucket_caps_everyone() {
    let up = upstream::start().await;
    let limit = "    rate_limit:\n      user_types:\n        - { user_type: agent, rate: 2/h, burst: 2 }\n      route: { rate: 5/h, burst: 5 }\n";
    let served = served(
        &route("app", "app.test", &up.url(), limit),
        &[
            ("bot-1", Some("agent")),
            ("bot-2", Some("Agent")),
            ("hana", None),
        ],
    )
    .await;
    assert_eq!(get(&served, "app.test", "bot-1").await.status(), 200);
    assert_eq!(get(&served, "app.test", "bot-2").await.status(), 200);
    for bot in ["bot-1", "bot-2"] {
        let r = get(&served, "app.test", bot).await;
        assert_eq!(r.status(), 429, "agents together spent their type's two");
        assert!(header(&r, "ratelimit").starts_with("\"user_type\";r=0"));
        let policy = header(&r, "ratelimit-policy");
        assert_eq!(policy, "\"user_type\";q=2;w=3600, \"route\";q=5;w=3600");
    }
    // The human is not an agent: only the route's bucket, with 3 of 5 left.
    for _ in 0..3 {
        assert_eq!(get(&served, "app.test", "hana").await.status(), 200);
    }
    let r = get(&served, "app.test", "hana").await;
    assert_eq!(r.status(), 429);
    assert!(header(&r, "ratelimit").starts_with("\"route\";r=0"));
    assert_eq!(up.paths().len(), 5);
}

#[tokio::test]
async fn routes_injecting_one_service_token_share_its_budget() {
    let up = upstream::start().await;
    let token = "    inject:\n      authorization: \"Token dbt-service-token\"\n    rate_limit:\n      service_token: { rate: 4/h, burst: 4 }\n";
    let other = "    inject:\n      authorization: \"Token another-token\"\n    rate_limit:\n      service_token: { rate: 4/h, burst: 4 }\n";
    let routes = route("admin-api", "admin.test", &up.url(), token)
        + &route("discovery", "discovery.test", &up.url(), token)
        + &route("other", "other.test", &up.url(), other);
    let served = served(&routes, &[("ivan", None), ("jo", None)]).await;
    for (host, user) in [
        ("admin.test", "ivan"),
        ("discovery.test", "jo"),
        ("admin.test", "jo"),
        ("discovery.test", "ivan"),
    ] {
        assert_eq!(get(&served, host, user).await.status(), 200);
    }
    for host in ["admin.test", "discovery.test"] {
        let r = get(&served, host, "ivan").await;
        assert_eq!(
            r.status(),
            429,
            "the token's four are spent, whoever spent them"
        );
        assert!(header(&r, "ratelimit").starts_with("\"service_token\";r=0"));
    }
    // Another token has a budget of its own.
    assert_eq!(get(&served, "other.test", "ivan").await.status(), 200);
    let sent = up.seen.requests.lock().clone();
    let with_token = sent
        .iter()
        .filter(|r| r.to_string().contains("dbt-service-token"))
        .count();
    assert_eq!(with_token, 4, "the platform never saw more than the budget");
}

#[test]
fn a_bad_rate_limit_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "    rate_limit:\n      per_user: { rate: 10/day }\n",
            8,
            "rate `10/day`",
        ),
        (
            "    rate_limit:\n      per_user: { rate: 10/s, burst: 0 }\n",
            8,
            "burst 0",
        ),
        (
            "    rate_limit:\n      service_token: { rate: 5000/min }\n",
            8,
            "needs an `inject:` header",
        ),
        ("    rate_limit: {}\n", 7, "give at least one"),
    ];
    for (limit, line, reason) in cases {
        let policies = dir.path().join("policies");
        std::fs::create_dir_all(&policies).unwrap();
        std::fs::write(
            policies.join("app.yaml"),
            format!(
                "routes:\n{}",
                route("app", "app.test", "http://127.0.0.1:9", limit)
            ),
        )
        .unwrap();
        let (ok, out) = scimgate(
            &dir.path().join("data"),
            &["policy", "check", policies.to_str().unwrap()],
        );
        assert!(!ok, "{limit}: {out}");
        assert!(out.contains(&format!("app.yaml:{line}")), "{limit}: {out}");
        assert!(out.contains(reason), "{limit}: {out}");
    }
}

#[test]
fn a_bad_rate_limits_section_is_refused_at_its_key() {
    let dir = tempfile::tempdir().unwrap();
    for (yaml, key) in [
        ("rate_limits:\n  replicas: 0\n", "rate_limits.replicas"),
        (
            "rate_limits:\n  max_callers: -1\n",
            "rate_limits.max_callers",
        ),
        ("rate_limits:\n  replica: 2\n", "replica"),
    ] {
        let file = dir.path().join("scimgate.yaml");
        std::fs::write(&file, yaml).unwrap();
        let (ok, out) = scimgate(
            &dir.path().join("data"),
            &["config", "check", "--config", file.to_str().unwrap()],
        );
        assert!(!ok, "{yaml}: {out}");
        assert!(
            out.contains("scimgate.yaml:2") && out.contains(key),
            "{yaml}: {out}"
        );
    }
}
