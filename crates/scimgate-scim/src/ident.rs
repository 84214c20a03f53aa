//! Identifier rules and the caseless key: the one place that says which user names,
//! group display names and identity claim values scimgate accepts, and when two of them
//! name the same thing. Every comparison of identities or group names (directory
//! indexes, policy rules, claim mapping, admin search) goes through [`caseless_key`] /
//! [`matches_key`], so no two parts of the product can disagree on who someone is.
//!
//! **An identifier is refused** ([`check`]) when it is empty, begins or ends with white
//! space (Unicode `White_Space`: SP, TAB, NBSP, U+2003, U+3000, …), holds white space
//! other than U+0020 SPACE, holds a control (`Cc`), format (`Cf`: zero-width joiners,
//! bidi controls, BOM), private-use, surrogate or unassigned code point or a line or
//! paragraph separator, is not in Unicode Normalization Form C, or holds a compatibility
//! character (one that NFKC would change: KELVIN SIGN, MICRO SIGN, long s, ligatures,
//! full-width letters, …). A refused identifier is never mapped to another one.
//!
//! **The caseless key** is Unicode *simple* default case folding (CaseFolding.txt
//! statuses C and S, ICU4X data) of the NFC text, code point by code point: `Σ`, `σ` and
//! `ς` fold alike, ASCII folds to lower case. Simple rather than full folding, because
//! full folding merges strings an identity provider keeps apart (`strauß` and
//! `strauss`, `ﬁ` and `fi`): a token for one of them would reach the other's access.
//! Compatibility characters are refused rather than folded, so the key never merges
//! them either.

use std::fmt;

use icu_casemap::CaseMapper;
use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{GeneralCategory, WhiteSpace};
use icu_properties::{CodePointMapData, CodePointSetData};

/// Why an identifier is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    #[error("must not be empty")]
    Empty,
    #[error("must not begin or end with white space")]
    EdgeWhiteSpace,
    #[error("must not contain white space other than U+0020 SPACE (found {0})")]
    InnerWhiteSpace(CodePoint),
    #[error("must not contain control, format, private-use or unassigned characters (found {0})")]
    Forbidden(CodePoint),
    #[error("must be in Unicode Normalization Form C")]
    NotNfc,
    #[error("must not contain compatibility characters (found {0})")]
    Compatibility(CodePoint),
}

/// A code point, shown as `U+XXXX` (never the character itself: it may be invisible or
/// reorder the text around it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePoint(pub char);

impl fmt::Display for CodePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U+{:04X}", u32::from(self.0))
    }
}

const NFC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfc();
const NFKC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfkc();

/// Checks `text` against the identifier rules (see the module doc).
pub fn check(text: &str) -> Result<(), IdentError> {
    let (Some(first), Some(last)) = (text.chars().next(), text.chars().next_back()) else {
        return Err(IdentError::Empty);
    };
    if text.is_ascii() {
        return check_ascii(text.as_bytes(), first, last);
    }
    let white = CodePointSetData::new::<WhiteSpace>();
    if white.contains(first) || white.contains(last) {
        return Err(IdentError::EdgeWhiteSpace);
    }
    let category = CodePointMapData::<GeneralCategory>::new();
    for c in text.chars() {
        if c != ' ' && white.contains(c) {
            return Err(IdentError::InnerWhiteSpace(CodePoint(c)));
        }
        if matches!(
            category.get(c),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::PrivateUse
                | GeneralCategory::Surrogate
                | GeneralCategory::Unassigned
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        ) {
            return Err(IdentError::Forbidden(CodePoint(c)));
        }
    }
    if !NFC.is_normalized(text) {
        return Err(IdentError::NotNfc);
    }
    // In NFC text without compatibility decompositions, NFKC changes nothing: the
    // first code point that NFKC would change on its own is the culprit.
    if let Some(c) = text.chars().find(|c| {
        let mut buf = [0u8; 4];
        !NFKC.is_normalized(c.encode_utf8(&mut buf))
    }) {
        return Err(IdentError::Compatibility(CodePoint(c)));
    }
    Ok(())
}

fn check_ascii(bytes: &[u8], first: char, last: char) -> Result<(), IdentError> {
    if first.is_ascii_whitespace()
        || last.is_ascii_whitespace()
        || first == '\x0b'
        || last == '\x0b'
    {
        return Err(IdentError::EdgeWhiteSpace);
    }
    for b in bytes {
        match b {
            b' ' => {}
            b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' => {
                return Err(IdentError::InnerWhiteSpace(CodePoint(char::from(*b))))
            }
            0..=0x1f | 0x7f => return Err(IdentError::Forbidden(CodePoint(char::from(*b)))),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `text` passes [`check`].
#[inline]
pub fn is_valid(text: &str) -> bool {
    check(text).is_ok()
}

/// The caseless key of an identifier: simple case folding of its NFC form. Two
/// identifiers name the same user (or group) exactly when their keys are equal.
#[inline]
pub fn caseless_key(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let fold = CaseMapper::new();
    let nfc = NFC.normalize(text);
    nfc.chars().map(|c| fold.simple_fold(c)).collect()
}

/// Whether `text`'s caseless key is `key` (itself a [`caseless_key`]), without
/// allocating when `text` is ASCII or already in NFC (every valid identifier is).
#[inline]
pub fn matches_key(text: &str, key: &str) -> bool {
    if text.is_ascii() {
        return text.eq_ignore_ascii_case(key);
    }
    if NFC.is_normalized(text) {
        let fold = CaseMapper::new();
        return text.chars().map(|c| fold.simple_fold(c)).eq(key.chars());
    }
    caseless_key(text) == key
}

/// Whether `text` is its own caseless key (checked without allocating), so it can be
/// looked up in a key index as it is.
#[inline]
pub fn is_key(text: &str) -> bool {
    if text.is_ascii() {
        return !text.bytes().any(|b| b.is_ascii_uppercase());
    }
    let fold = CaseMapper::new();
    NFC.is_normalized(text) && text.chars().all(|c| fold.simple_fold(c) == c)
}

/// Whether two identifiers name the same thing (equal caseless keys).
#[inline]
pub fn same(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    matches_key(a, &caseless_key(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_white_space_at_the_edges() {
        for t in [
            "bob ",
            " bob",
            "bob\u{a0}",
            "\u{a0}bob",
            "bob\t",
            "bob\u{3000}",
            "bob\n",
        ] {
            assert_eq!(check(t), Err(IdentError::EdgeWhiteSpace), "{t:?}");
        }
        assert_eq!(check(""), Err(IdentError::Empty));
    }

    #[test]
    fn refuses_inner_white_space_other_than_space() {
        assert_eq!(check("Data Engineers"), Ok(()));
        assert_eq!(
            check("Data\u{a0}Engineers"),
            Err(IdentError::InnerWhiteSpace(CodePoint('\u{a0}')))
        );
        assert_eq!(
            check("Data\tEngineers"),
            Err(IdentError::InnerWhiteSpace(CodePoint('\t')))
        );
    }

    #[test]
    fn refuses_control_format_private_and_unassigned() {
        for (t, c) in [
            ("bo\u{0}b", '\u{0}'),
            ("bo\u{7f}b", '\u{7f}'),
            ("bo\u{85}b", '\u{85}'),
            ("bo\u{200b}b", '\u{200b}'),
            ("bo\u{200d}b", '\u{200d}'),
            ("bo\u{202e}b", '\u{202e}'),
            ("\u{feff}bob", '\u{feff}'),
            ("bo\u{e000}b", '\u{e000}'),
            ("bo\u{2028}b", '\u{2028}'),
            ("bo\u{0378}b", '\u{0378}'),
        ] {
            let e = check(t).err();
            assert!(
                matches!(e, Some(IdentError::Forbidden(CodePoint(x))) if x == c)
                    || matches!(e, Some(IdentError::InnerWhiteSpace(CodePoint(x))) if x == c),
                "{t:?}: {e:?}"
            );
        }
    }

    #[test]
    fn refuses_text_not_in_nfc_and_compatibility_characters() {
        // KELVIN SIGN is not NFC-stable: refused, never folded into `kim`.
        assert_eq!(check("\u{212a}im"), Err(IdentError::NotNfc));
        assert_eq!(check("Zoe\u{308}"), Err(IdentError::NotNfc));
        assert_eq!(check("Zo\u{eb}"), Ok(()));
        for (t, c) in [
            ("\u{fb01}ona", '\u{fb01}'),
            ("\u{b5}ller", '\u{b5}'),
            ("\u{17f}am", '\u{17f}'),
            ("\u{ff42}ob", '\u{ff42}'),
        ] {
            assert_eq!(
                check(t),
                Err(IdentError::Compatibility(CodePoint(c))),
                "{t:?}"
            );
        }
    }

    #[test]
    fn accepts_ordinary_names_in_any_script() {
        for t in [
            "bob",
            "ann.lee@example.com",
            "Οδυσσευς",
            "ΟΔΥΣΣΕΥΣ",
            "straße",
            "İstanbul",
            "日本語",
            "Data Engineers",
            "émile",
        ] {
            assert_eq!(check(t), Ok(()), "{t:?}");
        }
    }

    #[test]
    fn the_key_folds_case_and_every_sigma_alike() {
        assert_eq!(caseless_key("BoB"), "bob");
        let k = caseless_key("ΟΔΥΣΣΕΥΣ");
        assert_eq!(k, caseless_key("οδυσσευς"));
        assert_eq!(k, caseless_key("Οδυσσευς"));
        assert_eq!(k, caseless_key("οδυσσευσ"));
        assert!(matches_key("Οδυσσευς", &k));
        assert!(matches_key("οδυσσευσ", &k));
        assert!(same("ΟΔΥΣΣΕΥΣ", "οδυσσευς"));
        assert!(same("ÉMILE", "émile"));
        assert!(same("ẞ", "ß"));
        assert!(is_key("bob") && is_key("οδυσσευσ") && is_key(&k));
        assert!(!is_key("Bob") && !is_key("οδυσσευς") && !is_key("Zoe\u{308}"));
    }

    #[test]
    fn the_key_does_not_merge_what_an_idp_keeps_apart() {
        assert!(!same("straße", "strasse"));
        assert!(!same("\u{fb01}ona", "fiona"));
        assert!(!same("ıl", "il"));
        assert!(!same("bob ", "bob"));
        assert!(!same("bob\u{a0}", "bob"));
        // KELVIN SIGN is canonically equivalent to K, so its key is `kim`'s: that is
        // why [`check`] refuses it before any lookup.
        assert_eq!(caseless_key("\u{212a}im"), "kim");
        assert!(check("\u{212a}im").is_err());
    }

    #[test]
    fn the_key_of_a_non_nfc_text_is_that_of_its_nfc_form() {
        assert_eq!(caseless_key("Zoe\u{308}"), caseless_key("ZO\u{cb}"));
        assert!(matches_key("Zoe\u{308}", &caseless_key("zoë")));
    }

    #[test]
    fn matches_key_agrees_with_caseless_key() {
        for (a, b) in [
            ("bob", "BOB"),
            ("bob", "bobby"),
            ("Ann", "ann"),
            ("Οδυσσευς", "ΟΔΥΣΣΕΥΣ"),
            ("日本", "日本語"),
        ] {
            assert_eq!(
                matches_key(a, &caseless_key(b)),
                caseless_key(a) == caseless_key(b),
                "{a} {b}"
            );
        }
    }
}
