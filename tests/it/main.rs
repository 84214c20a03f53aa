//! Integration tests: one binary, one module per concern (links once).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod docs_upstream;
mod issuer;
mod proxy_env;
mod support;
mod upstream;

mod atomic;
mod bearer;
mod bypass;
mod crash;
mod dbt_platform;
mod docs;
mod durability;
mod entra;
mod etag;
mod filters;
mod forward_auth;
mod lock_and_acl;
mod nesting;
mod okta;
mod paging;
mod policy_reload;
mod replicas;
mod revocation;
mod rfc_errors;
mod streaming;
mod tls;
mod upstream_tls;
