//! Every RFC 7644 §3.12 error the server produces, each with the Error schema, a
//! string `status` and a `detail`.

use reqwest::Method;
use serde_json::json;

use crate::support::{self, patch_ops, send, user_body, with_json, SCIM_JSON, USER_SCHEMA};

fn id_of(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn invalid_json_is_400_invalid_syntax() {
    let gate = support::start("").await;
    let resp = send(
        gate.req(Method::POST, "/Users")
            .header("content-type", SCIM_JSON)
            .body("{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"], \"userName\": "),
    )
    .await;
    resp.expect_error(400, Some("invalidSyntax"));

    let u = id_of(&gate.create_user("json@example.com").await);
    for method in [Method::PUT, Method::PATCH] {
        let resp = send(
            gate.req(method.clone(), &format!("/Users/{u}"))
                .header("content-type", SCIM_JSON)
                .body("not json at all"),
        )
        .await;
        resp.expect_error(400, Some("invalidSyntax"));
    }
    let resp = send(
        gate.req(Method::POST, "/Users/.search")
            .header("content-type", SCIM_JSON)
            .body("[1,2"),
    )
    .await;
    resp.expect_error(400, Some("invalidSyntax"));
    // Well-formed JSON of the wrong shape, and an empty body.
    for body in ["[]", "\"user\"", "42", ""] {
        let resp = send(
            gate.req(Method::POST, "/Users")
                .header("content-type", SCIM_JSON)
                .body(body),
        )
        .await;
        resp.expect_error(400, Some("invalidSyntax"));
    }
    // A PATCH with no operations.
    let resp = gate
        .patch(&format!("/Users/{u}"), &patch_ops(json!([])))
        .await;
    resp.expect_error(400, Some("invalidSyntax"));
    assert_eq!(gate.get("/Users").await.expect(200).body["totalResults"], 1);
}

#[tokio::test]
async fn missing_schemas_is_400() {
    let gate = support::start("").await;
    let resp = gate
        .post("/Users", &json!({"userName": "noschemas@example.com"}))
        .await;
    resp.expect_error(400, Some("invalidSyntax"));
    assert!(gate
        .running
        .directory
        .user_by_name("noschemas@example.com")
        .is_none());

    // A schemas list without the core schema.
    let resp = gate
        .post(
            "/Users",
            &json!({"schemas": [support::GROUP_SCHEMA], "userName": "wrong@example.com"}),
        )
        .await;
    assert_eq!(resp.status, 400, "{}", resp.text);
    support::assert_scim_error(&resp.body, 400, None);

    // A PATCH without the PatchOp schema.
    let u = id_of(&gate.create_user("patchschemas@example.com").await);
    let resp = gate
        .patch(
            &format!("/Users/{u}"),
            &json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]}),
        )
        .await;
    resp.expect_error(400, Some("invalidSyntax"));

    // A search without the SearchRequest schema.
    let resp = gate
        .post("/Users/.search", &json!({"filter": "userName pr"}))
        .await;
    resp.expect_error(400, Some("invalidSyntax"));
}

#[tokio::test]
async fn bad_filter_is_400_invalid_filter() {
    let gate = support::start("").await;
    for bad in [
        "userName eq",
        "userName zz \"x\"",
        "(userName eq \"x\"",
        "userName eq \"unterminated",
        "and or not",
    ] {
        let resp = gate.get_q("/Users", &[("filter", bad)]).await;
        resp.expect_error(400, Some("invalidFilter"));
    }
    let resp = gate
        .post(
            "/Users/.search",
            &json!({"schemas": [support::SEARCH_SCHEMA], "filter": "userName eq"}),
        )
        .await;
    resp.expect_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn patch_with_unknown_attribute_path_is_invalid_path() {
    let gate = support::start("").await;
    let u = gate.create_user("ipath@example.com").await;
    let id = id_of(&u);
    let body = patch_ops(json!([{"op": "replace", "path": "noSuchAttribute", "value": "x"}]));
    let resp = gate.patch(&format!("/Users/{id}"), &body).await;
    resp.expect_error(400, Some("invalidPath"));
    let body = patch_ops(json!([{"op": "replace", "path": "name.noSuchSub", "value": "x"}]));
    gate.patch(&format!("/Users/{id}"), &body)
        .await
        .expect_error(400, Some("invalidPath"));
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(support::version(&got.body), "W/\"1\"");
}

#[tokio::test]
async fn remove_without_path_is_no_target() {
    let gate = support::start("").await;
    let id = id_of(&gate.create_user("notarget@example.com").await);
    let body = patch_ops(json!([{"op": "remove"}]));
    gate.patch(&format!("/Users/{id}"), &body)
        .await
        .expect_error(400, Some("noTarget"));
    let gid = id_of(&gate.create_group("No Target", &[&id]).await);
    gate.patch(&format!("/Groups/{gid}"), &body)
        .await
        .expect_error(400, Some("noTarget"));
    assert_eq!(gate.member_ids(&gid).await, vec![id]);
}

#[tokio::test]
async fn patching_id_is_mutability() {
    let gate = support::start("").await;
    let id = id_of(&gate.create_user("mutable@example.com").await);
    let body = patch_ops(json!([{
        "op": "replace",
        "path": "id",
        "value": "00000000-0000-0000-0000-000000000000"
    }]));
    gate.patch(&format!("/Users/{id}"), &body)
        .await
        .expect_error(400, Some("mutability"));
    // The read-only `groups` and `meta` cannot be written either.
    let gid = id_of(&gate.create_group("Readonly Groups", &[]).await);
    let body = patch_ops(json!([{"op": "add", "path": "groups", "value": [{"value": gid}]}]));
    gate.patch(&format!("/Users/{id}"), &body)
        .await
        .expect_error(400, Some("mutability"));
    let body = patch_ops(
        json!([{"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"}]),
    );
    gate.patch(&format!("/Users/{id}"), &body)
        .await
        .expect_error(400, Some("mutability"));
    let got = gate.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["id"], id.as_str());
    assert!(got.body.get("groups").is_none(), "{}", got.text);
    assert_eq!(support::version(&got.body), "W/\"1\"");
    gate.get("/Users/00000000-0000-0000-0000-000000000000")
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn unknown_resource_id_is_404() {
    let gate = support::start("").await;
    let missing = "/Users/6d1b1c1e-0000-4000-8000-000000000000";
    gate.get(missing).await.expect_error(404, None);
    gate.put(missing, &user_body("ghost@example.com"))
        .await
        .expect_error(404, None);
    gate.patch(
        missing,
        &patch_ops(json!([{"op": "replace", "path": "title", "value": "x"}])),
    )
    .await
    .expect_error(404, None);
    gate.delete(missing).await.expect_error(404, None);
    let missing_group = "/Groups/6d1b1c1e-0000-4000-8000-000000000001";
    gate.get(missing_group).await.expect_error(404, None);
    gate.delete(missing_group).await.expect_error(404, None);
    // A user's id is not a group's.
    let u = id_of(&gate.create_user("notagroup@example.com").await);
    gate.get(&format!("/Groups/{u}"))
        .await
        .expect_error(404, None);
    // An unknown endpoint.
    gate.get("/Nothing").await.expect_error(404, None);
    assert!(gate
        .running
        .directory
        .user_by_name("ghost@example.com")
        .is_none());
}

#[tokio::test]
async fn wrong_or_missing_token_is_401_with_www_authenticate() {
    let gate = support::start("").await;
    let url = format!("{}/Users", gate.base);
    let forged = {
        // Right shape, right id, wrong secret.
        let mut t = gate.token.clone();
        let last = t.pop().unwrap_or('A');
        t.push(if last == 'A' { 'B' } else { 'A' });
        t
    };
    let cases: Vec<Option<String>> = vec![
        None,
        Some("not-a-token".into()),
        Some(forged),
        Some("scimgate_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
    ];
    for token in cases {
        let resp = send(gate.req_as(Method::GET, &url, token.as_deref())).await;
        resp.expect_error(401, None);
        let www = resp.header("www-authenticate").unwrap_or_default();
        assert!(www.starts_with("Bearer"), "WWW-Authenticate: {www:?}");
    }
    // Basic instead of Bearer.
    let resp = send(
        gate.http
            .get(&url)
            .header("authorization", format!("Basic {}", gate.token)),
    )
    .await;
    resp.expect_error(401, None);
    // Writes are refused too, and change nothing.
    let resp = send(with_json(
        gate.req_as(Method::POST, &url, None),
        &user_body("anon@example.com"),
    ))
    .await;
    resp.expect_error(401, None);
    assert!(gate
        .running
        .directory
        .user_by_name("anon@example.com")
        .is_none());
    // The right token works.
    gate.get("/Users").await.expect(200);
}

#[tokio::test]
async fn body_over_the_configured_cap_is_413() {
    let gate = support::start("scim:\n  max_body_bytes: 1000\n").await;
    let mut body = user_body("big@example.com");
    body["displayName"] = json!("x".repeat(2000));
    let resp = gate.post("/Users", &body).await;
    resp.expect_error(413, None);
    assert!(gate
        .running
        .directory
        .user_by_name("big@example.com")
        .is_none());

    // Chunked (no Content-Length) is capped too.
    let chunk = "y".repeat(100);
    let mut chunked = String::new();
    for _ in 0..20 {
        chunked.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    chunked.push_str("0\r\n\r\n");
    let request = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n{chunked}",
        gate.token
    );
    let (status, body) = support::raw_http(gate.running.addr, request.as_bytes()).await;
    assert_eq!(status, 413, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    support::assert_scim_error(&body, 413, None);

    // Under the cap is fine.
    gate.post("/Users", &user_body("small@example.com"))
        .await
        .expect(201);
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let gate = support::start("").await;
    let resp = send(
        gate.req(Method::POST, "/Users")
            .header("content-type", "text/plain")
            .body(user_body("plain@example.com").to_string()),
    )
    .await;
    resp.expect_error(415, None);
    let resp = send(
        gate.req(Method::POST, "/Users")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("userName=form"),
    )
    .await;
    resp.expect_error(415, None);
    assert!(gate
        .running
        .directory
        .user_by_name("plain@example.com")
        .is_none());
    // application/json and a charset parameter are accepted.
    let resp = send(
        gate.req(Method::POST, "/Users")
            .header("content-type", "application/json; charset=utf-8")
            .body(user_body("json-ct@example.com").to_string()),
    )
    .await;
    assert_eq!(resp.status, 201, "{}", resp.text);
}

#[tokio::test]
async fn bulk_and_me_are_501() {
    let gate = support::start("").await;
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": []
    });
    gate.post("/Bulk", &bulk).await.expect_error(501, None);
    gate.get("/Me").await.expect_error(501, None);
    gate.post("/Me", &user_body("me@example.com"))
        .await
        .expect_error(501, None);
    let spc = gate.get("/ServiceProviderConfig").await.expect(200);
    assert_eq!(spc.body["bulk"]["supported"], false);
}

#[tokio::test]
async fn filter_deeper_than_max_filter_depth_is_400() {
    let gate = support::start("scim:\n  max_filter_depth: 4\n").await;
    gate.create_user("deep@example.com").await;
    let mut deep = "userName eq \"deep@example.com\"".to_owned();
    for _ in 0..50 {
        deep = format!("({deep})");
    }
    let resp = gate.get_q("/Users", &[("filter", &deep)]).await;
    resp.expect_error(400, Some("invalidFilter"));
    let mut nots = "userName eq \"deep@example.com\"".to_owned();
    for _ in 0..50 {
        nots = format!("not ({nots})");
    }
    gate.get_q("/Users", &[("filter", &nots)])
        .await
        .expect_error(400, Some("invalidFilter"));

    // A very deep filter must not crash the server (stack) even at the default limit.
    let deflt = support::start("").await;
    let mut huge = "userName pr".to_owned();
    for _ in 0..20_000 {
        huge = format!("({huge})");
    }
    let resp = send(
        deflt
            .req(Method::POST, "/Users/.search")
            .header("content-type", SCIM_JSON)
            .body(json!({"schemas": [support::SEARCH_SCHEMA], "filter": huge}).to_string()),
    )
    .await;
    resp.expect_error(400, Some("invalidFilter"));
    deflt.get("/Users").await.expect(200);

    // A shallow one is fine.
    let ok = gate
        .filter("/Users", "(userName eq \"deep@example.com\")")
        .await;
    assert_eq!(ok.len(), 1);
}

#[tokio::test]
async fn count_above_max_results_is_capped_and_advertised() {
    let gate = support::start("scim:\n  max_results: 5\n").await;
    for n in 0..8 {
        gate.create_user(&format!("cap{n}@example.com")).await;
    }
    let spc = gate.get("/ServiceProviderConfig").await.expect(200);
    assert_eq!(spc.body["filter"]["maxResults"], 5);
    assert_eq!(spc.body["filter"]["supported"], true);

    let page = gate.get_q("/Users", &[("count", "100")]).await.expect(200);
    assert_eq!(page.body["totalResults"], 8);
    assert_eq!(page.body["itemsPerPage"], 5);
    assert_eq!(page.resources().len(), 5);

    let default_page = gate.get("/Users").await.expect(200);
    assert_eq!(default_page.resources().len(), 5);

    let rest = gate
        .get_q("/Users", &[("startIndex", "6"), ("count", "100")])
        .await
        .expect(200);
    assert_eq!(rest.resources().len(), 3);
    assert_eq!(rest.body["startIndex"], 6);

    let search = gate
        .post(
            "/Users/.search",
            &json!({"schemas": [support::SEARCH_SCHEMA], "count": 1000}),
        )
        .await
        .expect(200);
    assert_eq!(search.resources().len(), 5);
    let all = gate
        .post(
            "/.search",
            &json!({"schemas": [support::SEARCH_SCHEMA], "count": 1000}),
        )
        .await
        .expect(200);
    assert_eq!(all.resources().len(), 5);

    // count=0 returns only the total.
    let zero = gate.get_q("/Users", &[("count", "0")]).await.expect(200);
    assert_eq!(zero.body["totalResults"], 8);
    assert!(zero.resources().is_empty());

    // A non-numeric count is a SCIM 400.
    gate.get_q("/Users", &[("count", "lots")])
        .await
        .expect_error(400, None);
}

#[tokio::test]
async fn errors_on_groups_have_the_same_form() {
    let gate = support::start("").await;
    // displayName missing.
    gate.post(
        "/Groups",
        &json!({"schemas": [support::GROUP_SCHEMA], "members": []}),
    )
    .await
    .expect_error(400, None);
    // Unknown member id.
    let resp = gate
        .post(
            "/Groups",
            &support::group_body("Ghost Members", &["6d1b1c1e-0000-4000-8000-00000000dead"]),
        )
        .await;
    resp.expect_error(400, Some("invalidValue"));
    assert!(gate
        .running
        .directory
        .group_by_name("Ghost Members")
        .is_none());
    // Duplicate displayName.
    gate.create_group("Taken", &[]).await;
    gate.post("/Groups", &support::group_body("TAKEN", &[]))
        .await
        .expect_error(409, Some("uniqueness"));
    // A user body with a wrong type.
    gate.post(
        "/Users",
        &json!({"schemas": [USER_SCHEMA], "userName": "typed@example.com", "active": "maybe"}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
}
