//! Validators on compressing routes: `ETag` and `If-None-Match`.
//!
//! `ETag`, `Last-Modified` and the conditional request headers pass through untouched,
//! so browsers revalidate against the upstream and get its 304. One thing changes
//! when scimgate compresses: the compressed body is not the upstream's bytes, so a
//! strong ETag would claim byte equality that does not hold. It is made weak (`W/"x"`,
//! as nginx does), which says exactly "same content, maybe other bytes". A browser
//! then revalidates with `If-None-Match: W/"x"`; before that goes upstream the `W/`
//! we may have added is removed again. That is safe for any tag: `If-None-Match` is
//! always compared weakly (RFC 9110 §13.1.2), so `W/"x"` and `"x"` mean the same
//! there, and upstreams that compare the text literally still recognise their tag.

use http::header::{ETAG, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue};

/// Makes a strong `ETag` weak (`"x"` → `W/"x"`); weak or malformed ones stay.
pub fn weaken_etag(headers: &mut HeaderMap) {
    let Some(etag) = headers.get(ETAG) else {
        return;
    };
    if !etag.as_bytes().starts_with(b"\"") {
        return;
    }
    let mut weak = Vec::with_capacity(etag.len() + 2);
    weak.extend_from_slice(b"W/");
    weak.extend_from_slice(etag.as_bytes());
    if let Ok(value) = HeaderValue::from_bytes(&weak) {
        headers.insert(ETAG, value);
    }
}

/// Removes the `W/` of every entity tag in `If-None-Match` (`*` and strong tags stay).
pub fn strengthen_if_none_match(headers: &mut HeaderMap) {
    let weak = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .any(|v| contains_weak(v.as_bytes()));
    if !weak {
        return;
    }
    let values: Vec<HeaderValue> = headers.get_all(IF_NONE_MATCH).iter().cloned().collect();
    headers.remove(IF_NONE_MATCH);
    for value in values {
        let text = String::from_utf8_lossy(value.as_bytes());
        let tags: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.strip_prefix("W/").unwrap_or(t))
            .collect();
        if let Ok(v) = HeaderValue::from_str(&tags.join(", ")) {
            headers.append(IF_NONE_MATCH, v);
        }
    }
}

fn contains_weak(value: &[u8]) -> bool {
    value.windows(2).any(|w| w == b"W/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etag_after(value: &str) -> String {
        let mut h = HeaderMap::new();
        h.insert(ETAG, HeaderValue::from_str(value).unwrap());
        weaken_etag(&mut h);
        h[ETAG].to_str().unwrap().to_owned()
    }

    #[test]
    fn strong_etags_become_weak_once() {
        assert_eq!(etag_after("\"abc\""), "W/\"abc\"");
        assert_eq!(etag_after("W/\"abc\""), "W/\"abc\"");
        assert_eq!(etag_after("abc"), "abc");
        let mut none = HeaderMap::new();
        weaken_etag(&mut none);
        assert!(none.is_empty());
    }

    fn inm_after(values: &[&str]) -> Vec<String> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        strengthen_if_none_match(&mut h);
        h.get_all(IF_NONE_MATCH)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn if_none_match_goes_upstream_in_the_upstream_form() {
        assert_eq!(inm_after(&["W/\"abc\""]), ["\"abc\""]);
        assert_eq!(
            inm_after(&["W/\"a\", \"b\",W/\"c\""]),
            ["\"a\", \"b\", \"c\""]
        );
        assert_eq!(inm_after(&["\"a\"", "W/\"b\""]), ["\"a\"", "\"b\""]);
        assert_eq!(inm_after(&["*"]), ["*"]);
        assert_eq!(inm_after(&["\"strong\""]), ["\"strong\""]);
        assert!(inm_after(&[]).is_empty());
    }
}
