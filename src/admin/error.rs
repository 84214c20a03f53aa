//! Why a page of `/me` or the admin UI cannot be shown, and its kind in the pages' one
//! error map ([`crate::web::failure`]), which decides the status and renders the page.
//!
//! Browsers get pages (or, without a session, the sign-in redirect); callers that
//! asked for JSON get `{"error": ...}`. The source names the kind: the viewer
//! (401, 403), the request (400, 404, 409), the identity provider that cannot be
//! reached (502, never "not signed in"), scimgate itself (500). Server faults are
//! logged with their cause and shown as a short message that holds none of it.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

use crate::access::AccessError;
use crate::store::StoreError;
use crate::tokens::BadTokenName;
use crate::web::failure::{Failure, FailurePage};
use crate::web::{see_other, url_encode};

/// A page that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No session (or bearer token): sign in, then come back to `return_to`.
    #[error("not signed in")]
    NotSignedIn {
        return_to: String,
        login_enabled: bool,
        wants_json: bool,
    },
    /// Signed in, but not a member of an admin group.
    #[error("this page is for scimgate administrators: members of the groups named in admin.groups; ask one of them, or your identity provider's administrators, to add you")]
    NotAdmin,
    /// The caller's identity names no active directory user.
    #[error("your account is deactivated or not provisioned in scimgate's directory; ask your identity provider's administrators to assign you to this application")]
    NotProvisioned,
    /// The admin UI is not configured (`admin.groups`), or nothing is here.
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    BadTokenName(#[from] BadTokenName),
    #[error("a token named {0:?} already exists")]
    TokenExists(String),
    /// The admin UI on an origin a route also serves (`admin.allow_shared_origin` off).
    #[error("the admin UI is not served on an origin that also serves upstream content (route `{0}`): set admin.origin to a host no route serves, or admin.allow_shared_origin: true")]
    SharedOrigin(String),
    /// A state-changing request without a valid CSRF token or from another origin.
    #[error("the form was refused: {0}; reload the page and try again")]
    Csrf(&'static str),
    /// Presented credentials could not be checked: the identity provider cannot be
    /// reached (which says nothing about the credentials).
    #[error("the identity provider cannot be reached, so your credentials could not be checked; try again in a minute")]
    IdpUnavailable,
    /// Signed in, but an approver of no requestable grant (the Access requests page).
    #[error("this page is for approvers of access requests: members of a group a requestable grant names as approvers")]
    NotApprover,
    /// An access request, vote or revocation the access service refused.
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("the store failed")]
    Store(#[from] StoreError),
    #[error("a background task failed")]
    Task(#[from] tokio::task::JoinError),
}

impl PageError {
    /// The failure's kind in the pages' map ([`crate::web::failure`]), by its source.
    pub fn kind(&self) -> Failure {
        match self {
            PageError::NotSignedIn { .. } => Failure::NotSignedIn,
            PageError::Access(e) => access_kind(e),
            PageError::NotAdmin
            | PageError::NotApprover
            | PageError::NotProvisioned
            | PageError::Csrf(_)
            | PageError::SharedOrigin(_) => Failure::Forbidden,
            PageError::NotFound(_) => Failure::NotFound,
            PageError::BadRequest(_) | PageError::BadTokenName(_) => Failure::BadRequest,
            PageError::TokenExists(_) => Failure::Conflict,
            PageError::IdpUnavailable => Failure::IdpUnavailable,
            PageError::Store(_) | PageError::Task(_) => Failure::Internal,
        }
    }

    /// The status the map gives this failure.
    pub fn status(&self) -> StatusCode {
        self.kind().status()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, source = ?std::error::Error::source(&self), "page failed");
        } else {
            tracing::info!(error = %self, status = status.as_u16(), "page refused");
        }
        if let PageError::NotSignedIn {
            return_to,
            login_enabled,
            wants_json,
        } = &self
        {
            if *wants_json {
                let mut r = (
                    status,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"error":"not signed in"}"#,
                )
                    .into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"scimgate\""),
                );
                return r;
            }
            if *login_enabled {
                let mut r = see_other(&format!("/.scimgate/login?rd={}", url_encode(return_to)));
                *r.status_mut() = StatusCode::FOUND;
                return r;
            }
        }
        let detail = match &self {
            // Never shown: the map says scimgate could not complete the request.
            PageError::Store(_)
            | PageError::Task(_)
            | PageError::Access(AccessError::Store(_) | AccessError::Join) => String::new(),
            PageError::NotSignedIn { .. } => format!(
                "You are not signed in, and browser sign-in is off: this scimgate has no \
                 OpenID provider configured. Its administrator turns it on by setting {}.",
                crate::authn::routes::OIDC_KEYS
            ),
            other => sentence(&other.to_string()),
        };
        self.kind().page(FailurePage {
            title: None,
            message: &detail,
            links: &[("/.scimgate/me", "My access")],
        })
    }
}

/// The kind of a refused access operation: who may not (403), what is not there (404),
/// what is wrong with the form (400), what changed meanwhile (409), too many pending
/// (429, as the API says), the store (500).
fn access_kind(e: &AccessError) -> Failure {
    match e {
        AccessError::NotRequester | AccessError::NotApprover | AccessError::SelfApproval => {
            Failure::Forbidden
        }
        AccessError::NotRequestable | AccessError::NotFound => Failure::NotFound,
        AccessError::TooLong { .. }
        | AccessError::TooShort
        | AccessError::ReasonRequired
        | AccessError::TextTooLong { .. } => Failure::BadRequest,
        AccessError::AlreadyVoted
        | AccessError::NotPending
        | AccessError::NotActive
        | AccessError::Duplicate => Failure::Conflict,
        AccessError::TooMany { .. } => Failure::TooMany,
        AccessError::Store(_) | AccessError::Join => Failure::Internal,
    }
}

/// `text` as a sentence: a capital first letter (unless it starts with a name such as
/// `scimgate`) and a full stop.
fn sentence(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) if !text.starts_with("scimgate") => {
            out.extend(c.to_uppercase());
            out.push_str(chars.as_str());
        }
        _ => out.push_str(text),
    }
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_its_status() {
        let cases: Vec<(PageError, u16)> = vec![
            (PageError::NotAdmin, 403),
            (PageError::NotProvisioned, 403),
            (PageError::Csrf("bad token"), 403),
            (PageError::NotFound("no such user"), 404),
            (PageError::BadRequest("x".into()), 400),
            (PageError::TokenExists("a".into()), 409),
            (PageError::BadTokenName(BadTokenName("a b".into())), 400),
            (PageError::Store(StoreError::Corrupt("x".into())), 500),
            (PageError::IdpUnavailable, 502),
        ];
        for (e, want) in cases {
            assert_eq!(e.into_response().status().as_u16(), want);
        }
    }

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(sentence("the admin UI is off"), "The admin UI is off.");
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence("scimgate failed"), "scimgate failed.");
    }

    #[test]
    fn browsers_without_a_session_are_sent_to_sign_in() {
        let r = PageError::NotSignedIn {
            return_to: "/.scimgate/admin/users?q=a b".into(),
            login_enabled: true,
            wants_json: false,
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(
            r.headers()[header::LOCATION],
            "/.scimgate/login?rd=%2F.scimgate%2Fadmin%2Fusers%3Fq%3Da%20b"
        );
        let r = PageError::NotSignedIn {
            return_to: "/".into(),
            login_enabled: true,
            wants_json: true,
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}
