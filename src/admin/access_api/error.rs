//! Where the access requests API's failures become responses: one map, a JSON body
//! `{"error": "<code>", "message": "<public text>"}`, the status from the failure's
//! kind. A store failure is logged here and answered 503 without its cause.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::access::AccessError;

/// A refused or failed call of the access requests API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Access(#[from] AccessError),
    /// No usable credentials (the text says what to send).
    #[error("{0}")]
    Unauthenticated(String),
    /// Credentials fine, the caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("no such access request")]
    NotFound,
    #[error("the service is unavailable; retry later")]
    Unavailable,
}

impl ApiError {
    /// The status and the short code of the body.
    fn kind(&self) -> (StatusCode, &'static str) {
        use AccessError as A;
        match self {
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Access(e) => match e {
                A::NotRequestable => (StatusCode::BAD_REQUEST, "not_requestable"),
                A::NotRequester => (StatusCode::FORBIDDEN, "not_requester"),
                A::TooLong { .. } => (StatusCode::BAD_REQUEST, "duration_too_long"),
                A::TooShort => (StatusCode::BAD_REQUEST, "duration_too_short"),
                A::ReasonRequired => (StatusCode::BAD_REQUEST, "reason_required"),
                A::TextTooLong { .. } => (StatusCode::BAD_REQUEST, "text_too_long"),
                A::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                A::SelfApproval => (StatusCode::FORBIDDEN, "self_approval"),
                A::NotApprover => (StatusCode::FORBIDDEN, "not_approver"),
                A::AlreadyVoted => (StatusCode::CONFLICT, "already_voted"),
                A::NotPending => (StatusCode::CONFLICT, "not_pending"),
                A::NotActive => (StatusCode::CONFLICT, "not_active"),
                A::Duplicate => (StatusCode::CONFLICT, "duplicate"),
                A::TooMany { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many"),
                A::Store(_) | A::Join => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.kind();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, source = ?std::error::Error::source(&self), "access API call failed");
            ApiError::Unavailable.to_string()
        } else {
            tracing::info!(error = %self, status = status.as_u16(), "access API call refused");
            self.to_string()
        };
        let mut r = (
            status,
            axum::Json(json!({ "error": code, "message": message })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimgate\""),
            );
        }
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}
