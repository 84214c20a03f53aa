//! `preset: dbt-docs`: what a dbt docs site may expose, and what its upstream needs.
//!
//! `dbt docs serve` serves the whole `target/` directory: compiled and run SQL,
//! `run_results.json`, `partial_parse.msgpack` (which can hold secrets). The docs UI
//! itself only ever fetches four files, so the preset refuses everything else, to
//! everyone, before any rule of the route is read: a widened allow rule can never
//! open the rest. The check is on the path relative to the route (after
//! `strip_prefix`), exact and case-sensitive (the UI asks for these spellings only);
//! the query (the UI's `?cb=...`) is never part of it.
//!
//! The preset also gives the route what such an upstream needs unless the file says
//! otherwise: no kept-alive connections, a small concurrency bound, compression.

use std::sync::Arc;

use http::Method;

use super::model::RuleRef;
use super::pattern::PathPattern;

/// The rule a preset refusal reports.
pub const PATHS_RULE: &str = "preset:dbt-docs-paths";

/// The only paths (relative to the route) the docs UI needs.
pub const UI_PATHS: [&str; 4] = ["/", "/index.html", "/manifest.json", "/catalog.json"];

/// Default `max_concurrency` for a docs route (`dbt docs serve` answers one at a time).
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;

/// The compiled allow-list of a `preset: dbt-docs` route.
#[derive(Debug)]
pub struct DocsPaths {
    /// What a refusal reports (located at the route's `preset` key).
    pub by: RuleRef,
}

impl DocsPaths {
    pub fn new(route: Arc<str>, location: Arc<str>) -> Self {
        DocsPaths {
            by: RuleRef {
                route,
                rule: Arc::from(PATHS_RULE),
                location,
            },
        }
    }

    /// Whether the preset refuses this request to everyone: a method other than GET
    /// or HEAD, or a path (`relative` to the route, see
    /// [`super::route::relative_path`]; `None`: outside the route's prefix) other than
    /// the UI's four.
    pub fn refuses(&self, method: &Method, relative: Option<&str>) -> bool {
        if *method != Method::GET && *method != Method::HEAD {
            return true;
        }
        relative.is_none_or(|path| !UI_PATHS.contains(&path))
    }
}

/// A docs route must take a whole subtree and strip what it matched on: `match.path`
/// is `/**` without `strip_prefix`, or `<prefix>/**` with `strip_prefix: <prefix>`
/// (else the UI's relative fetches would not land on the four files).
pub fn check_shape(path: &PathPattern, strip_prefix: Option<&str>) -> Result<(), String> {
    let expected = format!("{}/**", strip_prefix.unwrap_or(""));
    if path.as_str() == expected {
        return Ok(());
    }
    Err(match strip_prefix {
        Some(prefix) => format!(
            "preset dbt-docs: match.path must be `{prefix}/**` with strip_prefix `{prefix}` (is `{}`)",
            path.as_str()
        ),
        None => format!(
            "preset dbt-docs: match.path `{}` needs a strip_prefix (e.g. `/finance/**` with `strip_prefix: /finance`), or use `/**`",
            path.as_str()
        ),
    })
}

/// Where a request for the bare prefix (`/finance`) should go instead (`/finance/`),
/// so the UI's relative fetches resolve under the prefix. `forward` is the
/// normalised path in its forwarded form, `matching` in its matching form.
pub fn slash_redirect(
    strip_prefix: Option<&str>,
    matching: &str,
    forward: &str,
    query: Option<&str>,
) -> Option<String> {
    if strip_prefix? != matching {
        return None;
    }
    Some(match query {
        Some(q) => format!("{forward}/?{q}"),
        None => format!("{forward}/"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::route::relative_path;
    use super::*;

    /// The preset's allow-list and the route's `strip_prefix`.
    type Docs = (DocsPaths, Option<&'static str>);

    fn docs(prefix: Option<&'static str>) -> Docs {
        (DocsPaths::new("docs".into(), "f:1".into()), prefix)
    }

    fn refuses((paths, prefix): &Docs, method: &Method, path: &str) -> bool {
        paths.refuses(method, relative_path(*prefix, path))
    }

    #[test]
    fn only_the_four_ui_files_by_get_or_head() {
        let p = docs(None);
        for path in UI_PATHS {
            assert!(!refuses(&p, &Method::GET, path), "{path}");
            assert!(!refuses(&p, &Method::HEAD, path), "{path}");
            assert!(refuses(&p, &Method::POST, path), "{path}");
            assert!(refuses(&p, &Method::OPTIONS, path), "{path}");
        }
        for path in [
            "/run_results.json",
            "/partial_parse.msgpack",
            "/graph.gpickle",
            "/compiled/shop/models/a.sql",
            "/run/shop/models/a.sql",
            "/Index.html",
            "/MANIFEST.JSON",
            "/index.html/",
            "/manifest.json/x",
            "/catalog.json.bak",
            "/x/manifest.json",
            "",
        ] {
            assert!(refuses(&p, &Method::GET, path), "{path}");
        }
    }

    #[test]
    fn paths_are_relative_to_the_stripped_prefix() {
        let p = docs(Some("/finance"));
        for path in [
            "/finance",
            "/finance/",
            "/finance/index.html",
            "/finance/manifest.json",
            "/finance/catalog.json",
        ] {
            assert!(!refuses(&p, &Method::GET, path), "{path}");
        }
        for path in [
            "/manifest.json",
            "/financex/manifest.json",
            "/finance/run_results.json",
            "/finance/compiled/a.sql",
            "/Finance/manifest.json",
            "/finance/finance/manifest.json",
        ] {
            assert!(refuses(&p, &Method::GET, path), "{path}");
        }
    }

    #[test]
    fn routes_must_take_a_stripped_subtree() {
        let pat = |s: &str| PathPattern::parse(s, false).unwrap();
        assert!(check_shape(&pat("/**"), None).is_ok());
        assert!(check_shape(&pat("/finance/**"), Some("/finance")).is_ok());
        assert!(check_shape(&pat("/a/b/**"), Some("/a/b")).is_ok());
        let err = check_shape(&pat("/finance/**"), None).unwrap_err();
        assert!(err.contains("strip_prefix"), "{err}");
        assert!(check_shape(&pat("/a/b/**"), Some("/a")).is_err());
        assert!(check_shape(&pat("/index.html"), None).is_err());
        assert!(check_shape(&pat("/{project}/**"), None).is_err());
    }

    #[test]
    fn the_bare_prefix_redirects_to_its_directory() {
        let r = |m, f, q| slash_redirect(Some("/finance"), m, f, q);
        assert_eq!(
            r("/finance", "/finance", None).as_deref(),
            Some("/finance/")
        );
        assert_eq!(
            r("/finance", "/finance", Some("cb=1")).as_deref(),
            Some("/finance/?cb=1")
        );
        assert_eq!(r("/finance/", "/finance/", None), None);
        assert_eq!(r("/finance/index.html", "/finance/index.html", None), None);
        assert_eq!(slash_redirect(None, "/", "/", None), None);
        assert_eq!(
            slash_redirect(Some("/fin ance"), "/fin ance", "/fin%20ance", None).as_deref(),
            Some("/fin%20ance/")
        );
    }
}
