//! The operations listener: `/metrics` scraped and parsed as Prometheus text after known
//! traffic, `/healthz` and `/readyz` on both listeners, and the configuration refusals.

use std::time::Duration;

use prometheus_parse::{Sample, Scrape, Value};

use crate::issuer::Issuer;
use crate::proxy_env::{standard_policy, Env};
use crate::support;
use crate::upstream;

/// Scrapes `/metrics` from the operations listener and parses it.
pub async fn scrape(ops: std::net::SocketAddr) -> Scrape {
    let resp = reqwest::get(format!("http://{ops}/metrics")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = resp.text().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the one sample named `name` whose labels include `labels`.
pub fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let hits: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert!(
        hits.len() <= 1,
        "{name} {labels:?} matches {} samples",
        hits.len()
    );
    hits.first().map(|s| match &s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
        Value::Summary(_) => f64::NAN,
    })
}

#[track_caller]
fn assert_value(scrape: &Scrape, name: &str, labels: &[(&str, &str)], want: f64) {
    assert_eq!(value(scrape, name, labels), Some(want), "{name} {labels:?}");
}

fn policy_with_dead_route(up: &str) -> String {
    format!(
        "{}  - name: dead\n    match: {{ host: dead.test }}\n    upstream: http://127.0.0.1:1\n    allow:\n      - {{ groups: [readers] }}\n",
        standard_policy(up)
    )
}

#[tokio::test]
async fn metrics_count_known_traffic_by_route_decision_token_and_directory() {
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let policy = policy_with_dead_route(&up.url());
    let env = Env::start_with(up, iss, "", Some(policy)).await;
    let ops = env.gate.running.ops_addr.expect("an operations listener");
    let rita = env.user("rita").await;
    let omar = env.user("omar").await;
    let readers = env.group("readers", &[&rita, &omar]).await;

    let status = |host: &'static str, path: &'static str, user: Option<&'static str>| {
        let r = env.get(host, path, user);
        async move { r.send().await.unwrap().status().as_u16() }
    };
    for _ in 0..3 {
        assert_eq!(status("app.test", "/public/a", Some("rita")).await, 200);
    }
    assert_eq!(status("app.test", "/private", Some("rita")).await, 403);
    assert_eq!(status("app.test", "/private/x", Some("omar")).await, 403);
    assert_eq!(status("app.test", "/public/a", None).await, 401);
    assert_eq!(status("nowhere.test", "/", Some("rita")).await, 404);
    assert_eq!(status("dead.test", "/x", Some("rita")).await, 502);

    // A session and an open download, both ended by deactivating their user.
    env.gate.running.sessions.create(&omar).await.unwrap();
    let mut download = env
        .get("app.test", "/public/slow", Some("omar"))
        .send()
        .await
        .unwrap();
    assert!(download.chunk().await.unwrap().is_some());
    env.deactivate(&omar).await;
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = download.chunk().await {}
    })
    .await
    .expect("the download was cut");
    env.remove_member(&readers, &omar).await;

    let m = scrape(ops).await;
    let req = "scimgate_requests_total";
    assert_value(&m, req, &[("route", "app"), ("decision", "allow")], 4.0);
    assert_value(&m, req, &[("route", "app"), ("reason", "forbidden")], 2.0);
    assert_value(
        &m,
        req,
        &[("route", "app"), ("reason", "unauthenticated")],
        1.0,
    );
    assert_value(&m, req, &[("route", "app"), ("reason", "bad_path")], 0.0);
    assert_value(&m, req, &[("route", "-"), ("reason", "no_route")], 1.0);
    assert_value(&m, req, &[("route", "dead"), ("decision", "allow")], 1.0);
    // Routes of the policy have their series before their first request.
    assert_value(&m, req, &[("route", "loose"), ("decision", "allow")], 0.0);
    assert_value(
        &m,
        "scimgate_upstream_errors_total",
        &[("route", "dead"), ("kind", "connect")],
        1.0,
    );
    assert_value(
        &m,
        "scimgate_upstream_errors_total",
        &[("route", "app"), ("kind", "connect")],
        0.0,
    );
    // Every decision on `app` (4 allowed, 3 denied) is in its histograms.
    assert_value(
        &m,
        "scimgate_gate_decision_seconds_count",
        &[("route", "app")],
        7.0,
    );
    assert_value(
        &m,
        "scimgate_request_duration_seconds_count",
        &[("route", "app")],
        7.0,
    );
    assert_value(
        &m,
        "scimgate_gate_decision_seconds",
        &[("route", "app")],
        7.0,
    );

    let scim = "scimgate_scim_operations_total";
    let by = |op: &'static str, status: &'static str| {
        [
            ("api", "scim"),
            ("token", "test-idp"),
            ("operation", op),
            ("status", status),
        ]
    };
    assert_value(&m, scim, &by("create_user", "201"), 2.0);
    assert_value(&m, scim, &by("create_group", "201"), 1.0);
    assert_value(&m, scim, &by("patch_user", "200"), 1.0);
    assert!(
        value(&m, scim, &by("patch_group", "204")).or(value(&m, scim, &by("patch_group", "200")))
            == Some(1.0)
    );
    let age = value(
        &m,
        "scimgate_scim_last_event_age_seconds",
        &[("token", "test-idp")],
    )
    .expect("the SCIM token's last call age");
    assert!((0.0..30.0).contains(&age), "age {age}");

    assert_value(&m, "scimgate_revoked_sessions_total", &[], 1.0);
    assert_value(&m, "scimgate_streams_cut_total", &[], 1.0);
    assert_value(&m, "scimgate_directory_users", &[], 2.0);
    assert_value(&m, "scimgate_directory_groups", &[], 1.0);
    assert_value(&m, "scimgate_directory_memberships", &[], 1.0);

    // Labels are bounded: no user name, id or request path is a label value.
    let labels: Vec<String> = m
        .samples
        .iter()
        .flat_map(|s| s.labels.values().cloned().collect::<Vec<_>>())
        .collect();
    for secret in ["rita", "omar", rita.as_str(), "/public/a", "/private"] {
        assert!(
            !labels.iter().any(|l| l.contains(secret)),
            "{secret} is a label value"
        );
    }
}

#[tokio::test]
async fn health_and_readiness_on_both_listeners() {
    // No policy files: alive, but not ready (every request would be denied).
    let empty = support::start("").await;
    let ops = empty.running.ops_addr.unwrap();
    for base in [empty.root(), format!("http://{ops}")] {
        let h = reqwest::get(format!("{base}/healthz")).await.unwrap();
        assert_eq!(h.status(), 200);
        assert_eq!(h.text().await.unwrap(), "ok\n");
        let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
        assert_eq!(r.status(), 503);
        let body = r.text().await.unwrap();
        assert!(body.starts_with("not ready\npolicies: no routes"), "{body}");
        assert!(!body.contains("store"), "{body}");
    }
    // The main listener has no /metrics: it is for the operations listener only.
    let r = reqwest::get(format!("{}/metrics", empty.root()))
        .await
        .unwrap();
    assert_ne!(r.status(), 200);

    // A policy with a route: ready on both.
    let up = upstream::start().await;
    let gate = support::start_with_policies("", &[("app.yaml", &standard_policy(&up.url()))]).await;
    let ops = gate.running.ops_addr.unwrap();
    for base in [gate.root(), format!("http://{ops}")] {
        let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "ready\n");
    }
    // Another part adds a condition; it shows at once.
    gate.running
        .readiness
        .add("database", || Err("cut off for 31 s (bound 30 s)".into()));
    let r = reqwest::get(format!("http://{ops}/readyz")).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.text().await.unwrap(),
        "not ready\ndatabase: cut off for 31 s (bound 30 s)\n"
    );
}

#[tokio::test]
async fn an_operations_listener_can_be_turned_off_and_a_wrong_one_is_refused() {
    let off = support::start("ops:\n  listen: 'off'\n").await;
    assert_eq!(off.running.ops_addr, None);

    let overrides = scimgate::config::Overrides::default();
    for (yaml, needle, key) in [
        (
            "ops:\n  listen: 10.1.2.3:9090\n",
            "not a loopback address",
            "ops.listen",
        ),
        (
            "ops:\n  listen: localhost\n",
            "not an address:port",
            "ops.listen",
        ),
        (
            "listen: 127.0.0.1:9100\nops:\n  listen: 127.0.0.1:9100\n",
            "main listener",
            "ops.listen",
        ),
        ("ops:\n  port: 9090\n", "unknown field", "port"),
    ] {
        let e = scimgate::config::Config::from_yaml("gate.yaml", yaml, &overrides)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("gate.yaml"), "{e}");
        assert!(e.contains(needle) && e.contains(key), "{yaml}: {e}");
    }
}
