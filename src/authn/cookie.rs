//! Cookies: reading one from the request's `Cookie` headers, and writing `Set-Cookie`.
//!
//! Every cookie scimgate sets is `Path=/; HttpOnly; SameSite=Lax`, plus `Secure` under
//! TLS, where its name also takes the `__Host-` prefix (the browser then refuses the
//! cookie from a sibling subdomain or over plain HTTP, so it cannot be planted).

use std::time::Duration;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

/// The name a cookie is sent under: `__Host-{name}` under TLS, `{name}` otherwise.
pub fn wire_name(name: &str, tls: bool) -> String {
    if tls {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// The first cookie called `name` in the request's `Cookie` headers.
pub fn find<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// `Set-Cookie` for `name=value` (wire name as given) kept for `max_age`.
pub fn set(wire_name: &str, value: &str, max_age: Duration, tls: bool) -> HeaderValue {
    build(wire_name, value, max_age.as_secs(), tls)
}

/// `Set-Cookie` that deletes the cookie.
pub fn clear(wire_name: &str, tls: bool) -> HeaderValue {
    build(wire_name, "", 0, tls)
}

fn build(wire_name: &str, value: &str, max_age: u64, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let text =
        format!("{wire_name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    // Names come from validated config and values are base64url, so this holds; a
    // value that could not be a header is replaced by one that sets nothing useful.
    HeaderValue::try_from(text)
        .unwrap_or_else(|_| HeaderValue::from_static("scimgate_invalid=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_several_headers() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; sess=abc"));
        h.append(COOKIE, HeaderValue::from_static("sess=later; b=2"));
        assert_eq!(find(&h, "sess"), Some("abc"));
        assert_eq!(find(&h, "b"), Some("2"));
        assert_eq!(find(&h, "ses"), None);
        assert_eq!(find(&HeaderMap::new(), "sess"), None);
    }

    #[test]
    fn attributes_with_and_without_tls() {
        assert_eq!(wire_name("s", true), "__Host-s");
        assert_eq!(wire_name("s", false), "s");
        assert_eq!(
            set("__Host-s", "v", Duration::from_secs(60), true),
            "__Host-s=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(
            set("s", "v", Duration::from_secs(60), false),
            "s=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            clear("s", false),
            "s=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        );
    }
}
