//! The small HTML pages of the login surface: errors, "not provisioned", signed out,
//! the sign-out button, the step that continues a sign-out at the identity provider.
//!
//! In scimgate's one page shell under its one set of page headers ([`crate::web`]), like
//! the 403 page and the admin UI: its own stylesheet and icon, no scripts, no external
//! resources, never cached, never framed, forms only to scimgate itself; every piece
//! of text is HTML-escaped.

use axum::response::Response;
use http::StatusCode;

use crate::web::{html, links as web_links, message_page, refresh_page, E};

/// A page (200; failures are answered by [`crate::web::failure`]): `title`, a paragraph
/// of `message`, and optionally a link (`href`, label).
pub(crate) fn page(title: &str, message: &str, link: Option<(&str, &str)>) -> Response {
    page_with_links(title, message, link.as_slice())
}

/// A page (200): `title`, a paragraph of `message`, and a paragraph of `links` (`href`,
/// label).
pub(crate) fn page_with_links(title: &str, message: &str, links: &[(&str, &str)]) -> Response {
    html(
        StatusCode::OK,
        message_page(title, message, &web_links(links)),
    )
}

/// A page (200) whose action is a button posting an empty form to `action` (a path of
/// ours).
/// The pages' `Referrer-Policy: same-origin` keeps the form's `Origin`, which the
/// same-origin check of the sign-out reads.
pub(crate) fn page_with_button(title: &str, message: &str, action: &str, label: &str) -> Response {
    let form = format!(
        "<form method=\"post\" action=\"{}\"><button type=\"submit\">{}</button></form>",
        E(action),
        E(label)
    );
    html(StatusCode::OK, message_page(title, message, &form))
}

/// The answer to a sign-out that continues at the identity provider (`url`, its
/// end-session endpoint): a page that goes there at once and links to it
/// ([`crate::web::refresh_page`]). Not a redirect: browsers apply the sign-out form's
/// `form-action 'self'` to the redirects that follow its POST, which would stop at the
/// provider's origin; a refresh is a navigation of its own.
pub(crate) fn continue_at_provider(url: &str) -> Response {
    let main = format!(
        "<h1>Signing out</h1>\
<p class=\"detail\">You are signed out of scimgate. Signing you out of your identity provider…</p>\
<p class=\"links\"><a href=\"{}\">Continue</a></p>",
        E(url)
    );
    html(StatusCode::OK, refresh_page("Signing out", url, &main))
}
