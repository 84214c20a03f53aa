//! Reading a SCIM request body: media type, size cap, JSON.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use http_body_util::{BodyExt, Limited};
use serde_json::Value;

use super::scim_type::ScimType;
use super::ScimError;

/// Reads a JSON body of at most `limit` bytes (not parsed yet: see [`parse_json`]).
pub(super) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ScimError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !(essence == "application/scim+json" || essence == "application/json") {
            return Err(ScimError::UnsupportedMediaType);
        }
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return Err(ScimError::PayloadTooLarge(limit));
            }
            Err(ScimError::bad(
                ScimType::InvalidSyntax,
                "the request body could not be read",
            ))
        }
    }
}

/// Parses a request body read by [`read_body`].
pub(super) fn parse_json(bytes: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ScimError::bad(
            ScimType::InvalidSyntax,
            format!("the request body is not valid JSON: {e}"),
        )
    })
}
