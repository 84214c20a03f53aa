//! The dbt-platform preset end to end, against a local fake of the dbt platform API
//! that records what reaches it: the route's injected service token arrives and the
//! client's bearer never does; operations granted reach it; operations denied by grant,
//! by license, by the agents cap or because the preset does not know them get 403 and
//! never reach it.

use reqwest::Method;
use serde_json::{json, Value};

use crate::issuer::Issuer;
use crate::proxy_env::Env;
use crate::support::{DBT_SCHEMA, USER_SCHEMA};
use crate::upstream;

/// The token the route injects (read from this environment variable by the policy).
const TOKEN_VAR: &str = "SCIMGATE_IT_DBT_PLATFORM_TOKEN";
const TOKEN: &str = "dbtc_it_service_token";

fn policy(upstream: &str) -> String {
    format!(
        r#"routes:
  - name: dbt-api
    match: {{ host: dbt.test }}
    upstream: {upstream}
    preset: dbt-platform
    inject: {{ authorization: "Token ${{env:{TOKEN_VAR}}}" }}
    grants:
      - {{ group: engineers, permission_set: developer, projects: [123] }}
      - {{ group: schedulers, permission_set: job_admin }}
  - name: other
    match: {{ host: other.test }}
    upstream: {upstream}
    allow:
      - {{ groups: [engineers, schedulers] }}
agents:
  user_types: [agent]
  access: read-only
  routes: [dbt-api]
"#
    )
}

/// What the fake dbt API recorded: method, path, Authorization values.
fn recorded(env: &Env) -> Vec<(String, String, Vec<String>)> {
    env.seen()
        .iter()
        .map(|r| {
            let auth = r["headers"]["authorization"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or_default().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (
                r["method"].as_str().unwrap_or_default().to_owned(),
                r["target"].as_str().unwrap_or_default().to_owned(),
                auth,
            )
        })
        .collect()
}

async fn user(env: &Env, name: &str, license: Option<&str>, user_type: Option<&str>) -> String {
    let mut body = json!({"schemas": [USER_SCHEMA], "userName": name, "active": true,
        "emails": [{"value": format!("{name}@example.com"), "primary": true}]});
    if let Some(l) = license {
        body[DBT_SCHEMA] = json!({"licenseType": l});
        body["schemas"]
            .as_array_mut()
            .unwrap()
            .push(Value::from(DBT_SCHEMA));
    }
    if let Some(t) = user_type {
        body["userType"] = json!(t);
    }
    env.gate.post("/Users", &body).await.expect(201).id()
}

/// The JSON body of `who`'s refused `POST path` on the dbt route.
async fn denial(env: &Env, path: &str, who: &str) -> Value {
    let url = format!("http://{}{path}", env.addr());
    env.gate
        .http
        .post(url)
        .header("host", "dbt.test")
        .bearer_auth(env.iss.token(who))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn call(env: &Env, host: &str, method: Method, path: &str, who: &str) -> u16 {
    let url = format!("http://{}{path}", env.addr());
    env.gate
        .http
        .request(method, url)
        .header("host", host)
        .bearer_auth(env.iss.token(who))
        .body("{}")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_preset_allows_grants_injects_the_token_and_denied_calls_never_arrive() {
    // The variable's name is this test's own: no other test reads or writes it.
    std::env::set_var(TOKEN_VAR, TOKEN);
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let policy = policy(&up.url());
    let env = Env::start_with(up, iss, "", Some(policy)).await;
    let dev = user(&env, "dev", None, None).await;
    let ro = user(&env, "viewer", Some("read_only"), None).await;
    let it = user(&env, "it-admin", Some("it"), None).await;
    let bot = user(&env, "bot", None, Some("agent")).await;
    let body = json!({"schemas": [USER_SCHEMA], "userName": "mine", "active": true,
        "externalId": "1001"});
    let mine = env.gate.post("/Users", &body).await.expect(201).id();
    env.group("engineers", &[&dev, &mine]).await;
    env.group("schedulers", &[&ro, &it, &bot]).await;

    let env_123 = "/api/v3/accounts/1/projects/123/environments/4/";
    let cases: &[(Method, &str, &str, &str, u16)] = &[
        // Granted: developer on project 123; job_admin everywhere.
        (Method::GET, "dbt.test", env_123, "dev", 200),
        (
            Method::POST,
            "dbt.test",
            "/api/v3/accounts/1/projects/123/connections/9/",
            "dev",
            200,
        ),
        // Denied as dbt's table denies: developers read project credentials, and do
        // not create projects (an account-level permission).
        (
            Method::POST,
            "dbt.test",
            "/api/v3/accounts/1/projects/123/credentials/9/",
            "dev",
            403,
        ),
        (
            Method::POST,
            "dbt.test",
            "/api/v3/accounts/1/projects/",
            "dev",
            403,
        ),
        // User-scoped: the caller's own dbt user (their externalId) only.
        (
            Method::POST,
            "dbt.test",
            "/api/v3/users/1001/credentials/",
            "mine",
            200,
        ),
        (
            Method::POST,
            "dbt.test",
            "/api/v3/users/1002/credentials/",
            "mine",
            403,
        ),
        // GraphQL names no project: a project-restricted grant does not reach it.
        (Method::POST, "dbt.test", "/graphql", "dev", 403),
        // Agents cap: reads only, whatever their grant (job_admin here); a GraphQL
        // POST is a read.
        (Method::POST, "dbt.test", "/graphql", "bot", 200),
        (
            Method::GET,
            "dbt.test",
            "/api/v2/accounts/1/jobs/5/",
            "bot",
            200,
        ),
        (
            Method::POST,
            "dbt.test",
            "/api/v2/accounts/1/jobs/5/run/",
            "bot",
            403,
        ),
        // Denied by grant: a project the grant does not list; an edit developers lack.
        (
            Method::GET,
            "dbt.test",
            "/api/v3/accounts/1/projects/456/environments/4/",
            "dev",
            403,
        ),
        (Method::POST, "dbt.test", env_123, "dev", 403),
        // Licenses: read_only reads (its fixed column) and never writes, it never
        // reaches jobs.
        (
            Method::GET,
            "dbt.test",
            "/api/v2/accounts/1/runs/",
            "viewer",
            200,
        ),
        (
            Method::POST,
            "dbt.test",
            "/api/v2/accounts/1/jobs/5/",
            "viewer",
            403,
        ),
        (
            Method::GET,
            "dbt.test",
            "/api/v2/accounts/1/jobs/5/",
            "it-admin",
            403,
        ),
        // An it license is security admin + billing admin whatever its groups.
        (
            Method::POST,
            "dbt.test",
            "/api/v3/accounts/1/ip-restrictions/",
            "it-admin",
            200,
        ),
        // Unknown operation.
        (
            Method::PUT,
            "dbt.test",
            "/api/v2/accounts/1/jobs/5/",
            "dev",
            403,
        ),
        (Method::GET, "dbt.test", "/api/v9/secret", "dev", 403),
        // Agents cap: not on other routes.
        (Method::GET, "other.test", "/x", "bot", 403),
        (Method::GET, "other.test", "/y", "dev", 200),
    ];
    let mut wrong = Vec::new();
    for (method, host, path, who, want) in cases {
        let got = call(&env, host, method.clone(), path, who).await;
        if got != *want {
            wrong.push(format!("{who} {method} {host}{path}: {got}, want {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The 403 names the rule and the groups whose grants would allow the operation.
    let denied = denial(&env, env_123, "dev").await;
    assert_eq!(denied["rule"], "default-deny", "{denied}");
    assert_eq!(denied["allowed_groups"], json!(["schedulers"]), "{denied}");
    let capped = denial(&env, "/api/v2/accounts/1/jobs/5/run/", "bot").await;
    assert_eq!(capped["rule"], "agent-cap:read-only", "{capped}");

    let seen = recorded(&env);
    let reached: Vec<(String, String)> = seen
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    let allowed: Vec<(String, String)> = cases
        .iter()
        .filter(|c| c.4 == 200)
        .map(|c| (c.0.to_string(), c.2.to_owned()))
        .collect();
    assert_eq!(reached, allowed, "only allowed operations reach upstream");
    for (method, path, auth) in &seen {
        if path.starts_with("/api") || path == "/graphql" {
            assert_eq!(auth, &[format!("Token {TOKEN}")], "{method} {path}");
            assert!(
                auth.iter().all(|a| !a.starts_with("Bearer")),
                "{method} {path}: the client's bearer reached upstream"
            );
        }
    }
}
