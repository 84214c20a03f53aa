//! `policy check`, `explain` and `test`, and the shipped example policies.

use std::path::Path;

use super::super::cli::{check_to, explain, run_tests};
use super::super::request::simple_normalise;
use super::super::PolicySet;
use super::subject::directory;

const POLICY: &str = r#"routes:
  - name: docs
    match: { host: docs.example.com }
    upstream: http://127.0.0.1:8081
    allow:
      - name: analysts-read
        groups: [Finance-Analysts, Empty-Group, Ghosts]
        methods: [GET, HEAD]
    deny:
      - paths: [/run_results.json]
"#;

fn write_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn check_output(dir: &Path, with_directory: bool) -> (bool, String) {
    let directory = directory();
    let mut out = Vec::new();
    let ok = check_to(&mut out, dir, with_directory.then_some(&*directory)).unwrap();
    (ok, String::from_utf8(out).unwrap())
}

#[test]
fn check_reports_files_and_warns_about_groups() {
    let dir = write_dir(&[("docs.yaml", POLICY), ("empty.yaml", "")]);
    let (ok, out) = check_output(dir.path(), true);
    assert!(ok);
    let d = dir.path().display();
    assert_eq!(
        out,
        format!(
            "{d}/docs.yaml: ok (1 route)\n{d}/empty.yaml: ok (0 routes)\n\
             warning: group `Empty-Group` ({d}/docs.yaml:6) has no members\n\
             warning: group `Ghosts` ({d}/docs.yaml:6) does not exist in the directory\n"
        )
    );
    let (ok, out) = check_output(dir.path(), false);
    assert!(ok);
    assert!(!out.contains("warning"), "{out}");
}

#[test]
fn check_lists_every_problem_and_fails() {
    let dir = write_dir(&[
        ("a.yaml", "routes:\n  - name: a\n    upstream: ftp://x\n"),
        ("b.yaml", "routes: [\n"),
    ]);
    let (ok, out) = check_output(dir.path(), true);
    assert!(!ok);
    let d = dir.path().display();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(&format!("{d}/a.yaml:3:15: upstream")),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("{d}/b.yaml:1:9: unclosed bracket")),
        "{out}"
    );
    assert_eq!(lines[2], "2 problems: the policies were not loaded");
}

#[test]
fn check_of_an_empty_or_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = check_output(dir.path(), false);
    assert!(ok);
    assert!(out.contains("no policy files"), "{out}");
    let (ok, out) = check_output(&dir.path().join("missing"), false);
    assert!(!ok);
    assert!(out.contains("cannot read"), "{out}");
}

#[test]
fn explain_shows_route_user_groups_and_rule() {
    let set = super::set(POLICY);
    let dir = directory();
    let out = explain(
        &set,
        None,
        &dir,
        "ALICE",
        "get",
        "https://docs.example.com/a/./b?x=1",
        &simple_normalise,
    )
    .unwrap();
    assert_eq!(
        out,
        "request:  GET docs.example.com /a/b\n\
         route:    docs (policies/t.yaml:2; host docs.example.com, path /**)\n\
         user:     alice (active, license analyst)\n\
         groups:   Data-Platform, Finance-Analysts, Ünïcode-Team\n\
         decision: allow by analysts-read (policies/t.yaml:6)\n"
    );
    let out = explain(
        &set,
        None,
        &dir,
        "bob",
        "POST",
        "https://docs.example.com/",
        &simple_normalise,
    )
    .unwrap();
    assert!(out.contains("groups:   none\n"), "{out}");
    assert!(
        out.contains("decision: deny by default-deny (policies/t.yaml:2)\n"),
        "{out}"
    );
    assert!(
        !out.contains("allowed:"),
        "POST is allowed to no group: {out}"
    );
    let out = explain(
        &set,
        None,
        &dir,
        "bob",
        "GET",
        "https://docs.example.com/",
        &simple_normalise,
    )
    .unwrap();
    assert!(
        out.ends_with("allowed:  members of Finance-Analysts, Empty-Group, Ghosts\n"),
        "{out}"
    );
    let out = explain(
        &set,
        None,
        &dir,
        "carol",
        "GET",
        "https://docs.example.com/",
        &simple_normalise,
    )
    .unwrap();
    assert!(out.contains("user:     carol (inactive)\n"), "{out}");
    assert!(out.contains("decision: deny by inactive-user"), "{out}");
    let out = explain(
        &set,
        None,
        &dir,
        "zed",
        "GET",
        "https://docs.example.com/",
        &simple_normalise,
    )
    .unwrap();
    assert!(out.contains("decision: deny by unknown-user"), "{out}");
    let out = explain(
        &set,
        None,
        &dir,
        "alice",
        "GET",
        "https://other.example.com/",
        &simple_normalise,
    )
    .unwrap();
    assert!(out.ends_with("decision: deny by no-route\n"), "{out}");
    let out = explain(
        &set,
        None,
        &dir,
        "alice",
        "GET",
        "https://docs.example.com/a%2fb",
        &simple_normalise,
    )
    .unwrap();
    assert!(out.contains("decision: deny by bad-path"), "{out}");
    assert!(explain(
        &set,
        None,
        &dir,
        "alice",
        "GET",
        "docs.example.com/",
        &simple_normalise
    )
    .is_err());
}

const TESTS: &str = r#"users:
  - { userName: alice, groups: [finance-analysts] }
  - { userName: carol, groups: [finance-analysts], active: false }
cases:
  - name: analysts read
    who: alice
    request: GET https://docs.example.com/index.html
    expect: allow
    rule: analysts-read
    route: docs
  - { name: run results hidden, who: Alice, request: "GET https://docs.example.com/RUN_RESULTS.json", expect: deny, rule: "deny[0]" }
  - { name: inactive, who: carol, request: "GET https://docs.example.com/", expect: deny, rule: inactive-user }
  - { name: unknown, who: zed, request: "GET https://docs.example.com/", expect: deny, rule: unknown-user }
  - { name: other host, who: alice, request: "GET https://x.example.com/", expect: deny, rule: no-route }
  - { name: ambiguous, who: alice, request: "GET https://docs.example.com/a%2fb", expect: deny, rule: bad-path }
  - { name: wrong expectation, who: alice, request: "POST https://docs.example.com/", expect: allow }
  - { name: wrong rule, who: alice, request: "GET https://docs.example.com/", expect: allow, rule: other }
  - { name: wrong route, who: alice, request: "GET https://docs.example.com/", expect: allow, route: api }
  - { name: bad request, who: alice, request: "GET", expect: allow }
"#;

#[test]
fn run_tests_reports_passes_and_failures_with_places() {
    let set = super::set(POLICY);
    let dir = write_dir(&[("docs.test.yaml", TESTS)]);
    let file = dir.path().join("docs.test.yaml");
    let (passed, failures) = run_tests(&set, &file, &simple_normalise).unwrap();
    let f = file.display();
    assert_eq!(passed, 6, "{failures:#?}");
    assert_eq!(
        failures,
        vec![
            format!("{f}:16: wrong expectation: expected allow, got deny by default-deny (policies/t.yaml:2)"),
            format!("{f}:17: wrong rule: expected allow by other, got allow by analysts-read (policies/t.yaml:6)"),
            format!("{f}:18: wrong route: expected route api, got docs"),
            format!("{f}:19: bad request: request `GET`: write `METHOD URL`, e.g. `GET https://docs.example.com/`"),
        ]
    );
}

#[test]
fn run_tests_refuses_a_malformed_file_with_its_position() {
    let set = super::set(POLICY);
    let dir = write_dir(&[
        (
            "t.yaml",
            "cases:\n  - name: x\n    who: a\n    request: GET /\n    expect: maybe\n",
        ),
        (
            "u.yaml",
            "users:\n  - { userName: a }\n  - { userName: A }\n",
        ),
    ]);
    let e = run_tests(&set, &dir.path().join("t.yaml"), &simple_normalise).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:5:13: ", dir.path().join("t.yaml").display())),
        "{e}"
    );
    let e = run_tests(&set, &dir.path().join("u.yaml"), &simple_normalise).unwrap_err();
    assert!(
        e.to_string().ends_with(":3:5: user `A` is listed twice"),
        "{e}"
    );
}

#[test]
fn shipped_policies_load_and_pass_their_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = PolicySet::load_dir(&root.join("policies")).unwrap();
    assert!(set.route("dbt-docs").is_some());
    let (passed, failures) = run_tests(
        &set,
        &root.join("policies/tests/docs.test.yaml"),
        &simple_normalise,
    )
    .unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(passed >= 10, "{passed}");
}

#[test]
fn the_readme_example_compiles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("policies/README.md")).unwrap();
    let start = readme.find("```yaml\nroutes:").unwrap() + "```yaml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    std::env::set_var("DBT_SERVICE_TOKEN", "dbtc_example");
    let set = super::set(&readme[start..end]);
    let route = set.route("finance-docs").unwrap();
    assert_eq!(route.settings.strip_prefix.as_deref(), Some("/finance"));
}

#[test]
fn the_dbt_platform_example_loads_and_passes_its_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_var("DBT_SERVICE_TOKEN", "dbtc_example");
    let set = PolicySet::load_dir(&root.join("policies/examples")).unwrap();
    let route = set.route("dbt-platform-api").unwrap();
    assert_eq!(route.dbt_platform().unwrap().grants.len(), 5);
    assert!(set.agent_cap().is_some());
    let (passed, failures) = run_tests(
        &set,
        &root.join("policies/examples/tests/dbt-platform.test.yaml"),
        &simple_normalise,
    )
    .unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(passed, 20);
}

#[test]
fn explain_shows_the_operation_and_the_deciding_grant() {
    std::env::set_var("DBT_SERVICE_TOKEN", "dbtc_example");
    let set = super::set(
        "routes:\n  - name: dbt\n    preset: dbt-platform\n    upstream: https://h\n    grants:\n      - { group: finance-analysts, permission_set: job_admin, projects: [123] }\n",
    );
    let dir = directory();
    let out = explain(
        &set,
        None,
        &dir,
        "alice",
        "POST",
        "https://h/api/v3/accounts/1/projects/123/connections/4/",
        &simple_normalise,
    )
    .unwrap();
    assert!(
        out.contains("operation: POST /api/v3/accounts/{account_id}/projects/{project_id}/connections/{id}/ (data-platform-configs write, project 123)\n"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "decision: allow by grant[0]:finance-analysts:job_admin (policies/t.yaml:6)\n\
             cell:     dbt \"Enterprise permissions\", Project access for project permissions: Data platform configurations × Job admin = W\n"
        ),
        "{out}"
    );
    let out = explain(
        &set,
        None,
        &dir,
        "bob",
        "POST",
        "https://h/api/v3/accounts/1/projects/123/connections/4/",
        &simple_normalise,
    )
    .unwrap();
    assert!(
        out.ends_with("allowed:  members of finance-analysts\n"),
        "{out}"
    );
}
