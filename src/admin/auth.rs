//! Who is looking at a page, whether they are an admin, and CSRF protection.
//!
//! - [`AdminState::viewer`]: the signed-in directory user (session cookie; a bearer
//!   JWT where the page allows it), read from the live directory on every request.
//! - [`AdminState::admin`]: the viewer must be in one of `admin.groups` (directly or
//!   through nesting) *now*: a removed admin loses the UI on their next request.
//! - [`AdminState::check_form`]: a state-changing POST must come from a session, carry
//!   that session's CSRF token (SHA-256 of a fixed label and the session token: tied
//!   to the session, useless without the HttpOnly cookie, the same on every replica;
//!   compared in constant time), and come from scimgate's own origin (`Origin`, else
//!   `Referer`).

use std::sync::Arc;

use http::{header, HeaderMap, Uri};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::PageError;
use super::layout::Nav;
use super::AdminState;
use crate::directory::UserRecord;
use crate::gate::caller::{NoCaller, Via};

/// The person looking at a page.
pub struct Viewer {
    pub user: Arc<UserRecord>,
    /// The session's CSRF token; `None` for a bearer caller (who cannot post forms).
    pub csrf: Option<String>,
    /// The session token (to end it on sign-out).
    pub(crate) session: Option<String>,
    pub is_admin: bool,
}

impl Viewer {
    /// The top bar of this viewer's pages.
    pub fn nav(&self) -> Nav<'_> {
        Nav {
            user_name: &self.user.user_name,
            is_admin: self.is_admin,
            csrf: self.csrf.as_deref(),
        }
    }
}

/// The CSRF token of a session.
pub fn csrf_token(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"scimgate-csrf-v1\0");
    h.update(session_token.as_bytes());
    hex::encode(h.finalize())
}

/// Whether the request asked for JSON rather than a page.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

impl AdminState {
    /// The signed-in viewer. `allow_bearer`: a bearer JWT caller is accepted too.
    pub async fn viewer(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        allow_bearer: bool,
    ) -> Result<Viewer, PageError> {
        let not_signed_in = || PageError::NotSignedIn {
            return_to: uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".to_owned()),
            login_enabled: self.gate.login_enabled,
            wants_json: wants_json(headers),
        };
        if !allow_bearer && headers.contains_key(header::AUTHORIZATION) {
            return Err(not_signed_in());
        }
        let caller = match self.gate.authenticate(headers).await {
            Ok(c) => c,
            Err(NoCaller::Anonymous) | Err(NoCaller::Refused(_)) => return Err(not_signed_in()),
            Err(NoCaller::NotProvisioned) => return Err(PageError::NotProvisioned),
        };
        let session = match caller.via {
            Via::Session => self.gate.sessions.token_from(headers, self.gate.tls),
            Via::Bearer => None,
        };
        Ok(Viewer {
            is_admin: self.is_admin(&caller.user),
            csrf: session.as_deref().map(csrf_token),
            session,
            user: caller.user,
        })
    }

    /// The viewer, who must be an admin with a browser session.
    pub async fn admin(&self, headers: &HeaderMap, uri: &Uri) -> Result<Viewer, PageError> {
        if !self.config.enabled() {
            return Err(PageError::NotFound("the admin UI is not configured"));
        }
        let viewer = self.viewer(headers, uri, false).await?;
        if !viewer.is_admin {
            return Err(PageError::NotAdmin);
        }
        Ok(viewer)
    }

    /// Whether `user` is, right now, in one of the admin groups.
    pub fn is_admin(&self, user: &UserRecord) -> bool {
        if !self.config.enabled() || !user.active {
            return false;
        }
        let dir = &self.gate.dir;
        let groups = dir.effective_groups(user.ord);
        self.config.groups.iter().any(|name| {
            dir.group_ord_by_lower_name(&crate::directory::name_key(name))
                .is_some_and(|ord| groups.binary_search(&ord).is_ok())
        })
    }

    /// Checks a state-changing form: session, CSRF token, origin.
    pub fn check_form(
        &self,
        viewer: &Viewer,
        headers: &HeaderMap,
        presented: &str,
    ) -> Result<(), PageError> {
        let Some(expected) = viewer.csrf.as_deref() else {
            return Err(PageError::Csrf("forms need a browser session"));
        };
        let same = expected.len() == presented.len()
            && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()));
        if !same {
            return Err(PageError::Csrf(
                "the form's token does not match this session",
            ));
        }
        self.check_origin(headers)
    }

    /// The request must come from scimgate's own origin.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), PageError> {
        let Some(own) = self.own_origin(headers) else {
            return Err(PageError::Csrf("the request's Host is missing"));
        };
        let header_str = |name| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(origin) = header_str(header::ORIGIN) {
            return if origin.eq_ignore_ascii_case(&own) {
                Ok(())
            } else {
                Err(PageError::Csrf("it came from another origin"))
            };
        }
        if let Some(referer) = header_str(header::REFERER) {
            let same = referer.len() > own.len()
                && referer[..own.len()].eq_ignore_ascii_case(&own)
                && referer.as_bytes()[own.len()] == b'/';
            return if same {
                Ok(())
            } else {
                Err(PageError::Csrf("it came from another origin"))
            };
        }
        Err(PageError::Csrf("it carries neither Origin nor Referer"))
    }

    /// `https://gate.example.com`: the configured public URL, else from the Host.
    fn own_origin(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(url) = &self.public_url {
            let url = url.trim_end_matches('/');
            // Only scheme://authority: a public URL may carry a path.
            let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
            let end = url[after_scheme..]
                .find('/')
                .map(|i| i + after_scheme)
                .unwrap_or(url.len());
            return Some(url[..end].to_owned());
        }
        let host = headers.get(header::HOST)?.to_str().ok()?;
        let scheme = if self.gate.tls { "https" } else { "http" };
        Some(format!("{scheme}://{host}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_per_session_and_not_the_session() {
        let a = csrf_token("session-a");
        assert_eq!(a, csrf_token("session-a"));
        assert_ne!(a, csrf_token("session-b"));
        assert!(!a.contains("session-a"));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn json_is_wanted_only_when_asked_for_without_html() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h));
        h.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(wants_json(&h));
        h.insert(
            header::ACCEPT,
            "text/html,application/json;q=0.9".parse().unwrap(),
        );
        assert!(!wants_json(&h));
    }
}
