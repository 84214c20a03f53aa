//! The signed-in pages' navigation, in the top bar of scimgate's one page shell
//! ([`crate::web::shell`]): links to `/me` and, for admins, the admin UI, who is signed
//! in, and a sign-out button; and the CSRF fields of the pages' forms.

pub use crate::web::csrf_field;
use crate::web::{shell, E};

/// Where the sign-out form posts.
pub const SIGN_OUT_PATH: &str = "/.scimgate/me/sign-out";

/// What the top bar shows about the signed-in person.
pub struct Nav<'a> {
    pub user_name: &'a str,
    pub is_admin: bool,
    /// Whether they approve access requests (a link to that page, admin or not).
    pub may_approve: bool,
    /// The session's CSRF token (absent for a bearer caller: no sign-out button).
    pub csrf: Option<&'a str>,
    /// Prefix of the admin links: the admin origin (`https://admin.example.com`), or
    /// `""` when the admin UI answers on this origin.
    pub admin_base: &'a str,
}

/// A whole page: `title`, the top bar's navigation (when someone is signed in) and
/// `main`, which the caller has already escaped.
pub fn page(title: &str, nav: Option<&Nav<'_>>, main: &str) -> String {
    let nav = nav.map(nav_links).unwrap_or_default();
    shell::page(title, &nav, main)
}

/// The top bar's links, who is signed in and the sign-out button.
fn nav_links(nav: &Nav<'_>) -> String {
    let admin = if nav.is_admin {
        format!(
            "<a href=\"{b}/.scimgate/admin/users\">Users</a>\
<a href=\"{b}/.scimgate/admin/groups\">Groups</a>\
<a href=\"{b}/.scimgate/admin/audit\">Audit</a>\
<a href=\"{b}/.scimgate/admin/tokens\">Tokens</a>\
<a href=\"{b}/.scimgate/admin/policy\">Policy</a>\
<a href=\"{b}/.scimgate/admin/access-requests\">Access requests</a>",
            b = E(nav.admin_base)
        )
    } else if nav.may_approve {
        format!(
            "<a href=\"{}/.scimgate/admin/access-requests\">Access requests</a>",
            E(nav.admin_base)
        )
    } else {
        String::new()
    };
    let sign_out = nav
        .csrf
        .map(|csrf| sign_out_form(csrf, "link"))
        .unwrap_or_default();
    format!(
        "<a href=\"/.scimgate/me\">My access</a>{admin}\
<span class=\"who\">Signed in as <strong>{user}</strong></span>{sign_out}",
        user = E(nav.user_name),
    )
}

/// The sign-out button: a POST form carrying the CSRF token.
pub fn sign_out_form(csrf: &str, class: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{SIGN_OUT_PATH}\">{field}\
<button type=\"submit\" class=\"{class}\">Sign out</button></form>",
        field = csrf_field(csrf),
        class = E(class),
    )
}
