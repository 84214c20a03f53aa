//! The `identity:` section: how a token's claims map to a directory user.

use serde::Deserialize;

use super::error::{Checker, ConfigError};

/// `identity:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    claim: Option<String>,
    attribute: Option<String>,
    email_verified: Option<String>,
}

/// The directory attribute an identity claim is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityAttribute {
    /// `userName` (case-insensitive).
    UserName,
    /// `externalId`.
    ExternalId,
    /// Any of the user's `emails` (case-insensitive).
    Email,
    /// The SCIM `id`.
    Id,
}

/// How a token's claims map to a directory user.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The claim read from the ID token or bearer JWT (e.g. `preferred_username`, `oid`, `email`).
    pub claim: String,
    pub attribute: IdentityAttribute,
    /// What a claim mapped to `emails` needs of the token's `email_verified` claim.
    pub email_verified: EmailVerification,
}

/// `identity.email_verified`: when the identity claim is matched against `emails`,
/// whether the token must say `email_verified: true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailVerification {
    /// `required` (default): `email_verified` must be present and true.
    #[default]
    Required,
    /// `if_present`: `email_verified: false` is refused; a token without the claim is
    /// accepted (for identity providers that vouch for the address without saying so).
    IfPresent,
}

impl RawIdentity {
    /// Checks the section.
    pub fn validate(self, check: Checker<'_>) -> Result<IdentityConfig, ConfigError> {
        let attribute = match self.attribute.as_deref() {
            None | Some("userName") => IdentityAttribute::UserName,
            Some("externalId") => IdentityAttribute::ExternalId,
            Some("emails") | Some("email") => IdentityAttribute::Email,
            Some("id") => IdentityAttribute::Id,
            Some(other) => {
                return Err(check.invalid(
                    "identity.attribute",
                    format!("{other:?}: expected userName, externalId, emails or id"),
                ))
            }
        };
        let email_verified = match self.email_verified.as_deref() {
            None | Some("required") => EmailVerification::Required,
            Some("if_present") => EmailVerification::IfPresent,
            Some(other) => {
                return Err(check.invalid(
                    "identity.email_verified",
                    format!("{other:?}: expected required or if_present"),
                ))
            }
        };
        Ok(IdentityConfig {
            claim: self
                .claim
                .unwrap_or_else(|| "preferred_username".to_owned()),
            attribute,
            email_verified,
        })
    }
}
