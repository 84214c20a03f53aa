//! The bypass corpus: one named regression test per request shape that has let callers
//! past other identity-aware proxies. The standard policy lets `readers` use
//! `/public/**` (but not `/public/secret.json`) on host `app.test`; `/private/**` is for
//! admins only.

use crate::proxy_env::{reader, Env};

async fn env() -> Env {
    let env = Env::start("").await;
    reader(&env, "alice").await;
    env
}

/// Asserts the upstream never saw a request whose target starts with `prefix`.
fn never_reached(env: &Env, prefix: &str) {
    let paths = env.up.paths();
    assert!(
        !paths.iter().any(|p| p.starts_with(prefix)),
        "upstream saw {paths:?}"
    );
}

#[tokio::test]
async fn baseline_reader_reaches_public_not_private() {
    let env = env().await;
    let ok = env
        .raw(&env.raw_get("app.test", "/public/a", "alice", ""))
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let no = env
        .raw(&env.raw_get("app.test", "/private/a", "alice", ""))
        .await;
    assert_eq!(no.status, 403, "{no:?}");
    never_reached(&env, "/private");
}

#[tokio::test]
async fn dot_dot_segment_is_resolved_before_matching() {
    let env = env().await;
    let r = env
        .raw(&env.raw_get("app.test", "/public/../private/a", "alice", ""))
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    never_reached(&env, "/private");
    // And a harmless one is forwarded in its normalised form.
    let r = env
        .raw(&env.raw_get("app.test", "/public/x/../a", "alice", ""))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(env.up.paths().last().map(String::as_str), Some("/public/a"));
}

#[tokio::test]
async fn encoded_dot_dot_is_resolved_before_matching() {
    let env = env().await;
    for target in [
        "/public/%2e%2e/private/a",
        "/public/%2E%2E/private/a",
        "/public/.%2e/private/a",
    ] {
        let r = env.raw(&env.raw_get("app.test", target, "alice", "")).await;
        assert_eq!(r.status, 403, "{target}: {r:?}");
    }
    never_reached(&env, "/private");
}

#[tokio::test]
async fn encoded_slash_is_refused() {
    let env = env().await;
    for target in ["/public%2f..%2fprivate/a", "/public/a%2Fb"] {
        let r = env.raw(&env.raw_get("app.test", target, "alice", "")).await;
        assert_eq!(r.status, 400, "{target}: {r:?}");
    }
    assert!(env.up.paths().is_empty());
}

#[tokio::test]
async fn encoded_slash_passes_where_the_route_opts_out() {
    let env = env().await;
    let r = env
        .raw(&env.raw_get("loose.test", "/a%2Fb", "alice", ""))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(env.up.paths().last().map(String::as_str), Some("/a%2Fb"));
}

#[tokio::test]
async fn duplicate_slashes_collapse_before_matching() {
    let env = env().await;
    let r = env
        .raw(&env.raw_get("app.test", "//private/a", "alice", ""))
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = env
        .raw(&env.raw_get("app.test", "/public//a", "alice", ""))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(env.up.paths().last().map(String::as_str), Some("/public/a"));
    never_reached(&env, "/private");
}

#[tokio::test]
async fn backslash_is_refused() {
    let env = env().await;
    for target in ["/public\\..\\private/a", "/public/%5c../private/a"] {
        let r = env.raw(&env.raw_get("app.test", target, "alice", "")).await;
        assert_eq!(r.status, 400, "{target}: {r:?}");
    }
    assert!(env.up.paths().is_empty());
}

#[tokio::test]
async fn semicolon_in_a_segment_is_refused() {
    let env = env().await;
    for target in [
        "/public;x=1/../private/a",
        "/public/..;/private/a",
        "/public/a%3Bb",
    ] {
        let r = env.raw(&env.raw_get("app.test", target, "alice", "")).await;
        assert_eq!(r.status, 400, "{target}: {r:?}");
    }
    assert!(env.up.paths().is_empty());
}

#[tokio::test]
async fn nul_is_refused() {
    let env = env().await;
    let r = env
        .raw(&env.raw_get("app.test", "/public/a%00.json", "alice", ""))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(env.up.paths().is_empty());
}

#[tokio::test]
async fn encoded_hash_is_refused() {
    let env = env().await;
    let r = env
        .raw(&env.raw_get("app.test", "/public%23/../private/a", "alice", ""))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(env.up.paths().is_empty());
}

#[tokio::test]
async fn path_case_variants_do_not_widen_access() {
    let env = env().await;
    // Allow rules match exactly: /PUBLIC is not /public.
    let r = env
        .raw(&env.raw_get("app.test", "/PUBLIC/a", "alice", ""))
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    // Deny rules match any case: a case-insensitive upstream cannot be tricked.
    for target in [
        "/public/secret.json",
        "/public/SECRET.JSON",
        "/public/Secret.Json",
    ] {
        let r = env.raw(&env.raw_get("app.test", target, "alice", "")).await;
        assert_eq!(r.status, 403, "{target}: {r:?}");
    }
    let paths = env.up.paths();
    assert!(paths.is_empty(), "{paths:?}");
}

#[tokio::test]
async fn query_look_alikes_are_not_matched() {
    let env = env().await;
    let r = env
        .raw(&env.raw_get("app.test", "/private/a?x=/public/a", "alice", ""))
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = env
        .raw(&env.raw_get("app.test", "/public/a?next=/private/a", "alice", ""))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        env.up.paths().last().map(String::as_str),
        Some("/public/a?next=/private/a"),
        "the query is forwarded verbatim"
    );
    never_reached(&env, "/private");
}

#[tokio::test]
async fn spoofed_forwarding_headers_do_not_route_or_reach_upstream() {
    let env = env().await;
    let spoof = "X-Forwarded-Uri: /public/a\r\nX-Forwarded-Host: loose.test\r\nX-Forwarded-Prefix: /public\r\nX-Original-URL: /public/a\r\nX-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: https\r\n";
    let r = env
        .raw(&env.raw_get("app.test", "/private/a", "alice", spoof))
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = env
        .raw(&env.raw_get("app.test", "/public/a", "alice", spoof))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let seen = env.seen();
    let h = &seen.last().unwrap()["headers"];
    assert!(h.get("x-forwarded-uri").is_none(), "{h}");
    assert!(h.get("x-forwarded-prefix").is_none(), "{h}");
    assert!(h.get("x-original-url").is_none(), "{h}");
    assert_eq!(
        h["x-forwarded-host"],
        serde_json::json!(["app.test"]),
        "{h}"
    );
    assert_eq!(
        h["x-forwarded-for"],
        serde_json::json!(["127.0.0.1"]),
        "{h}"
    );
    assert_eq!(h["x-forwarded-proto"], serde_json::json!(["http"]), "{h}");
}

#[tokio::test]
async fn client_sent_identity_headers_are_removed_in_every_variant() {
    let env = env().await;
    let spoof = "X-Auth-Request-User: root\r\nX_Auth_Request_User: root\r\nx-auth-request-groups: admins\r\nX-Auth-Request-Email: root@example.com\r\nX-Scimgate-Assertion: forged\r\nX-Forwarded-User: root\r\nRemote-User: root\r\n";
    let r = env
        .raw(&env.raw_get("app.test", "/public/a", "alice", spoof))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let seen = env.seen();
    let h = &seen.last().unwrap()["headers"];
    assert_eq!(
        h["x-auth-request-user"],
        serde_json::json!(["alice"]),
        "{h}"
    );
    assert_eq!(
        h["x-auth-request-email"],
        serde_json::json!(["alice@example.com"]),
        "{h}"
    );
    assert_eq!(
        h["x-auth-request-groups"],
        serde_json::json!(["readers"]),
        "{h}"
    );
    assert!(h.get("x_auth_request_user").is_none(), "{h}");
    assert!(h.get("x-forwarded-user").is_none(), "{h}");
    assert!(h.get("remote-user").is_none(), "{h}");
    let assertion = h["x-scimgate-assertion"][0].as_str().unwrap();
    assert_ne!(assertion, "forged");
    assert_eq!(h["x-scimgate-assertion"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn connection_header_cannot_smuggle_identity_headers_past_the_strip() {
    let env = env().await;
    // Listing the proxy's own header as hop-by-hop must not remove the real one.
    let extra = "Connection: x-auth-request-user, close\r\n";
    let r = env
        .raw(&env.raw_get("app.test", "/public/a", "alice", extra))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let seen = env.seen();
    let h = &seen.last().unwrap()["headers"];
    assert_eq!(
        h["x-auth-request-user"],
        serde_json::json!(["alice"]),
        "{h}"
    );
}

#[tokio::test]
async fn a_host_that_matches_no_route_gets_404() {
    let env = env().await;
    let r = env
        .raw(&env.raw_get("evil.test", "/public/a", "alice", ""))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = env
        .raw(&env.raw_get("app.test.evil.test", "/public/a", "alice", ""))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    assert!(env.up.paths().is_empty());
}

#[tokio::test]
async fn cl_te_request_cannot_smuggle_a_second_request() {
    let env = env().await;
    let token = env.iss.token("alice");
    let smuggled = "GET /private/a HTTP/1.1\r\nHost: app.test\r\n\r\n";
    let body = format!("0\r\n\r\n{smuggled}");
    let req = format!(
        "POST /public/a HTTP/1.1\r\nHost: app.test\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{body}",
        body.len()
    );
    let r = env.raw(&req).await;
    assert!(r.status == 400 || r.status == 200, "{r:?}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    never_reached(&env, "/private");
}

#[tokio::test]
async fn te_cl_request_cannot_smuggle_a_second_request() {
    let env = env().await;
    let token = env.iss.token("alice");
    let smuggled = "GET /private/a HTTP/1.1\r\nHost: app.test\r\n\r\n";
    let chunk = format!("{:x}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len());
    let req = format!(
        "POST /public/a HTTP/1.1\r\nHost: app.test\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n{chunk}"
    );
    let r = env.raw(&req).await;
    assert!(r.status == 400 || r.status == 200, "{r:?}");
    // Obfuscated transfer-encodings are refused, not guessed at.
    let req = format!(
        "POST /public/a HTTP/1.1\r\nHost: app.test\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: xchunked\r\nContent-Length: {}\r\n\r\n{chunk}",
        chunk.len()
    );
    let r = env.raw(&req).await;
    assert!(
        r.status == 400 || r.status == 501 || r.status == 200,
        "{r:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    never_reached(&env, "/private");
}

#[tokio::test]
async fn scimgate_paths_are_normalised_too() {
    let env = env().await;
    // A dot-segment path into scimgate's own namespace is served as its normal form.
    let r = env
        .raw("GET /public/../healthz HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(env.up.paths().is_empty());
}

mod open_redirects {
    //! After login the browser returns only to a same-origin path.
    use scimgate::authn::redirect::safe_return_to;

    #[test]
    fn protocol_relative_is_refused() {
        assert_eq!(safe_return_to("//evil.example"), None);
    }

    #[test]
    fn backslash_authority_is_refused() {
        assert_eq!(safe_return_to("/\\evil.example"), None);
    }

    #[test]
    fn encoded_whitespace_and_slashes_are_refused() {
        for rd in [
            "/%09/evil.example",
            "%20//evil.example",
            "/%2F%2Fevil.example",
            "/%5Cevil.example",
            "\t//evil.example",
            "/\n/evil.example",
        ] {
            assert_eq!(safe_return_to(rd), None, "{rd:?}");
        }
    }

    #[test]
    fn absolute_urls_and_schemes_are_refused() {
        for rd in [
            "https://evil.example/",
            "javascript:alert(1)",
            "evil.example",
        ] {
            assert_eq!(safe_return_to(rd), None, "{rd:?}");
        }
    }

    #[test]
    fn same_origin_paths_are_kept() {
        assert_eq!(
            safe_return_to("/docs/index.html?x=1").as_deref(),
            Some("/docs/index.html?x=1")
        );
    }
}

#[tokio::test]
async fn the_callers_own_credentials_never_reach_the_upstream() {
    let env = env().await;
    let cookies = "Cookie: theme=dark; scimgate_session=stolen-session; __Host-scimgate_session=x\r\nCookie: scimgate_flow=f; lang=en\r\n";
    let r = env
        .raw(&env.raw_get("app.test", "/public/a", "alice", cookies))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let seen = env.seen();
    let h = &seen.last().unwrap()["headers"];
    assert!(
        h.get("authorization").is_none(),
        "bearer JWT forwarded: {h}"
    );
    assert_eq!(
        h["cookie"],
        serde_json::json!(["theme=dark; lang=en"]),
        "{h}"
    );
    // A route that fronts an API checking the same IdP's tokens may keep the bearer.
    let r = env.raw(&env.raw_get("loose.test", "/a", "alice", "")).await;
    assert_eq!(r.status, 200, "{r:?}");
    let seen = env.seen();
    let h = &seen.last().unwrap()["headers"];
    let auth = h["authorization"][0].as_str().unwrap_or_default();
    assert!(auth.starts_with("Bearer "), "{h}");
}
