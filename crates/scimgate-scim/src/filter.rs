//! SCIM filter expressions (RFC 7644 §3.4.2.2): the AST, parsing with a
//! caller-given nesting cap, evaluation against full resource
//! representations, and recognition of simple equality filters that the
//! service can answer from an index.

mod eval;
mod parser;
#[cfg(test)]
mod tests;

use serde_json::Number;
use thiserror::Error;

use super::schema::{split_urn, GROUP_SCHEMA, USER_SCHEMA};
use super::scim_type::ScimType;

pub(super) use parser::parse_bracket_filter;

/// Longest filter (in bytes) `parse_filter` accepts.
pub const MAX_FILTER_LEN: usize = 64 * 1024;
/// Nesting depth never exceeded whatever the caller asks, so that parsing
/// cannot exhaust the stack.
pub const HARD_MAX_DEPTH: usize = 64;

/// Why a filter was rejected. Every variant maps to `invalidFilter`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    #[error("the filter is empty")]
    Empty,
    #[error("the filter is {len} bytes long; at most {max} are accepted")]
    TooLong { len: usize, max: usize },
    #[error("invalid filter at column {column}: nesting deeper than {max} levels")]
    TooDeep { column: usize, max: usize },
    #[error("invalid filter at column {column}: {message}")]
    Syntax { column: usize, message: String },
}

impl FilterError {
    /// The `scimType` to report.
    pub fn scim_type(&self) -> ScimType {
        ScimType::InvalidFilter
    }

    /// The 1-based character column where parsing failed, when known.
    pub fn column(&self) -> Option<usize> {
        match self {
            FilterError::TooDeep { column, .. } | FilterError::Syntax { column, .. } => {
                Some(*column)
            }
            FilterError::Empty | FilterError::TooLong { .. } => None,
        }
    }
}

/// An attribute path: `[urn:]attr[.sub]`, names as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix, when the path was URN-qualified.
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[urn:]attr[.sub]` (no brackets). `None` when malformed.
    pub fn parse(s: &str) -> Option<AttrPath> {
        let (urn, rest) = split_urn(s);
        let (attr, sub) = match rest.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        if !is_attr_name(attr) || sub.is_some_and(|s| !is_attr_name(s)) {
            return None;
        }
        if urn.is_some_and(|u| u.len() <= 4 || u.ends_with(':')) {
            return None;
        }
        Some(AttrPath {
            urn: urn.map(str::to_string),
            attr: attr.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    /// The path as a name for `schema::resolve_name`.
    pub fn full_name(&self) -> String {
        let mut s = String::new();
        if let Some(u) = &self.urn {
            s.push_str(u);
            s.push(':');
        }
        s.push_str(&self.attr);
        if let Some(sub) = &self.sub {
            s.push('.');
            s.push_str(sub);
        }
        s
    }

    /// Whether the path is unqualified or qualified by a core schema URN.
    fn is_core_or_unqualified(&self) -> bool {
        self.urn.as_deref().is_none_or(|u| {
            u.eq_ignore_ascii_case(USER_SCHEMA) || u.eq_ignore_ascii_case(GROUP_SCHEMA)
        })
    }
}

/// ATTRNAME = ALPHA *(nameChar), allowing a leading `$` for `$ref`.
pub(super) fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn from_keyword(s: &str) -> Option<CompareOp> {
        const OPS: [(&str, CompareOp); 9] = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        OPS.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(s))
            .map(|(_, op)| *op)
    }

    /// Whether the operator orders values (`gt ge lt le`).
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }
}

/// A comparison literal.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
}

/// What is tested of an attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrTest {
    /// `pr`
    Present,
    /// `op value`
    Compare(CompareOp, CompValue),
}

/// A parsed filter. `and`/`or` chains are flat so that long chains never
/// make deep trees.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// `attrPath pr` / `attrPath op value`
    Attr {
        path: AttrPath,
        test: AttrTest,
    },
    /// `attrPath[valFilter]`, optionally followed by `.sub op value`
    /// (the form Entra ID sends: `emails[type eq "work"].value eq "x"`).
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
        then: Option<(String, AttrTest)>,
    },
}

/// Parses a filter. `max_depth` caps the nesting of parentheses, `not (…)`
/// and value-path brackets (a plain `a eq 1` has depth 0); it is itself
/// capped at [`HARD_MAX_DEPTH`]. Inputs longer than [`MAX_FILTER_LEN`] are
/// rejected.
pub fn parse_filter(s: &str, max_depth: usize) -> Result<Filter, FilterError> {
    parser::parse_filter(s, max_depth)
}

/// An indexable equality lookup recognised by [`Filter::as_equality`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EqTarget {
    Id,
    UserName,
    ExternalId,
    DisplayName,
    /// An email address, optionally restricted to emails of a `type`.
    Email {
        type_eq: Option<String>,
    },
}

impl EqTarget {
    /// Whether the index lookup must be case-sensitive (`id`, `externalId`);
    /// the others compare case-insensitively.
    pub fn case_exact(&self) -> bool {
        matches!(self, EqTarget::Id | EqTarget::ExternalId)
    }
}

fn eq_string(test: &AttrTest) -> Option<&str> {
    match test {
        AttrTest::Compare(CompareOp::Eq, CompValue::String(s)) => Some(s),
        _ => None,
    }
}

impl Filter {
    /// Whether the filter tests the top-level attribute `attr` (case-insensitive, with or
    /// without a schema URN): a caller may then skip rendering attributes it does not
    /// test, such as a large group's `members`.
    pub fn references(&self, attr: &str) -> bool {
        match self {
            Filter::And(parts) | Filter::Or(parts) => parts.iter().any(|f| f.references(attr)),
            Filter::Not(inner) => inner.references(attr),
            Filter::Attr { path, .. } | Filter::ValuePath { path, .. } => {
                path.attr.eq_ignore_ascii_case(attr)
            }
        }
    }

    /// Recognises exactly these top-level shapes: `userName eq "x"`,
    /// `externalId eq "x"`, `id eq "x"`, `displayName eq "x"`,
    /// `emails.value eq "x"`, `emails eq "x"`, `emails[value eq "x"]` and
    /// `emails[type eq "t"].value eq "x"` (names case-insensitive, optionally
    /// qualified by a core schema URN). The caller uses the index and then
    /// re-checks candidates with [`Filter::matches`].
    pub fn as_equality(&self) -> Option<(EqTarget, &str)> {
        match self {
            Filter::Attr { path, test } => {
                let value = eq_string(test)?;
                if !path.is_core_or_unqualified() {
                    return None;
                }
                let attr = path.attr.as_str();
                let target = match path.sub.as_deref() {
                    None if attr.eq_ignore_ascii_case("id") => EqTarget::Id,
                    None if attr.eq_ignore_ascii_case("userName") => EqTarget::UserName,
                    None if attr.eq_ignore_ascii_case("externalId") => EqTarget::ExternalId,
                    None if attr.eq_ignore_ascii_case("displayName") => EqTarget::DisplayName,
                    None if attr.eq_ignore_ascii_case("emails") => {
                        EqTarget::Email { type_eq: None }
                    }
                    Some(sub)
                        if attr.eq_ignore_ascii_case("emails")
                            && sub.eq_ignore_ascii_case("value") =>
                    {
                        EqTarget::Email { type_eq: None }
                    }
                    _ => return None,
                };
                Some((target, value))
            }
            Filter::ValuePath { path, filter, then } => {
                if !path.is_core_or_unqualified()
                    || path.sub.is_some()
                    || !path.attr.eq_ignore_ascii_case("emails")
                {
                    return None;
                }
                let Filter::Attr {
                    path: inner,
                    test: inner_test,
                } = filter.as_ref()
                else {
                    return None;
                };
                if inner.urn.is_some() || inner.sub.is_some() {
                    return None;
                }
                let inner_value = eq_string(inner_test)?;
                match then {
                    None if inner.attr.eq_ignore_ascii_case("value") => {
                        Some((EqTarget::Email { type_eq: None }, inner_value))
                    }
                    Some((sub, test))
                        if inner.attr.eq_ignore_ascii_case("type")
                            && sub.eq_ignore_ascii_case("value") =>
                    {
                        let value = eq_string(test)?;
                        Some((
                            EqTarget::Email {
                                type_eq: Some(inner_value.to_string()),
                            },
                            value,
                        ))
                    }
                    _ => None,
                }
            }
            Filter::And(_) | Filter::Or(_) | Filter::Not(_) => None,
        }
    }
}
