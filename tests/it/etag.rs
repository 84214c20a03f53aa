//! ETags (RFC 7644 §3.14): the header matches `meta.version`; If-Match guards PUT,
//! PATCH and DELETE; If-None-Match answers 304.

use reqwest::Method;
use serde_json::json;

use crate::support::{self, patch_ops, send, user_body, version, with_json, Gate};

fn id_of(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

async fn with_if_match(
    gate: &Gate,
    method: Method,
    path: &str,
    tag: &str,
    body: Option<&serde_json::Value>,
) -> support::Resp {
    let mut r = gate.req(method, path).header("if-match", tag);
    if let Some(b) = body {
        r = with_json(r, b);
    }
    send(r).await
}

#[tokio::test]
async fn etag_header_matches_meta_version() {
    let gate = support::start("").await;
    let created = gate
        .post("/Users", &user_body("tag@example.com"))
        .await
        .expect(201);
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert_eq!(version(&created.body), "W/\"1\"");
    let id = created.id();

    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.header("etag"), Some(version(&got.body).as_str()));

    let put = gate
        .put(&format!("/Users/{id}"), &user_body("tag2@example.com"))
        .await
        .expect(200);
    assert_eq!(put.header("etag"), Some("W/\"2\""));
    assert_eq!(version(&put.body), "W/\"2\"");
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.header("etag"), Some("W/\"2\""));
    assert_eq!(version(&got.body), "W/\"2\"");

    // Groups too, including after a 204 PATCH.
    let g = gate
        .post("/Groups", &support::group_body("Tagged", &[]))
        .await
        .expect(201);
    assert_eq!(g.header("etag"), Some("W/\"1\""));
    let gid = g.id();
    let p = gate
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": id}]}])),
        )
        .await;
    assert!(p.status == 204 || p.status == 200, "{}", p.text);
    assert_eq!(p.header("etag"), Some("W/\"2\""));
    let got = gate.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(got.header("etag"), Some("W/\"2\""));
    assert_eq!(version(&got.body), "W/\"2\"");

    // A listed resource carries the same version.
    let listed = gate.filter("/Groups", "displayName eq \"Tagged\"").await;
    assert_eq!(version(&listed[0]), "W/\"2\"");
}

#[tokio::test]
async fn put_with_stale_if_match_is_412_and_with_current_succeeds() {
    let gate = support::start("").await;
    let id = id_of(&gate.create_user("putm@example.com").await);
    gate.put(&format!("/Users/{id}"), &user_body("putm2@example.com"))
        .await
        .expect(200);

    let stale = with_if_match(
        &gate,
        Method::PUT,
        &format!("/Users/{id}"),
        "W/\"1\"",
        Some(&user_body("stale@example.com")),
    )
    .await;
    stale.expect_error(412, None);
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["userName"], "putm2@example.com");
    assert_eq!(version(&got.body), "W/\"2\"");

    let ok = with_if_match(
        &gate,
        Method::PUT,
        &format!("/Users/{id}"),
        "W/\"2\"",
        Some(&user_body("fresh@example.com")),
    )
    .await
    .expect(200);
    assert_eq!(ok.header("etag"), Some("W/\"3\""));
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["userName"], "fresh@example.com");

    // "*" matches any version.
    with_if_match(
        &gate,
        Method::PUT,
        &format!("/Users/{id}"),
        "*",
        Some(&user_body("star@example.com")),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn patch_with_stale_if_match_is_412_and_with_current_succeeds() {
    let gate = support::start("").await;
    let id = id_of(&gate.create_user("patchm@example.com").await);
    let body = patch_ops(json!([{"op": "replace", "path": "title", "value": "One"}]));
    gate.patch(&format!("/Users/{id}"), &body).await.expect(200);

    let body = patch_ops(json!([{"op": "replace", "path": "title", "value": "Stale"}]));
    with_if_match(
        &gate,
        Method::PATCH,
        &format!("/Users/{id}"),
        "W/\"1\"",
        Some(&body),
    )
    .await
    .expect_error(412, None);
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["title"], "One");
    assert_eq!(version(&got.body), "W/\"2\"");

    let body = patch_ops(json!([{"op": "replace", "path": "title", "value": "Two"}]));
    let ok = with_if_match(
        &gate,
        Method::PATCH,
        &format!("/Users/{id}"),
        "W/\"2\"",
        Some(&body),
    )
    .await
    .expect(200);
    assert_eq!(ok.body["title"], "Two");
    assert_eq!(ok.header("etag"), Some("W/\"3\""));

    // Groups.
    let u = id_of(&gate.create_user("gm@example.com").await);
    let gid = id_of(&gate.create_group("Guarded", &[]).await);
    let add = patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": u}]}]));
    with_if_match(
        &gate,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        "W/\"7\"",
        Some(&add),
    )
    .await
    .expect_error(412, None);
    assert!(gate.member_ids(&gid).await.is_empty());
    let resp = with_if_match(
        &gate,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        "W/\"1\"",
        Some(&add),
    )
    .await;
    assert!(resp.status == 204 || resp.status == 200, "{}", resp.text);
    assert_eq!(gate.member_ids(&gid).await, vec![u]);
}

#[tokio::test]
async fn delete_with_stale_if_match_is_412_and_with_current_succeeds() {
    let gate = support::start("").await;
    let id = id_of(&gate.create_user("delm@example.com").await);
    gate.put(&format!("/Users/{id}"), &user_body("delm@example.com"))
        .await
        .expect(200);
    with_if_match(
        &gate,
        Method::DELETE,
        &format!("/Users/{id}"),
        "W/\"1\"",
        None,
    )
    .await
    .expect_error(412, None);
    gate.get(&format!("/Users/{id}")).await.expect(200);
    let resp = with_if_match(
        &gate,
        Method::DELETE,
        &format!("/Users/{id}"),
        "W/\"2\"",
        None,
    )
    .await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    gate.get(&format!("/Users/{id}"))
        .await
        .expect_error(404, None);

    let gid = id_of(&gate.create_group("Doomed", &[]).await);
    with_if_match(
        &gate,
        Method::DELETE,
        &format!("/Groups/{gid}"),
        "W/\"9\"",
        None,
    )
    .await
    .expect_error(412, None);
    gate.get(&format!("/Groups/{gid}")).await.expect(200);
    let resp = with_if_match(
        &gate,
        Method::DELETE,
        &format!("/Groups/{gid}"),
        "W/\"1\"",
        None,
    )
    .await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    gate.get(&format!("/Groups/{gid}"))
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn if_none_match_current_is_304_and_stale_is_200() {
    let gate = support::start("").await;
    let id = id_of(&gate.create_user("inm@example.com").await);
    let path = format!("/Users/{id}");

    let r = send(
        gate.req(Method::GET, &path)
            .header("if-none-match", "W/\"1\""),
    )
    .await;
    assert_eq!(r.status, 304, "{}", r.text);
    assert!(r.text.is_empty());
    assert_eq!(r.header("etag"), Some("W/\"1\""));

    gate.put(&path, &user_body("inm@example.com"))
        .await
        .expect(200);
    let r = send(
        gate.req(Method::GET, &path)
            .header("if-none-match", "W/\"1\""),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    assert_eq!(r.body["userName"], "inm@example.com");
    let r = send(
        gate.req(Method::GET, &path)
            .header("if-none-match", "W/\"1\", W/\"2\""),
    )
    .await;
    assert_eq!(r.status, 304);

    let gid = id_of(&gate.create_group("Cached", &[]).await);
    let r = send(
        gate.req(Method::GET, &format!("/Groups/{gid}"))
            .header("if-none-match", "W/\"1\""),
    )
    .await;
    assert_eq!(r.status, 304);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_with_the_same_if_match_let_exactly_one_win() {
    let gate = support::start("").await;
    let id = id_of(&gate.create_user("contended@example.com").await);
    let mut tasks = Vec::new();
    for n in 0..8 {
        let mut body = user_body("contended@example.com");
        body["title"] = json!(format!("writer {n}"));
        let r = with_json(gate.req(Method::PUT, &format!("/Users/{id}")), &body)
            .header("if-match", "W/\"1\"");
        tasks.push(tokio::spawn(async move {
            r.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap_or(0));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        7,
        "{statuses:?}"
    );
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(version(&got.body), "W/\"2\"");
}
