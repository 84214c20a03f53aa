//! A verified token's identity claim ↔ a directory user.
//!
//! The configured claim (e.g. `preferred_username`, `oid`, `email`) is matched against
//! one SCIM attribute: `userName` (case-insensitive), `externalId` (exact), any of the
//! user's e-mails (case-insensitive) or the SCIM `id`. Exactly one user must match, and
//! be active. Groups never come from claims: the caller reads the directory's effective
//! groups of the user returned here.

use std::sync::Arc;

use super::{AuthnError, Claims, Session};
use crate::config::{IdentityAttribute, IdentityConfig};
use crate::directory::{Directory, UserRecord};

/// The active directory user the claims name.
pub fn resolve_user(
    dir: &Directory,
    cfg: &IdentityConfig,
    claims: &Claims,
) -> Result<Arc<UserRecord>, AuthnError> {
    let value = claim_value(cfg, claims).ok_or(AuthnError::UnknownUser)?;
    let user = match cfg.attribute {
        IdentityAttribute::UserName => dir.user_by_name(value),
        IdentityAttribute::Id => dir.user_by_id(value),
        IdentityAttribute::ExternalId => only(dir, dir.users_by_external_id(value)),
        IdentityAttribute::Email => only(dir, dir.users_by_email(value)),
    }
    .ok_or(AuthnError::UnknownUser)?;
    if !user.active {
        return Err(AuthnError::InactiveUser);
    }
    Ok(user)
}

/// The directory user behind a session: it must still exist and be active (read from
/// the directory on every request, so a deprovisioning takes effect at once).
pub fn session_user(dir: &Directory, session: &Session) -> Result<Arc<UserRecord>, AuthnError> {
    let user = dir
        .user_by_id(&session.user_id)
        .ok_or(AuthnError::UnknownUser)?;
    if !user.active {
        return Err(AuthnError::InactiveUser);
    }
    Ok(user)
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
    use crate::store::StoreOp;
    use serde_json::json;

    fn user(ord: u32, name: &str, ext: &str, emails: &[&str], active: bool) -> StoreOp {
        StoreOp::PutUser(Arc::new(UserRecord {
            ord,
            id: Arc::from(format!("id-{ord}")),
            user_name: name.into(),
            external_id: Some(ext.into()),
            active,
            emails: emails.iter().map(|e| Box::from(*e)).collect(),
            license: None,
            user_type: None,
            body: "{}".into(),
            created: 0,
            modified: 0,
            version: 1,
            scim_managed: true,
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
            resolve(&c, json!({"upn": "Ann@Example.com"})).unwrap(),
            "id-0"
        );
        assert_eq!(
            resolve(&c, json!({"email": "ann@example.com"})).unwrap(),
            "id-0"
        );
        assert!(matches!(
            resolve(&c, json!({"email": "team@example.com"})),
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
}
