//! `scimgate migrate --from DATA_DIR --to postgres://...`: moves an embedded SQLite
//! store (users, groups, memberships, change log, audit chain, SCIM and admin tokens,
//! sessions) into an empty PostgreSQL database, in one transaction, and reports what
//! moved. The SQLite files are left untouched.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::store::transfer;

/// Arguments of `scimgate migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The data directory of the embedded store to move (holds `scimgate.db`).
    #[arg(long)]
    pub from: PathBuf,
    /// The PostgreSQL database to move it to (must hold no scimgate data yet);
    /// `${env:VAR}` references are expanded. TLS as libpq: `?sslmode=verify-full&
    /// sslrootcert=ca.pem` (and `sslcert`/`sslkey` for a client certificate).
    #[arg(long)]
    pub to: String,
    /// Connect and statement timeout, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_seconds: u64,
}

/// Runs the move and prints a summary.
pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let url = crate::secret::expand(&args.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let sqlite = args.from.join("scimgate.db");
    let moved = transfer::sqlite_to_postgres(
        &sqlite,
        &url,
        Duration::from_secs(args.timeout_seconds.max(1)),
    )
    .map_err(|e| anyhow::Error::new(e).context(format!("migrating {}", sqlite.display())))?;
    println!(
        "moved {} users, {} groups, {} memberships, {} changes, {} audit records, {} tokens, {} sessions, {} access requests",
        moved.users,
        moved.groups,
        moved.memberships,
        moved.changes,
        moved.audit_records,
        moved.tokens,
        moved.sessions,
        moved.access_requests
    );
    Ok(())
}
