//! Every key of the language is read into the compiled route.

use std::time::Duration;

use http::{HeaderName, Method};

use super::super::host::HostPattern;
use super::super::route::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT};
use super::super::PolicySet;
use super::{set, verdict, Who, FILE};

const FULL: &str = r#"# every key
routes:
  - name: finance-docs
    match:
      host: Docs.Example.com
      path: /finance/**
    upstream: http://127.0.0.1:8080/base
    strip_prefix: /finance
    keep_alive: false
    max_concurrency: 4
    timeouts: { connect: 500ms, response: 2m }
    compress: true
    preserve_host: true
    allow_ambiguous_paths: true
    upstream_h2c: true
    inject:
      authorization: "Token ${env:SCIMGATE_POLICY_PARSE_TOKEN}"
      X-Extra: plain
    allow:
      - name: analysts-read
        groups: [finance-analysts, Data-Platform]
        users: [Alice@example.com]
        licenses: [developer, analyst]
        user_types: [Employee]
        methods: [GET, HEAD]
        paths: ["/finance/{project_id}/**"]
        params: { project_id: ["123", 456] }
      - everyone: true
        methods: [GET]
        paths: [/finance/public/**]
    deny:
      - paths: [/finance/run_results.json, /finance/compiled/**]
  - name: api
    match: { host: "*.example.com" }
    upstream: https://cloud.getdbt.com
    upstream_ca_file: /etc/ssl/ca.pem
    allow: [{ users: [bob] }]
"#;

#[test]
fn every_route_key_is_compiled() {
    std::env::set_var("SCIMGATE_POLICY_PARSE_TOKEN", "dbtc_abc");
    let s = set(FULL);
    assert_eq!(s.routes().len(), 2);
    let r = s.route("finance-docs").unwrap();
    assert_eq!(&*r.location, format!("{FILE}:3"));
    assert_eq!(r.file(), FILE);
    assert_eq!(
        *r.host_pattern(),
        HostPattern::Exact("docs.example.com".into())
    );
    assert_eq!(r.path_pattern().as_str(), "/finance/**");
    let st = &r.settings;
    assert_eq!(st.upstream.to_string(), "http://127.0.0.1:8080/base");
    assert_eq!(st.strip_prefix.as_deref(), Some("/finance"));
    assert!(!st.keep_alive);
    assert_eq!(st.max_concurrency, Some(4));
    assert_eq!(st.connect_timeout, Duration::from_millis(500));
    assert_eq!(st.response_timeout, Duration::from_secs(120));
    assert!(st.compress);
    assert!(st.preserve_host);
    assert!(st.allow_ambiguous_paths);
    assert!(st.upstream_h2c);
    assert_eq!(st.upstream_ca_file, None);
    let inject: Vec<(&str, &str)> = st
        .inject
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .collect();
    assert_eq!(
        inject,
        vec![("authorization", "Token dbtc_abc"), ("x-extra", "plain")]
    );
    assert!(st.inject.iter().all(|(_, v)| v.is_sensitive()));
    assert_eq!(st.inject[0].0, HeaderName::from_static("authorization"));
    let debug = format!("{st:?}");
    assert!(!debug.contains("dbtc_abc"), "{debug}");

    let api = s.route("api").unwrap();
    assert_eq!(
        *api.host_pattern(),
        HostPattern::Suffix(".example.com".into())
    );
    assert_eq!(api.path_pattern().as_str(), "/**");
    assert_eq!(
        api.settings.upstream_ca_file.as_deref(),
        Some(std::path::Path::new("/etc/ssl/ca.pem"))
    );
}

#[test]
fn defaults_apply_when_keys_are_absent() {
    let s = set(
        "routes:\n  - name: a\n    upstream: http://127.0.0.1:1\n    allow: [{ everyone: true }]\n",
    );
    let r = s.route("a").unwrap();
    assert_eq!(*r.host_pattern(), HostPattern::Any);
    assert_eq!(r.path_pattern().as_str(), "/**");
    let st = &r.settings;
    assert!(st.keep_alive);
    assert_eq!(st.max_concurrency, None);
    assert_eq!(st.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(st.response_timeout, DEFAULT_RESPONSE_TIMEOUT);
    assert!(!st.preserve_host && !st.allow_ambiguous_paths && !st.upstream_h2c);
    assert!(!st.compress);
    assert!(st.strip_prefix.is_none() && st.inject.is_empty());
}

#[test]
fn every_rule_key_takes_part_in_the_decision() {
    std::env::set_var("SCIMGATE_POLICY_PARSE_TOKEN", "dbtc_abc");
    let s = set(FULL);
    let host = "docs.example.com";
    let alice = Who {
        name: "alice@example.com",
        groups: vec!["data-platform"],
        license: Some("Developer"),
        user_type: Some("employee"),
        external_id: None,
    };
    let ok = "/finance/123/index.html";
    assert_eq!(
        verdict(&s, Method::GET, host, ok, &alice),
        "allow by analysts-read"
    );
    assert_eq!(
        verdict(&s, Method::HEAD, host, "/finance/456/x", &alice),
        "allow by analysts-read"
    );
    // Each condition, broken alone, denies.
    assert_eq!(
        verdict(&s, Method::POST, host, ok, &alice),
        "deny by default-deny"
    );
    assert_eq!(
        verdict(&s, Method::GET, host, "/finance/789/x", &alice),
        "deny by default-deny"
    );
    let others = [
        Who {
            name: "mallory@example.com",
            ..clone(&alice)
        },
        Who {
            groups: vec!["other"],
            ..clone(&alice)
        },
        Who {
            license: Some("read_only"),
            ..clone(&alice)
        },
        Who {
            license: None,
            ..clone(&alice)
        },
        Who {
            user_type: Some("Contractor"),
            ..clone(&alice)
        },
        Who {
            user_type: None,
            ..clone(&alice)
        },
    ];
    for who in &others {
        assert_eq!(
            verdict(&s, Method::GET, host, ok, who),
            "deny by default-deny",
            "{who:?}"
        );
    }
    // `everyone: true` lets any user GET the public part; the deny rule (no who) wins.
    let nobody = Who::named("nobody", &[]);
    assert_eq!(
        verdict(&s, Method::GET, host, "/finance/public/a", &nobody),
        "allow by allow[1]"
    );
    assert_eq!(
        verdict(&s, Method::HEAD, host, "/finance/public/a", &nobody),
        "deny by default-deny"
    );
    assert_eq!(
        verdict(&s, Method::GET, host, "/finance/compiled/m.sql", &alice),
        "deny by deny[0]"
    );
}

fn clone(w: &Who) -> Who {
    Who {
        name: w.name,
        groups: w.groups.clone(),
        license: w.license,
        user_type: w.user_type,
        external_id: w.external_id,
    }
}

#[test]
fn empty_files_and_files_of_comments_hold_no_routes() {
    let s = PolicySet::from_sources(&[
        ("a.yaml".into(), String::new()),
        ("b.yaml".into(), "# nothing yet\n".into()),
        ("c.yaml".into(), "routes: []\n".into()),
    ])
    .unwrap();
    assert!(s.routes().is_empty());
    assert_eq!(s.files().len(), 3);
    assert!(s.match_route("x", "/").is_none());
}

#[test]
fn digest_follows_the_sources() {
    let a = set("routes: []\n");
    let b = set("routes: []\n");
    let c = set("routes: [] # changed\n");
    assert_eq!(a.digest(), b.digest());
    assert_ne!(a.digest(), c.digest());
    assert_eq!(a.digest().len(), 64);
    let here = PolicySet::from_sources(&[("/etc/p/a.yaml".into(), "routes: []\n".into())]).unwrap();
    let there = PolicySet::from_sources(&[("./p/a.yaml".into(), "routes: []\n".into())]).unwrap();
    let renamed = PolicySet::from_sources(&[("./p/b.yaml".into(), "routes: []\n".into())]).unwrap();
    assert_eq!(here.digest(), there.digest());
    assert_ne!(here.digest(), renamed.digest());
}

#[test]
fn a_bare_routes_key_is_an_empty_file() {
    assert!(set("routes:\n").routes().is_empty());
}
