//! Crash safety when the power goes: the crash test's writers and checks, with the
//! server's data directory on a [`Disk`] that loses whatever was not synced at each
//! kill. An acknowledgement sent before its commit reached the disk (a weaker
//! `synchronous` setting, a missing fsync) shows up here as a lost write.

use super::disk::Disk;
use super::run::crash_cycles;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_power_cut() -> anyhow::Result<()> {
    let mut disk = Disk::new()?;
    let data = disk.mnt.join("data");
    // The log is kept off the disk that loses power.
    let logs = tempfile::tempdir()?;
    let log = logs.path().join("server.log");
    crash_cycles("power-cut test", &data, &log, 20, || disk.power_cut()).await
}
