//! The gate's side of `preset: mcp`: each JSON-RPC message of a POST is judged before
//! anything reaches the MCP server, and listing answers come back filtered.
//!
//! The HTTP request has already been allowed as a session ([`super::judge`]); here the
//! body is read within [`jsonrpc::MAX_BODY_BYTES`] and parsed strictly ([`jsonrpc`]),
//! every message is judged as the operation it names and recorded when it names a
//! tool, resource or prompt or is refused ([`exchange`]); a refused call is answered
//! with a JSON-RPC error carrying the request's `id` and never forwarded. Answers to
//! `tools/list`, `prompts/list` and `resources/list`, as JSON or as server-sent
//! events, keep only what the caller may use ([`lists`]). GET (the server's event
//! stream) and DELETE (ending the session) pass as any request does, registered as live
//! streams so that revocation cuts them. Every request that names a session must come
//! from the user the session was issued to ([`sessions`]).

pub mod exchange;
pub mod jsonrpc;
pub mod lists;
pub mod sessions;

#[cfg(test)]
mod tests;

pub use exchange::{admit, Judge, Plan};
