//! The `store:` section of the configuration: which durable store to use.

use serde::Deserialize;

use crate::config::ConfigError;

/// `store:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStoreConfig {}

/// The validated `store:` section (absent: SQLite in the data directory).
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {}

impl RawStoreConfig {
    /// Checks the section; `file` names the config file in errors.
    pub fn validate(self, _file: &str) -> Result<StoreConfig, ConfigError> {
        Ok(StoreConfig {})
    }
}
