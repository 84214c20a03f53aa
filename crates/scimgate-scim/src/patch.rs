//! SCIM PATCH (RFC 7644 §3.5.2): parsing of PatchOp request bodies and
//! atomic application to a stored User body, or to a Group body plus a
//! [`MemberDelta`] describing membership changes as set operations.

mod apply;
mod group;
mod ops;
#[cfg(test)]
mod tests_group;
#[cfg(test)]
mod tests_user;

use serde_json::{Map, Value};
use thiserror::Error;

use super::path::{parse_path, PatchPath, PathError};
use super::schema::{get_ci, normalize_patched, ResourceKind, SchemaError};
use super::scim_type::ScimType;

pub use super::schema::{MemberKind, MemberRef};

/// URN that a PATCH body's `schemas` must list.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Why a PATCH request was rejected. Details name the operation index (as
/// `Operations[i]`, from 0) and its path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatchError {
    #[error("the PATCH body must be a JSON object")]
    NotAnObject,
    #[error(
        "the PATCH body's `schemas` must list `urn:ietf:params:scim:api:messages:2.0:PatchOp`"
    )]
    BadSchemas,
    #[error("the PATCH body needs a non-empty `Operations` array")]
    NoOperations,
    #[error("Operations[{index}]: {detail}")]
    Syntax { index: usize, detail: String },
    #[error("Operations[{index}]: invalid path `{path}`: {source}")]
    Path {
        index: usize,
        path: String,
        source: PathError,
    },
    #[error("Operations[{index}] ({op} `{path}`): {detail}")]
    Op {
        index: usize,
        op: &'static str,
        path: String,
        scim_type: ScimType,
        detail: String,
    },
    #[error("the patched resource is invalid: {0}")]
    Invalid(SchemaError),
}

impl PatchError {
    /// The `scimType` to report.
    pub fn scim_type(&self) -> ScimType {
        match self {
            PatchError::NotAnObject
            | PatchError::BadSchemas
            | PatchError::NoOperations
            | PatchError::Syntax { .. } => ScimType::InvalidSyntax,
            PatchError::Path { source, .. } => source.scim_type(),
            PatchError::Op { scim_type, .. } => *scim_type,
            PatchError::Invalid(e) => e.scim_type(),
        }
    }
}

/// The operation keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

impl OpKind {
    /// Lower-case keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    /// The path as sent, for error details.
    pub raw_path: Option<String>,
    /// `value`; always present for add and replace.
    pub value: Option<Value>,
}

/// A parsed PATCH request body.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOp>,
}

fn syntax(index: usize, detail: impl Into<String>) -> PatchError {
    PatchError::Syntax {
        index,
        detail: detail.into(),
    }
}

impl PatchRequest {
    /// Parses a PATCH body: `schemas` must list the PatchOp URN;
    /// `Operations` (key matched case-insensitively) must be a non-empty
    /// array; `op` is case-insensitive (`add`/`Add`/`ADD`…); `value` is
    /// required for add and replace; `path` is required for remove
    /// (`noTarget` otherwise). An empty `path` string counts as absent.
    pub fn from_json(body: Value) -> Result<PatchRequest, PatchError> {
        let Value::Object(map) = body else {
            return Err(PatchError::NotAnObject);
        };
        let schemas_ok = get_ci(&map, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter().any(|s| {
                    s.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
                })
            });
        if !schemas_ok {
            return Err(PatchError::BadSchemas);
        }
        let ops = match get_ci(&map, "Operations") {
            Some(Value::Array(ops)) if !ops.is_empty() => ops,
            _ => return Err(PatchError::NoOperations),
        };
        let mut operations = Vec::with_capacity(ops.len());
        for (index, raw) in ops.iter().enumerate() {
            operations.push(parse_op(index, raw)?);
        }
        Ok(PatchRequest { operations })
    }
}

fn parse_op(index: usize, raw: &Value) -> Result<PatchOp, PatchError> {
    let Value::Object(m) = raw else {
        return Err(syntax(index, "an operation must be a JSON object"));
    };
    let op = match get_ci(m, "op") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(Value::String(s)) => {
            return Err(syntax(
                index,
                format!("unknown op `{s}` (expected add, replace or remove)"),
            ))
        }
        Some(_) => return Err(syntax(index, "`op` must be a string")),
        None => return Err(syntax(index, "missing `op`")),
    };
    let (path, raw_path) = match get_ci(m, "path") {
        None | Some(Value::Null) => (None, None),
        Some(Value::String(s)) if s.trim().is_empty() => (None, None),
        Some(Value::String(s)) => {
            let p = parse_path(s).map_err(|source| PatchError::Path {
                index,
                path: s.clone(),
                source,
            })?;
            (Some(p), Some(s.clone()))
        }
        Some(_) => return Err(syntax(index, "`path` must be a string")),
    };
    let value = match get_ci(m, "value") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.clone()),
    };
    match op {
        OpKind::Add | OpKind::Replace if value.is_none() => {
            return Err(syntax(
                index,
                format!("`{}` requires a `value`", op.as_str()),
            ))
        }
        OpKind::Remove if path.is_none() => {
            return Err(PatchError::Op {
                index,
                op: op.as_str(),
                path: String::new(),
                scim_type: ScimType::NoTarget,
                detail: "`remove` requires a `path`".to_string(),
            })
        }
        _ => {}
    }
    Ok(PatchOp {
        op,
        path,
        raw_path,
        value,
    })
}

/// How a PATCH changed a group's member set, relative to its prior contents
/// (which are never loaded): the new set is
/// `(replace_all ? {} : prior) - remove + add`. `add` and `remove` are
/// disjoint and de-duplicated; later operations override earlier ones for
/// the same id. With `replace_all`, `remove` is always empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberDelta {
    pub replace_all: bool,
    pub add: Vec<MemberRef>,
    pub remove: Vec<String>,
}

impl MemberDelta {
    /// Whether the PATCH left membership untouched.
    pub fn is_empty(&self) -> bool {
        !self.replace_all && self.add.is_empty() && self.remove.is_empty()
    }

    /// Records the addition of a member (cancels an earlier removal).
    pub fn add_member(&mut self, m: MemberRef) {
        self.remove.retain(|r| *r != m.value);
        match self.add.iter_mut().find(|a| a.value == m.value) {
            Some(existing) => {
                if m.kind.is_some() {
                    existing.kind = m.kind;
                }
            }
            None => self.add.push(m),
        }
    }

    /// Records the removal of a member (cancels an earlier addition).
    pub fn remove_member(&mut self, id: &str) {
        self.add.retain(|a| a.value != id);
        if !self.replace_all && !self.remove.iter().any(|r| r == id) {
            self.remove.push(id.to_string());
        }
    }

    /// Records the removal of every member.
    pub fn remove_all(&mut self) {
        self.replace_all = true;
        self.add.clear();
        self.remove.clear();
    }

    /// Records the replacement of the whole member set.
    pub fn replace_with(&mut self, members: Vec<MemberRef>) {
        self.remove_all();
        for m in members {
            self.add_member(m);
        }
    }

    /// The resulting member ids given the prior ones (prior order kept,
    /// additions appended). Meant for tests and small in-memory stores.
    pub fn apply_to(&self, prior: &[String]) -> Vec<String> {
        let mut out: Vec<String> = if self.replace_all {
            Vec::new()
        } else {
            prior
                .iter()
                .filter(|p| !self.remove.contains(p))
                .cloned()
                .collect()
        };
        for a in &self.add {
            if !out.contains(&a.value) {
                out.push(a.value.clone());
            }
        }
        out
    }
}

/// Applies `req` to a stored, normalized User body (core attributes at the
/// top level, extensions under their URN keys, no `meta`/`groups`).
///
/// Atomic: the body is replaced only if every operation succeeds and the
/// result still passes `normalize_resource`. If the body carries `id` (and
/// `meta`), they are kept as they are, and a path-less value trying to set
/// a different `id` fails with `mutability`; without `id` in the body such a
/// key is ignored.
pub fn apply_user_patch(resource: &mut Value, req: &PatchRequest) -> Result<(), PatchError> {
    apply_resource(ResourceKind::User, resource, None, req)
}

/// Applies `req` to a stored Group body (without `members`), recording
/// membership changes in `members` (see [`MemberDelta`]). Atomic for both
/// the body and the delta. Member value filters support only
/// `value eq "id"` joined with `or`, and only in `remove`.
pub fn apply_group_patch(
    resource: &mut Value,
    members: &mut MemberDelta,
    req: &PatchRequest,
) -> Result<(), PatchError> {
    let mut delta = members.clone();
    apply_resource(ResourceKind::Group, resource, Some(&mut delta), req)?;
    *members = delta;
    Ok(())
}

fn apply_resource(
    kind: ResourceKind,
    resource: &mut Value,
    mut delta: Option<&mut MemberDelta>,
    req: &PatchRequest,
) -> Result<(), PatchError> {
    let Value::Object(original) = &*resource else {
        return Err(PatchError::Invalid(SchemaError::NotAnObject));
    };
    let mut work: Map<String, Value> = original.clone();
    let id = work.remove("id");
    let meta = work.remove("meta");
    let id_str = id.as_ref().and_then(Value::as_str);
    for (index, op) in req.operations.iter().enumerate() {
        apply::apply_op(kind, &mut work, delta.as_deref_mut(), index, op, id_str)?;
    }
    let normalized =
        normalize_patched(kind, Value::Object(work), original).map_err(PatchError::Invalid)?;
    let Value::Object(mut out) = normalized else {
        return Err(PatchError::Invalid(SchemaError::NotAnObject));
    };
    if let Some(id) = id {
        out.insert("id".to_string(), id);
    }
    if let Some(meta) = meta {
        out.insert("meta".to_string(), meta);
    }
    *resource = Value::Object(out);
    Ok(())
}
