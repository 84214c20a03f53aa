//! The pages people see when the gate says no: server-rendered, no scripts, no external
//! resources, under a strict Content-Security-Policy.

use axum::body::Body;
use http::{header, HeaderValue, Response, StatusCode};

use super::error::Forbidden;
use crate::authn::escape;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A complete HTML response.
pub fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn layout(title: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · scimgate</title><style>\
body{{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}}\
main{{max-width:40rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002}}\
h1{{font-size:1.4rem;margin-top:0}}code{{background:#eef0f3;padding:0 .3em;border-radius:3px}}\
ul{{padding-left:1.2rem}}.muted{{color:#5b6475;font-size:.9rem}}a{{color:#2456c6}}\
</style></head><body><main>{main}</main></body></html>\n",
        title = escape(title),
    )
}

/// The 403 page: who you are, what you asked for, which groups would allow it.
pub fn forbidden(f: &Forbidden) -> String {
    let groups = if f.allowing_groups.is_empty() {
        "<p>No group is allowed this request on this route.</p>".to_owned()
    } else {
        let items: String = f
            .allowing_groups
            .iter()
            .map(|g| format!("<li><code>{}</code></li>", escape(g)))
            .collect();
        format!(
            "<p>Members of any of these groups may make this request:</p><ul class=\"groups\">{items}</ul>\
<p>Ask your identity provider's administrators to add you to one of them.</p>"
        )
    };
    let main = format!(
        "<h1>Access denied</h1>\
<p>You are signed in as <strong class=\"user\">{user}</strong>, but the route \
<code class=\"route\">{route}</code> does not allow <code>{method} {path}</code> for you.</p>\
{groups}\
<p class=\"muted\">Decided by rule <code class=\"rule\">{rule}</code> ({location}).</p>\
<p class=\"muted\"><a href=\"/.scimgate/logout\">Sign out</a></p>",
        user = escape(&f.user_name),
        route = escape(&f.by.route),
        method = escape(&f.method),
        path = escape(&f.path),
        rule = escape(&f.by.rule),
        location = escape(public_location(&f.by.location)),
    );
    layout("Access denied", &main)
}

/// A rule's `file:line` without the server's directories (users see the file name).
pub fn public_location(location: &str) -> &str {
    location.rsplit('/').next().unwrap_or(location)
}

/// A short page with one message.
pub fn message(status: StatusCode, detail: &str) -> String {
    let title = status.canonical_reason().unwrap_or("Error");
    let main = format!("<h1>{}</h1><p>{}</p>", escape(title), escape(detail));
    layout(title, &main)
}
