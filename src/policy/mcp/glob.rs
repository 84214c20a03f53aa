//! Name patterns for MCP tools, prompts and resource URIs: the text itself, with `*`
//! standing for any run of characters (possibly none). `list_*` names every tool whose
//! name starts with `list_`; `*` names them all. Nothing else is special.
//!
//! Allow rules compare exactly (MCP names are case-sensitive); deny rules fold ASCII
//! case, so a server that resolves names without case cannot be reached around them.

/// A compiled name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    /// The literal pieces between `*`s (lower-cased when folding case).
    pieces: Box<[Box<str>]>,
    /// Whether the pattern starts or ends with `*`.
    open_start: bool,
    open_end: bool,
    fold_case: bool,
    source: Box<str>,
}

impl NamePattern {
    /// Compiles `text`; refuses an empty pattern and control characters.
    pub fn parse(text: &str, fold_case: bool) -> Result<Self, String> {
        if text.is_empty() {
            return Err("an empty name pattern matches nothing".to_owned());
        }
        if text.chars().any(char::is_control) {
            return Err(format!("name pattern {text:?} holds a control character"));
        }
        let fold = |s: &str| {
            if fold_case {
                s.to_ascii_lowercase()
            } else {
                s.to_owned()
            }
        };
        let pieces: Vec<Box<str>> = text
            .split('*')
            .filter(|p| !p.is_empty())
            .map(|p| fold(p).into())
            .collect();
        Ok(NamePattern {
            pieces: pieces.into(),
            open_start: text.starts_with('*'),
            open_end: text.ends_with('*'),
            fold_case,
            source: text.into(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        if self.fold_case {
            return self.matches_folded(&name.to_ascii_lowercase());
        }
        self.matches_folded(name)
    }

    fn matches_folded(&self, name: &str) -> bool {
        let n = self.pieces.len();
        if n == 0 {
            // `*` (or `**`): everything.
            return true;
        }
        let mut rest = name;
        for (i, piece) in self.pieces.iter().enumerate() {
            let first = i == 0;
            let last = i == n - 1;
            if first && !self.open_start {
                let Some(after) = rest.strip_prefix(&**piece) else {
                    return false;
                };
                rest = after;
                if last {
                    return self.open_end || rest.is_empty();
                }
                continue;
            }
            if last && !self.open_end {
                return rest.len() >= piece.len() && rest.ends_with(&**piece);
            }
            match rest.find(&**piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::NamePattern;

    fn m(pattern: &str, name: &str) -> bool {
        NamePattern::parse(pattern, false).unwrap().matches(name)
    }

    #[test]
    fn literal_and_star_patterns() {
        assert!(m("show", "show"));
        assert!(!m("show", "shows"));
        assert!(!m("show", "Show"));
        assert!(m("list_*", "list_metrics"));
        assert!(m("list_*", "list_"));
        assert!(!m("list_*", "get_list_x"));
        assert!(m("*_sql", "execute_sql"));
        assert!(!m("*_sql", "execute_sql2"));
        assert!(m("get_*_details", "get_model_details"));
        assert!(!m("get_*_details", "get_model_detail"));
        assert!(m("*", "anything"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "a-b-b-c"));
        assert!(!m("a*b*c", "a-c-b"));
        assert!(!m("ab*ab", "ab"));
        assert!(m("file:///docs/*", "file:///docs/a/b.md"));
        assert!(NamePattern::parse("", false).is_err());
        assert!(NamePattern::parse("a\nb", false).is_err());
    }

    #[test]
    fn deny_patterns_fold_case() {
        let p = NamePattern::parse("Execute_*", true).unwrap();
        assert!(p.matches("execute_sql"));
        assert!(p.matches("EXECUTE_SQL"));
        assert!(!p.matches("text_to_sql"));
    }
}
