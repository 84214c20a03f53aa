//! A verified token's identity claim ↔ a directory user.
//!
//! The configured claim (e.g. `preferred_username`, `oid`, `email`) is matched against
//! one SCIM attribute: `userName` (by caseless key), `externalId` (exact), any of the
//! user's e-mails (by caseless key) or the SCIM `id`. The claim must follow the
//! identifier rules of [`crate::ident`] (no edge white space, controls, format
//! characters, text outside NFC, compatibility characters): one that does not is
//! refused, never mapped to a lookalike. A claim matched against e-mails also needs the
//! token's `email_verified` to be true (`identity.email_verified`). Exactly one user
//! must match, be active, and have a userName that follows the rules (a name stored
//! before them could be trimmed into another user's by an upstream). Groups never come
//! from claims: the caller reads the directory's effective groups of the user returned
//! here.

use std::sync::Arc;

use serde_json::Value;

use super::{AuthnError, Claims, Session};
use crate::config::{EmailVerification, IdentityAttribute, IdentityConfig};
use crate::directory::Directory;
use crate::record::UserRecord;

/// The active directory user the claims name.
pub fn resolve_user(
    dir: &Directory,
    cfg: &IdentityConfig,
    claims: &Claims,
) -> Result<Arc<UserRecord>, AuthnError> {
    let value = claim_value(cfg, claims).ok_or(AuthnError::UnknownUser)?;
    crate::ident::check(value).map_err(AuthnError::BadIdentity)?;
    if cfg.attribute == IdentityAttribute::Email {
        check_email_verified(cfg.email_verified, claims)?;
    }
    let user = match cfg.attribute {
        IdentityAttribute::UserName => dir.user_by_name(value),
        IdentityAttribute::Id => dir.user_by_id(value),
        IdentityAttribute::ExternalId => only(dir, dir.users_by_external_id(value)),
        IdentityAttribute::Email => only(dir, dir.users_by_email(value)),
    }
    .ok_or(AuthnError::UnknownUser)?;
    usable(user)
}

/// The directory user behind a session: it must still exist and be active (read from
/// the directory on every request, so a deprovisioning takes effect at once).
pub fn session_user(dir: &Directory, session: &Session) -> Result<Arc<UserRecord>, AuthnError> {
    let user = dir
        .user_by_id(&session.user_id)
        .ok_or(AuthnError::UnknownUser)?;
    usable(user)
}

/// The user, if active and named by the rules (the name goes upstream as it is).
fn usable(user: Arc<UserRecord>) -> Result<Arc<UserRecord>, AuthnError> {
    if !user.active {
        return Err(AuthnError::InactiveUser);
    }
    if let Err(e) = crate::ident::check(&user.user_name) {
        tracing::warn!(id = %user.id, reason = %e, "refused a user whose stored userName breaks the identifier rules; rename it in the identity provider");
        return Err(AuthnError::InactiveUser);
    }
    Ok(user)
}

/// `email_verified` must be `true` (or the string `"true"`, as some IdPs send it);
/// absent is accepted only under `identity.email_verified: if_present`.
fn check_email_verified(mode: EmailVerification, claims: &Claims) -> Result<(), AuthnError> {
    match claims.map.get("email_verified") {
        Some(Value::Bool(true)) => Ok(()),
        Some(Value::String(s)) if s == "true" => Ok(()),
        None if mode == EmailVerification::IfPresent => Ok(()),
        _ => Err(AuthnError::EmailNotVerified),
    }
}

/// The identity claim's string value; for e-mail matching, `email` stands in when the
/// configured claim is absent.
pub fn claim_value<'c>(cfg: &IdentityConfig, claims: &'c Claims) -> Option<&'c str> {
    let value = claims.get_str(&cfg.claim).or_else(|| {
        (cfg.attribute == IdentityAttribute::Email)
            .then(|| claims.get_str("email"))
            .flatten()
    })?;
    (!value.is_empty()).then_some(value)
}

fn only(dir: &Directory, ords: Vec<u32>) -> Option<Arc<UserRecord>> {
    match ords.as_slice() {
        [ord] => dir.user(*ord),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::StoreOp;
    use serde_json::json;

    fn user(ord: u32, name: &str, ext: &str, emails: &[&str], active: bool) -> StoreOp {
        StoreOp::PutUser(Arc::new(UserRecord {
            external_id: Some(ext.into()),
            active,
            emails: emails.iter().map(|e| Box::from(*e)).collect(),
            scim_managed: true,
            ..UserRecord::new(ord, format!("id-{ord}"), name)
        }))
    }

    /// ann (active), bob (inactive), two users sharing an externalId and an e-mail.
    fn directory() -> Directory {
        let d = Directory::default();
        d.apply(
            &[
                user(0, "Ann", "ext-ann", &["ann@example.com"], true),
                user(1, "bob", "ext-bob", &["bob@example.com"], false),
                user(2, "cy", "shared", &["team@example.com"], true),
                user(3, "di", "shared", &["team@example.com"], true),
            ],
            1,
        );
        d
    }

    fn cfg(claim: &str, attribute: IdentityAttribute) -> IdentityConfig {
        IdentityConfig {
            claim: claim.into(),
            attribute,
            email_verified: EmailVerification::Required,
        }
    }

    fn claims(v: serde_json::Value) -> Claims {
        let serde_json::Value::Object(mut map) = v else {
            unreachable!()
        };
        map.insert("exp".into(), json!(1));
        Claims::from_map(map).unwrap()
    }

    fn resolve(c: &IdentityConfig, v: serde_json::Value) -> Result<String, AuthnError> {
        resolve_user(&directory(), c, &claims(v)).map(|u| u.id.to_string())
    }

    #[test]
    fn user_name_matches_case_insensitively() {
        let c = cfg("preferred_username", IdentityAttribute::UserName);
        assert_eq!(
            resolve(&c, json!({"preferred_username": "ANN"})).unwrap(),
            "id-0"
        );
        assert!(matches!(
            resolve(&c, json!({"preferred_username": "nobody"})),
            Err(AuthnError::UnknownUser)
        ));
        assert!(matches!(
            resolve(&c, json!({"sub": "ann"})),
            Err(AuthnError::UnknownUser)
        ));
        assert!(matches!(
            resolve(&c, json!({"preferred_username": 7})),
            Err(AuthnError::UnknownUser)
        ));
    }

    #[test]
    fn external_id_matches_exactly_and_uniquely() {
        let c = cfg("oid", IdentityAttribute::ExternalId);
        assert_eq!(resolve(&c, json!({"oid": "ext-ann"})).unwrap(), "id-0");
        assert!(matches!(
            resolve(&c, json!({"oid": "EXT-ANN"})),
            Err(AuthnError::UnknownUser)
        ));
        assert!(matches!(
            resolve(&c, json!({"oid": "shared"})),
            Err(AuthnError::UnknownUser)
        ));
    }

    #[test]
    fn email_matches_case_insensitively_with_email_as_fallback_claim() {
        let c = cfg("upn", IdentityAttribute::Email);
        assert_eq!(
            resolve(
                &c,
                json!({"upn": "Ann@Example.com", "email_verified": true})
            )
            .unwrap(),
            "id-0"
        );
        assert_eq!(
            resolve(
                &c,
                json!({"email": "ann@example.com", "email_verified": true})
            )
            .unwrap(),
            "id-0"
        );
        assert!(matches!(
            resolve(
                &c,
                json!({"email": "team@example.com", "email_verified": true})
            ),
            Err(AuthnError::UnknownUser)
        ));
    }

    #[test]
    fn id_matches_the_scim_id() {
        let c = cfg("sub", IdentityAttribute::Id);
        assert_eq!(resolve(&c, json!({"sub": "id-2"})).unwrap(), "id-2");
        assert!(matches!(
            resolve(&c, json!({"sub": "ID-2"})),
            Err(AuthnError::UnknownUser)
        ));
    }

    #[test]
    fn a_session_names_a_live_user() {
        let d = directory();
        let session = |id: &str| Session {
            user_id: Arc::from(id),
            expires_ms: 1,
            created_ms: 0,
            ..Default::default()
        };
        assert_eq!(
            &*session_user(&d, &session("id-0")).unwrap().user_name,
            "Ann"
        );
        assert!(matches!(
            session_user(&d, &session("id-1")),
            Err(AuthnError::InactiveUser)
        ));
        assert!(matches!(
            session_user(&d, &session("id-9")),
            Err(AuthnError::UnknownUser)
        ));
    }

    #[test]
    fn an_inactive_user_is_refused() {
        let c = cfg("preferred_username", IdentityAttribute::UserName);
        assert!(matches!(
            resolve(&c, json!({"preferred_username": "bob"})),
            Err(AuthnError::InactiveUser)
        ));
    }

    #[test]
    fn a_claim_that_breaks_the_identifier_rules_is_refused_not_mapped() {
        let c = cfg("preferred_username", IdentityAttribute::UserName);
        for v in ["ann ", " ann", "ann\u{a0}", "\u{212a}im", "an\u{200b}n"] {
            assert!(
                matches!(
                    resolve(&c, json!({ "preferred_username": v })),
                    Err(AuthnError::BadIdentity(_))
                ),
                "{v:?}"
            );
        }
        let c = cfg("upn", IdentityAttribute::Email);
        assert!(matches!(
            resolve(
                &c,
                json!({"upn": "ann@example.com ", "email_verified": true})
            ),
            Err(AuthnError::BadIdentity(_))
        ));
    }

    #[test]
    fn an_email_mapping_needs_a_verified_email() {
        let mut c = cfg("email", IdentityAttribute::Email);
        for v in [json!(false), json!("false"), json!(1), json!(null)] {
            assert!(matches!(
                resolve(&c, json!({"email": "ann@example.com", "email_verified": v})),
                Err(AuthnError::EmailNotVerified)
            ));
        }
        assert!(matches!(
            resolve(&c, json!({"email": "ann@example.com"})),
            Err(AuthnError::EmailNotVerified)
        ));
        assert_eq!(
            resolve(
                &c,
                json!({"email": "ann@example.com", "email_verified": "true"})
            )
            .unwrap(),
            "id-0"
        );
        c.email_verified = EmailVerification::IfPresent;
        assert_eq!(
            resolve(&c, json!({"email": "ann@example.com"})).unwrap(),
            "id-0"
        );
        assert!(matches!(
            resolve(
                &c,
                json!({"email": "ann@example.com", "email_verified": false})
            ),
            Err(AuthnError::EmailNotVerified)
        ));
        // Other attributes do not look at email_verified.
        let c = cfg("preferred_username", IdentityAttribute::UserName);
        assert_eq!(
            resolve(
                &c,
                json!({"preferred_username": "ann", "email_verified": false})
            )
            .unwrap(),
            "id-0"
        );
    }

    #[test]
    fn a_stored_user_name_that_breaks_the_rules_cannot_sign_in() {
        let d = Directory::default();
        d.apply(&[user(0, "bob ", "ext-bob", &["bob@example.com"], true)], 1);
        let c = cfg("oid", IdentityAttribute::ExternalId);
        assert!(matches!(
            resolve_user(&d, &c, &claims(json!({"oid": "ext-bob"}))),
            Err(AuthnError::InactiveUser)
        ));
        let session = Session {
            user_id: Arc::from("id-0"),
            expires_ms: 1,
            created_ms: 0,
            ..Default::default()
        };
        assert!(matches!(
            session_user(&d, &session),
            Err(AuthnError::InactiveUser)
        ));
    }

    #[test]
    fn user_names_match_by_caseless_key() {
        let d = Directory::default();
        d.apply(&[user(0, "Οδυσσευς", "x", &["o@example.com"], true)], 1);
        let c = cfg("preferred_username", IdentityAttribute::UserName);
        for v in ["ΟΔΥΣΣΕΥΣ", "οδυσσευσ", "Οδυσσευς"] {
            assert_eq!(
                resolve_user(&d, &c, &claims(json!({ "preferred_username": v })))
                    .unwrap()
                    .id
                    .as_ref(),
                "id-0",
                "{v}"
            );
        }
    }
}
