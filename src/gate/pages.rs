//! The pages people see when the gate says no: server-rendered, no scripts, no external
//! resources, in scimgate's one page shell under its one set of page headers
//! ([`crate::web`]), with a link to `/.scimgate/me`; the 403 page offers a "Request
//! access" form for each requestable grant that would allow the request
//! ([`super::request_form`]).

use http::StatusCode;

use super::error::Forbidden;
use super::request_form::request_form;
use crate::authn::routes::LOGIN_AS_SOMEONE_ELSE;
use crate::web::{links, message_page, narrow_page as layout, url_encode, E};

/// A complete HTML response with the page headers ([`crate::web::html`]).
pub use crate::web::html;

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
    let offers = match &f.csrf {
        Some(csrf) if !f.offers.is_empty() => {
            let forms: String = f.offers.iter().map(|o| request_form(o, csrf)).collect();
            format!("<h2>Request access</h2><p>You may ask for one of them for a while; an approver decides.</p>{forms}")
        }
        _ => String::new(),
    };
    let main = format!(
        "<h1>Access denied</h1>\
<p>You are signed in as <strong class=\"user\">{user}</strong>, but the route \
<code class=\"route\">{route}</code> does not allow <code>{method} {path}</code> for you.</p>\
{groups}{offers}\
<p class=\"muted\">Decided by rule <code class=\"rule\">{rule}</code> ({location}).</p>\
<p class=\"links\"><a href=\"/.scimgate/me\">See what you may use, or sign out</a>{switch}</p>",
        user = E(&f.user_name),
        route = E(&f.by.route),
        method = E(&f.method),
        path = E(&f.path),
        rule = E(&f.by.rule),
        location = E(public_location(&f.by.location)),
        switch = if f.login_enabled {
            format!(
                " · <a href=\"{}&amp;rd={}\">Sign in as someone else</a>",
                E(LOGIN_AS_SOMEONE_ELSE),
                url_encode(&f.path)
            )
        } else {
            String::new()
        },
    );
    layout("Access denied", &main)
}

/// A rule's `file:line` without the server's directories (users see the file name).
pub fn public_location(location: &str) -> &str {
    location.rsplit('/').next().unwrap_or(location)
}

/// What a caller whose identity names no active directory user is told.
pub const NOT_PROVISIONED: &str = "Your identity is not an active user in scimgate's directory: \
the account is deactivated, or was never provisioned. Ask your identity provider's \
administrators to assign you to this application (or to reactivate your account).";

/// The page for [`NOT_PROVISIONED`], offering another sign-in when there is one.
pub fn not_provisioned(login_enabled: bool) -> String {
    let switch: &[(&str, &str)] = if login_enabled {
        &[(LOGIN_AS_SOMEONE_ELSE, "Sign in as someone else")]
    } else {
        &[]
    };
    message_page("No access", NOT_PROVISIONED, &links(switch))
}

/// A short page with one message.
pub fn message(status: StatusCode, detail: &str) -> String {
    let title = status.canonical_reason().unwrap_or("Error");
    let main = format!("<h1>{}</h1><p>{}</p>", E(title), E(detail));
    layout(title, &main)
}
