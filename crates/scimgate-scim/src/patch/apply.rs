//! The attribute-level PATCH engine: resolves a path against the schemas
//! and performs add / replace / remove on a working copy of the resource
//! (RFC 7644 §3.5.2.1–3), coercing every written value like normalization.

use serde_json::{Map, Value};

use super::super::filter::Filter;
use super::super::path::{parse_path, PatchPath};
use super::super::schema::{
    admit_unknown_schema, is_schema_uri, key_ci, resolve_name, schema_for_urn, split_urn, AttrDef,
    AttrLocation, Mutability, ResolvedName, ResourceKind, SchemaDef, SchemaError,
};
use super::super::scim_type::ScimType;
use super::ops::{filtered_op, sub_op, whole_op};
use super::{group, MemberDelta, OpKind, PatchError, PatchOp};

/// Identifies the operation in error details.
pub(super) struct Ctx<'a> {
    pub index: usize,
    pub op: OpKind,
    pub path: &'a str,
}

impl Ctx<'_> {
    pub fn err(&self, scim_type: ScimType, detail: impl Into<String>) -> PatchError {
        PatchError::Op {
            index: self.index,
            op: self.op.as_str(),
            path: self.path.to_string(),
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn schema_err(&self, e: SchemaError) -> PatchError {
        self.err(e.scim_type(), e.to_string())
    }
}

/// A path resolved against the schemas.
enum Target<'p> {
    Extension(&'static SchemaDef),
    Attr {
        loc: AttrLocation,
        attr: &'static AttrDef,
        filter: Option<&'p Filter>,
        sub: Option<&'static AttrDef>,
    },
}

fn resolve_target(kind: ResourceKind, path: &PatchPath) -> Result<Target<'_>, String> {
    let mut name = String::new();
    if let Some(u) = &path.urn {
        name.push_str(u);
    }
    if let Some(a) = &path.attr {
        if !name.is_empty() {
            name.push(':');
        }
        name.push_str(a);
    }
    let resolved = resolve_name(kind, &name).ok_or_else(|| {
        format!(
            "`{name}` is not an attribute of the {} resource type",
            kind.name()
        )
    })?;
    let r = match resolved {
        ResolvedName::Extension(s) => return Ok(Target::Extension(s)),
        ResolvedName::Attr(r) => r,
    };
    let sub = match &path.sub {
        None => None,
        Some(s) => Some(
            r.attr
                .sub_attr(s)
                .ok_or_else(|| format!("`{}` has no sub-attribute `{s}`", r.attr.name))?,
        ),
    };
    if path.filter.is_some() && !(r.attr.is_complex() && r.attr.multi_valued) {
        return Err(format!(
            "value filters apply only to multi-valued complex attributes, not `{}`",
            r.attr.name
        ));
    }
    Ok(Target::Attr {
        loc: r.location,
        attr: r.attr,
        filter: path.filter.as_ref(),
        sub,
    })
}

/// Applies one operation to `work`.
pub(super) fn apply_op(
    kind: ResourceKind,
    work: &mut Map<String, Value>,
    mut delta: Option<&mut MemberDelta>,
    index: usize,
    op: &PatchOp,
    id: Option<&str>,
) -> Result<(), PatchError> {
    if let Some(path) = &op.path {
        let ctx = Ctx {
            index,
            op: op.op,
            path: op.raw_path.as_deref().unwrap_or(""),
        };
        let target = resolve_target(kind, path).map_err(|d| ctx.err(ScimType::InvalidPath, d))?;
        return apply_target(work, delta, &ctx, target, op.value.clone(), true);
    }
    let ctx = Ctx {
        index,
        op: op.op,
        path: "",
    };
    let Some(Value::Object(map)) = &op.value else {
        return Err(ctx.err(
            ScimType::InvalidValue,
            "without a `path`, `value` must be an object of attributes",
        ));
    };
    for (key, v) in map {
        let ctx = Ctx {
            index,
            op: op.op,
            path: key,
        };
        if key.eq_ignore_ascii_case("schemas") || key.eq_ignore_ascii_case("meta") {
            continue;
        }
        if key.eq_ignore_ascii_case("id") {
            if let Some(id) = id {
                if v.as_str() != Some(id) {
                    return Err(ctx.err(ScimType::Mutability, "`id` is readOnly"));
                }
            }
            continue;
        }
        // Keys are paths (Entra ID sends `name.givenName` and URN-qualified
        // keys); unknown attributes are ignored as in POST/PUT bodies, and
        // values under an unknown schema get what POST/PUT bodies get.
        let path = parse_path(key).ok();
        let Some(target) = path.as_ref().and_then(|p| resolve_target(kind, p).ok()) else {
            unknown_key(kind, key, v).map_err(|e| ctx.schema_err(e))?;
            continue;
        };
        apply_target(
            work,
            delta.as_deref_mut(),
            &ctx,
            target,
            Some(v.clone()),
            false,
        )?;
    }
    Ok(())
}

/// A path-less PATCH key that names nothing of `kind`: ignored, unless it is
/// qualified with a schema URI `kind` does not have ([`admit_unknown_schema`]).
fn unknown_key(kind: ResourceKind, key: &str, value: &Value) -> Result<(), SchemaError> {
    if !is_schema_uri(key) {
        return Ok(());
    }
    // An object is taken as the extension itself, a scalar as one of its attributes.
    let uri = match split_urn(key) {
        (Some(urn), _) if !value.is_object() && is_schema_uri(urn) => urn,
        _ => key,
    };
    if schema_for_urn(kind, uri).is_some() {
        return Ok(());
    }
    admit_unknown_schema(kind, uri, Some(value))
}

fn apply_target(
    work: &mut Map<String, Value>,
    delta: Option<&mut MemberDelta>,
    ctx: &Ctx<'_>,
    target: Target<'_>,
    value: Option<Value>,
    explicit: bool,
) -> Result<(), PatchError> {
    let (loc, attr, filter, sub) = match target {
        Target::Extension(schema) => return extension_op(work, ctx, schema, value),
        Target::Attr {
            loc,
            attr,
            filter,
            sub,
        } => (loc, attr, filter, sub),
    };
    if let (Some(delta), AttrLocation::Core, "members") = (delta, loc, attr.name) {
        return group::members_op(delta, ctx, filter, sub, value.as_ref());
    }
    let shown = match sub {
        Some(s) => format!("{}.{}", attr.name, s.name),
        None => attr.name.to_string(),
    };
    for def in [Some(attr), sub].into_iter().flatten() {
        match def.mutability {
            Mutability::ReadOnly if explicit => {
                return Err(ctx.err(ScimType::Mutability, format!("`{shown}` is readOnly")))
            }
            // Ignored like in PUT bodies; `password` is never stored.
            Mutability::ReadOnly | Mutability::WriteOnly => return Ok(()),
            Mutability::Immutable => {
                return Err(ctx.err(ScimType::Mutability, format!("`{shown}` is immutable")))
            }
            Mutability::ReadWrite => {}
        }
    }
    if ctx.op == OpKind::Remove && filter.is_none() {
        let required = sub.map_or(attr.required, |s| s.required);
        if required {
            return Err(ctx.err(
                ScimType::Mutability,
                format!("`{shown}` is required and cannot be removed"),
            ));
        }
    }
    let container = match container_mut(work, loc, ctx.op != OpKind::Remove) {
        Some(c) => c,
        None => return Ok(()),
    };
    let result = match (filter, sub) {
        (None, None) => whole_op(ctx, container, attr, value),
        (None, Some(sub)) => sub_op(ctx, container, attr, sub, value),
        (Some(f), _) => filtered_op(ctx, container, attr, f, sub, value),
    };
    if let AttrLocation::Extension(s) = loc {
        if let Some(k) = key_ci(work, s.id) {
            if work
                .get(&k)
                .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
            {
                work.remove(&k);
            }
        }
    }
    result
}

fn container_mut(
    work: &mut Map<String, Value>,
    loc: AttrLocation,
    create: bool,
) -> Option<&mut Map<String, Value>> {
    let schema = match loc {
        AttrLocation::Core => return Some(work),
        AttrLocation::Extension(s) => s,
    };
    let key = match key_ci(work, schema.id) {
        Some(k) => k,
        None if create => {
            work.insert(schema.id.to_string(), Value::Object(Map::new()));
            schema.id.to_string()
        }
        None => return None,
    };
    let slot = work.get_mut(&key)?;
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

fn extension_op(
    work: &mut Map<String, Value>,
    ctx: &Ctx<'_>,
    schema: &'static SchemaDef,
    value: Option<Value>,
) -> Result<(), PatchError> {
    if ctx.op == OpKind::Remove {
        if let Some(k) = key_ci(work, schema.id) {
            work.remove(&k);
        }
        if let Some(Value::Array(list)) = work.get_mut("schemas") {
            list.retain(|s| {
                !s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(schema.id))
            });
        }
        return Ok(());
    }
    let Some(Value::Object(map)) = value else {
        return Err(ctx.err(
            ScimType::InvalidValue,
            format!("the value for `{}` must be an object", schema.id),
        ));
    };
    for (key, v) in map {
        let Some(attr) = schema.attr(&key) else {
            continue;
        };
        let target = Target::Attr {
            loc: AttrLocation::Extension(schema),
            attr,
            filter: None,
            sub: None,
        };
        apply_target(work, None, ctx, target, Some(v), false)?;
    }
    Ok(())
}
