//! A resource body kept compact in memory.
//!
//! Bodies are JSON text, and nearly every one repeats the same long schema URNs (in
//! `schemas` and as extension keys): about a fifth of a typical user's bytes. In memory
//! each such URN is replaced by a two-byte code, `0x01` and a digit. The substitution is
//! lossless both ways: bodies are written by serde_json, which escapes every control
//! character inside strings (`\u0001`), so a raw `0x01` byte never occurs in one. The
//! store keeps the plain text.

use std::borrow::Cow;

const MARK: char = '\u{1}';

/// Recurring strings and their codes (the digit after the mark). Append only.
const DICTIONARY: &[(char, &str)] = &[
    ('1', "urn:ietf:params:scim:schemas:core:2.0:User"),
    (
        '2',
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ),
    (
        '3',
        "urn:ietf:params:scim:schemas:extension:dbtLabs:2.0:User",
    ),
    ('4', "urn:ietf:params:scim:schemas:core:2.0:Group"),
];

/// JSON text of a resource, stored compactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(Box<str>);

impl Body {
    /// Compacts JSON text (as serde_json wrote it).
    pub fn new(json: &str) -> Self {
        if !json.contains("urn:") {
            return Body(json.into());
        }
        // One pass, one allocation: each "urn:" is either a dictionary entry (no entry
        // is a prefix of another) or copied as it is.
        let mut out = String::with_capacity(json.len());
        let mut rest = json;
        while let Some(at) = rest.find("urn:") {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            match DICTIONARY.iter().find(|(_, text)| tail.starts_with(text)) {
                Some((code, text)) => {
                    out.push(MARK);
                    out.push(*code);
                    rest = &tail[text.len()..];
                }
                None => {
                    out.push_str("urn:");
                    rest = &tail["urn:".len()..];
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
        let mut out = String::with_capacity(self.0.len() + 64);
        let mut chars = self.0.chars();
        while let Some(c) = chars.next() {
            if c != MARK {
                out.push(c);
                continue;
            }
            let code = chars.next();
            match DICTIONARY.iter().find(|(k, _)| Some(*k) == code) {
                Some((_, text)) => out.push_str(text),
                None => {
                    // Not produced by `new`; keep the bytes as they were.
                    out.push(c);
                    out.extend(code);
                }
            }
        }
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
        let body = Body::new("{\"displayName\":\"eng\"}");
        assert!(matches!(body.text(), Cow::Borrowed(_)));
    }
}
