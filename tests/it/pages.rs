//! The pages over HTTP: `/.scimgate/me` and the admin UI — strict CSP, live directory
//! checks (a removed admin loses the UI at once), CSRF and origin checks on every
//! form, tokens shown once and audited, hostile names escaped.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{self, patch_ops, Gate};

// The routes below serve every host, the admin UI's origin included: these tests accept
// that explicitly (tests/it/browser_edge.rs covers the refusal without it).
const ADMIN_CONFIG: &str = "admin: { groups: [scimgate-admins], allow_shared_origin: true }\n";
const POLICY: &str = "routes:
  - name: finance-docs
    match: { path: /finance/** }
    upstream: http://127.0.0.1:9
    allow:
      - { name: finance-readers, groups: [finance], methods: [GET, HEAD] }
  - name: everything-else
    match: { path: /** }
    upstream: http://127.0.0.1:9
    allow:
      - { name: staff-read, groups: [staff], methods: [GET] }
";

/// A browser-like client that does not follow redirects, with a session cookie (the
/// access-request pages' tests use it too).
pub(crate) struct Browser {
    http: reqwest::Client,
    root: String,
    cookie: String,
}

impl Browser {
    pub(crate) async fn signed_in(g: &Gate, user_id: &str) -> Browser {
        let token = g.running.sessions.create(user_id).await.unwrap();
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            root: g.root(),
            cookie: format!("scimgate_session={token}"),
        }
    }

    pub(crate) fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.root))
            .header("cookie", &self.cookie)
            .header("accept", "text/html")
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let r = self.req(Method::GET, path).send().await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.text().await.unwrap())
    }

    /// POSTs a form from scimgate's own origin (unless `origin` says otherwise).
    pub(crate) async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> reqwest::Response {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        self.post_with(path, form, &headers).await
    }

    /// POSTs a form with these extra headers.
    pub(crate) async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut r = self.req(Method::POST, path).form(form);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.unwrap()
    }

    /// The CSRF token of a page's forms.
    pub(crate) async fn csrf(&self, path: &str) -> String {
        let (status, _, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let at = body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        body[at..at + 64].to_owned()
    }
}

async fn user_in(g: &Gate, name: &str) -> String {
    support::str_of(&g.create_user(name).await["id"]).to_owned()
}

async fn setup() -> (Gate, Value) {
    let g = support::start_with_policies(ADMIN_CONFIG, &[("p.yaml", POLICY)]).await;
    let alice = user_in(&g, "alice").await;
    let carol = user_in(&g, "carol").await;
    let bob = user_in(&g, "bob").await;
    let finance = g.create_group("finance", &[&alice]).await;
    // Nesting: finance is inside staff, so alice is staff through it.
    let staff = g
        .create_group("staff", &[support::str_of(&finance["id"])])
        .await;
    let admins = g.create_group("scimgate-admins", &[&carol]).await;
    let ids = json!({
        "alice": alice, "bob": bob, "carol": carol,
        "finance": finance["id"], "staff": staff["id"], "admins": admins["id"],
    });
    (g, ids)
}

fn id<'a>(ids: &'a Value, k: &str) -> &'a str {
    support::str_of(&ids[k])
}

#[tokio::test]
async fn me_shows_groups_through_nesting_and_the_routes_under_a_strict_csp() {
    let (g, ids) = setup().await;
    let alice = Browser::signed_in(&g, id(&ids, "alice")).await;
    let (status, headers, body) = alice.get("/.scimgate/me").await;
    assert_eq!(status, 200, "{body}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("style-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(!body.contains("<script"), "no scripts");
    assert!(!body.contains("style="), "no inline styles");
    assert!(
        body.contains("finance</span> <span class=\"muted\">direct"),
        "{body}"
    );
    assert!(
        body.contains("staff</span> <span class=\"muted\">through nesting"),
        "{body}"
    );
    assert!(
        body.contains("action=\"/.scimgate/me/sign-out\""),
        "a sign-out form"
    );

    // The same as JSON for API callers.
    let me: Value = alice
        .http
        .get(format!("{}/.scimgate/me", alice.root))
        .header("cookie", &alice.cookie)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["userName"], "alice");
    let routes = me["routes"].as_array().unwrap();
    let allowed = |name: &str| -> Vec<String> {
        let r = routes.iter().find(|r| r["route"] == name).unwrap();
        r["methods"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["allow"] == true)
            .map(|m| m["method"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(allowed("finance-docs"), vec!["GET", "HEAD"]);
    assert_eq!(allowed("everything-else"), vec!["GET"]);

    // The page follows the directory at once: out of finance, no finance access.
    let finance = id(&ids, "finance");
    g.patch(
        &format!("/Groups/{finance}"),
        &patch_ops(json!([{ "op": "remove", "path": format!("members[value eq \"{}\"]", id(&ids, "alice")) }])),
    )
    .await
    .expect(204);
    let (_, _, body) = alice.get("/.scimgate/me").await;
    assert!(body.contains("No groups."), "{body}");
    assert!(!body.contains("class=\"allow\""), "{body}");

    // The 403 page has the same policy and leads to /me.
    let denied = alice
        .req(Method::GET, "/finance/report.html")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let csp = denied.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("style-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let page = denied.text().await.unwrap();
    assert!(page.contains("href=\"/.scimgate/me\""), "{page}");
    assert!(page.contains("/.scimgate/assets/style.css"), "{page}");

    // The stylesheet is served by scimgate itself.
    let css = reqwest::get(format!("{}/.scimgate/assets/style.css", g.root()))
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

#[tokio::test]
async fn the_admin_ui_is_for_current_admins_only() {
    let (g, ids) = setup().await;
    let bob = Browser::signed_in(&g, id(&ids, "bob")).await;
    let carol = Browser::signed_in(&g, id(&ids, "carol")).await;
    for path in [
        "/.scimgate/admin/users",
        "/.scimgate/admin/tokens",
        "/.scimgate/admin/audit",
    ] {
        assert_eq!(bob.get(path).await.0, 403, "{path}");
        assert_eq!(carol.get(path).await.0, 200, "{path}");
    }
    // No session: not signed in (no login configured here, so a 401 page).
    let anon = reqwest::get(format!("{}/.scimgate/admin/users", g.root()))
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    // Search finds alice, and her page explains each route with the deciding rule.
    let (_, _, list) = carol.get("/.scimgate/admin/users?q=ALI").await;
    assert!(list.contains(">alice</a>"), "{list}");
    assert!(!list.contains(">bob</a>"), "{list}");
    let (status, _, page) = carol
        .get(&format!("/.scimgate/admin/users/{}", id(&ids, "alice")))
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("by <code class=\"rule\">finance-readers</code>"),
        "{page}"
    );
    assert!(
        page.contains("by <code class=\"rule\">default-deny</code>"),
        "{page}"
    );
    let (status, _, home) = carol.get("/.scimgate/admin/").await;
    assert_eq!(status, 200);
    assert!(home.contains(">3</a>"), "three users: {home}");

    // Policy status: a refused reload shows its file and line; the old set stays.
    std::fs::write(
        g.dir.path().join("policies").join("q.yaml"),
        "routes:\n  - name: broken\n    match: { path: /x/** }\n    upstream: http://127.0.0.1:9\n    bogus: 1\n",
    )
    .unwrap();
    assert!(g.running.policy.reload().is_err());
    let (_, _, status_page) = carol.get("/.scimgate/admin/policy").await;
    assert!(
        status_page.contains("class=\"error last-error\""),
        "{status_page}"
    );
    assert!(status_page.contains("q.yaml:"), "{status_page}");
    assert!(
        status_page.contains("<code>finance-docs</code>"),
        "{status_page}"
    );

    // Carol leaves the admin group: the very next request is refused.
    let admins = id(&ids, "admins");
    g.patch(
        &format!("/Groups/{admins}"),
        &patch_ops(json!([{ "op": "remove", "path": format!("members[value eq \"{}\"]", id(&ids, "carol")) }])),
    )
    .await
    .expect(204);
    assert_eq!(carol.get("/.scimgate/admin/users").await.0, 403);
}

#[tokio::test]
async fn without_admin_groups_the_admin_ui_is_off() {
    let g = support::start_with_policies("", &[("p.yaml", POLICY)]).await;
    let carol = user_in(&g, "carol").await;
    let carol = Browser::signed_in(&g, &carol).await;
    assert_eq!(carol.get("/.scimgate/admin/users").await.0, 404);
    assert_eq!(carol.get("/.scimgate/me").await.0, 200);
}

#[tokio::test]
async fn forms_need_the_session_csrf_token_and_scimgate_origin() {
    let (g, ids) = setup().await;
    let carol = Browser::signed_in(&g, id(&ids, "carol")).await;
    let bob = Browser::signed_in(&g, id(&ids, "bob")).await;
    let own = g.root();
    let csrf = carol.csrf("/.scimgate/admin/tokens").await;
    let bobs = bob.csrf("/.scimgate/me").await;
    assert_ne!(csrf, bobs, "tokens are per session");
    for (form_csrf, origin) in [
        ("", Some(own.as_str())),
        (bobs.as_str(), Some(own.as_str())),
        (csrf.as_str(), Some("https://evil.example")),
        (csrf.as_str(), None),
    ] {
        let r = carol
            .post(
                "/.scimgate/admin/tokens",
                &[("csrf", form_csrf), ("name", "sneaky"), ("scope", "scim")],
                origin,
            )
            .await;
        assert_eq!(r.status(), 403, "csrf {form_csrf:?} origin {origin:?}");
    }
    // Without Origin, the Referer must be scimgate's own.
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "by-referer"),
        ("scope", "scim"),
    ];
    let evil = carol
        .post_with(
            "/.scimgate/admin/tokens",
            &form,
            &[("referer", "https://evil.example/x")],
        )
        .await;
    assert_eq!(evil.status(), 403);
    let lookalike = format!("{own}.evil.example/");
    let evil = carol
        .post_with("/.scimgate/admin/tokens", &form, &[("referer", &lookalike)])
        .await;
    assert_eq!(evil.status(), 403);
    let referer = format!("{own}/.scimgate/admin/tokens");
    let ok = carol
        .post_with("/.scimgate/admin/tokens", &form, &[("referer", &referer)])
        .await;
    assert_eq!(ok.status(), 303);

    // Create: a 303 to a page that shows the token once.
    let r = carol
        .post(
            "/.scimgate/admin/tokens",
            &[("csrf", &csrf), ("name", "okta-new"), ("scope", "scim")],
            Some(&own),
        )
        .await;
    assert_eq!(r.status(), 303);
    let shown = r.headers()["location"].to_str().unwrap().to_owned();
    let (_, _, page) = carol.get(&shown).await;
    let at = page.find("id=\"token\">").expect("the token is shown") + 11;
    let token = page[at..].split('<').next().unwrap().to_owned();
    assert!(token.starts_with("scimgate_"), "{token}");
    let (_, _, again) = carol.get(&shown).await;
    assert!(!again.contains(&token), "shown only once");
    let (_, _, list) = carol.get("/.scimgate/admin/tokens").await;
    assert!(list.contains("data-token=\"okta-new\""), "{list}");
    assert!(!list.contains(&token));
    // The token works against SCIM.
    let scim = |t: String| {
        let url = format!("{}/Users", g.base);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(scim(token.clone()).await, 200);

    // Revoke: confirm page, then POST.
    let (status, _, confirm) = carol.get("/.scimgate/admin/tokens/okta-new/revoke").await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Revoke okta-new"), "{confirm}");
    let r = carol
        .post(
            "/.scimgate/admin/tokens/okta-new/revoke",
            &[("csrf", "0".repeat(64).as_str())],
            Some(&own),
        )
        .await;
    assert_eq!(r.status(), 403, "a wrong token does not revoke");
    assert_eq!(scim(token.clone()).await, 200);
    let r = carol
        .post(
            "/.scimgate/admin/tokens/okta-new/revoke",
            &[("csrf", &csrf)],
            Some(&own),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(scim(token.clone()).await, 401);

    // Both are on the audit timeline, by carol, without the secret.
    let (_, _, audit) = carol.get("/.scimgate/admin/audit?action=token.").await;
    assert!(audit.contains("data-action=\"token.create\""), "{audit}");
    assert!(audit.contains("data-action=\"token.revoke\""), "{audit}");
    assert!(audit.contains("admin:carol"), "{audit}");
    assert!(audit.contains("token:okta-new"), "{audit}");
    // `scimgate_<12 hex>_<secret>`; the secret is base64url and may hold '_' itself.
    let secret = &token["scimgate_".len() + 13..];
    assert_eq!(secret.len(), 43);
    assert!(!audit.contains(secret), "the secret is never recorded");
    assert!(
        !audit.contains("data-action=\"user.create\""),
        "filtered by action"
    );

    // Signing out is a CSRF-checked POST too.
    let r = carol
        .post("/.scimgate/me/sign-out", &[("csrf", "")], Some(&own))
        .await;
    assert_eq!(r.status(), 403);
    let r = carol
        .post("/.scimgate/me/sign-out", &[("csrf", &csrf)], Some(&own))
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(carol.get("/.scimgate/me").await.0, 401);
}

#[tokio::test]
async fn hostile_names_are_escaped_everywhere() {
    let (g, ids) = setup().await;
    let carol = Browser::signed_in(&g, id(&ids, "carol")).await;
    let evil_user = "<script>alert(1)</script>";
    let evil_group = "\"><img src=x onerror=alert(2)>";
    let user = g
        .create_user_with(&json!({
            "schemas": [support::USER_SCHEMA],
            "userName": evil_user,
            "name": { "givenName": "<b>Eve</b>" },
            "active": true,
        }))
        .await;
    let uid = support::str_of(&user["id"]).to_owned();
    let group = g.create_group(evil_group, &[&uid]).await;
    let gid = support::str_of(&group["id"]).to_owned();
    let pages = [
        "/.scimgate/admin/users".to_owned(),
        format!("/.scimgate/admin/users?q={}", "%3Cscript"),
        format!("/.scimgate/admin/users/{uid}"),
        "/.scimgate/admin/groups".to_owned(),
        format!("/.scimgate/admin/groups/{gid}"),
        "/.scimgate/admin/audit".to_owned(),
    ];
    for path in &pages {
        let (status, _, body) = carol.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains("<script>"), "{path}");
        assert!(!body.contains("<img"), "{path}");
        assert!(!body.contains("<b>Eve"), "{path}");
    }
    let (_, _, body) = carol.get(&format!("/.scimgate/admin/users/{uid}")).await;
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(body.contains("&quot;&gt;&lt;img src=x"), "{body}");
    // A malformed query is a 400 page, not a failure.
    assert_eq!(carol.get("/.scimgate/admin/users?page=x").await.0, 400);
    assert_eq!(carol.get("/.scimgate/admin/audit?since=soon").await.0, 400);
    assert_eq!(carol.get("/.scimgate/admin/users/nope").await.0, 404);
}
