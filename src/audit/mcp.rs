//! The record of one MCP message judged on a `preset: mcp` route: `mcp.allow` /
//! `mcp.deny`, actor `user:<userName>`, target `route:<name>`, and in the detail the
//! JSON-RPC method, the tool, resource or prompt it names (`tool`, `resource`,
//! `prompt`), the deciding rule and where it is written, the request id, the user id and
//! the client address. Calls that name something are always recorded; session
//! messages (`initialize`, `tools/list`, …) only when refused, the HTTP request that
//! carried them having its own `access.allow` record.

use std::net::IpAddr;

use super::bounds::{clip, MAX_REQUEST_ID_BYTES};
use super::records::RequestOrigin;
use crate::record::AuditEntry;

/// The most bytes of a method or a tool, resource or prompt name kept in a record.
pub const MAX_NAME_BYTES: usize = 512;

/// One judged message.
#[derive(Debug, Clone)]
pub struct McpRecord<'a> {
    pub at: i64,
    pub allow: bool,
    pub user_name: &'a str,
    pub user_id: &'a str,
    pub route: &'a str,
    /// The JSON-RPC method (`None` for an answer to the server's own request).
    pub method: Option<&'a str>,
    /// `tool`, `resource`, `prompt` or `session`.
    pub kind: &'static str,
    /// The tool, resource or prompt named.
    pub name: Option<&'a str>,
    pub rule: &'a str,
    pub rule_location: &'a str,
    pub origin: &'a RequestOrigin,
}

#[derive(serde::Serialize)]
struct Detail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ip: Option<IpAddr>,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    rule: &'a str,
    rule_location: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<&'a str>,
    user_id: &'a str,
}

/// The audit entry of `r`.
pub fn entry(r: &McpRecord<'_>) -> AuditEntry {
    let name = r.name.map(|n| clip(n, MAX_NAME_BYTES));
    let named = |kind: &str| name.filter(|_| r.kind == kind);
    let detail = Detail {
        client_ip: r.origin.client_ip,
        kind: r.kind,
        method: r.method.map(|m| clip(m, MAX_NAME_BYTES)),
        prompt: named("prompt"),
        request_id: r
            .origin
            .request_id
            .as_deref()
            .map(|id| clip(id, MAX_REQUEST_ID_BYTES)),
        resource: named("resource"),
        rule: r.rule,
        rule_location: r.rule_location,
        tool: named("tool"),
        user_id: r.user_id,
    };
    AuditEntry {
        at: r.at,
        actor: format!("user:{}", r.user_name),
        action: if r.allow { "mcp.allow" } else { "mcp.deny" }.to_owned(),
        target: format!("route:{}", r.route),
        before: None,
        after: None,
        // Serialising plain strings and addresses cannot fail.
        detail: serde_json::to_string(&detail).ok(),
    }
}
