//! From a request's method and normalised path to the operation it is.
//!
//! The catalogue's templates are compiled once into a segment tree: a node has its
//! literal children (compared in turn when there are a few, else in a hash map), at
//! most one `{param}` child
//! and at most one `{remainder}` tail, and per verb the operation ending there. Matching
//! walks the path's segments, trying the literal child before the parameter child, so
//! `environment-variables/bulk/` wins over `environment-variables/{id}/`. A trailing
//! slash is optional. Where the template names them, the account and project ids are
//! read from the path (`{account_id}`; `{project_id}`, or `{id}` right after `projects`).

use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::catalogue::{Operation, Verb};

/// An operation found for a request, with the ids its path carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched<'p> {
    pub op: &'static Operation,
    pub account_id: Option<&'p str>,
    pub project_id: Option<&'p str>,
    /// The user of a user-scoped operation (`{user_id}`, or the id after `users`).
    pub user_id: Option<&'p str>,
}

#[derive(Debug, Clone, Copy)]
struct Leaf {
    op: &'static Operation,
    /// Segment positions of the account and project ids in the path.
    account_at: Option<u8>,
    project_at: Option<u8>,
    user_at: Option<u8>,
}

/// Above this many literal children a node looks them up by hash.
const LINEAR_LITERALS: usize = 4;

#[derive(Debug, Default)]
struct Node {
    literals: Vec<(&'static str, usize)>,
    /// The same, hashed, when there are more than [`LINEAR_LITERALS`].
    hashed: Option<HashMap<&'static str, usize, RandomState>>,
    /// Whether a literal child starts with a digit (ids never match one otherwise, so
    /// a numeric segment skips the hash lookup).
    digit_literal: bool,
    param: Option<usize>,
    remainder: [Option<Leaf>; Verb::ALL.len()],
    ends: [Option<Leaf>; Verb::ALL.len()],
}

/// Two catalogue entries with one verb and one path shape.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{verb} {first} and {second} are the same operation")]
pub struct DuplicateOperation {
    pub verb: &'static str,
    pub first: &'static str,
    pub second: &'static str,
}

/// The compiled tree of a catalogue.
#[derive(Debug)]
pub struct OperationTree {
    nodes: Vec<Node>,
}

impl OperationTree {
    /// Builds the tree of `ops`.
    pub fn build(
        ops: impl IntoIterator<Item = &'static Operation>,
    ) -> Result<OperationTree, DuplicateOperation> {
        let mut tree = OperationTree {
            nodes: vec![Node::default()],
        };
        for op in ops {
            tree.insert(op)?;
        }
        for node in &mut tree.nodes {
            if node.literals.len() > LINEAR_LITERALS {
                node.hashed = Some(node.literals.iter().copied().collect());
            }
        }
        Ok(tree)
    }

    fn insert(&mut self, op: &'static Operation) -> Result<(), DuplicateOperation> {
        let mut at = 0;
        let mut account_at = None;
        let mut project_at = None;
        let mut user_at = None;
        let mut previous = "";
        let segments: Vec<&'static str> = segments(op.path).collect();
        for (i, seg) in segments.iter().enumerate() {
            let position = u8::try_from(i).ok();
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if name == "account_id" {
                    account_at = position;
                }
                if name == "project_id" || (name == "id" && previous == "projects") {
                    project_at = position;
                }
                if op.own_user.is_some()
                    && (name == "user_id" || (name == "id" && previous == "users"))
                {
                    user_at = position;
                }
                if name == "remainder" && i + 1 == segments.len() {
                    let leaf = Leaf {
                        op,
                        account_at,
                        project_at,
                        user_at,
                    };
                    return place(&mut self.nodes[at].remainder[op.verb.index()], leaf);
                }
                at = match self.nodes[at].param {
                    Some(next) => next,
                    None => {
                        let next = self.push();
                        self.nodes[at].param = Some(next);
                        next
                    }
                };
            } else {
                let found = self.nodes[at].literals.iter().find(|(s, _)| s == seg);
                at = match found {
                    Some(&(_, next)) => next,
                    None => {
                        let next = self.push();
                        self.nodes[at].literals.push((seg, next));
                        self.nodes[at].digit_literal |=
                            seg.starts_with(|c: char| c.is_ascii_digit());
                        next
                    }
                };
            }
            previous = seg;
        }
        let leaf = Leaf {
            op,
            account_at,
            project_at,
            user_at,
        };
        place(&mut self.nodes[at].ends[op.verb.index()], leaf)
    }

    fn push(&mut self) -> usize {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }

    /// The operation `verb` on `path` (normalised, no query) is, if any.
    pub fn find<'p>(&self, verb: Verb, path: &'p str) -> Option<Matched<'p>> {
        let mut buf: [&str; 16] = [""; 16];
        let mut n = 0;
        for seg in segments(path) {
            *buf.get_mut(n)? = seg;
            n += 1;
        }
        let parts = &buf[..n];
        let leaf = self.walk(0, parts, 0, verb)?;
        let pick = |at: Option<u8>| at.and_then(|i| parts.get(usize::from(i)).copied());
        Some(Matched {
            op: leaf.op,
            account_id: pick(leaf.account_at),
            project_id: pick(leaf.project_at),
            user_id: pick(leaf.user_at),
        })
    }

    fn walk(&self, node: usize, parts: &[&str], depth: usize, verb: Verb) -> Option<Leaf> {
        let here = &self.nodes[node];
        let Some(seg) = parts.get(depth) else {
            return here.ends[verb.index()];
        };
        let numeric = seg.as_bytes().first().is_some_and(u8::is_ascii_digit);
        let literal = if numeric && !here.digit_literal {
            None
        } else if let Some(hashed) = &here.hashed {
            hashed.get(seg).copied()
        } else {
            here.literals
                .iter()
                .find(|(s, _)| *s == *seg)
                .map(|&(_, next)| next)
        };
        if let Some(next) = literal {
            if let Some(leaf) = self.walk(next, parts, depth + 1, verb) {
                return Some(leaf);
            }
        }
        if let Some(next) = here.param {
            if let Some(leaf) = self.walk(next, parts, depth + 1, verb) {
                return Some(leaf);
            }
        }
        here.remainder[verb.index()]
    }
}

fn place(slot: &mut Option<Leaf>, leaf: Leaf) -> Result<(), DuplicateOperation> {
    match slot {
        Some(first) => Err(DuplicateOperation {
            verb: leaf.op.verb.name(),
            first: first.op.path,
            second: leaf.op.path,
        }),
        None => {
            *slot = Some(leaf);
            Ok(())
        }
    }
}

/// The non-empty segments of a path (so a trailing slash does not count).
fn segments(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = path;
    std::iter::from_fn(move || loop {
        let trimmed = rest.trim_start_matches('/');
        if trimmed.is_empty() {
            return None;
        }
        let end = trimmed
            .bytes()
            .position(|b| b == b'/')
            .unwrap_or(trimmed.len());
        let (seg, tail) = trimmed.split_at(end);
        rest = tail;
        if !seg.is_empty() {
            return Some(seg);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::area::{Access, Area};
    use super::super::catalogue;
    use super::*;

    fn tree() -> OperationTree {
        OperationTree::build(catalogue::all()).unwrap()
    }

    #[test]
    fn the_catalogue_has_no_duplicate_operation() {
        tree();
    }

    #[test]
    fn literal_segments_win_over_parameters_and_trailing_slash_is_optional() {
        let t = tree();
        let bulk = t
            .find(
                Verb::PUT,
                "/api/v3/accounts/1/projects/2/environment-variables/bulk/",
            )
            .unwrap();
        assert!(bulk.op.path.ends_with("/bulk/"));
        let no_slash = t.find(Verb::GET, "/api/v2/accounts/1/jobs/42").unwrap();
        assert_eq!(no_slash.op.path, "/api/v2/accounts/{account_id}/jobs/{id}/");
        assert_eq!(no_slash.account_id, Some("1"));
        assert_eq!(no_slash.project_id, None);
    }

    #[test]
    fn a_method_alone_does_not_classify() {
        let t = tree();
        let edit = t.find(Verb::POST, "/api/v2/accounts/1/jobs/42/").unwrap();
        assert_eq!((edit.op.area, edit.op.access), (Area::Jobs, Access::Write));
        let trigger = t
            .find(Verb::POST, "/api/v2/accounts/1/jobs/42/run/")
            .unwrap();
        assert_eq!(
            (trigger.op.area, trigger.op.access),
            (Area::Runs, Access::Write)
        );
        let gql = t.find(Verb::POST, "/graphql").unwrap();
        assert_eq!((gql.op.area, gql.op.access), (Area::Metadata, Access::Read));
        let sl = t.find(Verb::POST, "/api/graphql/").unwrap();
        assert_eq!(
            (sl.op.area, sl.op.access),
            (Area::SemanticLayerConfig, Access::Read)
        );
    }

    #[test]
    fn project_ids_are_read_from_project_paths() {
        let t = tree();
        let env = t
            .find(
                Verb::POST,
                "/api/v3/accounts/7/projects/123/environments/9/",
            )
            .unwrap();
        assert_eq!(env.account_id, Some("7"));
        assert_eq!(env.project_id, Some("123"));
        let project = t
            .find(Verb::DELETE, "/api/v3/accounts/7/projects/456/")
            .unwrap();
        assert_eq!(project.project_id, Some("456"));
    }

    #[test]
    fn user_ids_are_read_from_user_scoped_paths_only() {
        let t = tree();
        let creds = t
            .find(Verb::GET, "/api/v3/users/42/credentials/7/")
            .unwrap();
        assert_eq!(creds.user_id, Some("42"));
        let keys = t
            .find(Verb::POST, "/api/v3/accounts/1/users/43/account-apikeys/")
            .unwrap();
        assert_eq!(keys.user_id, Some("43"));
        let v2 = t.find(Verb::GET, "/api/v2/users/44/").unwrap();
        assert_eq!(v2.user_id, Some("44"));
        let member = t.find(Verb::GET, "/api/v3/accounts/1/users/45/").unwrap();
        assert_eq!(member.user_id, None);
    }

    #[test]
    fn artifact_paths_take_the_rest_of_the_path() {
        let t = tree();
        let m = t
            .find(
                Verb::GET,
                "/api/v2/accounts/1/runs/5/artifacts/target/manifest.json",
            )
            .unwrap();
        assert_eq!((m.op.area, m.op.access), (Area::Runs, Access::Read));
    }

    #[test]
    fn unknown_operations_are_not_found() {
        let t = tree();
        assert!(t.find(Verb::PUT, "/api/v2/accounts/1/jobs/42/").is_none());
        assert!(t.find(Verb::GET, "/api/v4/accounts/").is_none());
        assert!(t.find(Verb::GET, "/").is_none());
        assert!(t
            .find(Verb::POST, "/api/v2/accounts/1/jobs/42/explode/")
            .is_none());
        let deep = "/a".repeat(40);
        assert!(t.find(Verb::GET, &deep).is_none());
    }
}
