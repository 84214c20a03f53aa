//! The value-level PATCH operations on one container (the resource or an
//! extension object): whole-attribute, sub-attribute and value-filtered
//! add / replace / remove, with `primary` demotion (RFC 7644 §3.5.2).

use serde_json::{Map, Value};

use super::super::filter::Filter;
use super::super::schema::{coerce_attr_value, coerce_single_value, AttrDef};
use super::super::scim_type::ScimType;
use super::apply::Ctx;
use super::{OpKind, PatchError};

fn coerce(ctx: &Ctx<'_>, attr: &'static AttrDef, v: Value) -> Result<Option<Value>, PatchError> {
    coerce_attr_value(attr, v, attr.name).map_err(|e| ctx.schema_err(e))
}

fn set_or_remove(container: &mut Map<String, Value>, name: &str, v: Option<Value>) {
    match v {
        Some(v) => {
            container.insert(name.to_string(), v);
        }
        None => {
            container.remove(name);
        }
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// RFC 7644 §3.5.2: setting `primary` on some values clears it on the others.
fn demote_others(items: &mut [Value], touched: &[usize]) {
    if !touched
        .iter()
        .any(|&i| items.get(i).is_some_and(is_primary))
    {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if !touched.contains(&i) && is_primary(item) {
            if let Some(m) = item.as_object_mut() {
                m.insert("primary".to_string(), Value::Bool(false));
            }
        }
    }
}

fn merge_into(target: &mut Value, new: Value) {
    match (target, new) {
        (Value::Object(t), Value::Object(n)) => t.extend(n),
        (t, n) => *t = n,
    }
}

pub(super) fn whole_op(
    ctx: &Ctx<'_>,
    container: &mut Map<String, Value>,
    attr: &'static AttrDef,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let value = match (ctx.op, value) {
        (OpKind::Remove, None) => {
            container.remove(attr.name);
            return Ok(());
        }
        (OpKind::Remove, Some(v)) => return remove_values(ctx, container, attr, v),
        (_, None) => return Err(ctx.err(ScimType::InvalidSyntax, "missing `value`")),
        (_, Some(v)) => v,
    };
    let new = coerce(ctx, attr, value)?;
    match (ctx.op, attr.multi_valued, attr.is_complex()) {
        (OpKind::Add, true, _) => {
            let Some(Value::Array(new_items)) = new else {
                return Ok(());
            };
            let slot = container
                .entry(attr.name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(items) = slot {
                let mut touched = Vec::new();
                for item in new_items {
                    if !items.contains(&item) {
                        touched.push(items.len());
                        items.push(item);
                    }
                }
                demote_others(items, &touched);
            }
        }
        // Complex single-valued: merge sub-attributes (RFC 7644 §3.5.2.1/3).
        (_, false, true) => {
            if let Some(new) = new {
                match container.get_mut(attr.name) {
                    Some(existing) => merge_into(existing, new),
                    None => {
                        container.insert(attr.name.to_string(), new);
                    }
                }
            }
        }
        (OpKind::Add, false, false) => {
            if let Some(new) = new {
                container.insert(attr.name.to_string(), new);
            }
        }
        _ => set_or_remove(container, attr.name, new),
    }
    Ok(())
}

/// `remove` of a multi-valued attribute with a `value` listing the values to
/// remove (a common non-RFC client form). Elements match on `value` when
/// the given element has one, otherwise on full equality.
fn remove_values(
    ctx: &Ctx<'_>,
    container: &mut Map<String, Value>,
    attr: &'static AttrDef,
    v: Value,
) -> Result<(), PatchError> {
    if !attr.multi_valued {
        container.remove(attr.name);
        return Ok(());
    }
    let Some(Value::Array(given)) = coerce(ctx, attr, v)? else {
        return Ok(());
    };
    if let Some(Value::Array(items)) = container.get_mut(attr.name) {
        items.retain(|item| {
            !given.iter().any(|g| match g.get("value") {
                Some(gv) => item.get("value") == Some(gv),
                None => g == item,
            })
        });
        if items.is_empty() {
            container.remove(attr.name);
        }
    }
    Ok(())
}

pub(super) fn sub_op(
    ctx: &Ctx<'_>,
    container: &mut Map<String, Value>,
    attr: &'static AttrDef,
    sub: &'static AttrDef,
    value: Option<Value>,
) -> Result<(), PatchError> {
    if attr.multi_valued {
        let len = match container.get(attr.name) {
            Some(Value::Array(items)) if !items.is_empty() => items.len(),
            _ if ctx.op == OpKind::Remove => return Ok(()),
            _ => {
                return Err(ctx.err(
                    ScimType::NoTarget,
                    format!("`{}` has no values to update", attr.name),
                ))
            }
        };
        let all: Vec<usize> = (0..len).collect();
        return update_elements(ctx, container, attr, &all, Some(sub), value);
    }
    if ctx.op == OpKind::Remove {
        if let Some(Value::Object(m)) = container.get_mut(attr.name) {
            m.remove(sub.name);
            if m.is_empty() {
                container.remove(attr.name);
            }
        }
        return Ok(());
    }
    let new = coerce(ctx, sub, value.unwrap_or(Value::Null))?;
    let slot = container
        .entry(attr.name.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(m) = slot {
        set_or_remove(m, sub.name, new);
        if m.is_empty() {
            container.remove(attr.name);
        }
    }
    Ok(())
}

/// Applies the operation to the elements at `indices` of a multi-valued
/// complex attribute: on a sub-attribute, or on the whole element.
fn update_elements(
    ctx: &Ctx<'_>,
    container: &mut Map<String, Value>,
    attr: &'static AttrDef,
    indices: &[usize],
    sub: Option<&'static AttrDef>,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let new = match (ctx.op, sub) {
        (OpKind::Remove, _) => None,
        (_, Some(sub)) => coerce(ctx, sub, value.unwrap_or(Value::Null))?,
        (_, None) => coerce_single_value(attr, value.unwrap_or(Value::Null), attr.name)
            .map_err(|e| ctx.schema_err(e))?,
    };
    let Some(Value::Array(items)) = container.get_mut(attr.name) else {
        return Ok(());
    };
    let mut removed = vec![false; items.len()];
    for &i in indices {
        let Some(item) = items.get_mut(i) else {
            continue;
        };
        match (ctx.op, sub) {
            (OpKind::Remove, None) => removed[i] = true,
            (OpKind::Remove, Some(sub)) => {
                if let Some(m) = item.as_object_mut() {
                    m.remove(sub.name);
                }
            }
            (_, Some(sub)) => {
                if let Some(m) = item.as_object_mut() {
                    set_or_remove(m, sub.name, new.clone());
                }
            }
            (OpKind::Add, None) => {
                if let Some(n) = new.clone() {
                    merge_into(item, n);
                }
            }
            (_, None) => match new.clone() {
                Some(n) => *item = n,
                None => removed[i] = true,
            },
        }
    }
    if ctx.op != OpKind::Remove {
        demote_others(items, indices);
    }
    let mut i = 0;
    items.retain(|item| {
        let keep = !removed[i] && !item.as_object().is_some_and(Map::is_empty);
        i += 1;
        keep
    });
    if items.is_empty() {
        container.remove(attr.name);
    }
    Ok(())
}

/// Sub-attribute assignments implied by an equality-only filter, e.g.
/// `type eq "work" and primary eq true` → `{type: "work", primary: true}`.
fn eq_assignments(filter: &Filter, parent: &'static AttrDef, out: &mut Map<String, Value>) -> bool {
    use super::super::filter::{AttrTest, CompValue, CompareOp};
    match filter {
        Filter::And(terms) => terms.iter().all(|t| eq_assignments(t, parent, out)),
        Filter::Attr {
            path,
            test: AttrTest::Compare(CompareOp::Eq, lit),
        } if path.urn.is_none() && path.sub.is_none() => {
            let Some(sub) = parent.sub_attr(&path.attr) else {
                return false;
            };
            let v = match lit {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return false,
            };
            out.insert(sub.name.to_string(), v);
            true
        }
        _ => false,
    }
}

pub(super) fn filtered_op(
    ctx: &Ctx<'_>,
    container: &mut Map<String, Value>,
    attr: &'static AttrDef,
    filter: &Filter,
    sub: Option<&'static AttrDef>,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let matching: Vec<usize> = match container.get(attr.name) {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter(|(_, el)| filter.matches_element(attr, el))
            .map(|(i, _)| i)
            .collect(),
        _ => Vec::new(),
    };
    if !matching.is_empty() {
        return update_elements(ctx, container, attr, &matching, sub, value);
    }
    match ctx.op {
        OpKind::Remove => Ok(()),
        OpKind::Replace => Err(ctx.err(
            ScimType::NoTarget,
            format!("no value of `{}` matches the filter", attr.name),
        )),
        OpKind::Add => {
            // Entra ID adds `emails[type eq "work"].value` when no work email
            // exists yet: create the element the filter describes.
            let mut element = Map::new();
            if !eq_assignments(filter, attr, &mut element) {
                return Err(ctx.err(
                    ScimType::NoTarget,
                    format!("no value of `{}` matches the filter", attr.name),
                ));
            }
            match (sub, value) {
                (Some(sub), Some(v)) => {
                    element.insert(sub.name.to_string(), v);
                }
                (None, Some(Value::Object(m))) => element.extend(m),
                (None, Some(_)) => {
                    return Err(ctx.err(
                        ScimType::InvalidValue,
                        format!("the value for `{}` must be an object", attr.name),
                    ))
                }
                (_, None) => return Err(ctx.err(ScimType::InvalidSyntax, "missing `value`")),
            }
            let Some(new) = coerce_single_value(attr, Value::Object(element), attr.name)
                .map_err(|e| ctx.schema_err(e))?
            else {
                return Ok(());
            };
            let slot = container
                .entry(attr.name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(items) = slot {
                items.push(new);
                let last = items.len() - 1;
                demote_others(items, &[last]);
            }
            Ok(())
        }
    }
}
