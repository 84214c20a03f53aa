//! Shadow policies: a candidate set judged beside the live one on real traffic. Each
//! kind of difference (the shadow set would allow what the live one denies, would
//! deny what it allows) changes no decision, is counted in `/metrics`, is found by
//! `scimgate audit search` as one aggregate per (user, rules) and window, and shows on
//! the admin policy page; `policy explain` shows both decisions; a bad shadow file is
//! refused and the last good shadow set stays.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::issuer::Issuer;
use crate::ops::{scrape, value};
use crate::served::Served;
use crate::support;
use crate::upstream;

/// Live: readers may read `/public/**`; nobody may read `/private/**`.
fn live(upstream: &str) -> String {
    format!(
        "routes:\n  - name: app\n    match: {{ host: app.test }}\n    upstream: {upstream}\n    allow:\n      - {{ name: readers-public, groups: [readers], paths: [/public/**] }}\n"
    )
}

/// Candidate: readers may read everything but `/public/old/**`.
fn candidate(upstream: &str) -> String {
    format!(
        "routes:\n  - name: app\n    match: {{ host: app.test }}\n    upstream: {upstream}\n    deny:\n      - {{ name: retire-old, paths: [/public/old/**] }}\n    allow:\n      - {{ name: readers-all, groups: [readers] }}\n"
    )
}

/// Runs `scimgate` on the data directory with these policies: success, stdout, stderr.
fn scimgate(data: &Path, args: &[&str], policies: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("SCIMGATE_CONFIG")
        .env("SCIMGATE_POLICIES", policies)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn differences(m: &prometheus_parse::Scrape, kind: &str) -> Option<f64> {
    value(
        m,
        "scimgate_shadow_differences_total",
        &[("route", "app"), ("kind", kind)],
    )
}

/// The live policy in `app.yaml`, the candidate in a shadow directory of its own;
/// `olga` and `pia` in `readers`.
async fn served(up: &upstream::Upstream, extra: &str) -> (Served, tempfile::TempDir) {
    let shadow = tempfile::tempdir().unwrap();
    std::fs::write(shadow.path().join("app.yaml"), candidate(&up.url())).unwrap();
    let config = format!("shadow_policies: {}\n{extra}", shadow.path().display());
    let served = Served::start(Issuer::start().await, &live(&up.url()), &config).await;
    served.reader("olga").await;
    served.user(&support::user_body("pia")).await;
    (served, shadow)
}

#[tokio::test]
async fn each_kind_of_difference_is_counted_recorded_and_decides_nothing() {
    let up = upstream::start().await;
    let (mut served, _shadow) = served(&up, "").await;
    let ops = served.serve.ops_addr().await;

    // Would allow: the live set denies, and the answer is still 403.
    for _ in 0..5 {
        assert_eq!(served.status("app.test", "/private/a", "olga").await, 403);
    }
    // Would deny: the live set allows, and the request still goes through.
    for _ in 0..3 {
        assert_eq!(
            served.status("app.test", "/public/old/b", "olga").await,
            200
        );
    }
    // The same decision: no difference.
    assert_eq!(served.status("app.test", "/public/new", "olga").await, 200);
    // Not a reader: denied by both (default-deny live, default-deny shadow).
    assert_eq!(served.status("app.test", "/private/a", "pia").await, 403);

    let m = scrape(ops).await;
    assert_eq!(differences(&m, "would_allow"), Some(5.0));
    assert_eq!(differences(&m, "would_deny"), Some(3.0));
    assert_eq!(
        up.paths().len(),
        4,
        "only the live set's allows reached the upstream"
    );

    served.serve.terminate();
    assert!(served.serve.exit().await.success());
    let data = served.data();
    let (ok, out, err) = scimgate(
        &data,
        &[
            "audit",
            "search",
            "--json",
            "--user",
            "olga",
            "--action",
            "policy.shadow_difference",
        ],
        &served.policies,
    );
    assert!(ok, "{err}");
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "one aggregate per kind: {out}");
    let details: Vec<Value> = records
        .iter()
        .map(|r| match &r["detail"] {
            Value::String(s) => serde_json::from_str(s).unwrap(),
            other => other.clone(),
        })
        .collect();
    let of = |kind: &str| details.iter().find(|d| d["kind"] == kind).unwrap();
    let allow = of("would_allow");
    assert_eq!(allow["count"], 5);
    assert_eq!(allow["live_rule"], "default-deny");
    assert_eq!(allow["shadow_rule"], "readers-all");
    let deny = of("would_deny");
    assert_eq!(deny["count"], 3);
    assert_eq!(deny["live_rule"], "readers-public");
    assert_eq!(deny["shadow_rule"], "retire-old");
    assert!(deny["shadow_location"]
        .as_str()
        .unwrap()
        .contains("app.yaml:6"));
}

#[tokio::test]
async fn policy_explain_shows_both_decisions() {
    let up = upstream::start().await;
    let (mut served, _shadow) = served(&up, "").await;
    served.serve.terminate();
    assert!(served.serve.exit().await.success());
    let data = served.data();
    // Without `shadow_policies:`, the candidate is `<policies>/shadow/`.
    let default_shadow = served.policies.join("shadow");
    std::fs::create_dir_all(&default_shadow).unwrap();
    std::fs::write(default_shadow.join("app.yaml"), candidate(&up.url())).unwrap();
    let explain = |url: &str| {
        let args = [
            "policy", "explain", "--user", "olga", "--method", "GET", url,
        ];
        let (ok, out, err) = scimgate(&data, &args, &served.policies);
        assert!(ok, "{out}{err}");
        out
    };
    // `policy check` checks the candidate beside the live set.
    let (ok, out, err) = scimgate(
        &data,
        &["policy", "check", served.policies.to_str().unwrap()],
        &served.policies,
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("shadow policies (") && out.contains("shadow/app.yaml: ok (1 route)"),
        "{out}"
    );
    let out = explain("http://app.test/private/a");
    assert!(out.contains("decision: deny by default-deny"), "{out}");
    assert!(
        out.contains("shadow:   allow by readers-all") && out.contains("would allow"),
        "{out}"
    );
    let out = explain("http://app.test/public/old/x");
    assert!(out.contains("decision: allow by readers-public"), "{out}");
    assert!(
        out.contains("shadow:   deny by retire-old") && out.contains("would deny"),
        "{out}"
    );
    let out = explain("http://app.test/public/new");
    assert!(
        out.contains("shadow:   allow by readers-all") && out.contains("(same)"),
        "{out}"
    );
}

#[tokio::test]
async fn a_bad_shadow_file_keeps_the_last_good_shadow_set() {
    let up = upstream::start().await;
    let (mut served, shadow) = served(&up, "reload:\n  watch: false\n").await;
    let ops = served.serve.ops_addr().await;
    assert_eq!(served.status("app.test", "/private/a", "olga").await, 403);
    assert_eq!(differences(&scrape(ops).await, "would_allow"), Some(1.0));

    // A broken candidate: refused at its line, the last good one still judged.
    std::fs::write(
        shadow.path().join("app.yaml"),
        "routes:\n  - name: app\n    upstream: [not, a, url]\n",
    )
    .unwrap();
    served.serve.hangup();
    let refused = served
        .serve
        .wait_for("policy reload refused; the last good policies stay in force")
        .await;
    assert!(
        refused["error"].as_str().unwrap().contains("app.yaml:3"),
        "{refused}"
    );
    let named = shadow.path().display().to_string();
    assert_eq!(
        refused["dir"].as_str(),
        Some(named.as_str()),
        "the log names the shadow set"
    );
    assert_eq!(served.status("app.test", "/private/a", "olga").await, 403);
    assert_eq!(differences(&scrape(ops).await, "would_allow"), Some(2.0));

    // A candidate the same as the live set: no more differences.
    std::fs::write(shadow.path().join("app.yaml"), live(&up.url())).unwrap();
    served.serve.hangup();
    served.serve.wait_for("policies reloaded").await;
    assert_eq!(served.status("app.test", "/private/a", "olga").await, 403);
    assert_eq!(
        served.status("app.test", "/public/old/b", "olga").await,
        200
    );
    let m = scrape(ops).await;
    assert_eq!(differences(&m, "would_allow"), Some(2.0));
    assert_eq!(differences(&m, "would_deny"), None);
}

#[tokio::test]
async fn the_admin_policy_page_shows_the_differences() {
    let up = upstream::start().await;
    let g = support::start_with_policies(
        "admin: { groups: [scimgate-admins], allow_shared_origin: true }\n",
        &[
            ("app.yaml", &live(&up.url())),
            ("shadow/app.yaml", &candidate(&up.url())),
        ],
    )
    .await;
    let carol = support::str_of(&g.create_user("carol").await["id"]).to_owned();
    g.create_group("scimgate-admins", &[&carol]).await;
    g.create_group("readers", &[&carol]).await;
    let session = g.running.sessions.create(&carol).await.unwrap();
    let http = reqwest::Client::new();
    let get = |path: &str, html: bool| {
        let r = http
            .get(format!("{}{path}", g.root()))
            .header("cookie", format!("scimgate_session={session}"));
        if html {
            r.header("accept", "text/html")
        } else {
            r.header("host", "app.test")
        }
    };
    let page = || async {
        let r = get("/.scimgate/admin/policy", true).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    };
    let before = page().await;
    assert!(before.contains("<h2>Shadow policies</h2>"), "{before}");
    assert!(before.contains("No differences yet"), "{before}");

    let r = get("/private/a", false).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = get("/public/old/x", false).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let shown = page().await;
    for want in [
        "<tr class=\"would_allow\"><td>would allow</td>",
        "<tr class=\"would_deny\"><td>would deny</td>",
        "default-deny",
        "readers-all",
        "retire-old",
        "readers-public",
        "carol",
    ] {
        assert!(shown.contains(want), "{want} in {shown}");
    }
}
