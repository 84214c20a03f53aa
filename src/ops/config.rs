//! The `ops:` section of the configuration: the operations listener.

use serde::Deserialize;

use crate::config::ConfigError;

/// `ops:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOpsConfig {}

/// The validated `ops:` section.
#[derive(Debug, Clone, Default)]
pub struct OpsConfig {}

impl RawOpsConfig {
    /// Checks the section; `file` names the config file in errors.
    pub fn validate(self, _file: &str) -> Result<OpsConfig, ConfigError> {
        Ok(OpsConfig {})
    }
}
