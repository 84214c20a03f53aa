//! `audit.decisions`: what allowed requests leave on the chain through the real server.
//! With `sampled`, the first allow of each (user, route) in a window and every Nth
//! after it are records of their own and all of them are counted into one
//! `access.allow_aggregate`; with `deny`, allows are only counted. Denials are records
//! one by one in every mode.

use crate::audit::{chain, detail};
use crate::proxy_env::{reader, Env};

/// `n` allowed requests of `user` (`/public/a`) and one denied (`/private/x`).
async fn traffic(env: &Env, user: &str, n: usize) {
    for _ in 0..n {
        let r = env
            .get("app.test", "/public/a", Some(user))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = env
        .get("app.test", "/private/x", Some(user))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

fn count(rows: &[scimgate::record::AuditRow], action: &str, actor: &str) -> usize {
    rows.iter()
        .filter(|r| r.entry.action == action && r.entry.actor == actor)
        .count()
}

#[tokio::test]
async fn sampled_records_the_first_and_every_nth_allow_and_counts_them_all() {
    let env = Env::start("audit:\n  decisions: sampled\n  allows: { sample_every: 3 }\n").await;
    let (kim, _) = reader(&env, "kim").await;
    traffic(&env, "kim", 7).await;
    env.gate.running.audit.flush().await;

    let rows = chain(env.gate.dir.path());
    assert_eq!(
        count(&rows, "access.allow", "user:kim"),
        3,
        "the 1st, 4th and 7th"
    );
    assert_eq!(count(&rows, "access.deny", "user:kim"), 1);
    let aggregates: Vec<_> = rows
        .iter()
        .filter(|r| r.entry.action == "access.allow_aggregate")
        .collect();
    assert_eq!(aggregates.len(), 1, "{aggregates:#?}");
    let a = aggregates[0];
    assert_eq!(
        (a.entry.actor.as_str(), a.entry.target.as_str()),
        ("user:kim", "route:app")
    );
    let d = detail(a);
    assert_eq!(d["count"], 7);
    assert_eq!(d["recorded_individually"], 3);
    assert_eq!(d["user_id"], kim.as_str());
    assert!(d["first_at"].as_i64() <= d["last_at"].as_i64());
    assert_eq!(env.gate.running.audit.stats().allows_counted, 7);
}

#[tokio::test]
async fn deny_counts_allows_per_user_and_records_every_denial() {
    let env = Env::start("audit:\n  decisions: deny\n").await;
    reader(&env, "kim").await;
    reader(&env, "lee").await;
    traffic(&env, "kim", 5).await;
    traffic(&env, "lee", 2).await;
    env.gate.running.audit.flush().await;

    let rows = chain(env.gate.dir.path());
    assert_eq!(
        rows.iter()
            .filter(|r| r.entry.action == "access.allow")
            .count(),
        0
    );
    assert_eq!(count(&rows, "access.deny", "user:kim"), 1);
    assert_eq!(count(&rows, "access.deny", "user:lee"), 1);
    let mut counted: Vec<(String, u64)> = rows
        .iter()
        .filter(|r| r.entry.action == "access.allow_aggregate")
        .map(|r| (r.entry.actor.clone(), detail(r)["count"].as_u64().unwrap()))
        .collect();
    counted.sort();
    assert_eq!(
        counted,
        [("user:kim".to_owned(), 5), ("user:lee".to_owned(), 2)]
    );
    // Directory changes stay on the chain whatever the mode.
    assert!(rows.iter().any(|r| r.entry.action == "user.create"));
}

#[tokio::test]
async fn all_is_the_default_and_counts_nothing() {
    let env = Env::start("").await;
    reader(&env, "kim").await;
    traffic(&env, "kim", 3).await;
    env.gate.running.audit.flush().await;
    let rows = chain(env.gate.dir.path());
    assert_eq!(count(&rows, "access.allow", "user:kim"), 3);
    assert!(!rows
        .iter()
        .any(|r| r.entry.action == "access.allow_aggregate"));
    assert_eq!(env.gate.running.audit.stats().allows_counted, 0);
}
