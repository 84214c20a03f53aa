//! Reading the configuration text into its raw shape, with errors that name the key:
//!
//! ```text
//! gate.yaml:4:16: sessions.ttl_seconds: expected a whole number of seconds, found `12h`
//! ```
//!
//! Positions, shapes and booleans come from the shared YAML reader ([`crate::yaml`]);
//! what this adds is the key's path and the unit its name gives a number (`_seconds`,
//! `_ms`, `_bytes`).

use serde::de::DeserializeOwned;

use super::error::{ConfigError, Place};
use crate::yaml::{Problem, YamlError};

/// `text` (from `file`) as `T`; an empty document (or only comments) is `T::default()`.
pub(super) fn parse_raw<T: DeserializeOwned + Default>(
    file: &str,
    text: &str,
) -> Result<T, ConfigError> {
    match crate::yaml::parse_keyed::<T>(text) {
        Ok(raw) => Ok(raw.unwrap_or_default()),
        Err(e) => Err(ConfigError::Parse {
            at: Place {
                file: file.to_owned(),
                line: e.line,
                column: e.column,
            },
            reason: reason(&e),
        }),
    }
}

/// The problem, after the path of the key it is about. An unknown key is told under
/// the path of the mapping that holds it (its own name is in the message).
fn reason(e: &YamlError) -> String {
    let path = match (&e.problem, e.path.as_deref()) {
        (Problem::Other(r), Some(p)) if r.starts_with("unknown field") => {
            p.rsplit_once('.').map(|(parent, _)| parent)
        }
        (_, path) => path,
    };
    let problem = e.problem.describe(path.and_then(unit));
    match path {
        Some(path) => format!("{path}: {problem}"),
        None => problem,
    }
}

/// The unit a key's name gives its number (`ttl_seconds`: seconds).
fn unit(path: &str) -> Option<&'static str> {
    let key = path.rsplit('.').next()?;
    [
        ("_seconds", "seconds"),
        ("_ms", "milliseconds"),
        ("_bytes", "bytes"),
    ]
    .into_iter()
    .find(|(suffix, _)| key.ends_with(suffix))
    .map(|(_, unit)| unit)
}

#[cfg(test)]
mod tests {
    use super::super::RawConfig;
    use super::*;

    fn refused(text: &str) -> String {
        parse_raw::<RawConfig>("gate.yaml", text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn an_unknown_top_level_key_is_placed_at_its_line_and_the_valid_keys_named() {
        let e = refused("listen: 127.0.0.1:9000\n# the store\nstroe:\n  sqlite: {}\n");
        assert!(
            e.starts_with("gate.yaml:3:1: unknown field `stroe`, expected one of "),
            "{e}"
        );
        for key in ["listen", "store", "scim", "identity_headers"] {
            assert!(e.contains(key), "{e}");
        }
        let e = refused("scim:\n  max_results: 5\n  allow_manual_update: true\n");
        assert!(
            e.starts_with("gate.yaml:3:3: scim: unknown field `allow_manual_update`"),
            "{e}"
        );
        assert!(e.contains("allow_manual_updates"), "{e}");
    }

    #[test]
    fn a_number_names_its_key_and_unit() {
        assert_eq!(
            refused("sessions:\n  ttl_seconds: 12h\n"),
            "gate.yaml:2:16: sessions.ttl_seconds: expected a whole number of seconds, found `12h`"
        );
        assert_eq!(
            refused("server: { detect_timeout_seconds: soon }\n"),
            "gate.yaml:1:35: server.detect_timeout_seconds: expected a number of seconds, found `soon`"
        );
        assert_eq!(
            refused("scim:\n  max_results: lots\n"),
            "gate.yaml:2:16: scim.max_results: expected a whole number, found `lots`"
        );
    }

    #[test]
    fn a_scalar_where_a_list_belongs_says_a_list_was_expected() {
        assert_eq!(
            refused("trusted_proxies: 10.0.0.1\n"),
            "gate.yaml:1:18: trusted_proxies: expected a list, found `10.0.0.1`"
        );
        assert_eq!(
            refused("admin:\n  groups: scimgate-admins\n"),
            "gate.yaml:2:11: admin.groups: expected a list, found `scimgate-admins`"
        );
    }

    #[test]
    fn yaml_1_1_booleans_are_refused_with_the_fix() {
        for word in ["yes", "on", "no", "off"] {
            assert_eq!(
                refused(&format!("reload:\n  watch: {word}\n")),
                format!(
                    "gate.yaml:2:10: reload.watch: `{word}` is not a boolean: use true or false"
                )
            );
        }
    }
}
