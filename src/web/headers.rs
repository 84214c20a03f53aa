//! The security headers of every page and of the redirects between them: one
//! Content-Security-Policy ([`CSP`]), one Referrer-Policy ([`REFERRER_POLICY`]), never
//! sniffed, never framed, never cached.
//!
//! The CSP allows nothing but scimgate's own stylesheet and icon
//! ([`super::assets`]): no scripts, no inline style or event handler (no
//! `'unsafe-inline'`), no frames, forms only to scimgate, no `<base>`.
//! `Referrer-Policy: same-origin` keeps the `Origin` of a form POST to scimgate (under
//! `no-referrer`, browsers send `Origin: null`, which the same-origin checks of the
//! sign-out and admin forms refuse) and sends nothing to any other origin: a
//! navigation to the identity provider or to an upstream carries no `Referer`.

use axum::response::Response;
use http::{header, HeaderName, HeaderValue};

/// The pages' Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages' Referrer-Policy.
pub const REFERRER_POLICY: &str = "same-origin";

/// The headers every page and every redirect of the pages carries.
pub fn page_headers() -> [(HeaderName, HeaderValue); 5] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static(REFERRER_POLICY),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

/// Sets [`page_headers`] on `r`, replacing any it had.
pub fn secure_headers(r: &mut Response) {
    let h = r.headers_mut();
    for (name, value) in page_headers() {
        h.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_no_script_and_nothing_inline() {
        let directives: Vec<&str> = CSP.split(';').map(str::trim).collect();
        assert!(directives.contains(&"default-src 'none'"), "{CSP}");
        assert!(!CSP.contains("unsafe-"), "{CSP}");
        assert!(!CSP.contains("script-src"), "{CSP}");
        assert!(directives.contains(&"frame-ancestors 'none'"), "{CSP}");
    }
}
