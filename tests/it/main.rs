//! Integration tests: one binary, one module per concern (links once).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod support;

mod atomic;
mod crash;
mod durability;
mod entra;
mod etag;
mod filters;
mod lock_and_acl;
mod nesting;
mod okta;
mod paging;
mod rfc_errors;
mod tls;
