//! Who is looking at a page, whether they are an admin, and CSRF protection.
//!
//! - [`AdminState::viewer`]: the signed-in directory user (session cookie; a bearer
//!   JWT where the page allows it), read from the live directory on every request.
//! - [`AdminState::admin`]: the viewer must be in one of `admin.groups` (directly or
//!   through nesting) *now*: a removed admin loses the UI on their next request.
//! - [`AdminState::check_admin_origin`]: the admin UI answers only on the admin origin
//!   (`admin.origin`, else `public_url`'s; elsewhere 404), and not on an origin a route
//!   also serves unless `admin.allow_shared_origin` (403 naming the route): a script on
//!   an upstream's page must not be same-origin with the admin UI.
//! - [`AdminState::check_form`]: a state-changing POST must come from a session, carry
//!   that session's CSRF token (SHA-256 of a fixed label and the session token: tied
//!   to the session, useless without the HttpOnly cookie, the same on every replica;
//!   compared in constant time), and come from the admin origin (`Origin`, else
//!   `Referer`). Sign-out and access requests are checked against the request's own
//!   origin instead ([`AdminState::check_same_origin_form`]): `/me` and the 403 page
//!   answer on every origin.

use std::sync::Arc;

use http::{header, HeaderMap, Uri};
use subtle::ConstantTimeEq;

use super::error::PageError;
use super::layout::Nav;
use super::AdminState;
use crate::authn::error::AuthnError;
use crate::config::origin::host_is_origin;
use crate::gate::caller::{NoCaller, Via};
use crate::record::UserRecord;

/// The person looking at a page.
pub struct Viewer {
    pub user: Arc<UserRecord>,
    /// The session's CSRF token; `None` for a bearer caller (who cannot post forms).
    pub csrf: Option<String>,
    /// The session token (to end it on sign-out).
    pub(crate) session: Option<String>,
    pub is_admin: bool,
    /// Whether they may approve some requestable grant of the live policy (the Access
    /// requests page is theirs, admin or not).
    pub may_approve: bool,
    /// Where the admin UI's links point: the admin origin, or `""` (this origin).
    pub admin_base: String,
}

impl Viewer {
    /// The top bar of this viewer's pages.
    pub fn nav(&self) -> Nav<'_> {
        Nav {
            user_name: &self.user.user_name,
            is_admin: self.is_admin,
            may_approve: self.may_approve,
            csrf: self.csrf.as_deref(),
            admin_base: &self.admin_base,
        }
    }
}

pub use crate::web::csrf_token;

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
            login_enabled: self.live.login_enabled,
            wants_json: wants_json(headers),
        };
        if !allow_bearer && headers.contains_key(header::AUTHORIZATION) {
            return Err(not_signed_in());
        }
        let caller = match self.live.callers.authenticate(headers).await {
            Ok(c) => c,
            // An unreachable identity provider is not a bad token: say so, not "sign in".
            Err(NoCaller::Refused(e)) if e.is_idp_outage() => {
                return Err(PageError::IdpUnavailable)
            }
            Err(NoCaller::Refused(AuthnError::Store(e))) => return Err(PageError::Store(e)),
            Err(NoCaller::Refused(AuthnError::Task(e))) => return Err(PageError::Task(e)),
            Err(NoCaller::Anonymous) | Err(NoCaller::Refused(_)) => return Err(not_signed_in()),
            Err(NoCaller::NotProvisioned) => return Err(PageError::NotProvisioned),
        };
        let session = match caller.via {
            Via::Session => self.live.sessions.token_from(headers, self.live.tls),
            Via::Bearer => None,
        };
        Ok(Viewer {
            is_admin: self.is_admin(&caller.user),
            may_approve: self.may_approve(&caller.user),
            admin_base: self.admin_base(headers),
            csrf: session.as_deref().map(csrf_token),
            session,
            user: caller.user,
        })
    }

    /// The admin links' prefix: `""` on the admin origin (or when any origin is), else
    /// the admin origin.
    fn admin_base(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match &self.admin_origin {
            Some(origin) if !host_is_origin(host, origin) => origin.clone(),
            _ => String::new(),
        }
    }

    /// The viewer, who must be an admin with a browser session, on the admin origin.
    pub async fn admin(&self, headers: &HeaderMap, uri: &Uri) -> Result<Viewer, PageError> {
        if !self.config.enabled() {
            return Err(PageError::NotFound(
                "the admin UI is off: set admin.groups in scimgate's configuration to the \
                 directory groups whose members administer it (for example \
                 admin: { groups: [scimgate-admins] })",
            ));
        }
        self.check_admin_origin(headers)?;
        let viewer = self.viewer(headers, uri, false).await?;
        if !viewer.is_admin {
            return Err(PageError::NotAdmin);
        }
        Ok(viewer)
    }

    /// Whether `user` may, right now, approve some requestable grant of the live policy.
    pub fn may_approve(&self, user: &Arc<UserRecord>) -> bool {
        let subject = crate::policy::DirectorySubject::new(&self.live.dir, user.clone());
        self.live
            .policy
            .current()
            .routes()
            .iter()
            .flat_map(|r| r.requestable())
            .any(|q| q.may_approve(&subject))
    }

    /// Whether `user` is, right now, in one of the admin groups.
    pub fn is_admin(&self, user: &UserRecord) -> bool {
        if !self.config.enabled() || !user.active {
            return false;
        }
        let dir = &self.live.dir;
        let groups = dir.effective_groups(user.ord);
        self.config.groups.iter().any(|name| {
            dir.group_ord_by_lower_name(&crate::record::name_key(name))
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

    /// The request must come from the admin origin.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), PageError> {
        let Some(own) = self.own_origin(headers) else {
            return Err(PageError::Csrf("the request's Host is missing"));
        };
        crate::authn::origin::check_from(headers, &own).map_err(origin_refusal)
    }

    /// A form of `/me` or the 403 page (sign-out, an access request): the session's
    /// CSRF token, from the request's own origin (those pages are on every origin
    /// scimgate serves).
    pub fn check_same_origin_form(
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
        let secure = self.live.sessions.secure(self.live.tls);
        crate::authn::origin::check_same_origin(headers, secure).map_err(origin_refusal)
    }

    /// The admin UI answers only on the admin origin, and not on one a route serves
    /// (unless `admin.allow_shared_origin`).
    pub fn check_admin_origin(&self, headers: &HeaderMap) -> Result<(), PageError> {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or("");
        if let Some(origin) = &self.admin_origin {
            if !host_is_origin(host, origin) {
                return Err(PageError::NotFound(
                    "the admin UI is served on the admin origin only",
                ));
            }
        } else if host.is_empty() {
            return Err(PageError::NotFound("the request's Host is missing"));
        }
        if self.config.allow_shared_origin {
            return Ok(());
        }
        let routes = self.live.policy.current();
        match routes
            .routes()
            .iter()
            .find(|r| r.host_pattern().matches(host))
        {
            Some(route) => Err(PageError::SharedOrigin(route.name.to_string())),
            None => Ok(()),
        }
    }

    /// `https://admin.example.com`: the admin origin, else from the Host.
    fn own_origin(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(origin) = &self.admin_origin {
            return Some(origin.clone());
        }
        let host = headers.get(header::HOST)?.to_str().ok()?;
        let scheme = if self.live.sessions.secure(self.live.tls) {
            "https"
        } else {
            "http"
        };
        Some(format!("{scheme}://{host}"))
    }
}

fn origin_refusal(e: crate::authn::origin::OriginError) -> PageError {
    use crate::authn::origin::OriginError;
    PageError::Csrf(match e {
        OriginError::NoHost => "the request's Host is missing",
        OriginError::Foreign => "it came from another origin",
        OriginError::Unknown => "it carries neither Origin nor Referer",
    })
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
