//! Requestable grants in a policy set: what compiles, what each mistake reports and
//! where, and which requestable grants a refused request is offered.

use std::time::Duration;

use http::Method;

use super::super::model::RequestFacts;
use super::{refused, set, Who};

const DOCS: &str = r#"routes:
  - name: finance
    match: { path: /finance/** }
    upstream: http://127.0.0.1:1
    allow:
      - { name: finance-read, groups: [finance], methods: [GET] }
    requests:
      - group: finance
        requesters: [contractors, analysts]
        approvers: [finance-leads]
        max_duration: 168h
        reason_required: false
"#;

const DBT: &str = r#"routes:
  - name: dbt
    preset: dbt-platform
    upstream: https://cloud.example.com
    grants:
      - { group: analytics-engineers, permission_set: developer }
      - group: dbt-job-admins
        permission_set: job_admin
        requestable:
          requesters: [analytics-engineers]
          approvers: [data-platform]
          max_duration: 4h
          approvals: 2
"#;

#[test]
fn a_route_and_a_grant_say_who_may_request_what() {
    let s = set(DOCS);
    let q = s.requestable("finance", "FINANCE").expect("requestable");
    assert_eq!(&*q.group, "finance");
    assert_eq!(q.max_duration, Duration::from_secs(168 * 3600));
    assert_eq!(q.approvals, 1);
    assert!(!q.reason_required);
    assert_eq!(&*q.location, "policies/t.yaml:8");
    assert!(q.may_request(&Who::named("c", &["Contractors"])));
    assert!(!q.may_request(&Who::named("f", &["finance-leads"])));
    assert!(q.may_approve(&Who::named("f", &["finance-leads"])));

    let s = set(DBT);
    let q = s.requestable("dbt", "dbt-job-admins").expect("requestable");
    assert_eq!(q.approvals, 2);
    assert!(
        q.reason_required,
        "a reason is required unless the policy says not"
    );
    assert_eq!(q.max_duration, Duration::from_secs(4 * 3600));
    assert_eq!(
        q.describe(),
        "members of analytics-engineers may request `dbt-job-admins` for up to 4h; 2 approvals from data-platform; reason required"
    );
    assert!(s.requestable("dbt", "analytics-engineers").is_none());
}

#[test]
fn a_refused_request_is_offered_the_grants_that_would_allow_it() {
    let s = set(DBT);
    let route = s.route("dbt").unwrap();
    let offered = |method: Method, path: &str| -> Vec<String> {
        s.requestable_for(
            route,
            RequestFacts {
                method: &method,
                path,
            },
        )
        .iter()
        .map(|q| q.group.to_string())
        .collect()
    };
    // Creating a job needs write on jobs: job_admin has it.
    assert_eq!(
        offered(Method::POST, "/api/v2/accounts/1/jobs/"),
        ["dbt-job-admins"]
    );
    // Deleting the account's users is not something job_admin may do.
    assert!(offered(Method::POST, "/api/v3/accounts/1/users/").is_empty());

    let s = set(DOCS);
    let route = s.route("finance").unwrap();
    let facts = |method| RequestFacts {
        method,
        path: "/finance/q3",
    };
    assert_eq!(s.requestable_for(route, facts(&Method::GET)).len(), 1);
    assert!(s.requestable_for(route, facts(&Method::POST)).is_empty());
}

#[test]
fn requesters_and_approvers_are_checked_against_the_directory() {
    let s = set(DBT);
    let refs: Vec<String> = s
        .group_references()
        .into_iter()
        .map(|(g, at)| format!("{g} {at}"))
        .collect();
    assert!(
        refs.contains(&"data-platform policies/t.yaml:7".to_owned()),
        "{refs:?}"
    );
}

/// A `finance` route with the `requests:` entry `entry` (indented as list items).
fn with_request(entry: &str) -> String {
    format!(
        "routes:\n  - name: finance\n    upstream: http://127.0.0.1:1\n    allow:\n      - {{ groups: [finance] }}\n    requests:\n{entry}"
    )
}

#[test]
fn each_mistake_is_reported_at_its_place() {
    let cases: &[(&str, &str)] = &[
        (
            "      - { group: payroll, requesters: [a], approvers: [b], max_duration: 1h }\n",
            "policies/t.yaml:7:9: requested group `payroll` is named by no allow rule or grant of route `finance`",
        ),
        (
            "      - { group: finance, requesters: [], approvers: [b], max_duration: 1h }\n",
            "policies/t.yaml:7:39: `requesters` names no group",
        ),
        (
            "      - { group: finance, requesters: [a], approvers: [], max_duration: 1h }\n",
            "policies/t.yaml:7:55: `approvers` names no group",
        ),
        (
            "      - { group: finance, requesters: [a], approvers: [b], max_duration: 337h }\n",
            "policies/t.yaml:7:74: max_duration `337h` is longer than 14 days (336h)",
        ),
        (
            "      - { group: finance, requesters: [a], approvers: [b], max_duration: soon }\n",
            "policies/t.yaml:7:74: bad duration `soon`",
        ),
        (
            "      - { group: finance, requesters: [a], approvers: [b], max_duration: 1h, approvals: 0 }\n",
            "policies/t.yaml:7:89: approvals must be from 1 to 10",
        ),
        (
            "      - { requesters: [a], approvers: [b], max_duration: 1h }\n",
            "policies/t.yaml:7:9: a `requests` entry names the `group` it grants",
        ),
        (
            "      - { group: finance, requesters: [a], approvers: [b], max_duration: 1h, approver: [c] }\n",
            "policies/t.yaml:7:78: unknown field `approver`",
        ),
        (
            "      - { group: finance, requesters: [a], approvers: [b], max_duration: 1h }\n      - { group: Finance, requesters: [c], approvers: [b], max_duration: 2h }\n",
            "policies/t.yaml:8:9: group `Finance` is requestable twice on route `finance` (also at line 7)",
        ),
    ];
    for (entry, expected) in cases {
        let yaml = with_request(entry);
        let got = refused(&yaml);
        assert!(
            got.starts_with(expected),
            "expected to start with\n  {expected}\ngot\n  {got}\nfor\n{yaml}"
        );
    }
    let grant_with_group = DBT.replace(
        "          requesters: [analytics-engineers]\n",
        "          group: platform\n          requesters: [analytics-engineers]\n",
    );
    let got = refused(&grant_with_group);
    assert!(
        got.starts_with(
            "policies/t.yaml:10:18: `requestable` on a grant requests the grant's own group"
        ),
        "{got}"
    );
}
