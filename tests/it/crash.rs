//! Crash safety of the real binary: IdP-style writers run against `scimgate serve`, the
//! process is killed with SIGKILL at a random moment, restarted on the same data
//! directory, and then
//!
//! 1. every write the server acknowledged (2xx) is present after the restart: users with
//!    their userName and acknowledged `active` flag, group memberships; nothing appears
//!    that no writer asked for;
//! 2. the directory equals the store: what the restarted server lists over SCIM (users,
//!    groups, members; paged) is exactly what the SQLite tables hold, read directly.
//!
//! Half of the kills come after a random delay, the other half right after a random
//! acknowledgement arrives, which is when an acknowledgement sent ahead of its commit
//! would be lost. Writes that were in flight at the kill may or may not have happened;
//! the check after the restart settles them.
//!
//! Group membership and deactivation use PATCH when the server supports it, else a full
//! PUT (each writer then owns one group, so it knows the whole member list it sends).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const CYCLES: usize = 30;
const WRITERS: usize = 6;
const PAGE: usize = 500;
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

// ---- the server process ----

/// A `scimgate serve` child process; killed (SIGKILL) when dropped.
struct Server {
    child: Arc<Mutex<Child>>,
    base: String,
}

impl Server {
    /// Starts the binary on a free loopback port and waits until it answers.
    async fn start(data: &Path, log: &Path) -> anyhow::Result<Server> {
        let mut last_err = anyhow!("not started");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let log_file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)?;
            let child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
                .arg("serve")
                .arg("--data")
                .arg(data)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .env_remove("SCIMGATE_CONFIG")
                .env_remove("SCIMGATE_DATA")
                .env_remove("SCIMGATE_LISTEN")
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .context("spawning scimgate serve")?;
            let server = Server {
                child: Arc::new(Mutex::new(child)),
                base: format!("http://127.0.0.1:{port}"),
            };
            match server.wait_ready().await {
                Ok(()) => return Ok(server),
                // Most likely the port was taken between our probe and its bind: retry.
                Err(e) => last_err = e,
            }
        }
        Err(last_err.context(format!("server log:\n{}", tail(log))))
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.lock().try_wait()? {
                bail!("scimgate exited during start: {status}");
            }
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            ensure!(
                Instant::now() < deadline,
                "scimgate did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn scim(&self) -> String {
        format!("{}/scim/v2", self.base)
    }
}

/// SIGKILL, then reap.
fn kill(child: &Mutex<Child>) {
    let mut c = child.lock();
    let _ = c.kill();
    let _ = c.wait();
}

impl Drop for Server {
    fn drop(&mut self) {
        kill(&self.child);
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn create_token(data: &Path) -> anyhow::Result<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["token", "create", "crash-idp", "--data"])
        .arg(data)
        .env_remove("SCIMGATE_CONFIG")
        .env_remove("SCIMGATE_DATA")
        .output()?;
    ensure!(
        out.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?.trim().to_owned();
    ensure!(!token.is_empty(), "token create printed nothing");
    Ok(token)
}

// ---- what the writers know ----

/// What a user's `active` flag must be after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Active {
    Is(bool),
    /// A deactivation was in flight at the kill.
    Either,
}

#[derive(Debug, Clone)]
struct UserModel {
    user_name: String,
    /// The resource as created (for full PUTs).
    body: Value,
    active: Active,
}

#[derive(Debug, Clone, Default)]
struct GroupModel {
    name: String,
    /// Members whose addition was acknowledged.
    must: BTreeSet<String>,
    /// Members whose addition was in flight at the kill.
    may: BTreeSet<String>,
}

/// Everything acknowledged so far, plus what was in flight at the last kill.
#[derive(Debug, Default)]
struct Model {
    users: BTreeMap<String, UserModel>,
    /// Creates in flight at the kill (lower-cased userName → body).
    maybe_created: HashMap<String, Value>,
    /// Acknowledged creates whose response body (with the id) was cut off.
    created_no_id: HashMap<String, Value>,
    groups: BTreeMap<String, GroupModel>,
    /// Group ids in writer order (writer `w` owns `group_order[w]` in PUT mode).
    group_order: Vec<String>,
}

/// One writer's record of a cycle.
#[derive(Debug)]
enum Event {
    Created {
        id: Option<String>,
        user_name: String,
        body: Value,
    },
    CreateInFlight {
        user_name: String,
        body: Value,
    },
    Deactivated {
        id: String,
        acked: bool,
    },
    Added {
        group: String,
        user: String,
        acked: bool,
    },
}

impl Model {
    fn apply(&mut self, events: Vec<Event>) -> anyhow::Result<()> {
        for e in events {
            match e {
                Event::Created {
                    id: Some(id),
                    user_name,
                    body,
                } => {
                    let prev = self.users.insert(
                        id.clone(),
                        UserModel {
                            user_name,
                            body,
                            active: Active::Is(true),
                        },
                    );
                    ensure!(prev.is_none(), "the server handed out id {id} twice");
                }
                Event::Created {
                    id: None,
                    user_name,
                    body,
                } => {
                    self.created_no_id.insert(user_name.to_lowercase(), body);
                }
                Event::CreateInFlight { user_name, body } => {
                    self.maybe_created.insert(user_name.to_lowercase(), body);
                }
                Event::Deactivated { id, acked } => {
                    let u = self
                        .users
                        .get_mut(&id)
                        .ok_or_else(|| anyhow!("deactivated unknown user {id}"))?;
                    if acked {
                        u.active = Active::Is(false);
                    } else if u.active != Active::Is(false) {
                        u.active = Active::Either;
                    }
                }
                Event::Added { group, user, acked } => {
                    let g = self
                        .groups
                        .get_mut(&group)
                        .ok_or_else(|| anyhow!("added to unknown group {group}"))?;
                    if acked {
                        g.may.remove(&user);
                        g.must.insert(user);
                    } else if !g.must.contains(&user) {
                        g.may.insert(user);
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks the restarted server against what was acknowledged, then settles what was
    /// in flight from what the server shows.
    fn check_and_settle(&mut self, seen: &Listing) -> anyhow::Result<()> {
        // Users the writers know must be there, as acknowledged.
        for (id, u) in &self.users {
            let s = seen
                .users
                .get(id)
                .ok_or_else(|| anyhow!("acknowledged user {id} ({}) is missing", u.user_name))?;
            ensure!(
                s.user_name == u.user_name,
                "user {id}: userName {:?}, acknowledged {:?}",
                s.user_name,
                u.user_name
            );
            if let Active::Is(a) = u.active {
                ensure!(
                    s.active == a,
                    "user {id} ({}): active={}, acknowledged active={a}",
                    u.user_name,
                    s.active
                );
            }
        }
        // Every other user must come from a create that was acknowledged without its
        // id, or was in flight.
        let mut adopted = Vec::new();
        for (id, s) in &seen.users {
            if self.users.contains_key(id) {
                continue;
            }
            let key = s.user_name.to_lowercase();
            let body = self
                .created_no_id
                .remove(&key)
                .or_else(|| self.maybe_created.remove(&key))
                .ok_or_else(|| {
                    anyhow!(
                        "user {id} ({}) exists but no writer created it",
                        s.user_name
                    )
                })?;
            ensure!(s.active, "user {id} was created active but is inactive");
            adopted.push((id.clone(), s.user_name.clone(), body));
        }
        if let Some(name) = self.created_no_id.keys().next() {
            bail!("acknowledged create of {name:?} is missing");
        }
        self.maybe_created.clear();
        for (id, user_name, body) in adopted {
            self.users.insert(
                id,
                UserModel {
                    user_name,
                    body,
                    active: Active::Is(true),
                },
            );
        }
        for (id, u) in self.users.iter_mut() {
            u.active = Active::Is(seen.users[id].active);
        }
        // Groups: acknowledged members present; nothing beyond what was asked.
        ensure!(
            seen.groups.len() == self.groups.len(),
            "{} groups listed, {} created",
            seen.groups.len(),
            self.groups.len()
        );
        for (id, g) in self.groups.iter_mut() {
            let s = seen
                .groups
                .get(id)
                .ok_or_else(|| anyhow!("group {id} ({}) is missing", g.name))?;
            ensure!(s.name == g.name, "group {id}: displayName {:?}", s.name);
            if let Some(lost) = g.must.difference(&s.members).next() {
                bail!("group {}: acknowledged member {lost} is missing", g.name);
            }
            if let Some(extra) = s
                .members
                .iter()
                .find(|m| !g.must.contains(*m) && !g.may.contains(*m))
            {
                bail!("group {}: member {extra} was never added", g.name);
            }
            g.must = s.members.clone();
            g.may.clear();
        }
        Ok(())
    }
}

// ---- what the server and the store hold ----

#[derive(Debug, PartialEq, Eq)]
struct SeenUser {
    user_name: String,
    active: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct SeenGroup {
    name: String,
    members: BTreeSet<String>,
}

#[derive(Debug, PartialEq, Eq, Default)]
struct Listing {
    users: BTreeMap<String, SeenUser>,
    groups: BTreeMap<String, SeenGroup>,
}

fn str_field<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("resource without {key}: {v}"))
}

/// Every resource of a type, page by page.
async fn list_all(client: &Client, kind: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut start = 1;
    loop {
        let url = format!("{}/{kind}?startIndex={start}&count={PAGE}", client.base);
        let resp = client
            .http
            .get(&url)
            .bearer_auth(&client.token)
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        ensure!(status.is_success(), "GET {url}: {status} {body}");
        let total = body["totalResults"]
            .as_u64()
            .ok_or_else(|| anyhow!("no totalResults: {body}"))? as usize;
        let items = body["Resources"].as_array().cloned().unwrap_or_default();
        let n = items.len();
        out.extend(items);
        if n == 0 || out.len() >= total {
            ensure!(
                out.len() == total,
                "{kind}: listed {} of {total}",
                out.len()
            );
            return Ok(out);
        }
        start += n;
    }
}

async fn scim_listing(client: &Client) -> anyhow::Result<Listing> {
    let mut l = Listing::default();
    for u in list_all(client, "Users").await? {
        let id = str_field(&u, "id")?.to_owned();
        let seen = SeenUser {
            user_name: str_field(&u, "userName")?.to_owned(),
            active: u["active"].as_bool().unwrap_or(true),
        };
        ensure!(
            l.users.insert(id.clone(), seen).is_none(),
            "user {id} listed twice"
        );
    }
    for g in list_all(client, "Groups").await? {
        let id = str_field(&g, "id")?.to_owned();
        let mut members = BTreeSet::new();
        for m in g["members"].as_array().into_iter().flatten() {
            members.insert(str_field(m, "value")?.to_owned());
        }
        let seen = SeenGroup {
            name: str_field(&g, "displayName")?.to_owned(),
            members,
        };
        ensure!(
            l.groups.insert(id.clone(), seen).is_none(),
            "group {id} listed twice"
        );
    }
    Ok(l)
}

/// The same view, straight from the SQLite tables (read-only).
fn store_listing(db: &Path) -> anyhow::Result<Listing> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut l = Listing::default();
    let mut stmt = conn.prepare("SELECT id, user_name, active FROM users")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        l.users.insert(
            r.get(0)?,
            SeenUser {
                user_name: r.get(1)?,
                active: r.get(2)?,
            },
        );
    }
    let mut stmt = conn.prepare("SELECT id, display_name FROM groups")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        l.groups.insert(
            r.get(0)?,
            SeenGroup {
                name: r.get(1)?,
                members: BTreeSet::new(),
            },
        );
    }
    let mut stmt = conn.prepare(
        "SELECT g.id, m.member_kind, m.member_ord, CASE m.member_kind WHEN 0 THEN u.id ELSE h.id END
         FROM memberships m
         LEFT JOIN groups g ON g.ord = m.group_ord
         LEFT JOIN users u ON m.member_kind = 0 AND u.ord = m.member_ord
         LEFT JOIN groups h ON m.member_kind = 1 AND h.ord = m.member_ord",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let group: Option<String> = r.get(0)?;
        let member: Option<String> = r.get(3)?;
        let (Some(group), Some(member)) = (group, member) else {
            let kind: i64 = r.get(1)?;
            let ord: i64 = r.get(2)?;
            bail!("store holds a dangling membership (member kind {kind}, ord {ord})");
        };
        l.groups
            .get_mut(&group)
            .ok_or_else(|| anyhow!("membership of unknown group {group}"))?
            .members
            .insert(member);
    }
    Ok(l)
}

fn compare(scim: &Listing, store: &Listing) -> anyhow::Result<()> {
    for (id, s) in &store.users {
        match scim.users.get(id) {
            None => bail!("user {id} ({}) is in the store but not served", s.user_name),
            Some(u) if u != s => bail!("user {id}: served {u:?}, stored {s:?}"),
            Some(_) => {}
        }
    }
    if let Some(id) = scim.users.keys().find(|id| !store.users.contains_key(*id)) {
        bail!("user {id} is served but not in the store");
    }
    for (id, s) in &store.groups {
        match scim.groups.get(id) {
            None => bail!("group {id} ({}) is in the store but not served", s.name),
            Some(g) if g != s => bail!(
                "group {id}: served {} members, stored {} (served-only: {:?}, stored-only: {:?})",
                g.members.len(),
                s.members.len(),
                g.members.difference(&s.members).collect::<Vec<_>>(),
                s.members.difference(&g.members).collect::<Vec<_>>()
            ),
            Some(_) => {}
        }
    }
    if let Some(id) = scim
        .groups
        .keys()
        .find(|id| !store.groups.contains_key(*id))
    {
        bail!("group {id} is served but not in the store");
    }
    Ok(())
}

// ---- the writers ----

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(server: &Server, token: &str) -> anyhow::Result<Client> {
        Ok(Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()?,
            base: server.scim(),
            token: token.to_owned(),
        })
    }

    fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
    }
}

/// How the writers change groups and users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Patch,
    Put,
}

/// What one cycle's writers share.
struct Cycle {
    client: Client,
    mode: Mode,
    child: Arc<Mutex<Child>>,
    killed: AtomicBool,
    acks: AtomicUsize,
    /// Kill right after this many acknowledgements (if set).
    kill_at_ack: Option<usize>,
    cycle: usize,
    /// Users known at the start of the cycle: (id, body).
    known: Vec<(String, Value)>,
    groups: Vec<String>,
    /// Members of each group at the start of the cycle (PUT mode sends the whole list).
    members: HashMap<String, BTreeSet<String>>,
    group_names: HashMap<String, String>,
}

impl Cycle {
    fn kill(&self) {
        if !self.killed.swap(true, Ordering::SeqCst) {
            kill(&self.child);
        }
    }

    /// Counts an acknowledgement, killing the server if it is the chosen one.
    fn acked(&self) {
        let n = self.acks.fetch_add(1, Ordering::SeqCst) + 1;
        if self.kill_at_ack == Some(n) {
            self.kill();
        }
    }
}

fn user_body(user_name: &str, seed: u64) -> Value {
    let given = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken"][(seed % 6) as usize];
    let family = [
        "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson",
    ][((seed / 6) % 6) as usize];
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "externalId": format!("00u{seed:016x}"),
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true,
    })
}

/// Runs one writer until the server dies; returns what it saw acknowledged or in flight.
async fn writer(cy: Arc<Cycle>, w: usize, seed: u64) -> anyhow::Result<Vec<Event>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut events = Vec::new();
    // Users this writer may add or deactivate: the known ones plus its own new ones.
    let mut pool: Vec<(String, Value)> = cy.known.clone();
    let own_group = &cy.groups[w % cy.groups.len()];
    let mut own_members = cy.members.get(own_group).cloned().unwrap_or_default();
    let mut n = 0u64;
    while !cy.killed.load(Ordering::SeqCst) {
        let roll = rng.random_range(0..10);
        if pool.is_empty() || roll < 5 {
            n += 1;
            let user_name = format!("c{}.w{w}.n{n}@crash.example.com", cy.cycle);
            let body = user_body(&user_name, rng.random());
            let sent = cy
                .client
                .send(reqwest::Method::POST, "/Users", &body)
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(_) => {
                    events.push(Event::CreateInFlight { user_name, body });
                    break;
                }
            };
            let status = resp.status();
            if !status.is_success() {
                bail!(
                    "POST /Users: {status} {}",
                    resp.text().await.unwrap_or_default()
                );
            }
            cy.acked();
            let id = match resp.json::<Value>().await {
                Ok(v) => Some(str_field(&v, "id")?.to_owned()),
                Err(_) => None,
            };
            if let Some(id) = &id {
                pool.push((id.clone(), body.clone()));
            }
            events.push(Event::Created {
                id,
                user_name,
                body,
            });
        } else if roll < 8 {
            let (user, _) = pool[rng.random_range(0..pool.len())].clone();
            let (group, req) = match cy.mode {
                Mode::Patch => {
                    let group = cy.groups[rng.random_range(0..cy.groups.len())].clone();
                    let body = json!({
                        "schemas": [PATCH_SCHEMA],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}],
                    });
                    let req =
                        cy.client
                            .send(reqwest::Method::PATCH, &format!("/Groups/{group}"), &body);
                    (group, req)
                }
                Mode::Put => {
                    let group = own_group.clone();
                    let mut members = own_members.clone();
                    members.insert(user.clone());
                    let body = json!({
                        "schemas": [GROUP_SCHEMA],
                        "displayName": cy.group_names[&group],
                        "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>(),
                    });
                    let req =
                        cy.client
                            .send(reqwest::Method::PUT, &format!("/Groups/{group}"), &body);
                    (group, req)
                }
            };
            match req.send().await {
                Err(_) => {
                    events.push(Event::Added {
                        group,
                        user,
                        acked: false,
                    });
                    break;
                }
                Ok(resp) if resp.status().is_success() => {
                    cy.acked();
                    if cy.mode == Mode::Put {
                        own_members.insert(user.clone());
                    }
                    events.push(Event::Added {
                        group,
                        user,
                        acked: true,
                    });
                }
                Ok(resp) => bail!(
                    "adding a member to {group}: {} {}",
                    resp.status(),
                    resp.text().await.unwrap_or_default()
                ),
            }
        } else {
            let (id, body) = pool[rng.random_range(0..pool.len())].clone();
            let req = match cy.mode {
                Mode::Patch => {
                    let patch = json!({
                        "schemas": [PATCH_SCHEMA],
                        "Operations": [{"op": "replace", "value": {"active": false}}],
                    });
                    cy.client
                        .send(reqwest::Method::PATCH, &format!("/Users/{id}"), &patch)
                }
                Mode::Put => {
                    let mut full = body;
                    full["active"] = Value::Bool(false);
                    cy.client
                        .send(reqwest::Method::PUT, &format!("/Users/{id}"), &full)
                }
            };
            match req.send().await {
                Err(_) => {
                    events.push(Event::Deactivated { id, acked: false });
                    break;
                }
                Ok(resp) if resp.status().is_success() => {
                    cy.acked();
                    events.push(Event::Deactivated { id, acked: true });
                }
                Ok(resp) => bail!(
                    "deactivating {id}: {} {}",
                    resp.status(),
                    resp.text().await.unwrap_or_default()
                ),
            }
        }
    }
    Ok(events)
}

/// Creates the groups and finds out whether group PATCH works.
async fn setup(client: &Client, model: &mut Model) -> anyhow::Result<Mode> {
    for w in 0..WRITERS {
        let name = format!("crash-group-{w}");
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name});
        let resp = client
            .send(reqwest::Method::POST, "/Groups", &body)
            .send()
            .await?;
        let status = resp.status();
        let v: Value = resp.json().await?;
        ensure!(status.is_success(), "POST /Groups: {status} {v}");
        let id = str_field(&v, "id")?.to_owned();
        model.group_order.push(id.clone());
        model.groups.insert(
            id,
            GroupModel {
                name,
                ..GroupModel::default()
            },
        );
    }
    // A probe user added to the first group.
    let user_name = "probe@crash.example.com";
    let body = user_body(user_name, 0);
    let resp = client
        .send(reqwest::Method::POST, "/Users", &body)
        .send()
        .await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    ensure!(status.is_success(), "POST /Users: {status} {v}");
    let id = str_field(&v, "id")?.to_owned();
    model.apply(vec![Event::Created {
        id: Some(id.clone()),
        user_name: user_name.to_owned(),
        body,
    }])?;
    let group = model.group_order[0].clone();
    let patch = json!({
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}],
    });
    let resp = client
        .send(reqwest::Method::PATCH, &format!("/Groups/{group}"), &patch)
        .send()
        .await?;
    if resp.status().is_success() {
        model.apply(vec![Event::Added {
            group,
            user: id,
            acked: true,
        }])?;
        Ok(Mode::Patch)
    } else {
        eprintln!(
            "crash test: group PATCH answered {}; changing groups and users with PUT",
            resp.status()
        );
        Ok(Mode::Put)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() -> anyhow::Result<()> {
    let started = Instant::now();
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    let log: PathBuf = tmp.path().join("server.log");
    let db = data.join("scimgate.db");
    let token = create_token(&data)?;
    let seed: u64 = rand::rng().random();
    eprintln!("crash test: seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let mut server = Server::start(&data, &log).await?;
    let mut model = Model::default();
    let mode = setup(&Client::new(&server, &token)?, &mut model).await?;
    let (mut total_acks, mut in_flight) = (0, 0);

    for cycle in 0..CYCLES {
        let by_ack = cycle % 2 == 1;
        let cy = Arc::new(Cycle {
            client: Client::new(&server, &token)?,
            mode,
            child: server.child.clone(),
            killed: AtomicBool::new(false),
            acks: AtomicUsize::new(0),
            kill_at_ack: by_ack.then(|| rng.random_range(1..=40)),
            cycle,
            known: model
                .users
                .iter()
                .map(|(id, u)| (id.clone(), u.body.clone()))
                .collect(),
            groups: model.group_order.clone(),
            members: model
                .groups
                .iter()
                .map(|(id, g)| (id.clone(), g.must.clone()))
                .collect(),
            group_names: model
                .groups
                .iter()
                .map(|(id, g)| (id.clone(), g.name.clone()))
                .collect(),
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| tokio::spawn(writer(cy.clone(), w, rng.random())))
            .collect();
        // A timed kill; with `kill_at_ack` it is only a backstop.
        let delay = if by_ack {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(rng.random_range(5..300))
        };
        let killer = {
            let cy = cy.clone();
            tokio::spawn(async move {
                let until = Instant::now() + delay;
                while Instant::now() < until && !cy.killed.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                cy.kill();
            })
        };
        let mut events = Vec::new();
        for w in writers {
            events.extend(w.await??);
        }
        killer.await?;
        let acks = cy.acks.load(Ordering::SeqCst);
        total_acks += acks;
        in_flight += events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::CreateInFlight { .. }
                        | Event::Deactivated { acked: false, .. }
                        | Event::Added { acked: false, .. }
                )
            })
            .count();
        model.apply(events)?;

        // Restart on the same data directory.
        drop(server);
        server = Server::start(&data, &log).await?;
        let client = Client::new(&server, &token)?;
        let seen = scim_listing(&client).await?;
        model
            .check_and_settle(&seen)
            .with_context(|| format!("cycle {cycle} (seed {seed}, {acks} acknowledged)"))?;
        let stored = store_listing(&db)?;
        compare(&seen, &stored)
            .with_context(|| format!("directory vs store, cycle {cycle} (seed {seed})"))?;
    }
    let members: usize = model.groups.values().map(|g| g.must.len()).sum();
    eprintln!(
        "crash test: {CYCLES} kills, {total_acks} acknowledged writes, {in_flight} in flight at a kill, \
         {} users, {members} memberships, mode {mode:?}, {:.1} s",
        model.users.len(),
        started.elapsed().as_secs_f64()
    );
    ensure!(
        total_acks >= CYCLES * 5,
        "only {total_acks} writes were acknowledged: the test proved little"
    );
    Ok(())
}
