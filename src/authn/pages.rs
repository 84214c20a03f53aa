//! The small HTML pages of the login surface: errors, "not provisioned", signed out,
//! the sign-out button.
//!
//! In the layout of scimgate's other pages (`crate::admin::layout::narrow_page`: its
//! own stylesheet and icon, no scripts, no external resources), never cached, never
//! framed, forms only to scimgate itself; every piece of text is HTML-escaped.

use axum::response::Response;
use http::header::CACHE_CONTROL;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::admin::layout::narrow_page;

/// Headers every login-surface response carries.
pub(crate) fn no_store_headers() -> [(HeaderName, HeaderValue); 4] {
    [
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ),
        (
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ),
        (
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ),
    ]
}

/// A page: `title`, a paragraph of `message`, and optionally a link (`href`, label).
pub(crate) fn page(
    status: StatusCode,
    title: &str,
    message: &str,
    link: Option<(&str, &str)>,
) -> Response {
    page_with_links(status, title, message, link.as_slice())
}

/// A page: `title`, a paragraph of `message`, and a paragraph of `links` (`href`, label).
pub(crate) fn page_with_links(
    status: StatusCode,
    title: &str,
    message: &str,
    links: &[(&str, &str)],
) -> Response {
    let mut resp = render(status, title, message, &links_html(links));
    resp.headers_mut().insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// A paragraph of links, or nothing.
pub(crate) fn links_html(links: &[(&str, &str)]) -> String {
    if links.is_empty() {
        return String::new();
    }
    let items: Vec<String> = links
        .iter()
        .map(|(href, label)| format!("<a href=\"{}\">{}</a>", escape(href), escape(label)))
        .collect();
    format!("<p class=\"links\">{}</p>", items.join(" · "))
}

/// A page whose action is a button posting an empty form to `action` (a path of ours).
pub(crate) fn page_with_button(
    status: StatusCode,
    title: &str,
    message: &str,
    action: &str,
    label: &str,
) -> Response {
    let form = format!(
        "<form method=\"post\" action=\"{}\"><button type=\"submit\">{}</button></form>",
        escape(action),
        escape(label)
    );
    // Under `no-referrer` browsers send `Origin: null` with the form's POST, which the
    // same-origin check refuses; the pages' `same-origin` keeps the Origin and tells
    // others nothing.
    render(status, title, message, &form)
}

/// In the layout and under the headers of every other page (`crate::admin::html`):
/// scimgate's stylesheet and icon, a strict CSP. `extra` is markup the caller escaped.
fn render(status: StatusCode, title: &str, message: &str, extra: &str) -> Response {
    let main = format!(
        "<h1>{title}</h1><p class=\"detail\">{message}</p>{extra}",
        title = escape(title),
        message = escape(message),
    );
    crate::admin::html::html(status, narrow_page(title, &main))
}

/// The answer to a sign-out that continues at the identity provider (`url`, its
/// end-session endpoint): a page that goes there at once (`<meta http-equiv=refresh>`)
/// and links to it. Not a redirect: browsers apply the sign-out form's
/// `form-action 'self'` to the redirects that follow its POST, which would stop at the
/// provider's origin; a refresh is a navigation of its own.
pub(crate) fn continue_at_provider(url: &str) -> Response {
    let url = escape(url);
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"0;url={url}\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Signing out · scimgate</title>{links}</head>\
<body><main class=\"narrow\"><h1>Signing out</h1>\
<p class=\"detail\">You are signed out of scimgate. Signing you out of your identity provider…</p>\
<p class=\"links\"><a href=\"{url}\">Continue</a></p></main></body></html>\n",
        links = crate::admin::html::HEAD_LINKS,
    );
    let mut resp = crate::admin::html::html(StatusCode::OK, body);
    resp.headers_mut().insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
