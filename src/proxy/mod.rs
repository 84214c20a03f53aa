//! Forwarding: header hygiene, the signed identity assertion, pooled upstream clients,
//! streaming and cancellable bodies, websocket tunnels.
//!
//! The request pipeline (routing, authentication, policy, revocation) calls in here in
//! this order: [`crate::path::normalise`] once (its `matching` form goes to the policy,
//! its `forward` form to [`forward::forward`]), then on allow [`headers::prepare_request`],
//! [`headers::add_identity`] (with an assertion from [`assertion::AssertionSigner`]),
//! and [`forward::forward`] with a cancellation handle registered for revocation.
//! Errors ([`error::ProxyError`]) become responses in the gate's one map for proxied
//! requests (`gate::error`).

pub mod assertion;
pub mod body;
pub mod client;
pub mod compress;
pub mod connection_cap;
pub mod credentials;
pub mod error;
pub mod forward;
pub mod headers;
pub mod idle;
pub mod response_hygiene;
mod stall;
mod tunnel;
mod upstream_kind;
pub mod validators;

#[cfg(test)]
mod tests;

pub use assertion::{AssertionClaims, AssertionSigner};
pub use client::UpstreamClient;
pub use error::ProxyError;
pub use forward::forward;
pub use headers::{ClientContext, Forwarded, IdentityHeaders};
