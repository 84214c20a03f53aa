//! The `mcp` preset's policy side: which MCP tools, resources and prompts a rule names,
//! and what one JSON-RPC message asks for ([`Operation`]).
//!
//! A route with `preset: mcp` fronts an MCP server over the streamable HTTP transport.
//! The HTTP request itself is judged as a [`Operation::Session`] (may this caller talk
//! to the server at all); every JSON-RPC message in its body is judged again as the
//! operation it names (`gate::mcp` reads the body and asks
//! [`crate::policy::PolicySet::decide_mcp`]). Rules say which operations they cover with
//! `tools:`, `resources:` and `prompts:` ([`targets`]), as name patterns ([`glob`]).

pub mod glob;
pub mod targets;

pub use glob::NamePattern;
pub use targets::McpTargets;

/// The rule of a refusal because the preset does not know the JSON-RPC method.
pub const UNKNOWN_METHOD: &str = "preset:mcp-unknown-method";

/// The rule of a refusal of a method the streamable HTTP transport does not use (only
/// POST, GET and DELETE reach an MCP server; a body under any other method would pass
/// unjudged).
pub const METHODS_RULE: &str = "preset:mcp-methods";

/// Whether the transport uses `method`.
pub fn transport_method(method: &http::Method) -> bool {
    *method == http::Method::POST || *method == http::Method::GET || *method == http::Method::DELETE
}

/// The rule of a forward-auth refusal of a POST on an mcp route: its messages are in
/// the body, which forward-auth never sees, so only the proxy can judge them.
pub const NEEDS_PROXY: &str = "preset:mcp-needs-proxy";

/// What one JSON-RPC message asks of an MCP server, as the policy judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    /// Holding the session: `initialize`, `ping`, the `*/list` methods, notifications,
    /// answers to the server's own requests, `logging/setLevel`, tasks.
    Session,
    /// `tools/call` of this tool.
    Tool(&'a str),
    /// `resources/read`, `resources/subscribe` or `resources/unsubscribe` of this URI, or a
    /// completion for it.
    Resource(&'a str),
    /// `prompts/get` of this prompt, or a completion for it.
    Prompt(&'a str),
}

impl Operation<'_> {
    /// What kind of thing it names (for logs and the audit record).
    pub fn kind(&self) -> &'static str {
        match self {
            Operation::Session => "session",
            Operation::Tool(_) => "tool",
            Operation::Resource(_) => "resource",
            Operation::Prompt(_) => "prompt",
        }
    }

    /// The tool, resource or prompt it names.
    pub fn name(&self) -> Option<&str> {
        match self {
            Operation::Session => None,
            Operation::Tool(n) | Operation::Resource(n) | Operation::Prompt(n) => Some(n),
        }
    }
}

/// A route's `read_only_tools:` (only with `preset: mcp`): the tools an agent under
/// `agents: { access: read-only }` may still call, as name patterns compared exactly
/// (a tool is read-only only as written).
pub(crate) fn read_only_tools(
    raw: Option<&super::raw::SpannedList>,
    mcp_route: bool,
    problems: &mut super::error::Problems<'_>,
) -> Box<[NamePattern]> {
    use super::yaml::at;
    let Some(list) = raw else {
        return Box::default();
    };
    if !mcp_route {
        problems.at(
            at(list),
            "`read_only_tools` is for routes with `preset: mcp`",
        );
        return Box::default();
    }
    list.value
        .iter()
        .filter_map(|p| problems.check(at(p), NamePattern::parse(&p.value, false)))
        .collect()
}
