//! Reads the crate's sources and finds which top-level module imports which.
//!
//! An edge `a -> b` is any path into `b` written in a file of `a`: `crate::b::…`,
//! `$crate::b::…`, every item of a `crate::{…}` group (over several lines, nested
//! groups included), and `super::…::b` climbing out to the crate root. Comments
//! (documentation included) and string and character literals are blanked first, so a
//! doc link or a message never counts.
//!
//! The files of a top-level module are the ones the compiler reads: its root file and,
//! recursively, the files its `mod name;` declarations name. A file declared under
//! `#[cfg(test)]` (a `tests.rs`, a `testing.rs` helper) and everything below it is
//! test-only and not counted: a test may reach up the layers (a store test checks the
//! chain with the audit verifier) without the library depending on it. Everything
//! else is counted, inline `#[cfg(test)] mod tests { … }` blocks included.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where an edge was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    /// Relative to the directory scanned (`src`).
    pub file: String,
    pub line: usize,
}

/// Which top-level module uses which, with every place each edge was seen.
#[derive(Debug, Default)]
pub struct Graph {
    /// The top-level modules, as `lib.rs` declares them.
    pub modules: BTreeSet<String>,
    pub edges: BTreeMap<(String, String), Vec<Site>>,
}

impl Graph {
    fn targets<'a>(&'a self, from: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.edges
            .keys()
            .filter(move |(a, _)| a == from)
            .map(|(_, b)| b.as_str())
    }

    /// The groups of modules that depend on each other (strongly connected
    /// components of more than one module), each sorted, in a stable order.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let reach = |from: &str| {
            let mut seen = BTreeSet::new();
            let mut todo = vec![from.to_owned()];
            while let Some(m) = todo.pop() {
                for t in self.targets(&m) {
                    if seen.insert(t.to_owned()) {
                        todo.push(t.to_owned());
                    }
                }
            }
            seen
        };
        let reaches: BTreeMap<&str, BTreeSet<String>> = self
            .modules
            .iter()
            .map(|m| (m.as_str(), reach(m)))
            .collect();
        let mut done = BTreeSet::new();
        let mut out = Vec::new();
        for m in &self.modules {
            if done.contains(m) || !reaches[m.as_str()].contains(m) {
                continue;
            }
            let group: Vec<String> = reaches[m.as_str()]
                .iter()
                .filter(|o| reaches[o.as_str()].contains(m))
                .cloned()
                .collect();
            done.extend(group.iter().cloned());
            out.push(group);
        }
        out
    }

    /// One shortest cycle through `start` inside `group` (first module repeated last).
    fn cycle_through(&self, start: &str, group: &[String]) -> Vec<String> {
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = VecDeque::from([start.to_owned()]);
        while let Some(m) = queue.pop_front() {
            for t in self.targets(&m) {
                if !group.iter().any(|g| g == t) {
                    continue;
                }
                if t == start {
                    let mut path = vec![start.to_owned(), m.clone()];
                    let mut at = m.clone();
                    while let Some(p) = prev.get(&at) {
                        path.push(p.clone());
                        at = p.clone();
                    }
                    path.reverse();
                    return path;
                }
                if !prev.contains_key(t) && t != start {
                    prev.insert(t.to_owned(), m.clone());
                    queue.push_back(t.to_owned());
                }
            }
        }
        vec![start.to_owned()]
    }

    /// What is wrong, in words: each group of modules in a cycle, one cycle through it
    /// with the first file:line of each edge, and every edge inside the group.
    pub fn report(&self) -> Option<String> {
        let cycles = self.cycles();
        if cycles.is_empty() {
            return None;
        }
        let mut out = String::new();
        for group in cycles {
            let _ = writeln!(
                out,
                "{} top-level modules depend on each other: {}",
                group.len(),
                group.join(", ")
            );
            let cycle = self.cycle_through(&group[0], &group);
            let _ = write!(out, "  a cycle: {}", cycle[0]);
            for pair in cycle.windows(2) {
                let site = &self.edges[&(pair[0].clone(), pair[1].clone())][0];
                let _ = write!(out, " -> {} ({}:{})", pair[1], site.file, site.line);
            }
            let _ = writeln!(out, "\n  every import inside the group (first place seen):");
            for ((a, b), sites) in &self.edges {
                if group.contains(a) && group.contains(b) {
                    let s = &sites[0];
                    let more = sites.len() - 1;
                    let _ = writeln!(
                        out,
                        "    {a} -> {b}: {}:{}{}",
                        s.file,
                        s.line,
                        if more > 0 {
                            format!(" (and {more} more)")
                        } else {
                            String::new()
                        }
                    );
                }
            }
        }
        Some(out)
    }
}

/// Reads the crate rooted at `src/lib.rs` under `src`.
pub fn scan(src: &Path) -> std::io::Result<Graph> {
    let lib = Source::read(src, &src.join("lib.rs"))?;
    let mut graph = Graph::default();
    let tops: Vec<Declared> = lib.declared_modules();
    graph.modules = tops.iter().map(|d| d.name.clone()).collect();
    for top in tops {
        let Some(root) = module_file(src, &top.name) else {
            continue;
        };
        let mut todo = vec![(root, src.join(&top.name), 1usize)];
        while let Some((file, dir, depth)) = todo.pop() {
            let source = Source::read(src, &file)?;
            for used in source.uses(depth) {
                if used.module != top.name && graph.modules.contains(&used.module) {
                    graph
                        .edges
                        .entry((top.name.clone(), used.module))
                        .or_default()
                        .push(Site {
                            file: source.name.clone(),
                            line: used.line,
                        });
                }
            }
            for child in source.declared_modules() {
                if child.test_only {
                    continue;
                }
                let dir = child.inline.iter().fold(dir.clone(), |d, m| d.join(m));
                if let Some(f) = module_file(&dir, &child.name) {
                    let depth = depth + child.inline.len() + 1;
                    todo.push((f, dir.join(&child.name), depth));
                }
            }
        }
    }
    for sites in graph.edges.values_mut() {
        sites.sort();
    }
    Ok(graph)
}

/// `dir/name.rs` or `dir/name/mod.rs`.
fn module_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [
        dir.join(format!("{name}.rs")),
        dir.join(name).join("mod.rs"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// A `mod name;` declaration.
#[derive(Debug)]
struct Declared {
    name: String,
    /// Under `#[cfg(test)]`.
    test_only: bool,
    /// The inline modules (`mod a { … }`) it sits in, outermost first.
    inline: Vec<String>,
}

/// A path into another top-level module.
#[derive(Debug)]
struct Used {
    module: String,
    line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Punct(char),
}

/// One source file, as tokens (comments and literals gone).
struct Source {
    name: String,
    toks: Vec<(Tok, usize)>,
}

impl Source {
    fn read(src: &Path, file: &Path) -> std::io::Result<Source> {
        let text = std::fs::read_to_string(file)?;
        let name = file
            .strip_prefix(src)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        Ok(Source {
            name,
            toks: tokens(&blank(&text)),
        })
    }

    fn ident(&self, i: usize) -> Option<&str> {
        match self.toks.get(i) {
            Some((Tok::Ident(s), _)) => Some(s),
            _ => None,
        }
    }

    fn punct(&self, i: usize, c: char) -> bool {
        matches!(self.toks.get(i), Some((Tok::Punct(p), _)) if *p == c)
    }

    /// Whether tokens `i`, `i + 1` are `::`.
    fn path_sep(&self, i: usize) -> bool {
        self.punct(i, ':') && self.punct(i + 1, ':')
    }

    /// For each token, the inline modules it sits in.
    fn inline_modules(&self) -> Vec<Vec<String>> {
        let mut stack: Vec<(String, usize)> = Vec::new();
        let mut depth = 0usize;
        let mut out = Vec::with_capacity(self.toks.len());
        for i in 0..self.toks.len() {
            out.push(stack.iter().map(|(n, _)| n.clone()).collect());
            if self.punct(i, '{') {
                depth += 1;
                if self.ident(i.wrapping_sub(2)) == Some("mod") {
                    if let Some(name) = self.ident(i - 1) {
                        stack.push((name.to_owned(), depth));
                    }
                }
            } else if self.punct(i, '}') {
                if stack.last().is_some_and(|(_, d)| *d == depth) {
                    stack.pop();
                }
                depth = depth.saturating_sub(1);
            }
        }
        out
    }

    /// The `mod name;` declarations.
    fn declared_modules(&self) -> Vec<Declared> {
        let mut out = Vec::new();
        for (i, inside) in self.inline_modules().into_iter().enumerate() {
            if self.ident(i) != Some("mod") || !self.punct(i + 2, ';') {
                continue;
            }
            let Some(name) = self.ident(i + 1) else {
                continue;
            };
            out.push(Declared {
                name: name.to_owned(),
                test_only: self.attributes_before(i).iter().any(|a| a == "cfg(test)"),
                inline: inside,
            });
        }
        out
    }

    /// The attributes on the item whose keyword is token `i` (after any visibility),
    /// each as its tokens joined, e.g. `cfg(test)`.
    fn attributes_before(&self, i: usize) -> Vec<String> {
        let mut j = i;
        // Visibility: `pub`, `pub(crate)`, `pub(in path)`.
        if j > 0 && self.punct(j - 1, ')') {
            while j > 0 && !self.punct(j - 1, '(') {
                j -= 1;
            }
            j = j.saturating_sub(1);
        }
        if j > 0 && self.ident(j - 1) == Some("pub") {
            j -= 1;
        }
        let mut attrs = Vec::new();
        while j >= 2 && self.punct(j - 1, ']') {
            let end = j - 1;
            let mut k = end;
            let mut depth = 0;
            loop {
                if self.punct(k, ']') {
                    depth += 1;
                } else if self.punct(k, '[') {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                if k == 0 {
                    return attrs;
                }
                k -= 1;
            }
            if k == 0 || !self.punct(k - 1, '#') {
                return attrs;
            }
            let text: String = self.toks[k + 1..end]
                .iter()
                .map(|(t, _)| match t {
                    Tok::Ident(s) => s.clone(),
                    Tok::Punct(c) => c.to_string(),
                })
                .collect();
            attrs.push(text);
            j = k - 1;
        }
        attrs
    }

    /// Every path into a top-level module other than through `self`; `depth` is how
    /// many modules deep the file is (1 for a top-level module's root file).
    fn uses(&self, depth: usize) -> Vec<Used> {
        let mut out = Vec::new();
        for (i, inside) in self.inline_modules().iter().enumerate() {
            let line = self.toks[i].1;
            match self.ident(i) {
                Some("crate") if self.path_sep(i + 1) && !self.after_path_sep(i) => {
                    if self.punct(i + 3, '{') {
                        for module in self.group_heads(i + 3) {
                            out.push(Used { module, line });
                        }
                    } else if let Some(m) = self.ident(i + 3) {
                        out.push(Used {
                            module: m.to_owned(),
                            line,
                        });
                    }
                }
                Some("super") if !self.after_path_sep(i) => {
                    let mut ups = 0;
                    let mut k = i;
                    while self.ident(k) == Some("super") && self.path_sep(k + 1) {
                        ups += 1;
                        k += 3;
                    }
                    if ups == depth + inside.len() {
                        if self.punct(k, '{') {
                            for module in self.group_heads(k) {
                                out.push(Used { module, line });
                            }
                        } else if let Some(m) = self.ident(k) {
                            out.push(Used {
                                module: m.to_owned(),
                                line,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Whether token `i` continues a path (`…::here`).
    fn after_path_sep(&self, i: usize) -> bool {
        i >= 2 && self.path_sep(i - 2)
    }

    /// The first segment of each item of the `{ … }` group opening at token `open`.
    fn group_heads(&self, open: usize) -> Vec<String> {
        let mut heads = Vec::new();
        let mut depth = 0;
        let mut expect_head = true;
        for i in open..self.toks.len() {
            if self.punct(i, '{') {
                depth += 1;
                continue;
            }
            if self.punct(i, '}') {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                continue;
            }
            if depth == 1 {
                if self.punct(i, ',') {
                    expect_head = true;
                } else if expect_head {
                    if let Some(id) = self.ident(i) {
                        heads.push(id.to_owned());
                    }
                    expect_head = false;
                }
            }
        }
        heads
    }
}

/// `text` with every comment and string or character literal replaced by spaces
/// (line breaks kept, so lines still count).
pub fn blank(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank_to = |out: &mut String, from: usize, to: usize| {
        for c in &chars[from..to.min(chars.len())] {
            out.push(if *c == '\n' { '\n' } else { ' ' });
        }
    };
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            let end = chars[i..]
                .iter()
                .position(|c| *c == '\n')
                .map_or(chars.len(), |p| i + p);
            blank_to(&mut out, i, end);
            i = end;
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            let mut j = i;
            while j < chars.len() {
                if chars[j] == '/' && chars.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if chars[j] == '*' && chars.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank_to(&mut out, i, j);
            i = j;
        } else if let Some(len) =
            raw_string_start(&chars, i).filter(|_| i == 0 || !is_ident(chars[i - 1]))
        {
            // r"…", r#"…"#, br"…": ends at a quote followed by as many hashes.
            let hashes = len - 2 - usize::from(chars[i] == 'b');
            let mut j = i + len;
            while j < chars.len() {
                if chars[j] == '"' && (1..=hashes).all(|h| chars.get(j + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            blank_to(&mut out, i, j);
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            blank_to(&mut out, i, j + 1);
            i = j + 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1}'), or else a lifetime or label.
            if next == Some('\\') {
                let mut j = i + 3;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                blank_to(&mut out, i, j + 1);
                i = j + 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                blank_to(&mut out, i, i + 3);
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The length of a raw string's opening (`r"`, `r##"`, `br#"`) at `i`, if one starts there.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some(j + 1 - i)
}

/// Identifiers (keywords included) and single punctuation characters, with their line.
fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut ident = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            ident.push(c);
            continue;
        }
        if !ident.is_empty() {
            out.push((Tok::Ident(std::mem::take(&mut ident)), line));
        }
        if c == '\n' {
            line += 1;
        } else if !c.is_whitespace() {
            out.push((Tok::Punct(c), line));
        }
    }
    if !ident.is_empty() {
        out.push((Tok::Ident(ident), line));
    }
    out
}
