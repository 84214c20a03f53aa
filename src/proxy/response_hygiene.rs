//! What an upstream's response may not carry back through the gate.
//!
//! - **scimgate's own cookies.** An upstream that could `Set-Cookie` scimgate's session
//!   (or a pending sign-in) on the browser could fix a victim's session to one the
//!   upstream knows. Every `Set-Cookie` whose name is one of scimgate's (the session
//!   cookie's configured name, or anything starting `scimgate_`), with or without a
//!   `__Host-` / `__Secure-` prefix, in any case, is removed.
//! - **Shared caching of protected content** (`cache: private`, the default). What the
//!   gate let one user see must not be kept by a shared cache and served to others:
//!   `Cache-Control` loses `public` and `s-maxage`, and gains `private` when it lacks it
//!   (`no-store`, `no-cache`, `max-age` and the rest are kept); the CDN-only
//!   `CDN-Cache-Control` and `Surrogate-Control` are removed. `Expires` is kept: it only
//!   sets freshness, and a `private` response is not stored by shared caches whatever it
//!   says. `cache: upstream` leaves caching headers as the upstream sent them.

use http::header::{CACHE_CONTROL, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::policy::route::CacheMode;

/// Names every scimgate cookie starts with (the session's may be configured otherwise).
const OWN_PREFIX: &str = "scimgate_";
/// Cookie name prefixes browsers give meaning to.
const COOKIE_PREFIXES: [&str; 2] = ["__Host-", "__Secure-"];
/// Caching headers meant for CDNs only.
const CDN_CACHE_HEADERS: [&str; 2] = ["cdn-cache-control", "surrogate-control"];

/// Cleans an upstream response's headers: scimgate's cookies out (`own_cookies` are the
/// configured names), and caching made private per `cache`. Returns how many
/// `Set-Cookie` headers were removed.
pub fn apply(headers: &mut HeaderMap, own_cookies: &[&str], cache: CacheMode) -> usize {
    let stripped = strip_own_set_cookies(headers, own_cookies);
    if stripped > 0 {
        tracing::warn!(
            cookies = stripped,
            "the upstream tried to set scimgate's own cookies; removed"
        );
    }
    if cache == CacheMode::Private {
        make_private(headers);
    }
    stripped
}

/// Whether a `Set-Cookie` value sets one of scimgate's cookies.
fn is_own_set_cookie(value: &HeaderValue, own: &[&str]) -> bool {
    let bytes = value.as_bytes();
    let end = bytes
        .iter()
        .position(|b| *b == b'=' || *b == b';')
        .unwrap_or(bytes.len());
    let Ok(name) = std::str::from_utf8(&bytes[..end]) else {
        // A name we cannot read could be anything: not passed on.
        return true;
    };
    let mut name = name.trim();
    for prefix in COOKIE_PREFIXES {
        if name.len() >= prefix.len()
            && name.is_char_boundary(prefix.len())
            && name[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            name = &name[prefix.len()..];
        }
    }
    let starts_own = name.len() >= OWN_PREFIX.len()
        && name.is_char_boundary(OWN_PREFIX.len())
        && name[..OWN_PREFIX.len()].eq_ignore_ascii_case(OWN_PREFIX);
    starts_own || own.iter().any(|o| o.eq_ignore_ascii_case(name))
}

fn strip_own_set_cookies(headers: &mut HeaderMap, own: &[&str]) -> usize {
    if !headers.contains_key(SET_COOKIE) {
        return 0;
    }
    let all: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    let kept: Vec<HeaderValue> = all
        .iter()
        .filter(|v| !is_own_set_cookie(v, own))
        .cloned()
        .collect();
    let stripped = all.len() - kept.len();
    if stripped > 0 {
        headers.remove(SET_COOKIE);
        for v in kept {
            headers.append(SET_COOKIE, v);
        }
    }
    stripped
}

/// `Cache-Control` without `public` / `s-maxage`, with `private`; CDN headers removed.
fn make_private(headers: &mut HeaderMap) {
    for name in CDN_CACHE_HEADERS {
        headers.remove(HeaderName::from_static(name));
    }
    if already_private(headers) {
        return;
    }
    let mut directives: Vec<String> = Vec::new();
    for value in headers.get_all(CACHE_CONTROL) {
        // Unreadable directives are dropped; `private` is added below either way.
        let Ok(text) = value.to_str() else { continue };
        for d in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let name = d.split('=').next().unwrap_or(d).trim();
            if name.eq_ignore_ascii_case("public") || name.eq_ignore_ascii_case("s-maxage") {
                continue;
            }
            directives.push(d.to_owned());
        }
    }
    let has_private = directives.iter().any(|d| {
        d.split('=')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("private"))
    });
    if !has_private {
        directives.insert(0, "private".to_owned());
    }
    let value = HeaderValue::from_str(&directives.join(", "))
        .unwrap_or(HeaderValue::from_static("private, no-cache"));
    headers.insert(CACHE_CONTROL, value);
}

/// Whether `Cache-Control` is one readable value that says `private` and neither
/// `public` nor `s-maxage` (what the gate sets when the upstream sent none): then
/// [`make_private`] would only respell it.
fn already_private(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CACHE_CONTROL).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let Ok(text) = value.to_str() else {
        return false;
    };
    let mut private = false;
    for d in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let name = d.split('=').next().unwrap_or(d).trim();
        if name.eq_ignore_ascii_case("public") || name.eq_ignore_ascii_case("s-maxage") {
            return false;
        }
        private |= name.eq_ignore_ascii_case("private");
    }
    private
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn all<'h>(h: &'h HeaderMap, name: &str) -> Vec<&'h str> {
        h.get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn own_cookies_go_in_every_spelling_others_stay() {
        let mut h = with(&[
            ("set-cookie", "scimgate_session=fixed; Path=/"),
            (
                "set-cookie",
                "__Host-scimgate_session=fixed; Path=/; Secure",
            ),
            ("set-cookie", "__secure-SCIMGATE_SESSION=x"),
            ("set-cookie", "scimgate_login_0=x"),
            ("set-cookie", "sid=configured"),
            ("set-cookie", " __Host-__Secure-sid=x"),
            ("set-cookie", "app=1; Path=/"),
            ("set-cookie", "scimgatex=kept"),
        ]);
        assert_eq!(apply(&mut h, &["sid"], CacheMode::Upstream), 6);
        assert_eq!(
            all(&h, "set-cookie"),
            vec!["app=1; Path=/", "scimgatex=kept"]
        );
        let mut none = with(&[("set-cookie", "app=1")]);
        assert_eq!(apply(&mut none, &["sid"], CacheMode::Upstream), 0);
    }

    #[test]
    fn protected_responses_become_private() {
        let mut h = with(&[
            ("cache-control", "public, max-age=600"),
            ("cache-control", "s-maxage=3600, must-revalidate"),
            ("cdn-cache-control", "max-age=60"),
            ("surrogate-control", "max-age=60"),
            ("expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
        ]);
        apply(&mut h, &[], CacheMode::Private);
        assert_eq!(
            all(&h, "cache-control"),
            vec!["private, max-age=600, must-revalidate"]
        );
        assert!(h.get("cdn-cache-control").is_none());
        assert!(h.get("surrogate-control").is_none());
        assert!(h.get("expires").is_some());
        let mut kept = with(&[("cache-control", "no-store")]);
        apply(&mut kept, &[], CacheMode::Private);
        assert_eq!(all(&kept, "cache-control"), vec!["private, no-store"]);
        let mut already = with(&[("cache-control", "private, max-age=5")]);
        apply(&mut already, &[], CacheMode::Private);
        assert_eq!(all(&already, "cache-control"), vec!["private, max-age=5"]);
        let mut missing = HeaderMap::new();
        apply(&mut missing, &[], CacheMode::Private);
        assert_eq!(all(&missing, "cache-control"), vec!["private"]);
        let mut upstream = with(&[("cache-control", "public, max-age=600")]);
        apply(&mut upstream, &[], CacheMode::Upstream);
        assert_eq!(all(&upstream, "cache-control"), vec!["public, max-age=600"]);
    }
}
