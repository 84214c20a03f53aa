//! Path normalisation cases: the bypasses other proxies had, then properties over
//! random paths made of tricky pieces.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn norm(raw: &str) -> NormalPath {
    normalise(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

/// Asserts the forwarded form, the matching form and that the path is unambiguous.
fn clean(raw: &str, forward: &str, matching: &str) {
    let n = norm(raw);
    assert_eq!(n.forward, forward, "forward of {raw}");
    assert_eq!(n.matching, matching, "matching of {raw}");
    assert_eq!(n.ambiguity, None, "ambiguity of {raw}");
}

fn ambiguous(raw: &str, expected: Ambiguity) -> NormalPath {
    let n = norm(raw);
    assert_eq!(n.ambiguity, Some(expected), "ambiguity of {raw}");
    n
}

#[test]
fn plain_paths_are_unchanged() {
    clean("/", "/", "/");
    clean("/a/b", "/a/b", "/a/b");
    clean("/a/b/", "/a/b/", "/a/b/");
    clean("/index.html", "/index.html", "/index.html");
    clean("/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,=");
}

#[test]
fn dot_segments_are_removed() {
    clean("/a/../b", "/b", "/b");
    clean("/a/./b", "/a/b", "/a/b");
    clean("/a/b/../../c", "/c", "/c");
    clean("/a/b/..", "/a/", "/a/");
    clean("/a/b/.", "/a/b/", "/a/b/");
    clean(
        "/finance/../admin/secrets",
        "/admin/secrets",
        "/admin/secrets",
    );
}

#[test]
fn dot_dot_above_the_root_stays_at_the_root() {
    clean("/..", "/", "/");
    clean("/../..", "/", "/");
    clean("/../../etc/passwd", "/etc/passwd", "/etc/passwd");
    clean("/a/../../b", "/b", "/b");
}

#[test]
fn encoded_dots_are_decoded_before_dot_segment_removal() {
    clean("/a/%2e%2e/b", "/b", "/b");
    clean("/a/%2E%2E/b", "/b", "/b");
    clean("/a/.%2e/b", "/b", "/b");
    clean("/a/%2e/b", "/a/b", "/a/b");
    clean("/a/%2e%2e", "/", "/");
}

#[test]
fn segments_that_only_look_like_dots_stay() {
    clean("/a/.../b", "/a/.../b", "/a/.../b");
    clean("/a/..b/c", "/a/..b/c", "/a/..b/c");
    clean("/a/b../c", "/a/b../c", "/a/b../c");
}

#[test]
fn duplicate_slashes_collapse() {
    clean("//", "/", "/");
    clean("//a//b", "/a/b", "/a/b");
    clean("/a///b//", "/a/b/", "/a/b/");
    clean("//admin", "/admin", "/admin");
}

#[test]
fn unreserved_escapes_are_decoded_and_others_upper_cased() {
    clean("/%61%62%63", "/abc", "/abc");
    clean("/%7euser", "/~user", "/~user");
    clean("/a%2db", "/a-b", "/a-b");
    clean("/a%3ab", "/a%3Ab", "/a:b");
    clean("/a%3Ab", "/a%3Ab", "/a:b");
    clean("/%c3%a9t%C3%A9", "/%C3%A9t%C3%A9", "/été");
}

#[test]
fn case_variants_stay_distinct() {
    let upper = norm("/Admin");
    let lower = norm("/admin");
    assert_ne!(upper.matching, lower.matching);
    assert_ne!(upper.forward, lower.forward);
    clean("/%41dmin", "/Admin", "/Admin");
}

#[test]
fn encoded_whitespace_is_kept_encoded_upstream_and_decoded_for_matching() {
    clean("/a%20b", "/a%20b", "/a b");
    clean("/admin%20", "/admin%20", "/admin ");
    let tab = ambiguous("/admin%09", Ambiguity::ControlChar);
    assert_eq!(tab.forward, "/admin%09");
    ambiguous("/admin%0a", Ambiguity::ControlChar);
    ambiguous("/admin%0D%0A", Ambiguity::ControlChar);
    ambiguous("/a%7Fb", Ambiguity::ControlChar);
}

#[test]
fn literal_characters_a_uri_may_not_hold_are_escaped_upstream() {
    clean("/a b", "/a%20b", "/a b");
    clean("/a\"b", "/a%22b", "/a\"b");
    clean("/é", "/%C3%A9", "/é");
}

#[test]
fn encoded_slash_is_ambiguous_and_stays_encoded() {
    let n = ambiguous("/a%2fb", Ambiguity::EncodedSlash);
    assert_eq!(n.forward, "/a%2Fb");
    assert_eq!(n.matching, "/a%2Fb");
    let n = ambiguous("/public/..%2F..%2Fadmin", Ambiguity::EncodedSlash);
    assert_eq!(n.matching, "/public/..%2F..%2Fadmin");
    assert_eq!(n.forward, "/public/..%2F..%2Fadmin");
}

#[test]
fn backslashes_are_ambiguous() {
    let n = ambiguous("/a\\..\\admin", Ambiguity::Backslash);
    assert_eq!(n.forward, "/a%5C..%5Cadmin");
    assert_eq!(n.matching, "/a%5C..%5Cadmin");
    let n = ambiguous("/a%5cb", Ambiguity::EncodedBackslash);
    assert_eq!(n.forward, "/a%5Cb");
    assert_eq!(n.matching, "/a%5Cb");
}

#[test]
fn semicolons_are_ambiguous() {
    let n = ambiguous("/a;jsessionid=1/b", Ambiguity::Semicolon);
    assert_eq!(n.forward, "/a;jsessionid=1/b");
    assert_eq!(n.matching, "/a%3Bjsessionid=1/b");
    let n = ambiguous("/public/..;/admin", Ambiguity::Semicolon);
    assert_eq!(n.forward, "/public/..;/admin");
    assert_eq!(n.matching, "/public/..%3B/admin");
    let n = ambiguous("/a%3bb", Ambiguity::Semicolon);
    assert_eq!(n.forward, "/a%3Bb");
    assert_eq!(n.matching, "/a%3Bb");
}

#[test]
fn nul_is_ambiguous() {
    let n = ambiguous("/admin%00.html", Ambiguity::Nul);
    assert_eq!(n.forward, "/admin%00.html");
    assert_eq!(n.matching, "/admin%00.html");
}

#[test]
fn encoded_hash_is_ambiguous_and_never_a_fragment() {
    let n = ambiguous("/docs/%23!/model", Ambiguity::EncodedHash);
    assert_eq!(n.forward, "/docs/%23!/model");
    assert_eq!(n.matching, "/docs/%23!/model");
    let n = ambiguous("/docs/#x", Ambiguity::EncodedHash);
    assert_eq!(n.forward, "/docs/%23x");
}

#[test]
fn invalid_utf8_is_ambiguous_and_escaped_for_matching() {
    let n = ambiguous("/a%ffb", Ambiguity::InvalidUtf8);
    assert_eq!(n.forward, "/a%FFb");
    assert_eq!(n.matching, "/a%FFb");
    let n = ambiguous("/%c3", Ambiguity::InvalidUtf8);
    assert_eq!(n.matching, "/%C3");
}

#[test]
fn percent_stays_escaped_in_matching_only_next_to_an_ambiguity() {
    let n = ambiguous("/100%25", Ambiguity::EncodedPercent);
    assert_eq!(
        (n.forward.as_str(), n.matching.as_str()),
        ("/100%25", "/100%")
    );
    // A literal "%2F" (written %252F) must not look like a kept-escaped slash.
    let n = ambiguous("/a%252F%2Fb", Ambiguity::EncodedPercent);
    assert_eq!(n.matching, "/a%252F%2Fb");
}

#[test]
fn encoded_percent_is_ambiguous() {
    // An upstream that decodes twice reads %252e%252e as `..` and %252F as `/`.
    for raw in [
        "/public/%252e%252e/private/a",
        "/public/%252E%252E/private",
        "/public%252Fprivate",
        "/a/%25",
        "/a/%2541",
    ] {
        let n = ambiguous(raw, Ambiguity::EncodedPercent);
        assert_eq!(n.check_ambiguity(false), Err(Ambiguity::EncodedPercent));
        assert_eq!(n.check_ambiguity(true), Ok(()));
    }
    // Removed with its segment, it still counts.
    ambiguous("/%25/../a", Ambiguity::EncodedPercent);
}

#[test]
fn percent_escaping_in_matching_depends_only_on_what_is_kept() {
    // Found by the random test: the invalid byte is in a removed segment.
    let n = ambiguous("/%ff//../%25", Ambiguity::InvalidUtf8);
    assert_eq!(n.forward, "/%25");
    assert_eq!(n.matching, "/%");
    assert_eq!(norm(&n.forward).matching, "/%");
}

#[test]
fn routes_may_opt_out_of_the_ambiguity_check() {
    let n = norm("/a%2Fb");
    assert_eq!(n.check_ambiguity(false), Err(Ambiguity::EncodedSlash));
    assert_eq!(n.check_ambiguity(true), Ok(()));
    assert_eq!(norm("/a/b").check_ambiguity(false), Ok(()));
}

#[test]
fn the_first_ambiguity_is_reported() {
    ambiguous("/a;b/c%2Fd", Ambiguity::Semicolon);
    ambiguous("/c%2Fd/a;b", Ambiguity::EncodedSlash);
    ambiguous("/%ff/%00", Ambiguity::InvalidUtf8);
    ambiguous("/%00/%ff", Ambiguity::Nul);
}

#[test]
fn ambiguities_in_removed_segments_still_count() {
    let n = ambiguous("/x;y/../admin", Ambiguity::Semicolon);
    assert_eq!(n.forward, "/admin");
}

#[test]
fn bad_escapes_and_relative_paths_are_errors() {
    assert_eq!(normalise("/a%zz"), Err(PathError::BadPercentEncoding));
    assert_eq!(normalise("/a%4"), Err(PathError::BadPercentEncoding));
    assert_eq!(normalise("/a%"), Err(PathError::BadPercentEncoding));
    assert_eq!(normalise("/a%g1"), Err(PathError::BadPercentEncoding));
    assert_eq!(normalise(""), Err(PathError::NotAbsolute));
    assert_eq!(normalise("a/b"), Err(PathError::NotAbsolute));
    assert_eq!(normalise("*"), Err(PathError::NotAbsolute));
    assert_eq!(normalise("%2Fa"), Err(PathError::NotAbsolute));
}

#[test]
fn every_ambiguity_has_a_short_reason() {
    let all = [
        Ambiguity::EncodedSlash,
        Ambiguity::EncodedBackslash,
        Ambiguity::Backslash,
        Ambiguity::Nul,
        Ambiguity::EncodedHash,
        Ambiguity::Semicolon,
        Ambiguity::InvalidUtf8,
        Ambiguity::ControlChar,
        Ambiguity::EncodedPercent,
    ];
    let reasons: std::collections::HashSet<String> = all.iter().map(|a| a.to_string()).collect();
    assert_eq!(reasons.len(), all.len());
    assert!(reasons.iter().all(|r| !r.is_empty() && r.len() < 40));
}

#[test]
fn normalising_the_forwarded_form_again_changes_nothing() {
    for raw in [
        "/a/../b",
        "/a/%2e%2e/b/",
        "//x//y",
        "/a%2fb",
        "/a\\b",
        "/a;b",
        "/%C3%A9",
        "/%ff",
        "/a%20b%09",
        "/100%25",
        "/docs/%23!/x",
    ] {
        assert_same_again(raw);
    }
}

fn assert_same_again(raw: &str) {
    let first = norm(raw);
    let again = norm(&first.forward);
    assert_eq!(again.forward, first.forward, "forward of {raw}");
    assert_eq!(again.matching, first.matching, "matching of {raw}");
    // An ambiguity can vanish with the segment that held it, never appear.
    assert!(
        again.ambiguity.is_none() || first.ambiguity.is_some(),
        "ambiguity of {raw}"
    );
}

/// No segment of `matching` is `.` or `..`, and no two separators touch.
fn assert_no_dot_segments(raw: &str, matching: &str) {
    assert!(matching.starts_with('/'), "{raw} -> {matching}");
    assert!(!matching.contains("//"), "{raw} -> {matching}");
    for segment in matching.split('/') {
        assert!(segment != "." && segment != "..", "{raw} -> {matching}");
    }
}

/// Decodes every `%XX` (the forwarded form is well-formed ASCII).
fn decode_all(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn random_tricky_paths_keep_the_invariants() {
    const PIECES: &[&str] = &[
        "/", "//", ".", "..", "%2e", "%2E", "%2e%2e", ".%2E", "%2f", "%2F", "%5c", "\\", ";",
        "%3b", "%00", "%23", "#", "%25", "%252e", "%20", "%09", "%c3%a9", "%ff", "a", "B", "admin",
        "~", "%7e", "é", " ", "%41",
    ];
    let mut rng = StdRng::seed_from_u64(0x5c1a_6a7e);
    for _ in 0..20_000 {
        let mut raw = String::from("/");
        for _ in 0..rng.random_range(0..12) {
            raw.push_str(PIECES[rng.random_range(0..PIECES.len())]);
        }
        let n = norm(&raw);
        assert_no_dot_segments(&raw, &n.matching);
        assert_no_dot_segments(&raw, &n.forward);
        assert!(n.forward.is_ascii(), "{raw} -> {}", n.forward);
        assert_same_again(&raw);
        if n.ambiguity.is_none() {
            // Unambiguous: matching is the forwarded path fully decoded.
            assert_eq!(n.matching.as_bytes(), decode_all(&n.forward), "{raw}");
        }
    }
}

#[test]
fn the_plain_path_shortcut_gives_what_full_normalisation_gives() {
    const PIECES: &[&str] = &[
        "/", "//", ".", "..", "a", "B", "admin", "~", "-", "_", "!", "$", "&", "'", "(", ")", "*",
        "+", ",", "=", ":", "@", ";", "%41", "%2e", " ", "é", "\\", "#",
    ];
    let mut rng = StdRng::seed_from_u64(0x17_17);
    let mut plain = 0;
    for _ in 0..20_000 {
        let mut raw = String::from("/");
        for _ in 0..rng.random_range(0..10) {
            raw.push_str(PIECES[rng.random_range(0..PIECES.len())]);
        }
        let full = normalise_in_full(&raw);
        if is_plain(&raw) {
            plain += 1;
            let full = full.as_ref().unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(full.forward, raw, "forward of {raw}");
            assert_eq!(full.matching, raw, "matching of {raw}");
            assert_eq!(full.ambiguity, None, "ambiguity of {raw}");
        }
        match (normalise(&raw), full) {
            (Ok(a), Ok(b)) => {
                assert_eq!(
                    (a.forward, a.matching, a.ambiguity),
                    (b.forward, b.matching, b.ambiguity),
                    "{raw}"
                );
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{raw}"),
            (a, b) => panic!("{raw}: {:?} vs {:?}", a.is_ok(), b.is_ok()),
        }
    }
    // Both branches were taken, many times.
    assert!(plain > 2_000 && plain < 18_000, "{plain} plain paths");
}
