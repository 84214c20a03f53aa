//! Walks the dbt platform's OpenAPI specs (vendored in `tests/data/dbt-cloud-api/`) and
//! checks the catalogue against them both ways: every operation of a spec is
//! classified, and every catalogue entry but the GraphQL endpoints is in a spec.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::catalogue::{self, Verb};

#[derive(Deserialize)]
struct Spec {
    paths: BTreeMap<String, BTreeMap<String, IgnoredAny>>,
}

/// `(VERB, path)` of every operation of a spec file.
fn operations(file: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/dbt-cloud-api")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let spec: Spec = serde_saphyr::from_str(&text).unwrap();
    let mut out = Vec::new();
    for (template, item) in spec.paths {
        for key in item.keys() {
            let verb = key.to_ascii_uppercase();
            if [
                "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
            ]
            .contains(&verb.as_str())
            {
                out.push((verb, template.clone()));
            }
        }
    }
    out
}

#[test]
fn every_spec_operation_is_classified_and_every_entry_is_in_a_spec() {
    let mut from_specs = operations("v2.yaml");
    from_specs.extend(operations("v3.yaml"));
    assert!(from_specs.len() > 200, "{} operations", from_specs.len());
    let entries: Vec<(String, String)> = catalogue::ADMIN_V2
        .iter()
        .chain(catalogue::ADMIN_V3)
        .map(|op| (op.verb.name().to_owned(), op.path.to_owned()))
        .collect();
    let unclassified: Vec<String> = from_specs
        .iter()
        .filter(|op| !entries.contains(op))
        .map(|(v, p)| format!("{v} {p}"))
        .collect();
    assert!(
        unclassified.is_empty(),
        "operations of the specs the catalogue does not classify:\n{}",
        unclassified.join("\n")
    );
    let unknown: Vec<String> = entries
        .iter()
        .filter(|op| !from_specs.contains(op))
        .map(|(v, p)| format!("{v} {p}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "catalogue entries no spec has:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn every_spec_operation_is_found_by_the_matcher_as_itself() {
    let mut from_specs = operations("v2.yaml");
    from_specs.extend(operations("v3.yaml"));
    for (verb, template) in from_specs {
        let verb = Verb::ALL.into_iter().find(|v| v.name() == verb).unwrap();
        // A concrete path: each `{param}` becomes a number.
        let path: String = template
            .split('/')
            .map(|s| if s.starts_with('{') { "17" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let found = super::TREE.as_ref().unwrap().find(verb, &path);
        let found = found.unwrap_or_else(|| panic!("{} {path}: not found", verb.name()));
        assert_eq!(found.op.path, template, "{} {path}", verb.name());
    }
}
