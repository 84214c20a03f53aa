//! A proxy under test: a gate with a policy in front of the fake upstream, a token
//! issuer for bearer JWTs, users and groups provisioned by SCIM, and a raw HTTP/1.1
//! client for request shapes a normal client would clean up.

#![allow(dead_code)]

use std::net::SocketAddr;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::issuer::Issuer;
use crate::support::{self, Gate, GROUP_SCHEMA, PATCH_SCHEMA, SCIM_JSON, USER_SCHEMA};
use crate::upstream::{self, Upstream};

pub struct Env {
    pub gate: Gate,
    pub up: Upstream,
    pub iss: Issuer,
}

/// The standard test policy: host `app.test`; readers may use `/public/**` except a
/// secret file; admins may use everything.
pub fn standard_policy(upstream: &str) -> String {
    format!(
        r#"routes:
  - name: app
    match: {{ host: app.test, path: /** }}
    upstream: {upstream}
    allow:
      - {{ name: readers-public, groups: [readers], paths: [/public, /public/**] }}
      - {{ name: admins-all, groups: [admins] }}
    deny:
      - {{ name: no-secrets, paths: [/public/secret.json] }}
  - name: loose
    match: {{ host: loose.test, path: /** }}
    upstream: {upstream}
    allow_ambiguous_paths: true
    forward_bearer_token: true
    allow:
      - {{ groups: [readers] }}
"#
    )
}

impl Env {
    /// A gate with the standard policy and `extra` configuration.
    pub async fn start(extra: &str) -> Env {
        let up = upstream::start().await;
        let iss = Issuer::start().await;
        Env::start_with(up, iss, extra, None).await
    }

    pub async fn start_with(up: Upstream, iss: Issuer, extra: &str, policy: Option<String>) -> Env {
        let policy = policy.unwrap_or_else(|| standard_policy(&up.url()));
        let yaml = format!("{}{extra}", iss.config());
        let gate = support::start_with_policies(&yaml, &[("app.yaml", &policy)]).await;
        Env { gate, up, iss }
    }

    pub fn addr(&self) -> SocketAddr {
        self.gate.running.addr
    }

    /// Creates an active user and returns its id.
    pub async fn user(&self, name: &str) -> String {
        self.gate
            .post(
                "/Users",
                &json!({"schemas": [USER_SCHEMA], "userName": name, "active": true,
                       "emails": [{"value": format!("{name}@example.com"), "primary": true}]}),
            )
            .await
            .expect(201)
            .id()
    }

    /// Creates a group with these member ids and returns its id.
    pub async fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        self.gate
            .post(
                "/Groups",
                &json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}),
            )
            .await
            .expect(201)
            .id()
    }

    pub async fn deactivate(&self, user: &str) {
        self.gate
            .patch(
                &format!("/Users/{user}"),
                &json!({"schemas": [PATCH_SCHEMA],
                       "Operations": [{"op": "replace", "value": {"active": false}}]}),
            )
            .await
            .expect(200);
    }

    pub async fn remove_member(&self, group: &str, user: &str) {
        let r = self
            .gate
            .patch(
                &format!("/Groups/{group}"),
                &json!({"schemas": [PATCH_SCHEMA],
                       "Operations": [{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]}),
            )
            .await;
        assert!(r.status == 204 || r.status == 200, "{}", r.text);
    }

    pub async fn add_member(&self, group: &str, user: &str) {
        let r = self
            .gate
            .patch(
                &format!("/Groups/{group}"),
                &json!({"schemas": [PATCH_SCHEMA],
                       "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]}),
            )
            .await;
        assert!(r.status == 204 || r.status == 200, "{}", r.text);
    }

    /// A request through the proxy with Host `host` and a bearer token for `user`.
    pub fn get(&self, host: &str, path: &str, user: Option<&str>) -> reqwest::RequestBuilder {
        let url = format!("http://{}{path}", self.addr());
        let mut r = self.gate.http.get(url).header("host", host);
        if let Some(u) = user {
            r = r.bearer_auth(self.iss.token(u));
        }
        r
    }

    /// Sends raw bytes and returns the whole raw response (the connection is closed
    /// by the request's `Connection: close` or by the server).
    pub async fn raw(&self, request: &str) -> RawResponse {
        raw(self.addr(), request.as_bytes()).await
    }

    /// A GET request line and headers with a bearer token for `user`.
    pub fn raw_get(&self, host: &str, target: &str, user: &str, extra: &str) -> String {
        format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n{extra}Connection: close\r\n\r\n",
            self.iss.token(user)
        )
    }

    /// The echo documents the upstream recorded.
    pub fn seen(&self) -> Vec<Value> {
        self.up.seen.requests.lock().clone()
    }
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
    /// How many responses the connection carried (a status line each).
    pub responses: usize,
    /// Whether the server closed the connection (rather than the read giving up).
    pub closed: bool,
}

impl RawResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

pub async fn raw(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut buf),
    )
    .await;
    // Finished (an end or a reset) rather than timed out.
    let closed = read.is_ok();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let responses = usize::from(text.starts_with("HTTP/")) + text.matches("\r\nHTTP/1.").count();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // Undo chunked framing well enough for JSON bodies in one chunk.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.split("\r\n").nth(1).unwrap_or_default().to_owned()
    } else {
        body.to_owned()
    };
    RawResponse {
        status,
        head: head.to_owned(),
        body,
        responses,
        closed,
    }
}

/// Gives `user` (by name) membership of `readers` and returns (user id, group id).
pub async fn reader(env: &Env, name: &str) -> (String, String) {
    let id = env.user(name).await;
    let readers = env.group_id("readers").await;
    let gid = match readers {
        Some(g) => {
            env.add_member(&g, &id).await;
            g
        }
        None => env.group("readers", &[&id]).await,
    };
    (id, gid)
}

impl Env {
    /// The id of the group named `name`, if it exists.
    pub async fn group_id(&self, name: &str) -> Option<String> {
        let r = self
            .gate
            .get(&format!("/Groups?filter=displayName%20eq%20%22{name}%22"))
            .await
            .expect(200);
        r.resources()
            .first()
            .and_then(|g| g["id"].as_str())
            .map(str::to_owned)
    }
}

pub const JSON_CT: &str = SCIM_JSON;
