//! Just-in-time access through the real server: requests, votes and time-bound grants
//! over the access requests API with bearer JWTs, judged by the proxy on the very
//! next request, ended on time (an open download cut), early, or by SCIM
//! deprovisioning; durable across a restart; never visible to SCIM reads.
//! (How soon after the end a stream is cut is measured by `bench/grant_expiry.rs`.)

use std::time::Duration;

use serde_json::{json, Value};

use crate::issuer::Issuer;
use crate::proxy_env::Env;
use crate::revocation::drain;
use crate::support::{self, eventually};
use crate::upstream;

/// `oncall` gives everything on `app.test`; engineers may ask for it (two approvals
/// from leads, a reason required); `auditors` (one approval) gives `/audit/**`.
pub fn jit_policy(upstream: &str) -> String {
    format!(
        r#"routes:
  - name: app
    match: {{ host: app.test, path: /** }}
    upstream: {upstream}
    allow:
      - {{ name: readers-public, groups: [readers], paths: [/public, /public/**] }}
      - {{ name: oncall-all, groups: [oncall] }}
      - {{ name: auditors-audit, groups: [auditors], paths: [/audit/**] }}
    requests:
      - group: oncall
        requesters: [engineers]
        approvers: [leads]
        max_duration: 4h
        approvals: 2
      - group: auditors
        requesters: [engineers]
        approvers: [leads]
        max_duration: 1h
        approvals: 1
        reason_required: false
"#
    )
}

/// The people of [`jit_policy`]: ann and bob are engineers, lee and lou leads (lee is
/// an engineer too); `oncall` and `auditors` exist with nobody in them.
pub struct People {
    pub ann: String,
    pub oncall: String,
}

pub async fn people(env: &Env) -> People {
    let ann = env.user("ann").await;
    let bob = env.user("bob").await;
    let lee = env.user("lee").await;
    let lou = env.user("lou").await;
    env.group("engineers", &[&ann, &bob, &lee]).await;
    env.group("leads", &[&lee, &lou]).await;
    let oncall = env.group("oncall", &[]).await;
    env.group("auditors", &[]).await;
    People { ann, oncall }
}

pub async fn start() -> Env {
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let policy = jit_policy(&up.url());
    Env::start_with(up, iss, "", Some(policy)).await
}

/// A call of the access requests API as `user` (a bearer JWT), or with `token` as is.
pub async fn api(
    env: &Env,
    method: &str,
    path: &str,
    user: &str,
    body: Option<Value>,
) -> support::Resp {
    let token = env.iss.token(user);
    api_with(env, method, path, &token, body).await
}

pub async fn api_with(
    env: &Env,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> support::Resp {
    let url = format!("http://{}/.scimgate/api/access-requests{path}", env.addr());
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = env.gate.http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    support::send(r).await
}

/// ann asks for `oncall` for `duration`; the request's id.
pub async fn ask(env: &Env, duration: &str) -> String {
    let r = api(
        env,
        "POST",
        "",
        "ann",
        Some(json!({"route": "app", "group": "oncall", "duration": duration, "reason": "INC-42"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["state"], "pending");
    r.body["id"].as_str().unwrap().to_owned()
}

/// ann asks for `auditors` for ten minutes (no reason needed); the request's id.
async fn ask_auditors(env: &Env) -> String {
    let r = api(
        env,
        "POST",
        "",
        "ann",
        Some(json!({"route": "app", "group": "auditors", "duration": 600})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// lee and lou approve request `id`; it is active.
pub async fn approve_twice(env: &Env, id: &str) {
    let r = api(
        env,
        "POST",
        &format!("/{id}/approve"),
        "lee",
        Some(json!({"comment": "ok"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(env, "POST", &format!("/{id}/approve"), "lou", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["state"], "active", "{}", r.text);
}

pub async fn status(env: &Env, user: &str, path: &str) -> u16 {
    env.get("app.test", path, Some(user))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn state_of(env: &Env, id: &str) -> String {
    let r = api(env, "GET", &format!("/{id}"), "lee", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["state"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn request_two_approvals_allowed_then_expiry_cuts_the_download_and_denies() {
    let env = start().await;
    people(&env).await;
    assert_eq!(status(&env, "ann", "/public/a").await, 403);
    let offers = api(&env, "GET", "", "ann", None).await;
    assert_eq!(
        offers.body["offers"].as_array().unwrap().len(),
        2,
        "{}",
        offers.text
    );
    let id = ask(&env, "4s").await;
    // One approval of two: nothing yet; the same approver again counts once.
    let r = api(&env, "POST", &format!("/{id}/approve"), "lee", None).await;
    assert_eq!(r.body["state"], "pending", "{}", r.text);
    assert_eq!(status(&env, "ann", "/public/a").await, 403);
    let again = api(&env, "POST", &format!("/{id}/approve"), "lee", None).await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.body["error"], "already_voted");
    let r = api(&env, "POST", &format!("/{id}/approve"), "lou", None).await;
    assert_eq!(r.body["state"], "active", "{}", r.text);
    assert_eq!(r.body["approvals"].as_array().unwrap().len(), 2);
    // The very next request is judged with the grant.
    assert_eq!(status(&env, "ann", "/public/a").await, 200);
    let mut download = env
        .get("app.test", "/public/slow", Some("ann"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert!(download.chunk().await.unwrap().is_some(), "stream flows");
    let cut = tokio::time::timeout(Duration::from_secs(15), drain(download))
        .await
        .expect("the download was not cut at expiry");
    assert!(cut, "the download ended with an error, not a clean end");
    assert_eq!(status(&env, "ann", "/public/a").await, 403);
    eventually(Duration::from_secs(5), "the request is expired", || async {
        state_of(&env, &id).await == "expired"
    })
    .await;
    // Ended: ann may ask again.
    let mine = api(&env, "GET", "", "ann", None).await;
    assert_eq!(
        mine.body["offers"].as_array().unwrap().len(),
        2,
        "{}",
        mine.text
    );
    assert_eq!(mine.body["requests"][0]["id"], id.as_str());
}

#[tokio::test]
async fn self_approval_and_a_non_approver_are_refused() {
    let env = start().await;
    people(&env).await;
    // lee is an engineer and a lead: he may ask, never approve his own.
    let r = api(
        &env,
        "POST",
        "",
        "lee",
        Some(json!({"route": "app", "group": "oncall", "duration": "1h", "reason": "deploy"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let own = api(&env, "POST", &format!("/{id}/approve"), "lee", None).await;
    assert_eq!(own.status, 403, "{}", own.text);
    assert_eq!(own.body["error"], "self_approval");
    let not_lead = api(&env, "POST", &format!("/{id}/approve"), "bob", None).await;
    assert_eq!(not_lead.status, 403, "{}", not_lead.text);
    assert_eq!(not_lead.body["error"], "not_approver");
    // lee does not see his own among those to approve; lou does.
    let lee = api(&env, "GET", "", "lee", None).await;
    assert!(
        lee.body["to_approve"].as_array().unwrap().is_empty(),
        "{}",
        lee.text
    );
    let lou = api(&env, "GET", "", "lou", None).await;
    assert_eq!(lou.body["to_approve"][0]["id"], id.as_str(), "{}", lou.text);
    // bob cannot read it either.
    let r = api(&env, "GET", &format!("/{id}"), "bob", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(state_of(&env, &id).await, "pending");
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_reason() {
    let env = start().await;
    people(&env).await;
    let ask = |body: Value, user: &'static str| {
        let env = &env;
        async move { api(env, "POST", "", user, Some(body)).await }
    };
    // (body, user, status, error code where the API names one)
    let refusals = [
        (
            json!({"route": "app", "group": "oncall", "duration": "5h", "reason": "x"}),
            "ann",
            400,
            Some("duration_too_long"),
        ),
        (
            json!({"route": "app", "group": "oncall", "duration": "1h"}),
            "ann",
            400,
            Some("reason_required"),
        ),
        (
            json!({"route": "app", "group": "oncall", "duration": "1h", "reason": "x".repeat(2000)}),
            "ann",
            400,
            None,
        ),
        (
            json!({"route": "app", "group": "readers", "duration": "1h", "reason": "x"}),
            "ann",
            400,
            Some("not_requestable"),
        ),
        (
            json!({"route": "app", "group": "oncall", "duration": "1h", "reason": "x"}),
            "lou",
            403,
            Some("not_requester"),
        ),
    ];
    for (body, user, status, error) in refusals {
        let r = ask(body.clone(), user).await;
        assert_eq!(r.status, status, "{body} as {user}: {}", r.text);
        if let Some(error) = error {
            assert_eq!(r.body["error"].as_str(), Some(error), "{body} as {user}");
        }
    }
    let bad_json = api_with(&env, "POST", "", &env.iss.token("ann"), Some(json!("text"))).await;
    assert_eq!(bad_json.status, 400);
    let first = ask(
        json!({"route": "app", "group": "oncall", "duration": "1h", "reason": "x"}),
        "ann",
    )
    .await;
    assert_eq!(first.status, 201);
    let twice = ask(
        json!({"route": "app", "group": "oncall", "duration": "1h", "reason": "x"}),
        "ann",
    )
    .await;
    assert_eq!(
        (twice.status, twice.body["error"].as_str()),
        (409, Some("duplicate"))
    );
    let url = format!("http://{}/.scimgate/api/access-requests", env.addr());
    let anonymous = support::send(env.gate.http.get(url)).await;
    assert_eq!(anonymous.status, 401);
    let cancel_first = format!("/{}/cancel", first.body["id"].as_str().unwrap());
    let cancel_other = api(&env, "POST", &cancel_first, "bob", None).await;
    assert_eq!(cancel_other.status, 403);
    let cancel = api(&env, "POST", &cancel_first, "ann", None).await;
    assert_eq!(cancel.body["state"], "cancelled", "{}", cancel.text);
    let cancel_again = api(&env, "POST", &cancel_first, "ann", None).await;
    assert_eq!(cancel_again.status, 409);
    // Asking and withdrawing in a loop is bounded: 30 requests an hour.
    for _ in 1..30 {
        let r = ask(
            json!({"route": "app", "group": "auditors", "duration": "1h"}),
            "bob",
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let c = api(&env, "POST", &format!("/{id}/cancel"), "bob", None).await;
        assert_eq!(c.status, 200, "{}", c.text);
    }
    let r = ask(
        json!({"route": "app", "group": "auditors", "duration": "1h"}),
        "bob",
    )
    .await;
    assert_eq!(r.status, 201, "the 30th, {}", r.text);
    let r = ask(
        json!({"route": "app", "group": "oncall", "duration": "1h", "reason": "x"}),
        "bob",
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (429, Some("too_many")),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn scim_never_sees_the_temporary_member() {
    let env = start().await;
    let p = people(&env).await;
    let id = ask(&env, "1h").await;
    approve_twice(&env, &id).await;
    assert_eq!(status(&env, "ann", "/public/a").await, 200);
    assert!(env.gate.member_ids(&p.oncall).await.is_empty());
    let user = env.gate.get(&format!("/Users/{}", p.ann)).await.expect(200);
    let groups: Vec<&str> = user.body["groups"]
        .as_array()
        .map(|g| g.iter().filter_map(|g| g["display"].as_str()).collect())
        .unwrap_or_default();
    assert!(!groups.contains(&"oncall"), "{groups:?}");
}

#[tokio::test]
async fn an_approver_or_an_admin_token_ends_a_grant_early() {
    let env = start().await;
    people(&env).await;
    let id = ask(&env, "1h").await;
    approve_twice(&env, &id).await;
    assert_eq!(status(&env, "ann", "/public/a").await, 200);
    let not_approver = api(&env, "POST", &format!("/{id}/revoke"), "bob", None).await;
    assert_eq!(not_approver.status, 403);
    let r = api(
        &env,
        "POST",
        &format!("/{id}/revoke"),
        "lou",
        Some(json!({"comment": "done"})),
    )
    .await;
    assert_eq!(r.body["state"], "revoked", "{}", r.text);
    assert_eq!(status(&env, "ann", "/public/a").await, 403);
    // Again, approved; an admin token lists every request and revokes.
    let id = ask(&env, "1h").await;
    approve_twice(&env, &id).await;
    assert_eq!(status(&env, "ann", "/public/a").await, 200);
    let admin = support::create_token(
        env.gate.dir.path(),
        "ops",
        scimgate::tokens::TokenScope::Admin,
    );
    let all = api_with(&env, "GET", "", &admin, None).await;
    assert_eq!(
        all.body["requests"].as_array().unwrap().len(),
        2,
        "{}",
        all.text
    );
    let approve = api_with(&env, "POST", &format!("/{id}/approve"), &admin, None).await;
    assert_eq!(approve.status, 403);
    let r = api_with(&env, "POST", &format!("/{id}/revoke"), &admin, None).await;
    assert_eq!(r.body["state"], "revoked", "{}", r.text);
    assert_eq!(r.body["ended_by"], "admin:ops");
    assert_eq!(status(&env, "ann", "/public/a").await, 403);
    let again = api_with(&env, "POST", &format!("/{id}/revoke"), &admin, None).await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (409, Some("not_active"))
    );
    // Counted: two revoked, none active or pending.
    let m = crate::ops::scrape(env.gate.running.ops_addr.unwrap()).await;
    let value = |name: &str, labels: &[(&str, &str)]| crate::ops::value(&m, name, labels);
    assert_eq!(
        value("scimgate_access_grants_ended_total", &[("how", "revoked")]),
        Some(2.0)
    );
    assert_eq!(
        value("scimgate_access_grants_ended_total", &[("how", "expired")]),
        Some(0.0)
    );
    assert_eq!(value("scimgate_access_grants_active", &[]), Some(0.0));
    assert_eq!(value("scimgate_access_requests_pending", &[]), Some(0.0));
}

#[tokio::test]
async fn deactivation_by_scim_ends_pending_and_active_grants() {
    let env = start().await;
    let p = people(&env).await;
    let active = ask(&env, "1h").await;
    approve_twice(&env, &active).await;
    let pending = ask_auditors(&env).await;
    env.deactivate(&p.ann).await;
    eventually(Duration::from_secs(5), "both requests ended", || async {
        state_of(&env, &active).await == "revoked" && state_of(&env, &pending).await == "cancelled"
    })
    .await;
    let r = api(&env, "GET", &format!("/{active}"), "lee", None).await;
    assert_eq!(
        r.body["end_reason"], "user deactivated or deleted",
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_grant_survives_a_restart_and_still_ends_on_time() {
    let env = start().await;
    people(&env).await;
    let id = ask(&env, "6s").await;
    approve_twice(&env, &id).await;
    let Env { gate, up, iss } = env;
    let gate = gate.restart().await;
    let env = Env { gate, up, iss };
    assert_eq!(status(&env, "ann", "/public/a").await, 200);
    assert_eq!(state_of(&env, &id).await, "active");
    eventually(
        Duration::from_secs(15),
        "the grant ended after the restart",
        || async { status(&env, "ann", "/public/a").await == 403 },
    )
    .await;
    eventually(Duration::from_secs(5), "the request is expired", || async {
        state_of(&env, &id).await == "expired"
    })
    .await;
}

/// The README's worked example on a `preset: dbt-platform` route (against the fake
/// upstream): job_admin for 4 hours, two approvers from data-platform.
#[tokio::test]
async fn the_readme_example_gives_job_admin_after_two_approvals() {
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let policy = format!(
        r#"routes:
  - name: dbt-platform
    preset: dbt-platform
    match: {{ host: dbt.test }}
    upstream: {}
    grants:
      - {{ group: analytics-engineers, permission_set: developer }}
      - group: dbt-job-admins
        permission_set: job_admin
        requestable:
          requesters: [analytics-engineers]
          approvers: [data-platform]
          max_duration: 4h
          approvals: 2
"#,
        up.url()
    );
    let env = Env::start_with(up, iss, "", Some(policy)).await;
    let ana = env.user("ana").await;
    let dp1 = env.user("dp1").await;
    let dp2 = env.user("dp2").await;
    env.group("analytics-engineers", &[&ana]).await;
    env.group("data-platform", &[&dp1, &dp2]).await;
    env.group("dbt-job-admins", &[]).await;
    // Editing an environment is job_admin's, not a developer's.
    let edit = || async {
        let url = format!(
            "http://{}/api/v3/accounts/1/projects/123/environments/4/",
            env.addr()
        );
        env.gate
            .http
            .post(url)
            .header("host", "dbt.test")
            .bearer_auth(env.iss.token("ana"))
            .body("{}")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(edit().await, 403);
    let body = |duration: &str| {
        json!({"route": "dbt-platform", "group": "dbt-job-admins", "duration": duration,
               "reason": "fix the nightly job"})
    };
    let too_long = api(&env, "POST", "", "ana", Some(body("5h"))).await;
    assert_eq!(too_long.status, 400, "{}", too_long.text);
    let asked = api(&env, "POST", "", "ana", Some(body("4h"))).await;
    assert_eq!(asked.status, 201, "{}", asked.text);
    let id = asked.body["id"].as_str().unwrap().to_owned();
    let one = api(&env, "POST", &format!("/{id}/approve"), "dp1", None).await;
    assert_eq!(one.body["state"], "pending", "{}", one.text);
    assert_eq!(edit().await, 403);
    let two = api(&env, "POST", &format!("/{id}/approve"), "dp2", None).await;
    assert_eq!(two.body["state"], "active", "{}", two.text);
    assert_eq!(two.body["duration_s"], 4 * 3600);
    assert_eq!(edit().await, 200);
}

#[tokio::test]
async fn a_request_not_approved_in_time_expires_and_frees_its_place() {
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let policy = jit_policy(&up.url());
    let extra = "access_requests:\n  pending_max_age_seconds: 2\n";
    let env = Env::start_with(up, iss, extra, Some(policy)).await;
    people(&env).await;
    let id = ask(&env, "1h").await;
    eventually(Duration::from_secs(10), "the request expired", || async {
        state_of(&env, &id).await == "expired"
    })
    .await;
    let r = api(&env, "GET", &format!("/{id}"), "ann", None).await;
    assert_eq!(r.body["end_reason"], "not approved in time", "{}", r.text);
    assert_eq!(r.body["ended_by"], "system", "{}", r.text);
    // Too late to approve; ann may ask again.
    let r = api(&env, "POST", &format!("/{id}/approve"), "lee", None).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let again = ask(&env, "1h").await;
    assert_ne!(again, id);
}

#[tokio::test]
async fn a_reload_that_removes_a_requestable_grant_cancels_its_pending_requests() {
    let env = start().await;
    people(&env).await;
    let oncall = ask(&env, "1h").await;
    let auditors = ask_auditors(&env).await;
    // The policy no longer offers auditors.
    let policy = jit_policy(&env.up.url());
    let cut = policy.find("      - group: auditors").unwrap();
    std::fs::write(
        env.gate.dir.path().join("policies/app.yaml"),
        &policy[..cut],
    )
    .unwrap();
    // (ann asks: an approver no longer sees a request the policy does not offer.)
    eventually(
        Duration::from_secs(10),
        "the auditors request ended",
        || async {
            let r = api(&env, "GET", &format!("/{auditors}"), "ann", None).await;
            r.body["state"] == "cancelled"
        },
    )
    .await;
    let r = api(&env, "GET", &format!("/{auditors}"), "ann", None).await;
    assert_eq!(r.body["end_reason"], "no longer requestable", "{}", r.text);
    assert_eq!(state_of(&env, &oncall).await, "pending");
}
