//! Requestable grants in policy files, through the real `scimgate policy` commands:
//! `check` lists what may be requested and refuses a mistake at its file:line:column;
//! `explain` offers a refused user the grants that would let them in.

use std::path::Path;

use crate::binary;
use crate::policy_warnings;
use crate::support;

/// The README's dbt-platform example: job_admin for 4 hours, two approvers.
const DBT: &str = "routes:
  - name: dbt
    preset: dbt-platform
    match: { host: dbt.test }
    upstream: http://127.0.0.1:9
    grants:
      - { group: analytics-engineers, permission_set: developer }
      - group: dbt-job-admins
        permission_set: job_admin
        requestable:
          requesters: [analytics-engineers]
          approvers: [data-platform]
          max_duration: 4h
          approvals: 2
";

fn policy(args: &[&str], dir: &Path, data: &Path) -> (bool, String) {
    let out = binary::command()
        .arg("policy")
        .args(args)
        .arg("--data")
        .arg(data)
        .env("SCIMGATE_POLICIES", dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn check_lists_what_may_be_requested() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dbt.yaml");
    std::fs::write(&file, DBT).unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let (ok, text) = policy(&["check", dir_arg], dir.path(), &dir.path().join("data"));
    assert!(ok, "{text}");
    let shown = file.display().to_string();
    assert!(
        text.contains(&format!(
            "{shown}:8: route `dbt`: members of analytics-engineers may request `dbt-job-admins` for up to 4h; 2 approvals from data-platform; reason required"
        )),
        "{text}"
    );
}

#[test]
fn check_refuses_a_mistake_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dbt.yaml");
    let cases = [
        (
            "          approvers: [data-platform]\n",
            "          approvers: []\n",
            "12:22: `approvers` names no group",
        ),
        (
            "max_duration: 4h",
            "max_duration: 15d",
            "13:25: bad duration `15d`",
        ),
        (
            "max_duration: 4h",
            "max_duration: 400h",
            "13:25: max_duration `400h` is longer than 14 days",
        ),
        (
            "approvals: 2",
            "approvals: 11",
            "14:22: approvals must be from 1 to 10",
        ),
        (
            "          approvals: 2\n",
            "          approvals: 2\n          self_approval: true\n",
            "15:11: unknown field `self_approval`",
        ),
    ];
    for (from, to, want) in cases {
        std::fs::write(&file, DBT.replace(from, to)).unwrap();
        let dir_arg = dir.path().to_str().unwrap();
        let (ok, text) = policy(&["check", dir_arg], dir.path(), &dir.path().join("data"));
        assert!(!ok, "{text}");
        assert!(
            text.contains(&format!("{}:{want}", file.display())),
            "{want}\n{text}"
        );
    }
}

#[tokio::test]
async fn explain_offers_the_grant_that_would_allow_a_refused_request() {
    let g = support::start_with_policies("", &[("dbt.yaml", DBT)]).await;
    let ana = support::str_of(&g.create_user("ana").await["id"]).to_owned();
    g.create_user("sam").await;
    g.create_group("analytics-engineers", &[&ana]).await;
    let pdir = g.dir.path().join("policies");
    let explain = |user: &str, method: &str, url: &str| {
        policy(
            &["explain", "--user", user, "--method", method, url],
            &pdir,
            g.dir.path(),
        )
    };
    let (ok, text) = explain("ana", "POST", "http://dbt.test/api/v2/accounts/1/jobs/");
    assert!(ok, "{text}");
    assert!(text.contains("decision: deny"), "{text}");
    assert!(
        text.contains("requestable: members of analytics-engineers may request `dbt-job-admins` for up to 4h; 2 approvals from data-platform; reason required (")
            && text.contains("dbt.yaml:8; ana may request it)"),
        "{text}"
    );
    let (_, text) = explain("sam", "POST", "http://dbt.test/api/v2/accounts/1/jobs/");
    assert!(text.contains("sam may not request it"), "{text}");
    // What ana may already do is not offered.
    let (_, text) = explain("ana", "GET", "http://dbt.test/api/v2/accounts/1/jobs/");
    assert!(text.contains("decision: allow"), "{text}");
    assert!(!text.contains("requestable:"), "{text}");
}

#[test]
fn policy_test_cases_can_expect_what_a_user_may_request() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("policies");
    std::fs::create_dir_all(&pdir).unwrap();
    std::fs::write(pdir.join("dbt.yaml"), DBT).unwrap();
    let cases = dir.path().join("dbt.test.yaml");
    let write_cases = |ana_may: &str| {
        std::fs::write(
            &cases,
            format!(
                "users:
  - {{ userName: ana, groups: [analytics-engineers] }}
  - {{ userName: pat, groups: [data-platform] }}
cases:
  - name: ana may ask to create jobs
    who: ana
    request: POST http://dbt.test/api/v2/accounts/1/jobs/
    expect: deny
    requestable: [{ana_may}]
  - name: approvers are not requesters
    who: pat
    request: POST http://dbt.test/api/v2/accounts/1/jobs/
    expect: deny
    requestable: []
"
            ),
        )
        .unwrap();
    };
    let run = || {
        policy(
            &[
                "test",
                cases.to_str().unwrap(),
                "--dir",
                pdir.to_str().unwrap(),
            ],
            &pdir,
            &dir.path().join("data"),
        )
    };
    write_cases("dbt-job-admins");
    let (ok, text) = run();
    assert!(ok && text.contains("2 passed, 0 failed"), "{text}");
    write_cases("analytics-engineers");
    let (ok, text) = run();
    assert!(!ok, "{text}");
    assert!(
        text.contains(
            "ana may ask to create jobs: expected requestable [analytics-engineers], got [dbt-job-admins]"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn the_admin_policy_page_lists_what_may_be_requested() {
    let (g, _, session) = policy_warnings::with_admin(&[("dbt.yaml", DBT)]).await;
    let page = policy_warnings::policy_page(&g, &session).await;
    assert!(page.contains("<h2>Requestable grants</h2>"), "{page}");
    assert!(
        page.contains(
            "<tr><td><code>dbt</code></td><td><code>dbt-job-admins</code></td>\
<td><code>analytics-engineers</code></td><td><code>data-platform</code></td>\
<td>4h</td><td>2</td><td>required</td><td class=\"muted\">dbt.yaml:8</td></tr>"
        ),
        "{page}"
    );
}
