//! Forward-auth (`/.scimgate/auth`) for nginx `auth_request` and Traefik `forwardAuth`,
//! and the signed identity assertion upstreams can verify with scimgate's JWKS.

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::proxy_env::{reader, Env};

async fn ask(
    env: &Env,
    user: Option<&str>,
    method: &str,
    uri: &str,
    host: &str,
) -> reqwest::Response {
    let mut r = env
        .gate
        .http
        .get(format!("http://{}/.scimgate/auth", env.addr()))
        .header("x-forwarded-method", method)
        .header("x-forwarded-uri", uri)
        .header("x-forwarded-host", host);
    if let Some(u) = user {
        r = r.bearer_auth(env.iss.token(u));
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn trusted_proxy_gets_allow_with_identity_headers_or_a_clear_no() {
    let env = Env::start("trusted_proxies: [127.0.0.1/32]\n").await;
    reader(&env, "kim").await;
    let r = ask(&env, Some("kim"), "GET", "/public/a?x=1", "app.test").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-auth-request-user"], "kim");
    assert_eq!(r.headers()["x-auth-request-groups"], "readers");
    assert!(r.headers().contains_key("x-scimgate-assertion"));
    // Not allowed: 403; not signed in: 401; a path trick is judged in its normal form.
    assert_eq!(
        ask(&env, Some("kim"), "GET", "/private/a", "app.test")
            .await
            .status(),
        403
    );
    assert_eq!(
        ask(&env, Some("kim"), "GET", "/public/../private/a", "app.test")
            .await
            .status(),
        403
    );
    assert_eq!(
        ask(
            &env,
            Some("kim"),
            "DELETE",
            "/public/secret.json",
            "app.test"
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        ask(&env, None, "GET", "/public/a", "app.test")
            .await
            .status(),
        401
    );
    assert_eq!(
        ask(
            &env,
            Some("kim"),
            "GET",
            "/public%2f..%2fprivate",
            "app.test"
        )
        .await
        .status(),
        400
    );
    assert!(env.up.paths().is_empty(), "forward-auth never forwards");
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_not_believed() {
    let env = Env::start("").await;
    reader(&env, "lee").await;
    let r = ask(&env, Some("lee"), "GET", "/public/a", "app.test").await;
    assert_eq!(r.status(), 403);
    assert!(!r.headers().contains_key("x-auth-request-user"));
}

#[tokio::test]
async fn the_assertion_verifies_against_the_published_jwks() {
    let env = Env::start("").await;
    let (id, _) = reader(&env, "mia").await;
    let r = env
        .get("app.test", "/public/a", Some("mia"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = env.seen();
    let token = seen.last().unwrap()["headers"]["x-scimgate-assertion"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let jwks: Value = env
        .gate
        .http
        .get(format!(
            "http://{}/.well-known/scimgate/jwks.json",
            env.addr()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["alg"], "ES256");
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let dk =
        DecodingKey::from_ec_components(key["x"].as_str().unwrap(), key["y"].as_str().unwrap())
            .unwrap();
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&["app"]);
    let data = decode::<Value>(&token, &dk, &v).unwrap();
    let c = data.claims;
    assert_eq!(c["sub"], id.as_str());
    assert_eq!(c["user_name"], "mia");
    assert_eq!(c["groups"], serde_json::json!(["readers"]));
    let ttl = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!(ttl > 0 && ttl <= 120, "assertion lives {ttl} s");
    // Another route's audience does not accept it.
    let mut other = Validation::new(Algorithm::ES256);
    other.set_audience(&["loose"]);
    assert!(decode::<Value>(&token, &dk, &other).is_err());
}
