//! The login flow against a fake provider (discovery, JWKS, token and userinfo served
//! locally), and the flow checks that need no provider at all.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::authn::testing::{query_param, FakeIdp, ManualClock, IDP_CLIENT_ID};

const NOW: i64 = 1_800_000_000;

/// A login whose provider cannot be reached (nothing listens on port 1).
fn offline() -> (OidcLogin, Arc<ManualClock>) {
    let clock = ManualClock::at(NOW);
    let cfg = OidcConfig {
        issuer: "http://127.0.0.1:1".into(),
        client_id: "c".into(),
        client_secret: None,
        scopes: vec!["openid".into()],
        login_key: None,
    };
    let login = OidcLogin::new(cfg, HttpClient::new().unwrap())
        .unwrap()
        .with_clock(clock.shared());
    (login, clock)
}

fn pending(state: &str) -> PendingLogin {
    PendingLogin {
        state: state.into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        redirect_uri: "https://gate.test/.scimgate/callback".into(),
        return_to: "/docs".into(),
        created_ms: NOW * 1000,
        step_up: None,
    }
}

const CALLBACK: &str = "https://gate.test/.scimgate/callback";

#[tokio::test]
async fn a_state_mismatch_is_refused_without_asking_the_provider() {
    let (login, _) = offline();
    let err = login
        .finish(CALLBACK, "code", "other", pending("the-state"))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthnError::LoginFailed(_)), "{err:?}");
}

#[tokio::test]
async fn an_expired_flow_is_refused() {
    let (login, clock) = offline();
    clock.advance(Duration::from_secs(600));
    let err = login
        .finish(CALLBACK, "code", "s", pending("s"))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthnError::LoginFailed(_)), "{err:?}");
}

#[tokio::test]
async fn a_callback_to_another_address_is_refused() {
    let (login, _) = offline();
    let err = login
        .finish(
            "https://evil.test/.scimgate/callback",
            "code",
            "s",
            pending("s"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthnError::LoginFailed(_)), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable_and_discovery_is_retried() {
    let idp = FakeIdp::start().await;
    idp.state.lock().discovery_status = 503;
    let login = OidcLogin::new(idp.config(), HttpClient::new().unwrap()).unwrap();
    let err = login.start(CALLBACK, "/".into()).await.unwrap_err();
    assert!(matches!(err, AuthnError::IdpUnavailable));
    idp.state.lock().discovery_status = 200;
    login.start(CALLBACK, "/".into()).await.unwrap();
    login.start(CALLBACK, "/".into()).await.unwrap();
    // Two failures are not cached; once found, the metadata is.
    assert_eq!(idp.server.hits("/.well-known/openid-configuration"), 2);
}

#[tokio::test]
async fn start_builds_a_pkce_authorization_request() {
    let idp = FakeIdp::start().await;
    let login = OidcLogin::new(idp.config(), HttpClient::new().unwrap()).unwrap();
    let (url, flow) = login.start(CALLBACK, "/docs".into()).await.unwrap();
    assert!(url.starts_with(&format!("{}/auth?", idp.issuer)), "{url}");
    assert_eq!(query_param(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query_param(&url, "client_id").as_deref(),
        Some(IDP_CLIENT_ID)
    );
    assert_eq!(query_param(&url, "redirect_uri").as_deref(), Some(CALLBACK));
    assert_eq!(
        query_param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(&url, "scope").as_deref(),
        Some("openid profile email")
    );
    for p in ["state", "nonce", "code_challenge"] {
        assert!(query_param(&url, p).is_some_and(|v| v.len() >= 20), "{p}");
    }
    assert_eq!(query_param(&url, "state"), Some(flow.state.clone()));
    assert_eq!(query_param(&url, "nonce"), Some(flow.nonce.clone()));
    assert_eq!(flow.return_to, "/docs");
    let (url2, flow2) = login.start(CALLBACK, "/".into()).await.unwrap();
    assert_ne!(flow.pkce_verifier, flow2.pkce_verifier);
    assert_ne!(query_param(&url, "state"), query_param(&url2, "state"));
    // An overlong return path is not kept.
    let (_, long) = login
        .start(CALLBACK, format!("/{}", "a".repeat(2000)))
        .await
        .unwrap();
    assert_eq!(long.return_to, "/");
}

/// Runs start and finish against the fake provider; returns the claims and return path.
async fn sign_in(idp: &FakeIdp, login: &OidcLogin) -> Result<(Arc<Claims>, String), AuthnError> {
    let (url, flow) = login.start(CALLBACK, "/docs/x".into()).await?;
    let state = query_param(&url, "state").unwrap();
    let nonce = query_param(&url, "nonce").unwrap();
    idp.state.lock().nonce = nonce;
    let done = login.finish(CALLBACK, "the-code", &state, flow).await?;
    assert!(
        !done.id_token.is_empty(),
        "the ID token is kept for sign-out"
    );
    Ok((done.claims, done.return_to))
}

#[tokio::test]
async fn finish_verifies_the_id_token_and_skips_userinfo_when_not_needed() {
    let idp = FakeIdp::start().await;
    let login = OidcLogin::new(idp.config(), HttpClient::new().unwrap()).unwrap();
    let (claims, return_to) = sign_in(&idp, &login).await.unwrap();
    assert_eq!(return_to, "/docs/x");
    assert_eq!(claims.get_str("preferred_username"), Some("ann"));
    assert_eq!(claims.subject(), Some("s1"));
    assert_eq!(claims.get_str("iss"), Some(idp.issuer.as_str()));
    assert_eq!(idp.server.hits("/token"), 1);
    assert_eq!(idp.server.hits("/me"), 0);
}

#[tokio::test]
async fn userinfo_fills_a_missing_identity_claim_without_overriding() {
    let idp = FakeIdp::start().await;
    {
        let mut st = idp.state.lock();
        st.id_claims = json!({"sub": "s1", "name": "From ID token"});
        st.userinfo = json!({"sub": "s1", "oid": "object-7", "name": "From userinfo"});
    }
    let identity = IdentityConfig {
        claim: "oid".into(),
        attribute: IdentityAttribute::ExternalId,
        email_verified: Default::default(),
    };
    let login = OidcLogin::new(idp.config(), HttpClient::new().unwrap())
        .unwrap()
        .with_identity(&identity);
    let (claims, _) = sign_in(&idp, &login).await.unwrap();
    assert_eq!(claims.get_str("oid"), Some("object-7"));
    assert_eq!(claims.get_str("name"), Some("From ID token"));
    assert_eq!(idp.server.hits("/me"), 1);
}

#[tokio::test]
async fn userinfo_for_another_subject_is_refused() {
    let idp = FakeIdp::start().await;
    {
        let mut st = idp.state.lock();
        st.id_claims = json!({"sub": "s1"});
        st.userinfo = json!({"sub": "someone-else", "preferred_username": "admin"});
    }
    let login = OidcLogin::new(idp.config(), HttpClient::new().unwrap()).unwrap();
    let err = sign_in(&idp, &login).await.unwrap_err();
    assert!(matches!(err, AuthnError::LoginFailed(_)), "{err:?}");
}

#[tokio::test]
async fn a_wrong_nonce_is_refused() {
    let idp = FakeIdp::start().await;
    let login = OidcLogin::new(idp.config(), HttpClient::new().unwrap()).unwrap();
    let (url, flow) = login.start(CALLBACK, "/".into()).await.unwrap();
    let state = query_param(&url, "state").unwrap();
    idp.state.lock().nonce = "replayed-nonce".into();
    let err = login.finish(CALLBACK, "c", &state, flow).await.unwrap_err();
    assert!(matches!(err, AuthnError::LoginFailed(_)), "{err:?}");
}
