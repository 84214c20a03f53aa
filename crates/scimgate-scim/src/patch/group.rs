//! Group `members` PATCH operations, recorded as set changes in a
//! [`MemberDelta`] so that the (possibly huge) member list is never loaded.

use serde_json::Value;

use super::super::filter::{AttrTest, CompValue, CompareOp, Filter};
use super::super::schema::{parse_member_list, AttrDef};
use super::super::scim_type::ScimType;
use super::apply::Ctx;
use super::{MemberDelta, OpKind, PatchError};

/// The ids of a `value eq "id"` filter, possibly joined with `or`.
fn value_eq_ids<'f>(filter: &'f Filter, out: &mut Vec<&'f str>) -> bool {
    match filter {
        Filter::Or(terms) => terms.iter().all(|t| value_eq_ids(t, out)),
        Filter::Attr {
            path,
            test: AttrTest::Compare(CompareOp::Eq, CompValue::String(id)),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.attr.eq_ignore_ascii_case("value") =>
        {
            out.push(id);
            true
        }
        _ => false,
    }
}

pub(super) fn members_op(
    delta: &mut MemberDelta,
    ctx: &Ctx<'_>,
    filter: Option<&Filter>,
    sub: Option<&'static AttrDef>,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    if let Some(sub) = sub {
        return Err(ctx.err(
            ScimType::Mutability,
            format!(
                "`members.{}` cannot be modified; add or remove whole members",
                sub.name
            ),
        ));
    }
    let parse = |v: &Value| parse_member_list(v).map_err(|e| ctx.schema_err(e));
    match (ctx.op, filter) {
        (OpKind::Add, None) => {
            for m in parse(value.unwrap_or(&Value::Null))? {
                delta.add_member(m);
            }
        }
        (OpKind::Replace, None) => delta.replace_with(parse(value.unwrap_or(&Value::Null))?),
        (OpKind::Remove, None) => match value {
            None | Some(Value::Null) => delta.remove_all(),
            Some(v) => {
                for m in parse(v)? {
                    delta.remove_member(&m.value);
                }
            }
        },
        (OpKind::Remove, Some(f)) => {
            let mut ids = Vec::new();
            if !value_eq_ids(f, &mut ids) {
                return Err(ctx.err(
                    ScimType::InvalidFilter,
                    "only `value eq \"<id>\"` filters, optionally joined with `or`, are supported on members",
                ));
            }
            for id in ids {
                delta.remove_member(id);
            }
        }
        (OpKind::Add | OpKind::Replace, Some(_)) => {
            return Err(ctx.err(
                ScimType::InvalidFilter,
                "member value filters are supported only in `remove`; add or replace whole members",
            ))
        }
    }
    Ok(())
}
