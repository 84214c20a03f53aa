//! Crash safety of the real binary: IdP-style writers (POST users, PATCH group members,
//! PATCH deactivations, six at once) run against `scimgate serve`, the process is
//! killed at a random moment, restarted on the same data directory, and then
//!
//! 1. every write the server acknowledged (2xx) is present after the restart: users with
//!    their userName and acknowledged `active` flag, group memberships; nothing appears
//!    that no writer asked for;
//! 2. the directory equals the store: what the restarted server lists over SCIM (users,
//!    groups, members; paged) is exactly what the SQLite tables hold, read directly;
//! 3. the audit chain is intact (`scimgate audit verify`, the real command) and holds at
//!    least one record per acknowledged write.
//!
//! Half of the kills come after a random delay, the other half right after a random
//! acknowledgement arrives, which is when an acknowledgement sent ahead of its commit
//! would be lost. Writes that were in flight at the kill may or may not have happened;
//! the check after the restart settles them. Any other answer than a success fails the
//! test (PATCH must work).
//!
//! [`acknowledged_writes_survive_sigkill`] kills the process only: the operating
//! system keeps what it had been given. [`power_cut`] also throws away what was not
//! yet on the disk ([`disk`]), so only what was synced survives.

mod disk;
mod listing;
mod model;
mod power_cut;
mod run;
mod server;
mod writers;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    run::crash_cycles("crash test", &data, &log, 30, || Ok(())).await
}
