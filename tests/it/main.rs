//! Integration tests: one binary, one module per concern (links once).

mod support;

mod atomic;
mod durability;
mod entra;
mod etag;
mod filters;
mod lock_and_acl;
mod nesting;
mod okta;
mod paging;
mod rfc_errors;
mod crash;
