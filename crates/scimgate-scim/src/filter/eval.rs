//! Evaluation of parsed filters against full resource representations and
//! against single elements of multi-valued complex attributes.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::super::schema::{
    get_ci, parse_datetime, resolve_name, AttrDef, AttrLocation, AttrType, Mutability,
    ResolvedName, ResourceKind, Returned, Uniqueness,
};
use super::{AttrPath, AttrTest, CompValue, CompareOp, Filter};

/// `schemas` is not a schema attribute but filters may test it
/// (RFC 7644 §3.4.2.2 example); URNs compare case-insensitively.
static SCHEMAS_ATTR: AttrDef = AttrDef {
    name: "schemas",
    ty: AttrType::Reference,
    multi_valued: true,
    description: "",
    required: false,
    case_exact: false,
    mutability: Mutability::ReadOnly,
    returned: Returned::Always,
    uniqueness: Uniqueness::None,
    canonical_values: &[],
    strict_canonical: false,
    reference_types: &[],
    sub_attributes: &[],
};

/// What attribute paths are relative to.
#[derive(Clone, Copy)]
enum Ctx {
    Resource(ResourceKind),
    /// Inside `parent[...]`: paths name sub-attributes of `parent`.
    Element(&'static AttrDef),
}

impl Filter {
    /// Whether `resource` (the full representation as returned, with `id`,
    /// `meta`, extension objects under their URN keys, User `groups`, Group
    /// `members`) matches. Unknown attributes never match.
    pub fn matches(&self, kind: ResourceKind, resource: &Value) -> bool {
        eval(self, Ctx::Resource(kind), resource)
    }

    /// Whether one element of the multi-valued complex attribute `parent`
    /// matches this filter, whose paths name sub-attributes of `parent` (as
    /// inside `parent[...]`).
    pub fn matches_element(&self, parent: &'static AttrDef, element: &Value) -> bool {
        eval(self, Ctx::Element(parent), element)
    }
}

fn eval(f: &Filter, ctx: Ctx, target: &Value) -> bool {
    match f {
        Filter::And(terms) => terms.iter().all(|t| eval(t, ctx, target)),
        Filter::Or(terms) => terms.iter().any(|t| eval(t, ctx, target)),
        Filter::Not(inner) => !eval(inner, ctx, target),
        Filter::Attr { path, test } => eval_attr(ctx, target, path, test),
        Filter::ValuePath { path, filter, then } => {
            let Some((attr, None, raw)) = lookup(ctx, target, path) else {
                return false;
            };
            if !attr.is_complex() {
                return false;
            }
            let sub_test = match then {
                None => None,
                Some((sub, test)) => match attr.sub_attr(sub) {
                    Some(def) => Some((def, test)),
                    None => return false,
                },
            };
            flatten(raw).into_iter().any(|el| {
                el.is_object()
                    && eval(filter, Ctx::Element(attr), el)
                    && sub_test.is_none_or(|(def, test)| {
                        let leaves = el
                            .as_object()
                            .and_then(|m| get_ci(m, def.name))
                            .map(|v| flatten(Some(v)))
                            .unwrap_or_default();
                        apply_test(def, &leaves, test)
                    })
            })
        }
    }
}

/// Resolves `path` in `ctx`: the attribute, the sub-attribute, and the raw
/// value of the attribute (before descending into the sub-attribute).
fn lookup<'v>(
    ctx: Ctx,
    target: &'v Value,
    path: &AttrPath,
) -> Option<(
    &'static AttrDef,
    Option<&'static AttrDef>,
    Option<&'v Value>,
)> {
    let obj = target.as_object()?;
    match ctx {
        Ctx::Resource(_)
            if path.attr.eq_ignore_ascii_case("schemas")
                && path.urn.is_none()
                && path.sub.is_none() =>
        {
            Some((&SCHEMAS_ATTR, None, get_ci(obj, "schemas")))
        }
        Ctx::Resource(kind) => {
            let ResolvedName::Attr(r) = resolve_name(kind, &path.full_name())? else {
                return None;
            };
            let container: Option<&Map<String, Value>> = match r.location {
                AttrLocation::Core => Some(obj),
                AttrLocation::Extension(s) => get_ci(obj, s.id).and_then(Value::as_object),
            };
            Some((
                r.attr,
                r.sub,
                container.and_then(|c| get_ci(c, r.attr.name)),
            ))
        }
        Ctx::Element(parent) => {
            if path.urn.is_some() || path.sub.is_some() {
                return None;
            }
            let attr = parent.sub_attr(&path.attr)?;
            Some((attr, None, get_ci(obj, attr.name)))
        }
    }
}

/// The values of `v`: array elements, or `v` itself.
fn flatten(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
    }
}

fn eval_attr(ctx: Ctx, target: &Value, path: &AttrPath, test: &AttrTest) -> bool {
    let Some((attr, sub, raw)) = lookup(ctx, target, path) else {
        return false;
    };
    let (leaf, leaves): (&'static AttrDef, Vec<&Value>) = match sub {
        Some(sub) => {
            let leaves = flatten(raw)
                .into_iter()
                .filter_map(|el| el.as_object().and_then(|m| get_ci(m, sub.name)))
                .flat_map(|v| flatten(Some(v)))
                .collect();
            (sub, leaves)
        }
        None if attr.is_complex() => {
            if *test == AttrTest::Present {
                return raw.is_some_and(is_present);
            }
            // Comparing a complex attribute compares its `value`.
            let Some(value_def) = attr.sub_attr("value") else {
                return false;
            };
            let leaves = flatten(raw)
                .into_iter()
                .filter_map(|el| el.as_object().and_then(|m| get_ci(m, value_def.name)))
                .collect();
            (value_def, leaves)
        }
        None => (attr, flatten(raw)),
    };
    apply_test(leaf, &leaves, test)
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(m) => m.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn apply_test(def: &AttrDef, leaves: &[&Value], test: &AttrTest) -> bool {
    let (op, lit) = match test {
        AttrTest::Present => return leaves.iter().any(|v| is_present(v)),
        AttrTest::Compare(op, lit) => (*op, lit),
    };
    if *lit == CompValue::Null {
        let present = leaves.iter().any(|v| is_present(v));
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    match op {
        CompareOp::Eq => leaves.iter().any(|v| equal(def, v, lit)),
        CompareOp::Ne => !leaves.iter().any(|v| equal(def, v, lit)),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            let CompValue::String(l) = lit else {
                return false;
            };
            let l = fold(def, l);
            leaves.iter().any(|v| match v {
                Value::String(s) => {
                    let s = fold(def, s);
                    match op {
                        CompareOp::Co => s.contains(l.as_str()),
                        CompareOp::Sw => s.starts_with(l.as_str()),
                        _ => s.ends_with(l.as_str()),
                    }
                }
                _ => false,
            })
        }
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            leaves.iter().any(|v| match order(def, v, lit) {
                Some(o) => match op {
                    CompareOp::Gt => o == Ordering::Greater,
                    CompareOp::Ge => o != Ordering::Less,
                    CompareOp::Lt => o == Ordering::Less,
                    _ => o != Ordering::Greater,
                },
                None => false,
            })
        }
    }
}

/// Case-folds (the caseless key of [`crate::ident`]) unless the attribute is caseExact.
fn fold(def: &AttrDef, s: &str) -> String {
    if def.case_exact {
        s.to_string()
    } else {
        crate::ident::caseless_key(s)
    }
}

fn equal(def: &AttrDef, v: &Value, lit: &CompValue) -> bool {
    match (v, lit) {
        (Value::String(_), CompValue::String(_)) => order(def, v, lit) == Some(Ordering::Equal),
        (Value::Bool(a), CompValue::Bool(b)) => a == b,
        (Value::Number(a), CompValue::Number(b)) => cmp_numbers(a, b) == Some(Ordering::Equal),
        _ => false,
    }
}

fn order(def: &AttrDef, v: &Value, lit: &CompValue) -> Option<Ordering> {
    match (v, lit) {
        (Value::String(a), CompValue::String(b)) => {
            if def.ty == AttrType::DateTime {
                return Some(parse_datetime(a)?.cmp(&parse_datetime(b)?));
            }
            if def.case_exact {
                Some(a.as_str().cmp(b.as_str()))
            } else if a.is_ascii() && b.is_ascii() {
                Some(
                    a.bytes()
                        .map(|c| c.to_ascii_lowercase())
                        .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
                )
            } else {
                Some(crate::ident::caseless_key(a).cmp(&crate::ident::caseless_key(b)))
            }
        }
        (Value::Number(a), CompValue::Number(b)) => cmp_numbers(a, b),
        _ => None,
    }
}

fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}
