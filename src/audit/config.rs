//! The `audit:` section of the configuration: queue size and sinks.

use serde::Deserialize;

use crate::config::ConfigError;

/// `audit:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuditConfig {}

/// The validated `audit:` section.
#[derive(Debug, Clone, Default)]
pub struct AuditConfig {}

impl RawAuditConfig {
    /// Checks the section; `file` names the config file in errors.
    pub fn validate(self, _file: &str) -> Result<AuditConfig, ConfigError> {
        Ok(AuditConfig {})
    }
}
