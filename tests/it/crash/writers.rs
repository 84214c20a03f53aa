//! The IdP-style writers: concurrent SCIM clients that create users, add them to
//! groups and deactivate them (PATCH, as Entra and Okta do) until the server dies, each
//! recording what was acknowledged and what was in flight.

use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::listing::str_field;
use super::model::{Event, Model};
use super::server::{kill, Server};

/// Writers at once.
pub const WRITERS: usize = 6;
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Client {
    pub fn new(server: &Server, token: &str) -> anyhow::Result<Client> {
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

/// What one cycle's writers share.
pub struct Cycle {
    pub client: Client,
    pub child: Arc<Mutex<Child>>,
    pub killed: AtomicBool,
    pub acks: AtomicUsize,
    /// Kill right after this many acknowledgements (if set).
    pub kill_at_ack: Option<usize>,
    pub cycle: usize,
    /// Ids of the users known at the start of the cycle.
    pub known: Vec<String>,
    pub groups: Vec<String>,
}

impl Cycle {
    pub fn kill(&self) {
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

fn add_member(user: &str) -> Value {
    json!({
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}],
    })
}

/// Runs one writer until the server dies; returns what it saw acknowledged or in flight.
/// Any answer other than a success (or no answer, once the server is dead) fails.
pub async fn writer(cy: Arc<Cycle>, w: usize, seed: u64) -> anyhow::Result<Vec<Event>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut events = Vec::new();
    // Users this writer may add or deactivate: the known ones plus its own new ones.
    let mut pool: Vec<String> = cy.known.clone();
    let mut n = 0u64;
    while !cy.killed.load(Ordering::SeqCst) {
        let roll = rng.random_range(0..10);
        if pool.is_empty() || roll < 5 {
            n += 1;
            let user_name = format!("c{}.w{w}.n{n}@crash.example.com", cy.cycle);
            let body = user_body(&user_name, rng.random());
            let Ok(resp) = cy
                .client
                .send(reqwest::Method::POST, "/Users", &body)
                .send()
                .await
            else {
                events.push(Event::CreateInFlight { user_name });
                break;
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
                pool.push(id.clone());
            }
            events.push(Event::Created { id, user_name });
        } else if roll < 8 {
            let user = pool[rng.random_range(0..pool.len())].clone();
            let group = cy.groups[rng.random_range(0..cy.groups.len())].clone();
            let req = cy.client.send(
                reqwest::Method::PATCH,
                &format!("/Groups/{group}"),
                &add_member(&user),
            );
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
                    events.push(Event::Added {
                        group,
                        user,
                        acked: true,
                    });
                }
                Ok(resp) => bail!(
                    "PATCH /Groups/{group} (add a member): {} {}",
                    resp.status(),
                    resp.text().await.unwrap_or_default()
                ),
            }
        } else {
            let id = pool[rng.random_range(0..pool.len())].clone();
            let patch = json!({
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "replace", "value": {"active": false}}],
            });
            let req = cy
                .client
                .send(reqwest::Method::PATCH, &format!("/Users/{id}"), &patch);
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
                    "PATCH /Users/{id} (deactivate): {} {}",
                    resp.status(),
                    resp.text().await.unwrap_or_default()
                ),
            }
        }
    }
    Ok(events)
}

/// Creates the groups and a first user in the first of them (by PATCH, which must
/// work).
pub async fn setup(client: &Client, model: &mut Model) -> anyhow::Result<()> {
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
        model.add_group(str_field(&v, "id")?.to_owned(), name);
    }
    let user_name = "probe@crash.example.com";
    let resp = client
        .send(reqwest::Method::POST, "/Users", &user_body(user_name, 0))
        .send()
        .await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    ensure!(status.is_success(), "POST /Users: {status} {v}");
    let id = str_field(&v, "id")?.to_owned();
    model.apply(vec![Event::Created {
        id: Some(id.clone()),
        user_name: user_name.to_owned(),
    }])?;
    let group = model.group_order[0].clone();
    let resp = client
        .send(
            reqwest::Method::PATCH,
            &format!("/Groups/{group}"),
            &add_member(&id),
        )
        .send()
        .await?;
    let status = resp.status();
    ensure!(
        status.is_success(),
        "PATCH /Groups/{group}: {status} {}",
        resp.text().await.unwrap_or_default()
    );
    model.apply(vec![Event::Added {
        group,
        user: id,
        acked: true,
    }])
}
