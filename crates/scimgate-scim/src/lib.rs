//! The SCIM 2.0 protocol core (RFC 7643/7644) of scimgate, independent of HTTP:
//! the published schemas and resource normalisation (`schema`), the filter grammar and
//! its evaluation (`filter`), PATCH paths (`path`) and PATCH operations (`patch`), and
//! the RFC's error types (`scim_type`), and the identifier rules and caseless key
//! shared with the main crate (`ident`). It works on `serde_json::Value`, so it can be
//! fuzzed and tested alone.

pub mod filter;
pub mod ident;
pub mod patch;
pub mod path;
pub mod schema;
pub mod scim_type;

#[cfg(test)]
mod corpus_tests;
