//! The login routes end to end against the fake provider: login → callback → session,
//! the refusals, logout.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::header::{COOKIE, SET_COOKIE};
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::authn::testing::{query_param, FakeIdp};
use crate::clock;
use crate::config::{IdentityAttribute, SessionConfig};
use crate::outbound::HttpClient;
use crate::record::{StoreOp, UserRecord};
use crate::store::{SqliteStore, Store};

fn user(ord: u32, name: &str, active: bool) -> StoreOp {
    StoreOp::PutUser(Arc::new(UserRecord {
        active,
        scim_managed: true,
        ..UserRecord::new(ord, format!("id-{name}"), name)
    }))
}

struct App {
    _dir: tempfile::TempDir,
    idp: FakeIdp,
    sessions: Arc<Sessions>,
    router: Router,
    tls: bool,
}

async fn app(tls: bool, public_url: Option<&str>, with_oidc: bool) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let sessions = Arc::new(
        Sessions::load(
            store,
            SessionConfig {
                ttl: Duration::from_secs(3600),
                cookie_name: "scimgate_session".into(),
                secure: tls || public_url.is_some_and(|u| u.starts_with("https://")),
            },
            clock::system(),
        )
        .unwrap(),
    );
    let directory = Arc::new(Directory::default());
    directory.apply(&[user(0, "ann", true), user(1, "bob", false)], 1);
    let identity = IdentityConfig {
        claim: "preferred_username".into(),
        attribute: IdentityAttribute::UserName,
        email_verified: Default::default(),
    };
    let idp = FakeIdp::start().await;
    let oidc = with_oidc.then(|| {
        Arc::new(
            OidcLogin::new(idp.config(), HttpClient::new().unwrap())
                .unwrap()
                .with_identity(&identity),
        )
    });
    let router = routes(AuthnState {
        oidc,
        sessions: sessions.clone(),
        directory,
        identity,
        public_url: public_url.map(String::from),
        admin_origin: None,
        tls,
    });
    App {
        _dir: dir,
        idp,
        sessions,
        router,
        tls,
    }
}

impl App {
    async fn get(&self, uri: &str, cookie: Option<&str>) -> Response {
        let mut req = Request::get(uri).header(HOST, "gate.test");
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        self.router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    /// `/login?rd=..`, then the provider's answer at `/callback`; returns the callback's response.
    async fn sign_in(&self, rd: &str, user: &str) -> Response {
        let login = self.get(&format!("/login?rd={rd}"), None).await;
        assert_eq!(login.status(), StatusCode::FOUND);
        let authorize = location(&login);
        let flow = set_cookies(&login)[0].clone();
        let flow_pair = flow.split(';').next().unwrap().to_owned();
        let state = query_param(&authorize, "state").unwrap();
        {
            let mut st = self.idp.state.lock();
            st.nonce = query_param(&authorize, "nonce").unwrap();
            st.id_claims = serde_json::json!({"sub": "s1", "preferred_username": user});
        }
        self.get(
            &format!("/callback?code=c1&state={state}"),
            Some(&flow_pair),
        )
        .await
    }

    fn session_cookie_name(&self) -> String {
        self.sessions.cookie_name(self.tls)
    }
}

fn location(r: &Response) -> String {
    r.headers()[LOCATION].to_str().unwrap().to_owned()
}

fn set_cookies(r: &Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn body(r: Response) -> String {
    String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn login_then_callback_opens_a_session_and_returns_to_rd() {
    let app = app(false, None, true).await;
    let login = app.get("/login?rd=%2Fdocs%2Fx%3Fa%3D1", None).await;
    assert_eq!(login.status(), StatusCode::FOUND);
    let authorize = location(&login);
    assert!(authorize.starts_with(&format!("{}/auth?", app.idp.issuer)));
    assert_eq!(
        query_param(&authorize, "redirect_uri").as_deref(),
        Some("http://gate.test/.scimgate/callback")
    );
    let flow = &set_cookies(&login)[0];
    assert!(flow.starts_with("scimgate_login_0="), "{flow}");
    assert!(
        flow.ends_with("; Path=/; Max-Age=600; HttpOnly; SameSite=Lax"),
        "{flow}"
    );
    assert_eq!(login.headers()["cache-control"], "no-store");

    let done = app.sign_in("%2Fdocs%2Fx%3Fa%3D1", "ANN").await;
    assert_eq!(done.status(), StatusCode::FOUND);
    assert_eq!(location(&done), "/docs/x?a=1");
    let cookies = set_cookies(&done);
    assert_eq!(cookies.len(), 2);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("scimgate_session="))
        .unwrap();
    assert!(session.ends_with("; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"));
    assert!(cookies
        .contains(&"scimgate_login_0=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax".to_owned()));
    let token = session
        .trim_start_matches("scimgate_session=")
        .split(';')
        .next()
        .unwrap();
    assert_eq!(&*app.sessions.lookup(token).unwrap().user_id, "id-ann");
    assert_eq!(app.session_cookie_name(), "scimgate_session");
}

#[tokio::test]
async fn an_unsafe_rd_returns_to_the_root() {
    let app = app(false, None, true).await;
    for rd in [
        "%2F%2Fevil.com",
        "https%3A%2F%2Fevil.com",
        "%2F%5Cevil.com",
        "%2F%2509%2Fevil",
    ] {
        let done = app.sign_in(rd, "ann").await;
        assert_eq!(done.status(), StatusCode::FOUND, "{rd}");
        assert_eq!(location(&done), "/", "{rd}");
    }
}

#[tokio::test]
async fn under_tls_cookies_are_host_prefixed_and_secure_and_the_public_url_is_used() {
    let app = app(true, Some("https://gate.example.com/"), true).await;
    let login = app.get("/login", None).await;
    let flow = &set_cookies(&login)[0];
    assert!(flow.starts_with("__Host-scimgate_login_0="), "{flow}");
    assert!(flow.ends_with("; HttpOnly; SameSite=Lax; Secure"), "{flow}");
    assert_eq!(
        query_param(&location(&login), "redirect_uri").as_deref(),
        Some("https://gate.example.com/.scimgate/callback")
    );
    let done = app.sign_in("%2F", "ann").await;
    assert_eq!(done.status(), StatusCode::FOUND);
    assert!(set_cookies(&done)
        .iter()
        .any(|c| c.starts_with("__Host-scimgate_session=") && c.ends_with("; Secure")));
}

#[tokio::test]
async fn an_unprovisioned_or_inactive_user_gets_a_403_page_and_no_session() {
    let app = app(false, None, true).await;
    for (who, says) in [
        ("zed", "no account for you is provisioned"),
        (
            "bob",
            "your account is deactivated in scimgate&#39;s directory",
        ),
    ] {
        let done = app.sign_in("%2F", who).await;
        assert_eq!(done.status(), StatusCode::FORBIDDEN, "{who}");
        let cookies = set_cookies(&done);
        assert!(
            cookies.iter().all(|c| !c.starts_with("scimgate_session=")),
            "{cookies:?}"
        );
        let page = body(done).await;
        assert!(page.contains(says), "{who}: {page}");
        assert!(
            page.contains("href=\"/.scimgate/login?prompt=login\">Sign in as someone else"),
            "{page}"
        );
        assert!(page.contains("/.scimgate/assets/style.css"), "{page}");
    }
    assert!(app.sessions.is_empty());
}

#[tokio::test]
async fn an_idp_error_is_a_401_page_naming_the_code() {
    let app = app(false, None, true).await;
    let r = app
        .get(
            "/callback?error=access_denied%3Cscript%3E&error_description=nope",
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookies(&r).is_empty(),
        "no sign-in of this browser was answered"
    );
    let text = body(r).await;
    assert!(text.contains("access_deniedscript"), "{text}");
    assert!(!text.contains("<script>"));
}

#[tokio::test]
async fn a_callback_without_the_flow_cookie_or_with_a_forged_state_is_a_401() {
    let app = app(false, None, true).await;
    let r = app.get("/callback?code=c&state=s", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let login = app.get("/login", None).await;
    let flow = set_cookies(&login)[0].split(';').next().unwrap().to_owned();
    let r = app.get("/callback?code=c&state=forged", Some(&flow)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.idp.server.hits("/token"), 0);
    assert!(app.sessions.is_empty());
}

#[tokio::test]
async fn logout_is_a_same_origin_post_and_get_signs_nobody_out() {
    let app = app(false, None, true).await;
    let token = app.sessions.create("id-ann").await.unwrap();
    let send = |method: &str, origin: Option<&str>| {
        let mut req = Request::builder()
            .method(method)
            .uri("/logout")
            .header(HOST, "gate.test")
            .header(COOKIE, format!("scimgate_session={token}"));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        app.router.clone().oneshot(req.body(Body::empty()).unwrap())
    };
    // GET: a page with a button, the session lives on.
    let r = send("GET", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookies(&r).is_empty());
    // The button's POST must carry our Origin (under no-referrer it would be `null`).
    assert_eq!(r.headers()["referrer-policy"], "same-origin");
    let page = body(r).await;
    assert!(
        page.contains("<form method=\"post\" action=\"/.scimgate/logout\">"),
        "{page}"
    );
    assert!(app.sessions.lookup(&token).is_some());
    // Another origin, or none: refused.
    for origin in [Some("http://evil.test"), Some("https://gate.test"), None] {
        let r = send("POST", origin).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin:?}");
        assert!(set_cookies(&r).is_empty());
        assert!(app.sessions.lookup(&token).is_some());
    }
    let r = send("POST", Some("http://gate.test")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/.scimgate/signed-out");
    assert_eq!(
        set_cookies(&r),
        vec!["scimgate_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax".to_owned()]
    );
    assert!(app.sessions.lookup(&token).is_none());
    let page = app.get("/signed-out", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(body(page).await.contains("/.scimgate/login"));
}

#[tokio::test]
async fn an_https_public_url_without_local_tls_makes_cookies_secure() {
    let app = app(false, Some("https://gate.example.com"), true).await;
    let login = app.get("/login", None).await;
    let flow = &set_cookies(&login)[0];
    assert!(flow.starts_with("__Host-scimgate_login_0="), "{flow}");
    assert!(flow.ends_with("; Secure"), "{flow}");
}

#[tokio::test]
async fn several_tabs_sign_in_at_once() {
    let app = app(false, None, true).await;
    // Three logins from one browser: each takes its own slot.
    let mut jar: Vec<String> = Vec::new();
    let mut states = Vec::new();
    for _ in 0..3 {
        let cookie = jar.join("; ");
        let login = app
            .get("/login", (!cookie.is_empty()).then_some(cookie.as_str()))
            .await;
        let authorize = location(&login);
        let set = set_cookies(&login)[0].split(';').next().unwrap().to_owned();
        jar.push(set);
        states.push((
            query_param(&authorize, "state").unwrap(),
            query_param(&authorize, "nonce").unwrap(),
        ));
    }
    assert!(jar[2].starts_with("scimgate_login_2="), "{jar:?}");
    // The first tab finishes last, with every cookie still sent.
    let (state, nonce) = &states[0];
    app.idp.state.lock().nonce = nonce.clone();
    let done = app
        .get(
            &format!("/callback?code=c1&state={state}"),
            Some(&jar.join("; ")),
        )
        .await;
    assert_eq!(done.status(), StatusCode::FOUND);
    assert!(set_cookies(&done)
        .contains(&"scimgate_login_0=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax".to_owned()));
}

#[tokio::test]
async fn without_a_provider_login_is_404_and_a_bad_host_is_400() {
    let app = app(false, None, false).await;
    assert_eq!(
        app.get("/login", None).await.status(),
        StatusCode::NOT_FOUND
    );
    let app = self::app(false, None, true).await;
    let req = Request::get("/login")
        .header(HOST, "evil.test/\"x")
        .body(Body::empty())
        .unwrap();
    let r = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_unreachable_provider_is_a_502_page() {
    let app = app(false, None, true).await;
    app.idp.state.lock().discovery_status = 500;
    let r = app.get("/login", None).await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(body(r).await.contains("cannot be reached"));
}
