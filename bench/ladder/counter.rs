//! The counting allocator of the ladder's two servers (`bench/ladder.rs`,
//! `bench/passthrough.rs`): every allocation of the process is counted, and the totals
//! are answered on a TCP port, one line per connection:
//! `allocations <n> bytes <n>` (reallocations count as allocations).

use std::alloc::System;
use std::io::Write;
use std::net::TcpListener;

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Answers the totals on `addr` (e.g. `127.0.0.1:18499`) from a thread of its own.
pub fn serve_totals(addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    std::thread::Builder::new()
        .name("alloc-counter".into())
        .spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let s = GLOBAL.stats();
                let _ = writeln!(
                    conn,
                    "allocations {} bytes {}",
                    s.allocations + s.reallocations,
                    s.bytes_allocated
                );
            }
        })?;
    Ok(())
}

/// Starts the counter where `SCIMGATE_LADDER_COUNTER` says, if it is set.
pub fn from_env() -> Result<(), String> {
    match std::env::var("SCIMGATE_LADDER_COUNTER") {
        Ok(addr) => serve_totals(&addr).map_err(|e| format!("allocation counter on {addr}: {e}")),
        Err(_) => Ok(()),
    }
}
