//! Seeding a data directory straight through the store (no HTTP): users that look like
//! an IdP's, groups, memberships, and a SCIM token. Records are built the way the server
//! builds them: the body is the normalized resource without `id`, `meta`, `groups` or
//! `members`; the indexed fields beside it are taken from the same resource.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde_json::{json, Value};

use scimgate::record::{Change, GroupRecord, Member, StoreOp, UserRecord};
use scimgate::scim::schema::{normalize_resource, ResourceKind};
use scimgate::store::{SqliteStore, Store};
use scimgate::tokens::{self, TokenScope};

/// Operations per seeding transaction.
const CHUNK: usize = 20_000;
/// When the seeded records say they were created (2026-01-01, Unix ms).
const CREATED: i64 = 1_767_225_600_000;

const GIVEN: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Frances",
    "John",
    "Radia",
    "Leslie",
    "Sophie",
    "Tim",
    "Katherine",
    "Donald",
];
const FAMILY: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Allen",
    "Backus",
    "Perlman",
    "Lamport",
    "Wilson",
    "Berners-Lee",
    "Johnson",
    "Knuth",
];
const LICENSES: &[&str] = &["developer", "analyst", "read_only", "it"];

/// A fixed, well-mixed 64-bit hash (splitmix64).
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn pick<'a>(list: &[&'a str], h: u64) -> &'a str {
    list[(h % list.len() as u64) as usize]
}

/// A UUID-shaped id that is a function of `(kind, n)`.
pub fn seeded_id(kind: u64, n: u32) -> String {
    let a = mix((kind << 40) | u64::from(n));
    let b = mix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// The userName of seeded (or imported) user `n`.
pub fn user_name(n: u32) -> String {
    let h = mix(u64::from(n));
    format!(
        "{}.{}{n}@corp.example.com",
        pick(GIVEN, h).to_lowercase(),
        pick(FAMILY, h >> 8).to_lowercase()
    )
}

/// The User resource an IdP would POST for user `n` (about 450 bytes of JSON).
pub fn user_resource(n: u32) -> Value {
    let h = mix(u64::from(n));
    let (given, family) = (pick(GIVEN, h), pick(FAMILY, h >> 8));
    let name = user_name(n);
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:dbtLabs:2.0:User"
        ],
        "userName": name,
        "externalId": format!("00u{:017x}", h >> 4),
        "name": {"givenName": given, "familyName": family},
        "displayName": format!("{given} {family}"),
        "emails": [{"value": name, "type": "work", "primary": true}],
        "active": true,
        "urn:ietf:params:scim:schemas:extension:dbtLabs:2.0:User": {
            "licenseType": pick(LICENSES, h >> 32)
        }
    })
}

/// The mean length of seeded users' stored bodies (a sample of the first `n`).
pub fn mean_body_bytes(n: u32) -> anyhow::Result<f64> {
    let mut total = 0usize;
    for i in 0..n {
        total += user_record(i)?.body.text().len();
    }
    Ok(total as f64 / f64::from(n))
}

fn opt_str(v: &Value, key: &str) -> Option<Box<str>> {
    v.get(key).and_then(Value::as_str).map(Box::from)
}

/// User `n` as the store keeps it, at ordinal `n`.
pub fn user_record(n: u32) -> anyhow::Result<UserRecord> {
    let body = normalize_resource(ResourceKind::User, user_resource(n))?;
    let emails: Box<[Box<str>]> = body["emails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["value"].as_str())
        .map(|e| e.to_lowercase().into_boxed_str())
        .collect();
    let license = body
        .get("urn:ietf:params:scim:schemas:extension:dbtLabs:2.0:User")
        .and_then(|x| x.get("licenseType"))
        .and_then(Value::as_str)
        .map(Box::from);
    let user_name = opt_str(&body, "userName").context("userName")?;
    Ok(UserRecord {
        external_id: opt_str(&body, "externalId"),
        active: body["active"].as_bool().unwrap_or(true),
        emails,
        license,
        user_type: opt_str(&body, "userType"),
        body: body.to_string().into(),
        created: CREATED,
        modified: CREATED,
        scim_managed: true,
        ..UserRecord::new(n, seeded_id(1, n), user_name)
    })
}

/// Group `n` as the store keeps it, at ordinal `n`.
pub fn group_record(n: u32, display_name: &str) -> anyhow::Result<GroupRecord> {
    let raw = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": display_name,
        "externalId": format!("00g{:017x}", mix(u64::from(n) | (1 << 50)) >> 4),
    });
    let mut body = normalize_resource(ResourceKind::Group, raw)?;
    if let Some(obj) = body.as_object_mut() {
        obj.remove("members");
    }
    Ok(GroupRecord {
        external_id: opt_str(&body, "externalId"),
        body: body.to_string().into(),
        created: CREATED,
        modified: CREATED,
        scim_managed: true,
        ..GroupRecord::new(n, seeded_id(2, n), display_name)
    })
}

fn change(ops: Vec<StoreOp>) -> Change {
    Change {
        at: CREATED,
        actor: "bench:seed".to_owned(),
        action: "bench.seed",
        resource_type: "Seed",
        resource_id: String::new(),
        before: None,
        after: None,
        ops,
    }
}

/// What to put in a data directory.
pub struct Spec {
    pub users: u32,
    /// Group display names, by ordinal.
    pub groups: Vec<String>,
    /// (group ord, user ord).
    pub memberships: Vec<(u32, u32)>,
}

/// Writes `spec` into the store at `data`; returns a SCIM token for it.
pub fn seed(data: &Path, spec: &Spec) -> anyhow::Result<String> {
    let started = Instant::now();
    let store = SqliteStore::open(&data.join("scimgate.db"))?;
    let mut ops = Vec::with_capacity(CHUNK);
    // The store leaves checkpoints to its owner (`Store::maintain`, which the server's
    // writer runs between batches); without them the WAL grows to tens of GB here.
    let commit = |ops: Vec<StoreOp>| -> anyhow::Result<()> {
        store.commit(&[change(ops)])?;
        store.maintain()?;
        Ok(())
    };
    let flush = |ops: &mut Vec<StoreOp>| -> anyhow::Result<()> {
        if !ops.is_empty() {
            commit(std::mem::take(ops))?;
        }
        Ok(())
    };
    for n in 0..spec.users {
        ops.push(StoreOp::PutUser(Arc::new(user_record(n)?)));
        if ops.len() == CHUNK {
            flush(&mut ops)?;
        }
    }
    for (n, name) in spec.groups.iter().enumerate() {
        ops.push(StoreOp::PutGroup(Arc::new(group_record(n as u32, name)?)));
        if ops.len() == CHUNK {
            flush(&mut ops)?;
        }
    }
    flush(&mut ops)?;
    let mut pairs = spec.memberships.clone();
    pairs.sort_unstable();
    for chunk in pairs.chunk_by(|a, b| a.0 == b.0) {
        for part in chunk.chunks(CHUNK) {
            commit(vec![StoreOp::Members {
                group: part[0].0,
                replace_all: false,
                add: part.iter().map(|(_, u)| Member::User(*u)).collect(),
                remove: Vec::new(),
            }])?;
        }
    }
    let (token, row) = tokens::issue("bench", TokenScope::Scim, CREATED);
    store.token_insert(&row)?;
    drop(store);
    checkpoint(data)?;
    eprintln!(
        "seeded {} users, {} groups, {} memberships in {:.1} s",
        spec.users,
        spec.groups.len(),
        spec.memberships.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(token)
}

/// Folds the WAL into the database file, as a long-running server would have.
fn checkpoint(data: &Path) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open(data.join("scimgate.db"))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// A seeded data directory under `bench/out/data/<name>`, reused while its spec is
/// unchanged (seeding a million users takes a while); returns it and its token.
pub fn cached(
    out: &Path,
    name: &str,
    spec: impl FnOnce() -> Spec,
) -> anyhow::Result<(PathBuf, String)> {
    let dir = out.join("data").join(name);
    let marker = dir.join("seeded");
    if let Ok(token) = std::fs::read_to_string(&marker) {
        eprintln!("reusing the seeded data in {}", dir.display());
        return Ok((dir, token.trim().to_owned()));
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let token = seed(&dir, &spec())?;
    std::fs::write(&marker, &token)?;
    Ok((dir, token))
}
