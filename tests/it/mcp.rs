//! `preset: mcp` in front of the real dbt MCP server (PyPI `dbt-mcp`, pinned in
//! tests/e2e/requirements-mcp.txt), run over streamable HTTP against the repo's small
//! dbt project (tests/e2e/dbt-project, dbt-core + dbt-duckdb, offline). Its dbt CLI
//! tools (`list`, `show`, `compile`, `run`, `build`, …) run locally; the Discovery,
//! Semantic Layer, SQL (`execute_sql`, `text_to_sql`) and Admin API tools need the dbt
//! platform and are not registered, so for them the decision path is tested: a refused
//! call never reaches the server whether it has the tool or not. A recording wrapper
//! (tests/data/mcp/serve_dbt_mcp.py) writes down every request that reaches the server.
//!
//! Needs `scripts/setup-test-deps` (the `.venv-mcp` Python environment); nothing is
//! skipped without it: the tests fail and say so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::audit::{chain, detail};
use crate::issuer::Issuer;
use crate::proxy_env::Env;
use crate::revocation::drain;
use crate::support::USER_SCHEMA;
use crate::upstream;

const HOST: &str = "mcp.test";
const PROTOCOL: &str = "2025-06-18";

/// The real dbt-mcp server, recording what reaches it.
struct DbtMcp {
    child: Child,
    port: u16,
    record: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for DbtMcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl DbtMcp {
    async fn start() -> DbtMcp {
        let venv = root().join(".venv-mcp/bin");
        assert!(
            venv.join("dbt-mcp").exists() && venv.join("dbt").exists(),
            "dbt-mcp is not installed in .venv-mcp: run scripts/setup-test-deps"
        );
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        copy_dir(&root().join("tests/e2e/dbt-project"), &project);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let record = dir.path().join("record.jsonl");
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(venv.join("python"))
            .arg(root().join("tests/data/mcp/serve_dbt_mcp.py"))
            .arg(port.to_string())
            .arg(&record)
            .current_dir(&project)
            .env("DBT_PROJECT_DIR", &project)
            .env("DBT_PROFILES_DIR", &project)
            .env("DBT_PATH", venv.join("dbt"))
            .env("DISABLE_SEMANTIC_LAYER", "true")
            .env("DISABLE_DISCOVERY", "true")
            .env("DISABLE_ADMIN_API", "true")
            .env("DISABLE_SQL", "true")
            .env("DO_NOT_TRACK", "1")
            .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env("DBT_VERSION_CHECK", "false")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dbt-mcp");
        let mut server = DbtMcp {
            child,
            port,
            record,
            dir,
        };
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("dbt-mcp exited ({status}):\n{}", server.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(240),
                "dbt-mcp did not listen:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The JSON-RPC messages of every POST that reached the server.
    fn received(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["method"] == "POST")
            .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
            .collect()
    }

    /// The tools the server called, in order.
    fn called(&self) -> Vec<String> {
        self.received()
            .iter()
            .filter(|m| m["method"] == "tools/call")
            .map(|m| m["params"]["name"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn policy(upstream: &str) -> String {
    format!(
        r#"agents:
  user_types: [agent]
routes:
  - name: dbt-mcp
    preset: mcp
    match: {{ host: {HOST}, path: /mcp }}
    upstream: {upstream}
    timeouts: {{ response: 5m }}
    deny:
      - name: no-sql
        tools: [execute_sql, text_to_sql]
    allow:
      - name: analysts-read
        groups: [analysts]
        tools: [list, show, compile, parse, docs, "get_*", "list_*"]
"#
    )
}

/// A gate in front of `server` with an agent `bot` in `analysts`; returns the env
/// and the agent's user id.
async fn gate_for(server: &DbtMcp) -> (Env, String) {
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let env = Env::start_with(up, iss, "", Some(policy(&server.url()))).await;
    let bot = env
        .gate
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "bot", "userType": "Agent", "active": true}),
        )
        .await
        .expect(201)
        .id();
    env.group("analysts", &[&bot]).await;
    (env, bot)
}

/// An MCP client speaking through the gate as one user.
struct Client<'e> {
    env: &'e Env,
    user: &'e str,
    session: Option<String>,
}

/// A response: status, session header and the JSON-RPC message(s) it carried (from
/// a JSON body or from the data of server-sent events).
struct Answer {
    status: u16,
    session: Option<String>,
    messages: Vec<Value>,
}

impl Answer {
    fn one(&self) -> &Value {
        assert_eq!(self.messages.len(), 1, "{:?}", self.messages);
        &self.messages[0]
    }
}

impl<'e> Client<'e> {
    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let url = format!("http://{}/mcp", self.env.addr());
        let mut r = self
            .env
            .gate
            .http
            .request(method, url)
            .header("host", HOST)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL)
            .bearer_auth(self.env.iss.token(self.user));
        if let Some(s) = &self.session {
            r = r.header("mcp-session-id", s);
        }
        r
    }

    async fn post_raw(&self, body: impl Into<reqwest::Body>) -> Answer {
        let resp = self
            .request(reqwest::Method::POST)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let session = resp
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let sse = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/event-stream"));
        let text = resp.text().await.unwrap();
        let messages = if sse {
            text.lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .map(|d| serde_json::from_str(d).unwrap())
                .collect()
        } else if text.trim().is_empty() {
            Vec::new()
        } else {
            match serde_json::from_str(&text).unwrap() {
                Value::Array(items) => items,
                one => vec![one],
            }
        };
        Answer {
            status,
            session,
            messages,
        }
    }

    async fn post(&self, body: &Value) -> Answer {
        self.post_raw(body.to_string()).await
    }

    /// initialize and notifications/initialized; keeps the session id.
    async fn open(&mut self) -> Value {
        let a = self
            .post(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": PROTOCOL, "capabilities": {},
                "clientInfo": {"name": "scimgate-test", "version": "1"}}}),
            )
            .await;
        assert_eq!(a.status, 200);
        self.session = Some(a.session.clone().expect("an Mcp-Session-Id"));
        let init = a.one().clone();
        let n = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(n.status, 202);
        init
    }

    async fn call(&self, id: u64, tool: &str, arguments: Value) -> Answer {
        self.post(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": tool, "arguments": arguments}}))
            .await
    }
}

fn tool_names(list: &Value) -> Vec<String> {
    list["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {list}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts `answer` is the JSON-RPC refusal of request `id` by `rule`.
fn assert_refused(answer: &Answer, id: u64, rule: &str) {
    assert_eq!(answer.status, 200);
    let m = answer.one();
    assert_eq!(m["jsonrpc"], "2.0", "{m}");
    assert_eq!(m["id"], id, "{m}");
    assert_eq!(m["error"]["code"], -32003, "{m}");
    assert_eq!(m["error"]["data"]["rule"], rule, "{m}");
    assert!(m.get("result").is_none(), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_analyst_agent_lists_and_calls_only_allowed_tools_of_dbt_mcp() {
    let server = DbtMcp::start().await;
    let (env, _bot) = gate_for(&server).await;
    let mut bot = Client {
        env: &env,
        user: "bot",
        session: None,
    };
    let init = bot.open().await;
    assert_eq!(init["result"]["serverInfo"]["name"], "dbt", "{init}");

    // What the server offers, asked directly, and what the agent is shown.
    let all = {
        let http = reqwest::Client::new();
        let post = |body: Value, session: Option<String>| {
            let mut r = http
                .post(format!("{}/mcp", server.url()))
                .header("accept", "application/json, text/event-stream")
                .header("content-type", "application/json")
                .header("mcp-protocol-version", PROTOCOL)
                .body(body.to_string());
            if let Some(s) = session {
                r = r.header("mcp-session-id", s);
            }
            r.send()
        };
        let init = post(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": PROTOCOL, "capabilities": {},
                "clientInfo": {"name": "direct", "version": "1"}}}),
            None,
        )
        .await
        .unwrap();
        let session = init.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        post(
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            Some(session.clone()),
        )
        .await
        .unwrap();
        let text = post(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            Some(session),
        )
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        tool_names(&serde_json::from_str(data).unwrap())
    };
    for tool in ["list", "show", "run", "build", "test"] {
        assert!(
            all.contains(&tool.to_owned()),
            "dbt-mcp offers {tool}: {all:?}"
        );
    }
    let listed = bot
        .post(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    assert_eq!(listed.status, 200);
    let shown = tool_names(listed.one());
    let allowed = |t: &str| {
        ["list", "show", "compile", "parse", "docs"].contains(&t)
            || t.starts_with("get_")
            || t.starts_with("list_")
    };
    let expected: Vec<String> = all.iter().filter(|t| allowed(t)).cloned().collect();
    assert_eq!(shown, expected, "server offers {all:?}");
    for hidden in ["run", "build", "test", "clone", "execute_sql"] {
        assert!(!shown.contains(&hidden.to_owned()), "{hidden} is listed");
    }

    // An allowed call reaches dbt and runs it.
    let listed_models = bot.call(3, "list", json!({})).await;
    assert_eq!(listed_models.status, 200);
    let m = listed_models.one();
    assert_eq!(m["id"], 3);
    assert_eq!(m["result"]["isError"], false, "{m}");
    assert!(
        m["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("customer_lifetime_value"),
        "{m}"
    );

    // Refused calls get a JSON-RPC error with their id.
    assert_refused(
        &bot.call(4, "execute_sql", json!({"sql": "select 1"})).await,
        4,
        "no-sql",
    );
    assert_refused(&bot.call(5, "run", json!({})).await, 5, "default-deny");
    assert_refused(&bot.call(6, "build", json!({})).await, 6, "default-deny");
    assert_refused(&bot.call(7, "text_to_sql", json!({})).await, 7, "no-sql");

    // A batch is judged element by element; with one refused, none is forwarded.
    let batch = bot
        .post(&json!([
            {"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "show", "arguments": {"sql_query": "select 1"}}},
            {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "build", "arguments": {}}}
        ]))
        .await;
    assert_eq!(batch.status, 200);
    assert_eq!(batch.messages.len(), 2);
    assert_eq!(batch.messages[0]["id"], 8);
    assert_eq!(batch.messages[0]["error"]["code"], -32003);
    assert!(batch.messages[0]["error"].get("data").is_none());
    assert_eq!(batch.messages[1]["id"], 9);
    assert_eq!(batch.messages[1]["error"]["data"]["rule"], "default-deny");

    // Bodies that are not (unambiguous) JSON-RPC never reach the server.
    for (body, status, code) in [
        (
            r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"list","name":"run"}}"#.to_owned(),
            400,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":11,"method":"Tools/Call","params":{"name":"run"}}"#.to_owned(),
            400,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":12,"method":"tools/call","method":"tools/list"}"#.to_owned(),
            400,
            -32600,
        ),
        ("{\"jsonrpc\":\"2.0\",".to_owned(), 400, -32700),
        (
            format!(
                r#"{{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{{"name":"list","arguments":{{"pad":"{}"}}}}}}"#,
                "x".repeat(5 << 20)
            ),
            413,
            -32600,
        ),
    ] {
        let a = bot.post_raw(body.clone()).await;
        assert_eq!(a.status, status, "{}", &body[..body.len().min(120)]);
        assert_eq!(a.one()["error"]["code"], code);
        assert_eq!(a.one()["id"], Value::Null);
    }
    // A method MCP does not define is refused to everyone.
    let unknown = bot
        .post(&json!({"jsonrpc": "2.0", "id": 14, "method": "dbt/run"}))
        .await;
    assert_refused(&unknown, 14, "preset:mcp-unknown-method");

    // Only the allowed call reached the server.
    assert_eq!(server.called(), vec!["list".to_owned()]);
    let forwarded = serde_json::to_string(&server.received()).unwrap();
    for never in [
        "execute_sql",
        "text_to_sql",
        "Tools/Call",
        "dbt/run",
        "\"id\":9",
    ] {
        assert!(!forwarded.contains(never), "{never} reached the server");
    }

    // The audit log names the tools.
    env.gate.running.audit.flush().await;
    let rows = chain(env.gate.dir.path());
    let mcp: Vec<(String, Value)> = rows
        .iter()
        .filter(|r| r.entry.action.starts_with("mcp."))
        .map(|r| (r.entry.action.clone(), detail(r)))
        .collect();
    let find = |action: &str, tool: &str| {
        mcp.iter()
            .find(|(a, d)| a == action && d["tool"] == tool)
            .unwrap_or_else(|| panic!("no {action} of {tool} in {mcp:#?}"))
            .1
            .clone()
    };
    let allowed = find("mcp.allow", "list");
    assert_eq!(allowed["rule"], "analysts-read");
    assert_eq!(allowed["method"], "tools/call");
    let denied = find("mcp.deny", "execute_sql");
    assert_eq!(denied["rule"], "no-sql");
    find("mcp.deny", "run");
    find("mcp.deny", "build");
    assert!(rows
        .iter()
        .any(|r| r.entry.action == "mcp.deny" && r.entry.actor == "user:bot"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_deactivated_mid_session_is_cut_off_and_its_stream_closes() {
    let server = DbtMcp::start().await;
    let (env, bot_id) = gate_for(&server).await;
    let mut bot = Client {
        env: &env,
        user: "bot",
        session: None,
    };
    bot.open().await;
    let ping = bot
        .post(&json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}))
        .await;
    assert_eq!(ping.status, 200);
    assert_eq!(ping.one()["result"], json!({}));

    // The server's own event stream (GET), open through the gate.
    let stream = bot.request(reqwest::Method::GET).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(
        !env.gate.running.registry.is_empty(),
        "the stream is registered"
    );
    let reader = tokio::spawn(drain(stream));

    env.deactivate(&bot_id).await;
    let cut = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the event stream was not closed")
        .unwrap();
    assert!(cut, "the event stream ended with an error, not a clean end");

    // The next message is refused before it is read.
    let next = bot.call(3, "list", json!({})).await;
    assert_eq!(next.status, 403);
    assert!(server.called().is_empty(), "{:?}", server.called());
}

#[tokio::test]
async fn forward_auth_never_passes_a_post_it_cannot_read() {
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let upstream = up.url();
    let env = Env::start_with(
        up,
        iss,
        "trusted_proxies: [127.0.0.1/32]\n",
        Some(policy(&upstream)),
    )
    .await;
    let ann = env.user("ann").await;
    env.group("analysts", &[&ann]).await;
    let ask = |method: &'static str| {
        env.gate
            .http
            .get(format!("http://{}/.scimgate/auth", env.addr()))
            .header("x-forwarded-method", method)
            .header("x-forwarded-uri", "/mcp")
            .header("x-forwarded-host", HOST)
            .bearer_auth(env.iss.token("ann"))
            .send()
    };
    let post = ask("POST").await.unwrap();
    assert_eq!(post.status(), 403);
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["rule"], "preset:mcp-needs-proxy", "{body}");
    assert_eq!(ask("GET").await.unwrap().status(), 200);
    assert_eq!(ask("DELETE").await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_id_is_worth_nothing_to_another_user() {
    let server = DbtMcp::start().await;
    let (env, _bot) = gate_for(&server).await;
    let other = env
        .gate
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "bot2", "userType": "Agent", "active": true}),
        )
        .await
        .expect(201)
        .id();
    let analysts = env.group_id("analysts").await.unwrap();
    env.add_member(&analysts, &other).await;
    let mut bot = Client {
        env: &env,
        user: "bot",
        session: None,
    };
    bot.open().await;
    let reached = server.received().len();

    // The second agent may use the route, but not the first one's session.
    let thief = Client {
        env: &env,
        user: "bot2",
        session: bot.session.clone(),
    };
    let ping = json!({"jsonrpc": "2.0", "id": 7, "method": "ping"});
    let stolen = thief.post(&ping).await;
    assert_eq!(stolen.status, 404);
    assert_eq!(
        stolen.one()["error"]["code"],
        -32001,
        "{:?}",
        stolen.messages
    );
    let stream = thief.request(reqwest::Method::GET).send().await.unwrap();
    assert_eq!(
        stream.status(),
        404,
        "the event stream of another's session"
    );
    let end = thief.request(reqwest::Method::DELETE).send().await.unwrap();
    assert_eq!(end.status(), 404, "ending another's session");
    assert_eq!(
        server.received().len(),
        reached,
        "nothing reached the server"
    );

    // The owner goes on; the second agent's own session works.
    let mine = bot.post(&ping).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.one()["result"], json!({}));
    let mut own = Client {
        env: &env,
        user: "bot2",
        session: None,
    };
    own.open().await;
    assert_ne!(own.session, bot.session);
    assert_eq!(own.post(&ping).await.status, 200);
    // And the first agent cannot use the second's.
    let swapped = Client {
        env: &env,
        user: "bot",
        session: own.session.clone(),
    };
    assert_eq!(swapped.post(&ping).await.status, 404);
}
