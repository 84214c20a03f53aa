//! The `scimgate` command: `serve`, `policy check|explain|test`, `token create|list|revoke`
//! `audit verify|search` and `doctor` (the sync canary, against a running instance).
//!
//! Token and audit commands work on the data directory directly, and the running server
//! sees a new or revoked token on the next request (it reads tokens from the store).
//! Token commands put `token.create` / `token.revoke` (actor `cli`) on the audit chain.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::audit::records;
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
    /// Check a configuration file without starting anything.
    Config {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Verify and search the audit log.
    Audit {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Sync canary: run a staging-user cycle against a running instance (create a user,
    /// add it to a group, check the decision, deactivate, check the denial, delete).
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
struct DoctorArgs {
    /// The instance's base URL, e.g. https://gate.example.com
    #[arg(long)]
    url: String,
    /// An admin token of that instance.
    #[arg(long, env = "SCIMGATE_DOCTOR_TOKEN", hide_env_values = true)]
    token: String,
    /// Make the user and group changes through the SCIM API with this token (needed
    /// when the group is managed by the identity provider).
    #[arg(long, env = "SCIMGATE_DOCTOR_SCIM_TOKEN", hide_env_values = true)]
    scim_token: Option<String>,
    /// The group the staging user joins (created, then deleted, if it does not exist).
    #[arg(long, default_value = "scimgate-doctor")]
    group: String,
    /// A request the group should be allowed to make, e.g. "GET https://docs.example.com/".
    #[arg(long)]
    request: Option<String>,
    /// Seconds allowed for each call.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Validate the file (errors with file, line and reason) and print what it sets up.
    Check,
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Check the hash chain; exit non-zero naming the first bad record.
    Verify,
    /// Print matching records (oldest first), at most --limit of the newest.
    Search {
        /// Records by or about this userName.
        #[arg(long)]
        user: Option<String>,
        /// From this time: RFC 3339, or relative (15m, 2h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Before this time: RFC 3339, or relative.
        #[arg(long)]
        until: Option<String>,
        /// Decisions on this route.
        #[arg(long)]
        route: Option<String>,
        /// Actions starting with this (access.deny, user., token.).
        #[arg(long)]
        action: Option<String>,
        /// At most this many records (0: all).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON object per line instead of columns.
        #[arg(long)]
        json: bool,
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

/// Whether `args` (without the program name) is a command line `scimgate` accepts,
/// without running it; the parser's error when it is not. The documentation's
/// examples are checked with it (`tests/it/readme_examples.rs`).
pub fn check_args<I, T>(args: I) -> Result<(), clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let argv = std::iter::once(std::ffi::OsString::from("scimgate"))
        .chain(args.into_iter().map(Into::into));
    Cli::try_parse_from(argv).map(|_| ())
}

/// Runs the command line; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { common, listen } => serve(common, listen),
        Command::Token { common, action } => token(common, action),
        Command::Policy { common, action } => policy(common, action),
        Command::Config { common, action } => match action {
            ConfigAction::Check => config_check(common),
        },
        Command::Audit { common, action } => audit(common, action),
        Command::Doctor(args) => doctor(args),
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
    let runtime = serve_runtime()?;
    runtime.block_on(crate::server::run(config))
}

/// The runtime `serve` runs on: one worker per CPU the process may use (its affinity
/// and cgroup quota count; `TOKIO_WORKER_THREADS` overrides), and with only one, the
/// current-thread scheduler, which serves the same tasks without the work-stealing
/// machinery one worker has no use for (no run-queue atomics, no cross-thread wakes).
fn serve_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let workers = std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1);
    if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}

/// `scimgate config check`: the file is read and validated exactly as `serve` would,
/// and the policies directory `serve` loads at start must be there.
fn config_check(common: Common) -> anyhow::Result<()> {
    let config = load_config(&common, None)?;
    let file = common
        .config
        .as_deref()
        .map_or_else(|| "<defaults>".to_owned(), |p| p.display().to_string());
    config.check_policies_dir(&file)?;
    let store = match &config.store.postgres {
        Some(_) => "postgresql (store.postgres)".to_owned(),
        None => format!("sqlite {}", config.sqlite_path().display()),
    };
    println!("{file}: ok");
    println!("  listen    {}", config.listen);
    println!("  store     {store}");
    println!("  policies  {}", config.policies_dir.display());
    println!(
        "  login     {}",
        config.oidc.as_ref().map_or("off", |o| o.issuer.as_str())
    );
    Ok(())
}

/// The proxy's own path normaliser, for the policy commands.
fn normalise_for_policy(path: &str) -> Result<String, String> {
    let p = crate::path::normalise(path).map_err(|e| e.to_string())?;
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
    Ok(Some(Arc::new(crate::directory::Directory::load(&*store)?)))
}

/// The policies for `explain` and `test`, which judge requests and never send one:
/// an unresolved secret in `inject` is a warning on stderr, not a refusal.
fn load_for_decisions(dir: &std::path::Path) -> anyhow::Result<crate::policy::PolicySet> {
    let (set, unresolved) =
        crate::secret::with_placeholders(|| crate::policy::PolicySet::load_dir(dir));
    for u in unresolved {
        eprintln!("warning: {u}: `scimgate serve` refuses these policies until it is resolved");
    }
    Ok(set?)
}

fn policy(common: Common, action: PolicyAction) -> anyhow::Result<()> {
    use crate::policy::{cli, PolicySet};
    let config = load_config(&common, None)?;
    let ok = match action {
        PolicyAction::Check { dir } => {
            let dir = dir.unwrap_or_else(|| config.policies_dir.clone());
            let directory = load_directory(&config)?;
            let mut ok = cli::check(&dir, directory.as_deref())?;
            let shadow =
                crate::policy::shadow::Shadow::dir_for(config.shadow_policies.as_deref(), &dir);
            if let Some(shadow) = shadow.filter(|d| d.is_dir()) {
                println!("shadow policies ({}):", shadow.display());
                ok &= cli::check(&shadow, directory.as_deref())?;
            }
            if let (Ok(set), _) = crate::secret::with_placeholders(|| PolicySet::load_dir(&dir)) {
                let admin = &config.admin;
                if let Some(w) =
                    crate::admin::shared_origin::warning(admin, config.public_url.as_deref(), &set)
                {
                    println!("{w}");
                }
            }
            ok
        }
        PolicyAction::Explain { user, method, url } => {
            let set = load_for_decisions(&config.policies_dir)?;
            let shadow = crate::policy::shadow::Shadow::dir_for(
                config.shadow_policies.as_deref(),
                &config.policies_dir,
            )
            .map(|dir| load_for_decisions(&dir))
            .transpose()?;
            let directory = load_directory(&config)?
                .ok_or_else(|| anyhow::anyhow!("no directory in {}", config.data_dir.display()))?;
            print!(
                "{}",
                cli::explain(
                    &set,
                    shadow.as_ref(),
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
            let set = load_for_decisions(&dir)?;
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

fn doctor(args: DoctorArgs) -> anyhow::Result<()> {
    let opts = crate::ops::doctor::Options {
        url: args.url,
        token: args.token,
        scim_token: args.scim_token,
        group: args.group,
        request: args.request,
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(crate::ops::doctor::run(&opts));
    print!("{report}");
    if report.passed() {
        Ok(())
    } else {
        anyhow::bail!("doctor: the sync cycle did not pass")
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
            store.audit_append(&[records::token_event(
                now,
                "cli",
                true,
                &name,
                scope.as_str(),
            )])?;
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
            let scope = store
                .token_list()?
                .into_iter()
                .find(|t| t.name == name)
                .map(|t| t.scope);
            if !store.token_revoke(&name)? {
                anyhow::bail!("no token named {name:?}");
            }
            let scope = scope.unwrap_or_default();
            store.audit_append(&[records::token_event(now, "cli", false, &name, &scope)])?;
            eprintln!("token {name:?} revoked");
        }
    }
    Ok(())
}

fn audit(common: Common, action: AuditAction) -> anyhow::Result<()> {
    use crate::audit::cli;
    let config = load_config(&common, None)?;
    // Opening an embedded store creates one: say so instead of verifying an empty log.
    if config.store.postgres.is_none() && !config.sqlite_path().exists() {
        anyhow::bail!("no audit log: no store in {}", config.data_dir.display());
    }
    let store = open_store(&config)?;
    let mut out = std::io::stdout().lock();
    match action {
        AuditAction::Verify => {
            if !cli::verify(&*store, &mut out)? {
                anyhow::bail!("audit chain verification failed");
            }
        }
        AuditAction::Search {
            user,
            since,
            until,
            route,
            action,
            limit,
            json,
        } => {
            let search = cli::Search {
                user,
                since,
                until,
                route,
                action,
                limit,
                json,
            };
            let now = to_millis(SystemClock.now());
            let n = cli::search(&*store, &search, now, &mut out)?;
            eprintln!("{n} records");
        }
    }
    Ok(())
}
