//! The policy language: routes and rules from `policies/*.yaml`, compiled, decided, explained.
//!
//! Files are read in name order into raw structs that refuse unknown keys
//! ([`raw`]), then compiled ([`route`], [`rule`], [`pattern`], [`host`]) into an
//! immutable [`PolicySet`]; every problem is reported as `file:line:column: reason`.
//! The set routes a request by host and path and decides it: a matching deny rule
//! wins, else the first matching allow rule, else `default-deny`. [`reload`] keeps the
//! live set (swapped whole, only when the new one is valid); [`directory_subject`]
//! presents a directory user to the rules; [`cli`] holds `policy check|explain|test`.
//! [`dbt`] is the `dbt-platform` preset (operation catalogue, dbt's documented
//! permission tables, permission sets, grants, licenses); [`agents`] caps agent and
//! service accounts on every route. [`rate_limit`] is a route's `rate_limit:` as
//! compiled (the buckets are the gate's); [`shadow`] judges a candidate set beside
//! the live one. [`step_up`] is what a route asks of the caller's
//! sign-in (a recent `auth_time`, an `acr`) and its browser-session limits.
//! [`mcp`] is the `mcp` preset's tools, resources and prompts.
//! `policies/README.md` is the language reference.

pub mod agents;
pub mod cli;
pub mod dbt;
pub mod directory_subject;
pub mod docs_preset;
mod error;
mod groups;
pub mod host;
mod index;
pub mod mcp;
pub mod model;
pub mod pattern;
pub mod preset;
pub mod rate_limit;
mod raw;
pub mod reload;
pub mod request;
pub mod requestable;
pub mod route;
mod rule;
mod set;
pub mod shadow;
pub mod step_up;
mod testfile;
mod values;
pub mod warnings;
mod yaml;

pub use directory_subject::DirectorySubject;
pub use error::PolicyError;
pub use model::{Decision, DirectoryGroups, RequestFacts, RouteSettings, RuleRef, Subject};
pub use preset::Preset;
pub use reload::{PolicyHandle, ReloadStatus, WatchGuard};
pub use requestable::Requestable;
pub use route::Route;
pub use set::{PolicySet, RouteMatch};
pub use warnings::GroupWarning;

/// The rule of a decision no rule made: nothing allowed the request.
pub const DEFAULT_DENY: &str = "default-deny";
/// The rule of a denial because the caller is not a directory user.
pub const UNKNOWN_USER: &str = "unknown-user";
/// The rule of a denial because the directory user is not active.
pub const INACTIVE_USER: &str = "inactive-user";
/// The rule of a denial because no route matches the host and path.
pub const NO_ROUTE: &str = "no-route";
/// The rule of a denial because the path cannot be normalised (the proxy answers 400).
pub const BAD_PATH: &str = "bad-path";

#[cfg(test)]
mod tests;
