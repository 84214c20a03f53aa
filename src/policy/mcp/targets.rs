//! A rule's MCP conditions: `tools:`, `resources:` and `prompts:` (name patterns).
//!
//! A rule that states none of them covers every operation of its route, as a rule
//! without `paths:` covers the whole route. A rule that states some covers the session
//! (so whoever it names may connect and list) and the tools, resources and prompts its
//! patterns name: nothing of a kind it does not state. So `tools: [list_*]` lets its
//! users call the `list_` tools and read no resource.

use super::glob::NamePattern;
use super::Operation;

/// The compiled MCP conditions of one rule.
#[derive(Debug, Default)]
pub struct McpTargets {
    pub tools: Box<[NamePattern]>,
    pub resources: Box<[NamePattern]>,
    pub prompts: Box<[NamePattern]>,
}

impl McpTargets {
    /// Whether the rule states any MCP condition.
    pub fn states_any(&self) -> bool {
        !(self.tools.is_empty() && self.resources.is_empty() && self.prompts.is_empty())
    }

    /// Whether a rule with these conditions covers `op`. `deny` rules do not cover
    /// the session through a tool, resource or prompt condition (they refuse only what
    /// they name).
    pub fn covers(&self, op: &Operation<'_>, deny: bool) -> bool {
        if !self.states_any() {
            return true;
        }
        let any = |list: &[NamePattern], name: &str| list.iter().any(|p| p.matches(name));
        match op {
            Operation::Session => !deny,
            Operation::Tool(n) => any(&self.tools, n),
            Operation::Resource(n) => any(&self.resources, n),
            Operation::Prompt(n) => any(&self.prompts, n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(list: &[&str], fold: bool) -> Box<[NamePattern]> {
        list.iter()
            .map(|p| NamePattern::parse(p, fold).unwrap())
            .collect()
    }

    #[test]
    fn a_rule_covers_what_it_names_and_the_session() {
        let t = McpTargets {
            tools: pats(&["list_*", "show"], false),
            ..Default::default()
        };
        assert!(t.covers(&Operation::Session, false));
        assert!(!t.covers(&Operation::Session, true));
        assert!(t.covers(&Operation::Tool("list_metrics"), false));
        assert!(t.covers(&Operation::Tool("show"), false));
        assert!(!t.covers(&Operation::Tool("execute_sql"), false));
        assert!(!t.covers(&Operation::Resource("list_x"), false));
        assert!(!t.covers(&Operation::Prompt("show"), false));
        let none = McpTargets::default();
        assert!(none.covers(&Operation::Tool("execute_sql"), false));
        assert!(none.covers(&Operation::Session, true));
    }
}
