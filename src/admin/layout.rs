//! The shared page layout: a top bar (who is signed in, links to `/me` and, for
//! admins, the admin UI, and a sign-out button) around each page's content.

use super::html::{E, HEAD_LINKS};

/// Where the sign-out form posts.
pub const SIGN_OUT_PATH: &str = "/.scimgate/me/sign-out";

/// What the top bar shows about the signed-in person.
pub struct Nav<'a> {
    pub user_name: &'a str,
    pub is_admin: bool,
    /// The session's CSRF token (absent for a bearer caller: no sign-out button).
    pub csrf: Option<&'a str>,
    /// Prefix of the admin links: the admin origin (`https://admin.example.com`), or
    /// `""` when the admin UI answers on this origin.
    pub admin_base: &'a str,
}

/// A whole page: `title`, the top bar (when someone is signed in) and `main`, which
/// the caller has already escaped.
pub fn page(title: &str, nav: Option<&Nav<'_>>, main: &str) -> String {
    let bar = nav.map(top_bar).unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · scimgate</title>{HEAD_LINKS}</head>\
<body>{bar}<main>{main}</main></body></html>\n",
        title = E(title),
    )
}

/// A narrow page without a top bar (denials, messages).
pub fn narrow_page(title: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · scimgate</title>{HEAD_LINKS}</head>\
<body><main class=\"narrow\">{main}</main></body></html>\n",
        title = E(title),
    )
}

fn top_bar(nav: &Nav<'_>) -> String {
    let admin = if nav.is_admin {
        format!(
            "<a href=\"{b}/.scimgate/admin/users\">Users</a>\
<a href=\"{b}/.scimgate/admin/groups\">Groups</a>\
<a href=\"{b}/.scimgate/admin/audit\">Audit</a>\
<a href=\"{b}/.scimgate/admin/tokens\">Tokens</a>\
<a href=\"{b}/.scimgate/admin/policy\">Policy</a>",
            b = E(nav.admin_base)
        )
    } else {
        String::new()
    };
    let sign_out = nav
        .csrf
        .map(|csrf| sign_out_form(csrf, "link"))
        .unwrap_or_default();
    format!(
        "<header class=\"top\"><span class=\"brand\">scimgate</span>\
<a href=\"/.scimgate/me\">My access</a>{admin}\
<span class=\"who\">Signed in as <strong>{user}</strong></span>{sign_out}</header>",
        user = E(nav.user_name),
    )
}

/// The sign-out button: a POST form carrying the CSRF token.
pub fn sign_out_form(csrf: &str, class: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{SIGN_OUT_PATH}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\" class=\"{class}\">Sign out</button></form>",
        csrf = E(csrf),
        class = E(class),
    )
}

/// A hidden CSRF field for a form.
pub fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        E(csrf)
    )
}
