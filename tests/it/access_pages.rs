//! Access requests through the pages, over HTTP: the 403 page offers the grant that
//! would allow the request, the request and cancel forms of `/me` and the approvers'
//! page need the session's CSRF token from the right origin, a non-approver gets 403,
//! and nobody decides their own request (no button, and a forged vote is refused).

use reqwest::StatusCode;

use crate::pages::Browser;
use crate::support::{self, Gate};
use crate::upstream;

const CONFIG: &str = "admin: { groups: [scimgate-admins], allow_shared_origin: true }\n";

fn policy(upstream: &str) -> String {
    format!(
        "routes:
  - name: docs
    match: {{ path: /docs/** }}
    upstream: {upstream}
    allow:
      - {{ groups: [docs-readers], methods: [GET] }}
    requests:
      - group: docs-readers
        requesters: [contractors]
        approvers: [docs-approvers]
        max_duration: 1h
        reason_required: true
"
    )
}

const APPROVALS: &str = "/.scimgate/admin/access-requests";
const REQUEST: &str = "/.scimgate/me/access-requests";

struct World {
    g: Gate,
    _upstream: upstream::Upstream,
    /// In contractors: may request.
    ana: Browser,
    /// In docs-approvers: may approve.
    bo: Browser,
    /// In no group.
    cy: Browser,
    /// In both: may request, and approve others' requests.
    dee: Browser,
}

async fn world() -> World {
    let up = upstream::start().await;
    let g = support::start_with_policies(CONFIG, &[("p.yaml", &policy(&up.url()))]).await;
    let mut ids = Vec::new();
    for name in ["ana", "bo", "cy", "dee"] {
        ids.push(support::str_of(&g.create_user(name).await["id"]).to_owned());
    }
    g.create_group("docs-readers", &[]).await;
    g.create_group("contractors", &[&ids[0], &ids[3]]).await;
    g.create_group("docs-approvers", &[&ids[1], &ids[3]]).await;
    World {
        ana: Browser::signed_in(&g, &ids[0]).await,
        bo: Browser::signed_in(&g, &ids[1]).await,
        cy: Browser::signed_in(&g, &ids[2]).await,
        dee: Browser::signed_in(&g, &ids[3]).await,
        g,
        _upstream: up,
    }
}

/// The `data-id` of the first `<tr class="{class}"` of `body`.
fn row_id(body: &str, class: &str) -> Option<String> {
    let prefix = format!("<tr class=\"{class}\" data-id=\"");
    let at = body.find(&prefix)? + prefix.len();
    let end = body[at..].find('"')?;
    Some(body[at..at + end].to_owned())
}

/// Asks for docs-readers as `who` (from the root origin); the id of the request.
async fn ask(w: &World, who: &Browser, reason: &str) -> String {
    let csrf = who.csrf("/.scimgate/me").await;
    let own = w.g.root();
    let r = who
        .post(
            REQUEST,
            &[
                ("csrf", &csrf),
                ("route", "docs"),
                ("group", "docs-readers"),
                ("reason", reason),
                ("duration", "600"),
            ],
            Some(&own),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(r.headers()["location"], "/.scimgate/me#requests");
    let (_, _, me) = who.get("/.scimgate/me").await;
    row_id(&me, "request").expect("the request is listed on /me")
}

#[tokio::test]
async fn the_403_page_offers_the_grant_and_requests_need_the_session_csrf_token() {
    let w = world().await;
    let own = w.g.root();
    let (status, _, page) = w.ana.get("/docs/guide").await;
    assert_eq!(status, 403);
    assert!(page.contains("<form class=\"request-access\""), "{page}");
    assert!(
        page.contains("docs-approvers") && page.contains(" required>"),
        "{page}"
    );
    // Someone who may not ask is shown no form.
    let (status, _, page) = w.cy.get("/docs/guide").await;
    assert_eq!(status, 403);
    assert!(!page.contains("request-access"), "{page}");
    let csrf = w.ana.csrf("/.scimgate/me").await;
    let cys = w.cy.csrf("/.scimgate/me").await;
    let form = |csrf: &str, reason: &str, duration: &str| -> Vec<(&'static str, String)> {
        [
            ("csrf", csrf),
            ("route", "docs"),
            ("group", "docs-readers"),
            ("reason", reason),
            ("duration", duration),
        ]
        .map(|(k, v)| (k, v.to_owned()))
        .to_vec()
    };
    let post = |who: &'static str, fields: Vec<(&'static str, String)>, origin: Option<String>| {
        let w = &w;
        async move {
            let b = if who == "ana" { &w.ana } else { &w.cy };
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post(REQUEST, &fields, origin.as_deref()).await
        }
    };
    for (token, origin) in [
        ("", Some(own.clone())),
        (cys.as_str(), Some(own.clone())),
        (csrf.as_str(), Some("https://evil.example".to_owned())),
        (csrf.as_str(), None),
    ] {
        let r = post("ana", form(token, "the guide", "600"), origin.clone()).await;
        assert_eq!(r.status(), 403, "csrf {token:?} origin {origin:?}");
    }
    let (_, _, me) = w.ana.get("/.scimgate/me").await;
    assert!(row_id(&me, "request").is_none(), "no request was made");
    // A missing reason, a duration over the grant's longest: 400 with the reason.
    let r = post("ana", form(&csrf, " ", "600"), Some(own.clone())).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("needs a reason"));
    let r = post("ana", form(&csrf, "the guide", "7200"), Some(own.clone())).await;
    assert_eq!(r.status(), 400);
    // cy is no requester.
    let r = post("cy", form(&cys, "the guide", "600"), Some(own.clone())).await;
    assert_eq!(r.status(), 403);

    // Asked: pending on /me, with a cancel button that needs the token too.
    let id = ask(&w, &w.ana, "the guide").await;
    let (_, _, me) = w.ana.get("/.scimgate/me").await;
    assert!(me.contains("pending</span> (0 of 1 approvals)"), "{me}");
    let cancel = format!("{REQUEST}/{id}/cancel");
    assert_eq!(
        w.ana
            .post(&cancel, &[("csrf", "")], Some(&own))
            .await
            .status(),
        403
    );
    assert_eq!(
        w.cy.post(&cancel, &[("csrf", &cys)], Some(&own))
            .await
            .status(),
        403
    );
    let r = w.ana.post(&cancel, &[("csrf", &csrf)], Some(&own)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, _, me) = w.ana.get("/.scimgate/me").await;
    assert!(me.contains("cancelled"), "{me}");
}

#[tokio::test]
async fn only_approvers_decide_never_on_their_own_request() {
    let w = world().await;
    let own = w.g.root();
    let anas = ask(&w, &w.ana, "fix the <b>guide</b>").await;
    let dees = ask(&w, &w.dee, "dee's own").await;

    // Approvers, admins or not, find the page from every page's top bar and from /me.
    let (_, _, me) = w.bo.get("/.scimgate/me").await;
    assert!(
        me.contains("href=\"/.scimgate/admin/access-requests\">Access requests</a>"),
        "{me}"
    );
    assert!(
        me.contains("Access requests wait for your approval"),
        "{me}"
    );
    let (_, _, me) = w.cy.get("/.scimgate/me").await;
    assert!(!me.contains("/.scimgate/admin/access-requests"), "{me}");

    // Not approvers: 403, the page and its forms alike.
    for who in [&w.ana, &w.cy] {
        assert_eq!(who.get(APPROVALS).await.0, 403);
        let csrf = who.csrf("/.scimgate/me").await;
        let r = who
            .post(
                &format!("{APPROVALS}/{anas}/approve"),
                &[("csrf", &csrf)],
                Some(&own),
            )
            .await;
        assert_eq!(r.status(), 403);
    }

    // dee approves others, but her own request has no button, and a forged vote fails.
    let (status, _, page) = w.dee.get(APPROVALS).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("data-id=\"{anas}\"")), "{page}");
    assert!(!page.contains(&format!("data-id=\"{dees}\"")), "{page}");
    assert!(
        page.contains("fix the &lt;b&gt;guide&lt;/b&gt;"),
        "escaped: {page}"
    );
    let dee_csrf = w.dee.csrf(APPROVALS).await;
    let r = w
        .dee
        .post(
            &format!("{APPROVALS}/{dees}/approve"),
            &[("csrf", &dee_csrf)],
            Some(&own),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("your own request"));

    // bo denies dee's request with a comment, which dee reads on /me.
    let bo_csrf = w.bo.csrf(APPROVALS).await;
    let r =
        w.bo.post(
            &format!("{APPROVALS}/{dees}/deny"),
            &[("csrf", &bo_csrf), ("comment", "not <now>")],
            Some(&own),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, _, me) = w.dee.get("/.scimgate/me").await;
    assert!(
        me.contains("denied</span> by bo: <q class=\"comment\">not &lt;now&gt;</q>"),
        "{me}"
    );

    // bo: without the token or from elsewhere, refused; then approved with a comment.
    let approve = format!("{APPROVALS}/{anas}/approve");
    assert_eq!(
        w.bo.post(&approve, &[("csrf", "")], Some(&own))
            .await
            .status(),
        403
    );
    assert_eq!(
        w.bo.post(
            &approve,
            &[("csrf", &bo_csrf)],
            Some("https://evil.example")
        )
        .await
        .status(),
        403
    );
    assert_eq!(w.ana.get("/docs/guide").await.0, 403, "nothing granted yet");
    let r =
        w.bo.post(
            &approve,
            &[("csrf", &bo_csrf), ("comment", "ok")],
            Some(&own),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        w.ana.get("/docs/guide").await.0,
        200,
        "the grant lets ana in"
    );
    let (_, _, me) = w.ana.get("/.scimgate/me").await;
    assert!(me.contains("active</span> until"), "{me}");

    // The active grant is listed with Revoke; revoking closes the docs again.
    let (_, _, page) = w.bo.get(APPROVALS).await;
    assert_eq!(
        row_id(&page, "grant").as_deref(),
        Some(anas.as_str()),
        "{page}"
    );
    let r =
        w.bo.post(
            &format!("{APPROVALS}/{anas}/revoke"),
            &[("csrf", &bo_csrf), ("comment", "done")],
            Some(&own),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(w.ana.get("/docs/guide").await.0, 403);
    let (_, _, me) = w.ana.get("/.scimgate/me").await;
    assert!(
        me.contains("revoked</span> by bo: <q class=\"comment\">done</q>"),
        "{me}"
    );
    // A vote on a request that is no longer pending: 409.
    let r = w.bo.post(&approve, &[("csrf", &bo_csrf)], Some(&own)).await;
    assert_eq!(r.status(), 409);
}
