//! Loading and validating the configuration: every section's raw shape, its checked
//! form and its checks, one file per section.
//!
//! The file is YAML, read into raw structs that refuse unknown keys, then checked
//! into a [`Config`]. Errors name the file, the line and column of the key, the key's
//! path and what was expected (see [`error`] and [`parse`]). Command-line flags and
//! `SCIMGATE_*` environment variables override the file (the CLI resolves those and
//! passes them in as [`Overrides`]). With no file at all, the embedded defaults run:
//! SQLite under `./data`, listening on 127.0.0.1:8080.
//!
//! This module is a leaf: it uses nothing of the crate but [`crate::secret`] (for
//! `${env:..}` references) and [`crate::yaml`] (the shared YAML reader); every other
//! module reads its settings from here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub mod access_requests;
pub mod admin;
pub mod assertion;
pub mod audit;
mod error;
pub mod identity;
pub mod identity_headers;
pub mod jwt;
pub mod limits;
pub mod log;
pub mod oidc;
pub mod ops;
pub mod origin;
mod parse;
pub mod scim;
pub mod server;
pub mod sessions;
pub mod store;
pub mod tls;

pub use assertion::AssertionConfig;
pub use error::{Checker, ConfigError, Place};
pub use identity::{EmailVerification, IdentityAttribute, IdentityConfig};
pub use jwt::JwtConfig;
pub use log::LogFormat;
pub use oidc::OidcConfig;
pub use scim::ScimConfig;
pub use sessions::SessionConfig;
pub use tls::TlsConfig;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// The default policy directory.
pub const DEFAULT_POLICIES_DIR: &str = "./policies";

/// The file as written: every section, none checked yet.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    tls: Option<tls::RawTls>,
    #[serde(default)]
    scim: scim::RawScim,
    #[serde(default)]
    log: log::RawLog,
    public_url: Option<String>,
    policies: Option<PathBuf>,
    trusted_proxies: Option<Vec<String>>,
    oidc: Option<oidc::RawOidc>,
    jwt: Option<jwt::RawJwt>,
    #[serde(default)]
    identity: identity::RawIdentity,
    #[serde(default)]
    sessions: sessions::RawSessions,
    #[serde(default)]
    assertion: assertion::RawAssertion,
    #[serde(default)]
    store: store::RawStoreConfig,
    #[serde(default)]
    audit: audit::RawAuditConfig,
    #[serde(default)]
    ops: ops::RawOpsConfig,
    #[serde(default)]
    admin: admin::RawAdminConfig,
    #[serde(default)]
    identity_headers: identity_headers::RawIdentityHeaders,
    #[serde(default)]
    server: server::RawServerLimits,
    #[serde(default)]
    reload: RawReload,
    #[serde(default)]
    rate_limits: limits::RawRateLimits,
    shadow_policies: Option<PathBuf>,
    #[serde(default)]
    access_requests: access_requests::RawAccessRequests,
}

/// `reload:`: whether files are watched.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReload {
    watch: Option<bool>,
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
    /// The external base URL (`https://gate.example.com`), for login redirects; when
    /// absent it is taken from the request's Host and the listener's scheme.
    pub public_url: Option<String>,
    /// Directory of policy files (`*.yaml`).
    pub policies_dir: PathBuf,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub oidc: Option<OidcConfig>,
    pub jwt: Option<JwtConfig>,
    pub identity: IdentityConfig,
    pub sessions: SessionConfig,
    pub assertion: AssertionConfig,
    /// Which durable store (`store:`).
    pub store: store::StoreConfig,
    /// Audit queue and sinks (`audit:`).
    pub audit: audit::AuditConfig,
    /// The operations listener (`ops:`).
    pub ops: ops::OpsConfig,
    /// The admin UI (`admin:`).
    pub admin: admin::AdminConfig,
    /// Client-sent identity headers to strip (`identity_headers:`).
    pub identity_headers: identity_headers::IdentityStrip,
    /// Bounds on client connections and streams (`server:`).
    pub server: server::ServerLimits,
    /// Whether the policies and the TLS certificate are reloaded when their files
    /// change (`reload.watch`, default on); off, only SIGHUP reloads them.
    pub watch_files: bool,
    /// How routes' rate limits are kept (`rate_limits:`).
    pub rate_limits: limits::RateLimitConfig,
    /// The shadow policy directory as written (`shadow_policies:`); absent:
    /// `<policies>/shadow` when it exists.
    pub shadow_policies: Option<PathBuf>,
    /// Notifications of access requests (`access_requests:`).
    pub access_requests: access_requests::AccessRequestsConfig,
}

/// Values from flags and environment that win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub policies_dir: Option<PathBuf>,
}

impl Config {
    /// Loads `file` (or the embedded defaults when `None`) and applies `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        match file {
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    file: name.clone(),
                    source,
                })?;
                Self::from_yaml(&name, &text, overrides)
            }
            None => validate(Checker::new("<defaults>"), RawConfig::default(), overrides),
        }
    }

    /// Parses configuration text; `name` is used in error messages.
    pub fn from_yaml(name: &str, text: &str, overrides: &Overrides) -> Result<Self, ConfigError> {
        let raw = parse::parse_raw::<RawConfig>(name, text)?;
        validate(Checker::new(name), raw, overrides).map_err(|e| e.placed(text))
    }

    /// The SQLite database file inside the data directory.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("scimgate.db")
    }

    /// Checks that the policies directory is a directory that can be read (`serve`
    /// needs it at start); `file` names the configuration in the error.
    pub fn check_policies_dir(&self, file: &str) -> Result<(), ConfigError> {
        let refused = |reason: String| ConfigError::PoliciesDir {
            at: Place {
                file: file.to_owned(),
                line: 0,
                column: 0,
            },
            dir: self.policies_dir.display().to_string(),
            reason,
        };
        match std::fs::read_dir(&self.policies_dir) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(refused(
                "no such directory (create it, or point `policies:` or --policies at the \
                 directory of policy files)"
                    .to_owned(),
            )),
            Err(e) => Err(refused(format!("cannot read: {e}"))),
        }
    }
}

/// Checks every section of `raw`, with `ov` winning over the file.
fn validate(check: Checker<'_>, raw: RawConfig, ov: &Overrides) -> Result<Config, ConfigError> {
    let listen = listen(check, raw.listen, ov)?;
    let data_dir = ov
        .data_dir
        .clone()
        .or(raw.data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let public_url = raw
        .public_url
        .map(|u| check.http_url("public_url", &u))
        .transpose()?;
    let tls = raw.tls.map(tls::RawTls::validate);
    let (log_format, log_level) = raw.log.validate(check)?;
    let oidc = raw.oidc.map(|o| o.validate(check)).transpose()?;
    let jwt = raw
        .jwt
        .map(|j| j.validate(check, oidc.as_ref()))
        .transpose()?;
    let store = raw.store.validate(check)?;
    oidc::check_shared_login_key(check, oidc.as_ref(), &store)?;
    let secure = tls.is_some() || public_url.as_deref().is_some_and(origin::is_https);
    Ok(Config {
        scim: raw.scim.validate(check)?,
        trusted_proxies: check.networks("trusted_proxies", raw.trusted_proxies)?,
        identity: raw.identity.validate(check)?,
        sessions: raw.sessions.validate(check, secure)?,
        assertion: raw.assertion.resolve(&data_dir, public_url.as_deref()),
        audit: raw.audit.validate(check)?,
        ops: raw.ops.validate(check, listen)?,
        admin: raw.admin.validate(check)?,
        identity_headers: raw.identity_headers.validate(check)?,
        server: raw.server.validate(check)?,
        watch_files: raw.reload.watch.unwrap_or(true),
        rate_limits: raw.rate_limits.validate(check)?,
        shadow_policies: raw.shadow_policies,
        access_requests: raw.access_requests.validate(check, public_url.as_deref())?,
        policies_dir: ov
            .policies_dir
            .clone()
            .or(raw.policies)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_POLICIES_DIR)),
        store,
        public_url,
        oidc,
        jwt,
        listen,
        data_dir,
        tls,
        log_format,
        log_level,
    })
}

/// The main listener's address: the flag or variable, else the file, else the default.
fn listen(
    check: Checker<'_>,
    written: Option<String>,
    ov: &Overrides,
) -> Result<SocketAddr, ConfigError> {
    let (key, text) = match (&ov.listen, written) {
        (Some(flag), _) => ("--listen", flag.clone()),
        (None, Some(written)) => ("listen", written),
        (None, None) => ("listen", DEFAULT_LISTEN.to_owned()),
    };
    text.parse()
        .map_err(|e| check.invalid(key, format!("{text:?} is not an address:port ({e})")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml("gate.yaml", text, &Overrides::default())
    }

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
        let msg = from_yaml(text).unwrap_err().to_string();
        assert!(msg.starts_with("gate.yaml:3:3: scim: "), "{msg}");
        assert!(msg.contains("unknown field `allow_manual_update`"), "{msg}");
        assert_eq!(
            msg.matches("line").count(),
            0,
            "location printed once: {msg}"
        );
    }

    #[test]
    fn a_refused_value_is_placed_at_its_key() {
        let text = "listen: 127.0.0.1:9000\nscim:\n  allowed_cidrs: [\"10.0.0.0/33\"]\n";
        assert_eq!(
            from_yaml(text).unwrap_err().to_string(),
            "gate.yaml:3:3: scim.allowed_cidrs: \"10.0.0.0/33\" is not an address or CIDR"
        );
        // A key that is required but not written: its section is pointed at.
        let text = "oidc:\n  issuer: https://idp.example\n  client_id: x\njwt: {}\n";
        let msg = Config::from_yaml("gate.yaml", text, &Overrides::default())
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "gate.yaml:4:1: jwt.audiences: name at least one audience"
        );
    }

    #[test]
    fn overrides_win_over_the_file() {
        let text = "listen: 127.0.0.1:9000\ndata_dir: /var/lib/x\n";
        let ov = Overrides {
            listen: Some("127.0.0.1:7000".into()),
            data_dir: None,
            policies_dir: None,
        };
        let c = Config::from_yaml("f", text, &ov).unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/x"));
        // A bad flag is not blamed on the file's `listen:`.
        let ov = Overrides {
            listen: Some("nowhere".into()),
            ..Overrides::default()
        };
        let e = Config::from_yaml("f", text, &ov).unwrap_err().to_string();
        assert!(e.starts_with("f: --listen: \"nowhere\""), "{e}");
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
        assert!(c.sessions.secure, "TLS makes cookies secure");
    }

    #[test]
    fn an_access_requests_webhook_error_names_file_and_line() {
        let text = "listen: 127.0.0.1:9000\naccess_requests:\n  webhook:\n    url: http://hooks.example/x\n";
        let e = from_yaml(text).unwrap_err().to_string();
        assert!(
            e.starts_with("gate.yaml:4:5: access_requests.webhook.url: "),
            "{e}"
        );
        let text =
            "access_requests:\n  webhook:\n    url: https://hooks.example/x\n    timeout: 5\n";
        let e = from_yaml(text).unwrap_err().to_string();
        assert!(
            e.starts_with("gate.yaml:4:5: access_requests.webhook: "),
            "{e}"
        );
    }

    #[test]
    fn file_watching_is_on_unless_turned_off() {
        let c = from_yaml("").unwrap();
        assert!(c.watch_files);
        let c = from_yaml("# comments only\n").unwrap();
        assert!(c.watch_files);
        let c = from_yaml("reload:\n  watch: false\n").unwrap();
        assert!(!c.watch_files);
    }

    #[test]
    fn sessions_are_secure_behind_an_https_public_url() {
        let c = from_yaml("public_url: https://gate.example.com\n").unwrap();
        assert!(c.sessions.secure);
        assert_eq!(c.sessions.ttl, Duration::from_secs(12 * 3600));
        assert!(
            !from_yaml("public_url: http://gate.example.com\n")
                .unwrap()
                .sessions
                .secure
        );
    }

    #[test]
    fn the_policies_directory_must_exist() {
        let tmp = tempfile::tempdir().unwrap();
        let ov = Overrides {
            policies_dir: Some(tmp.path().to_owned()),
            ..Overrides::default()
        };
        let c = Config::from_yaml("gate.yaml", "", &ov).unwrap();
        c.check_policies_dir("gate.yaml").unwrap();
        let ov = Overrides {
            policies_dir: Some(tmp.path().join("missing")),
            ..Overrides::default()
        };
        let c = Config::from_yaml("gate.yaml", "", &ov).unwrap();
        let e = c.check_policies_dir("gate.yaml").unwrap_err().to_string();
        assert!(e.starts_with("gate.yaml: policies: "), "{e}");
        assert!(e.contains("missing: no such directory"), "{e}");
    }
}
