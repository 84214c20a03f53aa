//! scimgate: an identity-aware reverse proxy for dbt surfaces, fed by SCIM 2.0.
//!
//! The crate is laid out by concern, in layers that depend one way: `ARCHITECTURE.md`
//! at the repository root is the module map (what each module owns, which way the
//! dependencies run, the request path and the SCIM write path). In short: `record`
//! holds the shared records, `store` makes directory changes durable, `directory` is
//! the in-memory cache every request reads, `policy` decides, `authn` says who is
//! calling (OIDC login, sessions, bearer JWTs), `proxy` forwards, `scim` is the SCIM
//! 2.0 HTTP API, `gate` runs the request pipeline, `server` wires everything and owns
//! the listeners, and `cli` is the `scimgate` command. A test
//! (`tests/it/layers.rs`) fails when an import closes a cycle between these modules.

pub mod access;
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
pub mod metrics;
pub mod migrate;
pub mod ops;
pub mod outbound;
pub mod path;
pub mod policy;
pub mod proxy;
pub mod record;
pub mod replica;
pub mod revoke;
pub mod scim;
pub mod secret;
pub mod server;
pub mod store;
pub mod tokens;
pub mod web;
pub mod webhook;
pub mod yaml;

/// Identifier rules and the caseless key (shared with the SCIM crate).
pub use scimgate_scim::ident;
