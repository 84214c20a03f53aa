//! scimgate: an identity-aware reverse proxy for dbt surfaces, fed by SCIM 2.0.
//!
//! The crate is laid out by concern (see the design's module map): `config` loads
//! settings, `store` makes directory changes durable, `directory` is the in-memory
//! cache every request reads, `scim` is the SCIM 2.0 HTTP API, `authn` says who is
//! calling (OIDC login, sessions, bearer JWTs), `server` owns the listeners and TLS,
//! and `cli` is the `scimgate` command.

pub mod admin;
pub mod audit;
pub mod authn;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod migrate;
pub mod ops;
pub mod outbound;
pub mod policy;
pub mod proxy;
pub mod replica;
pub mod revoke;
pub mod scim;
pub mod secret;
pub mod server;
pub mod store;
pub mod tokens;
pub mod web;
pub mod yaml;

/// Identifier rules and the caseless key (shared with the SCIM crate).
pub use scimgate_scim::ident;
