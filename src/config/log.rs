//! The `log:` section: the log's format and level.

use serde::Deserialize;

use super::error::{Checker, ConfigError};

/// `log:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    format: Option<String>,
    level: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl RawLog {
    /// Checks the section: the format, and the level (a `tracing` filter, `info` by
    /// default).
    pub fn validate(self, check: Checker<'_>) -> Result<(LogFormat, String), ConfigError> {
        let format = match self.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(check.invalid("log.format", format!("{other:?}: expected text or json")))
            }
        };
        Ok((format, self.level.unwrap_or_else(|| "info".to_owned())))
    }
}
