//! Every kind of page scimgate renders, through the real server: sign-in refusals and
//! failures, "not provisioned" and "deactivated", the sign-out steps, signed out, the
//! 403 page and the gate's other refusals, `/me`, the admin UI and its refusals. Each
//! is in the one page shell and carries the one set of page headers: the same
//! Content-Security-Policy (no `'unsafe-inline'`, no script), the same Referrer-Policy,
//! never sniffed, framed or cached; and no page body has a script, a style element or
//! attribute, an event handler or a `javascript:` URL, which that policy would refuse.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::first_hour::{client, session_of, sign_in, user_in, Browser, ADMIN_CONFIG, POLICY};
use crate::issuer::Issuer;
use crate::oidc_provider::Provider;
use crate::support;

/// The opening of the shell's top bar, on every page.
const SHELL_BAR: &str = "<header class=\"top\"><span class=\"brand\">scimgate</span>";

/// One response of the server, read whole.
struct Rendered {
    what: String,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn read(what: &str, r: reqwest::Response) -> Rendered {
    Rendered {
        what: what.to_owned(),
        status: r.status(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

/// `path` as `browser` navigates to it.
async fn page_of(what: &str, browser: &Browser, path: &str) -> Rendered {
    let (status, headers, body) = browser.page(path).await;
    Rendered {
        what: what.to_owned(),
        status,
        headers,
        body,
    }
}

/// A gate with browser sign-in, bearer JWTs, the admin UI and one route to a closed port
/// (an allowed request gets the gate's 502 page), and one of each kind of page it
/// renders, each checked for the status it should have.
async fn every_kind_of_page() -> Vec<Rendered> {
    let idp = Provider::start().await;
    let iss = Issuer::start().await;
    let g = support::start_with_policies(
        &format!("{}{}{ADMIN_CONFIG}", idp.config(), iss.config()),
        &[("p.yaml", POLICY)],
    )
    .await;
    let ann = user_in(&g, "ann").await;
    let vic = user_in(&g, "vic").await;
    let dee = user_in(&g, "dee").await;
    g.create_group("analysts", &[&ann]).await;
    let admins = g.create_group("scimgate-admins", &[&ann]).await;
    let admins = support::str_of(&admins["id"]).to_owned();
    g.patch(
        &format!("/Users/{dee}"),
        &support::patch_ops(serde_json::json!([{ "op": "replace", "value": { "active": false } }])),
    )
    .await
    .expect(200);
    let ann_browser = Browser::signed_in(&g, &ann).await;
    let vic_browser = Browser::signed_in(&g, &vic).await;
    let anonymous = Browser::anonymous(&g);

    let mut pages = vec![
        page_of(
            "sign-in refused by the provider",
            &anonymous,
            "/.scimgate/callback?error=access_denied",
        )
        .await,
        page_of(
            "sign-in failed",
            &anonymous,
            "/.scimgate/callback?code=c&state=s",
        )
        .await,
        read(
            "sign-in, not provisioned",
            sign_in(&g, &idp, "/.scimgate/login", "zed").await.1,
        )
        .await,
        read(
            "sign-in, deactivated",
            sign_in(&g, &idp, "/.scimgate/login", "dee").await.1,
        )
        .await,
        page_of("sign-out button", &ann_browser, "/.scimgate/logout").await,
        page_of("not signed in", &anonymous, "/.scimgate/logout").await,
        page_of("signed out", &anonymous, "/.scimgate/signed-out").await,
        page_of("403", &vic_browser, "/index.html").await,
        page_of(
            "gate refusal of an unreachable upstream",
            &ann_browser,
            "/index.html",
        )
        .await,
        page_of("/me", &vic_browser, "/.scimgate/me").await,
        page_of("admin refusal", &vic_browser, "/.scimgate/admin/users").await,
    ];
    for path in [
        "/.scimgate/admin/users".to_owned(),
        format!("/.scimgate/admin/users/{ann}"),
        "/.scimgate/admin/groups".to_owned(),
        format!("/.scimgate/admin/groups/{admins}"),
        "/.scimgate/admin/audit".to_owned(),
        "/.scimgate/admin/tokens".to_owned(),
        "/.scimgate/admin/policy".to_owned(),
        "/.scimgate/me".to_owned(),
    ] {
        pages.push(page_of(&format!("admin {path}"), &ann_browser, &path).await);
    }
    // A bearer caller the directory does not know, asking /me for a page.
    let zed = client()
        .get(format!("{}/.scimgate/me", g.root()))
        .bearer_auth(iss.token("zed"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    pages.push(read("/me, not provisioned", zed).await);
    // Signing out of a provider session continues at the provider.
    let (_, done) = sign_in(&g, &idp, "/.scimgate/login", "ann").await;
    let out = client()
        .post(format!("{}/.scimgate/logout", g.root()))
        .header("cookie", session_of(&done))
        .header("origin", g.root())
        .send()
        .await
        .unwrap();
    pages.push(read("continuing the sign-out at the provider", out).await);

    for (what, status) in [
        ("sign-in refused by the provider", 401),
        ("sign-in failed", 401),
        ("sign-in, not provisioned", 403),
        ("sign-in, deactivated", 403),
        ("sign-out button", 200),
        ("not signed in", 200),
        ("signed out", 200),
        ("403", 403),
        ("/me", 200),
        ("admin refusal", 403),
        ("/me, not provisioned", 403),
        ("continuing the sign-out at the provider", 200),
    ] {
        let page = pages.iter().find(|p| p.what == what).unwrap();
        assert_eq!(page.status, status, "{what}: {}", page.body);
    }
    let upstream = pages
        .iter()
        .find(|p| p.what.contains("unreachable upstream"))
        .unwrap();
    assert!(upstream.status.is_server_error(), "{}", upstream.body);
    for page in pages.iter().filter(|p| p.what.starts_with("admin /")) {
        assert_eq!(page.status, 200, "{}: {}", page.what, page.body);
    }
    pages
}

fn header<'a>(page: &'a Rendered, name: &str) -> &'a str {
    page.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("{}: no {name}", page.what))
}

#[tokio::test]
async fn every_page_is_in_the_one_shell_under_the_one_csp_with_nothing_inline() {
    let pages = every_kind_of_page().await;
    let first = &pages[0];
    let csp = header(first, "content-security-policy");
    let referrer = header(first, "referrer-policy");
    assert_eq!(csp, scimgate::web::CSP);
    assert_eq!(referrer, scimgate::web::REFERRER_POLICY);
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert!(directives.contains(&"default-src 'none'"), "{csp}");
    assert!(directives.contains(&"style-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-") && !csp.contains("script-src"),
        "{csp}"
    );
    for page in &pages {
        let what = &page.what;
        assert_eq!(header(page, "content-security-policy"), csp, "{what}");
        assert_eq!(header(page, "referrer-policy"), referrer, "{what}");
        assert_eq!(header(page, "x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header(page, "x-frame-options"), "DENY", "{what}");
        assert_eq!(header(page, "cache-control"), "no-store", "{what}");
        assert!(
            header(page, "content-type").starts_with("text/html"),
            "{what}"
        );
        assert_eq!(
            page.headers
                .get_all("content-security-policy")
                .iter()
                .count(),
            1,
            "{what}"
        );
        assert!(
            page.body.starts_with("<!doctype html>"),
            "{what}: {}",
            page.body
        );
        assert!(page.body.contains(SHELL_BAR), "{what}: {}", page.body);
        assert!(
            page.body.contains(scimgate::web::assets::HEAD_LINKS),
            "{what}: {}",
            page.body
        );
        assert_eq!(inline_code(&page.body), Vec::<String>::new(), "{what}");
    }
}

#[tokio::test]
async fn the_sign_in_redirects_carry_the_page_headers() {
    let idp = Provider::start().await;
    let g = support::start(&idp.config()).await;
    let login = page_of("login", &Browser::anonymous(&g), "/.scimgate/login?rd=%2F").await;
    assert_eq!(login.status, StatusCode::FOUND);
    assert_eq!(
        header(&login, "content-security-policy"),
        scimgate::web::CSP
    );
    assert_eq!(
        header(&login, "referrer-policy"),
        scimgate::web::REFERRER_POLICY
    );
    assert_eq!(header(&login, "cache-control"), "no-store");
}

/// What the pages' CSP would refuse in `html`: `<script>` and `<style>` elements,
/// `style` attributes, `on…` event handlers and `javascript:` URLs, each named by its
/// tag.
fn inline_code(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let tag_and_rest = &rest[open + 1..];
        let end = tag_and_rest.find('>').unwrap_or(tag_and_rest.len());
        let tag = &tag_and_rest[..end];
        rest = &tag_and_rest[end..];
        if tag.starts_with(['!', '/']) {
            continue;
        }
        let (name, attributes) = parse_tag(tag);
        if name == "script" || name == "style" {
            found.push(format!("<{tag}>"));
        }
        for (attr, value) in attributes {
            let url = matches!(attr.as_str(), "href" | "src" | "action" | "formaction");
            if attr == "style"
                || attr.starts_with("on")
                || (url && value.trim().to_ascii_lowercase().starts_with("javascript:"))
            {
                found.push(format!("<{tag}>"));
            }
        }
    }
    found
}

/// A start tag's lowercased name and its attributes (lowercased names, raw values).
fn parse_tag(tag: &str) -> (String, Vec<(String, String)>) {
    let is_end = |c: char| c.is_ascii_whitespace() || c == '/' || c == '=';
    let name_end = tag.find(is_end).unwrap_or(tag.len());
    let name = tag[..name_end].to_ascii_lowercase();
    let mut attributes = Vec::new();
    let mut rest = &tag[name_end..];
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            break;
        }
        let attr_end = rest.find(is_end).unwrap_or(rest.len()).max(1);
        let attr = rest[..attr_end].to_ascii_lowercase();
        rest = rest[attr_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, tail) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let close = body.find(q).unwrap_or(body.len());
                    (&body[..close], body.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let close = after
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after.len());
                    (&after[..close], &after[close..])
                }
            };
            value = v.to_owned();
            rest = tail;
        }
        attributes.push((attr, value));
    }
    (name, attributes)
}

#[test]
fn the_scan_finds_what_the_csp_refuses_and_nothing_else() {
    let refused = [
        "<p>a</p><script>alert(1)</script>",
        "<SCRIPT src=\"/x.js\"></SCRIPT>",
        "<style>p{color:red}</style>",
        "<p style=\"color:red\">a</p>",
        "<p class=x STYLE=color:red>a</p>",
        "<button type=submit onclick='go()'>a</button>",
        "<body onload=\"go()\">",
        "<a href=\" JavaScript:go()\">a</a>",
        "<form action='javascript:go()'></form>",
    ];
    for html in refused {
        assert_eq!(inline_code(html).len(), 1, "{html}");
    }
    let allowed = [
        "<p class=\"onward\">style=\"x\" onclick=y</p>",
        "<a href=\"/x?onclick=1&amp;style=2\" title=\"javascript:\">a</a>",
        "<link rel=\"stylesheet\" href=\"/.scimgate/assets/style.css\">",
        "<meta http-equiv=\"refresh\" content=\"0;url=https://idp.test/end\">",
        "<!doctype html><input type=\"hidden\" name=\"csrf\" value=\"a b\">",
    ];
    for html in allowed {
        assert_eq!(inline_code(html), Vec::<String>::new(), "{html}");
    }
}
