//! `preset: mcp`: tools, resources and prompts by name and pattern, per group, license
//! and user type; deny rules win and fold case; the agents cap; where the keys may be
//! written.

use http::Method;

use super::super::mcp::Operation;
use super::super::PolicySet;
use super::{refused, set, verdict, Who};

const MCP: &str = r#"agents:
  user_types: [agent]
  access: read-only
routes:
  - name: dbt-mcp
    preset: mcp
    match: { path: /mcp }
    upstream: http://127.0.0.1:8000
    read_only_tools: [list, show, get_*]
    deny:
      - name: no-sql
        tools: [execute_sql, text_to_sql]
    allow:
      - name: analysts
        groups: [analysts]
        tools: [list, show, compile, get_*, run, build]
        prompts: [explain_*]
      - name: developers
        licenses: [developer]
        tools: ["*"]
        resources: ["file:///docs/*"]
      - name: admins
        groups: [admins]
"#;

fn op(set: &PolicySet, who: &Who, op: Operation<'_>) -> String {
    let m = set.match_route("mcp.example.com", "/mcp").expect("route");
    let d = set.decide_mcp(
        &m,
        super::super::model::RequestFacts {
            method: &Method::POST,
            path: "/mcp",
        },
        who,
        &op,
    );
    format!(
        "{} by {}",
        if d.allow { "allow" } else { "deny" },
        d.by.rule
    )
}

#[test]
fn rules_name_tools_resources_and_prompts() {
    let s = set(MCP);
    let ann = Who::named("ann", &["analysts"]);
    assert_eq!(op(&s, &ann, Operation::Session), "allow by analysts");
    assert_eq!(op(&s, &ann, Operation::Tool("show")), "allow by analysts");
    assert_eq!(
        op(&s, &ann, Operation::Tool("get_model_details")),
        "allow by analysts"
    );
    assert_eq!(
        op(&s, &ann, Operation::Tool("test")),
        "deny by default-deny"
    );
    assert_eq!(
        op(&s, &ann, Operation::Tool("execute_sql")),
        "deny by no-sql"
    );
    assert_eq!(
        op(&s, &ann, Operation::Tool("EXECUTE_SQL")),
        "deny by no-sql"
    );
    assert_eq!(
        op(&s, &ann, Operation::Prompt("explain_model")),
        "allow by analysts"
    );
    assert_eq!(
        op(&s, &ann, Operation::Resource("file:///docs/a")),
        "deny by default-deny"
    );
    // The HTTP request itself is the session.
    assert_eq!(
        verdict(&s, Method::POST, "h", "/mcp", &ann),
        "allow by analysts"
    );
    let nobody = Who::named("zed", &["sales"]);
    assert_eq!(op(&s, &nobody, Operation::Session), "deny by default-deny");
    assert_eq!(
        verdict(&s, Method::POST, "h", "/mcp", &nobody),
        "deny by default-deny"
    );

    let dev = Who {
        name: "dev",
        license: Some("developer"),
        ..Who::default()
    };
    assert_eq!(op(&s, &dev, Operation::Tool("test")), "allow by developers");
    assert_eq!(
        op(&s, &dev, Operation::Resource("file:///docs/a.md")),
        "allow by developers"
    );
    assert_eq!(
        op(&s, &dev, Operation::Resource("file:///etc/passwd")),
        "deny by default-deny"
    );
    assert_eq!(
        op(&s, &dev, Operation::Tool("text_to_sql")),
        "deny by no-sql"
    );

    // A rule without MCP conditions covers everything of its route but what a deny
    // rule names.
    let admin = Who::named("root", &["admins"]);
    assert_eq!(op(&s, &admin, Operation::Tool("build")), "allow by admins");
    assert_eq!(op(&s, &admin, Operation::Prompt("x")), "allow by admins");
    assert_eq!(
        op(&s, &admin, Operation::Tool("execute_sql")),
        "deny by no-sql"
    );
}

#[test]
fn only_the_transport_methods_reach_an_mcp_route() {
    let s = set(MCP);
    let admin = Who::named("root", &["admins"]);
    for m in [Method::POST, Method::GET, Method::DELETE] {
        assert_eq!(verdict(&s, m, "h", "/mcp", &admin), "allow by admins");
    }
    for m in [Method::PUT, Method::PATCH, Method::HEAD, Method::OPTIONS] {
        assert_eq!(
            verdict(&s, m, "h", "/mcp", &admin),
            "deny by preset:mcp-methods"
        );
    }
}

#[test]
fn read_only_agents_call_only_read_only_tools() {
    let s = set(MCP);
    let bot = Who {
        name: "bot",
        groups: vec!["analysts"],
        user_type: Some("Agent"),
        ..Who::default()
    };
    assert_eq!(op(&s, &bot, Operation::Session), "allow by analysts");
    assert_eq!(
        verdict(&s, Method::POST, "h", "/mcp", &bot),
        "allow by analysts"
    );
    assert_eq!(op(&s, &bot, Operation::Tool("show")), "allow by analysts");
    assert_eq!(
        op(&s, &bot, Operation::Tool("run")),
        "deny by agent-cap:read-only"
    );
    assert_eq!(
        op(&s, &bot, Operation::Tool("build")),
        "deny by agent-cap:read-only"
    );
    assert_eq!(
        op(&s, &bot, Operation::Tool("execute_sql")),
        "deny by no-sql"
    );
}

#[test]
fn mcp_keys_belong_to_mcp_routes_and_patterns_must_name_something() {
    let text = refused(
        r#"routes:
  - name: app
    upstream: http://127.0.0.1:8000
    read_only_tools: [show]
    allow:
      - groups: [a]
        tools: [show]
"#,
    );
    assert!(
        text.contains("t.yaml:4:")
            && text.contains("`read_only_tools` is for routes with `preset: mcp`"),
        "{text}"
    );
    assert!(
        text.contains("t.yaml:7:") && text.contains("`tools` is for routes with `preset: mcp`"),
        "{text}"
    );
    let text = refused(
        r#"routes:
  - name: m
    preset: mcp
    upstream: http://127.0.0.1:8000
    allow:
      - groups: [a]
        tools: []
        prompts: [""]
"#,
    );
    assert!(
        text.contains("t.yaml:7:") && text.contains("`tools: []` is empty"),
        "{text}"
    );
    assert!(
        text.contains("t.yaml:8:") && text.contains("empty name pattern"),
        "{text}"
    );
}
