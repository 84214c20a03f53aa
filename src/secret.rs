//! Secret references in configuration and policy files: `${env:NAME}` and `${file:PATH}`.
//!
//! A value such as `Token ${env:DBT_SERVICE_TOKEN}` is expanded once, when the file is
//! loaded; a reference that cannot be resolved is an error naming the reference (never
//! its value). Text outside `${...}` is kept as written; `$$` stands for one `$`.

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
        out.push_str(&resolve(reference)?);
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
