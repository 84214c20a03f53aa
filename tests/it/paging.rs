//! Paging with startIndex/count stays stable while other clients insert.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::support::{self, ids, user_body};

const BEFORE: usize = 60;
const PAGE: usize = 7;

/// Creates users until told to stop; returns how many it created.
async fn insert_until(
    gate_base: String,
    token: String,
    prefix: String,
    stop: Arc<AtomicBool>,
) -> usize {
    let http = reqwest::Client::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let body = user_body(&format!("{prefix}-{n}@example.com"));
        let resp = http
            .post(format!("{gate_base}/Users"))
            .bearer_auth(&token)
            .header("content-type", support::SCIM_JSON)
            .body(body.to_string())
            .send()
            .await
            .expect("insert answered");
        assert_eq!(resp.status().as_u16(), 201);
        n += 1;
    }
    n
}

/// Pages through `path` (with `extra` query parameters) until `want` resources have
/// been seen; returns every id in page order.
async fn page_through(gate: &support::Gate, extra: &[(&str, &str)], want: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut start = 1;
    while seen.len() < want {
        let start_s = start.to_string();
        let count_s = PAGE.to_string();
        let mut q: Vec<(&str, &str)> = vec![("startIndex", &start_s), ("count", &count_s)];
        q.extend_from_slice(extra);
        let resp = gate.get_q("/Users", &q).await.expect(200);
        assert_eq!(resp.body["startIndex"].as_u64(), Some(start as u64));
        let page = resp.resources();
        assert!(
            !page.is_empty(),
            "page at {start} is empty after {} of {want}",
            seen.len()
        );
        assert!(page.len() <= PAGE);
        assert!(
            resp.body["totalResults"].as_u64().unwrap_or(0) >= want as u64,
            "totalResults shrank: {}",
            resp.body["totalResults"]
        );
        seen.extend(ids(&page));
        start += page.len();
        tokio::task::yield_now().await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_stable_while_others_insert() {
    let gate = support::start("").await;
    for n in 0..BEFORE {
        gate.create_user(&format!("pre-{n:03}@example.com")).await;
    }
    let before = gate.get_q("/Users", &[("count", "1000")]).await.expect(200);
    let before_ids = ids(&before.resources());
    assert_eq!(before_ids.len(), BEFORE);

    let stop = Arc::new(AtomicBool::new(false));
    let inserters: Vec<_> = (0..3)
        .map(|i| {
            tokio::spawn(insert_until(
                gate.base.clone(),
                gate.token.clone(),
                format!("during{i}"),
                stop.clone(),
            ))
        })
        .collect();
    // Let the inserters get going before the listing starts.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let seen = page_through(&gate, &[], BEFORE).await;
    // Also page a filtered list: the filter matches old and new users alike.
    let filtered = page_through(&gate, &[("filter", "userName co \"@example.com\"")], BEFORE).await;

    stop.store(true, Ordering::Relaxed);
    let mut inserted = 0;
    for t in inserters {
        inserted += t.await.expect("inserter");
    }
    assert!(inserted > 0, "no insert ran concurrently");

    for (what, list) in [("unfiltered", &seen), ("filtered", &filtered)] {
        // Every user that existed before appears exactly once, in the same order, and
        // before any user inserted during the listing.
        assert_eq!(
            &list[..BEFORE],
            &before_ids[..],
            "{what}: the first {BEFORE} listed are the users created before, in order"
        );
        let mut dedup = list.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), list.len(), "{what}: a user appeared twice");
    }

    // After the inserts, the full list (paged: it may exceed one page's maximum) still
    // starts with the same users in order, and holds every insert once.
    let after_ids = page_through(&gate, &[], BEFORE + inserted).await;
    assert_eq!(after_ids.len(), BEFORE + inserted);
    assert_eq!(&after_ids[..BEFORE], &before_ids[..]);
}

#[tokio::test]
async fn pages_cover_the_list_exactly_once() {
    let gate = support::start("").await;
    for n in 0..23 {
        gate.create_user(&format!("p{n:02}@example.com")).await;
    }
    let all = ids(&gate
        .get_q("/Users", &[("count", "1000")])
        .await
        .expect(200)
        .resources());
    let mut seen = Vec::new();
    for start in (1..=23).step_by(5) {
        let resp = gate
            .get_q(
                "/Users",
                &[("startIndex", &start.to_string()), ("count", "5")],
            )
            .await
            .expect(200);
        assert_eq!(resp.body["totalResults"], 23);
        let page: Vec<Value> = resp.resources();
        assert_eq!(resp.body["itemsPerPage"].as_u64(), Some(page.len() as u64));
        seen.extend(ids(&page));
    }
    assert_eq!(seen, all);
    // Beyond the end: empty page, totalResults kept.
    let past = gate
        .get_q("/Users", &[("startIndex", "100"), ("count", "5")])
        .await
        .expect(200);
    assert_eq!(past.body["totalResults"], 23);
    assert!(past.resources().is_empty());
    // startIndex below 1 is read as 1 (RFC 7644 §3.4.2.4).
    let low = gate
        .get_q("/Users", &[("startIndex", "0"), ("count", "2")])
        .await
        .expect(200);
    assert_eq!(low.body["startIndex"], 1);
    assert_eq!(ids(&low.resources()), all[..2].to_vec());
}
