//! Why a configuration was refused, and the checks every section words the same way.
//!
//! Every error names the file and, when the problem is in it, the line and column of
//! the key (`gate.yaml:4:3: scim.max_results: must be at least 1, not 0`), so an
//! operator can jump straight to it, as policy errors do. Sections check their values
//! through a [`Checker`]; the loader then places each refusal at its key in the text.

use std::fmt;
use std::time::Duration;

/// Where a problem is: a file, and a line and column in it when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: String,
    /// 1-based; 0 when the problem has no position in the file (a default, a flag).
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML, or not the configuration's shape: an unknown key, a value
    /// of the wrong type. `reason` starts with the key's path when there is one.
    #[error("{at}: {reason}")]
    Parse { at: Place, reason: String },
    /// A value a section refuses; `key` is its path (`scim.max_results`).
    #[error("{at}: {key}: {reason}")]
    Invalid {
        at: Place,
        key: &'static str,
        reason: String,
    },
    /// The policies directory cannot be read (`config check` looks before `serve` would).
    #[error("{at}: policies: {dir}: {reason}")]
    PoliciesDir {
        at: Place,
        dir: String,
        reason: String,
    },
}

impl ConfigError {
    /// The error with the position of its key in `text` (the file it was read from),
    /// when the key is written there.
    pub(super) fn placed(mut self, text: &str) -> Self {
        if let ConfigError::Invalid { at, key, .. } = &mut self {
            if let Some((line, column)) = crate::yaml::key_location(text, key) {
                at.line = line;
                at.column = column;
            }
        }
        self
    }
}

/// Checks of a section's values, each refusal naming the file and the key.
#[derive(Debug, Clone, Copy)]
pub struct Checker<'a> {
    file: &'a str,
}

impl<'a> Checker<'a> {
    /// Checks for the file named `file` (as errors show it).
    pub fn new(file: &'a str) -> Self {
        Checker { file }
    }

    /// `key` is refused for `reason`.
    pub fn invalid(&self, key: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            at: Place {
                file: self.file.to_owned(),
                line: 0,
                column: 0,
            },
            key,
            reason: reason.into(),
        }
    }

    /// `value` (else `default`), which must be at least `min`.
    pub fn at_least<T: Copy + PartialOrd + fmt::Display>(
        &self,
        key: &'static str,
        value: Option<T>,
        min: T,
        default: T,
    ) -> Result<T, ConfigError> {
        match value {
            Some(v) if v < min => {
                Err(self.invalid(key, format!("must be at least {min}, not {v}")))
            }
            Some(v) => Ok(v),
            None => Ok(default),
        }
    }

    /// `value` (else `default`), which must be at most `max`.
    pub fn at_most<T: Copy + PartialOrd + fmt::Display>(
        &self,
        key: &'static str,
        value: Option<T>,
        max: T,
        default: T,
    ) -> Result<T, ConfigError> {
        match value {
            Some(v) if v > max => Err(self.invalid(key, format!("must be at most {max}, not {v}"))),
            Some(v) => Ok(v),
            None => Ok(default),
        }
    }

    /// `value` (else `default`), which must be between `min` and `max`.
    pub fn between<T: Copy + PartialOrd + fmt::Display>(
        &self,
        key: &'static str,
        value: Option<T>,
        (min, max): (T, T),
        default: T,
    ) -> Result<T, ConfigError> {
        match value {
            Some(v) if v < min || v > max => {
                Err(self.invalid(key, format!("must be between {min} and {max}, not {v}")))
            }
            Some(v) => Ok(v),
            None => Ok(default),
        }
    }

    /// A number of seconds (fractions allowed), more than 0 and at most a day.
    pub fn seconds(
        &self,
        key: &'static str,
        value: Option<f64>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match value {
            None => Ok(default),
            Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
            Some(s) => Err(self.invalid(
                key,
                format!("must be a number of seconds more than 0 and at most 86400, not {s}"),
            )),
        }
    }

    /// `url` without its trailing `/`, which must be an http(s) URL.
    pub fn http_url(&self, key: &'static str, url: &str) -> Result<String, ConfigError> {
        if url.starts_with("https://") || url.starts_with("http://") {
            Ok(url.trim_end_matches('/').to_owned())
        } else {
            Err(self.invalid(key, format!("{url:?} is not an http(s) URL")))
        }
    }

    /// `text` with its `${env:..}` / `${file:..}` references resolved.
    pub fn secret(&self, key: &'static str, text: &str) -> Result<String, ConfigError> {
        crate::secret::expand(text).map_err(|reason| self.invalid(key, reason))
    }

    /// Extra request headers for an outbound sender, their values secrets
    /// (`${env:..}` / `${file:..}` resolved, marked sensitive so they are never logged).
    pub fn secret_headers(
        &self,
        key: &'static str,
        headers: std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, ConfigError> {
        headers
            .into_iter()
            .map(|(name, value)| {
                let name = http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| self.invalid(key, format!("{name:?} is not a header name")))?;
                let mut value =
                    http::HeaderValue::from_str(&self.secret(key, &value)?).map_err(|_| {
                        self.invalid(
                            key,
                            format!("the value of {name} is not a valid header value"),
                        )
                    })?;
                value.set_sensitive(true);
                Ok((name, value))
            })
            .collect()
    }

    /// Addresses and CIDRs (`10.0.0.0/8`, `127.0.0.1`) as networks.
    pub fn networks(
        &self,
        key: &'static str,
        list: Option<Vec<String>>,
    ) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        list.unwrap_or_default()
            .iter()
            .map(|c| {
                c.parse::<ipnet::IpNet>()
                    .ok()
                    .or_else(|| c.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
                    .ok_or_else(|| self.invalid(key, format!("{c:?} is not an address or CIDR")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_key_and_what_was_expected() {
        let check = Checker::new("f.yaml");
        let e = check.at_least("a.b", Some(0_usize), 1, 5).unwrap_err();
        assert_eq!(e.to_string(), "f.yaml: a.b: must be at least 1, not 0");
        assert_eq!(check.at_least("a.b", None, 1, 5).unwrap(), 5);
        let e = check.between("a.c", Some(65_u32), (1, 64), 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.yaml: a.c: must be between 1 and 64, not 65"
        );
        let e = check.at_most("a.d", Some(7_u64), 6, 0).unwrap_err();
        assert_eq!(e.to_string(), "f.yaml: a.d: must be at most 6, not 7");
        assert!(check.seconds("a.e", Some(-1.0), Duration::ZERO).is_err());
        assert_eq!(
            check.http_url("a.f", "https://x.example/").unwrap(),
            "https://x.example"
        );
        let e = check
            .networks("a.g", Some(vec!["10.0.0.0/33".into()]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.yaml: a.g: \"10.0.0.0/33\" is not an address or CIDR"
        );
    }

    #[test]
    fn a_refusal_is_placed_at_its_key() {
        let e = Checker::new("f.yaml")
            .invalid("scim.max_results", "must be at least 1, not 0")
            .placed("listen: 127.0.0.1:1\nscim:\n  max_results: 0\n");
        assert_eq!(
            e.to_string(),
            "f.yaml:3:3: scim.max_results: must be at least 1, not 0"
        );
    }
}
