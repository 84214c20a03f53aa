//! `preset: dbt-docs`: the four UI files only, before any rule; prefixes and hosts with
//! their own groups; the upstream defaults; the route shape it needs; the example file.

use std::path::Path;

use http::Method;

use super::super::cli::run_tests;
use super::super::docs_preset::PATHS_RULE;
use super::super::model::RequestFacts;
use super::super::request::simple_normalise;
use super::super::PolicySet;
use super::{decide, refused, set, verdict, Who};

const DOCS: &str = r#"routes:
  - name: finance-docs
    preset: dbt-docs
    match: { path: /finance/** }
    strip_prefix: /finance
    upstream: http://127.0.0.1:8081
    allow:
      - name: finance
        groups: [finance-analysts]
      - name: widened
        groups: [auditors]
        paths: [/finance/**]
        methods: [GET, POST]
  - name: shop-docs
    preset: dbt-docs
    match: { host: shop-docs.example.com }
    upstream: http://127.0.0.1:8082
    keep_alive: true
    max_concurrency: 9
    compress: false
    allow: [{ name: shop, groups: [shop-analysts] }]
"#;

#[test]
fn only_the_ui_files_reach_a_docs_route_even_for_a_widened_allow_rule() {
    let s = set(DOCS);
    let ann = Who::named("ann", &["finance-analysts"]);
    let audit = Who::named("aud", &["auditors"]);
    for path in [
        "/finance",
        "/finance/",
        "/finance/index.html",
        "/finance/manifest.json",
        "/finance/catalog.json",
    ] {
        assert_eq!(
            verdict(&s, Method::GET, "h", path, &ann),
            "allow by finance"
        );
        assert_eq!(
            verdict(&s, Method::GET, "h", path, &audit),
            "allow by widened"
        );
    }
    let refused_to_all = format!("deny by {PATHS_RULE}");
    for path in [
        "/finance/run_results.json",
        "/finance/compiled/shop/models/a.sql",
        "/finance/run/shop/models/a.sql",
        "/finance/partial_parse.msgpack",
        "/finance/graph.gpickle",
        "/finance/Manifest.json",
        "/finance/index.html/",
        "/finance/logs/dbt.log",
    ] {
        assert_eq!(verdict(&s, Method::GET, "h", path, &ann), refused_to_all);
        assert_eq!(verdict(&s, Method::GET, "h", path, &audit), refused_to_all);
    }
    assert_eq!(
        verdict(&s, Method::POST, "h", "/finance/index.html", &audit),
        refused_to_all
    );
    // The refusal is located at the route's `preset` key.
    let d = decide(&s, Method::GET, "h", "/finance/run_results.json", &ann).unwrap();
    assert_eq!(&*d.by.location, "policies/t.yaml:3");
    // Who else could get in: nobody, for a path the preset refuses.
    let route = s.route("finance-docs").unwrap();
    let facts = |path| RequestFacts {
        method: &Method::GET,
        path,
    };
    assert!(s
        .allowing_groups(route, facts("/finance/run_results.json"))
        .is_empty());
    assert_eq!(
        s.allowing_groups(route, facts("/finance/manifest.json"))
            .len(),
        2
    );
}

#[test]
fn each_project_has_its_own_groups() {
    let s = set(DOCS);
    let ann = Who::named("ann", &["finance-analysts"]);
    let sam = Who::named("sam", &["shop-analysts"]);
    let shop = "shop-docs.example.com";
    assert_eq!(
        verdict(&s, Method::GET, shop, "/manifest.json", &sam),
        "allow by shop"
    );
    assert_eq!(
        verdict(&s, Method::GET, shop, "/manifest.json", &ann),
        "deny by default-deny"
    );
    assert_eq!(
        verdict(&s, Method::GET, shop, "/run_results.json", &sam),
        format!("deny by {PATHS_RULE}")
    );
    assert_eq!(
        verdict(&s, Method::GET, "h", "/finance/manifest.json", &sam),
        "deny by default-deny"
    );
}

#[test]
fn the_preset_sets_upstream_defaults_the_file_can_override() {
    let s = set(DOCS);
    let finance = &s.route("finance-docs").unwrap().settings;
    assert!(!finance.keep_alive);
    assert_eq!(finance.max_concurrency, Some(4));
    assert!(finance.compress);
    let shop = &s.route("shop-docs").unwrap().settings;
    assert!(shop.keep_alive);
    assert_eq!(shop.max_concurrency, Some(9));
    assert!(!shop.compress);
}

#[test]
fn the_bare_prefix_redirects_to_its_directory() {
    let s = set(DOCS);
    let finance = s.route("finance-docs").unwrap();
    assert_eq!(
        finance
            .docs_redirect("/finance", "/finance", Some("cb=1"))
            .as_deref(),
        Some("/finance/?cb=1")
    );
    assert_eq!(finance.docs_redirect("/finance/", "/finance/", None), None);
    let shop = s.route("shop-docs").unwrap();
    assert_eq!(shop.docs_redirect("/", "/", None), None);
}

#[test]
fn a_docs_route_must_take_a_stripped_subtree() {
    let base = "routes:\n  - name: d\n    preset: dbt-docs\n    upstream: http://127.0.0.1:1\n    allow: [{ everyone: true }]\n";
    let unstripped = format!("{base}    match: {{ path: /finance/** }}\n");
    let e = refused(&unstripped);
    assert!(
        e.contains("policies/t.yaml:3") && e.contains("strip_prefix"),
        "{e}"
    );
    let partial = format!("{base}    match: {{ path: /a/b/** }}\n    strip_prefix: /a\n");
    assert!(refused(&partial).contains("must be `/a/**`"));
    let one_file = format!("{base}    match: {{ path: /index.html }}\n");
    assert!(refused(&one_file).contains("preset dbt-docs"));
    // Without the preset, the same shapes are fine.
    set(&unstripped.replace("    preset: dbt-docs\n", ""));
}

#[test]
fn the_documented_example_compiles_and_passes_its_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/examples");
    // The examples directory also holds the dbt-platform example, whose injected
    // token comes from the environment.
    std::env::set_var("DBT_SERVICE_TOKEN", "dbtc_example");
    let set = PolicySet::load_dir(&root).unwrap();
    let docs: Vec<_> = set
        .routes()
        .iter()
        .filter(|r| r.preset == Some(crate::policy::Preset::DbtDocs))
        .collect();
    assert_eq!(docs.len(), 3);
    assert!(docs.iter().all(|r| r.settings.compress));
    let (passed, failures) = run_tests(
        &set,
        &root.join("tests/dbt-docs.test.yaml"),
        &simple_normalise,
    )
    .unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(passed >= 15, "{passed}");
}

#[test]
fn the_readme_preset_example_compiles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("policies/README.md")).unwrap();
    let section = &readme[readme.find("## Presets: dbt-docs").unwrap()..];
    let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
    let end = start + section[start..].find("```").unwrap();
    let s = set(&section[start..end]);
    let route = s.route("finance-docs").unwrap();
    assert!(route.settings.compress && !route.settings.keep_alive);
}
