//! Who is calling: browser sessions and bearer JWTs, mapped to a directory user.
//!
//! - [`oidc`]: the browser login (authorization code + PKCE + state + nonce) against the
//!   configured OpenID provider; a pending login lives in the browser, sealed in a
//!   ten-minute cookie ([`pending`]), never in server memory.
//! - [`session`]: server-side sessions. The cookie holds a random 256-bit token; memory
//!   and the store keep only its SHA-256. Lookups never wait on the store.
//! - [`jwt`]: bearer JWTs from scripts and CI, verified against the IdP's JWKS with
//!   pinned algorithms; a verified token is cached by its hash until it expires.
//! - [`identity`]: a token's identity claim ↔ a directory user. Groups and `active` always
//!   come from the directory, read on every request, never from claims or a cache.
//! - [`step_up`]: asking the provider for a recent sign-in (`max_age`, `prompt=login`)
//!   or an authentication context (`acr_values`), and checking the ID token's answer.
//! - [`redirect`]: the open-redirect defence for the post-login `rd` parameter.
//! - [`routes`]: `/.scimgate/login`, `/callback`, `/logout` (a same-origin POST), `/signed-out`.
//!
//! The IdP is reached through [`crate::outbound::HttpClient`] (a timeout, a response
//! size cap, no redirects followed).
//!
//! Errors are [`AuthnError`]; each knows its HTTP status and a detail safe to show.

pub mod claims;
pub mod cookie;
pub mod error;
pub mod identity;
mod jwks;
pub mod jwt;
pub mod oidc;
pub mod origin;
mod pages;
pub mod pending;
pub mod redirect;
pub mod routes;
pub mod session;
pub mod step_up;
#[cfg(test)]
mod testing;

pub use claims::Claims;
pub use error::AuthnError;
pub use identity::{resolve_user, session_user};
pub use jwt::{bearer_token, JwtVerifier};
pub use oidc::OidcLogin;
pub use redirect::safe_return_to;
pub use routes::{routes, AuthnState};
pub use session::{Session, Sessions, SignIn};

/// A fresh random 256-bit secret, base64url without padding (43 characters).
pub(crate) fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
