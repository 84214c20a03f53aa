//! PATCH `path` grammar (RFC 7644 §3.5.2): `attrPath`, `valuePath` with an
//! optional trailing sub-attribute, URN-qualified attributes and a bare
//! extension URN. Bracket filters are parsed by the filter module.

use thiserror::Error;

use super::filter::{is_attr_name, parse_bracket_filter, AttrPath, Filter, FilterError};
use super::schema::split_urn;
use super::scim_type::ScimType;

/// Longest path (in bytes) `parse_path` accepts.
pub const MAX_PATH_LEN: usize = super::filter::MAX_FILTER_LEN;
/// Nesting cap for the value filter inside a path's brackets (the brackets
/// themselves count as one level).
pub const PATH_FILTER_MAX_DEPTH: usize = 8;

/// Why a PATCH path was rejected. Every variant maps to `invalidPath`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("the path is {len} bytes long; at most {max} are accepted")]
    TooLong { len: usize, max: usize },
    #[error("invalid path at column {column}: {message}")]
    Syntax { column: usize, message: String },
    #[error("invalid value filter in path: {0}")]
    Filter(#[from] FilterError),
}

impl PathError {
    /// The `scimType` to report.
    pub fn scim_type(&self) -> ScimType {
        ScimType::InvalidPath
    }
}

/// A parsed PATCH path. Names are as written; resolution against the
/// schemas happens when the operation is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The schema URN prefix, when URN-qualified.
    pub urn: Option<String>,
    /// The attribute; `None` when the path is a bare schema URN.
    pub attr: Option<String>,
    /// The value filter of `attr[...]`.
    pub filter: Option<Filter>,
    /// The sub-attribute (`name.givenName`, `emails[...].value`).
    pub sub: Option<String>,
}

fn syntax(column: usize, message: impl Into<String>) -> PathError {
    PathError::Syntax {
        column,
        message: message.into(),
    }
}

fn col(s: &str, byte: usize) -> usize {
    s.get(..byte).map_or(byte, |p| p.chars().count()) + 1
}

/// Parses a PATCH path. Surrounding whitespace is ignored; columns in errors
/// count characters of the trimmed path from 1.
pub fn parse_path(s: &str) -> Result<PatchPath, PathError> {
    if s.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong {
            len: s.len(),
            max: MAX_PATH_LEN,
        });
    }
    let t = s.trim();
    if t.is_empty() {
        return Err(PathError::Empty);
    }
    let Some(open) = t.find('[') else {
        let (urn, rest) = split_urn(t);
        if let (Some(urn), "") = (urn, rest) {
            if urn.len() != t.len() {
                return Err(syntax(1, format!("`{t}` is not a valid schema URN")));
            }
            return Ok(PatchPath {
                urn: Some(urn.to_string()),
                attr: None,
                filter: None,
                sub: None,
            });
        }
        let ap = AttrPath::parse(t)
            .ok_or_else(|| syntax(1, format!("`{t}` is not a valid attribute path")))?;
        return Ok(PatchPath {
            urn: ap.urn,
            attr: Some(ap.attr),
            filter: None,
            sub: ap.sub,
        });
    };
    let prefix = &t[..open];
    let ap = AttrPath::parse(prefix)
        .ok_or_else(|| syntax(1, format!("`{prefix}` is not a valid attribute path")))?;
    if ap.sub.is_some() {
        return Err(syntax(
            col(t, open),
            "`[` must follow an attribute, not a sub-attribute",
        ));
    }
    let (filter, end) = parse_bracket_filter(t, open + 1, &ap, PATH_FILTER_MAX_DEPTH)?;
    let rest = &t[end..];
    let sub = if rest.is_empty() {
        None
    } else if let Some(sub) = rest.strip_prefix('.') {
        if !is_attr_name(sub) {
            return Err(syntax(
                col(t, end + 1),
                format!("`{sub}` is not a valid sub-attribute name"),
            ));
        }
        Some(sub.to_string())
    } else {
        return Err(syntax(col(t, end), "unexpected input after `]`"));
    };
    Ok(PatchPath {
        urn: ap.urn,
        attr: Some(ap.attr),
        filter: Some(filter),
        sub,
    })
}

#[cfg(test)]
mod tests {
    use super::super::filter::{AttrTest, CompValue, CompareOp};
    use super::*;

    fn ok(s: &str) -> PatchPath {
        match parse_path(s) {
            Ok(p) => p,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn attribute_paths() {
        let p = ok("userName");
        assert_eq!(
            (p.urn, p.attr.as_deref(), p.sub),
            (None, Some("userName"), None)
        );
        let p = ok(" name.givenName ");
        assert_eq!(
            (p.attr.as_deref(), p.sub.as_deref()),
            (Some("name"), Some("givenName"))
        );
        let p = ok("members");
        assert!(p.filter.is_none());
    }

    #[test]
    fn urn_paths() {
        let e = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let p = ok(&format!("{e}:manager.value"));
        assert_eq!(p.urn.as_deref(), Some(e));
        assert_eq!(
            (p.attr.as_deref(), p.sub.as_deref()),
            (Some("manager"), Some("value"))
        );
        let p = ok(e);
        assert_eq!((p.urn.as_deref(), p.attr), (Some(e), None));
        let p = ok("urn:ietf:params:scim:schemas:extension:dbtLabs:2.0:User:licenseType");
        assert_eq!(p.attr.as_deref(), Some("licenseType"));
        let p = ok("urn:ietf:params:scim:schemas:core:2.0:User:userName");
        assert_eq!(p.attr.as_deref(), Some("userName"));
    }

    #[test]
    fn value_paths() {
        let p = ok(r#"members[value eq "2819c223"]"#);
        assert_eq!(p.attr.as_deref(), Some("members"));
        assert!(matches!(
            p.filter,
            Some(Filter::Attr { test: AttrTest::Compare(CompareOp::Eq, CompValue::String(ref v)), .. })
                if v == "2819c223"
        ));
        let p = ok(r#"emails[type eq "work"].value"#);
        assert_eq!(p.sub.as_deref(), Some("value"));
        let p = ok(r#"addresses[type eq "work"].streetAddress"#);
        assert_eq!(p.sub.as_deref(), Some("streetAddress"));
        let p = ok(r#"members[value eq "a" or value eq "b"]"#);
        assert!(matches!(p.filter, Some(Filter::Or(ref t)) if t.len() == 2));
        let p = ok(r#"emails[value eq "a]b"]"#);
        assert!(p.filter.is_some());
    }

    #[test]
    fn bad_paths() {
        let cases: [(&str, Option<usize>); 13] = [
            ("", None),
            ("   ", None),
            ("1abc", Some(1)),
            ("name..givenName", Some(1)),
            ("a.b.c", Some(1)),
            (r#"emails[type eq "work""#, Some(22)),
            (r#"emails[type eq "work"]value"#, Some(23)),
            (r#"emails[type eq "work"]."#, Some(24)),
            (r#"emails.value[type eq "work"]"#, Some(13)),
            (r#"emails[type eq]"#, Some(15)),
            (r#"[type eq "work"]"#, Some(1)),
            (r#"emails[type eq "work"].value.x"#, Some(24)),
            ("urn:", Some(1)),
        ];
        for (s, column) in cases {
            let e = match parse_path(s) {
                Ok(p) => panic!("{s} parsed: {p:?}"),
                Err(e) => e,
            };
            assert_eq!(e.scim_type(), ScimType::InvalidPath);
            let got = match &e {
                PathError::Syntax { column, .. } => Some(*column),
                PathError::Filter(f) => f.column(),
                _ => None,
            };
            assert_eq!(got, column, "{s}: {e}");
        }
        let deep = format!("emails[{}type pr{}]", "(".repeat(20), ")".repeat(20));
        assert!(matches!(
            parse_path(&deep),
            Err(PathError::Filter(FilterError::TooDeep { .. }))
        ));
        assert!(matches!(
            parse_path(&"a".repeat(MAX_PATH_LEN + 1)),
            Err(PathError::TooLong { .. })
        ));
    }
}
