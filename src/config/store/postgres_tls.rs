//! libpq's TLS options as the configuration and a connection URL write them:
//! `sslmode`, `sslrootcert`, `sslcert` and `sslkey`, read from the URL's query or from
//! the `store.postgres` section (both: they must agree). The store turns them into a
//! TLS client (`store::postgres::tls`); here they are only read and checked.

/// An option with a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {key}: {reason}")]
pub struct TlsOptionError {
    pub key: &'static str,
    pub reason: String,
}

/// libpq's `sslmode` values this client supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// Parses a libpq `sslmode` value.
    pub fn parse(s: &str) -> Result<SslMode, TlsOptionError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(TlsOptionError {
                    key: "sslmode",
                    reason: format!(
                        "{other:?} is not one of disable, prefer, require, verify-ca, verify-full"
                    ),
                })
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// The TLS options, as given in a URL or in the configuration (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
}

impl TlsOptions {
    fn slot(&mut self, key: &str) -> Option<&mut Option<String>> {
        match key {
            "sslmode" => Some(&mut self.sslmode),
            "sslrootcert" => Some(&mut self.sslrootcert),
            "sslcert" => Some(&mut self.sslcert),
            "sslkey" => Some(&mut self.sslkey),
            _ => None,
        }
    }

    /// Adds `other`'s options; an option set in both must have the same value.
    pub fn merge(mut self, other: &TlsOptions) -> Result<TlsOptions, TlsOptionError> {
        for (key, theirs) in [
            ("sslmode", &other.sslmode),
            ("sslrootcert", &other.sslrootcert),
            ("sslcert", &other.sslcert),
            ("sslkey", &other.sslkey),
        ] {
            let Some(theirs) = theirs else { continue };
            let Some(mine) = self.slot(key) else { continue };
            match mine {
                Some(v) if v != theirs => {
                    return Err(TlsOptionError {
                        key: leak_key(key),
                        reason:
                            "given in both the URL and the configuration, with different values"
                                .into(),
                    })
                }
                _ => *mine = Some(theirs.clone()),
            }
        }
        Ok(self)
    }
}

fn leak_key(key: &str) -> &'static str {
    match key {
        "sslmode" => "sslmode",
        "sslrootcert" => "sslrootcert",
        "sslcert" => "sslcert",
        _ => "sslkey",
    }
}

/// Removes the TLS options from `url`'s query; returns the URL without them and the
/// options found.
pub fn split_url(url: &str) -> Result<(String, TlsOptions), TlsOptionError> {
    let mut opts = TlsOptions::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), opts));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match opts.slot(key) {
            Some(slot) => {
                let value = percent_decode(value).ok_or_else(|| TlsOptionError {
                    key: leak_key(key),
                    reason: "not valid percent-encoded UTF-8".into(),
                })?;
                *slot = Some(value);
            }
            None => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, opts))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_options_are_taken_out_of_the_query() {
        let (rest, o) = split_url(
            "postgres://u:p@db.example:5432/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://u:p@db.example:5432/app?application_name=x"
        );
        assert_eq!(o.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(o.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        let (rest, o) = split_url("postgres://h/db?sslmode=require").unwrap();
        assert_eq!(rest, "postgres://h/db");
        assert_eq!(o.sslmode.as_deref(), Some("require"));
    }

    #[test]
    fn unknown_modes_are_refused_by_name() {
        let e = SslMode::parse("allow").unwrap_err().to_string();
        assert!(e.contains("sslmode") && e.contains("allow"), "{e}");
    }

    #[test]
    fn conflicting_values_are_refused() {
        let url = TlsOptions {
            sslmode: Some("require".into()),
            ..Default::default()
        };
        let cfg = TlsOptions {
            sslmode: Some("verify-full".into()),
            ..Default::default()
        };
        assert!(url.clone().merge(&cfg).is_err());
        let same = url.clone().merge(&url).unwrap();
        assert_eq!(same.sslmode.as_deref(), Some("require"));
    }
}
