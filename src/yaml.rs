//! Reading YAML with positions, for the configuration file and the policy files alike:
//! one set of parser options (only `true` and `false` are booleans), parser errors
//! turned into a position and a plain reason, and where a key is written.
//!
//! serde-saphyr reports an unknown key at the start of the mapping that holds it; a
//! typo is easier to fix when the error points at the key itself, so
//! [`locate_unknown_field`] looks for the key from there. A value of the wrong shape
//! is told in the reader's words ("expected a list, found \`analysts\`"), and a YAML 1.1
//! boolean (`yes`, `on`, `no`, `off`) is refused with `use true or false` wherever a
//! boolean is expected: in YAML 1.2, and here, those are strings.

use std::fmt;

use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::{Error, Options, Spanned};

/// The parser options every scimgate YAML file is read with.
pub fn options() -> Options {
    Options {
        strict_booleans: true,
        with_snippet: false,
        ..Options::default()
    }
}

/// Why a YAML document could not be read into the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line; 0 when the parser gave no position.
    pub line: u64,
    /// 1-based column; 0 when the parser gave no position.
    pub column: u64,
    /// The path of the key whose value was refused (`scim.allowed_cidrs[0]`), when it
    /// was tracked ([`parse_keyed`]).
    pub path: Option<String>,
    pub problem: Problem,
}

/// What was wrong with the document, without its position. `found` is the scalar
/// written there, when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A value where a number belongs; `whole`: only an integer fits.
    NotANumber { whole: bool, found: Option<String> },
    /// A value other than `true` or `false` where a boolean belongs.
    NotABoolean { found: Option<String> },
    /// A value of another shape (`a list`, `a mapping`, `a string`).
    Shape {
        expected: &'static str,
        found: Option<String>,
    },
    /// Anything else, in the parser's words (unknown keys name the valid ones).
    Other(String),
}

impl Problem {
    /// The problem in words; a number is said to be "of {unit}" when a unit is given
    /// ("expected a whole number of seconds, found \`12h\`").
    pub fn describe(&self, unit: Option<&str>) -> String {
        let (expected, found) = match self {
            Problem::Other(reason) => return reason.clone(),
            Problem::NotABoolean { found: Some(found) } => {
                return format!("`{found}` is not a boolean: use true or false")
            }
            Problem::NotABoolean { found: None } => {
                return "not a boolean: use true or false".to_owned()
            }
            Problem::NotANumber { whole, found } => {
                let number = if *whole { "a whole number" } else { "a number" };
                match unit {
                    Some(unit) => (format!("{number} of {unit}"), found),
                    None => (number.to_owned(), found),
                }
            }
            Problem::Shape { expected, found } => ((*expected).to_owned(), found),
        };
        match found {
            Some(found) => format!("expected {expected}, found `{found}`"),
            None => format!("expected {expected}"),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(None))
    }
}

/// Parses one YAML document; an empty document (or only comments) is `None`.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<Option<T>, YamlError> {
    serde_saphyr::from_str_with_options::<Option<T>>(text, options())
        .map_err(|e| error(text, e.without_snippet(), None))
}

/// [`parse`], and an error names the path of the key it is about.
pub fn parse_keyed<T: DeserializeOwned>(text: &str) -> Result<Option<T>, YamlError> {
    let mut path = None;
    serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        serde_path_to_error::deserialize::<_, Option<T>>(de).map_err(|e| {
            path = Some(e.path().to_string());
            e.into_inner()
        })
    })
    .map_err(|e| error(text, e.without_snippet(), path.filter(|p| p != ".")))
}

fn error(text: &str, e: &Error, path: Option<String>) -> YamlError {
    let reason = message(e);
    let (line, column) = match e.location() {
        None => (0, 0),
        Some(at) => match unknown_field_name(&reason) {
            Some(key) => locate_unknown_field(text, at.line(), at.column(), key),
            None => (at.line(), at.column()),
        },
    };
    let found = || scalar_at(text, line, column);
    let problem = match e {
        Error::Unexpected { expected, .. } => Problem::Shape {
            expected: shape(expected),
            found: found(),
        },
        _ if reason.starts_with("invalid boolean") => Problem::NotABoolean { found: found() },
        _ if is_integer_error(&reason) => Problem::NotANumber {
            whole: true,
            found: found(),
        },
        _ if reason.starts_with("invalid floating point") => Problem::NotANumber {
            whole: false,
            found: found(),
        },
        _ => Problem::Other(reason),
    };
    YamlError {
        line,
        column,
        path,
        problem,
    }
}

/// The reader's name for what the parser expected (`sequence start`: a list).
fn shape(expected: &str) -> &'static str {
    match expected {
        "sequence start" => "a list",
        "mapping start" => "a mapping",
        "string scalar" => "a string",
        _ => "a single value",
    }
}

/// `invalid u64`, `invalid i32`, `invalid usize` ...: the parser's integer errors.
fn is_integer_error(reason: &str) -> bool {
    reason.strip_prefix("invalid ").is_some_and(|ty| {
        ty.len() > 1
            && matches!(ty.as_bytes()[0], b'u' | b'i')
            && (ty[1..].bytes().all(|b| b.is_ascii_digit()) || matches!(&ty[1..], "size"))
    })
}

/// The parser's message without the position it appends (it is printed once, in front).
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

/// The plain or quoted scalar written at (`line`, `column`), when there is one.
fn scalar_at(text: &str, line: u64, column: u64) -> Option<String> {
    let line = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let start = usize::try_from(column).ok()?.checked_sub(1)?;
    let rest: String = line.chars().skip(start).collect();
    let scalar = match rest.chars().next()? {
        q @ ('"' | '\'') => {
            let inner = &rest[1..];
            inner[..inner.find(q)?].to_owned()
        }
        '[' | '{' | '-' | '#' | '&' | '*' | '!' | '|' | '>' => return None,
        _ => {
            let end = rest
                .find([',', ']', '}'])
                .into_iter()
                .chain(rest.find(" #"))
                .min()
                .unwrap_or(rest.len());
            rest[..end].trim().to_owned()
        }
    };
    (!scalar.is_empty()).then_some(scalar)
}

/// Where the unknown `key` of the mapping starting at (`line`, `column`) is written.
///
/// Block mappings keep their keys in one column: look down that column until the
/// mapping ends. Flow mappings (`{a: 1, key: 2}`) are searched along the line. When
/// neither finds the key, the mapping's own position is returned.
pub fn locate_unknown_field(text: &str, line: u64, column: u64, key: &str) -> (u64, u64) {
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

/// Where the key at `path` (`scim.max_results`: keys of nested mappings) is written, as
/// (line, column); when it is not written, where its closest written parent is; `None`
/// when not even the first key is (or the text is not YAML).
pub fn key_location(text: &str, path: &str) -> Option<(u64, u64)> {
    let Ok(Some(Node::Map(mut pairs))) =
        serde_saphyr::from_str_with_options::<Option<Node>>(text, options())
    else {
        return None;
    };
    let mut found = None;
    for segment in path.split('.') {
        let Some((key, value)) = pairs.into_iter().find(|(k, _)| k.value == segment) else {
            break;
        };
        found = Some((key.referenced.line(), key.referenced.column()));
        match value {
            Node::Map(inner) => pairs = inner,
            Node::Other => break,
        }
    }
    found
}

/// A YAML value reduced to its mappings' keys and their positions.
enum Node {
    Map(Vec<(Spanned<String>, Node)>),
    Other,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry::<Spanned<String>, Node>()? {
            pairs.push(pair);
        }
        Ok(Node::Map(pairs))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Node::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: Option<String>,
        on: Option<bool>,
        count: Option<u64>,
        ratio: Option<f64>,
        tags: Option<Vec<String>>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        depth: Option<u32>,
    }

    fn refused(text: &str) -> YamlError {
        parse_keyed::<Doc>(text).unwrap_err()
    }

    #[test]
    fn an_unknown_key_is_placed_at_the_key_and_the_valid_keys_are_named() {
        let e = refused("name: a\n# a comment\n\ncolor: red\n");
        assert_eq!((e.line, e.column), (4, 1));
        assert_eq!(e.path.as_deref(), Some("color"));
        let reason = e.problem.to_string();
        assert!(reason.starts_with("unknown field `color`"), "{reason}");
        assert!(
            reason.contains("name") && reason.contains("tags"),
            "{reason}"
        );
    }

    #[test]
    fn wrong_shapes_and_scalars_say_what_was_expected() {
        let e = refused("tags: analysts\n");
        assert_eq!(e.path.as_deref(), Some("tags"));
        assert_eq!(e.problem.to_string(), "expected a list, found `analysts`");
        let e = refused("count: 12h\n");
        assert_eq!((e.line, e.column, e.path.as_deref()), (1, 8, Some("count")));
        assert_eq!(
            e.problem.to_string(),
            "expected a whole number, found `12h`"
        );
        let e = refused("ratio: half # comment\n");
        assert_eq!(e.problem.to_string(), "expected a number, found `half`");
        let e = refused("inner:\n  depth: -3\n");
        assert_eq!(e.path.as_deref(), Some("inner.depth"));
        assert_eq!((e.line, e.column), (2, 10));
    }

    #[test]
    fn only_true_and_false_are_booleans() {
        for word in ["yes", "on", "no", "off", "Y"] {
            let e = refused(&format!("name: a\non: {word}\n"));
            assert_eq!((e.line, e.column), (2, 5), "{word}");
            assert_eq!(
                e.problem.to_string(),
                format!("`{word}` is not a boolean: use true or false")
            );
        }
        let doc = parse::<Doc>("on: TRUE\nname: yes\n").unwrap().unwrap();
        assert_eq!((doc.on, doc.name.as_deref()), (Some(true), Some("yes")));
        assert!(parse::<Doc>("# nothing\n").unwrap().is_none());
    }

    #[test]
    fn keys_are_located_by_path() {
        let text = "name: a\ninner:\n  # depth of it\n  depth: 3\ntags: [a]\n";
        assert_eq!(key_location(text, "inner.depth"), Some((4, 3)));
        assert_eq!(key_location(text, "inner.width"), Some((2, 1)));
        assert_eq!(key_location(text, "tags"), Some((5, 1)));
        assert_eq!(key_location(text, "other"), None);
        assert_eq!(key_location("{ a: { b: 1 } }", "a.b"), Some((1, 8)));
    }
}
