//! The proxied-request map, kind by kind: status, code, body and headers, and that no
//! cause (an upstream address, a file path) reaches the client. Kinds that a running
//! server produces are also tested through HTTP (`tests/it/error_map.rs`).

use http_body_util::BodyExt;

use super::*;
use crate::path::{Ambiguity, PathError};
use crate::store::StoreError;

/// A real client error: a connection refused on a port nothing listens on, asking for
/// a path that must not be echoed.
async fn refused() -> hyper_util::client::legacy::Error {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Body>();
    client
        .get(format!("http://{addr}/secret-path").parse().unwrap())
        .await
        .unwrap_err()
}

/// The status, headers and body text of `e`'s answer.
async fn answered(e: GateError, wants_html: bool) -> (StatusCode, http::HeaderMap, String) {
    let r = e.into_response(wants_html);
    let (parts, body) = r.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

/// Presented credentials, refused (or not checked) for `reason`.
fn credentials_refused(reason: AuthnError) -> GateError {
    GateError::Unauthenticated {
        login_return_to: None,
        reason: Some(reason),
        login_enabled: true,
    }
}

/// No credentials; a browser is sent to sign in, back to `login_return_to`.
fn anonymous(login_return_to: Option<&str>) -> GateError {
    GateError::Unauthenticated {
        login_return_to: login_return_to.map(str::to_owned),
        reason: None,
        login_enabled: true,
    }
}

/// Every upstream-side kind: (error, status, code), with the texts its cause holds.
async fn upstream_cases() -> Vec<(ProxyError, u16, &'static str)> {
    vec![
        (PathError::BadPercentEncoding.into(), 400, "bad_path"),
        (
            ProxyError::AmbiguousPath(Ambiguity::EncodedSlash),
            400,
            "bad_path",
        ),
        (ProxyError::RequestBodyStalled, 408, "request_timeout"),
        (
            ProxyError::UpstreamConnect(refused().await),
            502,
            "upstream",
        ),
        (ProxyError::Upstream(refused().await), 502, "upstream"),
        (ProxyError::UnexpectedSwitch, 502, "upstream"),
        (
            ProxyError::UpstreamConnectTimeout(refused().await),
            504,
            "upstream_timeout",
        ),
        (ProxyError::ResponseTimeout, 504, "upstream_timeout"),
        (ProxyError::Overloaded, 503, "upstream_busy"),
        (ProxyError::Cancelled, 503, "cancelled"),
        (
            ProxyError::BadUpstreamUri {
                reason: "no host in /srv/secret-route",
            },
            500,
            "misconfigured",
        ),
        (
            ProxyError::UpstreamUri(http::Uri::builder().scheme("\n").build().unwrap_err()),
            500,
            "misconfigured",
        ),
        (
            ProxyError::CaFile {
                path: "/etc/secret-path/ca.pem".into(),
                source: rustls_pki_types::pem::Error::NoItemsFound,
            },
            500,
            "misconfigured",
        ),
        (
            ProxyError::Tls(rustls::Error::General("secret-path".into())),
            500,
            "misconfigured",
        ),
        (
            ProxyError::KeyFile {
                path: "/var/lib/secret-path/key.pem".into(),
                source: std::io::Error::other("denied"),
            },
            500,
            "misconfigured",
        ),
        (
            ProxyError::KeyInvalid {
                path: "/var/lib/secret-path/key.pem".into(),
            },
            500,
            "misconfigured",
        ),
        (ProxyError::Signing, 500, "misconfigured"),
    ]
}

/// What the causes in [`upstream_cases`] hold and no answer may.
const CAUSES: [&str; 4] = ["secret-path", "127.0.0.1", "/etc/", "/var/"];

#[tokio::test]
async fn every_upstream_kind_has_its_status_code_and_a_public_message() {
    for (error, status, code) in upstream_cases().await {
        let what = format!("{error:?}");
        let (s, headers, text) = answered(GateError::Upstream(error), false).await;
        assert_eq!(s.as_u16(), status, "{what}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{what}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{what}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"], code, "{what}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}"
        );
        for cause in CAUSES {
            assert!(!text.contains(cause), "{what}: {text}");
        }
        assert_eq!(
            headers.get(header::CONNECTION).is_some(),
            status == 408,
            "{what}: only a stalled body closes the connection"
        );
    }
    // Browsers get pages with the same statuses and no more in them.
    for (error, status, _) in upstream_cases().await {
        let what = format!("{error:?}");
        let (s, headers, text) = answered(GateError::Upstream(error), true).await;
        assert_eq!(s.as_u16(), status, "{what}");
        let content_type = headers[header::CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with("text/html"), "{what}");
        for cause in CAUSES {
            assert!(!text.contains(cause), "{what}: {text}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_not_a_bad_token() {
    for e in [AuthnError::JwksUnavailable, AuthnError::IdpUnavailable] {
        let (s, headers, text) = answered(credentials_refused(e), false).await;
        assert_eq!(s, StatusCode::BAD_GATEWAY);
        assert!(headers.get(header::WWW_AUTHENTICATE).is_none(), "{text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"], "idp_unavailable");
        assert_eq!(body["detail"], IDP_UNREACHABLE);
    }
}

#[tokio::test]
async fn our_own_failure_while_checking_credentials_is_a_500_without_its_cause() {
    let e = AuthnError::Store(StoreError::Corrupt("/var/lib/secret-path/db".into()));
    let (s, headers, text) = answered(credentials_refused(e), false).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
    assert!(!text.contains("secret-path"), "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["detail"], CREDENTIALS_UNCHECKED);
}

#[tokio::test]
async fn refused_credentials_get_401_with_an_invalid_token_challenge() {
    for e in [
        AuthnError::Expired,
        AuthnError::BadToken("the \"alg\" is none"),
        AuthnError::WrongAudience,
        AuthnError::UnknownKey,
    ] {
        let said = e.to_string();
        let (s, headers, text) = answered(credentials_refused(e), false).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let challenge = headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"scimgate\", error=\"invalid_token\""),
            "{challenge}"
        );
        assert!(challenge.contains(&said.replace('"', "'")), "{challenge}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"], "unauthenticated");
        assert_eq!(body["detail"], said);
    }
}

#[tokio::test]
async fn no_credentials_get_a_challenge_or_the_sign_in_redirect() {
    let (s, headers, _) = answered(anonymous(None), false).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"scimgate\""
    );
    let (s, headers, _) = answered(anonymous(Some("/a b?x=1")), true).await;
    assert_eq!(s, StatusCode::FOUND);
    assert_eq!(
        headers[header::LOCATION],
        "/.scimgate/login?rd=/a%20b%3Fx%3D1"
    );
    assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
}

#[tokio::test]
async fn request_and_policy_refusals_keep_their_statuses_and_codes() {
    let cases: Vec<(GateError, u16, &str)> = vec![
        (
            GateError::BadPath("bad percent-encoding in path".into()),
            400,
            "bad_path",
        ),
        (GateError::AmbiguousPath("%2F".into()), 400, "bad_path"),
        (
            GateError::BadHost("more than one Host header".into()),
            400,
            "bad_host",
        ),
        (GateError::NoRoute, 404, "no_route"),
        (
            GateError::UnsupportedTransferCoding("gzip".into()),
            501,
            "unsupported_transfer_coding",
        ),
        (GateError::UntrustedPeer, 403, "untrusted_peer"),
        (
            GateError::NotProvisioned {
                browser: false,
                login_enabled: true,
            },
            403,
            "not_provisioned",
        ),
        (GateError::StaleDirectory, 503, "stale_directory"),
        (
            GateError::RateLimited(Box::new(crate::gate::limits::Refused {
                standing: crate::gate::limits::Standing {
                    scope: crate::gate::limits::Scope::User,
                    rate: crate::policy::rate_limit::Rate::parse("10/s", None).unwrap(),
                    remaining: 0,
                    wait_secs: 0.3,
                },
                policies: crate::gate::limits::Policies::new(),
            })),
            429,
            "rate_limited",
        ),
        (
            GateError::Forbidden(Box::new(Forbidden {
                browser: false,
                user_name: "alice".into(),
                method: "GET".into(),
                path: "/private".into(),
                by: RuleRef {
                    route: "app".into(),
                    rule: "default-deny".into(),
                    location: "/etc/scimgate/policies/app.yaml:3".into(),
                },
                allowing_groups: vec!["admins".into()],
                login_enabled: true,
                offers: Vec::new(),
                csrf: None,
            })),
            403,
            "forbidden",
        ),
    ];
    for (e, status, code) in cases {
        let what = format!("{e:?}");
        let (s, headers, text) = answered(e, false).await;
        assert_eq!(s.as_u16(), status, "{what}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"], code, "{what}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}"
        );
        assert!(!text.contains("/etc/"), "{what}: {text}");
        assert_eq!(
            headers.get(header::CONNECTION).is_some(),
            status == 501,
            "{what}"
        );
    }
}
