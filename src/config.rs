//! Loading and validating the configuration.
//!
//! The file is YAML, read into a raw struct that refuses unknown keys, then checked
//! into a [`Config`]. Errors name the file, the line and the reason. Command-line flags
//! and `SCIMGATE_*` environment variables override the file (the CLI resolves those and
//! passes them in as [`Overrides`]). With no file at all, the embedded defaults run:
//! SQLite under `./data`, listening on 127.0.0.1:8080.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// The default policy directory.
pub const DEFAULT_POLICIES_DIR: &str = "./policies";

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
    public_url: Option<String>,
    policies: Option<PathBuf>,
    trusted_proxies: Option<Vec<String>>,
    oidc: Option<RawOidc>,
    jwt: Option<RawJwt>,
    #[serde(default)]
    identity: RawIdentity,
    #[serde(default)]
    sessions: RawSessions,
    #[serde(default)]
    assertion: RawAssertion,
    #[serde(default)]
    store: crate::store::config::RawStoreConfig,
    #[serde(default)]
    audit: crate::audit::config::RawAuditConfig,
    #[serde(default)]
    ops: crate::ops::config::RawOpsConfig,
    #[serde(default)]
    admin: crate::admin::config::RawAdminConfig,
    #[serde(default)]
    identity_headers: crate::proxy::headers::identity_strip::RawIdentityHeaders,
    #[serde(default)]
    server: crate::server::limits::RawServerLimits,
    #[serde(default)]
    reload: RawReload,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOidc {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    scopes: Option<Vec<String>>,
    login_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJwt {
    issuer: Option<String>,
    audiences: Option<Vec<String>>,
    algorithms: Option<Vec<String>>,
    jwks_url: Option<String>,
    leeway_seconds: Option<u64>,
    jwks_min_refresh_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    claim: Option<String>,
    attribute: Option<String>,
    email_verified: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSessions {
    ttl_seconds: Option<u64>,
    cookie_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssertion {
    key_file: Option<PathBuf>,
    issuer: Option<String>,
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
    max_concurrent_scans: Option<usize>,
    scan_timeout_seconds: Option<u64>,
    scan_queue_wait_ms: Option<u64>,
    page_threads: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReload {
    watch: Option<bool>,
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
    /// How many listings that must walk the directory (substring filters, sorts
    /// without an index) may run at once, off the proxy's workers.
    pub max_concurrent_scans: usize,
    /// How long one such scan may run before it stops with an error.
    pub scan_timeout: Duration,
    /// How long a scan waits for a free slot before it is refused with 503 (and a
    /// listing for a free page thread).
    pub scan_queue_wait: Duration,
    /// How many low-priority threads render index-bounded listings and large groups
    /// (off the proxy's workers), one listing each at a time.
    pub page_threads: usize,
}

/// The cores SCIM's background threads may use by default: all but one, which stays
/// for the proxy's workers (a scan or a page being rendered on every core costs the
/// proxy about 3x its p99 even at the idle scheduling policy; bench/hostile `scim`).
fn background_cores() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

/// Page threads by default: one per core but one, at least one, at most four.
fn default_page_threads() -> usize {
    background_cores().min(4)
}

/// Directory walks at once by default: one per core but one, at least one, at most two.
fn default_max_concurrent_scans() -> usize {
    background_cores().min(2)
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
            max_concurrent_scans: default_max_concurrent_scans(),
            scan_timeout: Duration::from_secs(10),
            scan_queue_wait: Duration::from_millis(250),
            page_threads: default_page_threads(),
        }
    }
}

/// The browser login (OIDC authorization code flow with PKCE).
#[derive(Clone)]
pub struct OidcConfig {
    /// Issuer URL; the provider is discovered from `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Resolved secret (from `${env:..}` / `${file:..}`); never logged.
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    /// Resolved secret that seals pending sign-ins (`oidc.login_key`, 32+ bytes); never
    /// logged. Without it the client secret is used, else a random per-process key.
    pub login_key: Option<String>,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("scopes", &self.scopes)
            .field("login_key", &self.login_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Bearer JWTs from scripts and CI.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Accepted `aud` values (any one must be present).
    pub audiences: Vec<String>,
    /// Pinned algorithms (e.g. `RS256`, `ES256`); anything else is refused.
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    /// Where the keys are; discovered from the issuer when absent.
    pub jwks_url: Option<String>,
    /// Clock skew tolerated on `exp` / `nbf`.
    pub leeway: Duration,
    /// Least time between two key-set fetches triggered by an unknown `kid`.
    pub jwks_min_refresh: Duration,
}

/// The directory attribute an identity claim is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityAttribute {
    /// `userName` (case-insensitive).
    UserName,
    /// `externalId`.
    ExternalId,
    /// Any of the user's `emails` (case-insensitive).
    Email,
    /// The SCIM `id`.
    Id,
}

/// How a token's claims map to a directory user.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The claim read from the ID token or bearer JWT (e.g. `preferred_username`, `oid`, `email`).
    pub claim: String,
    pub attribute: IdentityAttribute,
    /// What a claim mapped to `emails` needs of the token's `email_verified` claim.
    pub email_verified: EmailVerification,
}

/// `identity.email_verified`: when the identity claim is matched against `emails`,
/// whether the token must say `email_verified: true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailVerification {
    /// `required` (default): `email_verified` must be present and true.
    #[default]
    Required,
    /// `if_present`: `email_verified: false` is refused; a token without the claim is
    /// accepted (for identity providers that vouch for the address without saying so).
    IfPresent,
}

/// Browser sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub ttl: Duration,
    /// Cookie name; under TLS it is sent as `__Host-{name}`.
    pub cookie_name: String,
    /// Browsers reach scimgate over HTTPS (local TLS, or an `https://` public URL behind
    /// a TLS-terminating proxy): cookies are `Secure` and `__Host-` prefixed.
    pub secure: bool,
}

/// The signed identity assertion sent upstream.
#[derive(Debug, Clone)]
pub struct AssertionConfig {
    /// ES256 private key (PKCS#8 PEM); created on first start when absent.
    pub key_file: PathBuf,
    /// `iss` of the assertion; defaults to the public URL, else `scimgate`.
    pub issuer: String,
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
    /// The external base URL (`https://gate.example.com`), for login redirects; when
    /// absent it is taken from the request's Host and the listener's scheme.
    pub public_url: Option<String>,
    /// Directory of policy files (`*.yaml`).
    pub policies_dir: PathBuf,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    pub oidc: Option<OidcConfig>,
    pub jwt: Option<JwtConfig>,
    pub identity: IdentityConfig,
    pub sessions: SessionConfig,
    pub assertion: AssertionConfig,
    /// Which durable store (`store:`).
    pub store: crate::store::config::StoreConfig,
    /// Audit queue and sinks (`audit:`).
    pub audit: crate::audit::config::AuditConfig,
    /// The operations listener (`ops:`).
    pub ops: crate::ops::config::OpsConfig,
    /// The admin UI (`admin:`).
    pub admin: crate::admin::config::AdminConfig,
    /// Client-sent identity headers to strip (`identity_headers:`).
    pub identity_headers: crate::proxy::headers::IdentityStrip,
    /// Bounds on client connections and streams (`server:`).
    pub server: crate::server::limits::ServerLimits,
    /// Whether the policies and the TLS certificate are reloaded when their files
    /// change (`reload.watch`, default on); off, only SIGHUP reloads them.
    pub watch_files: bool,
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
        max_concurrent_scans: positive(
            "scim.max_concurrent_scans",
            raw.scim.max_concurrent_scans,
            defaults.max_concurrent_scans,
        )?,
        scan_timeout: match raw.scim.scan_timeout_seconds {
            Some(s) if s == 0 || s > 3600 => {
                return Err(invalid(
                    "scim.scan_timeout_seconds",
                    "must be between 1 and 3600".into(),
                ))
            }
            Some(s) => Duration::from_secs(s),
            None => defaults.scan_timeout,
        },
        scan_queue_wait: match raw.scim.scan_queue_wait_ms {
            Some(ms) if ms > 60_000 => {
                return Err(invalid(
                    "scim.scan_queue_wait_ms",
                    "must be at most 60000".into(),
                ))
            }
            Some(ms) => Duration::from_millis(ms),
            None => defaults.scan_queue_wait,
        },
        page_threads: match raw.scim.page_threads {
            Some(n) if n == 0 || n > 64 => {
                return Err(invalid(
                    "scim.page_threads",
                    "must be between 1 and 64".into(),
                ))
            }
            Some(n) => n,
            None => defaults.page_threads,
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
    let public_url = match raw.public_url {
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
            return Err(invalid(
                "public_url",
                format!("{u:?} is not an http(s) URL"),
            ))
        }
        Some(u) => Some(u.trim_end_matches('/').to_owned()),
        None => None,
    };
    let mut trusted_proxies = Vec::new();
    for c in raw.trusted_proxies.unwrap_or_default() {
        trusted_proxies.push(parse_net(&c).ok_or_else(|| {
            invalid(
                "trusted_proxies",
                format!("{c:?} is not an address or CIDR"),
            )
        })?);
    }
    let oidc = match raw.oidc {
        Some(o) => {
            check_url(&o.issuer).map_err(|r| invalid("oidc.issuer", r))?;
            let client_secret = o
                .client_secret
                .map(|s| crate::secret::expand(&s))
                .transpose()
                .map_err(|r| invalid("oidc.client_secret", r))?;
            let login_key = o
                .login_key
                .map(|s| crate::secret::expand(&s))
                .transpose()
                .map_err(|r| invalid("oidc.login_key", r))?;
            if login_key.as_ref().is_some_and(|k| k.len() < 32) {
                return Err(invalid(
                    "oidc.login_key",
                    "use at least 32 random bytes".into(),
                ));
            }
            Some(OidcConfig {
                issuer: o.issuer.trim_end_matches('/').to_owned(),
                client_id: o.client_id,
                client_secret,
                scopes: o
                    .scopes
                    .unwrap_or_else(|| ["openid", "profile", "email"].map(String::from).to_vec()),
                login_key,
            })
        }
        None => None,
    };
    let jwt = match raw.jwt {
        Some(j) => {
            let issuer = j
                .issuer
                .or_else(|| oidc.as_ref().map(|o| o.issuer.clone()))
                .ok_or_else(|| invalid("jwt.issuer", "required (or set oidc.issuer)".into()))?;
            check_url(&issuer).map_err(|r| invalid("jwt.issuer", r))?;
            let audiences = j.audiences.unwrap_or_default();
            if audiences.is_empty() {
                return Err(invalid(
                    "jwt.audiences",
                    "name at least one audience".into(),
                ));
            }
            let mut algorithms = Vec::new();
            for a in j.algorithms.unwrap_or_else(|| vec!["RS256".to_owned()]) {
                algorithms.push(parse_algorithm(&a).map_err(|r| invalid("jwt.algorithms", r))?);
            }
            if algorithms.is_empty() {
                return Err(invalid(
                    "jwt.algorithms",
                    "name at least one algorithm".into(),
                ));
            }
            if let Some(u) = &j.jwks_url {
                check_url(u).map_err(|r| invalid("jwt.jwks_url", r))?;
            }
            Some(JwtConfig {
                issuer: issuer.trim_end_matches('/').to_owned(),
                audiences,
                algorithms,
                jwks_url: j.jwks_url,
                leeway: Duration::from_secs(j.leeway_seconds.unwrap_or(30)),
                jwks_min_refresh: Duration::from_secs(j.jwks_min_refresh_seconds.unwrap_or(10)),
            })
        }
        None => None,
    };
    let identity = IdentityConfig {
        claim: raw
            .identity
            .claim
            .unwrap_or_else(|| "preferred_username".to_owned()),
        attribute: match raw.identity.attribute.as_deref() {
            None | Some("userName") => IdentityAttribute::UserName,
            Some("externalId") => IdentityAttribute::ExternalId,
            Some("emails") | Some("email") => IdentityAttribute::Email,
            Some("id") => IdentityAttribute::Id,
            Some(other) => {
                return Err(invalid(
                    "identity.attribute",
                    format!("{other:?}: expected userName, externalId, emails or id"),
                ))
            }
        },
        email_verified: match raw.identity.email_verified.as_deref() {
            None | Some("required") => EmailVerification::Required,
            Some("if_present") => EmailVerification::IfPresent,
            Some(other) => {
                return Err(invalid(
                    "identity.email_verified",
                    format!("{other:?}: expected required or if_present"),
                ))
            }
        },
    };
    let cookie_name = raw
        .sessions
        .cookie_name
        .unwrap_or_else(|| "scimgate_session".to_owned());
    if cookie_name.is_empty()
        || !cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(invalid(
            "sessions.cookie_name",
            format!("{cookie_name:?}: use letters, digits, '_' and '-'"),
        ));
    }
    let sessions = SessionConfig {
        ttl: Duration::from_secs(raw.sessions.ttl_seconds.unwrap_or(12 * 3600).max(60)),
        cookie_name,
        secure: raw.tls.is_some()
            || public_url.as_deref().is_some_and(|u| {
                u.get(..8)
                    .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
            }),
    };
    let assertion = AssertionConfig {
        key_file: raw
            .assertion
            .key_file
            .unwrap_or_else(|| data_dir.join("assertion-key.pem")),
        issuer: raw
            .assertion
            .issuer
            .or_else(|| public_url.clone())
            .unwrap_or_else(|| "scimgate".to_owned()),
    };
    let policies_dir = ov
        .policies_dir
        .clone()
        .or(raw.policies)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_POLICIES_DIR));
    let store = raw.store.validate(name)?;
    if let Some(o) = &oidc {
        if store.postgres.is_some() && o.login_key.is_none() && o.client_secret.is_none() {
            return Err(invalid(
                "oidc.login_key",
                "replicas sharing a PostgreSQL store must share the key that seals pending sign-ins: set oidc.login_key (or oidc.client_secret)".into(),
            ));
        }
    }
    Ok(Config {
        store,
        audit: raw.audit.validate(name)?,
        ops: raw.ops.validate(name, listen)?,
        admin: raw.admin.validate(name)?,
        identity_headers: raw.identity_headers.validate(name)?,
        server: raw.server.validate(name)?,
        watch_files: raw.reload.watch.unwrap_or(true),
        public_url,
        policies_dir,
        trusted_proxies,
        oidc,
        jwt,
        identity,
        sessions,
        assertion,
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

fn parse_net(c: &str) -> Option<IpNet> {
    c.parse::<IpNet>()
        .ok()
        .or_else(|| c.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

fn check_url(u: &str) -> Result<(), String> {
    if u.starts_with("https://") || u.starts_with("http://") {
        Ok(())
    } else {
        Err(format!("{u:?} is not an http(s) URL"))
    }
}

fn parse_algorithm(a: &str) -> Result<jsonwebtoken::Algorithm, String> {
    use jsonwebtoken::Algorithm::*;
    Ok(match a {
        "RS256" => RS256,
        "RS384" => RS384,
        "RS512" => RS512,
        "PS256" => PS256,
        "PS384" => PS384,
        "PS512" => PS512,
        "ES256" => ES256,
        "ES384" => ES384,
        "EdDSA" => EdDSA,
        other => {
            return Err(format!(
                "{other:?}: expected an asymmetric algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)"
            ))
        }
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
            policies_dir: None,
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

    #[test]
    fn file_watching_is_on_unless_turned_off() {
        let c = Config::from_yaml("f", "", &Overrides::default()).unwrap();
        assert!(c.watch_files);
        let off = "reload:\n  watch: false\n";
        let c = Config::from_yaml("f", off, &Overrides::default()).unwrap();
        assert!(!c.watch_files);
    }

    #[test]
    fn scim_scan_limits_default_and_refuse_nonsense() {
        let c = Config::from_yaml("f", "", &Overrides::default()).unwrap();
        assert!((1..=2).contains(&c.scim.max_concurrent_scans));
        assert_eq!(c.scim.scan_timeout, Duration::from_secs(10));
        assert_eq!(c.scim.scan_queue_wait, Duration::from_millis(250));
        assert!((1..=4).contains(&c.scim.page_threads));
        let text = "scim:\n  max_concurrent_scans: 4\n  scan_timeout_seconds: 3\n  scan_queue_wait_ms: 0\n  page_threads: 3\n";
        let c = Config::from_yaml("f", text, &Overrides::default()).unwrap();
        assert_eq!(c.scim.max_concurrent_scans, 4);
        assert_eq!(c.scim.scan_timeout, Duration::from_secs(3));
        assert_eq!(c.scim.scan_queue_wait, Duration::ZERO);
        assert_eq!(c.scim.page_threads, 3);
        for (text, key) in [
            ("scim:\n  page_threads: 0\n", "scim.page_threads"),
            ("scim:\n  page_threads: 65\n", "scim.page_threads"),
            (
                "scim:\n  max_concurrent_scans: 0\n",
                "scim.max_concurrent_scans",
            ),
            (
                "scim:\n  scan_timeout_seconds: 0\n",
                "scim.scan_timeout_seconds",
            ),
            (
                "scim:\n  scan_queue_wait_ms: 600000\n",
                "scim.scan_queue_wait_ms",
            ),
        ] {
            let err = Config::from_yaml("f", text, &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}
