//! Path patterns: segment by segment, over the normalised, decoded path.
//!
//! A literal segment matches itself; `*` one non-empty segment; `{name}` one non-empty
//! segment, captured as a parameter; `**` (last only) zero or more segments.
//!
//! Both sides are compared on the canonical form of a path (see
//! [`crate::path`]): empty segments do not count and a trailing `/` is the same
//! resource as none, for every pattern, fixed or not, in allow and deny rules alike.
//! Most upstream frameworks serve `/secret/admin/` and `/secret//admin` as
//! `/secret/admin`, so a deny rule on `/secret/admin` must refuse them too (and an allow
//! rule on it grants them). The path forwarded keeps its trailing slash. Partial
//! wildcards (`*.sql`) are refused rather than half-supported. Patterns used by deny
//! rules fold ASCII case, so a case-insensitive upstream cannot be reached around them.
//! Matching never allocates; only [`PathPattern::captures`] builds a list.

use std::sync::Arc;

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matches exactly this text (lower-cased when the pattern folds case).
    Literal(Box<str>),
    /// `*`: one non-empty segment.
    Star,
    /// `{name}`: one non-empty segment, captured.
    Param(Arc<str>),
    /// `**`: everything that is left, possibly nothing.
    Rest,
}

/// A compiled path pattern.
#[derive(Debug, Clone)]
pub struct PathPattern {
    source: Box<str>,
    segments: Box<[Segment]>,
    fold_case: bool,
}

impl PartialEq for PathPattern {
    /// Same segments (so `/a/**` equals `/a/**/` and `/a` equals `/a/`), whatever they
    /// were written as.
    fn eq(&self, other: &Self) -> bool {
        self.segments == other.segments && self.fold_case == other.fold_case
    }
}

impl PathPattern {
    /// Compiles `text`; `fold_case` makes literal segments match in any ASCII case.
    pub fn parse(text: &str, fold_case: bool) -> Result<Self, String> {
        let Some(body) = text.strip_prefix('/') else {
            return Err(format!("path pattern `{text}` must start with `/`"));
        };
        if text.contains(['?', '#']) {
            return Err(format!(
                "path pattern `{text}`: `?` and `#` never reach matching (the query and fragment are not part of the path)"
            ));
        }
        if let Some(c) = text.chars().find(|c| matches!(c, '\\' | ';' | '\0')) {
            return Err(format!(
                "path pattern `{text}`: {c:?} never reaches matching as written (paths are matched with it escaped; write `%{:02X}` to name it)",
                u32::from(c)
            ));
        }
        // A trailing `/` is the same resource as none (module doc); `/` is no segment.
        let body = body.strip_suffix('/').unwrap_or(body);
        let parts: Vec<&str> = if body.is_empty() {
            Vec::new()
        } else {
            body.split('/').collect()
        };
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            segments.push(segment(text, part, last, fold_case)?);
        }
        let mut names: Vec<&Arc<str>> = Vec::new();
        for s in &segments {
            if let Segment::Param(n) = s {
                if names.contains(&n) {
                    return Err(format!("path pattern `{text}` names {{{n}}} twice"));
                }
                names.push(n);
            }
        }
        Ok(PathPattern {
            source: text.into(),
            segments: segments.into(),
            fold_case,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// How many literal segments it has (more is more specific when routing).
    pub fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    /// Whether it captures `{name}`.
    pub fn declares(&self, name: &str) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Param(n) if &**n == name))
    }

    /// The literal segments it starts with, e.g. `["finance"]` for `/finance/**`.
    pub fn literal_prefix(&self) -> Vec<&str> {
        self.segments
            .iter()
            .map_while(|s| match s {
                Segment::Literal(l) => Some(&**l),
                _ => None,
            })
            .collect()
    }

    /// The first segment when it is literal (lower-cased if the pattern folds case).
    pub fn first_literal(&self) -> Option<&str> {
        match self.segments.first() {
            Some(Segment::Literal(l)) => Some(l),
            _ => None,
        }
    }

    /// Whether `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        self.walk(path, |_, _| {})
    }

    /// The segment of `path` captured as `{name}`, if `path` matches and the pattern
    /// has that parameter.
    pub fn capture<'p>(&self, path: &'p str, name: &str) -> Option<&'p str> {
        let mut found = None;
        if self.walk(path, |n, v| {
            if n == name {
                found = Some(v);
            }
        }) {
            found
        } else {
            None
        }
    }

    /// Every parameter of a matching `path`, in pattern order; `None` if it does not match.
    pub fn captures(&self, path: &str) -> Option<Vec<(Arc<str>, String)>> {
        let mut out = Vec::new();
        let names: Vec<&Arc<str>> = self
            .segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(n) => Some(n),
                _ => None,
            })
            .collect();
        let mut values: Vec<&str> = Vec::new();
        if !self.walk(path, |_, v| values.push(v)) {
            return None;
        }
        for (n, v) in names.into_iter().zip(values) {
            out.push((n.clone(), v.to_owned()));
        }
        Some(out)
    }

    /// Matches `path`, handing each captured parameter to `on_param`. Empty segments
    /// (a trailing `/`, or `//` in a path that was not normalised) are skipped, so a
    /// path and its canonical form always agree.
    fn walk<'p>(&self, path: &'p str, mut on_param: impl FnMut(&str, &'p str)) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let mut parts = rest.split('/').filter(|p| !p.is_empty());
        for seg in self.segments.iter() {
            let part = match seg {
                Segment::Rest => return true,
                _ => match parts.next() {
                    Some(p) => p,
                    None => return false,
                },
            };
            let ok = match seg {
                Segment::Literal(l) if self.fold_case => l.eq_ignore_ascii_case(part),
                Segment::Literal(l) => **l == *part,
                Segment::Star => !part.is_empty(),
                Segment::Param(n) => {
                    if part.is_empty() {
                        false
                    } else {
                        on_param(n, part);
                        true
                    }
                }
                Segment::Rest => true,
            };
            if !ok {
                return false;
            }
        }
        parts.next().is_none()
    }
}

fn segment(text: &str, part: &str, last: bool, fold_case: bool) -> Result<Segment, String> {
    match part {
        "**" if last => Ok(Segment::Rest),
        "**" => Err(format!(
            "path pattern `{text}`: `**` must be the last segment"
        )),
        "*" => Ok(Segment::Star),
        "" => Err(format!("path pattern `{text}` has an empty segment (`//`)")),
        "." | ".." => Err(format!(
            "path pattern `{text}`: `{part}` segments never reach matching (paths are normalised)"
        )),
        _ => {
            if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if inner.is_empty() {
                    return Err(format!(
                        "path pattern `{text}`: empty parameter name `{{}}`"
                    ));
                }
                if !inner
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(format!(
                        "path pattern `{text}`: parameter name `{inner}` may hold only letters, digits and `_`"
                    ));
                }
                return Ok(Segment::Param(Arc::from(inner)));
            }
            if part.contains('*') {
                return Err(format!(
                    "path pattern `{text}`: `*` stands for a whole segment (`{part}` is not supported; patterns are segment-based)"
                ));
            }
            if part.contains(['{', '}']) {
                return Err(format!(
                    "path pattern `{text}`: a parameter is a whole segment, `{{name}}`"
                ));
            }
            let lit = if fold_case {
                part.to_ascii_lowercase()
            } else {
                part.to_owned()
            };
            Ok(Segment::Literal(lit.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> PathPattern {
        PathPattern::parse(text, false).unwrap()
    }

    #[test]
    fn literal_patterns_match_whole_paths() {
        assert!(p("/").matches("/"));
        assert!(!p("/").matches("/a"));
        assert!(p("/index.html").matches("/index.html"));
        assert!(!p("/index.html").matches("/index.htm"));
        assert!(!p("/index.html").matches("/index.html/x"));
        assert!(!p("/a").matches("a"));
        assert!(!p("/a").matches(""));
    }

    #[test]
    fn fixed_patterns_treat_a_trailing_slash_as_the_same_resource() {
        // The bypass: a deny on `/secret/admin` did not match `/secret/admin/`.
        for fold_case in [false, true] {
            let fixed = PathPattern::parse("/secret/run_results.json", fold_case).unwrap();
            assert!(fixed.matches("/secret/run_results.json/"));
            let dir = PathPattern::parse("/secret/admin/", fold_case).unwrap();
            assert!(dir.matches("/secret/admin"));
            assert!(dir.matches("/secret/admin/"));
        }
        assert_eq!(p("/a/"), p("/a"));
        assert_eq!(p("/a/").literal_prefix(), vec!["a"]);
        assert!(p("/").literal_prefix().is_empty());
    }

    #[test]
    fn empty_segments_never_change_a_match() {
        // A path that was not normalised still matches like its canonical form.
        let deny = PathPattern::parse("/secret/admin", true).unwrap();
        for path in ["/secret//admin", "//secret/admin//", "/secret//admin//"] {
            assert!(deny.matches(path), "{path}");
        }
        assert!(!p("/a/*").matches("/a//"));
        assert!(p("/{x}/b")
            .captures("//a//b/")
            .is_some_and(|c| c[0].1 == "a"));
    }

    #[test]
    fn star_matches_one_non_empty_segment() {
        let star = p("/a/*");
        assert!(star.matches("/a/b"));
        assert!(star.matches("/a/b/"));
        assert!(!star.matches("/a/"));
        assert!(!star.matches("/a"));
        assert!(!star.matches("/a/b/c"));
        assert!(p("/*/x").matches("/q/x"));
        assert!(!p("/*/x").matches("//x"));
    }

    #[test]
    fn double_star_matches_zero_or_more_segments() {
        let rest = p("/finance/**");
        for ok in ["/finance", "/finance/", "/finance/a", "/finance/a/b/c.json"] {
            assert!(rest.matches(ok), "{ok}");
        }
        for no in ["/", "/financefoo", "/finance.json", "/other/finance"] {
            assert!(!rest.matches(no), "{no}");
        }
        let all = p("/**");
        assert!(all.matches("/"));
        assert!(all.matches("/anything/at/all"));
    }

    #[test]
    fn params_capture_one_segment() {
        let pat = p("/projects/{project_id}/runs/{run}");
        assert!(pat.declares("project_id"));
        assert!(!pat.declares("other"));
        assert_eq!(
            pat.capture("/projects/123/runs/9", "project_id"),
            Some("123")
        );
        assert_eq!(pat.capture("/projects/123/runs/9", "run"), Some("9"));
        assert_eq!(pat.capture("/projects/123/runs/9", "nope"), None);
        assert_eq!(pat.capture("/projects/123/jobs/9", "project_id"), None);
        assert!(!pat.matches("/projects//runs/9"));
        let all = pat.captures("/projects/123/runs/9/").unwrap();
        let got: Vec<(&str, &str)> = all.iter().map(|(n, v)| (&**n, v.as_str())).collect();
        assert_eq!(got, vec![("project_id", "123"), ("run", "9")]);
        assert!(pat.captures("/projects/123").is_none());
    }

    #[test]
    fn case_is_exact_unless_folded() {
        assert!(!p("/finance/run_results.json").matches("/Finance/RUN_RESULTS.json"));
        let deny = PathPattern::parse("/Finance/run_results.json", true).unwrap();
        assert!(deny.matches("/finance/RUN_RESULTS.json"));
        assert!(deny.matches("/FINANCE/run_results.JSON"));
        assert!(!deny.matches("/finance/run_results.jsonx"));
        let deny_dir = PathPattern::parse("/compiled/**", true).unwrap();
        assert!(deny_dir.matches("/Compiled/models/x.sql"));
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        for (bad, why) in [
            ("finance/**", "must start with `/`"),
            ("/a/**/b", "`**` must be the last segment"),
            ("/a/{}", "empty parameter name"),
            ("/a/{x-y}", "letters, digits"),
            ("/a/*.sql", "segment-based"),
            ("/a/x{y}", "whole segment"),
            ("/a//b", "empty segment"),
            ("/a/*//", "empty segment"),
            ("/a/../b", "normalised"),
            ("/a?x=1", "query"),
            ("/a\\b", "escaped"),
            ("/a;jsessionid=1", "`%3B`"),
            ("/a\0b", "`%00`"),
            ("/{a}/{a}", "twice"),
        ] {
            let e = PathPattern::parse(bad, false).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn bytes_matched_escaped_are_named_escaped() {
        // `;`, `\` and NUL are always escaped in the text paths are matched on, so a
        // pattern names them that way and matches every spelling of the request.
        let pattern = p("/a%3Bb/%5C/%00");
        for raw in ["/a;b/\\/%00", "/a%3bb/%5c/%00", "/a%3Bb//%5C/%00/"] {
            let n = crate::path::normalise(raw).unwrap();
            assert!(pattern.matches(&n.matching), "{raw} -> {}", n.matching);
        }
    }

    #[test]
    fn equality_and_specificity() {
        assert_eq!(p("/a/**"), p("/a/**/"));
        assert_ne!(p("/a/b"), p("/a"));
        assert_eq!(p("/a/b/**").literal_count(), 2);
        assert_eq!(p("/**").literal_count(), 0);
        assert_eq!(p("/a/{x}/**").literal_prefix(), vec!["a"]);
    }
}
