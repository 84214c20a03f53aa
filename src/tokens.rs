//! Named bearer tokens for the SCIM API (and the admin API): issued once, stored hashed.
//!
//! A token reads `scimgate_<id>_<secret>`: `id` is 12 hex digits that find the stored
//! row, `secret` is 256 random bits (base64url). Only the SHA-256 of the secret is kept,
//! and it is compared in constant time. Several tokens may be live at once, so an IdP's
//! token is rotated by adding the new one, switching the IdP over, then revoking the old.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::record::TokenRow;

/// What every token starts with.
pub const PREFIX: &str = "scimgate_";
const ID_LEN: usize = 12;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    /// The SCIM API (`/scim/v2`): an identity provider.
    Scim,
    /// The admin API: manual directory changes.
    Admin,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Scim => "scim",
            TokenScope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scim" => Some(TokenScope::Scim),
            "admin" => Some(TokenScope::Admin),
            _ => None,
        }
    }
}

/// Why a token name is refused.
#[derive(Debug, thiserror::Error)]
#[error("token name {0:?} must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
pub struct BadTokenName(pub String);

/// Checks a token name.
pub fn check_name(name: &str) -> Result<(), BadTokenName> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(BadTokenName(name.to_owned()))
    }
}

fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Makes a new token: the text to show once, and the row to store.
pub fn issue(name: &str, scope: TokenScope, now: i64) -> (String, TokenRow) {
    let mut rng = rand::rng();
    let mut id = [0u8; ID_LEN / 2];
    rng.fill_bytes(&mut id);
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let token = format!("{PREFIX}{id}_{secret}");
    let row = TokenRow {
        name: name.to_owned(),
        token_id: id,
        hash: hash_secret(&secret),
        scope: scope.as_str().to_owned(),
        created: now,
        last_used: None,
    };
    (token, row)
}

/// Splits a presented token into its id and secret, if it has the right shape.
pub fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    if rest.len() <= ID_LEN + 1 || !rest.is_char_boundary(ID_LEN) {
        return None;
    }
    let (id, secret) = rest.split_at(ID_LEN);
    let secret = secret.strip_prefix('_')?;
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((id, secret))
}

/// Whether `secret` is the one whose hash `row` holds (constant time).
pub fn secret_matches(row: &TokenRow, secret: &str) -> bool {
    let presented = hash_secret(secret);
    presented.len() == row.hash.len() && bool::from(presented.ct_eq(&row.hash))
}

/// Days after which `token list` warns that a token is due for rotation.
pub const ROTATION_WARNING_DAYS: i64 = 90;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_token_verifies_and_a_changed_one_does_not() {
        let (token, row) = issue("okta", TokenScope::Scim, 0);
        let (id, secret) = split(&token).unwrap();
        assert_eq!(id, row.token_id);
        assert!(secret_matches(&row, secret));
        let mut wrong = secret.to_owned();
        wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
        assert!(!secret_matches(&row, &wrong));
        // 32 random bytes in base64url without padding.
        assert_eq!(secret.len(), 43);
        assert_ne!(row.hash, secret.as_bytes());
    }

    #[test]
    fn tokens_are_distinct() {
        let (a, _) = issue("a", TokenScope::Scim, 0);
        let (b, _) = issue("a", TokenScope::Scim, 0);
        assert_ne!(a, b);
    }

    #[test]
    fn malformed_tokens_do_not_split() {
        for t in [
            "",
            "scimgate_",
            "scimgate_abc",
            "other_0123456789ab_x",
            "scimgate_0123456789zz_x",
            "scimgate_0123456789ab-x",
        ] {
            assert!(split(t).is_none(), "{t}");
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("okta-prod_2").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
