//! Validation and normalization of POST/PUT resource bodies against the
//! schemas (case-insensitive names rewritten to canonical casing, type checks
//! and coercions, read-only and unknown attributes dropped, required and
//! `primary` checks, identifier rules on `userName`, `userType`, `emails[].value` and a Group's
//! `displayName`), plus the value coercion PATCH reuses and the parsing of Group
//! `members` lists.

use serde_json::{Map, Value};
use thiserror::Error;

use super::super::ident;
use super::super::scim_type::ScimType;
use super::datetime::parse_datetime;
use super::unknown::{admit_unknown_schema, is_schema_uri};
use super::{
    core_attr, schema_for_urn, split_urn, AttrDef, AttrType, Mutability, ResourceKind, SchemaDef,
};

/// Why a resource body or value does not conform to the schemas.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SchemaError {
    #[error("the resource must be a JSON object")]
    NotAnObject,
    #[error("`schemas` must be an array of schema URN strings")]
    MalformedSchemas,
    #[error("`schemas` must list `{0}`")]
    MissingCoreSchema(&'static str),
    #[error("`{uri}` is not a schema of the {kind} resource type")]
    WrongResourceType { uri: String, kind: &'static str },
    #[error(
        "the request carries attributes under `{0}`, a schema this service does not support; they cannot be stored"
    )]
    UnsupportedExtension(String),
    #[error("attribute `{attr}`: {reason}")]
    InvalidValue { attr: String, reason: String },
    #[error("required attribute `{0}` is missing")]
    MissingRequired(String),
    #[error("attribute `{0}` has more than one value with `primary: true`")]
    MultiplePrimary(String),
}

impl SchemaError {
    /// The `scimType` to report.
    pub fn scim_type(&self) -> ScimType {
        match self {
            SchemaError::NotAnObject
            | SchemaError::MalformedSchemas
            | SchemaError::MissingCoreSchema(_) => ScimType::InvalidSyntax,
            SchemaError::WrongResourceType { .. }
            | SchemaError::UnsupportedExtension(_)
            | SchemaError::InvalidValue { .. }
            | SchemaError::MissingRequired(_)
            | SchemaError::MultiplePrimary(_) => ScimType::InvalidValue,
        }
    }

    fn invalid(attr: &str, reason: impl Into<String>) -> Self {
        SchemaError::InvalidValue {
            attr: attr.to_string(),
            reason: reason.into(),
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Coerces a value for `attr` (multi-valued aware). A single value given for
/// a multi-valued attribute is wrapped in an array; an array of at most one value
/// given for a single-valued complex attribute is unwrapped. Returns `Ok(None)` when
/// the value is unassigned (null, empty array, or empty complex value).
/// `path` names the attribute in error details.
pub fn coerce_attr_value(
    attr: &'static AttrDef,
    value: Value,
    path: &str,
) -> Result<Option<Value>, SchemaError> {
    if value.is_null() {
        return Ok(None);
    }
    if !attr.multi_valued {
        let value = match value {
            // Entra ID sends the enterprise `manager` as `[{"value": …, "$ref": …}]`:
            // one complex value in an array is that value.
            Value::Array(mut items) if attr.is_complex() && items.len() <= 1 => match items.pop() {
                Some(one) if !one.is_array() => one,
                Some(_) => return Err(SchemaError::invalid(path, "nested arrays are not allowed")),
                None => return Ok(None),
            },
            Value::Array(_) => {
                return Err(SchemaError::invalid(
                    path,
                    "expected a single value, got an array",
                ))
            }
            other => other,
        };
        return coerce_single_value(attr, value, path);
    }
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if item.is_array() {
            return Err(SchemaError::invalid(path, "nested arrays are not allowed"));
        }
        if let Some(v) = coerce_single_value(attr, item, path)? {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    check_primary(attr, &out, path)?;
    Ok(Some(Value::Array(out)))
}

/// Fails when more than one element of a multi-valued complex value has
/// `primary: true`.
pub(super) fn check_primary(
    attr: &'static AttrDef,
    items: &[Value],
    path: &str,
) -> Result<(), SchemaError> {
    let Some(primary) = attr.sub_attr("primary") else {
        return Ok(());
    };
    let count = items
        .iter()
        .filter(|v| v.get(primary.name) == Some(&Value::Bool(true)))
        .count();
    if count > 1 {
        return Err(SchemaError::MultiplePrimary(path.to_string()));
    }
    Ok(())
}

/// Coerces one (non-array) value of `attr`: type check, boolean strings to
/// booleans, strict canonical values, complex sub-attributes. `Ok(None)` for
/// an unassigned value.
pub fn coerce_single_value(
    attr: &'static AttrDef,
    value: Value,
    path: &str,
) -> Result<Option<Value>, SchemaError> {
    match (attr.ty, value) {
        (_, Value::Null) => Ok(None),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) => {
            canonicalize(attr, s, path).map(Some)
        }
        (AttrType::DateTime, Value::String(s)) => {
            if parse_datetime(&s).is_none() {
                return Err(SchemaError::invalid(
                    path,
                    format!("`{s}` is not an RFC 3339 dateTime"),
                ));
            }
            Ok(Some(Value::String(s)))
        }
        (AttrType::Boolean, Value::Bool(b)) => Ok(Some(Value::Bool(b))),
        (AttrType::Boolean, Value::String(s)) => {
            if s.eq_ignore_ascii_case("true") {
                Ok(Some(Value::Bool(true)))
            } else if s.eq_ignore_ascii_case("false") {
                Ok(Some(Value::Bool(false)))
            } else {
                Err(SchemaError::invalid(
                    path,
                    format!("expected a boolean, got the string `{s}`"),
                ))
            }
        }
        (AttrType::Integer, Value::Number(n)) => {
            let integral = n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0);
            if integral {
                Ok(Some(Value::Number(n)))
            } else {
                Err(SchemaError::invalid(path, "expected an integer"))
            }
        }
        (AttrType::Decimal, Value::Number(n)) => Ok(Some(Value::Number(n))),
        (AttrType::Complex, Value::Object(map)) => coerce_complex(attr, map, path),
        (AttrType::Complex, scalar @ (Value::String(_) | Value::Number(_) | Value::Bool(_)))
            if !attr.multi_valued && attr.sub_attr("value").is_some() =>
        {
            // e.g. Entra ID sends the enterprise `manager` as a bare id.
            let mut map = Map::new();
            map.insert("value".to_string(), scalar);
            coerce_complex(attr, map, path)
        }
        (ty, other) => Err(SchemaError::invalid(
            path,
            format!("expected {}, got {}", expected_name(ty), json_kind(&other)),
        )),
    }
}

fn expected_name(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "a string",
        AttrType::Reference => "a reference string",
        AttrType::Binary => "a base64 string",
        AttrType::DateTime => "a dateTime string",
        AttrType::Boolean => "a boolean",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::Complex => "an object",
    }
}

fn canonicalize(attr: &'static AttrDef, s: String, path: &str) -> Result<Value, SchemaError> {
    if !attr.strict_canonical {
        return Ok(Value::String(s));
    }
    match attr
        .canonical_values
        .iter()
        .find(|c| c.eq_ignore_ascii_case(&s))
    {
        Some(c) => Ok(Value::String((*c).to_string())),
        None => Err(SchemaError::invalid(
            path,
            format!("`{s}` is not one of {}", attr.canonical_values.join(", ")),
        )),
    }
}

fn coerce_complex(
    attr: &'static AttrDef,
    map: Map<String, Value>,
    path: &str,
) -> Result<Option<Value>, SchemaError> {
    if map.is_empty() {
        return Ok(None);
    }
    let mut out = Map::new();
    for (key, value) in map {
        let Some(sub) = attr.sub_attr(&key) else {
            continue;
        };
        if !client_writable(sub) {
            continue;
        }
        let sub_path = format!("{path}.{}", sub.name);
        match coerce_attr_value(sub, value, &sub_path)? {
            Some(v) => {
                out.insert(sub.name.to_string(), v);
            }
            None => {
                out.remove(sub.name);
            }
        }
    }
    for sub in attr.sub_attributes {
        if sub.required && client_writable(sub) && !out.contains_key(sub.name) {
            return Err(SchemaError::MissingRequired(format!("{path}.{}", sub.name)));
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Object(out)))
}

/// Whether a client-supplied value of this attribute is kept: read-only
/// values are ignored, and write-only ones (`password`) are never stored.
pub(super) fn client_writable(attr: &AttrDef) -> bool {
    !matches!(
        attr.mutability,
        Mutability::ReadOnly | Mutability::WriteOnly
    )
}

/// Validates and normalizes a POST/PUT body of `kind`.
///
/// The result has `schemas` first (canonical URNs, core first, extension URNs
/// added when the body carries data for them), core and common attributes in
/// canonical casing at the top level, and each extension's attributes under
/// its URN key. `id`, `meta`, `groups`, `password` and unknown attributes are
/// dropped; Group `members` are kept (elements normalized to
/// `{value, type?}`) for the caller to extract.
pub fn normalize_resource(kind: ResourceKind, body: Value) -> Result<Value, SchemaError> {
    let out = normalize_shape(kind, body)?;
    check_identifiers(kind, &out, None)?;
    Ok(out)
}

/// [`normalize_resource`] for the result of a PATCH of `before` (a stored body): an
/// identifier the PATCH leaves as it was is not checked again, so a resource stored
/// before the identifier rules can still be deactivated or changed otherwise.
pub fn normalize_patched(
    kind: ResourceKind,
    body: Value,
    before: &Map<String, Value>,
) -> Result<Value, SchemaError> {
    let out = normalize_shape(kind, body)?;
    check_identifiers(kind, &out, Some(before))?;
    Ok(out)
}

/// Applies the identifier rules ([`ident::check`]) to `userName`, `userType` and each
/// `emails[].value` of a User, and to a Group's `displayName`; values equal to those in
/// `before` are let through.
fn check_identifiers(
    kind: ResourceKind,
    out: &Value,
    before: Option<&Map<String, Value>>,
) -> Result<(), SchemaError> {
    let name_attr = match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    };
    let unchanged = |attr: &str, v: &Value| before.and_then(|b| b.get(attr)) == Some(v);
    if let Some(v) = out.get(name_attr) {
        if let (Some(text), false) = (v.as_str(), unchanged(name_attr, v)) {
            ident::check(text).map_err(|e| SchemaError::invalid(name_attr, e.to_string()))?;
        }
    }
    if kind == ResourceKind::User {
        // userType decides the agents cap: a lookalike (`agent\u{200b}`) must not evade it.
        if let Some(v) = out.get("userType") {
            if let (Some(text), false) = (v.as_str(), unchanged("userType", v)) {
                ident::check(text).map_err(|e| SchemaError::invalid("userType", e.to_string()))?;
            }
        }
        if let Some(Value::Array(emails)) = out.get("emails") {
            let old: &[Value] = match before.and_then(|b| b.get("emails")) {
                Some(Value::Array(a)) => a,
                _ => &[],
            };
            for e in emails {
                let Some(value) = e.get("value") else {
                    continue;
                };
                if old.iter().any(|o| o.get("value") == Some(value)) {
                    continue;
                }
                if let Some(text) = value.as_str() {
                    ident::check(text)
                        .map_err(|err| SchemaError::invalid("emails.value", err.to_string()))?;
                }
            }
        }
    }
    Ok(())
}

/// Shape and type checks of a POST/PUT body (everything but the identifier rules).
/// Schema URIs the service does not know get what [`admit_unknown_schema`] decides.
fn normalize_shape(kind: ResourceKind, body: Value) -> Result<Value, SchemaError> {
    let Value::Object(map) = body else {
        return Err(SchemaError::NotAnObject);
    };
    let core = kind.core_schema();
    let mut schemas: Vec<&'static str> = Vec::new();
    let listed = super::get_ci(&map, "schemas").ok_or(SchemaError::MissingCoreSchema(core.id))?;
    let listed = listed.as_array().ok_or(SchemaError::MalformedSchemas)?;
    let mut listed_unknown: Vec<String> = Vec::new();
    for urn in listed {
        let urn = urn.as_str().ok_or(SchemaError::MalformedSchemas)?;
        match schema_for_urn(kind, urn) {
            Some(schema) if !schemas.contains(&schema.id) => schemas.push(schema.id),
            Some(_) => {}
            // The data under it, if any, is judged with the body's keys below.
            None => {
                admit_unknown_schema(kind, urn, None)?;
                listed_unknown.push(urn.to_string());
            }
        }
    }
    if !schemas.contains(&core.id) {
        return Err(SchemaError::MissingCoreSchema(core.id));
    }

    let mut out = Map::new();
    out.insert("schemas".to_string(), Value::Null);
    let mut extensions: Vec<(&'static SchemaDef, Map<String, Value>)> = Vec::new();
    let mut ext_slot = |schema: &'static SchemaDef| -> usize {
        match extensions.iter().position(|(s, _)| s.id == schema.id) {
            Some(i) => i,
            None => {
                extensions.push((schema, Map::new()));
                extensions.len() - 1
            }
        }
    };
    let mut ext_puts: Vec<(usize, Option<&'static AttrDef>, Value, &'static str)> = Vec::new();
    for (key, value) in map {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(schema) = schema_for_urn(kind, &key) {
            let Value::Object(inner) = value else {
                if value.is_null() {
                    continue;
                }
                return Err(SchemaError::invalid(schema.id, "expected an object"));
            };
            if schema.is_extension() {
                let idx = ext_slot(schema);
                for (k, v) in inner {
                    ext_puts.push((idx, schema.attr(&k), v, schema.id));
                }
            } else {
                for (k, v) in inner {
                    put_attr(&mut out, core_attr(kind, &k), v, "")?;
                }
            }
            continue;
        }
        if let Some(attr) = core_attr(kind, &key) {
            put_attr(&mut out, Some(attr), value, "")?;
            continue;
        }
        if !is_schema_uri(&key) {
            // An attribute no schema defines: ignored (RFC 7644 §3.3).
            continue;
        }
        // A URI-qualified attribute (`urn:…:User:employeeNumber`) or the object of a
        // schema this resource type does not have.
        let (urn, rest) = split_urn(&key);
        match urn.and_then(|u| schema_for_urn(kind, u)) {
            Some(schema) if schema.is_extension() => {
                let idx = ext_slot(schema);
                ext_puts.push((idx, schema.attr(rest), value, schema.id));
            }
            Some(_) => put_attr(&mut out, core_attr(kind, rest), value, "")?,
            None => {
                let whole = value.is_object()
                    || listed_unknown.iter().any(|u| u.eq_ignore_ascii_case(&key));
                let uri = match urn {
                    Some(u) if !whole && is_schema_uri(u) => u,
                    _ => &key,
                };
                admit_unknown_schema(kind, uri, Some(&value))?
            }
        }
    }
    for (idx, attr, value, id) in ext_puts {
        if let Some((_, ext)) = extensions.get_mut(idx) {
            put_attr(ext, attr, value, &format!("{id}:"))?;
        }
    }
    for (schema, ext) in extensions {
        if ext.is_empty() {
            continue;
        }
        if !schemas.contains(&schema.id) {
            schemas.push(schema.id);
        }
        out.insert(schema.id.to_string(), Value::Object(ext));
    }
    out.insert(
        "schemas".to_string(),
        Value::Array(
            schemas
                .iter()
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
    );
    check_required(kind, &out)?;
    Ok(Value::Object(out))
}

/// Checks the required attributes of the core schema and of every present
/// extension; a required string must not be blank.
pub(super) fn check_required(
    kind: ResourceKind,
    out: &Map<String, Value>,
) -> Result<(), SchemaError> {
    let check =
        |attrs: &'static [AttrDef], container: Option<&Map<String, Value>>, prefix: &str| {
            for a in attrs.iter().filter(|a| a.required && client_writable(a)) {
                match container.and_then(|c| c.get(a.name)) {
                    None | Some(Value::Null) => {
                        return Err(SchemaError::MissingRequired(format!("{prefix}{}", a.name)))
                    }
                    Some(Value::String(s)) if s.trim().is_empty() => {
                        return Err(SchemaError::invalid(
                            &format!("{prefix}{}", a.name),
                            "must not be empty",
                        ))
                    }
                    Some(_) => {}
                }
            }
            Ok(())
        };
    check(kind.core_schema().attributes, Some(out), "")?;
    for ext in kind.extensions() {
        if let Some(Value::Object(m)) = out.get(ext.id) {
            check(ext.attributes, Some(m), &format!("{}:", ext.id))?;
        }
    }
    Ok(())
}

fn put_attr(
    container: &mut Map<String, Value>,
    attr: Option<&'static AttrDef>,
    value: Value,
    prefix: &str,
) -> Result<(), SchemaError> {
    let Some(attr) = attr else {
        return Ok(());
    };
    if !client_writable(attr) {
        return Ok(());
    }
    match coerce_attr_value(attr, value, &format!("{prefix}{}", attr.name))? {
        Some(v) => {
            container.insert(attr.name.to_string(), v);
        }
        None => {
            container.remove(attr.name);
        }
    }
    Ok(())
}

/// The kind of a Group member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    /// `"User"` / `"Group"`, as in `members[].type`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::User => "User",
            MemberKind::Group => "Group",
        }
    }
}

/// One Group member reference: the member's id and optional type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberRef {
    pub value: String,
    pub kind: Option<MemberKind>,
}

/// Parses a `members` value (array, single object, or null) into member
/// references, de-duplicated by id (first occurrence kept, a later explicit
/// type fills a missing one). Elements need a non-empty string `value`;
/// `type` must be `User` or `Group` (any case); other keys are ignored.
pub fn parse_member_list(value: &Value) -> Result<Vec<MemberRef>, SchemaError> {
    let items: Vec<&Value> = match value {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out: Vec<MemberRef> = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(m) = item else {
            return Err(SchemaError::invalid(
                "members",
                format!("each member must be an object, got {}", json_kind(item)),
            ));
        };
        let id = match super::get_ci(m, "value") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(SchemaError::MissingRequired("members.value".to_string())),
        };
        let kind = match super::get_ci(m, "type") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if t.eq_ignore_ascii_case("user") => Some(MemberKind::User),
            Some(Value::String(t)) if t.eq_ignore_ascii_case("group") => Some(MemberKind::Group),
            Some(other) => {
                return Err(SchemaError::invalid(
                    "members.type",
                    format!("`{other}` is not one of User, Group"),
                ))
            }
        };
        match out.iter_mut().find(|r| r.value == id) {
            Some(existing) => {
                if existing.kind.is_none() {
                    existing.kind = kind;
                }
            }
            None => out.push(MemberRef { value: id, kind }),
        }
    }
    Ok(out)
}
