//! The open-redirect defence: where a browser may be sent after signing in.
//!
//! Only a same-origin absolute path is accepted. The value is checked as given and
//! again after each of up to three rounds of percent-decoding, because some browser,
//! proxy or upstream along the way may decode it: at every layer it must start with
//! exactly one `/` (not `//`, not `/\`), and hold no `\`, no control character and no
//! whitespace other than an encoded space (so `/%09/evil` cannot become `//evil` when a
//! browser strips the tab).
//! An `@` in the path is refused too (`/@evil` tricks in legacy URL parsers). Bytes
//! outside ASCII are percent-encoded in the result so it is a valid `Location`.

use std::fmt::Write;

/// Longest accepted return path, in bytes.
pub const MAX_LEN: usize = 2048;

/// `raw` when it is a safe same-origin path (percent-encoding any non-ASCII byte);
/// `None` otherwise, and the caller uses `/`.
pub fn safe_return_to(raw: &str) -> Option<String> {
    if raw.len() > MAX_LEN {
        return None;
    }
    let mut layer = raw.as_bytes().to_vec();
    for round in 0..4 {
        if !layer_is_safe(&layer, round == 0) {
            return None;
        }
        let decoded = percent_decode(&layer);
        if decoded == layer {
            break;
        }
        layer = decoded;
    }
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii() {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Some(out)
}

/// A URL to the login route that returns to `path_and_query` afterwards.
pub fn login_url(path_and_query: &str) -> String {
    let mut out = String::from("/.scimgate/login?rd=");
    for b in path_and_query.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn layer_is_safe(layer: &[u8], raw: bool) -> bool {
    if layer.first() != Some(&b'/') || matches!(layer.get(1), Some(b'/' | b'\\')) {
        return false;
    }
    let path_end = layer
        .iter()
        .position(|b| matches!(b, b'?' | b'#'))
        .unwrap_or(layer.len());
    if layer[..path_end].contains(&b'@') || layer.contains(&b'\\') {
        return false;
    }
    // A literal space cannot be in a URL as sent; an encoded one is an ordinary path
    // character once decoded. Controls and other whitespace (tab, CR, LF, NEL, NBSP,
    // U+2028...) are refused at every layer.
    String::from_utf8_lossy(layer)
        .chars()
        .all(|c| !c.is_control() && (c == ' ' && !raw || !c.is_whitespace()))
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            if let (Some(h), Some(l)) = (
                s.get(i + 1).and_then(|c| hex(*c)),
                s.get(i + 2).and_then(|c| hex(*c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_everything_but_a_same_origin_path() {
        for bad in [
            "",
            "evil.com",
            "//evil.com",
            "///evil.com",
            "/\\evil.com",
            "\\/evil.com",
            "/%2F%2Fevil.com",
            "/%2f/evil.com",
            "/%252F%252Fevil.com",
            "/%5cevil",
            "/%5Cevil",
            "/ok\\..\\evil",
            "https://evil",
            "http:/evil",
            "javascript:alert(1)",
            "/%09/evil",
            "/%0a/evil",
            "/%0D%0ASet-Cookie:x=1",
            "\t//evil",
            "/\t/evil",
            " /ok",
            "%20//evil",
            "/ok path",
            "/a\u{2028}b",
            "/%E2%80%A8/evil",
            "/@evil.com",
            "/x@evil.com/",
        ] {
            assert_eq!(safe_return_to(bad), None, "{bad:?}");
        }
        assert_eq!(safe_return_to(&format!("/{}", "a".repeat(MAX_LEN))), None);
    }

    #[test]
    fn keeps_ordinary_paths() {
        for good in [
            "/",
            "/ok/path?x=1",
            "/docs/#!/model/model.jaffle.orders",
            "/my%20report",
            "/a?next=//x",
            "/a?mail=a@b.c",
            "/100%",
        ] {
            assert_eq!(safe_return_to(good).as_deref(), Some(good), "{good:?}");
        }
        assert_eq!(safe_return_to("/café").as_deref(), Some("/caf%C3%A9"));
    }

    #[test]
    fn login_url_encodes_the_return_path() {
        assert_eq!(
            login_url("/a b?x=1&y=/z"),
            "/.scimgate/login?rd=/a%20b%3Fx%3D1%26y%3D/z"
        );
    }
}
