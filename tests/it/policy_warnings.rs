//! A policy naming a group nobody is in still loads, but says so: a live reload logs a
//! WARN naming the group and its file:line, and the admin Policy page lists the
//! warnings of the set in force, as the directory is now.

use std::time::Duration;

use crate::binary;
use crate::support;

fn policy(group: &str) -> String {
    format!(
        "routes:\n  - name: app\n    match: {{ path: /** }}\n    upstream: http://127.0.0.1:9\n    allow:\n      - {{ groups: [{group}] }}\n"
    )
}

/// The WARN events about `group`.
fn about(serve: &binary::Serve, group: &str) -> Vec<serde_json::Value> {
    serve
        .events()
        .into_iter()
        .filter(|e| e["level"] == "WARN" && e["fields"]["group"] == group)
        .collect()
}

#[tokio::test]
async fn a_reload_naming_an_unknown_group_logs_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = binary::config(&data, "");
    let file = data.join("policies").join("app.yaml");
    std::fs::write(&file, policy("analysts")).unwrap();
    let mut serve = binary::spawn(dir.path(), "gate", &config);
    serve.base().await;
    // At start-up the group is not provisioned yet: said once, at WARN.
    assert_eq!(about(&serve, "analysts").len(), 1, "{}", serve.log_text());
    assert!(about(&serve, "analysts-typo").is_empty());

    std::fs::write(&file, policy("analysts-typo")).unwrap();
    serve.wait_for("policies reloaded").await;
    let mut warned = Vec::new();
    for _ in 0..100 {
        warned = about(&serve, "analysts-typo");
        if !warned.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(warned.len(), 1, "{}", serve.log_text());
    let fields = &warned[0]["fields"];
    let location = fields["location"].as_str().unwrap();
    assert!(location.contains("app.yaml:6"), "{location}");
    let message = fields["message"].as_str().unwrap();
    assert!(
        message.contains("`analysts-typo`") && message.contains("does not exist"),
        "{message}"
    );
}

/// A server with these policy files and an admin, carol, signed in: the server, her
/// id and her session.
pub async fn with_admin(policies: &[(&str, &str)]) -> (support::Gate, String, String) {
    let g = support::start_with_policies(
        "admin: { groups: [scimgate-admins], allow_shared_origin: true }\n",
        policies,
    )
    .await;
    let carol = support::str_of(&g.create_user("carol").await["id"]).to_owned();
    g.create_group("scimgate-admins", &[&carol]).await;
    let session = g.running.sessions.create(&carol).await.unwrap();
    (g, carol, session)
}

/// The admin Policy page as `session` sees it (200).
pub async fn policy_page(g: &support::Gate, session: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{}/.scimgate/admin/policy", g.root()))
        .header("cookie", format!("scimgate_session={session}"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn the_admin_policy_page_lists_the_warnings_in_force() {
    let (g, carol, session) = with_admin(&[("app.yaml", &policy("analysts-typo"))]).await;
    let page = || policy_page(&g, &session);
    let warnings = g.running.policy.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(&*warnings[0].group, "analysts-typo");
    assert!(warnings[0].missing);
    let shown = page().await;
    assert!(shown.contains("<h2>Warnings</h2>"), "{shown}");
    assert!(
        shown.contains("<code>analysts-typo</code> (app.yaml:"),
        "{shown}"
    );

    // Provisioned, but empty: still a warning, of the other kind.
    let group = g.create_group("analysts-typo", &[]).await;
    let shown = page().await;
    assert!(shown.contains("has no members"), "{shown}");

    // With a member, the warning is gone.
    g.put(
        &format!("/Groups/{}", support::str_of(&group["id"])),
        &support::group_body("analysts-typo", &[&carol]),
    )
    .await
    .expect(200);
    assert!(g.running.policy.warnings().is_empty());
    let shown = page().await;
    assert!(!shown.contains("<h2>Warnings</h2>"), "{shown}");
}
