//! The documentation's examples, run, so README.md and policies/README.md cannot drift
//! from the binary: every `scimgate …` command line (in shell blocks, and in inline code
//! that gives arguments) parses as the real command line does; every configuration block
//! is accepted by `scimgate config check`; every policy block by `scimgate policy check`;
//! the policy test-case example passes against the example policy it is written for;
//! and the policy commands the README shows on the shipped files succeed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fenced block: its language, first line (1-based, of the text) and text.
struct Block {
    file: &'static str,
    lang: String,
    line: usize,
    text: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(file: &str) -> String {
    std::fs::read_to_string(root().join(file)).unwrap()
}

fn blocks(file: &'static str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in read(file).lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    file,
                    lang: lang.trim().to_owned(),
                    line: i + 2,
                    text: String::new(),
                })
            }
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some(b), None) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{file}: a fenced block is not closed");
    out
}

fn docs() -> Vec<Block> {
    ["README.md", "policies/README.md"]
        .into_iter()
        .flat_map(blocks)
        .collect()
}

/// The shell lines of a block, with `\` continuations joined.
fn shell_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(line);
            lines.push(std::mem::take(&mut current));
        }
    }
    lines
}

/// The arguments of a documented `scimgate …` line: the comment cut off, and a synopsis
/// (`[--flag VALUE]`, `scim|admin`) read as one concrete instance of it: brackets
/// dropped, the first of the alternatives taken.
fn arguments(line: &str) -> Option<Vec<String>> {
    let words = shlex::split(line.trim())?;
    if words.first().map(String::as_str) != Some("scimgate") {
        return None;
    }
    Some(
        words[1..]
            .iter()
            .take_while(|w| !w.starts_with('#'))
            .map(|w| {
                let w = w.replace(['[', ']'], "");
                match w.split_once('|') {
                    Some((first, _)) if !w.contains(' ') => first.to_owned(),
                    _ => w,
                }
            })
            // `...` stands for arguments left out.
            .filter(|w| !w.is_empty() && w != "..." && w != "…")
            .collect(),
    )
}

/// `--version` and `--help` are answered by the parser itself: accepted lines.
fn answered(e: clap::Error) -> Result<(), clap::Error> {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayVersion | ErrorKind::DisplayHelp => Ok(()),
        _ => Err(e),
    }
}

/// `scimgate …` in inline code spans of a Markdown text.
fn inline_commands(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("scimgate "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_documented_command_line_parses() {
    let mut checked = 0;
    for block in docs().iter().filter(|b| b.lang == "sh") {
        for line in shell_lines(&block.text) {
            let Some(args) = arguments(&line) else {
                continue;
            };
            if let Err(e) = scimgate::cli::check_args(&args).or_else(answered) {
                panic!(
                    "{}:{}: `{line}` is not a command line scimgate accepts:\n{e}",
                    block.file, block.line
                );
            }
            checked += 1;
        }
    }
    // Inline code names commands in running text; those that give arguments must parse,
    // and a bare command name must at least be a command (only its arguments missing).
    for file in ["README.md", "policies/README.md"] {
        for span in inline_commands(&read(file)) {
            let args = arguments(&span).unwrap_or_else(|| panic!("{file}: `{span}`"));
            match scimgate::cli::check_args(&args).or_else(answered) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        clap::error::ErrorKind::MissingRequiredArgument
                            | clap::error::ErrorKind::MissingSubcommand
                            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    ) => {}
                Err(e) => panic!("{file}: `{span}` is not a command scimgate accepts:\n{e}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} command lines found");
}

/// Runs the real binary from the repository root; success, stdout and stderr.
fn scimgate(args: &[&str], env: &[(String, String)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .current_dir(root())
        .args(args)
        .env_remove("SCIMGATE_CONFIG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Values for the `${env:NAME}` references of a block: a loopback PostgreSQL URL for a
/// variable named as a URL, a 40-character secret otherwise.
fn env_for(text: &str) -> Vec<(String, String)> {
    text.split("${env:")
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| {
            let value = if name.ends_with("_URL") {
                "postgres://scimgate@127.0.0.1:5432/test".to_owned()
            } else {
                "example-secret-0123456789abcdefghijklmnop".to_owned()
            };
            (name.to_owned(), value)
        })
        .collect()
}

fn is_policy(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("routes:"))
}

fn is_policy_test(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("cases:"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_configuration_example_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for block in docs().iter().filter(|b| b.lang == "yaml") {
        if is_policy(&block.text) || is_policy_test(&block.text) || block.file != "README.md" {
            continue;
        }
        let file = write(tmp.path(), &format!("line{}.yaml", block.line), &block.text);
        // The examples name the policies directory of the machine they run on
        // (`/etc/scimgate/policies`); the repository's stands in for it.
        let (ok, out, err) = scimgate(
            &[
                "config",
                "check",
                "--config",
                file.to_str().unwrap(),
                "--policies",
                "policies",
            ],
            &env_for(&block.text),
        );
        assert!(
            ok,
            "{}:{}: scimgate config check refuses the example:\n{out}{err}",
            block.file, block.line
        );
        checked += 1;
    }
    // The quickstart's, the audit section's and the whole reference.
    assert!(checked >= 3, "only {checked} configuration examples found");
}

#[test]
fn every_policy_example_is_accepted_and_its_test_cases_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut first_policy: Option<(PathBuf, Vec<(String, String)>)> = None;
    for (i, block) in docs().iter().filter(|b| b.lang == "yaml").enumerate() {
        let text = if block.text.starts_with("allow:") || block.text.starts_with("deny:") {
            // A rule list on its own: shown in a route.
            let indented: String = block.text.lines().map(|l| format!("    {l}\n")).collect();
            format!("routes:\n  - name: example\n    upstream: http://127.0.0.1:8081\n{indented}")
        } else if is_policy(&block.text) {
            block.text.clone()
        } else {
            continue;
        };
        let dir = tmp.path().join(format!("policy{i}"));
        std::fs::create_dir(&dir).unwrap();
        write(&dir, "example.yaml", &text);
        let env = env_for(&text);
        let (ok, out, err) = scimgate(&["policy", "check", dir.to_str().unwrap()], &env);
        assert!(
            ok && out.contains("example.yaml: ok"),
            "{}:{}: scimgate policy check refuses the example:\n{out}{err}",
            block.file,
            block.line
        );
        if block.file == "policies/README.md" && first_policy.is_none() {
            first_policy = Some((dir, env));
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} policy examples found");

    // The test-case example is written against policies/README's first policy.
    let (dir, env) = first_policy.expect("policies/README.md has a policy example");
    let cases: Vec<Block> = blocks("policies/README.md")
        .into_iter()
        .filter(|b| b.lang == "yaml" && is_policy_test(&b.text))
        .collect();
    assert!(!cases.is_empty(), "policies/README.md shows a test file");
    for block in cases {
        let file = write(
            tmp.path(),
            &format!("cases{}.yaml", block.line),
            &block.text,
        );
        let (ok, out, err) = scimgate(
            &[
                "policy",
                "test",
                file.to_str().unwrap(),
                "--dir",
                dir.to_str().unwrap(),
            ],
            &env,
        );
        assert!(
            ok && out.contains(" passed, 0 failed"),
            "{}:{}: the test cases do not pass:\n{out}{err}",
            block.file,
            block.line
        );
    }
}

#[test]
fn the_policy_commands_the_readme_shows_work_on_the_shipped_files() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path().to_str().unwrap();
    // Checked without the secrets they reference (a CI job has none): a warning.
    let (ok, out, err) = scimgate(
        &["policy", "check", "policies/examples", "--data", data],
        &[],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("dbt-platform.yaml: ok (1 route)"), "{out}");
    assert!(out.contains("DBT_SERVICE_TOKEN is not set"), "{out}");
    assert!(!out.contains("no route is named"), "{out}");
    let (ok, out, err) = scimgate(&["policy", "check", "--data", data], &[]);
    assert!(ok && out.contains("docs.yaml: ok"), "{out}{err}");
    for (file, dir) in [
        ("policies/tests/docs.test.yaml", "policies"),
        (
            "policies/examples/tests/dbt-docs.test.yaml",
            "policies/examples",
        ),
        (
            "policies/examples/tests/dbt-platform.test.yaml",
            "policies/examples",
        ),
    ] {
        let (ok, out, err) = scimgate(&["policy", "test", file, "--dir", dir, "--data", data], &[]);
        assert!(
            ok && out.contains(" passed, 0 failed"),
            "{file}: {out}{err}"
        );
    }
}
