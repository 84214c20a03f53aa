//! The `store:` section: which durable store to use.
//!
//! Absent, or without `postgres:`, the store is SQLite in the data directory. With
//! `postgres: { url: ..., max_stale_seconds: ... }` every replica shares one PostgreSQL
//! database; `url` may hold `${env:VAR}` / `${file:PATH}` references (expanded at load,
//! so the password need not sit in the file), and `max_stale_seconds` bounds how long a
//! replica cut off from the database keeps serving routes that demand fresh state.
//! TLS to the database takes libpq's options, `sslmode`, `sslrootcert`, `sslcert` and
//! `sslkey`, in the URL's query or as keys of `postgres:` (both: they must agree);
//! see [`postgres_tls`].
//! `sqlite: { wal_max_bytes: ... }` bounds the embedded store's write-ahead log: past
//! it the WAL is checkpointed and truncated.

use std::time::Duration;

use serde::Deserialize;

use super::error::{Checker, ConfigError};
use postgres_tls::{SslMode, TlsOptionError, TlsOptions};

pub mod postgres_tls;

/// Default bound on how long a replica may be cut off before failing closed.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(10);
/// Default bound on connecting and on each statement.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// `store:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStoreConfig {
    postgres: Option<RawPostgres>,
    sqlite: Option<RawSqlite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSqlite {
    wal_max_bytes: Option<u64>,
}

/// Default bound on the SQLite write-ahead log.
pub const DEFAULT_WAL_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// `store.sqlite`: the embedded store's tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteConfig {
    /// Past this size the WAL is checkpointed and truncated (also its size limit when
    /// it is reset).
    pub wal_max_bytes: u64,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            wal_max_bytes: DEFAULT_WAL_MAX_BYTES,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostgres {
    url: String,
    max_stale_seconds: Option<f64>,
    timeout_seconds: Option<f64>,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
    sslcert: Option<String>,
    sslkey: Option<String>,
}

/// The validated `store:` section (absent: SQLite in the data directory).
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    /// Shared PostgreSQL store, when configured.
    pub postgres: Option<PostgresConfig>,
    /// The embedded store's tuning.
    pub sqlite: SqliteConfig,
}

/// `store.postgres`.
#[derive(Clone)]
pub struct PostgresConfig {
    /// Connection URL (`postgres://user:pass@host:port/db`), references expanded.
    pub url: String,
    /// How long a replica may be cut off from the database before routes marked
    /// `require_fresh_directory` answer 503 and `/readyz` says not ready.
    pub max_stale: Duration,
    /// Connect timeout and statement timeout: a write never waits longer.
    pub timeout: Duration,
    /// TLS options set in the section (the URL's query may hold them too).
    pub tls: TlsOptions,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PostgresConfig")
            .field("url", &"<redacted>")
            .field("max_stale", &self.max_stale)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

impl RawStoreConfig {
    /// Checks the section, resolving the URL's references.
    pub fn validate(self, check: Checker<'_>) -> Result<StoreConfig, ConfigError> {
        let sqlite = SqliteConfig {
            wal_max_bytes: check.at_least(
                "store.sqlite.wal_max_bytes",
                self.sqlite.and_then(|s| s.wal_max_bytes),
                1024 * 1024,
                DEFAULT_WAL_MAX_BYTES,
            )?,
        };
        let postgres = self.postgres.map(|pg| pg.validate(check)).transpose()?;
        Ok(StoreConfig { postgres, sqlite })
    }
}

impl RawPostgres {
    fn validate(self, check: Checker<'_>) -> Result<PostgresConfig, ConfigError> {
        const URL: &str = "store.postgres.url";
        let url = check.secret(URL, &self.url)?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(check.invalid(URL, "must start with postgres:// or postgresql://"));
        }
        let configured = TlsOptions {
            sslmode: self.sslmode,
            sslrootcert: self.sslrootcert,
            sslcert: self.sslcert,
            sslkey: self.sslkey,
        };
        let tls_invalid = |e: TlsOptionError| check.invalid("store.postgres", e.to_string());
        let (rest, from_url) = postgres_tls::split_url(&url).map_err(tls_invalid)?;
        let opts = from_url.merge(&configured).map_err(tls_invalid)?;
        if let Some(mode) = &opts.sslmode {
            SslMode::parse(mode).map_err(tls_invalid)?;
        }
        if opts.sslcert.is_some() != opts.sslkey.is_some() {
            return Err(tls_invalid(TlsOptionError {
                key: "sslcert",
                reason: "sslcert and sslkey go together".into(),
            }));
        }
        rest.parse::<postgres::Config>()
            .map_err(|e| check.invalid(URL, format!("not a valid connection URL: {e}")))?;
        Ok(PostgresConfig {
            url,
            max_stale: check.seconds(
                "store.postgres.max_stale_seconds",
                self.max_stale_seconds,
                DEFAULT_MAX_STALE,
            )?,
            timeout: check.seconds(
                "store.postgres.timeout_seconds",
                self.timeout_seconds,
                DEFAULT_TIMEOUT,
            )?,
            tls: configured,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<StoreConfig, ConfigError> {
        let raw: RawStoreConfig = serde_saphyr::from_str(yaml).unwrap();
        raw.validate(Checker::new("test.yaml"))
    }

    #[test]
    fn absent_postgres_means_sqlite() {
        assert!(parse("{}").unwrap().postgres.is_none());
    }

    #[test]
    fn url_and_bounds_are_read() {
        let c = parse("postgres: { url: 'postgres://u@h:5/db', max_stale_seconds: 2.5 }")
            .unwrap()
            .postgres
            .unwrap();
        assert_eq!(c.url, "postgres://u@h:5/db");
        assert_eq!(c.max_stale, Duration::from_millis(2500));
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn tls_options_are_read_from_keys_and_checked_against_the_url() {
        let c = parse(
            "postgres: { url: 'postgres://u@h/db?sslmode=verify-full', sslrootcert: /ca.pem }",
        )
        .unwrap()
        .postgres
        .unwrap();
        assert_eq!(c.tls.sslrootcert.as_deref(), Some("/ca.pem"));
        assert!(
            parse("postgres: { url: 'postgres://u@h/db', sslmode: verify-everything }").is_err()
        );
        assert!(
            parse("postgres: { url: 'postgres://u@h/db?sslmode=require', sslmode: disable }")
                .is_err()
        );
        assert!(parse("postgres: { url: 'postgres://u@h/db', sslcert: /c.pem }").is_err());
    }

    #[test]
    fn env_reference_is_expanded() {
        std::env::set_var("SCIMGATE_TEST_PG_URL", "postgres://x@y/z");
        let c = parse("postgres: { url: '${env:SCIMGATE_TEST_PG_URL}' }")
            .unwrap()
            .postgres
            .unwrap();
        assert_eq!(c.url, "postgres://x@y/z");
    }

    #[test]
    fn bad_url_and_bound_are_refused() {
        let e = parse("postgres: { url: 'mysql://h/db' }").unwrap_err();
        assert!(e.to_string().contains("store.postgres.url"), "{e}");
        let e = parse("postgres: { url: 'postgres://h/db', max_stale_seconds: -1 }").unwrap_err();
        assert!(e.to_string().contains("max_stale_seconds"), "{e}");
    }
}
