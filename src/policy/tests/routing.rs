//! Choosing a route: host class, then literal segments, then file order.

use super::super::PolicySet;
use super::set;

const ROUTES: &str = r#"routes:
  - name: any-root
    upstream: http://127.0.0.1:1
  - name: any-finance
    match: { path: /finance/** }
    upstream: http://127.0.0.1:2
  - name: wild-root
    match: { host: "*.example.com" }
    upstream: http://127.0.0.1:3
  - name: exact-root
    match: { host: docs.example.com }
    upstream: http://127.0.0.1:4
  - name: exact-project
    match: { host: docs.example.com, path: "/projects/{project_id}/**" }
    upstream: http://127.0.0.1:5
  - name: exact-project-runs
    match: { host: docs.example.com, path: "/projects/{project_id}/runs/**" }
    upstream: http://127.0.0.1:6
  - name: any-star
    match: { path: /a/* }
    upstream: http://127.0.0.1:7
  - name: any-param
    match: { path: "/a/{x}" }
    upstream: http://127.0.0.1:8
"#;

fn route_of(s: &PolicySet, host: &str, path: &str) -> String {
    s.match_route(host, path)
        .map_or("none".to_owned(), |m| m.route.name.to_string())
}

#[test]
fn exact_host_beats_wildcard_beats_any() {
    let s = set(ROUTES);
    assert_eq!(route_of(&s, "docs.example.com", "/x"), "exact-root");
    assert_eq!(route_of(&s, "DOCS.example.COM:8443", "/x"), "exact-root");
    assert_eq!(route_of(&s, "other.example.com", "/x"), "wild-root");
    assert_eq!(route_of(&s, "example.com", "/x"), "any-root");
    assert_eq!(route_of(&s, "", "/x"), "any-root");
    // Host class comes before path specificity.
    assert_eq!(route_of(&s, "docs.example.com", "/finance/x"), "exact-root");
    assert_eq!(route_of(&s, "elsewhere.net", "/finance/x"), "any-finance");
}

#[test]
fn more_literal_segments_win_then_file_order() {
    let s = set(ROUTES);
    assert_eq!(
        route_of(&s, "docs.example.com", "/projects/7/runs/1"),
        "exact-project-runs"
    );
    assert_eq!(
        route_of(&s, "docs.example.com", "/projects/7/jobs/1"),
        "exact-project"
    );
    // `/a/*` and `/a/{x}` have one literal segment each: the earlier one wins.
    assert_eq!(route_of(&s, "x.net", "/a/b"), "any-star");
}

#[test]
fn matches_carry_the_route_parameters() {
    let s = set(ROUTES);
    let m = s
        .match_route("docs.example.com", "/projects/42/runs/9")
        .unwrap();
    let params: Vec<(&str, &str)> = m.params.iter().map(|(n, v)| (&**n, v.as_str())).collect();
    assert_eq!(params, vec![("project_id", "42")]);
    assert!(s.match_route("x.net", "/z").unwrap().params.is_empty());
}

#[test]
fn nothing_matches_without_a_route() {
    let s = set("routes:\n  - name: only\n    match: { host: a.example.com, path: /x }\n    upstream: http://h\n");
    assert!(s.match_route("a.example.com", "/y").is_none());
    assert!(s.match_route("b.example.com", "/x").is_none());
    assert!(s.match_route("a.example.com", "/x").is_some());
    assert!(s.route("only").is_some());
    assert!(s.route("other").is_none());
}

#[test]
fn files_are_read_in_the_order_given() {
    let a = "routes:\n  - name: first\n    match: { path: /x/* }\n    upstream: http://h\n";
    let b = "routes:\n  - name: second\n    match: { path: \"/x/{y}\" }\n    upstream: http://h\n";
    let s = PolicySet::from_sources(&[("a.yaml".into(), a.into()), ("b.yaml".into(), b.into())])
        .unwrap();
    assert_eq!(route_of(&s, "h", "/x/1"), "first");
    let s = PolicySet::from_sources(&[("b.yaml".into(), b.into()), ("a.yaml".into(), a.into())])
        .unwrap();
    assert_eq!(route_of(&s, "h", "/x/1"), "second");
}

#[test]
fn load_dir_reads_yaml_files_in_name_order_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let route = |name: &str| {
        format!("routes:\n  - name: {name}\n    match: {{ path: /x/* }}\n    upstream: http://h\n")
    };
    std::fs::write(dir.path().join("b.yml"), route("from-b")).unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        route("from-a").replace("/x/*", "\"/x/{p}\""),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml: [").unwrap();
    std::fs::write(dir.path().join(".#a.yaml"), "editor lock: [").unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("tests/x.yaml"), "cases: []").unwrap();
    let s = PolicySet::load_dir(dir.path()).unwrap();
    assert_eq!(s.files().len(), 2);
    assert!(s.files()[0].ends_with("a.yaml"));
    assert_eq!(route_of(&s, "h", "/x/1"), "from-a");
    let empty = tempfile::tempdir().unwrap();
    assert!(PolicySet::load_dir(empty.path())
        .unwrap()
        .routes()
        .is_empty());
    let missing = dir.path().join("missing");
    let e = PolicySet::load_dir(&missing).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: cannot read", missing.display())),
        "{e}"
    );
}
