//! One crash test run: writers against the server, a kill at a random moment, whatever
//! the crash does to the disk, a restart on the same data directory, and the checks;
//! again and again.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::listing::{compare, scim_listing, store_listing};
use super::model::Model;
use super::server::{audit_verify, create_token, Server};
use super::writers::{setup, writer, Client, Cycle, WRITERS};

/// Runs `cycles` crashes of the server on `data` (its stderr appended to `log`).
/// After each SIGKILL `after_kill` does what else the crash does (the server is dead
/// by then); then the server restarts on `data` and must show every acknowledged
/// write, list exactly what its store holds, and keep an intact audit chain that holds
/// at least one record per acknowledged write.
pub async fn crash_cycles(
    name: &str,
    data: &Path,
    log: &Path,
    cycles: usize,
    mut after_kill: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let db = data.join("scimgate.db");
    let token = create_token(data)?;
    let seed: u64 = rand::rng().random();
    eprintln!("{name}: seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let mut server = Server::start(data, log).await?;
    let mut model = Model::default();
    setup(&Client::new(&server, &token)?, &mut model).await?;
    // The groups, the first user and its membership.
    let mut total_acks = WRITERS + 2;
    let mut in_flight = 0;

    for cycle in 0..cycles {
        let by_ack = cycle % 2 == 1;
        let cy = Arc::new(Cycle {
            client: Client::new(&server, &token)?,
            child: server.child.clone(),
            killed: AtomicBool::new(false),
            acks: AtomicUsize::new(0),
            kill_at_ack: by_ack.then(|| rng.random_range(1..=40)),
            cycle,
            known: model.users.keys().cloned().collect(),
            groups: model.group_order.clone(),
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
        drop(server);
        after_kill().with_context(|| format!("after the kill of cycle {cycle}"))?;
        let acks = cy.acks.load(Ordering::SeqCst);
        total_acks += acks;
        in_flight += events.iter().filter(|e| e.in_flight()).count();
        model.apply(events)?;

        // Restart on the same data directory.
        server = Server::start(data, log).await?;
        let client = Client::new(&server, &token)?;
        let seen = scim_listing(&client).await?;
        model
            .check_and_settle(&seen)
            .with_context(|| format!("cycle {cycle} (seed {seed}, {acks} acknowledged)"))?;
        let stored = store_listing(&db)?;
        compare(&seen, &stored)
            .with_context(|| format!("directory vs store, cycle {cycle} (seed {seed})"))?;
        let records = audit_verify(data)
            .with_context(|| format!("audit chain after cycle {cycle} (seed {seed})"))?;
        ensure!(
            records >= total_acks as u64,
            "cycle {cycle} (seed {seed}): the audit chain holds {records} records for \
             {total_acks} acknowledged writes"
        );
    }
    let members: usize = model.groups.values().map(|g| g.must.len()).sum();
    eprintln!(
        "{name}: {cycles} crashes, {total_acks} acknowledged writes, {in_flight} in flight at a \
         crash, {} users, {members} memberships, audit chain intact, {:.1} s",
        model.users.len(),
        started.elapsed().as_secs_f64()
    );
    ensure!(
        total_acks >= cycles * 5,
        "only {total_acks} writes were acknowledged: the test proved little"
    );
    Ok(())
}
