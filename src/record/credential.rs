//! Stored credentials: SCIM and admin tokens, browser sessions. Only hashes are kept,
//! never a token or a session cookie itself.

/// A SCIM or admin bearer token as stored: never the token itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub name: String,
    /// The public part of the token, used to find the row.
    pub token_id: String,
    /// SHA-256 of the secret part.
    pub hash: Vec<u8>,
    pub scope: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

/// A browser session as stored: never the session token itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// SHA-256 of the session token.
    pub token_hash: Vec<u8>,
    /// The SCIM `id` of the user.
    pub user_id: String,
    /// Unix milliseconds.
    pub created: i64,
    /// Unix milliseconds; the session is over from then on.
    pub expires: i64,
}
