//! Header hygiene: hop-by-hop removal, identity stripping in every spelling, and
//! forwarding headers from trusted and untrusted peers.

use super::*;

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

fn ctx(trusted_proxy: bool) -> ClientContext {
    ClientContext {
        peer: "192.0.2.7".parse().unwrap(),
        trusted_proxy,
        tls: true,
        host: "docs.example.com".into(),
    }
}

fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

fn all<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[test]
fn identity_headers_are_recognised_in_every_spelling() {
    for name in [
        "x-auth-request-user",
        "X-AUTH-REQUEST-USER",
        "x-AUTH-request-user",
        "X_Auth_Request_User",
        "x_auth-request_email",
        "x-auth-request-anything",
        "x-scimgate-assertion",
        "X_Scimgate_Whatever",
        "x-forwarded-user",
        "X_Forwarded_User",
        "x-forwarded-email",
        "x-forwarded-groups",
        "x-forwarded-preferred-username",
        "X_FORWARDED_ACCESS_TOKEN",
        "remote-user",
        "Remote_User",
        "x-remote-user",
        "x-user",
        "x_email",
    ] {
        let header = HeaderName::from_bytes(name.as_bytes()).unwrap();
        assert!(is_identity_header(&header), "{name}");
    }
    for name in [
        "x-forwarded-for",
        "authorization",
        "x-users",
        "user",
        "x-auth-request",
    ] {
        let header = HeaderName::from_bytes(name.as_bytes()).unwrap();
        assert!(!is_identity_header(&header), "{name}");
    }
}

#[test]
fn client_identity_headers_never_pass_even_from_trusted_proxies() {
    for trusted in [false, true] {
        let mut headers = map(&[
            ("X_Auth_Request_User", "mallory"),
            ("x-AUTH-request-user", "mallory"),
            ("X-Auth-Request-Groups", "admins"),
            ("x-forwarded-user", "mallory"),
            ("X_Forwarded_User", "mallory"),
            ("remote_user", "mallory"),
            ("x-scimgate-assertion", "forged"),
            ("accept", "text/html"),
        ]);
        prepare_request(&mut headers, &ctx(trusted), false);
        for (name, _) in headers.iter() {
            assert!(
                !is_identity_header(name),
                "{name} survived (trusted {trusted})"
            );
        }
        assert_eq!(get(&headers, "accept"), Some("text/html"));
    }
}

#[test]
fn hop_by_hop_headers_are_removed() {
    let mut headers = map(&[
        ("connection", "keep-alive, x-custom-hop"),
        ("keep-alive", "timeout=5"),
        ("proxy-connection", "keep-alive"),
        ("proxy-authenticate", "Basic"),
        ("proxy-authorization", "Basic Zm9vOmJhcg=="),
        ("te", "trailers"),
        ("trailer", "x-checksum"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("x-custom-hop", "1"),
        ("x-end-to-end", "1"),
    ]);
    prepare_request(&mut headers, &ctx(false), false);
    for gone in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "x-custom-hop",
    ] {
        assert!(headers.get(gone).is_none(), "{gone} survived");
    }
    assert_eq!(get(&headers, "x-end-to-end"), Some("1"));
}

#[test]
fn names_connection_lists_go_in_any_case_and_in_every_copy() {
    let mut headers = map(&[
        ("connection", "X-Custom-HOP , not a name,, x-absent"),
        ("connection", "X-Second"),
        ("x-custom-hop", "1"),
        ("x-custom-hop", "2"),
        ("x-second", "1"),
        ("x-end-to-end", "1"),
    ]);
    prepare_response(&mut headers, false);
    for gone in ["connection", "x-custom-hop", "x-second"] {
        assert!(headers.get(gone).is_none(), "{gone} survived");
    }
    assert_eq!(get(&headers, "x-end-to-end"), Some("1"));
    // Nothing hop-by-hop: nothing changes.
    let mut plain = map(&[("x-end-to-end", "1"), ("accept", "*/*")]);
    prepare_response(&mut plain, false);
    assert_eq!(plain.len(), 2);
}

#[test]
fn upgrade_keeps_upgrade_with_connection_upgrade() {
    let mut headers = map(&[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ]);
    assert!(is_websocket_upgrade(Version::HTTP_11, &headers));
    prepare_request(&mut headers, &ctx(false), true);
    assert_eq!(get(&headers, "upgrade"), Some("websocket"));
    assert_eq!(all(&headers, "connection"), ["upgrade"]);
    assert!(headers.get("sec-websocket-key").is_some());
}

const WS_KEY: (&str, &str) = ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
const WS_VERSION: (&str, &str) = ("sec-websocket-version", "13");

#[test]
fn websocket_upgrade_needs_both_headers_and_http_1_1() {
    let both = map(&[
        ("connection", "Upgrade"),
        ("upgrade", "WebSocket"),
        WS_KEY,
        WS_VERSION,
    ]);
    assert!(is_websocket_upgrade(Version::HTTP_11, &both));
    assert!(!is_websocket_upgrade(Version::HTTP_2, &both));
    assert!(!is_websocket_upgrade(Version::HTTP_10, &both));
    let no_connection = map(&[("upgrade", "websocket"), WS_KEY, WS_VERSION]);
    assert!(!is_websocket_upgrade(Version::HTTP_11, &no_connection));
    let other = map(&[
        ("connection", "upgrade"),
        ("upgrade", "h2c"),
        WS_KEY,
        WS_VERSION,
    ]);
    assert!(!is_websocket_upgrade(Version::HTTP_11, &other));
}

#[test]
fn only_websocket_alone_with_its_handshake_is_an_upgrade() {
    // An offer the upstream may answer with h2c: the tunnel would carry requests the
    // gate never judged.
    for upgrade in ["h2c, websocket", "websocket, h2c", "websocket/13, foo"] {
        let offer = map(&[
            ("connection", "upgrade"),
            ("upgrade", upgrade),
            WS_KEY,
            WS_VERSION,
        ]);
        assert!(!is_websocket_upgrade(Version::HTTP_11, &offer), "{upgrade}");
    }
    let twice = map(&[
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("upgrade", "h2c"),
        WS_KEY,
        WS_VERSION,
    ]);
    assert!(!is_websocket_upgrade(Version::HTTP_11, &twice));
    let no_key = map(&[
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        WS_VERSION,
    ]);
    assert!(!is_websocket_upgrade(Version::HTTP_11, &no_key));
    let short_key = map(&[
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-key", "c2hvcnQ="),
        WS_VERSION,
    ]);
    assert!(!is_websocket_upgrade(Version::HTTP_11, &short_key));
    let old_version = map(&[
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        WS_KEY,
        ("sec-websocket-version", "8"),
    ]);
    assert!(!is_websocket_upgrade(Version::HTTP_11, &old_version));
    // Not an upgrade: `Upgrade` is dropped, so the upstream is offered nothing.
    let mut h2c = map(&[
        ("connection", "Upgrade, HTTP2-Settings"),
        ("upgrade", "h2c, websocket"),
        ("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA"),
    ]);
    prepare_request(&mut h2c, &ctx(false), false);
    assert!(h2c.get("upgrade").is_none());
    assert!(h2c.get("http2-settings").is_none());
    assert!(h2c.get("connection").is_none());
}

#[test]
fn the_common_identity_conventions_are_stripped_in_every_spelling() {
    for name in [
        "X-WEBAUTH-USER",
        "x_webauth_user",
        "X-WebAuth-Groups",
        "x-webauth-email",
        "X-Auth-User",
        "x_auth_user",
        "x.auth.user",
        "X-Remote-Groups",
        "X_REMOTE_GROUP",
        "X-Remote-Email",
        "X-Remote-Name",
        "X-Remote-Extra-Scopes",
        "Remote-Groups",
        "Remote_Email",
        "X-Forwarded-Preferred-Username",
        "X-Auth-Request-Access-Token",
        "X-Pomerium-Jwt-Assertion",
        "x_pomerium_claim_email",
        "X-Goog-Authenticated-User-Email",
        "X-Goog-Authenticated-User-Id",
        "X-Goog-Iap-Jwt-Assertion",
        "Cf-Access-Authenticated-User-Email",
        "CF_ACCESS_JWT_ASSERTION",
        "X-Ms-Client-Principal",
        "X-MS-CLIENT-PRINCIPAL-NAME",
        "X-Ms-Client-Principal-Id",
        "X-Ms-Token-Aad-Access-Token",
        "X-Amzn-Oidc-Data",
        "x-amzn-oidc-identity",
        "X-Scimgate-Anything",
        "X-Authentik-Username",
        "X-Vouch-User",
        "X-User-Email",
        "X-Username",
        "X~User",
    ] {
        let header = HeaderName::from_bytes(name.as_bytes()).unwrap();
        assert!(is_identity_header(&header), "{name}");
    }
    for name in [
        "x-auth-token",
        "x-request-id",
        "user-agent",
        "x-forwarded-for",
        "remote",
    ] {
        let header = HeaderName::from_bytes(name.as_bytes()).unwrap();
        assert!(!is_identity_header(&header), "{name}");
    }
}

#[test]
fn the_strip_list_extends_from_configuration() {
    // Names and prefixes that begin unlike any built-in one (`l`, `-`) as well.
    let strip = IdentityStrip::with_extra(
        &["X-Corp-Login".into(), "Login-As".into()],
        &["x_acme_".into(), "_my_".into()],
    )
    .unwrap();
    let mut headers = map(&[
        ("login-as", "root"),
        ("LOGIN_AS", "root"),
        ("_my_user", "root"),
        ("-my-groups", "admins"),
        ("login-hint", "kept"),
        ("x-corp-login", "root"),
        ("X_CORP_LOGIN", "root"),
        ("x.corp.login", "root"),
        ("x-acme-groups", "admins"),
        ("X_Acme_User", "root"),
        ("x-webauth-user", "root"),
        ("x-corp-login-hint", "kept"),
        ("accept", "text/html"),
    ]);
    sanitise_request(&mut headers, &ctx(false), false, &strip);
    let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    for gone in [
        "login-as",
        "login_as",
        "_my_user",
        "-my-groups",
        "x-corp-login",
        "x_corp_login",
        "x.corp.login",
        "x-acme-groups",
        "x_acme_user",
        "x-webauth-user",
    ] {
        assert!(!left.contains(&gone), "{gone} survived: {left:?}");
    }
    assert_eq!(get(&headers, "x-corp-login-hint"), Some("kept"));
    assert_eq!(get(&headers, "login-hint"), Some("kept"));
    assert_eq!(get(&headers, "accept"), Some("text/html"));
    // The built-in list alone does not know the configured names.
    assert!(!IdentityStrip::builtin().matches_str("x-corp-login"));
    for (names, prefixes) in [
        (vec!["bad name".to_owned()], vec![]),
        (vec![], vec!["".to_owned()]),
        (vec![], vec!["-_".to_owned()]),
    ] {
        assert!(
            IdentityStrip::with_extra(&names, &prefixes).is_err(),
            "{names:?} {prefixes:?}"
        );
    }
}

#[test]
fn odd_spellings_of_forwarding_headers_never_pass() {
    let mut headers = map(&[
        ("x.forwarded.host", "evil.example"),
        ("x-forwarded-host", "public.example.com"),
    ]);
    prepare_request(&mut headers, &ctx(true), false);
    assert!(headers.get("x.forwarded.host").is_none());
    assert_eq!(
        get(&headers, "x-forwarded-host"),
        Some("public.example.com")
    );
}

#[tokio::test]
async fn request_trailers_are_dropped_and_the_data_kept() {
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;

    let mut trailers = HeaderMap::new();
    trailers.insert("x-auth-request-user", HeaderValue::from_static("root"));
    let frames: Vec<Result<Frame<bytes::Bytes>, std::convert::Infallible>> = vec![
        Ok(Frame::data(bytes::Bytes::from_static(b"hello "))),
        Ok(Frame::data(bytes::Bytes::from_static(b"world"))),
        Ok(Frame::trailers(trailers)),
    ];
    let body =
        request_trailers::WithoutTrailers::new(StreamBody::new(futures_util::stream::iter(frames)));
    let collected = body.collect().await.unwrap();
    assert!(collected.trailers().is_none());
    assert_eq!(&collected.to_bytes()[..], b"hello world");
}

#[test]
fn connection_naming_an_identity_header_cannot_remove_ours() {
    let mut headers = map(&[
        ("connection", "x-auth-request-user, X-Scimgate-Assertion"),
        ("x-auth-request-user", "mallory"),
    ]);
    prepare_request(&mut headers, &ctx(false), false);
    add_identity(
        &mut headers,
        &IdentityHeaders {
            user: "alice".into(),
            email: Some("alice@example.com".into()),
            groups: vec!["finance".into()],
            assertion: Some("signed.jwt.value".into()),
        },
    );
    assert_eq!(all(&headers, "x-auth-request-user"), ["alice"]);
    assert_eq!(
        get(&headers, "x-scimgate-assertion"),
        Some("signed.jwt.value")
    );
    assert!(headers.get("connection").is_none());
}

#[test]
fn untrusted_peers_cannot_spoof_forwarding_headers() {
    let mut headers = map(&[
        ("x-forwarded-for", "10.0.0.1"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-uri", "/public"),
        ("x-forwarded-method", "GET"),
        ("X_Forwarded_Uri", "/public"),
        ("x-forwarded-prefix", "/x"),
        ("forwarded", "for=10.0.0.1;host=evil.example"),
        ("x-real-ip", "10.0.0.1"),
        ("x-original-url", "/public"),
        ("x-original-uri", "/public"),
        ("X_Original_URI", "/public"),
        ("x-rewrite-url", "/public"),
    ]);
    prepare_request(&mut headers, &ctx(false), false);
    assert_eq!(all(&headers, "x-forwarded-for"), ["192.0.2.7"]);
    assert_eq!(get(&headers, "x-forwarded-proto"), Some("https"));
    assert_eq!(get(&headers, "x-forwarded-host"), Some("docs.example.com"));
    for gone in [
        "x-forwarded-uri",
        "x_forwarded_uri",
        "x-forwarded-method",
        "x-forwarded-prefix",
        "forwarded",
        "x-real-ip",
        "x-original-url",
        "x-original-uri",
        "x_original_uri",
        "x-rewrite-url",
    ] {
        assert!(headers.get(gone).is_none(), "{gone} survived");
    }
}

#[test]
fn trusted_peers_extend_and_keep_forwarding_headers() {
    let mut headers = map(&[
        ("x-forwarded-for", "203.0.113.9, 10.0.0.2"),
        ("x-forwarded-for", "10.0.0.3"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "public.example.com"),
        ("x-forwarded-uri", "/a"),
        ("x_forwarded_for", "1.2.3.4"),
        ("x-real-ip", "203.0.113.9"),
    ]);
    let mut trusted = ctx(true);
    trusted.tls = false;
    prepare_request(&mut headers, &trusted, false);
    assert_eq!(
        all(&headers, "x-forwarded-for"),
        ["203.0.113.9, 10.0.0.2, 10.0.0.3, 192.0.2.7"]
    );
    assert_eq!(get(&headers, "x-forwarded-proto"), Some("https"));
    assert_eq!(
        get(&headers, "x-forwarded-host"),
        Some("public.example.com")
    );
    assert_eq!(get(&headers, "x-forwarded-uri"), Some("/a"));
    assert_eq!(get(&headers, "x-real-ip"), Some("203.0.113.9"));
    assert!(headers.get("x_forwarded_for").is_none());
}

#[test]
fn trusted_peers_without_forwarding_headers_get_ours() {
    let mut headers = HeaderMap::new();
    let mut trusted = ctx(true);
    trusted.tls = false;
    prepare_request(&mut headers, &trusted, false);
    assert_eq!(get(&headers, "x-forwarded-for"), Some("192.0.2.7"));
    assert_eq!(get(&headers, "x-forwarded-proto"), Some("http"));
    assert_eq!(get(&headers, "x-forwarded-host"), Some("docs.example.com"));
}

#[test]
fn identity_values_are_escaped_and_sensitive() {
    let mut headers = map(&[("x-auth-request-email", "old@example.com")]);
    add_identity(
        &mut headers,
        &IdentityHeaders {
            user: "zoë 100%".into(),
            email: None,
            groups: vec!["a,b".into(), "plain".into(), "50%".into()],
            assertion: None,
        },
    );
    assert_eq!(
        get(&headers, "x-auth-request-user"),
        Some("zo%C3%AB 100%25")
    );
    assert_eq!(
        get(&headers, "x-auth-request-groups"),
        Some("a%2Cb,plain,50%25")
    );
    assert!(headers.get("x-auth-request-email").is_none());
    assert!(headers.get("x-scimgate-assertion").is_none());
    assert!(headers["x-auth-request-user"].is_sensitive());
}

#[test]
fn responses_lose_hop_by_hop_headers() {
    let mut headers = map(&[
        ("connection", "close, x-hop"),
        ("x-hop", "1"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("content-type", "text/html"),
    ]);
    prepare_response(&mut headers, false);
    assert_eq!(headers.len(), 1);
    assert_eq!(get(&headers, "content-type"), Some("text/html"));

    let mut switching = map(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
    prepare_response(&mut switching, true);
    assert_eq!(get(&switching, "upgrade"), Some("websocket"));
    assert_eq!(get(&switching, "connection"), Some("upgrade"));
}

#[test]
fn forwarded_values_come_only_from_trusted_proxies() {
    let headers = map(&[
        ("x-forwarded-method", "POST"),
        ("x-forwarded-uri", "/admin?x=1"),
        ("x-forwarded-host", "docs.example.com"),
    ]);
    assert_eq!(
        forwarded_values(&headers, &ctx(false)),
        Forwarded::default()
    );
    assert_eq!(
        forwarded_values(&headers, &ctx(true)),
        Forwarded {
            method: Some(Method::POST),
            uri: Some("/admin?x=1".into()),
            host: Some("docs.example.com".into()),
        }
    );
    let nginx = map(&[("x-original-uri", "/finance/x")]);
    assert_eq!(
        forwarded_values(&nginx, &ctx(true)).uri.as_deref(),
        Some("/finance/x")
    );
}

#[test]
fn peer_text_writes_every_address_as_display_does() {
    let addresses = [
        "0.0.0.0",
        "255.255.255.255",
        "10.0.100.9",
        "1.22.3.44",
        "127.0.0.1",
        "192.168.10.250",
        "::1",
        "2001:db8:85a3::8a2e:370:7334",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "::ffff:192.0.2.128",
    ];
    for text in addresses {
        let ip: IpAddr = text.parse().unwrap();
        let mut buf = [0u8; 64];
        let written = super::peer_text(ip, &mut buf).unwrap();
        assert_eq!(written, ip.to_string().as_bytes(), "{text}");
    }
    // Every IPv4 octet value, in each position.
    for octet in 0..=255u8 {
        let ip = IpAddr::from([octet, 255 - octet, octet / 3, 7]);
        let mut buf = [0u8; 64];
        let written = super::peer_text(ip, &mut buf).unwrap();
        assert_eq!(written, ip.to_string().as_bytes());
    }
}
