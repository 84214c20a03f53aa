//! Loading and validating the configuration.
//!
//! The file is YAML, read into a raw struct that refuses unknown keys, then checked
//! into a [`Config`]. Errors name the file, the line and the reason. Command-line flags
//! and `SCIMGATE_*` environment variables override the file (the CLI resolves those and
//! passes them in as [`Overrides`]). With no file at all, the embedded defaults run:
//! SQLite under `./data`, listening on 127.0.0.1:8080.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {reason}")]
    Parse {
        file: String,
        line: u64,
        column: u64,
        reason: String,
    },
    #[error("{file}: {key}: {reason}")]
    Invalid {
        file: String,
        key: &'static str,
        reason: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    tls: Option<RawTls>,
    #[serde(default)]
    scim: RawScim,
    #[serde(default)]
    log: RawLog,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScim {
    allow_manual_updates: Option<bool>,
    allowed_cidrs: Option<Vec<String>>,
    max_body_bytes: Option<usize>,
    max_filter_depth: Option<usize>,
    max_results: Option<usize>,
    base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<String>,
    level: Option<String>,
}

/// TLS material for the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Settings of the SCIM surface.
#[derive(Debug, Clone)]
pub struct ScimConfig {
    /// Whether non-SCIM changes may touch SCIM-managed users and groups.
    pub allow_manual_updates: bool,
    /// Client networks allowed to call `/scim/v2`; empty means any.
    pub allowed_cidrs: Vec<IpNet>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Deepest accepted filter nesting.
    pub max_filter_depth: usize,
    /// Largest page (`count`), advertised as `filter.maxResults`.
    pub max_results: usize,
    /// Public base URL used in `meta.location` (else taken from the request's Host).
    pub base_url: Option<String>,
}

impl Default for ScimConfig {
    fn default() -> Self {
        Self {
            allow_manual_updates: false,
            allowed_cidrs: Vec::new(),
            max_body_bytes: 1024 * 1024,
            max_filter_depth: 16,
            max_results: 1000,
            base_url: None,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub tls: Option<TlsConfig>,
    pub scim: ScimConfig,
    pub log_format: LogFormat,
    pub log_level: String,
}

/// Values from flags and environment that win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads `file` (or the embedded defaults when `None`) and applies `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let (name, raw) = match file {
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    file: name.clone(),
                    source,
                })?;
                let raw = parse_raw(&name, &text)?;
                (name, raw)
            }
            None => ("<defaults>".to_owned(), RawConfig::default()),
        };
        validate(&name, raw, overrides)
    }

    /// Parses configuration text; `name` is used in error messages.
    pub fn from_yaml(name: &str, text: &str, overrides: &Overrides) -> Result<Self, ConfigError> {
        validate(name, parse_raw(name, text)?, overrides)
    }

    /// The SQLite database file inside the data directory.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("scimgate.db")
    }
}

fn parse_raw(name: &str, text: &str) -> Result<RawConfig, ConfigError> {
    if text.trim().is_empty() {
        return Ok(RawConfig::default());
    }
    serde_saphyr::from_str::<RawConfig>(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        ConfigError::Parse {
            file: name.to_owned(),
            line,
            column,
            reason: first_line(&e.to_string()),
        }
    })
}

/// The parser's message without the location it repeats (we print it once, in front).
fn first_line(s: &str) -> String {
    let mut msg = s.lines().next().unwrap_or(s).trim();
    msg = msg.strip_prefix("error: ").unwrap_or(msg);
    if msg.starts_with("line ") {
        if let Some((_, rest)) = msg.split_once(": ") {
            msg = rest;
        }
    }
    if let Some(i) = msg.rfind(" at line ") {
        msg = &msg[..i];
    }
    msg.to_owned()
}

fn validate(name: &str, raw: RawConfig, ov: &Overrides) -> Result<Config, ConfigError> {
    let invalid = |key: &'static str, reason: String| ConfigError::Invalid {
        file: name.to_owned(),
        key,
        reason,
    };
    let listen_text = ov
        .listen
        .clone()
        .or(raw.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen: SocketAddr = listen_text.parse().map_err(|e| {
        invalid(
            "listen",
            format!("{listen_text:?} is not an address:port ({e})"),
        )
    })?;
    let data_dir = ov
        .data_dir
        .clone()
        .or(raw.data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));

    let defaults = ScimConfig::default();
    let mut allowed_cidrs = Vec::new();
    for c in raw.scim.allowed_cidrs.unwrap_or_default() {
        let net = c
            .parse::<IpNet>()
            .or_else(|_| c.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| invalid("scim.allowed_cidrs", format!("{c:?} is not a CIDR")))?;
        allowed_cidrs.push(net);
    }
    let positive = |key: &'static str, v: Option<usize>, d: usize| match v {
        Some(0) => Err(invalid(key, "must be greater than 0".into())),
        Some(v) => Ok(v),
        None => Ok(d),
    };
    let scim = ScimConfig {
        allow_manual_updates: raw.scim.allow_manual_updates.unwrap_or(false),
        allowed_cidrs,
        max_body_bytes: positive(
            "scim.max_body_bytes",
            raw.scim.max_body_bytes,
            defaults.max_body_bytes,
        )?,
        max_filter_depth: positive(
            "scim.max_filter_depth",
            raw.scim.max_filter_depth,
            defaults.max_filter_depth,
        )?,
        max_results: positive(
            "scim.max_results",
            raw.scim.max_results,
            defaults.max_results,
        )?,
        base_url: match raw.scim.base_url {
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                return Err(invalid(
                    "scim.base_url",
                    format!("{u:?} is not an http(s) URL"),
                ))
            }
            Some(u) => Some(u.trim_end_matches('/').to_owned()),
            None => None,
        },
    };
    let log_format = match raw.log.format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(invalid(
                "log.format",
                format!("{other:?}: expected text or json"),
            ))
        }
    };
    Ok(Config {
        listen,
        data_dir,
        tls: raw.tls.map(|t| TlsConfig {
            cert: t.cert,
            key: t.key,
        }),
        scim,
        log_format,
        log_level: raw.log.level.unwrap_or_else(|| "info".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_a_file() {
        let c = Config::load(None, &Overrides::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert!(!c.scim.allow_manual_updates);
        assert_eq!(c.scim.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn unknown_key_is_refused_with_file_and_line() {
        let text = "listen: 127.0.0.1:9000\nscim:\n  allow_manual_update: true\n";
        let err = Config::from_yaml("gate.yaml", text, &Overrides::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("gate.yaml:3:"), "{msg}");
        assert!(msg.contains("unknown field `allow_manual_update`"), "{msg}");
        assert_eq!(
            msg.matches("line").count(),
            0,
            "location printed once: {msg}"
        );
    }

    #[test]
    fn bad_value_names_the_key() {
        let text = "scim:\n  allowed_cidrs: [\"10.0.0.0/33\"]\n";
        let err = Config::from_yaml("gate.yaml", text, &Overrides::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gate.yaml: scim.allowed_cidrs: \"10.0.0.0/33\" is not a CIDR"
        );
    }

    #[test]
    fn overrides_win_over_the_file() {
        let text = "listen: 127.0.0.1:9000\ndata_dir: /var/lib/x\n";
        let ov = Overrides {
            listen: Some("127.0.0.1:7000".into()),
            data_dir: None,
        };
        let c = Config::from_yaml("f", text, &ov).unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/x"));
    }

    #[test]
    fn parses_every_section() {
        let text = "scim:\n  allow_manual_updates: true\n  allowed_cidrs: [10.0.0.0/8, 127.0.0.1]\n  max_results: 50\n  base_url: https://gate.example.com/\nlog:\n  format: json\ntls:\n  cert: c.pem\n  key: k.pem\n";
        let c = Config::from_yaml("f", text, &Overrides::default()).unwrap();
        assert!(c.scim.allow_manual_updates);
        assert_eq!(c.scim.allowed_cidrs.len(), 2);
        assert_eq!(c.scim.max_results, 50);
        assert_eq!(c.scim.base_url.as_deref(), Some("https://gate.example.com"));
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(c.tls.is_some());
    }
}
