//! Integration tests: one binary, one module per concern (links once).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod binary;
mod docs_upstream;
mod issuer;
mod oidc_provider;
mod proxy_env;
mod served;
mod siem;
mod support;
mod upstream;

mod atomic;
mod audit;
mod audit_bounds;
mod bearer;
mod browser_edge;
mod bypass;
mod conn_bounds;
mod crash;
mod data_lock;
mod dbt_platform;
mod docs;
mod doctor;
mod durability;
mod entra;
mod etag;
mod filters;
mod first_hour;
mod forward_auth;
mod identity_strict;
mod lock_and_acl;
mod log_redaction;
mod nesting;
mod okta;
mod ops;
mod ops_logs;
mod pages;
mod paging;
mod policy_reload;
mod policy_warnings;
mod readme_examples;
mod replicas;
mod revocation;
mod rfc_errors;
mod scim_auth;
mod scim_scans;
mod streaming;
mod tls;
mod upstream_tls;
