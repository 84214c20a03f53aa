//! The browser edge against hostile traffic (issue 11), through the real HTTP surface:
//! a flood of `/login` cannot push a real sign-in out; cookies are `Secure` behind a
//! TLS-terminating proxy; sign-out is a same-origin POST; the admin UI answers on its
//! own origin only; an upstream cannot set scimgate's cookies nor have shared caches
//! keep protected responses.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tokio::net::TcpListener;

use crate::oidc_provider::Provider;
use crate::support::{self, Gate};

/// A client that does not follow redirects nor keep cookies (the tests carry them).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// `name=value` of a `Set-Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn location(headers: &HeaderMap) -> String {
    headers["location"].to_str().unwrap().to_owned()
}

async fn user_id(g: &Gate, name: &str) -> String {
    support::str_of(&g.create_user(name).await["id"]).to_owned()
}

/// `GET /.scimgate/me` as JSON with `cookie`: the status.
async fn me(g: &Gate, cookie: &str) -> StatusCode {
    client()
        .get(format!("{}/.scimgate/me", g.root()))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_pending_sign_in_survives_a_login_flood_and_its_callback_succeeds() {
    let idp = Provider::start().await;
    let g = support::start(&idp.config()).await;
    user_id(&g, "ann").await;
    let http = client();
    let login_url = format!("{}/.scimgate/login", g.root());

    // The victim starts signing in...
    let login = http
        .get(format!("{login_url}?rd=%2Fdocs%2F"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::FOUND);
    let authorize = location(login.headers());
    let pending = pair(&set_cookies(login.headers())[0]);

    // ...while anonymous clients start more sign-ins than the old in-memory cap held.
    const FLOOD: usize = 10_050;
    let found = futures_util::stream::iter(0..FLOOD)
        .map(|_| {
            let (http, url) = (http.clone(), login_url.clone());
            async move { http.get(url).send().await.unwrap().status() }
        })
        .buffer_unordered(32)
        .filter(|s| std::future::ready(*s == StatusCode::FOUND))
        .count()
        .await;
    assert_eq!(
        found, FLOOD,
        "every flood request was answered with a redirect"
    );

    // The victim's callback still finishes the sign-in.
    let callback = idp.approve(&authorize, "ann");
    let done = http
        .get(format!("{}{callback}", g.root()))
        .header("cookie", &pending)
        .send()
        .await
        .unwrap();
    let headers = done.headers().clone();
    assert_eq!(
        done.status(),
        StatusCode::FOUND,
        "{}",
        done.text().await.unwrap()
    );
    assert_eq!(location(&headers), "/docs/");
    let session = set_cookies(&headers)
        .into_iter()
        .find(|c| c.starts_with("scimgate_session="))
        .expect("a session cookie");
    assert_eq!(me(&g, &pair(&session)).await, StatusCode::OK);

    // Without the browser's cookie, an answer is refused and the IdP is not asked.
    let asked = idp.token_requests();
    let login = http.get(&login_url).send().await.unwrap();
    let callback = idp.approve(&location(login.headers()), "ann");
    let stolen = http
        .get(format!("{}{callback}", g.root()))
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(idp.token_requests(), asked);
}

#[tokio::test]
async fn behind_a_tls_terminating_proxy_cookies_are_secure_and_host_prefixed() {
    let idp = Provider::start().await;
    let g = support::start(&format!(
        "public_url: https://gate.example.com\n{}",
        idp.config()
    ))
    .await;
    user_id(&g, "ann").await;
    let http = client();
    let login = http
        .get(format!("{}/.scimgate/login", g.root()))
        .send()
        .await
        .unwrap();
    let pending = set_cookies(login.headers()).remove(0);
    assert!(pending.starts_with("__Host-scimgate_login_"), "{pending}");
    assert!(pending.contains("; Secure"), "{pending}");
    let callback = idp.approve(&location(login.headers()), "ann");
    let done = http
        .get(format!("{}{callback}", g.root()))
        .header("cookie", pair(&pending))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::FOUND);
    let cookies = set_cookies(done.headers());
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-scimgate_session="))
        .unwrap_or_else(|| panic!("a prefixed session cookie: {cookies:?}"));
    assert!(session.contains("; Secure"), "{session}");
    assert!(
        cookies
            .iter()
            .all(|c| c.starts_with("__Host-") && c.contains("; Secure")),
        "{cookies:?}"
    );
    assert_eq!(me(&g, &pair(session)).await, StatusCode::OK);
}

#[tokio::test]
async fn sign_out_is_a_same_origin_post() {
    let g = support::start("").await;
    let ann = user_id(&g, "ann").await;
    let token = g.running.sessions.create(&ann).await.unwrap();
    let cookie = format!("scimgate_session={token}");
    let http = client();
    let logout = format!("{}/.scimgate/logout", g.root());

    // A GET (a link, an <img> on another site) signs nobody out: it shows a button.
    let r = http
        .get(&logout)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookies(r.headers()).is_empty());
    let page = r.text().await.unwrap();
    assert!(
        page.contains("method=\"post\" action=\"/.scimgate/logout\""),
        "{page}"
    );
    assert_eq!(me(&g, &cookie).await, StatusCode::OK);

    // A cross-site POST, or one that says nothing of where it comes from: refused.
    for origin in [Some("https://evil.example"), None] {
        let mut req = http.post(&logout).header("cookie", &cookie);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin:?}");
        assert!(set_cookies(r.headers()).is_empty());
        assert_eq!(me(&g, &cookie).await, StatusCode::OK);
    }

    // From scimgate's own origin: signed out.
    let r = http
        .post(&logout)
        .header("cookie", &cookie)
        .header("origin", g.root())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(r.headers()), "/.scimgate/signed-out");
    assert!(set_cookies(r.headers())[0].starts_with("scimgate_session=; "));
    assert_eq!(me(&g, &cookie).await, StatusCode::UNAUTHORIZED);
}

const ADMIN_POLICY: &str = "routes:
  - name: docs
    match: { host: docs.test, path: /** }
    upstream: http://127.0.0.1:9
    allow:
      - { groups: [staff] }
";

/// `GET path` on `host` with `cookie`: status and body.
async fn get_on(g: &Gate, host: &str, path: &str, cookie: &str) -> (StatusCode, String) {
    let r = client()
        .get(format!("{}{path}", g.root()))
        .header("host", host)
        .header("cookie", cookie)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// An admin's session cookie on a gate with `config` and `policy`.
async fn admin_gate(config: &str, policy: &str) -> (Gate, String) {
    let g = support::start_with_policies(config, &[("p.yaml", policy)]).await;
    let carol = user_id(&g, "carol").await;
    g.create_group("admins", &[&carol]).await;
    let token = g.running.sessions.create(&carol).await.unwrap();
    (g, format!("scimgate_session={token}"))
}

#[tokio::test]
async fn the_admin_ui_answers_on_the_admin_origin_only() {
    let config = "public_url: http://gate.test\nadmin: { groups: [admins] }\n";
    let (g, cookie) = admin_gate(config, ADMIN_POLICY).await;
    // On an origin an upstream serves: not there at all.
    let (status, _) = get_on(&g, "docs.test", "/.scimgate/admin/tokens", &cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // On the admin origin (the public URL's): served, with its forms.
    let (status, page) = get_on(&g, "gate.test", "/.scimgate/admin/tokens", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let at = page.find("name=\"csrf\" value=\"").expect("a form") + 19;
    let csrf = page[at..at + 64].to_owned();
    // A change posted on the upstream's origin is refused, even with a good token.
    let r = client()
        .post(format!("{}/.scimgate/admin/tokens", g.root()))
        .header("host", "docs.test")
        .header("origin", "http://docs.test")
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "planted"),
            ("scope", "admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (_, list) = get_on(&g, "gate.test", "/.scimgate/admin/tokens", &cookie).await;
    assert!(!list.contains("planted"), "no token was made");
    // /me stays readable wherever the user is.
    let (status, _) = get_on(&g, "docs.test", "/.scimgate/me", &cookie).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_admin_ui_is_refused_on_an_origin_routes_also_serve_unless_accepted() {
    let any_host = "routes:
  - name: everything
    match: { path: /** }
    upstream: http://127.0.0.1:9
";
    let config = "public_url: http://gate.test\nadmin: { groups: [admins] }\n";
    let (g, cookie) = admin_gate(config, any_host).await;
    let (status, page) = get_on(&g, "gate.test", "/.scimgate/admin/users", &cookie).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("allow_shared_origin"), "{page}");

    let accepted =
        "public_url: http://gate.test\nadmin: { groups: [admins], allow_shared_origin: true }\n";
    let (g, cookie) = admin_gate(accepted, any_host).await;
    let (status, _) = get_on(&g, "gate.test", "/.scimgate/admin/users", &cookie).await;
    assert_eq!(status, StatusCode::OK);
}

/// An upstream that answers every request with scimgate's cookies in every spelling,
/// one of its own, and shared-cache headers.
async fn hostile_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"hello")));
                    let h = r.headers_mut();
                    for c in [
                        "scimgate_session=fixed-by-upstream; Path=/; HttpOnly",
                        "__Host-scimgate_session=fixed; Path=/; Secure",
                        "__Secure-SCIMGATE_SESSION=fixed; Path=/; Secure",
                        "scimgate_login_0=forged; Path=/",
                        "app=1; Path=/",
                    ] {
                        h.append("set-cookie", hyper::header::HeaderValue::from_static(c));
                    }
                    h.insert(
                        "cache-control",
                        hyper::header::HeaderValue::from_static("public, max-age=600"),
                    );
                    h.insert(
                        "cdn-cache-control",
                        hyper::header::HeaderValue::from_static("max-age=600"),
                    );
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// A gate with one route per (name, path, extra settings) to the hostile upstream, all
/// open to `staff`, and a staff member's session cookie.
async fn gate_before_hostile_upstream(routes: &[(&str, &str, &str)]) -> (Gate, String) {
    let upstream = hostile_upstream().await;
    let mut policy = "routes:\n".to_owned();
    for (name, path, extra) in routes {
        policy.push_str(&format!(
            "  - name: {name}\n    match: {{ path: {path} }}\n    upstream: {upstream}\n{extra}    allow:\n      - {{ groups: [staff] }}\n"
        ));
    }
    let g = support::start_with_policies("", &[("p.yaml", &policy)]).await;
    let ann = user_id(&g, "ann").await;
    g.create_group("staff", &[&ann]).await;
    let token = g.running.sessions.create(&ann).await.unwrap();
    (g, format!("scimgate_session={token}"))
}

async fn fetch(g: &Gate, path: &str, cookie: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", g.root()))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn upstream_responses_cannot_set_our_cookies_nor_be_shared_cached() {
    let (g, cookie) = gate_before_hostile_upstream(&[("app", "/**", "")]).await;
    let r = fetch(&g, "/report.html", &cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(set_cookies(r.headers()), vec!["app=1; Path=/".to_owned()]);
    assert_eq!(r.headers()["cache-control"], "private, max-age=600");
    assert!(r.headers().get("cdn-cache-control").is_none());
    // The session the upstream tried to fix is not ours: ann's still works.
    assert_eq!(me(&g, &cookie).await, StatusCode::OK);
}

#[tokio::test]
async fn cache_upstream_passes_the_upstreams_caching_but_never_our_cookies() {
    let (g, cookie) =
        gate_before_hostile_upstream(&[("assets", "/assets/**", "    cache: upstream\n")]).await;
    let r = fetch(&g, "/assets/app.css", &cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(set_cookies(r.headers()), vec!["app=1; Path=/".to_owned()]);
    assert_eq!(r.headers()["cache-control"], "public, max-age=600");
}
