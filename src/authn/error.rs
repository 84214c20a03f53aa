//! [`AuthnError`]: why a caller is not authenticated, and the HTTP status it earns.
//!
//! Every message is safe to show a client: it never holds token text, secrets or the
//! IdP's raw answers. Causes worth logging (network errors) are logged where they
//! happen, with the URL but never a credential.

use http::StatusCode;

use crate::store::StoreError;

/// Why authentication failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthnError {
    #[error("no credentials were presented")]
    MissingCredentials,
    #[error("the token is not valid: {0}")]
    BadToken(&'static str),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    #[error("the token's audience is not accepted")]
    WrongAudience,
    #[error("the token's signing algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("the token's signing key is not known")]
    UnknownKey,
    #[error("the identity provider's signing keys cannot be fetched")]
    JwksUnavailable,
    #[error("the identity provider cannot be reached")]
    IdpUnavailable,
    #[error("your account is not provisioned in scimgate's directory")]
    UnknownUser,
    #[error("the token's identity claim is refused: it {0}")]
    BadIdentity(crate::ident::IdentError),
    #[error("the token's e-mail address is not verified (email_verified is not true)")]
    EmailNotVerified,
    #[error("your account is deactivated in scimgate's directory")]
    InactiveUser,
    #[error("sign-in failed: {0}")]
    LoginFailed(&'static str),
    #[error("the session store failed")]
    Store(#[from] StoreError),
    #[error("a background task failed")]
    Task(#[from] tokio::task::JoinError),
}

impl AuthnError {
    /// The HTTP status this failure earns: 401 for credential problems, 403 for a
    /// caller who authenticated but is not (or no longer) a directory user, 502 when the
    /// IdP cannot be reached, 500 for our own failures.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthnError::MissingCredentials
            | AuthnError::BadToken(_)
            | AuthnError::Expired
            | AuthnError::NotYetValid
            | AuthnError::WrongIssuer
            | AuthnError::WrongAudience
            | AuthnError::AlgorithmNotAllowed
            | AuthnError::UnknownKey
            | AuthnError::BadIdentity(_)
            | AuthnError::EmailNotVerified
            | AuthnError::LoginFailed(_) => StatusCode::UNAUTHORIZED,
            AuthnError::UnknownUser | AuthnError::InactiveUser => StatusCode::FORBIDDEN,
            AuthnError::JwksUnavailable | AuthnError::IdpUnavailable => StatusCode::BAD_GATEWAY,
            AuthnError::Store(_) | AuthnError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short stable code for logs, audit records and `WWW-Authenticate` descriptions.
    pub fn code(&self) -> &'static str {
        match self {
            AuthnError::MissingCredentials => "missing_credentials",
            AuthnError::BadToken(_) => "bad_token",
            AuthnError::Expired => "expired",
            AuthnError::NotYetValid => "not_yet_valid",
            AuthnError::WrongIssuer => "wrong_issuer",
            AuthnError::WrongAudience => "wrong_audience",
            AuthnError::AlgorithmNotAllowed => "algorithm_not_allowed",
            AuthnError::UnknownKey => "unknown_key",
            AuthnError::JwksUnavailable => "jwks_unavailable",
            AuthnError::IdpUnavailable => "idp_unavailable",
            AuthnError::UnknownUser => "unknown_user",
            AuthnError::BadIdentity(_) => "bad_identity",
            AuthnError::EmailNotVerified => "email_not_verified",
            AuthnError::InactiveUser => "inactive_user",
            AuthnError::LoginFailed(_) => "login_failed",
            AuthnError::Store(_) => "store",
            AuthnError::Task(_) => "task",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_by_kind() {
        for e in [
            AuthnError::MissingCredentials,
            AuthnError::BadToken("x"),
            AuthnError::Expired,
            AuthnError::NotYetValid,
            AuthnError::WrongIssuer,
            AuthnError::WrongAudience,
            AuthnError::AlgorithmNotAllowed,
            AuthnError::UnknownKey,
            AuthnError::LoginFailed("x"),
        ] {
            assert_eq!(e.status(), StatusCode::UNAUTHORIZED, "{e}");
        }
        assert_eq!(AuthnError::UnknownUser.status(), StatusCode::FORBIDDEN);
        assert_eq!(AuthnError::InactiveUser.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            AuthnError::JwksUnavailable.status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(AuthnError::IdpUnavailable.status(), StatusCode::BAD_GATEWAY);
        let store = AuthnError::Store(StoreError::Corrupt("x".into()));
        assert_eq!(store.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(store.code(), "store");
    }
}
