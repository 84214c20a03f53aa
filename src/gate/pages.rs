//! The pages people see when the gate says no: server-rendered, no scripts, no external
//! resources, under a strict Content-Security-Policy, in the layout of the other pages
//! (`crate::admin::layout`), with a link to `/.scimgate/me`.

use axum::body::Body;
use http::{Response, StatusCode};

use super::error::Forbidden;
use crate::admin::html::E;
use crate::admin::layout::narrow_page;

/// A complete HTML response with the pages' headers (strict CSP: only scimgate's own
/// stylesheet, no scripts).
pub fn html(status: StatusCode, body: String) -> Response<Body> {
    crate::admin::html::html(status, body)
}

fn layout(title: &str, main: &str) -> String {
    narrow_page(title, main)
}

/// The 403 page: who you are, what you asked for, which groups would allow it.
pub fn forbidden(f: &Forbidden) -> String {
    let groups = if f.allowing_groups.is_empty() {
        "<p>No group is allowed this request on this route.</p>".to_owned()
    } else {
        let items: String = f
            .allowing_groups
            .iter()
            .map(|g| format!("<li><code>{}</code></li>", E(g)))
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
<p class=\"muted\"><a href=\"/.scimgate/me\">See what you may use, or sign out</a></p>",
        user = E(&f.user_name),
        route = E(&f.by.route),
        method = E(&f.method),
        path = E(&f.path),
        rule = E(&f.by.rule),
        location = E(public_location(&f.by.location)),
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
    let main = format!("<h1>{}</h1><p>{}</p>", E(title), E(detail));
    layout(title, &main)
}
