//! The CSRF token of a browser session, carried by every state-changing form: SHA-256
//! of a fixed label and the session token. It is tied to the session, useless without
//! the HttpOnly cookie, and the same on every replica. The gate's 403 page (its
//! "Request access" form), `/me` and the admin UI put it in their forms; the
//! handlers compare it in constant time (`admin::auth`).

use sha2::{Digest, Sha256};

/// The CSRF token of the session whose cookie token is `session_token`.
pub fn csrf_token(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"scimgate-csrf-v1\0");
    h.update(session_token.as_bytes());
    hex::encode(h.finalize())
}

/// A hidden CSRF field for a form.
pub fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        super::E(csrf)
    )
}
