//! Property checks shared by the fuzz targets (`fuzz/`) and the corpus replay tests:
//! the path normaliser, the policy's path matcher and the request header sanitiser.
//!
//! Each check takes arbitrary bytes and panics when a property fails, so libFuzzer
//! reports a crash and `cargo test` (which replays `fuzz/corpus/<target>/*` through the
//! same functions) fails on a committed seed. Not an API: hidden from the docs.

use std::net::{IpAddr, Ipv4Addr};

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::config::identity_headers::{BUILTIN_NAMES, BUILTIN_PREFIXES};
use crate::path::normalise;
use crate::policy::pattern::PathPattern;
use crate::proxy::headers::{
    add_identity, sanitise_request, ClientContext, IdentityHeaders, IdentityStrip,
};

/// Escapes that must never be left in an unambiguous forwarded path.
const AMBIGUOUS_ESCAPES: [&str; 6] = ["%2F", "%5C", "%25", "%00", "%23", "%3B"];

/// Text from fuzz bytes: the UTF-8 prefix (paths and names are text by then).
fn text(data: &[u8]) -> &str {
    match std::str::from_utf8(data) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// No `.`, `..` or empty segment (a trailing `/` apart), starting with `/`.
fn assert_canonical_segments(raw: &str, path: &str) {
    assert!(path.starts_with('/'), "{raw:?} -> {path:?}");
    let body = &path[1..];
    let body = body.strip_suffix('/').unwrap_or(body);
    if body.is_empty() {
        return;
    }
    for segment in body.split('/') {
        assert!(
            !segment.is_empty() && segment != "." && segment != "..",
            "{raw:?} -> {path:?}"
        );
    }
}

/// The normaliser: its forwarded form is canonical ASCII, normalising it again changes
/// nothing, and an unambiguous result holds no ambiguous escape or character.
pub fn check_path_normalise(data: &[u8]) {
    let raw = text(data);
    for candidate in [raw.to_owned(), format!("/{raw}")] {
        let Ok(n) = normalise(&candidate) else {
            continue;
        };
        assert!(n.forward.is_ascii(), "{candidate:?} -> {:?}", n.forward);
        assert_canonical_segments(&candidate, &n.forward);
        assert_canonical_segments(&candidate, &n.matching);
        let again = normalise(&n.forward)
            .unwrap_or_else(|e| panic!("{candidate:?} -> {:?}: {e}", n.forward));
        assert_eq!(again.forward, n.forward, "forward of {candidate:?}");
        assert_eq!(again.matching, n.matching, "matching of {candidate:?}");
        if n.ambiguity.is_none() {
            assert_eq!(again.ambiguity, None, "{candidate:?}");
            let upper = n.forward.to_ascii_uppercase();
            for escape in AMBIGUOUS_ESCAPES {
                assert!(!upper.contains(escape), "{candidate:?} -> {:?}", n.forward);
            }
            assert!(
                !n.forward.contains(['\\', ';']),
                "{candidate:?} -> {:?}",
                n.forward
            );
        }
    }
}

/// The matcher: for a pattern (first line; a leading `!` folds case as deny rules do)
/// and a path (the rest), the path's canonical form, its trailing-slash and
/// doubled-slash spellings, and the raw path (when it holds nothing to normalise) all
/// match alike; `captures` agrees with `matches`; a case-folding pattern ignores case.
pub fn check_path_match(data: &[u8]) {
    let input = text(data);
    let (pattern, raw) = input.split_once('\n').unwrap_or((input, "/"));
    let (pattern, fold_case) = match pattern.strip_prefix('!') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let Ok(pattern) = PathPattern::parse(pattern, fold_case) else {
        return;
    };
    let Ok(n) = normalise(raw) else {
        return;
    };
    let canonical = n.matching.as_str();
    let verdict = pattern.matches(canonical);
    let variants = [
        format!("{canonical}/"),
        canonical.replace('/', "//"),
        format!("/{canonical}"),
    ];
    for variant in &variants {
        assert_eq!(
            pattern.matches(variant),
            verdict,
            "{:?} on {canonical:?} vs {variant:?}",
            pattern.as_str()
        );
    }
    // Bytes the normaliser rewrites (dot segments, escapes, and the bytes it always
    // writes escaped: `\\`, `;`, NUL, `#`) make the raw spelling differ from the canonical.
    if !raw.contains(['.', '%', '\\', ';', '\0', '#']) && raw.is_ascii() {
        assert_eq!(
            pattern.matches(raw),
            verdict,
            "{:?} on {raw:?} vs {canonical:?}",
            pattern.as_str()
        );
    }
    assert_eq!(pattern.captures(canonical).is_some(), verdict);
    if fold_case {
        assert_eq!(
            pattern.matches(&canonical.to_ascii_uppercase()),
            verdict,
            "{:?} on {canonical:?}",
            pattern.as_str()
        );
        assert_eq!(
            pattern.matches(&canonical.to_ascii_lowercase()),
            verdict,
            "{:?} on {canonical:?}",
            pattern.as_str()
        );
    }
}

/// An identity header by an independent reading of the lists: the name lower-cased,
/// every byte but letters and digits made `-`.
fn is_identity_oracle(name: &str, extra_names: &[&str], extra_prefixes: &[&str]) -> bool {
    let canonical: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b.to_ascii_lowercase())
            } else {
                '-'
            }
        })
        .collect();
    BUILTIN_NAMES
        .iter()
        .chain(extra_names)
        .any(|n| canonical == *n)
        || BUILTIN_PREFIXES
            .iter()
            .chain(extra_prefixes)
            .any(|p| canonical.starts_with(p))
}

/// Extra configured names for the sanitiser check (`identity_headers:`).
const EXTRA_NAMES: [&str; 1] = ["x-fuzz-user"];
const EXTRA_PREFIXES: [&str; 1] = ["x-fuzz-id-"];

/// The sanitiser: request headers (`name: value` lines) from an untrusted peer lose
/// every identity header in every spelling (built-in and configured), every hop-by-hop
/// header and every forwarding header but the gate's own; after the gate adds its
/// identity, there is exactly one of each of its headers, with its value.
pub fn check_header_sanitise(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in text(data).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let extra_names: Vec<String> = EXTRA_NAMES.iter().map(|s| (*s).to_owned()).collect();
    let extra_prefixes: Vec<String> = EXTRA_PREFIXES.iter().map(|s| (*s).to_owned()).collect();
    let Ok(strip) = IdentityStrip::with_extra(&extra_names, &extra_prefixes) else {
        panic!("the fuzz strip list is valid");
    };
    let ctx = ClientContext {
        peer: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        trusted_proxy: false,
        tls: true,
        host: "app.test".into(),
    };
    let upgrade = crate::proxy::headers::is_websocket_upgrade(http::Version::HTTP_11, &headers);
    sanitise_request(&mut headers, &ctx, upgrade, &strip);
    for name in headers.keys() {
        let n = name.as_str();
        assert!(
            !is_identity_oracle(n, &EXTRA_NAMES, &EXTRA_PREFIXES),
            "identity header {n:?} survived"
        );
        let canonical = crate::config::identity_headers::canonical(n);
        assert!(
            !matches!(
                n,
                "te" | "trailer" | "transfer-encoding" | "keep-alive" | "proxy-connection"
            ),
            "hop-by-hop {n:?} survived"
        );
        if canonical.starts_with("x-forwarded-") {
            assert!(
                matches!(
                    n,
                    "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host"
                ),
                "forwarding header {n:?} survived"
            );
            assert_eq!(headers.get_all(name).iter().count(), 1, "{n:?}");
        }
    }
    if !upgrade {
        assert!(headers.get(http::header::UPGRADE).is_none());
    }
    add_identity(
        &mut headers,
        &IdentityHeaders {
            user: "alice".into(),
            email: Some("alice@example.com".into()),
            groups: vec!["readers".into()],
            assertion: Some("signed".into()),
        },
    );
    for (name, value) in [
        ("x-auth-request-user", "alice"),
        ("x-auth-request-email", "alice@example.com"),
        ("x-auth-request-groups", "readers"),
        ("x-scimgate-assertion", "signed"),
    ] {
        let all: Vec<&HeaderValue> = headers.get_all(name).iter().collect();
        assert_eq!(all.len(), 1, "{name}");
        assert_eq!(all[0], value, "{name}");
    }
}

#[cfg(test)]
mod corpus_tests;
