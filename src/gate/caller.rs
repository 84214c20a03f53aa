//! Who is calling: a bearer JWT (scripts, CI) or a session cookie (browsers), mapped to
//! an active directory user. The directory is read on every request; nothing about the
//! user (active, groups) is cached here.

use std::sync::Arc;

use http::{header, HeaderMap};

use super::ladder::{self, Rung};
use super::Gate;
use crate::authn::error::AuthnError;
use crate::authn::identity::{resolve_user, session_user};
use crate::authn::jwt::{bearer_token, JwtVerifier};
use crate::authn::session::{Session, Sessions, SignIn};
use crate::authn::step_up::sign_in_of;
use crate::config::IdentityConfig;
use crate::directory::Directory;
use crate::record::UserRecord;

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Bearer,
    Session,
}

/// An authenticated caller who is an active directory user.
pub struct Caller {
    pub user: Arc<UserRecord>,
    pub via: Via,
    /// What the ID token or bearer token said about the authentication (`auth_time`,
    /// `acr`); `None` for a session whose sign-in this replica did not see.
    pub sign_in: Option<SignIn>,
    /// The session's cookie token and state, for a session caller.
    pub session: Option<(String, Session)>,
}

/// Why no caller could be established.
pub enum NoCaller {
    /// Nothing was presented.
    Anonymous,
    /// Credentials were presented and refused.
    Refused(AuthnError),
    /// The identity is fine but names no active directory user.
    NotProvisioned,
}

/// Whether the request looks like a browser navigation (it gets pages and redirects).
pub fn is_browser(headers: &HeaderMap) -> bool {
    !headers.contains_key(header::AUTHORIZATION)
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

/// What authenticating a caller reads: the gate and the pages share one.
pub struct Callers {
    dir: Arc<Directory>,
    sessions: Arc<Sessions>,
    jwt: Option<Arc<JwtVerifier>>,
    identity: IdentityConfig,
    /// Whether the listener speaks TLS (which session cookie to read).
    tls: bool,
}

impl Callers {
    /// Callers mapped to `dir`'s users, by bearer token (when `jwt` is configured) or
    /// by session.
    pub fn new(
        dir: Arc<Directory>,
        sessions: Arc<Sessions>,
        jwt: Option<Arc<JwtVerifier>>,
        identity: IdentityConfig,
        tls: bool,
    ) -> Self {
        Callers {
            dir,
            sessions,
            jwt,
            identity,
            tls,
        }
    }

    /// Authenticates the request: a bearer token when one is sent, else the session.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, NoCaller> {
        if let Some(token) = bearer_token(headers) {
            let Some(jwt) = &self.jwt else {
                return Err(NoCaller::Refused(AuthnError::BadToken(
                    "bearer tokens are not configured",
                )));
            };
            let claims = jwt.verify(token).await.map_err(NoCaller::Refused)?;
            if !ladder::reaches(Rung::Directory) {
                return Ok(Caller {
                    user: ladder::stand_in(),
                    via: Via::Bearer,
                    sign_in: None,
                    session: None,
                });
            }
            return match resolve_user(&self.dir, &self.identity, &claims) {
                Ok(user) => Ok(Caller {
                    user,
                    via: Via::Bearer,
                    sign_in: Some(sign_in_of(&claims)),
                    session: None,
                }),
                Err(AuthnError::UnknownUser) | Err(AuthnError::InactiveUser) => {
                    Err(NoCaller::NotProvisioned)
                }
                Err(e) => Err(NoCaller::Refused(e)),
            };
        }
        let Some(token) = self.sessions.token_from(headers, self.tls) else {
            return Err(NoCaller::Anonymous);
        };
        // An unknown or expired session is as good as none: sign in again.
        let session = self
            .sessions
            .lookup_shared(&token)
            .await
            .ok_or(NoCaller::Anonymous)?;
        match session_user(&self.dir, &session) {
            Ok(user) => Ok(Caller {
                user,
                via: Via::Session,
                sign_in: session.sign_in.clone(),
                session: Some((token, session)),
            }),
            Err(_) => {
                // Deactivated or deleted since sign-in: the fan-out normally ended the
                // session already; make sure.
                self.sessions.end_user(&session.user_id);
                Err(NoCaller::Anonymous)
            }
        }
    }
}

impl Gate {
    /// Authenticates the request ([`Callers::authenticate`]).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, NoCaller> {
        self.callers.authenticate(headers).await
    }
}
