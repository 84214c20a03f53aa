//! The `tls:` section: the listener's certificate and key.

use std::path::PathBuf;

use serde::Deserialize;

/// `tls:` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

/// TLS material for the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl RawTls {
    /// The section as it is: the files are read when the listener starts.
    pub fn validate(self) -> TlsConfig {
        TlsConfig {
            cert: self.cert,
            key: self.key,
        }
    }
}
