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

#[tokio::test]
async fn under_concurrent_load_every_allow_is_on_the_chain_in_order_and_it_verifies() {
    // Small batches, so many batches are written while requests keep coming: the
    // worker is woken once per batch, never losing or reordering a record.
    const CLIENTS: usize = 6;
    const EACH: usize = 40;
    let env = Env::start("audit: { batch_max: 7, batch_interval_ms: 5 }\n").await;
    reader(&env, "kim").await;
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let request = (0..EACH)
            .map(|i| env.get("app.test", &format!("/public/c{c}/{i}"), Some("kim")))
            .collect::<Vec<_>>();
        clients.push(tokio::spawn(async move {
            for r in request {
                assert_eq!(r.send().await.unwrap().status(), 200);
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    env.gate.running.audit.flush().await;

    let rows = chain(env.gate.dir.path());
    let allows: Vec<String> = rows
        .iter()
        .filter(|r| r.entry.action == "access.allow" && r.entry.actor == "user:kim")
        .map(|r| detail(r)["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(allows.len(), CLIENTS * EACH);
    for c in 0..CLIENTS {
        // Each client's requests went one after another: their records are in order.
        let mine: Vec<&String> = allows
            .iter()
            .filter(|p| p.starts_with(&format!("/public/c{c}/")))
            .collect();
        let expected: Vec<String> = (0..EACH).map(|i| format!("/public/c{c}/{i}")).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>());
    }
    let stats = env.gate.running.audit.stats();
    assert_eq!((stats.overflowed, stats.queue_depth), (0, 0));
    let records = rows.len() as u64;
    let intact = scimgate::audit::verify::check(rows).expect("the chain verifies");
    assert_eq!(intact.records, records);
}
