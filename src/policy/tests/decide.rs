//! Decisions: deny beats allow, default deny, who conditions, parameters, case rules,
//! and what the 403 page and `policy check` are told.

use http::Method;

use super::{allowing, decide, set, verdict, Who};

const DOCS: &str = r#"routes:
  - name: docs
    match: { path: "/p/{project_id}/**" }
    upstream: http://127.0.0.1:8081
    allow:
      - name: analysts
        groups: [Analysts, finance]
        methods: [GET, HEAD]
      - name: project-123
        groups: [project-team]
        params: { project_id: ["123"] }
      - name: bob
        users: [bob]
    deny:
      - name: secrets
        paths: ["/p/*/run_results.json", "/p/*/compiled/**"]
      - name: no-contractors-in-456
        user_types: [contractor]
        paths: ["/p/456/**"]
"#;

#[test]
fn allow_by_the_first_matching_rule() {
    let s = set(DOCS);
    let ann = Who::named("ann", &["analysts", "project-team"]);
    assert_eq!(
        verdict(&s, Method::GET, "h", "/p/123/index.html", &ann),
        "allow by analysts"
    );
    assert_eq!(
        verdict(&s, Method::POST, "h", "/p/123/index.html", &ann),
        "allow by project-123"
    );
    assert_eq!(
        verdict(&s, Method::POST, "h", "/p/999/index.html", &ann),
        "deny by default-deny"
    );
    let d = decide(&s, Method::GET, "h", "/p/1/x", &ann).unwrap();
    assert!(d.allow);
    assert_eq!(&*d.by.route, "docs");
    assert_eq!(&*d.by.location, "policies/t.yaml:6");
}

#[test]
fn deny_beats_allow_whatever_the_order() {
    let s = set(DOCS);
    let ann = Who::named("ann", &["analysts"]);
    let d = decide(&s, Method::GET, "h", "/p/1/run_results.json", &ann).unwrap();
    assert!(!d.allow);
    assert_eq!(&*d.by.rule, "secrets");
    assert_eq!(&*d.by.location, "policies/t.yaml:15");
    // Deny paths fold case; allow paths do not.
    assert_eq!(
        verdict(&s, Method::GET, "h", "/p/1/RUN_Results.JSON", &ann),
        "deny by secrets"
    );
    assert_eq!(
        verdict(&s, Method::GET, "h", "/p/1/Compiled/m.sql", &ann),
        "deny by secrets"
    );
    // Allow listed before deny in the file: deny still wins.
    let reversed = set("routes:\n  - name: r\n    upstream: http://h\n    allow: [{ everyone: true }]\n    deny: [{ paths: [/x] }]\n");
    let anyone = Who::named("z", &[]);
    assert_eq!(
        verdict(&reversed, Method::GET, "h", "/x", &anyone),
        "deny by deny[0]"
    );
    assert_eq!(
        verdict(&reversed, Method::GET, "h", "/X", &anyone),
        "deny by deny[0]"
    );
    assert_eq!(
        verdict(&reversed, Method::GET, "h", "/y", &anyone),
        "allow by allow[0]"
    );
}

#[test]
fn deny_rules_with_who_apply_only_to_them() {
    let s = set(DOCS);
    let mut contractor = Who::named("c", &["analysts"]);
    contractor.user_type = Some("Contractor");
    assert_eq!(
        verdict(&s, Method::GET, "h", "/p/456/x", &contractor),
        "deny by no-contractors-in-456"
    );
    assert_eq!(
        verdict(&s, Method::GET, "h", "/p/457/x", &contractor),
        "allow by analysts"
    );
    let employee = Who::named("e", &["analysts"]);
    assert_eq!(
        verdict(&s, Method::GET, "h", "/p/456/x", &employee),
        "allow by analysts"
    );
}

#[test]
fn default_deny_is_located_at_the_route() {
    let s = set(DOCS);
    let nobody = Who::named("nobody", &[]);
    let d = decide(&s, Method::GET, "h", "/p/1/x", &nobody).unwrap();
    assert!(!d.allow);
    assert_eq!(&*d.by.rule, "default-deny");
    assert_eq!(&*d.by.location, "policies/t.yaml:2");
    let empty = set("routes:\n  - name: r\n    upstream: http://h\n");
    assert_eq!(
        verdict(&empty, Method::GET, "h", "/", &nobody),
        "deny by default-deny"
    );
}

#[test]
fn users_and_groups_compare_without_case() {
    let s = set(DOCS);
    assert_eq!(
        verdict(&s, Method::DELETE, "h", "/p/9/x", &Who::named("BOB", &[])),
        "allow by bob"
    );
    assert_eq!(
        verdict(
            &s,
            Method::GET,
            "h",
            "/p/9/x",
            &Who::named("x", &["FINANCE"])
        ),
        "allow by analysts"
    );
}

#[test]
fn params_constrain_by_captured_value() {
    let s = set(DOCS);
    let team = Who::named("t", &["project-team"]);
    assert_eq!(
        verdict(&s, Method::PUT, "h", "/p/123/a", &team),
        "allow by project-123"
    );
    assert_eq!(
        verdict(&s, Method::PUT, "h", "/p/1234/a", &team),
        "deny by default-deny"
    );
    let rule_params = set(r#"routes:
  - name: r
    upstream: http://h
    allow:
      - everyone: true
        paths: ["/runs/{run}/**", "/other/{run}"]
        params: { run: ["7", "8"] }
    deny:
      - paths: ["/runs/{run}/**"]
        params: { run: [ab] }
"#);
    let any = Who::named("a", &[]);
    assert_eq!(
        verdict(&rule_params, Method::GET, "h", "/runs/7/x", &any),
        "allow by allow[0]"
    );
    assert_eq!(
        verdict(&rule_params, Method::GET, "h", "/other/8", &any),
        "allow by allow[0]"
    );
    assert_eq!(
        verdict(&rule_params, Method::GET, "h", "/runs/9/x", &any),
        "deny by default-deny"
    );
    // Deny parameters fold case too.
    assert_eq!(
        verdict(&rule_params, Method::GET, "h", "/runs/AB/x", &any),
        "deny by deny[0]"
    );
}

#[test]
fn licenses_and_user_types_need_a_value() {
    let s = set("routes:\n  - name: r\n    upstream: http://h\n    allow:\n      - { name: devs, licenses: [developer] }\n      - { name: staff, user_types: [Employee] }\n");
    let mut dev = Who::named("d", &[]);
    dev.license = Some("developer");
    assert_eq!(verdict(&s, Method::GET, "h", "/", &dev), "allow by devs");
    let mut staff = Who::named("s", &[]);
    staff.user_type = Some("EMPLOYEE");
    assert_eq!(verdict(&s, Method::GET, "h", "/", &staff), "allow by staff");
    assert_eq!(
        verdict(&s, Method::GET, "h", "/", &Who::named("n", &[])),
        "deny by default-deny"
    );
}

#[test]
fn allowing_groups_names_groups_whose_rules_fit_the_request() {
    let s = set(DOCS);
    let groups = |method: Method, path: &str| allowing(&s, "docs", method, path);
    assert_eq!(
        groups(Method::GET, "/p/123/x"),
        vec!["Analysts", "finance", "project-team"]
    );
    assert_eq!(groups(Method::GET, "/p/9/x"), vec!["Analysts", "finance"]);
    assert_eq!(groups(Method::POST, "/p/123/x"), vec!["project-team"]);
    // Never user names; nothing when a deny rule refuses everyone.
    assert!(groups(Method::POST, "/p/9/x").is_empty());
    assert!(groups(Method::GET, "/p/123/run_results.json").is_empty());
}

#[test]
fn referenced_groups_are_listed_once() {
    let s = set(DOCS);
    let got: Vec<String> = s
        .referenced_groups()
        .iter()
        .map(|g| g.to_string())
        .collect();
    assert_eq!(got, vec!["Analysts", "finance", "project-team"]);
    let refs = s.group_references();
    assert_eq!(&*refs[0].1, "policies/t.yaml:6");
}

/// 200 rules, a user in 50 groups: the deciding rule is the last allow rule.
#[test]
fn large_routes_decide_correctly() {
    let mut yaml = String::from("routes:\n  - name: big\n    upstream: http://h\n    deny:\n");
    for i in 0..100 {
        yaml.push_str(&format!(
            "      - {{ groups: [blocked-{i}], paths: [/d/{i}/**] }}\n"
        ));
    }
    yaml.push_str("    allow:\n");
    for i in 0..100 {
        yaml.push_str(&format!(
            "      - {{ name: r{i}, groups: [group-{i}, Other-{i}], methods: [GET] }}\n"
        ));
    }
    let s = set(&yaml);
    let names: Vec<&'static str> = (50..100)
        .map(|i| &*Box::leak(format!("member-{i}").into_boxed_str()))
        .chain(["group-99"])
        .collect();
    let who = Who::named("u", &names);
    assert_eq!(
        verdict(&s, Method::GET, "h", "/d/3/x", &who),
        "allow by r99"
    );
    assert_eq!(
        verdict(&s, Method::POST, "h", "/d/3/x", &who),
        "deny by default-deny"
    );
}
