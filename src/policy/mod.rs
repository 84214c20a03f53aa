//! The policy language: routes and rules from `policies/*.yaml`, compiled, decided, explained.

pub mod model;

pub use model::{Decision, RequestFacts, RouteSettings, RuleRef, Subject};
