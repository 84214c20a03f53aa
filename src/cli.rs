//! The `scimgate` command: `serve`, `policy check|explain|test`, and `token create|list|revoke`.
//!
//! Token commands work on the data directory directly, and the running server sees a
//! new or revoked token on the next request (it reads tokens from the store).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::clock::{rfc3339_millis, to_millis, Clock, SystemClock};
use crate::config::{Config, Overrides};
use crate::store::{SqliteStore, Store, StoreError};
use crate::tokens::{self, TokenScope, ROTATION_WARNING_DAYS};

#[derive(Debug, Parser)]
#[command(
    name = "scimgate",
    version,
    about = "Identity-aware reverse proxy for dbt, fed by SCIM 2.0"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args, Clone)]
struct Common {
    /// Configuration file (YAML). Without one, the embedded defaults run.
    #[arg(long, env = "SCIMGATE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Data directory (SQLite store); overrides the file.
    #[arg(long, env = "SCIMGATE_DATA", global = true)]
    data: Option<PathBuf>,
    /// Policy directory; overrides the file.
    #[arg(long, env = "SCIMGATE_POLICIES", global = true)]
    policies: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Listen address, e.g. 127.0.0.1:8080; overrides the file.
        #[arg(long, env = "SCIMGATE_LISTEN")]
        listen: Option<String>,
    },
    /// Check, explain and test policies.
    Policy {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Move an embedded SQLite store to PostgreSQL (for replicas).
    Migrate(crate::migrate::MigrateArgs),
    /// Manage SCIM and admin bearer tokens.
    Token {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create a token and print it once (the only output on stdout).
    Create {
        name: String,
        /// `scim` for an identity provider, `admin` for the admin API.
        #[arg(long, default_value = "scim")]
        scope: String,
    },
    /// List tokens: name, scope, created, last used, and a warning past 90 days.
    List,
    /// Revoke a token by name.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
enum PolicyAction {
    /// Validate the policy files (errors with file, line and reason; warnings for
    /// groups that do not exist or have no members in the directory).
    Check {
        /// Policy directory (default: the configured one).
        dir: Option<PathBuf>,
    },
    /// Print the decision for one request and the rule that made it.
    Explain {
        /// The user's userName.
        #[arg(long)]
        user: String,
        /// The HTTP method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The full URL (scheme, host, path, query).
        url: String,
    },
    /// Run a YAML file of test cases (who, request, expected decision).
    Test {
        file: PathBuf,
        /// Policy directory (default: the configured one).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Runs the command line; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { common, listen } => serve(common, listen),
        Command::Token { common, action } => token(common, action),
        Command::Policy { common, action } => policy(common, action),
        Command::Migrate(args) => crate::migrate::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scimgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(common: &Common, listen: Option<String>) -> anyhow::Result<Config> {
    let overrides = Overrides {
        listen,
        data_dir: common.data.clone(),
        policies_dir: common.policies.clone(),
    };
    Ok(Config::load(common.config.as_deref(), &overrides)?)
}

fn serve(common: Common, listen: Option<String>) -> anyhow::Result<()> {
    let config = load_config(&common, listen)?;
    crate::server::init_tracing(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(crate::server::run(config))
}

/// The proxy's own path normaliser, for the policy commands.
fn normalise_for_policy(path: &str) -> Result<String, String> {
    let p = crate::proxy::path::normalise(path).map_err(|e| e.to_string())?;
    match p.ambiguity {
        Some(a) => Err(format!(
            "ambiguous path ({a}): refused with 400 unless the route allows it"
        )),
        None => Ok(p.matching),
    }
}

/// Loads the directory from the data directory, if there is a store there.
fn load_directory(config: &Config) -> anyhow::Result<Option<Arc<crate::directory::Directory>>> {
    if config.store.postgres.is_none() && !config.sqlite_path().exists() {
        return Ok(None);
    }
    let store = open_store(config)?;
    Ok(Some(Arc::new(crate::directory::Directory::from_snapshot(
        store.load()?,
    ))))
}

fn policy(common: Common, action: PolicyAction) -> anyhow::Result<()> {
    use crate::policy::{cli, PolicySet};
    let config = load_config(&common, None)?;
    let ok = match action {
        PolicyAction::Check { dir } => {
            let dir = dir.unwrap_or_else(|| config.policies_dir.clone());
            let directory = load_directory(&config)?;
            cli::check(&dir, directory.as_deref())?
        }
        PolicyAction::Explain { user, method, url } => {
            let set = PolicySet::load_dir(&config.policies_dir)?;
            let directory = load_directory(&config)?
                .ok_or_else(|| anyhow::anyhow!("no directory in {}", config.data_dir.display()))?;
            print!(
                "{}",
                cli::explain(
                    &set,
                    &directory,
                    &user,
                    &method,
                    &url,
                    &normalise_for_policy
                )?
            );
            true
        }
        PolicyAction::Test { file, dir } => {
            let dir = dir.unwrap_or_else(|| config.policies_dir.clone());
            let set = PolicySet::load_dir(&dir)?;
            let (passed, failures) = cli::run_tests(&set, &file, &normalise_for_policy)?;
            for f in &failures {
                println!("FAIL {f}");
            }
            println!("{passed} passed, {} failed", failures.len());
            failures.is_empty()
        }
    };
    if ok {
        Ok(())
    } else {
        anyhow::bail!("policy check failed")
    }
}

/// The configured store: PostgreSQL when `store.postgres` is set, else SQLite.
fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    match &config.store.postgres {
        Some(pg) => Ok(Arc::new(crate::store::PgStore::open(pg)?)),
        None => Ok(Arc::new(SqliteStore::open(&config.sqlite_path())?)),
    }
}

fn token(common: Common, action: TokenAction) -> anyhow::Result<()> {
    let config = load_config(&common, None)?;
    let store = open_store(&config)?;
    let now = to_millis(SystemClock.now());
    match action {
        TokenAction::Create { name, scope } => {
            tokens::check_name(&name)?;
            let scope = TokenScope::parse(&scope)
                .ok_or_else(|| anyhow::anyhow!("--scope must be scim or admin, not {scope:?}"))?;
            let (token, row) = tokens::issue(&name, scope, now);
            store.token_insert(&row)?;
            println!("{token}");
            eprintln!("token {name:?} created; it is shown only this once");
        }
        TokenAction::List => {
            println!(
                "{:<24} {:<6} {:<25} {:<25} NOTE",
                "NAME", "SCOPE", "CREATED", "LAST USED"
            );
            for row in store.token_list()? {
                let age_days = (now - row.created) / 86_400_000;
                let note = if age_days >= ROTATION_WARNING_DAYS {
                    format!("WARNING: {age_days} days old, rotate it")
                } else {
                    String::new()
                };
                let last = row
                    .last_used
                    .map(rfc3339_millis)
                    .unwrap_or_else(|| "never".to_owned());
                println!(
                    "{:<24} {:<6} {:<25} {:<25} {}",
                    row.name,
                    row.scope,
                    rfc3339_millis(row.created),
                    last,
                    note
                );
            }
        }
        TokenAction::Revoke { name } => {
            if !store.token_revoke(&name)? {
                anyhow::bail!("no token named {name:?}");
            }
            eprintln!("token {name:?} revoked");
        }
    }
    Ok(())
}
