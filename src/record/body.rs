//! A resource body kept compact in memory.
//!
//! Bodies are JSON text, and nearly every one repeats the same long schema URNs (in
//! `schemas` and as extension keys) and the same attribute names of the SCIM schemas
//! (RFC 7643: `"userName":`, `"emails":`, `"value":`, …): together about half of a
//! typical user's bytes. In memory each such string is replaced by a two-byte code,
//! `0x01` and an ASCII character naming its place in [`DICTIONARY`]. The substitution
//! is lossless both ways: bodies are written by serde_json, which escapes every control
//! character inside strings (`\u0001`), so a raw `0x01` byte never occurs in one. The
//! store keeps the plain text.

use std::borrow::Cow;

const MARK: char = '\u{1}';
/// The code of the first entry; entry `i` is coded `FIRST + i`.
const FIRST: u8 = b'1';

/// Recurring strings, coded by their place. Append only (a code names its place).
const DICTIONARY: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:dbtLabs:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
    // Attribute names as keys, with their quotes and colon.
    "\"schemas\":",
    "\"id\":",
    "\"externalId\":",
    "\"userName\":",
    "\"name\":",
    "\"formatted\":",
    "\"familyName\":",
    "\"givenName\":",
    "\"middleName\":",
    "\"honorificPrefix\":",
    "\"honorificSuffix\":",
    "\"displayName\":",
    "\"nickName\":",
    "\"profileUrl\":",
    "\"title\":",
    "\"userType\":",
    "\"preferredLanguage\":",
    "\"locale\":",
    "\"timezone\":",
    "\"active\":",
    "\"emails\":",
    "\"phoneNumbers\":",
    "\"ims\":",
    "\"photos\":",
    "\"addresses\":",
    "\"streetAddress\":",
    "\"locality\":",
    "\"region\":",
    "\"postalCode\":",
    "\"country\":",
    "\"groups\":",
    "\"entitlements\":",
    "\"roles\":",
    "\"x509Certificates\":",
    "\"value\":",
    "\"display\":",
    "\"type\":",
    "\"primary\":",
    "\"$ref\":",
    "\"members\":",
    "\"employeeNumber\":",
    "\"costCenter\":",
    "\"organization\":",
    "\"division\":",
    "\"department\":",
    "\"manager\":",
    "\"licenseType\":",
    "\"meta\":",
    "\"resourceType\":",
    "\"created\":",
    "\"lastModified\":",
    "\"location\":",
    "\"version\":",
];

/// How many of the first entries are URNs (found anywhere); the rest are keys (found
/// at a quote).
const URNS: usize = 4;

/// The code of `DICTIONARY[i]`.
fn code(i: usize) -> char {
    char::from(FIRST + i as u8)
}

/// JSON text of a resource, stored compactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(Box<str>);

/// The dictionary entry `text` starts with, if any, and its place: a key where a
/// quote opens one, a URN where one starts.
fn entry_at(text: &str) -> Option<(usize, &'static str)> {
    if let Some(inside) = text.strip_prefix('"') {
        if let Some(end) = inside.find('"') {
            let key = text.get(..end + 3)?;
            if key.ends_with(':') {
                return DICTIONARY[URNS..]
                    .iter()
                    .position(|e| *e == key)
                    .map(|i| (URNS + i, DICTIONARY[URNS + i]));
            }
        }
        return None;
    }
    DICTIONARY[..URNS]
        .iter()
        .position(|e| text.starts_with(e))
        .map(|i| (i, DICTIONARY[i]))
}

impl Body {
    /// Compacts JSON text (as serde_json wrote it), in one pass: at each quote, a key
    /// of the dictionary, or after it a URN of the dictionary, becomes its code.
    pub fn new(json: &str) -> Self {
        let mut out = String::with_capacity(json.len());
        let mut rest = json;
        while let Some(at) = rest.find(['"', 'u']) {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            match entry_at(tail) {
                Some((i, text)) => {
                    out.push(MARK);
                    out.push(code(i));
                    rest = &tail[text.len()..];
                }
                None => {
                    out.push_str(&tail[..1]);
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        Body(out.into_boxed_str())
    }

    /// The JSON text.
    pub fn text(&self) -> Cow<'_, str> {
        if !self.0.contains(MARK) {
            return Cow::Borrowed(&self.0);
        }
        let mut out = String::with_capacity(self.0.len() * 2);
        let mut rest: &str = &self.0;
        while let Some(at) = rest.find(MARK) {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let entry = after
                .bytes()
                .next()
                .and_then(|c| c.checked_sub(FIRST))
                .and_then(|i| DICTIONARY.get(usize::from(i)));
            match entry {
                Some(text) => {
                    out.push_str(text);
                    rest = &after[1..];
                }
                None => {
                    // Not produced by `new`; keep the mark as it was.
                    out.push(MARK);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Cow::Owned(out)
    }

    /// Bytes held in memory.
    pub fn compact_len(&self) -> usize {
        self.0.len()
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Self {
        Body::new(s)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::new(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_shrinks() {
        let json = serde_json::json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ],
            "userName": "ann",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x"},
            "title": "control \u{1} char and a urn:ietf:params:scim:schemas:core:2.0:User inside",
        })
        .to_string();
        let body = Body::new(&json);
        assert_eq!(body.text(), json);
        assert!(body.compact_len() < json.len() - 100);
    }

    #[test]
    fn plain_bodies_are_borrowed() {
        let body = Body::new("{\"x-custom\":\"eng\"}");
        assert!(matches!(body.text(), Cow::Borrowed(_)));
    }

    #[test]
    fn attribute_names_are_coded_only_as_keys() {
        let json = serde_json::json!({
            "userName": "userName",
            "name": {"givenName": "\"name\":", "familyName": "Ünïcode \"value\""},
            "emails": [{"value": "a@b", "type": "work", "primary": true}],
            "displayName:": "a key with a colon inside",
            "urn:x": "urn:ietf:params:scim:schemas:core:2.0:Group",
        })
        .to_string();
        let body = Body::new(&json);
        assert_eq!(body.text(), json);
        assert!(body.compact_len() < json.len() - 60);
        // Every dictionary entry round-trips, side by side.
        let all = DICTIONARY.concat();
        assert_eq!(Body::new(&all).compact_len(), 2 * DICTIONARY.len());
        assert_eq!(Body::new(&all).text(), all);
    }
}
