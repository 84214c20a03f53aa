//! Secret references in configuration and policy files: `${env:NAME}` and `${file:PATH}`.
//!
//! A value such as `Token ${env:DBT_SERVICE_TOKEN}` is expanded once, when the file is
//! loaded; a reference that cannot be resolved is an error naming the reference (never
//! its value). Text outside `${...}` is kept as written; `$$` stands for one `$`.
//!
//! Checking files without their secrets (`scimgate policy check` in a CI job that has
//! none) runs the loader inside [`with_placeholders`]: there an unresolved reference
//! expands to a placeholder and is reported to the caller instead of failing the file.

use std::cell::RefCell;

thread_local! {
    /// `Some` while [`with_placeholders`] runs on this thread: the references that
    /// could not be resolved so far.
    static UNRESOLVED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Runs `f` with unresolved references expanded to a placeholder; returns its result
/// and the errors those references would have been (e.g. "environment variable X is
/// not set"), each once, in the order met.
pub fn with_placeholders<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let previous = UNRESOLVED.with(|u| u.borrow_mut().replace(Vec::new()));
    let out = f();
    let found = UNRESOLVED.with(|u| std::mem::replace(&mut *u.borrow_mut(), previous));
    (out, found.unwrap_or_default())
}

/// Expands every `${env:NAME}` and `${file:PATH}` in `text`.
///
/// A file's content loses one trailing newline (secrets are usually written with one).
pub fn expand(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
            continue;
        }
        let Some(body) = tail.strip_prefix("${") else {
            out.push('$');
            rest = &tail[1..];
            continue;
        };
        let end = body
            .find('}')
            .ok_or_else(|| format!("unterminated reference in {:?}", redact(text)))?;
        let reference = &body[..end];
        match resolve(reference) {
            Ok(value) => out.push_str(&value),
            Err(e) => {
                let placeholder = UNRESOLVED.with(|u| match u.borrow_mut().as_mut() {
                    Some(found) => {
                        if !found.contains(&e) {
                            found.push(e.clone());
                        }
                        true
                    }
                    None => false,
                });
                if !placeholder {
                    return Err(e);
                }
                out.push_str("unresolved");
            }
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(reference: &str) -> Result<String, String> {
    if let Some(name) = reference.strip_prefix("env:") {
        return std::env::var(name).map_err(|_| format!("environment variable {name} is not set"));
    }
    if let Some(path) = reference.strip_prefix("file:") {
        let mut s = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read secret file {path}: {e}"))?;
        if s.ends_with('\n') {
            s.pop();
            if s.ends_with('\r') {
                s.pop();
            }
        }
        return Ok(s);
    }
    Err(format!(
        "${{{reference}}}: expected ${{env:NAME}} or ${{file:PATH}}"
    ))
}

/// The text with everything but its references hidden (for error messages).
fn redact(text: &str) -> String {
    if text.contains("${") {
        text.chars().take(40).collect()
    } else {
        "<value>".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_stand_in_for_unresolved_references_only_when_asked() {
        let text = "Token ${env:SCIMGATE_TEST_SECRET_SURELY_UNSET}";
        assert!(expand(text).is_err());
        let (out, unresolved) = with_placeholders(|| (expand(text), expand(text)));
        assert_eq!(out.0.unwrap(), "Token unresolved");
        assert_eq!(
            unresolved,
            ["environment variable SCIMGATE_TEST_SECRET_SURELY_UNSET is not set"]
        );
        // Outside the closure, the reference fails again.
        assert!(expand(text).is_err());
    }

    #[test]
    fn expands_env_and_keeps_plain_text() {
        std::env::set_var("SCIMGATE_TEST_SECRET_A", "s3cret");
        assert_eq!(
            expand("Token ${env:SCIMGATE_TEST_SECRET_A}").unwrap(),
            "Token s3cret"
        );
        assert_eq!(expand("plain").unwrap(), "plain");
        assert_eq!(expand("a$$b").unwrap(), "a$b");
    }

    #[test]
    fn expands_files_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "abc\n").unwrap();
        assert_eq!(
            expand(&format!("${{file:{}}}", p.display())).unwrap(),
            "abc"
        );
    }

    #[test]
    fn missing_reference_names_it_without_values() {
        let e = expand("Token ${env:SCIMGATE_TEST_SURELY_UNSET}").unwrap_err();
        assert!(e.contains("SCIMGATE_TEST_SURELY_UNSET"), "{e}");
        assert!(expand("${nope:x}").is_err());
        assert!(expand("${env:X").is_err());
    }
}
