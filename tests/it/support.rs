//! Starting an in-process server on a temporary data directory, and a SCIM client.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use scimgate::config::{Config, Overrides};
use scimgate::server::{self, Running};
use scimgate::store::{SqliteStore, Store};
use scimgate::tokens::{self, TokenScope};

pub const SCIM_JSON: &str = "application/scim+json";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const DBT_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:dbtLabs:2.0:User";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Where the admin API lives, relative to the server root.
pub const ADMIN_PREFIX: &str = "/.scimgate/admin/v1";

/// A server under test with its data directory and a SCIM token.
pub struct Gate {
    pub running: Running,
    pub dir: tempfile::TempDir,
    pub token: String,
    pub base: String,
    pub http: reqwest::Client,
    yaml: String,
    listen: String,
}

/// A response, read whole: status, headers and the body as JSON (`Null` when empty or
/// not JSON; `text` keeps it as sent).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Resources` of a ListResponse.
    pub fn resources(&self) -> Vec<Value> {
        self.body["Resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The `id` of the body.
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_owned()
    }

    /// Panics (with the whole response) unless the status is `want`.
    #[track_caller]
    pub fn expect(self, want: u16) -> Self {
        assert_eq!(self.status, want, "unexpected status; body: {}", self.text);
        self
    }

    /// Asserts an RFC 7644 §3.12 error: status, Error schema, `status` as a string,
    /// a non-empty `detail`, and `scimType` when given.
    #[track_caller]
    pub fn expect_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_scim_error(&self.body, status, scim_type);
        let ct = self.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with(SCIM_JSON),
            "error content type is {ct:?}, body {}",
            self.text
        );
    }
}

/// Asserts the shape of a SCIM error body.
#[track_caller]
pub fn assert_scim_error(body: &Value, status: u16, scim_type: Option<&str>) {
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "schemas of {body}");
    assert_eq!(
        body["status"],
        Value::String(status.to_string()),
        "status must be a string: {body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail missing: {body}"
    );
    if let Some(t) = scim_type {
        assert_eq!(body["scimType"], t, "scimType of {body}");
    }
}

/// Writes a token straight into the store (as `scimgate token create` does).
pub fn create_token(data: &Path, name: &str, scope: TokenScope) -> String {
    let store = SqliteStore::open(&data.join("scimgate.db")).expect("open store");
    let (token, row) = tokens::issue(name, scope, 0);
    store.token_insert(&row).expect("insert token");
    token
}

/// Revokes a token through a second store handle (as `scimgate token revoke` does).
pub fn revoke_token(data: &Path, name: &str) -> bool {
    let store = SqliteStore::open(&data.join("scimgate.db")).expect("open store");
    store.token_revoke(name).expect("revoke token")
}

async fn spawn_on(dir: &Path, yaml: &str, listen: &str) -> Running {
    // Each server reads its own policy directory (empty unless a test writes one).
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).expect("policy dir");
    let overrides = Overrides {
        listen: Some(listen.into()),
        data_dir: Some(dir.to_path_buf()),
        policies_dir: (!yaml.contains("policies:")).then_some(policies),
    };
    let config = Config::from_yaml("test.yaml", yaml, &overrides).expect("config");
    server::spawn(config).await.expect("server starts")
}

/// Starts a server; `yaml` is extra configuration (may be empty).
pub async fn start(yaml: &str) -> Gate {
    start_with_policies(yaml, &[]).await
}

/// Starts a server with these policy files (name, YAML) in its policy directory.
pub async fn start_with_policies(yaml: &str, policies: &[(&str, &str)]) -> Gate {
    start_at("127.0.0.1:0", yaml, policies).await
}

/// Starts a server listening on `listen` (e.g. `[::]:0`, dual-stack) with these policy
/// files.
pub async fn start_at(listen: &str, yaml: &str, policies: &[(&str, &str)]) -> Gate {
    let dir = tempfile::tempdir().expect("tempdir");
    let pdir = dir.path().join("policies");
    std::fs::create_dir_all(&pdir).expect("policy dir");
    for (name, text) in policies {
        let file = pdir.join(name);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).expect("policy subdirectory");
        }
        std::fs::write(file, text).expect("write policy");
    }
    let token = create_token(dir.path(), "test-idp", TokenScope::Scim);
    let running = spawn_on(dir.path(), yaml, listen).await;
    let base = format!("http://{}/scim/v2", running.addr);
    Gate {
        running,
        dir,
        token,
        base,
        http: reqwest::Client::new(),
        yaml: yaml.to_owned(),
        listen: listen.to_owned(),
    }
}

impl Gate {
    /// Stops the server and starts a new one on the same data directory and
    /// configuration (same token).
    pub async fn restart(self) -> Gate {
        let Gate {
            running,
            dir,
            token,
            yaml,
            listen,
            ..
        } = self;
        running.stop().await;
        let running = spawn_on(dir.path(), &yaml, &listen).await;
        let base = format!("http://{}/scim/v2", running.addr);
        Gate {
            running,
            dir,
            token,
            base,
            // A fresh client: no pooled connection to the old listener.
            http: reqwest::Client::new(),
            yaml,
            listen,
        }
    }

    /// The server root, e.g. `http://127.0.0.1:1234`.
    pub fn root(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    /// The admin API base URL.
    pub fn admin_base(&self) -> String {
        format!("{}{ADMIN_PREFIX}", self.root())
    }

    /// A request to `base + path` with this gate's SCIM token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.req_as(method, &format!("{}{path}", self.base), Some(&self.token))
    }

    /// A request to an absolute `url` with `token` (or none).
    pub fn req_as(&self, method: Method, url: &str, token: Option<&str>) -> RequestBuilder {
        let mut r = self.http.request(method, url);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    }

    pub async fn get(&self, path: &str) -> Resp {
        send(self.req(Method::GET, path)).await
    }

    /// GET with query parameters (encoded by the client).
    pub async fn get_q(&self, path: &str, query: &[(&str, &str)]) -> Resp {
        send(self.req(Method::GET, path).query(query)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        send(with_json(self.req(Method::POST, path), body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        send(with_json(self.req(Method::PUT, path), body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        send(with_json(self.req(Method::PATCH, path), body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        send(self.req(Method::DELETE, path)).await
    }

    /// Creates a user (expects 201) and returns its representation.
    pub async fn create_user(&self, user_name: &str) -> Value {
        self.post("/Users", &user_body(user_name))
            .await
            .expect(201)
            .body
    }

    /// Creates a user from a whole body (expects 201).
    pub async fn create_user_with(&self, body: &Value) -> Value {
        self.post("/Users", body).await.expect(201).body
    }

    /// Creates a group with the given member ids (expects 201).
    pub async fn create_group(&self, name: &str, members: &[&str]) -> Value {
        self.post("/Groups", &group_body(name, members))
            .await
            .expect(201)
            .body
    }

    /// The `Resources` of `GET path?filter=...` (expects 200).
    pub async fn filter(&self, path: &str, filter: &str) -> Vec<Value> {
        self.get_q(path, &[("filter", filter)])
            .await
            .expect(200)
            .resources()
    }

    /// The ids of the members of a group, sorted (by GET, expects 200).
    pub async fn member_ids(&self, group_id: &str) -> Vec<String> {
        let g = self.get(&format!("/Groups/{group_id}")).await.expect(200);
        sorted_values(&g.body["members"])
    }
}

/// Polls `check` every 5 ms until it holds; panics after `within`. Returns how long it
/// took.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    loop {
        if check().await {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Attaches a JSON body with the SCIM media type.
pub fn with_json(r: RequestBuilder, body: &Value) -> RequestBuilder {
    r.header("content-type", HeaderValue::from_static(SCIM_JSON))
        .body(body.to_string())
}

/// Sends a request and reads the whole response.
pub async fn send(r: RequestBuilder) -> Resp {
    let resp = r.send().await.expect("request is answered");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("response body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        text,
    }
}

/// A minimal User body.
pub fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "active": true,
    })
}

/// A Group body with user or group member ids.
pub fn group_body(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
    json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": members,
    })
}

/// A PatchOp body.
pub fn patch_ops(ops: Value) -> Value {
    json!({ "schemas": [PATCH_SCHEMA], "Operations": ops })
}

/// The `value`s of a multi-valued attribute (`members`, `groups`), sorted.
pub fn sorted_values(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A sorted list of ids.
pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    out.sort();
    out
}

/// The `userName`s of a list of User resources, in order.
pub fn user_names(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r["userName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The `id`s of a list of resources, in order.
pub fn ids(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `meta.version` of a resource.
pub fn version(resource: &Value) -> String {
    resource["meta"]["version"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A JSON string value as `&str` (empty when it is not a string).
pub fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Sends raw bytes as an HTTP/1.1 request (the request should say
/// `Connection: close`) and returns the status and the body (de-chunked).
pub async fn raw_http(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(request).await.expect("write request");
    let mut out = Vec::new();
    // The server may answer before reading the whole body and then reset.
    let _ = conn.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A pending access request of `requester_name` (directory id `requester_id`) for group
/// `oncall` on `route`, for one hour with one approval needed, as a store holds it.
pub fn pending_request(
    id: &str,
    route: &str,
    requester_id: &str,
    requester_name: &str,
    reason: &str,
) -> scimgate::record::AccessRequest {
    scimgate::record::AccessRequest {
        id: id.into(),
        route: route.into(),
        group: "oncall".into(),
        requester_id: requester_id.into(),
        requester_name: requester_name.into(),
        reason: Some(reason.into()),
        duration: Duration::from_secs(3600),
        approvals_needed: 1,
        state: scimgate::record::RequestState::Pending,
        approvals: Vec::new(),
        denial: None,
        created_at: 1,
        starts_at: None,
        ends_at: None,
        ended_at: None,
        ended_by: None,
        end_reason: None,
    }
}
