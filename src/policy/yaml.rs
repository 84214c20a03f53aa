//! Reading YAML with positions: parser options, parser errors as [`PolicyError`]s, and
//! a mapping type that keeps each key's position.
//!
//! serde-saphyr reports an unknown key at the start of the mapping that holds it; a
//! typo is easier to fix when the error points at the key itself, so
//! [`locate_unknown_field`] looks for the key from there.

use std::marker::PhantomData;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::{Error, Location, Spanned};

use super::error::PolicyError;

/// Parses one YAML document; an empty document (or only comments) is `None`.
pub(crate) fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<Option<T>, PolicyError> {
    let options = serde_saphyr::Options {
        strict_booleans: true,
        with_snippet: false,
        ..serde_saphyr::Options::default()
    };
    serde_saphyr::from_str_with_options::<Option<T>>(text, options)
        .map_err(|e| parse_error(file, text, e.without_snippet()))
}

fn parse_error(file: &str, text: &str, e: &Error) -> PolicyError {
    let reason = message(e);
    let Some(at) = e.location() else {
        return PolicyError::File {
            file: file.to_owned(),
            reason,
        };
    };
    let (line, column) = match unknown_field_name(&reason) {
        Some(key) => locate_unknown_field(text, at.line(), at.column(), key),
        None => (at.line(), at.column()),
    };
    PolicyError::At {
        file: file.to_owned(),
        line,
        column,
        reason,
    }
}

/// The parser's message without the position it appends (we print it once, in front).
fn message(e: &Error) -> String {
    match e {
        Error::Message { msg, .. } | Error::HookError { msg, .. } => msg.clone(),
        other => {
            let text = other.to_string();
            match text.rfind(" at line ") {
                Some(i) => text[..i].to_owned(),
                None => text,
            }
        }
    }
}

fn unknown_field_name(reason: &str) -> Option<&str> {
    let rest = reason.strip_prefix("unknown field `")?;
    Some(&rest[..rest.find('`')?])
}

/// Where the unknown `key` of the mapping starting at (`line`, `column`) is written.
///
/// Block mappings keep their keys in one column: look down that column until the
/// mapping ends. Flow mappings (`{a: 1, key: 2}`) are searched along the line. When
/// neither finds the key, the mapping's own position is returned.
pub(crate) fn locate_unknown_field(text: &str, line: u64, column: u64, key: &str) -> (u64, u64) {
    let lines: Vec<&str> = text.lines().collect();
    let Some(first) = usize::try_from(line)
        .ok()
        .and_then(|l| l.checked_sub(1))
        .and_then(|i| lines.get(i))
    else {
        return (line, column);
    };
    let col = usize::try_from(column).unwrap_or(1).saturating_sub(1);
    let chars: Vec<char> = first.chars().collect();
    if key_at(&chars, col, key) {
        return (line, column);
    }
    // Flow mapping: the key after a `{`, `,` or space on the same line.
    for i in col..chars.len() {
        let boundary = i == 0 || matches!(chars[i - 1], '{' | ',' | ' ' | '\t');
        if boundary && key_at(&chars, i, key) {
            return (line, (i + 1) as u64);
        }
    }
    // Block mapping: later lines with a key in the same column.
    for (n, text_line) in lines.iter().enumerate().skip(line as usize) {
        let chars: Vec<char> = text_line.chars().collect();
        let Some(indent) = chars.iter().position(|c| *c != ' ') else {
            continue;
        };
        if chars[indent] == '#' {
            continue;
        }
        if indent < col {
            break;
        }
        if indent == col && key_at(&chars, col, key) {
            return ((n + 1) as u64, column);
        }
    }
    (line, column)
}

/// Whether `key` (plain or quoted) followed by `:` starts at `at`.
fn key_at(chars: &[char], at: usize, key: &str) -> bool {
    let mut i = at;
    let quote = match chars.get(i) {
        Some(q @ ('"' | '\'')) => {
            i += 1;
            Some(*q)
        }
        _ => None,
    };
    for k in key.chars() {
        if chars.get(i) != Some(&k) {
            return false;
        }
        i += 1;
    }
    if let Some(q) = quote {
        if chars.get(i) != Some(&q) {
            return false;
        }
        i += 1;
    }
    while chars.get(i) == Some(&' ') {
        i += 1;
    }
    chars.get(i) == Some(&':')
}

/// A YAML mapping read in order, each key with its position (serde's maps lose both).
#[derive(Debug)]
pub(crate) struct Pairs<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for Pairs<V> {
    fn default() -> Self {
        Pairs(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Pairs<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<V> {
            type Value = Pairs<V>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Pairs(out))
            }
        }

        deserializer.deserialize_map(PairsVisitor(PhantomData))
    }
}

/// Where a value was written (for values that come through aliases, the use site).
pub(crate) fn at<T>(s: &Spanned<T>) -> &Location {
    &s.referenced
}
