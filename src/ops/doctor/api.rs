//! The doctor's side of the HTTP conversation: one JSON call at a time to a running
//! instance, with a bearer token, read whole (capped) and described in words on failure.

use std::time::Duration;

use http::{header, Method, Request, StatusCode};
use serde_json::Value;

use crate::outbound::{error_chain, HttpClient, HttpError};

/// Largest answer read (a group's member list can be long).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Why a call did not give the answer a step needs.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{}", error_chain(.0))]
    Transport(#[from] HttpError),
    #[error("the token was refused (401): is it a valid {0} token of this instance?")]
    Unauthorized(&'static str),
    #[error("{method} {path} answered {status}: {detail}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        detail: String,
    },
    #[error("{method} {path}: the answer is not JSON")]
    NotJson { method: Method, path: String },
}

/// A base URL and the token that goes with it.
#[derive(Clone)]
pub struct Api {
    http: HttpClient,
    base: String,
    token: String,
    /// What kind of token this is, for messages (`admin`, `SCIM`).
    kind: &'static str,
}

impl Api {
    pub fn new(http: HttpClient, base: String, token: String, kind: &'static str) -> Self {
        Api {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            kind,
        }
    }

    /// Sends `method path` with an optional JSON body; expects one of `ok` statuses and
    /// returns the body as JSON (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        ok: &[StatusCode],
    ) -> Result<Value, CallError> {
        let url = format!("{}{path}", self.base);
        let mut req = Request::builder()
            .method(method.clone())
            .uri(url.as_str())
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::ACCEPT, "application/scim+json, application/json");
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/scim+json");
        }
        let req = req
            .body(body.map(|b| b.to_string().into_bytes()).unwrap_or_default())
            .map_err(|_| HttpError::BadUrl(url.clone()))?;
        let resp = self.http.send(req).await?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(CallError::Unauthorized(self.kind));
        }
        let text = String::from_utf8_lossy(resp.body());
        if !ok.contains(&status) {
            return Err(CallError::Status {
                method,
                path: path.to_owned(),
                status,
                detail: error_detail(&text),
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|_| CallError::NotJson {
            method,
            path: path.to_owned(),
        })
    }
}

/// The `detail` of an error body, or its start.
fn error_detail(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// An HTTP client for the doctor (each call must finish in `timeout`).
pub fn client(timeout: Duration) -> Result<HttpClient, HttpError> {
    HttpClient::with_limits(timeout, MAX_BODY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_error_details() {
        assert_eq!(error_detail(r#"{"detail":"nope"}"#), "nope");
        assert_eq!(error_detail("plain"), "plain");
    }
}
