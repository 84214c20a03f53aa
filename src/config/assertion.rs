//! The `assertion:` section: the signed identity assertion sent upstream.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `assertion:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssertion {
    key_file: Option<PathBuf>,
    issuer: Option<String>,
}

/// The signed identity assertion sent upstream.
#[derive(Debug, Clone)]
pub struct AssertionConfig {
    /// ES256 private key (PKCS#8 PEM); created on first start when absent.
    pub key_file: PathBuf,
    /// `iss` of the assertion; defaults to the public URL, else `scimgate`.
    pub issuer: String,
}

impl RawAssertion {
    /// The section with its defaults: the key in `data_dir`, the public URL as issuer.
    pub fn resolve(self, data_dir: &Path, public_url: Option<&str>) -> AssertionConfig {
        AssertionConfig {
            key_file: self
                .key_file
                .unwrap_or_else(|| data_dir.join("assertion-key.pem")),
            issuer: self
                .issuer
                .or_else(|| public_url.map(str::to_owned))
                .unwrap_or_else(|| "scimgate".to_owned()),
        }
    }
}
