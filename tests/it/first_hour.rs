//! What a new user meets in the first hour, through the real server: scimgate's own
//! pages name its icon (so the browser does not ask the route for `/favicon.ico`), and
//! a refused icon request is not a record of its own while real denials still are.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;

use scimgate::audit::{AuditQuery, AuditRow};
use scimgate::store::{SqliteStore, Store};

use crate::support::{self, Gate};

const ADMIN_CONFIG: &str = "admin: { groups: [scimgate-admins], allow_shared_origin: true }\n";
const POLICY: &str = "routes:
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
        let token = g.running.gate.sessions.create(user_id).await.unwrap();
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
    g.running.gate.audit.flush().await;

    let rows = chain(g.dir.path());
    let secret = denials(&rows, "/secret.html");
    assert_eq!(secret.len(), 1, "{rows:#?}");
    assert_eq!(secret[0].entry.actor, "user:vic");
    assert_eq!(denials(&rows, "/").len(), 1, "the 403 page's own denial");
    let icon = denials(&rows, "/favicon.ico");
    assert_eq!(icon.len(), 1, "only the navigation: {icon:#?}");
    assert_eq!(icon[0].entry.actor, "user:vic");
}
