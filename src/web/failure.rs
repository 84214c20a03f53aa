//! The pages surface's one error map. A failure on any page scimgate renders for a person
//! (the sign-in routes, `/me`, the admin UI) is answered here. The module that meets the
//! failure names its kind from where it came from: credentials refused, a person the page
//! is not for, a bad request, the identity provider, scimgate itself. The kind alone
//! decides the status. A [`Failure::Internal`] never shows its message: the cause is
//! for the log, which the caller writes with the request's span.
//!
//! The proxied-request surface has its own map (`gate::error`), and so does the SCIM
//! surface (`scim::error`).

use axum::response::Response;
use http::StatusCode;

use super::{html, links, message_page};

/// What kind of failure a page answers, by its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No one is signed in, and the page cannot send them to sign in.
    NotSignedIn,
    /// Credentials were presented and refused.
    Refused,
    /// A signed-in person this page is not for (not an administrator, deactivated, not
    /// provisioned), or a form that failed its CSRF or origin check.
    Forbidden,
    /// Nothing is here, or the feature is not configured.
    NotFound,
    /// The request itself is wrong (a bad form field, a bad Host).
    BadRequest,
    /// The request conflicts with what exists (a token name in use).
    Conflict,
    /// The person has asked for too much at once (pending access requests).
    TooMany,
    /// The identity provider cannot be reached: it says nothing about the person's
    /// credentials.
    IdpUnavailable,
    /// scimgate's own failure (the store, a task).
    Internal,
}

/// What a failure's page says, besides its kind.
#[derive(Debug, Clone, Copy)]
pub struct FailurePage<'a> {
    /// The heading, or `None` for the status's own reason phrase.
    pub title: Option<&'a str>,
    /// What the person reads: a public message written for them (never an error's
    /// internal `Display`). Not shown for [`Failure::Internal`].
    pub message: &'a str,
    /// Links under the message (`href`, label).
    pub links: &'a [(&'a str, &'a str)],
}

/// What an [`Failure::Internal`] page says instead of its message.
pub const INTERNAL_MESSAGE: &str = "scimgate could not complete this request.";

impl Failure {
    /// The status of every page of this kind.
    pub fn status(self) -> StatusCode {
        match self {
            Failure::NotSignedIn | Failure::Refused => StatusCode::UNAUTHORIZED,
            Failure::Forbidden => StatusCode::FORBIDDEN,
            Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::BadRequest => StatusCode::BAD_REQUEST,
            Failure::Conflict => StatusCode::CONFLICT,
            Failure::TooMany => StatusCode::TOO_MANY_REQUESTS,
            Failure::IdpUnavailable => StatusCode::BAD_GATEWAY,
            Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The page: in the one shell, under the one set of page headers.
    pub fn page(self, page: FailurePage<'_>) -> Response {
        let status = self.status();
        let title = page
            .title
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error"));
        let message = match self {
            Failure::Internal => INTERNAL_MESSAGE,
            _ => page.message,
        };
        html(status, message_page(title, message, &links(page.links)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn each_kind_has_its_status_and_an_internal_failure_hides_its_message() {
        let cases = [
            (Failure::NotSignedIn, 401),
            (Failure::Refused, 401),
            (Failure::Forbidden, 403),
            (Failure::NotFound, 404),
            (Failure::BadRequest, 400),
            (Failure::Conflict, 409),
            (Failure::TooMany, 429),
            (Failure::IdpUnavailable, 502),
            (Failure::Internal, 500),
        ];
        for (kind, status) in cases {
            let r = kind.page(FailurePage {
                title: None,
                message: "the <secret> cause",
                links: &[("/.scimgate/me", "My access")],
            });
            assert_eq!(r.status().as_u16(), status, "{kind:?}");
            assert!(r.headers().contains_key("content-security-policy"));
            let text = body(r).await;
            assert!(text.contains("My access"), "{kind:?}: {text}");
            if kind == Failure::Internal {
                assert!(!text.contains("secret"), "{text}");
                assert!(text.contains(INTERNAL_MESSAGE), "{text}");
            } else {
                assert!(
                    text.contains("the &lt;secret&gt; cause"),
                    "{kind:?}: {text}"
                );
            }
        }
    }
}
