//! What a new user meets in the first hour, through the real server: scimgate's own
//! pages name its icon (so the browser does not ask the route for `/favicon.ico`), and
//! a refused icon request is not a record of its own while real denials still are;
//! switching accounts (sign-out at the provider, "sign in as someone else"); a
//! deactivated account told so; browser sign-in off said so; `/me` and the audit page.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;

use scimgate::record::{AuditQuery, AuditRow};
use scimgate::store::{SqliteStore, Store};

use crate::oidc_provider::{query_of, Provider};
use crate::support::{self, Gate};

pub const ADMIN_CONFIG: &str = "admin: { groups: [scimgate-admins], allow_shared_origin: true }\n";
pub const POLICY: &str = "routes:
  - name: docs
    match: { path: /** }
    upstream: http://127.0.0.1:9
    allow:
      - { name: analysts-read, groups: [analysts], methods: [GET, HEAD], paths: [/, /index.html] }
";

/// A browser's request with a session cookie (`None`: no session), not following
/// redirects.
pub struct Browser {
    http: reqwest::Client,
    root: String,
    cookie: Option<String>,
}

impl Browser {
    pub async fn signed_in(g: &Gate, user_id: &str) -> Browser {
        let token = g.running.sessions.create(user_id).await.unwrap();
        Browser {
            cookie: Some(format!("scimgate_session={token}")),
            ..Browser::anonymous(g)
        }
    }

    pub fn anonymous(g: &Gate) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            root: g.root(),
            cookie: None,
        }
    }

    /// A GET with this `Accept` (a navigation sends `text/html`, an icon fetch `image/*`).
    pub async fn get_as(
        &self,
        path: &str,
        accept: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let mut r = self
            .http
            .get(format!("{}{path}", self.root))
            .header("accept", accept);
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        let r = r.send().await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.text().await.unwrap())
    }

    /// A page, as a navigation asks for it.
    pub async fn page(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
        self.get_as(path, "text/html,application/xhtml+xml").await
    }

    /// What a browser asks for on its own to show the site's icon.
    pub async fn icon(&self) -> StatusCode {
        self.get_as(
            "/favicon.ico",
            "image/avif,image/webp,image/apng,image/*,*/*;q=0.8",
        )
        .await
        .0
    }
}

/// Every record in the data directory's chain, in order.
pub fn chain(data: &Path) -> Vec<AuditRow> {
    let store = SqliteStore::open(&data.join("scimgate.db")).unwrap();
    store.audit_query(&AuditQuery::default()).unwrap()
}

fn detail(row: &AuditRow) -> Value {
    serde_json::from_str(row.entry.detail.as_deref().unwrap_or("null")).unwrap()
}

/// The `access.deny` records of `path`.
fn denials<'a>(rows: &'a [AuditRow], path: &str) -> Vec<&'a AuditRow> {
    rows.iter()
        .filter(|r| r.entry.action == "access.deny" && detail(r)["path"] == path)
        .collect()
}

pub async fn user_in(g: &Gate, name: &str) -> String {
    support::str_of(&g.create_user(name).await["id"]).to_owned()
}

#[tokio::test]
async fn pages_name_scimgates_icon_and_icon_refusals_are_not_audit_noise() {
    let g = support::start_with_policies(ADMIN_CONFIG, &[("p.yaml", POLICY)]).await;
    let ann = user_in(&g, "ann").await;
    let vic = user_in(&g, "vic").await;
    g.create_group("analysts", &[&ann]).await;
    g.create_group("scimgate-admins", &[&ann]).await;
    let vic_browser = Browser::signed_in(&g, &vic).await;
    let ann_browser = Browser::signed_in(&g, &ann).await;

    // Every page scimgate renders names its own icon, which the CSP lets it load.
    let (status, headers, forbidden) = vic_browser.page("/").await;
    assert_eq!(status, 403, "{forbidden}");
    let pages = [
        forbidden,
        vic_browser.page("/.scimgate/me").await.2,
        ann_browser.page("/.scimgate/admin/audit").await.2,
        Browser::anonymous(&g).page("/.scimgate/signed-out").await.2,
    ];
    for body in &pages {
        assert!(
            body.contains(
                "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/.scimgate/assets/favicon.svg\">"
            ),
            "{body}"
        );
    }
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("img-src 'self'"), "{csp}");
    let (status, headers, icon) = Browser::anonymous(&g)
        .get_as("/.scimgate/assets/favicon.svg", "image/*")
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert!(icon.starts_with("<svg"), "{icon}");

    // A browser that asks the route anyway (another page, an old tab) is refused as
    // before, signed in or not, but that is not a record per page view.
    for _ in 0..20 {
        assert_eq!(vic_browser.icon().await, StatusCode::FORBIDDEN);
        assert_eq!(
            Browser::anonymous(&g).icon().await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Real denials still are recorded, each with the user and the path.
    let (status, _, _) = vic_browser.page("/secret.html").await;
    assert_eq!(status, 403);
    let (status, _, _) = vic_browser
        .get_as("/favicon.ico", "text/html,application/xhtml+xml")
        .await;
    assert_eq!(
        status, 403,
        "a navigation to the icon's path is a page view"
    );
    g.running.audit.flush().await;

    let rows = chain(g.dir.path());
    let secret = denials(&rows, "/secret.html");
    assert_eq!(secret.len(), 1, "{rows:#?}");
    assert_eq!(secret[0].entry.actor, "user:vic");
    assert_eq!(denials(&rows, "/").len(), 1, "the 403 page's own denial");
    assert!(
        !rows.iter().any(|r| detail(r)["path"]
            .as_str()
            .is_some_and(|p| p.contains("require("))),
        "{rows:#?}"
    );
    let icon = denials(&rows, "/favicon.ico");
    assert_eq!(icon.len(), 1, "only the navigation: {icon:#?}");
    assert_eq!(icon[0].entry.actor, "user:vic");
}

/// A client that does not follow redirects nor keep cookies (the tests carry them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// `name=value` of the response's `Set-Cookie` for `name`.
fn cookie_named(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
}

/// Signs `user` in through the provider, starting at `login` (a path and query): the
/// authorize URL scimgate sent the browser to, and the callback's response.
pub async fn sign_in(
    g: &Gate,
    idp: &Provider,
    login: &str,
    user: &str,
) -> (String, reqwest::Response) {
    let http = client();
    let start = http
        .get(format!("{}{login}", g.root()))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let authorize = location(&start);
    let pending = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .next()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .unwrap();
    let callback = idp.approve(&authorize, user);
    let done = http
        .get(format!("{}{callback}", g.root()))
        .header("cookie", pending)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    (authorize, done)
}

pub fn session_of(done: &reqwest::Response) -> String {
    cookie_named(done, "scimgate_session").expect("a session cookie")
}

#[tokio::test]
async fn switching_accounts_signs_out_at_the_provider_and_asks_for_a_login() {
    let idp = Provider::start().await;
    let g = support::start_with_policies(
        &format!("{}{ADMIN_CONFIG}", idp.config()),
        &[("p.yaml", POLICY)],
    )
    .await;
    let ann = user_in(&g, "ann").await;
    user_in(&g, "vic").await;
    g.create_group("analysts", &[&ann]).await;
    let http = client();

    // An ordinary sign-in does not force the provider's form.
    let (authorize, done) = sign_in(&g, &idp, "/.scimgate/login?rd=%2F", "ann").await;
    assert!(!query_of(&authorize).contains_key("prompt"), "{authorize}");
    assert_eq!(done.status(), StatusCode::FOUND);
    let ann_session = session_of(&done);

    // Signing out ends scimgate's session and sends the browser on to the provider's
    // end-session endpoint, with the ID token as hint, to come back signed out (by a
    // page that refreshes there: the form's `form-action 'self'` would stop a redirect).
    let out = http
        .post(format!("{}/.scimgate/logout", g.root()))
        .header("cookie", &ann_session)
        .header("origin", g.root())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    assert!(cookie_named(&out, "scimgate_session").is_none());
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("scimgate_session=;"));
    let end = refresh_target(&out.text().await.unwrap());
    assert!(
        end.starts_with(&format!("{}/session/end?", idp.issuer())),
        "{end}"
    );
    let q = query_of(&end);
    assert_eq!(q["client_id"], crate::oidc_provider::CLIENT_ID);
    assert_eq!(
        q["post_logout_redirect_uri"],
        format!("{}/.scimgate/signed-out", g.root())
    );
    assert_eq!(q["id_token_hint"].split('.').count(), 3, "{end}");
    let me = http
        .get(format!("{}/.scimgate/me", g.root()))
        .header("cookie", &ann_session)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);

    // Where the provider sends the browser back: a way to sign in as someone else.
    let (status, _, page) = Browser::anonymous(&g).page("/.scimgate/signed-out").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<a href=\"/.scimgate/login?prompt=login\">Sign in as someone else</a>"),
        "{page}"
    );
    let (authorize, done) = sign_in(&g, &idp, "/.scimgate/login?prompt=login", "vic").await;
    assert_eq!(query_of(&authorize)["prompt"], "login");
    let vic_session = session_of(&done);

    // The 403 page offers the same, coming back to the page refused.
    let forbidden = http
        .get(format!("{}/index.html", g.root()))
        .header("cookie", &vic_session)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let page = forbidden.text().await.unwrap();
    assert!(
        page.contains("<a href=\"/.scimgate/login?prompt=login&amp;rd=%2Findex.html\">Sign in as someone else</a>"),
        "{page}"
    );

    // Someone else signing in on the same browser replaces its session.
    let (_, done) = sign_in(&g, &idp, "/.scimgate/login?prompt=login", "ann").await;
    assert_eq!(done.status(), StatusCode::FOUND);

    // The sign-out button of /me does the same as /.scimgate/logout.
    let (_, done) = sign_in(&g, &idp, "/.scimgate/login", "vic").await;
    let vic_session = session_of(&done);
    let me_page = http
        .get(format!("{}/.scimgate/me", g.root()))
        .header("cookie", &vic_session)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = me_page
        .find("name=\"csrf\" value=\"")
        .expect("a csrf field")
        + 19;
    let csrf = &me_page[at..at + 64];
    let out = http
        .post(format!("{}/.scimgate/me/sign-out", g.root()))
        .header("cookie", &vic_session)
        .header("origin", g.root())
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let end = refresh_target(&out.text().await.unwrap());
    assert!(
        end.starts_with(&format!("{}/session/end?", idp.issuer())),
        "{end}"
    );

    // Without an end-session endpoint, or without a session, it ends at /signed-out.
    let out = http
        .post(format!("{}/.scimgate/logout", g.root()))
        .header("origin", g.root())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/.scimgate/signed-out");
}

/// Where a page's `<meta http-equiv="refresh">` goes (unescaped).
fn refresh_target(page: &str) -> String {
    let marker = "http-equiv=\"refresh\" content=\"0;url=";
    let at = page.find(marker).expect("a refresh") + marker.len();
    let end = page[at..].find('"').unwrap();
    page[at..at + end].replace("&amp;", "&")
}

#[tokio::test]
async fn a_deactivated_user_is_told_so_on_a_page_like_the_403() {
    let idp = Provider::start().await;
    let g = support::start_with_policies(&idp.config(), &[("p.yaml", POLICY)]).await;
    let ann = user_in(&g, "ann").await;
    g.create_group("analysts", &[&ann]).await;
    let (_, done) = sign_in(&g, &idp, "/.scimgate/login", "ann").await;
    assert_eq!(done.status(), StatusCode::FOUND);

    g.patch(
        &format!("/Users/{ann}"),
        &support::patch_ops(serde_json::json!([{ "op": "replace", "value": { "active": false } }])),
    )
    .await
    .expect(200);
    let (_, done) = sign_in(&g, &idp, "/.scimgate/login", "ann").await;
    assert_eq!(done.status(), StatusCode::FORBIDDEN);
    assert!(
        cookie_named(&done, "scimgate_session").is_none(),
        "no session"
    );
    let page = done.text().await.unwrap();
    assert!(page.contains("<h1>Account deactivated</h1>"), "{page}");
    assert!(
        page.contains("your account is deactivated in scimgate&#39;s directory"),
        "{page}"
    );
    assert!(
        !page.contains("Ask your administrator to assign you"),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"/.scimgate/login?prompt=login\">Sign in as someone else</a>"),
        "{page}"
    );
    assert!(
        !page.contains("href=\"/.scimgate/me\""),
        "/me is not offered: {page}"
    );
    // The same layout as the 403 page: scimgate's stylesheet, no inline style.
    assert!(
        page.contains("href=\"/.scimgate/assets/style.css\""),
        "{page}"
    );
    assert!(
        page.contains("<main class=\"narrow\">") && !page.contains("<style"),
        "{page}"
    );

    // Someone never provisioned is told that instead.
    let (_, done) = sign_in(&g, &idp, "/.scimgate/login", "zed").await;
    assert_eq!(done.status(), StatusCode::FORBIDDEN);
    let page = done.text().await.unwrap();
    assert!(page.contains("<h1>Not provisioned</h1>"), "{page}");
    assert!(page.contains("no account for you is provisioned"), "{page}");
}

#[tokio::test]
async fn without_oidc_the_pages_and_the_log_say_browser_sign_in_is_off() {
    let g = support::start_with_policies("", &[("p.yaml", POLICY)]).await;
    let keys = "oidc.issuer, oidc.client_id and oidc.client_secret";
    let (status, _, page) = Browser::anonymous(&g).page("/index.html").await;
    assert_eq!(status, 401);
    assert!(page.contains("Browser sign-in is off"), "{page}");
    assert!(page.contains(keys), "{page}");
    let (status, _, page) = Browser::anonymous(&g).page("/.scimgate/login").await;
    assert_eq!(status, 404);
    assert!(page.contains(keys), "{page}");
    let (status, _, json) = Browser::anonymous(&g)
        .get_as("/index.html", "application/json")
        .await;
    assert_eq!(status, 401);
    assert!(json.contains(keys), "{json}");

    // At start-up, a warning naming the keys.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gate.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:0\ndata_dir: {d}\npolicies: {d}/policies\nlog: {{ format: json }}\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = crate::binary::command()
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let warning = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let found = text.lines().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let m = v["fields"]["message"].as_str()?.to_owned();
            m.contains("browser sign-in is off")
                .then_some((v["level"].clone(), m))
        });
        if let Some(w) = found {
            break w;
        }
        if std::time::Instant::now() > deadline || text.contains("scimgate listening") {
            let _ = child.kill();
            panic!("no warning in:\n{text}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(warning.0, "WARN");
    assert!(warning.1.contains(keys), "{}", warning.1);
}

#[tokio::test]
async fn me_separates_usable_routes_and_links_them_and_the_audit_page_names_people() {
    let g = support::start_with_policies(ADMIN_CONFIG, &[("p.yaml", POLICY)]).await;
    let ann = user_in(&g, "ann").await;
    let vic = user_in(&g, "vic").await;
    g.create_group("analysts", &[&ann]).await;
    g.create_group("scimgate-admins", &[&ann]).await;
    let ann_browser = Browser::signed_in(&g, &ann).await;
    let vic_browser = Browser::signed_in(&g, &vic).await;

    // /me: a route the user may open is a link under "Routes I may use"...
    let (_, _, page) = ann_browser.page("/.scimgate/me").await;
    let (usable, rest) = page
        .split_once("<h2>Routes I may use</h2>")
        .unwrap()
        .1
        .split_once("<p class=\"muted\">Read from")
        .unwrap();
    assert!(
        usable.contains("<a href=\"/\"><code>/</code></a>"),
        "{usable}"
    );
    assert!(
        !usable.contains("no access") && !usable.contains("<code>*</code>"),
        "{usable}"
    );
    assert!(!rest.contains("Routes I may not use"), "{page}");
    // ...and one they may not is not.
    let (_, _, page) = vic_browser.page("/.scimgate/me").await;
    let usable = page.split_once("<h2>Routes I may use</h2>").unwrap().1;
    let (usable, others) = usable
        .split_once("<h2>Routes I may not use</h2>")
        .expect("another section");
    assert!(usable.contains("None yet"), "{usable}");
    assert!(!usable.contains("data-route=\"docs\""), "{usable}");
    assert!(others.contains("<code>docs</code>"), "{others}");

    // The audit page names users and shows each decision's request.
    vic_browser.page("/secret.html").await;
    g.running.audit.flush().await;
    let (status, _, page) = ann_browser.page("/.scimgate/admin/audit").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!(
            "<a href=\"/.scimgate/admin/users/{vic}\" title=\"User/{vic}\">vic</a>"
        )),
        "{page}"
    );
    assert!(page.contains("<code>GET /secret.html</code>"), "{page}");

    // Refusals read as sentences that say what to do.
    let (status, _, page) = vic_browser.page("/.scimgate/admin/users").await;
    assert_eq!(status, 403);
    assert!(
        page.contains("This page is for scimgate administrators"),
        "{page}"
    );
    let plain = support::start("").await;
    let carl = user_in(&plain, "carl").await;
    let (status, _, page) = Browser::signed_in(&plain, &carl)
        .await
        .page("/.scimgate/admin/users")
        .await;
    assert_eq!(status, 404);
    assert!(
        page.contains("The admin UI is off: set admin.groups"),
        "{page}"
    );
}
