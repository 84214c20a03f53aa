//! [`AuthnError`]: why a caller is not authenticated.
//!
//! The HTTP status of each kind is decided by the map of the surface it reaches, by the
//! kind's source (`gate::error` for proxied requests and forward-auth, the
//! sign-in pages' `error_page`): refused credentials are 401, an identity provider
//! that cannot be reached 502 (never a bad token), scimgate's own failures 500.
//!
//! The messages of the credential kinds are written for the caller and safe to show:
//! they never hold token text, secrets or the IdP's raw answers. Causes worth logging
//! (network errors) are logged where they happen, with the URL but never a credential.

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
    /// Whether the identity provider could not be asked (its keys or its endpoints are
    /// unreachable): the caller's credentials were never judged.
    pub fn is_idp_outage(&self) -> bool {
        matches!(
            self,
            AuthnError::JwksUnavailable | AuthnError::IdpUnavailable
        )
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
