//! SCIM schema model (RFC 7643): the attribute definitions the service
//! publishes at `/Schemas`, their JSON rendering, and the case-insensitive
//! attribute lookup used by normalization, projection, filters and PATCH.
//!
//! The definitions themselves live in `defs`; request-body normalization in
//! `normalize`; `attributes`/`excludedAttributes` projection in `project`; the rule
//! for schema URIs the service does not know in `unknown`.

mod datetime;
mod defs;
mod normalize;
mod project;
#[cfg(test)]
mod tests;
mod unknown;

use serde_json::{json, Map, Value};

pub use datetime::{parse_datetime, Instant};
pub use normalize::{
    coerce_attr_value, coerce_single_value, normalize_patched, normalize_resource,
    parse_member_list, MemberKind, MemberRef, SchemaError,
};
pub use project::{project, split_attr_list};
pub use unknown::{admit_unknown_schema, is_schema_uri};

/// URN of the core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of the dbt Labs User extension.
pub const DBT_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:dbtLabs:2.0:User";
/// URN used in the `schemas` of every `/Schemas` resource.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The resource types the service manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `/Users`
    User,
    /// `/Groups`
    Group,
}

impl ResourceKind {
    /// Both kinds, for code that has to consider every schema.
    pub const ALL: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

    /// The resource type name (`"User"` / `"Group"`).
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The core schema of this kind.
    pub fn core_schema(self) -> &'static SchemaDef {
        match self {
            ResourceKind::User => &defs::USER,
            ResourceKind::Group => &defs::GROUP,
        }
    }

    /// The schema extensions this kind accepts.
    pub fn extensions(self) -> &'static [&'static SchemaDef] {
        match self {
            ResourceKind::User => &defs::USER_EXTENSIONS,
            ResourceKind::Group => &[],
        }
    }
}

/// SCIM attribute data types (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// The name used in schema representations.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// Attribute mutability (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    /// The name used in schema representations.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    /// The name used in schema representations.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// Attribute uniqueness (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    /// The name used in schema representations.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition, as published in a schema resource.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    /// Values outside `canonical_values` are rejected (not published).
    pub strict_canonical: bool,
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttrDef],
}

impl AttrDef {
    /// Sub-attribute by case-insensitive name.
    pub fn sub_attr(&self, name: &str) -> Option<&'static AttrDef> {
        find_in(self.sub_attributes, name)
    }

    /// Whether the attribute is complex.
    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }

    /// Whether clients may never write this attribute.
    pub fn is_read_only(&self) -> bool {
        self.mutability == Mutability::ReadOnly
    }

    /// The attribute as a schema representation object.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.ty.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if !self.is_complex() {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if self.ty == AttrType::Reference {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        if self.is_complex() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(AttrDef::to_json).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(m)
    }
}

/// A schema: its URN and its top-level attributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

impl SchemaDef {
    /// Top-level attribute of this schema by case-insensitive name.
    pub fn attr(&self, name: &str) -> Option<&'static AttrDef> {
        find_in(self.attributes, name)
    }

    /// Whether this schema is an extension (not a core resource schema).
    pub fn is_extension(&self) -> bool {
        self.id != USER_SCHEMA && self.id != GROUP_SCHEMA
    }

    /// The `/Schemas/{id}` resource for this schema.
    pub fn to_json(&self, base_url: &str) -> Value {
        let attrs: Vec<Value> = self.attributes.iter().map(AttrDef::to_json).collect();
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attrs,
            "meta": {
                "resourceType": "Schema",
                "location": format!("{}/Schemas/{}", base_url.trim_end_matches('/'), self.id),
            }
        })
    }
}

fn find_in(list: &'static [AttrDef], name: &str) -> Option<&'static AttrDef> {
    list.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// The common attributes (`id`, `externalId`, `meta`, RFC 7643 §3.1).
/// They are not listed in the published schemas but are known everywhere.
pub fn common_attrs() -> &'static [AttrDef] {
    &defs::COMMON
}

/// Every schema the service publishes, in `/Schemas` order.
pub fn all_schemas() -> &'static [&'static SchemaDef] {
    &defs::ALL_SCHEMAS
}

/// The `/Schemas` list resources.
pub fn schemas_json(base_url: &str) -> Vec<Value> {
    all_schemas().iter().map(|s| s.to_json(base_url)).collect()
}

/// One `/Schemas/{id}` resource (the id is matched case-insensitively).
pub fn schema_json(id: &str, base_url: &str) -> Option<Value> {
    all_schemas()
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .map(|s| s.to_json(base_url))
}

/// A schema (core or extension) that `kind` accepts, by case-insensitive URN.
pub fn schema_for_urn(kind: ResourceKind, urn: &str) -> Option<&'static SchemaDef> {
    let core = kind.core_schema();
    if core.id.eq_ignore_ascii_case(urn) {
        return Some(core);
    }
    kind.extensions()
        .iter()
        .copied()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
}

/// An extension schema of `kind` by case-insensitive URN.
pub fn extension_for_urn(kind: ResourceKind, urn: &str) -> Option<&'static SchemaDef> {
    schema_for_urn(kind, urn).filter(|s| s.is_extension())
}

/// Top-level attribute of `kind`'s core schema or a common attribute.
pub fn core_attr(kind: ResourceKind, name: &str) -> Option<&'static AttrDef> {
    kind.core_schema()
        .attr(name)
        .or_else(|| find_in(common_attrs(), name))
}

/// Splits a possibly URN-qualified attribute name into `(urn, rest)`.
///
/// Known schema URNs are matched case-insensitively as prefixes, so the dots
/// in `2.0` never count as sub-attribute separators; a name equal to a known
/// URN yields `(Some(urn), "")`. For an unknown `urn:` prefix the split is at
/// the last colon. Names without a `urn:` prefix yield `(None, name)`.
pub fn split_urn(name: &str) -> (Option<&str>, &str) {
    if !name
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
    {
        return (None, name);
    }
    for schema in all_schemas() {
        let id = schema.id;
        if name.len() >= id.len()
            && name.is_char_boundary(id.len())
            && name[..id.len()].eq_ignore_ascii_case(id)
        {
            let rest = &name[id.len()..];
            if rest.is_empty() {
                return (Some(&name[..id.len()]), "");
            }
            if let Some(attr) = rest.strip_prefix(':') {
                return (Some(&name[..id.len()]), attr);
            }
        }
    }
    match name.rfind(':') {
        Some(i) => (Some(&name[..i]), &name[i + 1..]),
        None => (None, name),
    }
}

/// Where an attribute lives in a resource representation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttrLocation {
    /// At the top level (core and common attributes).
    Core,
    /// Under the extension's URN key.
    Extension(&'static SchemaDef),
}

/// An attribute name resolved against a resource kind's schemas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedAttr {
    pub location: AttrLocation,
    pub attr: &'static AttrDef,
    pub sub: Option<&'static AttrDef>,
}

impl ResolvedAttr {
    /// The innermost definition (the sub-attribute when there is one).
    pub fn leaf(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }
}

/// What a (possibly URN-qualified) name designates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResolvedName {
    /// An attribute (optionally a sub-attribute).
    Attr(ResolvedAttr),
    /// A whole extension object, named by its bare URN.
    Extension(&'static SchemaDef),
}

/// The attribute `name` of the one extension of `kind` that defines it, when exactly
/// one does. Entra ID names extension attributes without their URN (`manager` in a
/// PATCH path or a filter); RFC 7644 §3.10 only asks clients to qualify them
/// "to avoid naming conflicts", so an unqualified name no core attribute and no
/// second extension claims is taken as that extension's.
fn sole_extension_attr(kind: ResourceKind, name: &str) -> Option<(AttrLocation, &'static AttrDef)> {
    let mut found = kind
        .extensions()
        .iter()
        .filter_map(|s| s.attr(name).map(|a| (AttrLocation::Extension(s), a)));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// Resolves `[urn:]attr[.sub]` or a bare extension URN against `kind`.
/// An unqualified name that is no core or common attribute resolves to the
/// attribute of the only extension defining it ([`sole_extension_attr`]).
/// Returns `None` for unknown schemas, attributes or sub-attributes, and for
/// a sub-attribute of a non-complex attribute.
pub fn resolve_name(kind: ResourceKind, name: &str) -> Option<ResolvedName> {
    let (urn, rest) = split_urn(name);
    let (location, schema_attr): (AttrLocation, Option<&'static SchemaDef>) = match urn {
        None => (AttrLocation::Core, None),
        Some(u) => {
            let schema = schema_for_urn(kind, u)?;
            if rest.is_empty() {
                return if schema.is_extension() {
                    Some(ResolvedName::Extension(schema))
                } else {
                    None
                };
            }
            if schema.is_extension() {
                (AttrLocation::Extension(schema), Some(schema))
            } else {
                (AttrLocation::Core, None)
            }
        }
    };
    let (attr_name, sub_name) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    let (location, attr) = match schema_attr {
        Some(s) => (location, s.attr(attr_name)?),
        None => match core_attr(kind, attr_name) {
            Some(a) => (location, a),
            None if urn.is_none() => sole_extension_attr(kind, attr_name)?,
            None => return None,
        },
    };
    let sub = match sub_name {
        None => None,
        Some(s) => Some(attr.sub_attr(s)?),
    };
    Some(ResolvedName::Attr(ResolvedAttr {
        location,
        attr,
        sub,
    }))
}

/// Like [`resolve_name`] but only for attributes.
pub fn resolve_attr(kind: ResourceKind, name: &str) -> Option<ResolvedAttr> {
    match resolve_name(kind, name)? {
        ResolvedName::Attr(a) => Some(a),
        ResolvedName::Extension(_) => None,
    }
}

/// Case-insensitive lookup of a key in a JSON object: the exact key first,
/// then the first key equal ignoring ASCII case.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The actual key of `obj` equal to `key` ignoring ASCII case, if any.
pub fn key_ci(obj: &Map<String, Value>, key: &str) -> Option<String> {
    if obj.contains_key(key) {
        return Some(key.to_string());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}
