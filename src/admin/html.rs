//! HTML output for every page scimgate renders: escaping and the response headers.
//!
//! Every value that reaches a page goes through [`E`] (a `Display` that escapes as it
//! writes), so handlers build markup with `format!` and cannot forget. Responses carry
//! a strict Content-Security-Policy: nothing but the one stylesheet served by scimgate
//! itself ([`STYLESHEET_PATH`]), no scripts, no frames, forms only to scimgate.
//! `Referrer-Policy: same-origin` keeps the `Origin` of a form POST (under
//! `no-referrer`, browsers send `Origin: null`), which the CSRF check reads.

use std::fmt;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

/// Where the stylesheet is served (on every host: `/.scimgate/` is scimgate's own).
pub const STYLESHEET_PATH: &str = "/.scimgate/assets/style.css";

/// The pages' Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("assets/style.css");

/// Where scimgate's icon is served. Every page names it (`<link rel="icon">`), so a
/// browser showing one of scimgate's pages does not ask the route behind it for
/// `/favicon.ico`.
pub const ICON_PATH: &str = "/.scimgate/assets/favicon.svg";

const ICON: &str = include_str!("assets/favicon.svg");

/// The `<head>` links every page carries: the stylesheet and the icon.
pub const HEAD_LINKS: &str = concat!(
    "<link rel=\"stylesheet\" href=\"/.scimgate/assets/style.css\">",
    "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/.scimgate/assets/favicon.svg\">"
);

/// Text escaped for HTML content and attribute values (`&<>"'`).
pub struct E<'a>(pub &'a str);

impl fmt::Display for E<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// `value` escaped, as an owned string.
pub fn escape(value: &str) -> String {
    E(value).to_string()
}

/// Percent-encodes a query or path value (everything but unreserved characters).
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The security headers of every page.
pub fn secure_headers(r: &mut Response) {
    let h = r.headers_mut();
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
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// A complete HTML response with the page headers.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(&mut r);
    r
}

/// A 303 to `location` (after a POST), with the page headers.
pub fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    secure_headers(&mut r);
    r
}

/// `GET /.scimgate/assets/style.css`.
pub async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

/// `GET /.scimgate/assets/favicon.svg`.
pub async fn icon() -> Response {
    asset(ICON, "image/svg+xml")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            E("<a href='x'>&\"</a>").to_string(),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(E("plain ünïcode").to_string(), "plain ünïcode");
    }

    #[test]
    fn head_links_name_the_served_assets() {
        assert!(HEAD_LINKS.contains(STYLESHEET_PATH));
        assert!(HEAD_LINKS.contains(ICON_PATH));
    }

    #[test]
    fn url_encoding_keeps_only_unreserved() {
        assert_eq!(url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
