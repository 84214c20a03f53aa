//! The dbt-platform preset in a policy set: project scoping, most permissive grant,
//! licenses (fixed grants and the analyst cap), the agents cap, unknown operations,
//! the decision order, what the 403 page and `policy check` are told, and validation
//! positions.

use http::Method;

use super::{allowing, decide, refused, set, verdict, Who};

const DBT: &str = r#"routes:
  - name: dbt
    preset: dbt-platform
    upstream: https://cloud.example.com
    deny:
      - name: no-account-deletes
        methods: [DELETE]
        paths: ["/api/v3/accounts/*/projects/*/"]
    allow:
      - name: ops-reads-audit
        groups: [ops]
        methods: [GET]
        paths: ["/api/v3/accounts/*/audit-logs/**"]
    grants:
      - { group: analytics-engineers, permission_set: developer, projects: [123] }
      - { group: schedulers, permission_set: job_admin, projects: [123] }
      - { group: stakeholders, permission_set: stakeholder }
      - { group: platform, permission_set: account_admin }
      - { group: security, permission_set: security_admin }
  - name: docs
    match: { path: /docs/** }
    upstream: http://127.0.0.1:8081
    allow:
      - { groups: [bots, stakeholders], methods: [GET, POST] }
agents:
  user_types: [agent, Service]
  access: read-only
  routes: [dbt]
"#;

const ENV_123: &str = "/api/v3/accounts/1/projects/123/environments/4/";
const ENV_456: &str = "/api/v3/accounts/1/projects/456/environments/4/";

fn who(groups: &[&'static str], license: Option<&'static str>) -> Who {
    Who {
        license,
        ..Who::named("u", groups)
    }
}

#[test]
fn project_grants_cover_only_their_projects_and_never_account_writes() {
    let s = set(DBT);
    let sched = who(&["schedulers"], None);
    assert_eq!(
        verdict(&s, Method::POST, "h", ENV_123, &sched),
        "allow by grant[1]:schedulers:job_admin"
    );
    assert_eq!(
        verdict(&s, Method::POST, "h", ENV_456, &sched),
        "deny by default-deny"
    );
    // Account-level operations (no project in the path): a project grant gives nothing.
    assert_eq!(
        verdict(&s, Method::POST, "h", "/api/v2/accounts/1/jobs/", &sched),
        "deny by default-deny"
    );
    assert_eq!(
        verdict(&s, Method::GET, "h", "/api/v2/accounts/1/jobs/", &sched),
        "deny by default-deny"
    );
    // `{id}` right after `projects` is the project (developer reads projects).
    assert_eq!(
        verdict(
            &s,
            Method::GET,
            "h",
            "/api/v3/accounts/1/projects/123/",
            &who(&["analytics-engineers"], None)
        ),
        "allow by grant[0]:analytics-engineers:developer"
    );
    assert_eq!(
        verdict(
            &s,
            Method::GET,
            "h",
            "/api/v3/accounts/1/projects/456/",
            &who(&["analytics-engineers"], None)
        ),
        "deny by default-deny"
    );
}

#[test]
fn the_most_permissive_grant_wins_across_groups() {
    let s = set(DBT);
    // Developer on 123 reads environments; job_admin on 123 edits them; stakeholder
    // everywhere reads. In all three groups, the edit on 123 is allowed.
    let many = who(&["stakeholders", "analytics-engineers", "schedulers"], None);
    assert_eq!(
        verdict(&s, Method::POST, "h", ENV_123, &many),
        "allow by grant[1]:schedulers:job_admin"
    );
    assert_eq!(
        verdict(&s, Method::GET, "h", ENV_456, &many),
        "allow by grant[2]:stakeholders:stakeholder"
    );
    assert_eq!(
        verdict(&s, Method::POST, "h", ENV_456, &many),
        "deny by default-deny"
    );
    let dev_only = who(&["analytics-engineers"], None);
    assert_eq!(
        verdict(&s, Method::POST, "h", ENV_123, &dev_only),
        "deny by default-deny"
    );
}

#[test]
fn read_only_and_it_licenses_are_fixed_grants_whatever_the_groups() {
    let s = set(DBT);
    let admin_ro = who(&["platform"], Some("read_only"));
    let alone_ro = who(&[], Some("read_only"));
    for ro in [&admin_ro, &alone_ro] {
        // The Stakeholder/Read-Only column: reads of project surfaces, on every project.
        assert_eq!(
            verdict(&s, Method::GET, "h", ENV_456, ro),
            "allow by license:read_only"
        );
        assert_eq!(
            verdict(&s, Method::POST, "h", ENV_123, ro),
            "deny by default-deny"
        );
        // Not the audit log, SSO/SCIM configuration or service tokens.
        for path in [
            "/api/v3/accounts/1/audit-logs/",
            "/api/v3/accounts/1/oauth-configurations/",
            "/api/v3/accounts/1/scim-config/",
            "/api/v3/accounts/1/service-tokens/",
        ] {
            assert_eq!(
                verdict(&s, Method::GET, "h", path, ro),
                "deny by default-deny",
                "{path}"
            );
        }
    }
    let admin_it = who(&["platform"], Some("it"));
    let alone_it = who(&[], Some("it"));
    for it in [&admin_it, &alone_it] {
        // Security admin + billing admin.
        assert_eq!(
            verdict(
                &s,
                Method::POST,
                "h",
                "/api/v3/accounts/1/ip-restrictions/",
                it
            ),
            "allow by license:it"
        );
        assert_eq!(
            verdict(
                &s,
                Method::PATCH,
                "h",
                "/api/v3/accounts/1/scim/v2/Users/x",
                it
            ),
            "allow by license:it"
        );
        assert_eq!(
            verdict(&s, Method::GET, "h", "/api/v2/accounts/1/", it),
            "allow by license:it"
        );
        // Not the account's settings (security admin reads them), not jobs.
        assert_eq!(
            verdict(&s, Method::POST, "h", "/api/v2/accounts/1/", it),
            "deny by default-deny"
        );
        assert_eq!(
            verdict(&s, Method::GET, "h", "/api/v2/accounts/1/jobs/5/", it),
            "deny by default-deny"
        );
    }
    // An unknown license value is read_only.
    let odd = who(&["platform"], Some("enterprise-plus"));
    assert_eq!(
        verdict(&s, Method::POST, "h", ENV_123, &odd),
        "deny by default-deny"
    );
    assert_eq!(
        verdict(&s, Method::GET, "h", ENV_123, &odd),
        "allow by license:read_only"
    );
    // No license: the default (developer) takes the grants as they are.
    let none = who(&["platform"], None);
    assert_eq!(
        verdict(&s, Method::POST, "h", ENV_123, &none),
        "allow by grant[3]:platform:account_admin"
    );
}

#[test]
fn an_analyst_license_caps_grants_at_the_analyst_column() {
    let s = set(DBT);
    let admin = who(&["platform"], Some("analyst"));
    // account_admin edits environments; the analyst column reads them.
    assert_eq!(
        verdict(&s, Method::POST, "h", ENV_123, &admin),
        "deny by default-deny"
    );
    assert_eq!(
        verdict(&s, Method::GET, "h", ENV_123, &admin),
        "allow by grant[3]:platform:account_admin"
    );
    // Data platform configurations: W in both columns.
    assert_eq!(
        verdict(
            &s,
            Method::POST,
            "h",
            "/api/v3/accounts/1/projects/123/connections/4/",
            &admin
        ),
        "allow by grant[3]:platform:account_admin"
    );
    // Nothing the analyst column does not have, whatever the grant.
    assert_eq!(
        verdict(
            &s,
            Method::GET,
            "h",
            "/api/v3/accounts/1/audit-logs/",
            &admin
        ),
        "deny by default-deny"
    );
}

#[test]
fn default_license_is_the_routes_choice() {
    let s = set(&DBT.replace(
        "    preset: dbt-platform\n",
        "    preset: dbt-platform\n    default_license: read_only\n",
    ));
    let none = who(&["platform"], None);
    assert_eq!(
        verdict(&s, Method::POST, "h", ENV_123, &none),
        "deny by default-deny"
    );
    assert!(verdict(&s, Method::GET, "h", ENV_123, &none).starts_with("allow"));
    let dev = who(&["platform"], Some("developer"));
    assert!(verdict(&s, Method::POST, "h", ENV_123, &dev).starts_with("allow"));
}

#[test]
fn agents_are_capped_on_every_route() {
    let s = set(DBT);
    let agent = Who {
        user_type: Some("service"),
        ..who(&["platform", "bots"], None)
    };
    assert_eq!(
        verdict(&s, Method::GET, "h", ENV_123, &agent),
        "allow by grant[3]:platform:account_admin"
    );
    // GraphQL POSTs are reads.
    assert!(verdict(&s, Method::POST, "h", "/graphql", &agent).starts_with("allow"));
    assert_eq!(
        verdict(&s, Method::POST, "h", ENV_123, &agent),
        "deny by agent-cap:read-only"
    );
    // Routes not listed are closed to agents, whatever their groups.
    assert_eq!(
        verdict(&s, Method::GET, "h", "/docs/x", &agent),
        "deny by agent-cap:routes"
    );
    let d = decide(&s, Method::GET, "h", "/docs/x", &agent).unwrap();
    assert_eq!(&*d.by.location, "policies/t.yaml:26");
    // People are not capped.
    let person = who(&["bots"], None);
    assert!(verdict(&s, Method::POST, "h", "/docs/x", &person).starts_with("allow"));
}

#[test]
fn the_read_only_agent_cap_applies_to_plain_routes_by_method() {
    let s = set(&DBT.replace("  routes: [dbt]\n", ""));
    let agent = Who {
        user_type: Some("AGENT"),
        ..who(&["bots"], None)
    };
    assert!(verdict(&s, Method::GET, "h", "/docs/x", &agent).starts_with("allow"));
    assert_eq!(
        verdict(&s, Method::POST, "h", "/docs/x", &agent),
        "deny by agent-cap:read-only"
    );
}

#[test]
fn unknown_operations_are_denied_before_anything_allows() {
    let s = set(DBT);
    let admin = who(&["platform", "ops"], None);
    assert_eq!(
        verdict(&s, Method::PUT, "h", "/api/v2/accounts/1/jobs/5/", &admin),
        "deny by preset:unknown-operation"
    );
    assert_eq!(
        verdict(&s, Method::GET, "h", "/api/v4/anything", &admin),
        "deny by preset:unknown-operation"
    );
    // Deny rules come first, then explicit allow rules, then grants.
    assert_eq!(
        verdict(
            &s,
            Method::DELETE,
            "h",
            "/api/v3/accounts/1/projects/123/",
            &admin
        ),
        "deny by no-account-deletes"
    );
    assert_eq!(
        verdict(
            &s,
            Method::GET,
            "h",
            "/api/v3/accounts/1/audit-logs/",
            &admin
        ),
        "allow by ops-reads-audit"
    );
}

#[test]
fn the_403_page_names_grant_groups_that_would_allow() {
    let s = set(DBT);
    let groups = |method: Method, path: &str| allowing(&s, "dbt", method, path);
    assert_eq!(groups(Method::POST, ENV_123), ["schedulers", "platform"]);
    assert_eq!(groups(Method::POST, ENV_456), ["platform"]);
    assert_eq!(
        groups(Method::POST, "/api/v3/accounts/1/ip-restrictions/"),
        ["platform", "security"]
    );
    assert!(groups(Method::PUT, "/api/v2/accounts/1/jobs/5/").is_empty());
    assert_eq!(
        groups(Method::GET, "/api/v3/accounts/1/audit-logs/"),
        ["ops", "platform", "security"]
    );
    let referenced = s.referenced_groups();
    assert!(
        referenced.iter().any(|g| &**g == "schedulers"),
        "{referenced:?}"
    );
}

#[test]
fn grants_and_agents_are_validated_with_positions() {
    let bad = refused(
        "routes:\n  - name: dbt\n    preset: dbt-platform\n    upstream: https://h\n    default_license: gold\n    grants:\n      - { group: a, permission_set: wizard }\n      - { group: b, permission_set: developer, projects: [0, 12] }\n      - { group: c, permission_set: developer, projects: [] }\n",
    );
    assert!(
        bad.contains("policies/t.yaml:5:22: unknown default_license `gold`"),
        "{bad}"
    );
    assert!(
        bad.contains("policies/t.yaml:7:37: unknown permission_set `wizard`"),
        "{bad}"
    );
    assert!(
        bad.contains("policies/t.yaml:8:59: project id `0` is not a positive integer"),
        "{bad}"
    );
    assert!(
        bad.contains("policies/t.yaml:9:58: `projects: []` covers no project"),
        "{bad}"
    );
    let plain = refused(
        "routes:\n  - name: r\n    upstream: http://h\n    grants: [{ group: a, permission_set: developer }]\n",
    );
    assert!(
        plain.contains("policies/t.yaml:4:13: `grants` are for routes with `preset: dbt-platform`"),
        "{plain}"
    );
    let agents = refused(
        "routes:\n  - name: r\n    upstream: http://h\nagents:\n  user_types: [agent]\n  access: sometimes\n  routes: [r, nope]\n",
    );
    assert!(
        agents.contains("policies/t.yaml:6:11: unknown access `sometimes`"),
        "{agents}"
    );
    let names = refused(
        "routes:\n  - name: r\n    upstream: http://h\nagents:\n  user_types: [agent]\n  routes: [r, nope]\n",
    );
    assert!(
        names.contains("policies/t.yaml:6:15: agents.routes: no route is named `nope`"),
        "{names}"
    );
    // A route refused for its own problem is reported once, not also as missing.
    let broken = refused(
        "routes:\n  - name: r\n    upstream: ftp://h\nagents:\n  user_types: [agent]\n  routes: [r]\n",
    );
    assert!(broken.contains("policies/t.yaml:3:15"), "{broken}");
    assert!(!broken.contains("no route is named"), "{broken}");
}
