//! The `ops:` section: where the operations listener (`/metrics`,
//! `/healthz`, `/readyz`) listens.
//!
//! It is loopback by default: metrics name routes and token names, which are not for
//! the world. A non-loopback address must be asked for with `allow_remote: true`, and
//! the address may not be the main listener's. When the main listener asks for an
//! ephemeral port (`listen: ...:0`, as tests and side-by-side instances do) and
//! `ops.listen` is not set, the ops listener takes an ephemeral port too (on loopback).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Deserialize;

use super::error::{Checker, ConfigError};

/// The default operations address.
pub const DEFAULT_OPS_LISTEN: &str = "127.0.0.1:9090";

/// `ops:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOpsConfig {
    /// `address:port` of the operations listener, or `off`.
    listen: Option<String>,
    /// Allows a non-loopback `listen` address.
    allow_remote: Option<bool>,
}

/// The validated `ops:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsConfig {
    /// Where the operations listener binds; `None`: no operations listener.
    pub listen: Option<SocketAddr>,
    /// Whether `listen` was written in the file (a default address that is taken is
    /// a warning, a written one an error).
    pub explicit: bool,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            listen: DEFAULT_OPS_LISTEN.parse().ok(),
            explicit: false,
        }
    }
}

impl RawOpsConfig {
    /// Checks the section; `main` is the main listener's address.
    pub fn validate(self, check: Checker<'_>, main: SocketAddr) -> Result<OpsConfig, ConfigError> {
        let explicit = self.listen.is_some();
        let listen = match self.listen.as_deref().map(str::trim) {
            Some("off") => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|e| {
                check.invalid(
                    "ops.listen",
                    format!("{text:?} is not an address:port or `off` ({e})"),
                )
            })?),
            None if main.port() == 0 => Some(SocketAddr::new(loopback_beside(main.ip()), 0)),
            None => DEFAULT_OPS_LISTEN.parse().ok(),
        };
        if let Some(addr) = listen {
            if !addr.ip().is_loopback() && !self.allow_remote.unwrap_or(false) {
                return Err(check.invalid(
                    "ops.listen",
                    format!(
                        "{addr} is not a loopback address; metrics are not for the world \
                         (set ops.allow_remote: true to listen there anyway)"
                    ),
                ));
            }
            if addr.port() != 0 && addr.port() == main.port() && overlaps(addr, main) {
                return Err(check.invalid(
                    "ops.listen",
                    format!("{addr} is the main listener's address ({main})"),
                ));
            }
        }
        Ok(OpsConfig { listen, explicit })
    }
}

/// The main listener's address when it is loopback, else the loopback address of its
/// family: an ops listener nobody configured stays loopback.
fn loopback_beside(main: IpAddr) -> IpAddr {
    match main {
        ip if ip.is_loopback() => ip,
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// Whether two addresses on the same port would collide.
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str, main: &str) -> Result<OpsConfig, ConfigError> {
        let raw: RawOpsConfig = serde_saphyr::from_str(yaml).unwrap();
        raw.validate(Checker::new("f.yaml"), main.parse().unwrap())
    }

    #[test]
    fn defaults_to_loopback_9090_or_ephemeral_beside_an_ephemeral_main() {
        let c = check("{}", "127.0.0.1:8080").unwrap();
        assert_eq!(c.listen, Some("127.0.0.1:9090".parse().unwrap()));
        let c = check("{}", "127.0.0.1:0").unwrap();
        assert_eq!(c.listen, Some("127.0.0.1:0".parse().unwrap()));
        // Beside an ephemeral main port on every address: ephemeral, and loopback.
        let c = check("{}", "0.0.0.0:0").unwrap();
        assert_eq!(c.listen, Some("127.0.0.1:0".parse().unwrap()));
        let c = check("{}", "[::]:0").unwrap();
        assert_eq!(c.listen, Some("[::1]:0".parse().unwrap()));
        assert_eq!(
            check("listen: 'off'", "127.0.0.1:8080").unwrap().listen,
            None
        );
    }

    #[test]
    fn refuses_wrong_addresses_naming_the_key() {
        for (yaml, main, needle) in [
            ("listen: nowhere", "127.0.0.1:8080", "not an address"),
            ("listen: 0.0.0.0:9090", "127.0.0.1:8080", "not a loopback"),
            ("listen: 127.0.0.1:8080", "127.0.0.1:8080", "main listener"),
            ("listen: 127.0.0.1:8080", "0.0.0.0:8080", "main listener"),
        ] {
            let e = check(yaml, main).unwrap_err().to_string();
            assert!(e.starts_with("f.yaml: ops.listen: "), "{e}");
            assert!(e.contains(needle), "{yaml}: {e}");
        }
        let c = check("listen: 0.0.0.0:9090\nallow_remote: true", "127.0.0.1:8080").unwrap();
        assert_eq!(c.listen, Some("0.0.0.0:9090".parse().unwrap()));
    }
}
