//! The rule for schema URIs the service does not know: the one place that decides
//! what a URI in a request's `schemas` list, or used as a key of a request body, gets
//! when it names neither the resource type's core schema nor one of its extensions.
//!
//! RFC 7643 §3 makes `schemas` the list of the schemas whose attributes the JSON
//! structure holds, and §6 lets a resource type declare an extension as required;
//! RFC 7644 §3.3 leaves the server free to ignore content of a POST it does not keep.
//! Identity providers put their own URIs in `schemas` with no attributes under them
//! (Microsoft Entra ID sends
//! `http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group` with
//! every Group it creates), so the rule is:
//!
//! * **ignored**: an unknown URI that carries no data (absent, `null`, `{}` or `[]`
//!   under its key). It is not stored and never echoed back in `schemas`. Such an
//!   extension has no required attributes this service could be asked to honour.
//! * **refused** (400 `invalidValue`): an unknown URI that carries attribute values,
//!   whether or not it is listed in `schemas`. Those values could not be stored, and
//!   dropping them silently would let the client believe they were kept.
//! * **refused** (400 `invalidValue`): a schema the service knows, but of another
//!   resource type (a Group schema in a User, ...): the request is for the wrong
//!   endpoint, not an extension to skip.
//! * **refused** (400 `invalidSyntax`): an entry of `schemas` that is not a URI.
//!
//! A request whose `schemas` lacks the core schema of the resource type stays a
//! 400 `invalidSyntax` (checked by the caller).

use serde_json::Value;

use super::{all_schemas, ResourceKind, SchemaError};

/// Whether `s` has the shape of an absolute URI (`scheme ":" rest`, RFC 3986 §3.1),
/// as every `schemas` entry must (RFC 7643 §3).
pub fn is_schema_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
}

/// Whether `value` holds data: anything but `null`, `{}` or `[]` (or an object or
/// array of those only).
fn carries_data(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Object(m) => m.values().any(carries_data),
        Value::Array(a) => a.iter().any(carries_data),
        _ => true,
    }
}

/// Decides what an unknown schema URI `uri` gets in a request for `kind`; `data` is
/// what the request carries under it (the value of its key, or of a key qualified
/// with it), `None` when it is only listed in `schemas`.
///
/// `Ok(())` means the URI is ignored: dropped from `schemas`, nothing stored. The
/// caller has already established that `uri` is neither `kind`'s core schema nor one
/// of its extensions.
pub fn admit_unknown_schema(
    kind: ResourceKind,
    uri: &str,
    data: Option<&Value>,
) -> Result<(), SchemaError> {
    if !is_schema_uri(uri) {
        return Err(SchemaError::MalformedSchemas);
    }
    if all_schemas().iter().any(|s| s.id.eq_ignore_ascii_case(uri)) {
        return Err(SchemaError::WrongResourceType {
            uri: uri.to_string(),
            kind: kind.name(),
        });
    }
    if data.is_some_and(carries_data) {
        return Err(SchemaError::UnsupportedExtension(uri.to_string()));
    }
    Ok(())
}
