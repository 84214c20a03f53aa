//! Each kind of refusal, with the exact `file:line:column` it reports.

use super::super::{PolicyError, PolicySet};
use super::refused;

/// A route with `extra` lines appended (indented as route keys); starts at line 2.
fn route(extra: &str) -> String {
    format!("routes:\n  - name: a\n    upstream: http://127.0.0.1:1\n{extra}")
}

fn assert_refused(yaml: &str, expected: &str) {
    let got = refused(yaml);
    assert!(
        got.starts_with(expected),
        "expected to start with\n  {expected}\ngot\n  {got}\nfor\n{yaml}"
    );
}

#[test]
fn yaml_syntax_errors_have_positions() {
    assert_refused(
        "routes:\n  - name: a\n    upstream: \"http://x\n",
        "policies/t.yaml:4:1: ",
    );
    assert_refused(
        "routes:\n  - name: a\n    upstream: [http://x\n",
        "policies/t.yaml:3:15: expected a string",
    );
}

#[test]
fn unknown_keys_point_at_the_key() {
    assert_refused(
        &route("    bogus: 1\n"),
        "policies/t.yaml:4:5: unknown field `bogus`",
    );
    assert_refused(
        "routes:\n  - bogus: 1\n    name: a\n",
        "policies/t.yaml:2:5: unknown field `bogus`",
    );
    assert_refused(
        &route("    match: { host: a, pth: /x }\n"),
        "policies/t.yaml:4:23: unknown field `pth`",
    );
    assert_refused(
        &route("    match:\n      host: a\n      # note\n\n      pth: /x\n"),
        "policies/t.yaml:8:7: unknown field `pth`",
    );
    assert_refused(
        &route("    allow:\n      - groups: [a]\n        method: [GET]\n"),
        "policies/t.yaml:6:9: unknown field `method`",
    );
    assert_refused(
        "router: []\n",
        "policies/t.yaml:1:1: unknown field `router`",
    );
}

#[test]
fn yaml_type_errors_have_positions() {
    assert_refused(
        &route("    keep_alive: yes\n"),
        "policies/t.yaml:4:17: `yes` is not a boolean: use true or false",
    );
    assert_refused(
        &route("    keep_alive: off\n"),
        "policies/t.yaml:4:17: `off` is not a boolean: use true or false",
    );
    assert_refused(
        &route("    upstream: http://127.0.0.1:2\n"),
        "policies/t.yaml:4:5: duplicate mapping key: upstream",
    );
    assert_refused(
        "routes:\n  - name: a\n    allow: [{ everyone: true }]\n",
        "policies/t.yaml:2:5: missing field `upstream`",
    );
    assert_refused(
        &route("    allow:\n      - groups: analysts\n"),
        "policies/t.yaml:5:17: expected a list, found `analysts`",
    );
}

#[test]
fn bad_values_point_at_the_value() {
    let cases: &[(&str, &str)] = &[
        (
            "    timeouts: { connect: 5 }\n",
            "policies/t.yaml:4:26: bad duration `5` (write e.g. 500ms, 5s, 2m)",
        ),
        (
            "    timeouts:\n      response: 0s\n",
            "policies/t.yaml:5:17: duration `0s` must be more than zero",
        ),
        (
            "    allow: [{ everyone: true, methods: [GET, get] }]\n",
            "policies/t.yaml:4:46: bad method `get`",
        ),
        (
            "    match: { path: /a/**/b }\n",
            "policies/t.yaml:4:20: path pattern `/a/**/b`: `**` must be the last segment",
        ),
        (
            "    match: { path: \"/a/{}\" }\n",
            "policies/t.yaml:4:20: path pattern `/a/{}`: empty parameter name `{}`",
        ),
        (
            "    allow: [{ everyone: true, paths: [/ok, /a/*.sql] }]\n",
            "policies/t.yaml:4:44: path pattern `/a/*.sql`",
        ),
        (
            "    match: { path: /finance/** }\n    strip_prefix: /fin\n",
            "policies/t.yaml:5:19: strip_prefix `/fin` must be a literal prefix of match.path `/finance/**`",
        ),
        (
            "    match: { host: \"docs.example.com:443\" }\n",
            "policies/t.yaml:4:20: match.host `docs.example.com:443`: leave the port out",
        ),
        (
            "    max_concurrency: 0\n",
            "policies/t.yaml:4:22: max_concurrency must be more than zero",
        ),
        (
            "    inject:\n      bad header: x\n",
            "policies/t.yaml:5:7: inject: `bad header` is not a valid header name",
        ),
        (
            "    inject:\n      Content-Length: \"1\"\n",
            "policies/t.yaml:5:7: inject: `Content-Length` is managed by the proxy",
        ),
        (
            "    inject:\n      authorization: \"Token ${env:SCIMGATE_POLICY_SURELY_UNSET}\"\n",
            "policies/t.yaml:5:22: inject.authorization: environment variable SCIMGATE_POLICY_SURELY_UNSET is not set",
        ),
        (
            "    upstream_h2c: true\n    upstream_ca_file: /ca.pem\n",
            "policies/t.yaml:5:23: upstream_ca_file is for https:// upstreams",
        ),
    ];
    for (extra, expected) in cases {
        assert_refused(&route(extra), expected);
    }
    assert_refused(
        "routes:\n  - name: a\n    upstream: ftp://x\n",
        "policies/t.yaml:3:15: upstream `ftp://x` must start with http:// or https://",
    );
    assert_refused(
        "routes:\n  - name: a\n    upstream: https://x\n    upstream_h2c: true\n",
        "policies/t.yaml:4:19: upstream_h2c is for http:// upstreams",
    );
    assert_refused(
        "routes:\n  - name: Finance\n    upstream: http://x\n",
        "policies/t.yaml:2:11: route name `Finance` may hold only",
    );
}

#[test]
fn header_values_are_checked_after_expansion_without_echoing_them() {
    std::env::set_var("SCIMGATE_POLICY_VALIDATION_NL", "abc\nhidden-secret");
    let got = refused(&route(
        "    inject:\n      x-token: \"${env:SCIMGATE_POLICY_VALIDATION_NL}\"\n",
    ));
    assert_eq!(
        got,
        "policies/t.yaml:5:16: inject.x-token: the value (after expansion) is not a valid header value"
    );
}

#[test]
fn rule_problems_point_at_the_rule_or_key() {
    let cases: &[(&str, &str)] = &[
        (
            "    allow:\n      - groups: []\n",
            "policies/t.yaml:5:17: `groups: []` is empty and would match nothing",
        ),
        (
            "    deny:\n      - paths: []\n",
            "policies/t.yaml:5:16: `paths: []` is empty",
        ),
        (
            "    allow:\n      - methods: [GET]\n",
            "policies/t.yaml:5:9: an allow rule must say who",
        ),
        (
            "    allow:\n      - groups: [a]\n        everyone: true\n",
            "policies/t.yaml:6:19: `everyone: true` cannot be combined",
        ),
        (
            "    allow:\n      - everyone: true\n        params: { id: [\"1\"] }\n",
            "policies/t.yaml:6:19: params.id: neither match.path nor this rule's paths capture {id}",
        ),
        (
            "    allow:\n      - licenses: [developer, develper]\n",
            "policies/t.yaml:5:31: unknown license type `develper`",
        ),
        (
            "    allow:\n      - { name: default-deny, everyone: true }\n",
            "policies/t.yaml:5:17: rule name `default-deny` is reserved",
        ),
        (
            "    deny:\n      - { name: x }\n    allow:\n      - { name: x, everyone: true }\n",
            "policies/t.yaml:7:9: rule name `x` is used twice in route `a` (also at line 5)",
        ),
    ];
    for (extra, expected) in cases {
        assert_refused(&route(extra), expected);
    }
}

#[test]
fn params_may_come_from_the_route_or_the_rule() {
    super::set(&route(
        "    match: { path: \"/p/{project}/**\" }\n    allow:\n      - everyone: true\n        params: { project: [\"1\"] }\n      - everyone: true\n        paths: [\"/p/{project}/runs/{run}\"]\n        params: { run: [\"2\"] }\n",
    ));
}

#[test]
fn duplicate_route_names_name_both_places() {
    let one = "routes:\n  - name: a\n    upstream: http://x\n    match: { path: /one/** }\n";
    let two =
        "# second\nroutes:\n  - name: a\n    upstream: http://x\n    match: { path: /two/** }\n";
    let e = PolicySet::from_sources(&[
        ("policies/a.yaml".into(), one.into()),
        ("policies/b.yaml".into(), two.into()),
    ])
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "policies/b.yaml:3:5: duplicate route name `a` (also at policies/a.yaml:2)"
    );
}

#[test]
fn routes_with_the_same_host_and_path_name_both() {
    let yaml = "routes:\n  - name: a\n    upstream: http://x\n    match: { host: H.example.com, path: /x/** }\n  - name: b\n    upstream: http://y\n    match: { host: h.example.com, path: /x/**/ }\n  - name: c\n    upstream: http://y\n    match: { host: other.example.com, path: /x/** }\n";
    assert_eq!(
        refused(yaml),
        "policies/t.yaml:5:5: routes `a` (policies/t.yaml:2) and `b` match the same host `h.example.com` and path `/x/**/`"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let good = "routes:\n  - name: ok\n    upstream: http://x\n";
    let bad_yaml = "routes: [\n";
    let bad_values =
        "routes:\n  - name: a\n    upstream: ftp://x\n    timeouts: { connect: soon }\n";
    let e = PolicySet::from_sources(&[
        ("p/1.yaml".into(), good.into()),
        ("p/2.yaml".into(), bad_yaml.into()),
        ("p/3.yaml".into(), bad_values.into()),
    ])
    .unwrap_err();
    let lines: Vec<String> = e.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("p/2.yaml:1:9: unclosed bracket"),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("p/3.yaml:3:15: upstream"), "{lines:?}");
    assert!(
        lines[2].starts_with("p/3.yaml:4:26: bad duration `soon`"),
        "{lines:?}"
    );
    assert!(matches!(e, PolicyError::Several(_)));
    assert_eq!(e.to_string(), lines.join("\n"));
}
