//! The layers of the crate stay one-way: the top-level modules of `src/` import each
//! other without a cycle, and `ARCHITECTURE.md` (the module map) names every one of
//! them. What counts as an import, and which files are test-only, is in [`scan`].
//!
//! When the first test fails, its message names each group of modules that depend on
//! each other, one cycle through the group with a `file:line` per import, and every
//! import inside the group: move the shared piece down a layer (see ARCHITECTURE.md,
//! "Layers") or invert the call (a trait the lower layer names, implemented above).

mod scan;

use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn top_level_modules_import_one_way() {
    let graph = scan::scan(&repo().join("src")).unwrap();
    assert!(
        graph.modules.contains("store") && graph.modules.contains("server"),
        "lib.rs was not read: {:?}",
        graph.modules
    );
    if let Some(report) = graph.report() {
        panic!("the top-level modules of src/ are not layered one way:\n{report}");
    }
}

#[test]
fn architecture_md_names_every_top_level_module() {
    let graph = scan::scan(&repo().join("src")).unwrap();
    let map = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let missing: Vec<&String> = graph
        .modules
        .iter()
        .filter(|m| !map.contains(&format!("`{m}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md does not name these top-level modules (as `name`): {missing:?}"
    );
}

/// A crate of `files` (paths under `src/`) in a temporary directory, scanned.
fn scan_crate(files: &[(&str, &str)]) -> scan::Graph {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    for (path, text) in files {
        let path = src.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    scan::scan(&src).unwrap()
}

fn edge_sites(graph: &scan::Graph, from: &str, to: &str) -> Vec<String> {
    graph
        .edges
        .get(&(from.to_owned(), to.to_owned()))
        .map(|sites| {
            sites
                .iter()
                .map(|s| format!("{}:{}", s.file, s.line))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_cycle_is_found_through_groups_nested_files_and_super_paths() {
    let graph = scan_crate(&[
        ("lib.rs", "//! x\npub mod a;\npub mod b;\n#[doc(hidden)]\npub mod c;\n"),
        // A group over several lines, one item of it a nested group.
        (
            "a.rs",
            "use std::sync::Arc;\nuse crate::{\n    b::{self, Thing},\n    c,\n};\n",
        ),
        ("b/mod.rs", "pub mod inner;\n"),
        // Two levels deep, `super::super` is the crate root.
        (
            "b/inner.rs",
            "pub fn f() {\n    let _ = super::super::c::X;\n    let _ = super::g();\n}\n",
        ),
        // Comments, documentation and literals are not imports.
        (
            "c.rs",
            "/// See [`crate::b`].\n/* crate::b::X */\nconst S: &str = \"crate::b\";\nconst R: &str = r#\"crate::b\"#;\nconst Q: char = '\"';\npub fn g<'a>(x: &'a str) -> &'a str {\n    crate::a::h(x)\n}\n",
        ),
    ]);
    assert_eq!(edge_sites(&graph, "a", "b"), ["a.rs:2"]);
    assert_eq!(edge_sites(&graph, "a", "c"), ["a.rs:2"]);
    assert_eq!(edge_sites(&graph, "b", "c"), ["b/inner.rs:2"]);
    assert_eq!(edge_sites(&graph, "c", "a"), ["c.rs:7"]);
    assert_eq!(graph.edges.len(), 4, "{:?}", graph.edges);
    assert_eq!(graph.cycles(), [["a", "b", "c"]]);
    let report = graph.report().unwrap();
    assert!(
        report.contains("a cycle: a -> c (a.rs:2) -> a (c.rs:7)"),
        "{report}"
    );
    assert!(report.contains("b -> c: b/inner.rs:2"), "{report}");
}

#[test]
fn test_only_files_are_left_out_and_inline_test_modules_counted() {
    let lib = ("lib.rs", "pub mod a;\npub mod b;\n");
    let b = ("b.rs", "pub use crate::a::f;\n");
    let test_files = [
        (
            "a.rs",
            "#[cfg(test)]\nmod tests;\n#[cfg(test)]\npub(crate) mod testing;\npub fn f() {}\n",
        ),
        ("a/tests.rs", "use crate::b::G;\n"),
        ("a/testing.rs", "pub use crate::b::G;\nmod deeper;\n"),
        ("a/testing/deeper.rs", "use crate::b::G;\n"),
    ];
    let graph = scan_crate(&[
        lib,
        b,
        test_files[0],
        test_files[1],
        test_files[2],
        test_files[3],
    ]);
    assert_eq!(edge_sites(&graph, "b", "a"), ["b.rs:1"]);
    assert!(edge_sites(&graph, "a", "b").is_empty(), "{:?}", graph.edges);
    assert!(graph.report().is_none());

    let inline = (
        "a.rs",
        "pub fn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::b::G;\n}\n",
    );
    let graph = scan_crate(&[lib, b, inline]);
    assert_eq!(edge_sites(&graph, "a", "b"), ["a.rs:4"]);
    assert_eq!(graph.cycles(), [["a", "b"]]);
}

#[test]
fn a_file_reached_only_through_an_inline_module_is_read() {
    let graph = scan_crate(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a.rs", "pub mod outer {\n    pub mod leaf;\n}\n"),
        // Three modules deep (a::outer::leaf): three `super`s reach the root.
        ("a/outer/leaf.rs", "use super::super::super::b::X;\n"),
        ("b.rs", "pub struct X;\n"),
    ]);
    assert_eq!(edge_sites(&graph, "a", "b"), ["a/outer/leaf.rs:1"]);
}
