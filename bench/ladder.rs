//! The proxy benchmark's ablation ladder: scimgate itself (`scimgate::cli::main`, the
//! same command line as the `scimgate` binary) with the request pipeline lowered to
//! one rung (`gate::ladder`) and every allocation counted. `bench/proxy/run` starts it
//! once per rung, pinned like the other servers:
//!
//! ```text
//! SCIMGATE_LADDER_RUNG=policy SCIMGATE_LADDER_COUNTER=127.0.0.1:18499 \
//!     target/release/deps/ladder-… serve --config gate.yaml
//! ```
//!
//! `SCIMGATE_LADDER_RUNG` is one of route, jwt, directory, policy, identity,
//! revocation, metrics, audit (default: audit, everything). The allocation totals are
//! answered on `SCIMGATE_LADDER_COUNTER` (see `ladder/counter.rs`).

use std::process::ExitCode;

use scimgate::gate::ladder::{self, Rung};

#[path = "ladder/counter.rs"]
mod counter;

fn main() -> ExitCode {
    let rung = match std::env::var("SCIMGATE_LADDER_RUNG") {
        Ok(name) => match Rung::parse(&name) {
            Some(r) => r,
            None => {
                let names: Vec<&str> = Rung::ALL.iter().map(|r| r.name()).collect();
                eprintln!(
                    "ladder: SCIMGATE_LADDER_RUNG={name} is not one of {}",
                    names.join(", ")
                );
                return ExitCode::FAILURE;
            }
        },
        Err(_) => Rung::Audit,
    };
    if let Err(e) = counter::from_env() {
        eprintln!("ladder: {e}");
        return ExitCode::FAILURE;
    }
    ladder::set(rung);
    scimgate::cli::main()
}
