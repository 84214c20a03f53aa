//! From a normalized SCIM resource to the directory's drafts: the indexed fields the
//! directory needs, plus the body it stores as-is.

use serde_json::{Map, Value};

use super::schema::{DBT_USER_SCHEMA, GROUP_SCHEMA};
use super::scim_type::ScimType;
use super::ScimError;
use crate::record::{GroupDraft, UserDraft};

fn string_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The user draft of a normalized User resource.
pub(super) fn user_draft(resource: &Value) -> Result<UserDraft, ScimError> {
    let obj = resource
        .as_object()
        .ok_or_else(|| ScimError::bad(ScimType::InvalidSyntax, "a User must be a JSON object"))?;
    let user_name = string_field(obj, "userName")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ScimError::bad(ScimType::InvalidValue, "userName is required"))?;
    let emails = obj
        .get("emails")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let license = obj
        .get(DBT_USER_SCHEMA)
        .and_then(|ext| ext.get("licenseType"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(UserDraft {
        user_name,
        external_id: string_field(obj, "externalId"),
        active: obj.get("active").and_then(Value::as_bool).unwrap_or(true),
        emails,
        license,
        user_type: string_field(obj, "userType"),
        body: resource.to_string(),
    })
}

/// The group draft of a normalized Group resource (without members) and its member ids.
pub(super) fn group_draft(mut resource: Value) -> Result<(GroupDraft, Vec<String>), ScimError> {
    let obj = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::bad(ScimType::InvalidSyntax, "a Group must be a JSON object"))?;
    let members = match obj.remove("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|m| {
                m.get("value")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        ScimError::bad(ScimType::InvalidValue, "every member needs a value (an id)")
                    })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                "members must be an array",
            ))
        }
    };
    let display_name = string_field(obj, "displayName")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ScimError::bad(ScimType::InvalidValue, "displayName is required"))?;
    if !obj.contains_key("schemas") {
        obj.insert("schemas".into(), Value::from(vec![GROUP_SCHEMA]));
    }
    Ok((
        GroupDraft {
            display_name,
            external_id: string_field(obj, "externalId"),
            body: resource.to_string(),
        },
        members,
    ))
}
