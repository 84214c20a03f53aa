//! The small HTML pages of the login surface: errors, "not provisioned", signed out,
//! the sign-out button.
//!
//! Self-contained (inline style, no scripts, no external resources), never cached,
//! never framed, forms only to scimgate itself; every piece of text is HTML-escaped.

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, StatusCode};

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
    let link = link
        .map(|(href, label)| format!("<p><a href=\"{}\">{}</a></p>", escape(href), escape(label)))
        .unwrap_or_default();
    render(status, title, message, &link)
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
    let mut resp = render(status, title, message, &form);
    // Under `no-referrer` browsers send `Origin: null` with the form's POST, which the
    // same-origin check refuses; `same-origin` keeps the Origin and tells others nothing.
    resp.headers_mut().insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// `extra` is markup the caller escaped.
fn render(status: StatusCode, title: &str, message: &str, extra: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:36rem;\
margin:4rem auto;padding:0 1rem;color:#222}}h1{{font-size:1.4rem}}</style></head>\
<body><h1>{title}</h1><p>{message}</p>{extra}</body></html>",
        title = escape(title),
        message = escape(message),
    );
    (
        status,
        no_store_headers(),
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
                ),
            ),
        ],
        body,
    )
        .into_response()
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
