//! SCIM errors, and the one place they become HTTP responses (RFC 7644 §3.12).
//!
//! Clients get the status (as a string, as Okta and Entra ID expect), a `scimType` where
//! the RFC defines one, and a short detail; the cause of a server-side failure goes to
//! the log only.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::filter::FilterError;
use super::patch::PatchError;
use super::schema::SchemaError;
use super::scim_type::ScimType;
use crate::directory::DirectoryError;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// Everything the SCIM surface can answer with other than success.
#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    #[error("{detail}")]
    BadRequest {
        scim_type: Option<ScimType>,
        detail: String,
    },
    #[error("{0}")]
    Unauthorized(super::auth::AuthFailure),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Uniqueness(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("this method is not allowed on this endpoint")]
    MethodNotAllowed,
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the request body must be application/scim+json or application/json")]
    UnsupportedMediaType,
    #[error("{0} is not supported")]
    NotImplemented(&'static str),
    #[error("too many searches that scan the directory are running; retry later (a userName eq/sw filter or sortBy=userName needs no scan)")]
    ScanBusy,
    #[error("the search did not finish within {0} s; narrow the filter (userName eq/sw and sortBy=userName use an index)")]
    ScanTimedOut(u64),
    #[error("the directory is unavailable; retry later")]
    Unavailable(#[source] DirectoryError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ScimError {
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError::BadRequest {
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ScimError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ScimError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ScimError::Forbidden(_) => StatusCode::FORBIDDEN,
            ScimError::NotFound(_) => StatusCode::NOT_FOUND,
            ScimError::Uniqueness(_) => StatusCode::CONFLICT,
            ScimError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ScimError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ScimError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ScimError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ScimError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ScimError::Unavailable(_) | ScimError::ScanBusy => StatusCode::SERVICE_UNAVAILABLE,
            ScimError::ScanTimedOut(_) => StatusCode::BAD_REQUEST,
            ScimError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            ScimError::BadRequest { scim_type, .. } => *scim_type,
            ScimError::Uniqueness(_) => Some(ScimType::Uniqueness),
            ScimError::ScanTimedOut(_) => Some(ScimType::TooMany),
            _ => None,
        }
    }
}

impl From<SchemaError> for ScimError {
    fn from(e: SchemaError) -> Self {
        ScimError::bad(e.scim_type(), e.to_string())
    }
}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::bad(e.scim_type(), e.to_string())
    }
}

impl From<PatchError> for ScimError {
    fn from(e: PatchError) -> Self {
        ScimError::bad(e.scim_type(), e.to_string())
    }
}

impl From<DirectoryError> for ScimError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::NotFound { kind, id } => {
                ScimError::NotFound(format!("{kind} {id} not found"))
            }
            e @ DirectoryError::Uniqueness { .. } => ScimError::Uniqueness(e.to_string()),
            e @ DirectoryError::VersionMismatch { .. } => {
                ScimError::PreconditionFailed(e.to_string())
            }
            e @ (DirectoryError::UnknownMember(_) | DirectoryError::Cycle { .. }) => {
                ScimError::bad(ScimType::InvalidValue, e.to_string())
            }
            e @ DirectoryError::ManualUpdateLocked { .. } => ScimError::Forbidden(e.to_string()),
            DirectoryError::Rejected(inner) => match inner.downcast::<PatchError>() {
                Ok(p) => (*p).into(),
                Err(inner) => match inner.downcast::<SchemaError>() {
                    Ok(s) => (*s).into(),
                    Err(inner) => match inner.downcast::<ScimError>() {
                        Ok(s) => *s,
                        Err(other) => ScimError::Internal(other),
                    },
                },
            },
            e @ (DirectoryError::Store(_) | DirectoryError::ShuttingDown) => {
                ScimError::Unavailable(e)
            }
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let status = self.status();
        // A refused scan is load shedding, counted in /metrics, not a failure to log.
        if status.is_server_error() && !matches!(self, ScimError::ScanBusy) {
            tracing::error!(error = %self, cause = ?std::error::Error::source(&self), "SCIM request failed");
        }
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": status.as_u16().to_string(),
            "detail": self.to_string(),
        });
        if let (Some(t), Some(obj)) = (self.scim_type(), body.as_object_mut()) {
            obj.insert("scimType".into(), json!(t.as_str()));
        }
        let mut resp = (status, body.to_string()).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        );
        match status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"scimgate\""),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(e: ScimError) -> (StatusCode, serde_json::Value) {
        let resp = e.into_response();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn every_variant_maps_to_its_status_and_form() {
        let cases: Vec<(ScimError, u16, Option<&str>)> = vec![
            (
                ScimError::bad(ScimType::InvalidFilter, "x"),
                400,
                Some("invalidFilter"),
            ),
            (
                ScimError::Unauthorized(crate::scim::auth::AuthFailure::Missing),
                401,
                None,
            ),
            (ScimError::Forbidden("no".into()), 403, None),
            (ScimError::NotFound("User 1 not found".into()), 404, None),
            (
                ScimError::Uniqueness("taken".into()),
                409,
                Some("uniqueness"),
            ),
            (ScimError::PreconditionFailed("v".into()), 412, None),
            (ScimError::MethodNotAllowed, 405, None),
            (ScimError::PayloadTooLarge(10), 413, None),
            (ScimError::UnsupportedMediaType, 415, None),
            (ScimError::NotImplemented("/Bulk"), 501, None),
            (ScimError::ScanBusy, 503, None),
            (ScimError::ScanTimedOut(10), 400, Some("tooMany")),
            (
                ScimError::Unavailable(DirectoryError::ShuttingDown),
                503,
                None,
            ),
        ];
        for (err, status, scim_type) in cases {
            let (s, body) = body_of(err).await;
            assert_eq!(s.as_u16(), status);
            assert_eq!(body["status"], status.to_string());
            assert_eq!(body["schemas"][0], ERROR_SCHEMA);
            assert_eq!(body["scimType"].as_str(), scim_type);
            assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }

    #[tokio::test]
    async fn directory_errors_map_to_scim_errors() {
        let e: ScimError = DirectoryError::Uniqueness {
            attribute: "userName",
            value: "a".into(),
        }
        .into();
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let e: ScimError = DirectoryError::VersionMismatch {
            current: "W/\"2\"".into(),
            given: "W/\"1\"".into(),
        }
        .into();
        assert_eq!(e.status(), StatusCode::PRECONDITION_FAILED);
        let e: ScimError = DirectoryError::Cycle {
            group: "a".into(),
            member: "b".into(),
        }
        .into();
        assert_eq!(e.scim_type(), Some(ScimType::InvalidValue));
        let e: ScimError = DirectoryError::ManualUpdateLocked {
            kind: "User",
            id: "1".into(),
        }
        .into();
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
    }
}
