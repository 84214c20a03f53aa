//! Path normalisation: the one place a request path is interpreted.
//!
//! The gate normalises a path once and both matches and forwards that same result, so
//! the policy and the upstream can never disagree about which resource is asked for
//! (the `/a/../b`, `%2e%2e`, `%2f`, `;` and `\` bypasses of other proxies came from
//! matching one form and forwarding another).
//!
//! Steps, in one pass over the raw path (never the query):
//! 1. `%xx` escapes are decoded to bytes; unreserved characters (ALPHA DIGIT `-._~`)
//!    become literals, so `%2e` is a dot *before* dot segments are removed. Every other
//!    decoded byte stays an escape. Bad escapes are an error.
//! 2. Segments are split on literal `/` only; `.` and `..` segments are removed
//!    (RFC 3986 §5.2.4, `..` at the root stays at the root), empty segments collapse, a
//!    trailing slash stays.
//! 3. `forward` writes escapes back with upper-case hex (and escapes literal characters
//!    a URI path may not hold); `matching` is the decoded UTF-8 text, except that bytes
//!    which could change segmentation or meaning elsewhere (`/` `\` NUL `#` `;`) stay
//!    escaped, and so does `%` itself when the text holds any of those (or invalid
//!    UTF-8), keeping the text unambiguous.
//!
//! Anything an upstream could read differently from us is an [`Ambiguity`] (an encoded
//! `/`, `\`, `#` or `%`, a `;`, NUL, a control character, invalid UTF-8); the caller
//! answers 400 unless the route opts out.
//!
//! The canonical form the policy judges and the upstream gets is therefore: absolute,
//! no `.`/`..` segments, no empty segments, unreserved characters literal, every other
//! escape in upper-case hex, and (unless the route allows ambiguous paths) none of the
//! ambiguous bytes above. A trailing slash is kept in what is forwarded; the policy's
//! matcher treats it as the same resource as none (see the policy's path
//! patterns).

use std::fmt;

/// A normalised path: one form for policy matching, one for the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalPath {
    /// Decoded text for matching rules (see the module doc for what stays escaped).
    pub matching: String,
    /// The path sent upstream: ASCII, escapes in upper-case hex, dot segments removed.
    pub forward: String,
    /// The first thing in the path that an upstream might read differently.
    pub ambiguity: Option<Ambiguity>,
}

impl NormalPath {
    /// The ambiguity as an error, unless the route allows ambiguous paths.
    pub fn check_ambiguity(&self, allow_ambiguous_paths: bool) -> Result<(), Ambiguity> {
        match self.ambiguity {
            Some(ambiguity) if !allow_ambiguous_paths => Err(ambiguity),
            _ => Ok(()),
        }
    }
}

/// Something in a path that servers disagree about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ambiguity {
    /// `%2F`: a slash that is not a separator here, but is one to some upstreams.
    EncodedSlash,
    /// `%5C`: a backslash, a separator to some upstreams once decoded.
    EncodedBackslash,
    /// A literal `\`, a separator to some upstreams.
    Backslash,
    /// `%00` (or a literal NUL): truncates paths in C-based servers.
    Nul,
    /// `%23` (or a literal `#`): a fragment start once decoded.
    EncodedHash,
    /// `;` (literal or `%3B`): path parameters to some servers (Tomcat, Jetty).
    Semicolon,
    /// `%25`: an encoded `%`. An upstream (or a framework behind it) that decodes twice
    /// reads `%252e%252e` as `..` and `%252F` as `/`, after the policy judged them as
    /// text.
    EncodedPercent,
    /// The decoded path is not valid UTF-8.
    InvalidUtf8,
    /// A control character (`%01`-`%1F`, `%7F`).
    ControlChar,
}

impl fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EncodedSlash => "encoded slash (%2F) in path",
            Self::EncodedBackslash => "encoded backslash (%5C) in path",
            Self::Backslash => "backslash in path",
            Self::Nul => "NUL byte in path",
            Self::EncodedHash => "encoded '#' in path",
            Self::Semicolon => "';' in path",
            Self::EncodedPercent => "encoded '%' (%25) in path",
            Self::InvalidUtf8 => "path is not valid UTF-8",
            Self::ControlChar => "control character in path",
        })
    }
}

/// A path that cannot be normalised (always a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/` (`*` for OPTIONS is the caller's business).
    #[error("path must start with '/'")]
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding in path")]
    BadPercentEncoding,
}

/// One decoded byte of the path and whether it must be written as an escape.
#[derive(Debug, Clone, Copy)]
struct Unit {
    byte: u8,
    /// Written as `%XX` in the output.
    escaped: bool,
    /// Arrived as `%XX` (as opposed to a literal character).
    from_escape: bool,
}

impl Unit {
    fn is_separator(self) -> bool {
        self.byte == b'/' && !self.escaped
    }
}

/// Normalises the path of a request target (the part before any `?`).
pub fn normalise(raw_path: &str) -> Result<NormalPath, PathError> {
    if !raw_path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if is_plain(raw_path) {
        return Ok(NormalPath {
            matching: raw_path.to_owned(),
            forward: raw_path.to_owned(),
            ambiguity: None,
        });
    }
    normalise_in_full(raw_path)
}

/// Whether `path` (starting with `/`) is already in normal form, both forwarded and
/// for matching, and unambiguous: only unreserved characters, sub-delims but `;`,
/// `:`, `@` and `/`; no empty segment but a last one (a trailing slash); no dot
/// segment. Most requests' paths are, and need no decoding.
fn is_plain(path: &str) -> bool {
    if !path
        .bytes()
        .all(|b| b != b';' && b != b'%' && is_literal_path_char(b))
    {
        return false;
    }
    let mut segments = path.get(1..).unwrap_or("").split('/').peekable();
    while let Some(segment) = segments.next() {
        match segment {
            "" if segments.peek().is_some() => return false,
            "." | ".." => return false,
            _ => {}
        }
    }
    true
}

/// [`normalise`] of any path: decoded unit by unit.
fn normalise_in_full(raw_path: &str) -> Result<NormalPath, PathError> {
    let units = decode(raw_path.as_bytes())?;
    let ambiguity = first_ambiguity(&units);
    let kept = remove_dot_segments(&units);
    Ok(NormalPath {
        matching: matching_text(&kept),
        forward: forward_text(&kept),
        ambiguity,
    })
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters a path may hold literally besides unreserved ones: sub-delims, `:`, `@`, `/`.
fn is_literal_path_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(raw: &[u8]) -> Result<Vec<Unit>, PathError> {
    let mut units = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' {
            let hi = raw.get(i + 1).copied().and_then(hex_value);
            let lo = raw.get(i + 2).copied().and_then(hex_value);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(PathError::BadPercentEncoding);
            };
            let byte = hi << 4 | lo;
            units.push(Unit {
                byte,
                escaped: !is_unreserved(byte),
                from_escape: true,
            });
            i += 3;
        } else {
            units.push(Unit {
                byte: b,
                escaped: !is_literal_path_char(b),
                from_escape: false,
            });
            i += 1;
        }
    }
    Ok(units)
}

/// The ambiguity a single unit carries, if any.
fn unit_ambiguity(u: Unit) -> Option<Ambiguity> {
    match (u.byte, u.from_escape) {
        (b'/', true) => Some(Ambiguity::EncodedSlash),
        (b'\\', false) => Some(Ambiguity::Backslash),
        (b'\\', true) => Some(Ambiguity::EncodedBackslash),
        (0, _) => Some(Ambiguity::Nul),
        (b'#', _) => Some(Ambiguity::EncodedHash),
        (b';', _) => Some(Ambiguity::Semicolon),
        (b'%', true) => Some(Ambiguity::EncodedPercent),
        (0x01..=0x1F | 0x7F, _) => Some(Ambiguity::ControlChar),
        _ => None,
    }
}

/// The first ambiguity in path order, over the whole raw path (removed segments too).
fn first_ambiguity(units: &[Unit]) -> Option<Ambiguity> {
    let by_unit = units
        .iter()
        .enumerate()
        .find_map(|(i, u)| unit_ambiguity(*u).map(|a| (i, a)));
    let bytes: Vec<u8> = units.iter().map(|u| u.byte).collect();
    let by_utf8 = std::str::from_utf8(&bytes)
        .err()
        .map(|e| (e.valid_up_to(), Ambiguity::InvalidUtf8));
    match (by_unit, by_utf8) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a.1 } else { b.1 }),
        (a, b) => a.or(b).map(|(_, amb)| amb),
    }
}

/// Splits on literal `/` and resolves dot segments; returns the kept segments and whether
/// the result ends with a slash.
fn remove_dot_segments(units: &[Unit]) -> Kept<'_> {
    // The path starts with a literal '/', so the first split piece is empty.
    let mut segments: Vec<&[Unit]> = Vec::new();
    let mut trailing_slash = false;
    for segment in units.split(|u| u.is_separator()).skip(1) {
        let dots = segment
            .iter()
            .all(|u| u.byte == b'.' && !u.escaped)
            .then_some(segment.len());
        match dots {
            // An empty segment: a duplicate or trailing slash.
            Some(0) => trailing_slash = true,
            Some(1) => trailing_slash = true,
            Some(2) => {
                segments.pop();
                trailing_slash = true;
            }
            _ => {
                segments.push(segment);
                trailing_slash = false;
            }
        }
    }
    Kept {
        segments,
        trailing_slash,
    }
}

struct Kept<'a> {
    segments: Vec<&'a [Unit]>,
    trailing_slash: bool,
}

impl Kept<'_> {
    /// Writes `/seg/seg[/]` with each unit rendered by `write`.
    fn render(&self, out: &mut Vec<u8>, mut write: impl FnMut(&mut Vec<u8>, Unit)) {
        for segment in &self.segments {
            out.push(b'/');
            for unit in *segment {
                write(out, *unit);
            }
        }
        if self.segments.is_empty() || self.trailing_slash {
            out.push(b'/');
        }
    }
}

fn push_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[
        b'%',
        HEX[usize::from(byte >> 4)],
        HEX[usize::from(byte & 0xF)],
    ]);
}

/// Only ASCII is pushed, so the bytes are always valid UTF-8.
fn ascii_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn forward_text(kept: &Kept<'_>) -> String {
    let mut out = Vec::new();
    kept.render(&mut out, |out, unit| {
        if unit.escaped {
            push_escape(out, unit.byte);
        } else {
            out.push(unit.byte);
        }
    });
    ascii_string(out)
}

/// Bytes that stay escaped in `matching`: they could change segmentation or meaning.
fn kept_escaped_in_matching(unit: Unit) -> bool {
    match unit.byte {
        b'/' => unit.escaped,
        b'\\' | 0 | b'#' | b';' => true,
        _ => false,
    }
}

fn matching_text(kept: &Kept<'_>) -> String {
    // `%` itself stays escaped when the text holds other escapes (kept bytes or invalid
    // UTF-8), so a decoded "%2F" can never pass for an escaped slash.
    let mut raw = Vec::new();
    kept.render(&mut raw, |out, unit| out.push(unit.byte));
    let escape_percent = std::str::from_utf8(&raw).is_err()
        || kept
            .segments
            .iter()
            .any(|segment| segment.iter().any(|u| kept_escaped_in_matching(*u)));

    let mut decoded = Vec::with_capacity(raw.len());
    kept.render(&mut decoded, |out, unit| {
        if kept_escaped_in_matching(unit) || (escape_percent && unit.byte == b'%') {
            push_escape(out, unit.byte);
        } else {
            out.push(unit.byte);
        }
    });
    // Invalid UTF-8 (already reported as an ambiguity) is written as escapes.
    let mut text = String::with_capacity(decoded.len());
    for chunk in decoded.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let mut escape = Vec::with_capacity(3);
            push_escape(&mut escape, *byte);
            text.push_str(&ascii_string(escape));
        }
    }
    text
}

#[cfg(test)]
mod tests;
