//! Heavy SCIM listings: `sortBy=userName` and `userName sw`/`eq` answered from the
//! directory's name order (right after creates, renames and deletes, at any depth, both
//! directions); listings that must scan run in bounded slots off the proxy's workers,
//! and index-bounded listings, large groups and large bodies on the page threads: a
//! saturated slot limit or busy page threads answer 503 with `Retry-After`, and while
//! either is held in flight `/healthz` and proxied requests are still answered.

use serde_json::json;

use crate::proxy_env::{reader, Env};
use crate::support::{self, user_names, Gate, PATCH_SCHEMA, USER_SCHEMA};
use scimgate::scim::ScanHold;

/// The userNames of one page of `GET /Users` with these query parameters.
async fn page(gate: &Gate, query: &[(&str, &str)]) -> (u64, Vec<String>) {
    let r = gate.get_q("/Users", query).await.expect(200);
    let total = r.body["totalResults"].as_u64().unwrap();
    (total, user_names(&r.resources()))
}

async fn sorted_page(gate: &Gate, desc: bool, start: usize, count: usize) -> Vec<String> {
    let (start, count) = (start.to_string(), count.to_string());
    let order = if desc { "descending" } else { "ascending" };
    page(
        gate,
        &[
            ("sortBy", "userName"),
            ("sortOrder", order),
            ("startIndex", &start),
            ("count", &count),
        ],
    )
    .await
    .1
}

fn caseless_sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort_by_key(|n| n.to_lowercase());
    names
}

/// Regression guard (main sorts correctly, by a full sort per request): the index-backed
/// sort orders case-insensitively and pages at depth in both directions.
#[tokio::test]
async fn sort_by_user_name_pages_at_depth_both_ways() {
    let gate = support::start("").await;
    let mut names = Vec::new();
    for i in 0..57u32 {
        // Scrambled creation order and mixed case.
        let n = (i * 23) % 57;
        let name = match n % 3 {
            0 => format!("User{n:02}"),
            1 => format!("user{n:02}x"),
            _ => format!("USER{n:02}Y"),
        };
        gate.create_user(&name).await;
        names.push(name);
    }
    let asc = caseless_sorted(names.clone());
    let desc: Vec<String> = asc.iter().rev().cloned().collect();
    assert_eq!(sorted_page(&gate, false, 1, 100).await, asc);
    assert_eq!(sorted_page(&gate, true, 1, 100).await, desc);
    for (start, count) in [(1, 10), (11, 10), (41, 10), (51, 10), (57, 5), (58, 5)] {
        let end = (start - 1 + count).min(57);
        let from = (start - 1).min(57);
        assert_eq!(
            sorted_page(&gate, false, start, count).await,
            asc[from..end],
            "ascending {start}/{count}"
        );
        assert_eq!(
            sorted_page(&gate, true, start, count).await,
            desc[from..end],
            "descending {start}/{count}"
        );
    }
    let (total, _) = page(&gate, &[("sortBy", "userName"), ("count", "1")]).await;
    assert_eq!(total, 57);
    // A URN-qualified sortBy is the same attribute.
    let (_, first) = page(
        &gate,
        &[
            ("sortBy", &format!("{USER_SCHEMA}:userName")),
            ("count", "3"),
        ],
    )
    .await;
    assert_eq!(first, asc[..3]);
}

/// Regression guard: a sort on an attribute without an index runs as a scan, with ties
/// in creation order in both directions, and pages correctly at depth.
#[tokio::test]
async fn scanned_sorts_keep_ties_in_creation_order() {
    let gate = support::start("").await;
    let mut ids = Vec::new();
    for (name, title) in [
        ("t1", "b"),
        ("t2", "A"),
        ("t3", "b"),
        ("t4", "a"),
        ("t5", "c"),
    ] {
        let mut body = support::user_body(name);
        body["title"] = json!(title);
        ids.push(gate.create_user_with(&body).await["id"].clone());
    }
    let (_, asc) = page(&gate, &[("sortBy", "title")]).await;
    assert_eq!(asc, ["t2", "t4", "t1", "t3", "t5"]);
    let (_, desc) = page(&gate, &[("sortBy", "title"), ("sortOrder", "descending")]).await;
    assert_eq!(desc, ["t5", "t1", "t3", "t2", "t4"]);
    let (total, deep) = page(
        &gate,
        &[
            ("filter", "userName co \"t\""),
            ("sortBy", "title"),
            ("startIndex", "3"),
            ("count", "2"),
        ],
    )
    .await;
    assert_eq!((total, deep), (5, vec!["t1".to_owned(), "t3".to_owned()]));
}

/// A scan whose filter (and sort) tests only userName reads the name alone, not the
/// stored body: it must answer exactly what the full render answers. Each filter is
/// run as is and joined with `id pr` (always true, but it makes the scan render the
/// whole resource), unsorted and sorted by userName (plain and URN-qualified), at
/// several depths, over names that differ only in case or by Unicode case folding.
#[tokio::test]
async fn name_only_scans_answer_as_full_renders_do() {
    let gate = support::start("").await;
    let names = [
        "Alice", "alicia", "ALIBI", "bob", "Bobby", "Straße", "STRASSEN", "strasse2", "Åsa",
        "åSA.x", "Zoë", "zoe", "mallory", "Trent", "trentino",
    ];
    for name in names {
        gate.create_user(name).await;
    }
    let urn_filter = format!("{USER_SCHEMA}:userName co \"r\"");
    let filters = [
        "userName co \"li\"",
        "userName co \"LI\"",
        "userName ew \"a\"",
        "userName ew \"SE\"",
        "userName co \"strasse\"",
        "userName co \"åsa\"",
        "not (userName co \"o\")",
        "userName co \"o\" or userName ew \"y\"",
        "userName co \"a\" and not (userName sw \"al\")",
        "userName gt \"m\"",
        "userName le \"bobby\"",
        "userName pr",
        "userName eq \"zoe\" or userName co \"ent\"",
        urn_filter.as_str(),
    ];
    let sort_urn = format!("{USER_SCHEMA}:userName");
    let sorts: [Vec<(&str, &str)>; 4] = [
        vec![],
        vec![("sortBy", "userName")],
        vec![("sortBy", "userName"), ("sortOrder", "descending")],
        vec![("sortBy", sort_urn.as_str())],
    ];
    let mut matched = 0;
    for filter in filters {
        let full = format!("({filter}) and id pr");
        for sort in &sorts {
            for (start, count) in [("1", "100"), ("2", "3")] {
                let build = |f| {
                    let mut q: Vec<(&str, &str)> = vec![("filter", f)];
                    q.extend(sort.iter().copied());
                    q.push(("startIndex", start));
                    q.push(("count", count));
                    q
                };
                let slim = gate.get_q("/Users", &build(filter)).await.expect(200);
                let whole = gate.get_q("/Users", &build(&full)).await.expect(200);
                let got = (
                    slim.body["totalResults"].clone(),
                    user_names(&slim.resources()),
                );
                let want = (
                    whole.body["totalResults"].clone(),
                    user_names(&whole.resources()),
                );
                assert_eq!(got, want, "{filter} {sort:?} {start}/{count}");
                matched += want.1.len();
            }
        }
    }
    assert!(matched > 100, "the filters select users: {matched}");
    // A URN-qualified sort on a scan orders by the name as the plain one does.
    let (_, urn) = page(
        &gate,
        &[("filter", "userName co \"a\""), ("sortBy", &sort_urn)],
    )
    .await;
    let (_, plain) = page(
        &gate,
        &[("filter", "userName co \"a\""), ("sortBy", "userName")],
    )
    .await;
    assert_eq!(urn, plain);
    // ... and as the name index does (both order by the caseless key).
    let (_, indexed) = page(&gate, &[("sortBy", "userName")]).await;
    let expected: Vec<String> = indexed.into_iter().filter(|n| urn.contains(n)).collect();
    assert_eq!(urn, expected);
    assert!(urn.len() >= 5, "{urn:?}");
}

async fn sw(gate: &Gate, prefix: &str) -> Vec<String> {
    let (_, names) = page(gate, &[("filter", &format!("userName sw \"{prefix}\""))]).await;
    names
}

async fn sw_sorted(gate: &Gate, prefix: &str, desc: bool) -> Vec<String> {
    let order = if desc { "descending" } else { "ascending" };
    let (_, names) = page(
        gate,
        &[
            ("filter", &format!("userName sw \"{prefix}\"")),
            ("sortBy", "userName"),
            ("sortOrder", order),
        ],
    )
    .await;
    names
}

async fn eq(gate: &Gate, name: &str) -> Vec<String> {
    user_names(
        &gate
            .filter("/Users", &format!("userName eq \"{name}\""))
            .await,
    )
}

/// Regression guard: `sw` and `eq` on userName, alone and with `sortBy`, stay right after
/// creates, renames (PUT and PATCH) and deletes: the index moves in step.
#[tokio::test]
async fn user_name_sw_and_eq_follow_creates_renames_and_deletes() {
    let gate = support::start("").await;
    let bob = gate.create_user("bob").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = gate.create_user("Alice").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gate.create_user("alfred").await;
    gate.create_user("ALBERT").await;
    // Without sortBy, creation order; with it, caseless name order.
    assert_eq!(sw(&gate, "AL").await, ["Alice", "alfred", "ALBERT"]);
    assert_eq!(
        sw_sorted(&gate, "al", false).await,
        ["ALBERT", "alfred", "Alice"]
    );
    assert_eq!(
        sw_sorted(&gate, "al", true).await,
        ["Alice", "alfred", "ALBERT"]
    );
    assert_eq!(sw(&gate, "alf").await, ["alfred"]);
    assert!(sw(&gate, "alz").await.is_empty());
    assert_eq!(eq(&gate, "ALICE").await, ["Alice"]);

    // PUT renames bob into the range, PATCH renames Alice out of it.
    gate.put(&format!("/Users/{bob}"), &support::user_body("Alba"))
        .await
        .expect(200);
    gate.patch(
        &format!("/Users/{alice}"),
        &json!({"schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "replace", "path": "userName", "value": "zoe"}]}),
    )
    .await
    .expect(200);
    assert_eq!(sw(&gate, "al").await, ["Alba", "alfred", "ALBERT"]);
    assert_eq!(
        sw_sorted(&gate, "AL", false).await,
        ["Alba", "ALBERT", "alfred"]
    );
    assert!(eq(&gate, "alice").await.is_empty());
    assert!(eq(&gate, "bob").await.is_empty());
    assert_eq!(eq(&gate, "ZOE").await, ["zoe"]);
    assert_eq!(sw(&gate, "z").await, ["zoe"]);

    // A delete leaves the range and the sorted listing.
    let albert = gate.filter("/Users", "userName eq \"albert\"").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gate.delete(&format!("/Users/{albert}")).await.expect(204);
    assert_eq!(sw(&gate, "al").await, ["Alba", "alfred"]);
    assert_eq!(
        sorted_page(&gate, true, 1, 10).await,
        ["zoe", "alfred", "Alba"]
    );
    // The old name is free again and lands in order.
    gate.create_user("Albert").await;
    assert_eq!(sw_sorted(&gate, "alb", false).await, ["Alba", "Albert"]);
}

/// Regression guard: Groups sort and filter by displayName through the same index.
#[tokio::test]
async fn group_display_name_sort_and_sw_follow_renames() {
    let gate = support::start("").await;
    let ops = gate.create_group("Ops", &[]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gate.create_group("analysts", &[]).await;
    gate.create_group("Admins", &[]).await;
    let names = |r: support::Resp| -> Vec<String> {
        r.expect(200)
            .resources()
            .iter()
            .map(|g| g["displayName"].as_str().unwrap().to_owned())
            .collect()
    };
    let sorted = gate.get_q("/Groups", &[("sortBy", "displayName")]).await;
    assert_eq!(names(sorted), ["Admins", "analysts", "Ops"]);
    gate.put(
        &format!("/Groups/{ops}"),
        &support::group_body("aardvarks", &[]),
    )
    .await
    .expect(200);
    let r = gate
        .get_q(
            "/Groups",
            &[
                ("filter", "displayName sw \"A\""),
                ("sortBy", "displayName"),
                ("sortOrder", "descending"),
            ],
        )
        .await;
    assert_eq!(names(r), ["analysts", "Admins", "aardvarks"]);
}

fn hold_marker() -> String {
    format!("hold-{}", uuid::Uuid::new_v4().simple())
}

/// A substring listing that the hook holds in flight.
fn held_listing(gate: &Gate, marker: &str) -> tokio::task::JoinHandle<u16> {
    let r = gate
        .req(reqwest::Method::GET, "/Users")
        .query(&[("filter", format!("userName co \"{marker}\""))]);
    tokio::spawn(async move { support::send(r).await.status })
}

/// New behaviour (main runs every scan at once, on the async workers, and never refuses
/// one): with every scan slot held, another scan is refused with a SCIM 503 and
/// `Retry-After`, counted in `/metrics`; indexed listings need no slot and still answer.
#[tokio::test]
async fn saturated_scan_slots_answer_503_with_retry_after() {
    let gate = support::start("scim:\n  max_concurrent_scans: 1\n  scan_queue_wait_ms: 20\n").await;
    gate.create_user("ann").await;
    let marker = hold_marker();
    let mut hold = ScanHold::new(&marker);
    let first = held_listing(&gate, &marker);
    hold.held(1).await;

    let refused = gate
        .get_q("/Users", &[("filter", "userName co \"nn\"")])
        .await;
    refused.expect_error(503, None);
    assert!(
        refused.header("retry-after").is_some(),
        "{:?}",
        refused.headers
    );
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("retry later"), "{detail}");
    // Search bodies are scans too.
    let search = support::send(support::with_json(
        gate.req(reqwest::Method::POST, "/Users/.search"),
        &json!({"schemas": [support::SEARCH_SCHEMA], "filter": "userName ew \"n\""}),
    ))
    .await;
    search.expect_error(503, None);

    // Listings bounded by an index take no slot.
    let (_, names) = page(&gate, &[("sortBy", "userName")]).await;
    assert_eq!(names, ["ann"]);
    assert_eq!(sw(&gate, "a").await, ["ann"]);
    assert_eq!(eq(&gate, "ANN").await, ["ann"]);

    let ops = gate.running.ops_addr.expect("an operations listener");
    let metrics = reqwest::get(format!("http://{ops}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("scimgate_scim_scans_total{outcome=\"refused\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("scimgate_scim_scans_total{outcome=\"run\"} 1"),
        "{metrics}"
    );

    hold.release();
    assert_eq!(first.await.unwrap(), 200);
    // The slot is free again.
    assert_eq!(sw(&gate, "a").await, ["ann"]);
    let r = gate
        .get_q("/Users", &[("filter", "userName co \"nn\"")])
        .await
        .expect(200);
    assert_eq!(user_names(&r.resources()), ["ann"]);
}

/// New behaviour: while every scan slot is held busy (on main these scans would occupy
/// the async workers that serve everything), `/healthz` and a proxied request are still
/// answered, and so are indexed SCIM listings.
#[tokio::test]
async fn healthz_and_the_proxy_answer_while_scans_are_held() {
    // Two scan slots (the default on four cores or more), both filled.
    let env = Env::start("scim:\n  max_concurrent_scans: 2\n").await;
    reader(&env, "rita").await;
    assert_eq!(status(&env).await, 200);
    let marker = hold_marker();
    let mut hold = ScanHold::new(&marker);
    let held = [
        held_listing(&env.gate, &marker),
        held_listing(&env.gate, &marker),
    ];
    hold.held(2).await;

    let health = reqwest::get(format!("{}/healthz", env.gate.root()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(status(&env).await, 200);
    let (_, names) = page(&env.gate, &[("sortBy", "userName")]).await;
    assert_eq!(names, ["rita"]);

    hold.release();
    for h in held {
        assert_eq!(h.await.unwrap(), 200);
    }
}

async fn status(env: &Env) -> u16 {
    env.get("app.test", "/public/a", Some("rita"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A listing answered from an index whose filter the hook holds on the page pool.
fn held_page_listing(gate: &Gate, marker: &str) -> tokio::task::JoinHandle<u16> {
    let r = gate.req(reqwest::Method::GET, "/Users").query(&[
        ("filter", format!("userName sw \"{marker}\"")),
        ("sortBy", "userName".to_owned()),
    ]);
    tokio::spawn(async move { support::send(r).await.status })
}

async fn refused_count(env: &Env) -> String {
    let ops = env.gate.running.ops_addr.expect("an operations listener");
    let metrics = reqwest::get(format!("http://{ops}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find(|l| l.starts_with("scimgate_scim_scans_total{outcome=\"refused\"}"))
        .unwrap_or("")
        .to_owned()
}

/// New behaviour (index-bounded listings were rendered on the async workers): sorted,
/// `sw`, unfiltered and `.search` listings, large groups and large request bodies are
/// all handled on the page threads. With the only page thread held, each of them is
/// refused with a SCIM 503 and `Retry-After` (which shows it needed that thread), while
/// the proxy, `/healthz`, a single small resource and a substring scan (its own slots)
/// are still answered; once released, everything answers again.
#[tokio::test]
async fn index_listings_and_large_groups_use_the_page_threads() {
    let env = Env::start("scim:\n  page_threads: 1\n  scan_queue_wait_ms: 20\n").await;
    let (rita, _) = reader(&env, "rita").await;
    let gate = &env.gate;
    let mut members = vec![rita.clone()];
    for i in 0..300 {
        members.push(
            gate.create_user(&format!("member{i:03}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let big = gate.create_group("big", &refs).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let small = gate.create_group("small", &[&rita]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A replacement body over 64 KiB: the same members, each with a long display.
    let mut big_body = support::group_body("big", &refs);
    for m in big_body["members"].as_array_mut().unwrap() {
        m["display"] = json!("d".repeat(240));
    }
    assert!(big_body.to_string().len() > 64 * 1024);
    let before = refused_count(&env).await;

    let marker = hold_marker();
    let mut hold = ScanHold::new(&marker);
    let held = held_page_listing(gate, &marker);
    hold.held(1).await;

    let refused = [
        gate.get_q("/Users", &[("sortBy", "userName")]).await,
        gate.get_q("/Users", &[("filter", "userName sw \"m\"")])
            .await,
        gate.get_q("/Groups", &[]).await,
        support::send(support::with_json(
            gate.req(reqwest::Method::POST, "/Users/.search"),
            &json!({"schemas": [support::SEARCH_SCHEMA], "sortBy": "userName"}),
        ))
        .await,
        gate.get(&format!("/Groups/{big}")).await,
        gate.put(&format!("/Groups/{big}"), &big_body).await,
    ];
    for r in &refused {
        r.expect_error(503, None);
        assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    }
    // Not on the page threads: the proxy, health, a small group, a user, a scan.
    assert_eq!(status(&env).await, 200);
    let health = reqwest::get(format!("{}/healthz", gate.root()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let g = gate.get(&format!("/Groups/{small}")).await.expect(200);
    assert_eq!(
        support::sorted_values(&g.body["members"]),
        std::slice::from_ref(&rita)
    );
    gate.get(&format!("/Users/{rita}")).await.expect(200);
    let big_without_members = gate
        .get_q(
            &format!("/Groups/{big}"),
            &[("excludedAttributes", "members")],
        )
        .await
        .expect(200);
    assert!(big_without_members.body.get("members").is_none());
    let scanned = gate
        .get_q("/Users", &[("filter", "userName co \"ita\"")])
        .await
        .expect(200);
    assert_eq!(user_names(&scanned.resources()), ["rita"]);
    assert_ne!(refused_count(&env).await, before);

    hold.release();
    assert_eq!(held.await.unwrap(), 200);
    // Answered in full once a page thread is free.
    let mut want = members.clone();
    want.sort();
    let g = gate.get(&format!("/Groups/{big}")).await.expect(200);
    assert_eq!(support::sorted_values(&g.body["members"]), want);
    let g = gate
        .put(&format!("/Groups/{big}"), &big_body)
        .await
        .expect(200);
    assert_eq!(support::sorted_values(&g.body["members"]), want);
    let (total, names) = page(gate, &[("sortBy", "userName"), ("count", "2")]).await;
    assert_eq!(total, 301);
    assert_eq!(names, ["member000", "member001"]);
    let (total, names) = page(
        gate,
        &[
            ("filter", "userName sw \"MEMBER29\""),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
            ("startIndex", "9"),
        ],
    )
    .await;
    assert_eq!(
        (total, names),
        (10, vec!["member291".to_owned(), "member290".to_owned()])
    );
    let groups = gate
        .get_q("/Groups", &[("sortBy", "displayName")])
        .await
        .expect(200);
    let names: Vec<String> = groups
        .resources()
        .iter()
        .map(|g| g["displayName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["big", "readers", "small"]);
}
