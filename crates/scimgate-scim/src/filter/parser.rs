//! Lexer and recursive-descent parser for filter expressions. Nesting is
//! bounded by the caller's depth cap, and `and`/`or` chains are collected
//! iteratively, so no input can overflow the stack.

use serde_json::Number;

use super::super::schema::{core_attr, resolve_attr};
use super::super::schema::{AttrType, ResourceKind};
use super::{
    AttrPath, AttrTest, CompValue, CompareOp, Filter, FilterError, HARD_MAX_DEPTH, MAX_FILTER_LEN,
};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Str(String),
    Num(Number),
    Word(String),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
}

fn column(src: &str, pos: usize) -> usize {
    src.get(..pos).map_or(pos, |p| p.chars().count()) + 1
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$' | ':' | '.')
}

#[derive(Clone)]
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn err(&self, pos: usize, message: impl Into<String>) -> FilterError {
        FilterError::Syntax {
            column: column(self.src, pos),
            message: message.into(),
        }
    }

    fn next_token(&mut self) -> Result<Token, FilterError> {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        self.pos += rest.len() - trimmed.len();
        let start = self.pos;
        let Some(c) = trimmed.chars().next() else {
            return Ok(Token {
                tok: Tok::Eof,
                pos: start,
            });
        };
        let single = |tok| Token { tok, pos: start };
        match c {
            '(' | ')' | '[' | ']' => {
                self.pos += 1;
                Ok(single(match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                }))
            }
            '"' => self.string(start),
            '-' | '0'..='9' => self.number(start),
            c if is_word_char(c) => {
                let len = trimmed
                    .find(|c: char| !is_word_char(c))
                    .unwrap_or(trimmed.len());
                self.pos += len;
                Ok(single(Tok::Word(trimmed[..len].to_string())))
            }
            other => Err(self.err(start, format!("unexpected character `{other}`"))),
        }
    }

    fn string(&mut self, start: usize) -> Result<Token, FilterError> {
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        loop {
            match bytes.get(i) {
                None => return Err(self.err(start, "unterminated string")),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let raw = self
            .src
            .get(start..=i)
            .ok_or_else(|| self.err(start, "unterminated string"))?;
        let s: String = serde_json::from_str(raw)
            .map_err(|e| self.err(start, format!("invalid string literal: {e}")))?;
        self.pos = i + 1;
        Ok(Token {
            tok: Tok::Str(s),
            pos: start,
        })
    }

    fn number(&mut self, start: usize) -> Result<Token, FilterError> {
        let rest = &self.src[start..];
        let b = rest.as_bytes();
        let mut i = usize::from(b.first() == Some(&b'-'));
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > s
        };
        let mut ok = digits(&mut i);
        if ok && b.get(i) == Some(&b'.') {
            i += 1;
            ok = digits(&mut i);
        }
        if ok && matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            ok = digits(&mut i);
        }
        let trailing = rest[i..].chars().next().is_some_and(is_word_char);
        if !ok || trailing {
            return Err(self.err(start, "malformed number"));
        }
        let n: Number = rest[..i]
            .parse()
            .map_err(|_| self.err(start, "number out of range"))?;
        self.pos = start + i;
        Ok(Token {
            tok: Tok::Num(n),
            pos: start,
        })
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    max_depth: usize,
    /// The value-path attribute being filtered inside `[...]`, if any.
    bracket_parent: Option<AttrPath>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, pos: usize, max_depth: usize) -> Self {
        Parser {
            lexer: Lexer { src, pos },
            max_depth: max_depth.min(HARD_MAX_DEPTH),
            bracket_parent: None,
        }
    }

    fn err(&self, pos: usize, message: impl Into<String>) -> FilterError {
        self.lexer.err(pos, message)
    }

    fn peek(&self) -> Result<Token, FilterError> {
        self.lexer.clone().next_token()
    }

    fn next(&mut self) -> Result<Token, FilterError> {
        self.lexer.next_token()
    }

    fn peek_keyword(&self, kw: &str) -> Result<bool, FilterError> {
        Ok(matches!(self.peek()?.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw)))
    }

    fn enter(&self, depth: usize, pos: usize) -> Result<(), FilterError> {
        if depth > self.max_depth {
            return Err(FilterError::TooDeep {
                column: column(self.lexer.src, pos),
                max: self.max_depth,
            });
        }
        Ok(())
    }

    fn expect_tok(&mut self, want: Tok, what: &str) -> Result<(), FilterError> {
        let t = self.next()?;
        if t.tok != want {
            return Err(self.err(t.pos, format!("expected {what}")));
        }
        Ok(())
    }

    fn or_expr(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut terms = vec![self.and_expr(depth)?];
        while self.peek_keyword("or")? {
            self.next()?;
            terms.push(self.and_expr(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Filter::Or(terms)
        })
    }

    fn and_expr(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut terms = vec![self.unary(depth)?];
        while self.peek_keyword("and")? {
            self.next()?;
            terms.push(self.unary(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Filter::And(terms)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let t = self.peek()?;
        match &t.tok {
            Tok::LParen => {
                self.enter(depth + 1, t.pos)?;
                self.next()?;
                let f = self.or_expr(depth + 1)?;
                self.expect_tok(Tok::RParen, "`)`")?;
                Ok(f)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                let mut ahead = self.lexer.clone();
                ahead.next_token()?;
                if ahead.next_token()?.tok == Tok::LParen {
                    self.enter(depth + 1, t.pos)?;
                    self.next()?;
                    self.next()?;
                    let f = self.or_expr(depth + 1)?;
                    self.expect_tok(Tok::RParen, "`)`")?;
                    Ok(Filter::Not(Box::new(f)))
                } else {
                    self.attr_expr(depth)
                }
            }
            Tok::Word(_) => self.attr_expr(depth),
            Tok::Eof => Err(self.err(t.pos, "unexpected end of filter")),
            _ => Err(self.err(t.pos, "expected an attribute path, `(` or `not`")),
        }
    }

    fn attr_path(&mut self) -> Result<(AttrPath, usize), FilterError> {
        let t = self.next()?;
        let Tok::Word(w) = &t.tok else {
            return Err(self.err(t.pos, "expected an attribute path"));
        };
        let path = AttrPath::parse(w)
            .ok_or_else(|| self.err(t.pos, format!("`{w}` is not a valid attribute path")))?;
        if self.bracket_parent.is_some() && (path.urn.is_some() || path.sub.is_some()) {
            return Err(self.err(
                t.pos,
                format!("`{w}` must be a plain sub-attribute name inside `[...]`"),
            ));
        }
        Ok((path, t.pos))
    }

    fn attr_expr(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let (path, path_pos) = self.attr_path()?;
        let t = self.peek()?;
        if t.tok == Tok::LBracket {
            if self.bracket_parent.is_some() {
                return Err(self.err(t.pos, "value filters cannot be nested"));
            }
            if path.sub.is_some() {
                return Err(self.err(t.pos, "`[` must follow an attribute, not a sub-attribute"));
            }
            self.enter(depth + 1, t.pos)?;
            self.next()?;
            self.bracket_parent = Some(path.clone());
            let inner = self.or_expr(depth + 1);
            self.bracket_parent = None;
            let inner = inner?;
            self.expect_tok(Tok::RBracket, "`]`")?;
            let then = match self.peek()? {
                Token {
                    tok: Tok::Word(w),
                    pos,
                } if w.starts_with('.') => {
                    self.next()?;
                    let sub = &w[1..];
                    if !super::is_attr_name(sub) {
                        return Err(self.err(pos, format!("`{w}` is not a valid sub-attribute")));
                    }
                    let sub_path = AttrPath {
                        urn: path.urn.clone(),
                        attr: path.attr.clone(),
                        sub: Some(sub.to_string()),
                    };
                    let test = self.test(&sub_path, pos)?;
                    Some((sub.to_string(), test))
                }
                _ => None,
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(inner),
                then,
            });
        }
        let test = self.test(&path, path_pos)?;
        Ok(Filter::Attr { path, test })
    }

    fn test(&mut self, path: &AttrPath, path_pos: usize) -> Result<AttrTest, FilterError> {
        let t = self.next()?;
        let Tok::Word(w) = &t.tok else {
            return Err(self.err(
                t.pos,
                "expected an operator (eq ne co sw ew pr gt ge lt le)",
            ));
        };
        if w.eq_ignore_ascii_case("pr") {
            return Ok(AttrTest::Present);
        }
        let op = CompareOp::from_keyword(w)
            .ok_or_else(|| self.err(t.pos, format!("unknown operator `{w}`")))?;
        let v = self.next()?;
        let value = match v.tok {
            Tok::Str(s) => CompValue::String(s),
            Tok::Num(n) => CompValue::Number(n),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            _ => {
                return Err(self.err(
                    v.pos,
                    "expected a value (a string, number, true, false or null)",
                ))
            }
        };
        if op.is_ordering() {
            if matches!(value, CompValue::Bool(_) | CompValue::Null) {
                return Err(self.err(v.pos, "ordering operators cannot compare booleans or null"));
            }
            if let Some(ty) = self.unorderable_type(path) {
                return Err(self.err(
                    path_pos,
                    format!(
                        "ordering operators are not allowed on the {ty} attribute `{}`",
                        path.full_name()
                    ),
                ));
            }
        }
        Ok(AttrTest::Compare(op, value))
    }

    /// The type of `path` when, in some resource kind, it is boolean, binary
    /// or complex (without a `value` sub-attribute to compare).
    fn unorderable_type(&self, path: &AttrPath) -> Option<&'static str> {
        for kind in ResourceKind::ALL {
            let def = match &self.bracket_parent {
                Some(parent) => resolve_attr(kind, &parent.full_name())
                    .and_then(|p| p.attr.sub_attr(&path.attr)),
                None => resolve_attr(kind, &path.full_name()).map(|r| r.leaf()),
            };
            let def = def.or_else(|| {
                (self.bracket_parent.is_none() && path.urn.is_none() && path.sub.is_none())
                    .then(|| core_attr(kind, &path.attr))
                    .flatten()
            });
            let Some(def) = def else { continue };
            match def.ty {
                AttrType::Boolean | AttrType::Binary => return Some(def.ty.as_str()),
                AttrType::Complex if def.sub_attr("value").is_none() => {
                    return Some(def.ty.as_str())
                }
                _ => {}
            }
        }
        None
    }
}

fn check_len(s: &str) -> Result<(), FilterError> {
    if s.len() > MAX_FILTER_LEN {
        return Err(FilterError::TooLong {
            len: s.len(),
            max: MAX_FILTER_LEN,
        });
    }
    Ok(())
}

pub(super) fn parse_filter(s: &str, max_depth: usize) -> Result<Filter, FilterError> {
    check_len(s)?;
    if s.trim().is_empty() {
        return Err(FilterError::Empty);
    }
    let mut p = Parser::new(s, 0, max_depth);
    let f = p.or_expr(0)?;
    let t = p.next()?;
    if t.tok != Tok::Eof {
        return Err(p.err(t.pos, "unexpected input after a complete filter"));
    }
    Ok(f)
}

/// Parses the value filter of `parent[...]` starting at byte `start` of
/// `src` (just after `[`) through the closing `]`. Returns the filter and the
/// byte offset after `]`. Columns in errors are relative to `src`.
pub(in super::super) fn parse_bracket_filter(
    src: &str,
    start: usize,
    parent: &AttrPath,
    max_depth: usize,
) -> Result<(Filter, usize), FilterError> {
    check_len(src)?;
    let mut p = Parser::new(src, start, max_depth);
    p.enter(1, start.saturating_sub(1))?;
    p.bracket_parent = Some(parent.clone());
    let f = p.or_expr(1)?;
    p.bracket_parent = None;
    p.expect_tok(Tok::RBracket, "`]`")?;
    Ok((f, p.lexer.pos))
}
