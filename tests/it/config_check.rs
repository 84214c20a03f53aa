//! `scimgate config check` and `scimgate policy check` on real files, through the
//! binary: every refusal names the file, the line and column, the key's path and what
//! was expected, and both read booleans by one rule (only `true` and `false`).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::binary;

/// A directory with a policies directory in it (one route), for the config to name.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("policies")).unwrap();
        std::fs::write(
            dir.path().join("policies/docs.yaml"),
            "routes:\n  - name: docs\n    upstream: http://127.0.0.1:9\n    allow: [{ everyone: true }]\n",
        )
        .unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `config check` of `text` written as `gate.yaml`, its policies beside it
    /// unless the text names others; the file's path as errors show it.
    fn config_check(&self, text: &str) -> (Output, String) {
        let file = self.path("gate.yaml");
        let policies = self.path("policies");
        let text = if text.contains("policies:") {
            text.to_owned()
        } else {
            format!("policies: {}\n{text}", policies.display())
        };
        std::fs::write(&file, text).unwrap();
        let out = binary::command()
            .args(["config", "check", "--config"])
            .arg(&file)
            .arg("--data")
            .arg(self.path("data"))
            .output()
            .unwrap();
        (out, file.display().to_string())
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Refused, with `expected` (after the `scimgate: ` prefix) as the whole message.
fn assert_refused(out: &Output, expected: &str) {
    assert!(!out.status.success(), "accepted: {out:?}");
    assert_eq!(stderr(out).trim_end(), format!("scimgate: {expected}"));
}

#[test]
fn a_good_file_is_accepted_and_summarised() {
    let setup = Setup::new();
    let (out, file) = setup.config_check("listen: 127.0.0.1:9000\nreload: { watch: false }\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with(&format!("{file}: ok\n")), "{stdout}");
    assert!(stdout.contains("listen    127.0.0.1:9000"), "{stdout}");
}

#[test]
fn an_unknown_top_level_key_is_reported_at_its_line_with_the_valid_keys() {
    let setup = Setup::new();
    // `policies:` is line 1; the typo is on line 3.
    let (out, file) = setup.config_check("listen: 127.0.0.1:9000\nstroe:\n  sqlite: {}\n");
    assert!(!out.status.success());
    let err = stderr(&out);
    let expected = format!("scimgate: {file}:3:1: unknown field `stroe`, expected one of ");
    assert!(err.starts_with(&expected), "{err}");
    for key in [
        "listen",
        "store",
        "scim",
        "sessions",
        "identity_headers",
        "reload",
    ] {
        assert!(err.contains(key), "valid key {key} not named: {err}");
    }
}

#[test]
fn an_unknown_nested_key_names_its_section() {
    let setup = Setup::new();
    let (out, file) = setup.config_check("scim:\n  max_results: 50\n  allow_manual_update: true\n");
    let err = stderr(&out);
    let expected =
        format!("scimgate: {file}:4:3: scim: unknown field `allow_manual_update`, expected one of");
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.contains("allow_manual_updates"), "{err}");
}

#[test]
fn a_duration_in_seconds_written_with_a_unit_names_the_key_and_the_unit() {
    let setup = Setup::new();
    let (out, file) = setup.config_check("sessions:\n  ttl_seconds: 12h\n");
    assert_refused(
        &out,
        &format!(
            "{file}:3:16: sessions.ttl_seconds: expected a whole number of seconds, found `12h`"
        ),
    );
}

#[test]
fn a_scalar_where_a_list_belongs_says_a_list_was_expected() {
    let setup = Setup::new();
    let (out, file) = setup.config_check("jwt:\n  audiences: api://scimgate\n");
    assert_refused(
        &out,
        &format!("{file}:3:14: jwt.audiences: expected a list, found `api://scimgate`"),
    );
}

#[test]
fn a_refused_value_is_reported_at_its_key() {
    let setup = Setup::new();
    let (out, file) = setup.config_check("scim:\n  max_results: 0\n");
    assert_refused(
        &out,
        &format!("{file}:3:3: scim.max_results: must be at least 1, not 0"),
    );
    let (out, file) = setup.config_check("ops: { listen: 10.1.2.3:9090 }\n");
    let err = stderr(&out);
    let expected = format!("scimgate: {file}:2:8: ops.listen: 10.1.2.3:9090 is not a loopback");
    assert!(err.starts_with(&expected), "{err}");
}

#[test]
fn the_upstream_connection_bounds_are_checked_at_their_keys() {
    let setup = Setup::new();
    let (out, file) = setup.config_check("server:\n  max_upstream_connections: 0\n");
    assert_refused(
        &out,
        &format!("{file}:3:3: server.max_upstream_connections: must be at least 1, not 0"),
    );
    let (out, file) = setup.config_check("server:\n  upstream_idle_per_host: 70000\n");
    assert_refused(
        &out,
        &format!(
            "{file}:3:3: server.upstream_idle_per_host: must be between 0 and 65535, not 70000"
        ),
    );
    let (out, _) = setup
        .config_check("server:\n  max_upstream_connections: 200\n  upstream_idle_per_host: 0\n");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_policies_directory_that_does_not_exist_is_refused() {
    let setup = Setup::new();
    let missing = setup.path("no-such-policies");
    let (out, file) = setup.config_check(&format!("policies: {}\n", missing.display()));
    assert_refused(
        &out,
        &format!(
            "{file}: policies: {}: no such directory (create it, or point `policies:` or \
             --policies at the directory of policy files)",
            missing.display()
        ),
    );
    // The flag wins over the file, as it does for `serve`.
    let out = binary::command()
        .args(["config", "check", "--config"])
        .arg(setup.path("gate.yaml"))
        .arg("--policies")
        .arg(setup.path("policies"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn yaml_1_1_booleans_are_refused_alike_in_config_and_in_policies() {
    let setup = Setup::new();
    for word in ["yes", "on", "no", "off"] {
        let (out, file) = setup.config_check(&format!("scim:\n  allow_manual_updates: {word}\n"));
        assert_refused(
            &out,
            &format!(
                "{file}:3:25: scim.allow_manual_updates: `{word}` is not a boolean: use true or false"
            ),
        );

        let policies = setup.path(&format!("policies-{word}"));
        std::fs::create_dir(&policies).unwrap();
        let policy = policies.join("docs.yaml");
        std::fs::write(
            &policy,
            format!("routes:\n  - name: docs\n    upstream: http://127.0.0.1:9\n    keep_alive: {word}\n"),
        )
        .unwrap();
        let out = policy_check(&policies, &setup.path("data"));
        assert!(!out.status.success(), "accepted: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let expected = format!(
            "{}:4:17: `{word}` is not a boolean: use true or false\n",
            policy.display()
        );
        assert!(stdout.starts_with(&expected), "{stdout}");
    }
    // `true` and `false` are booleans in both.
    let (out, _) = setup.config_check("scim:\n  allow_manual_updates: true\n");
    assert!(out.status.success(), "{}", stderr(&out));
}

fn policy_check(policies: &Path, data: &Path) -> Output {
    binary::command()
        .args(["policy", "check"])
        .arg(policies)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}
