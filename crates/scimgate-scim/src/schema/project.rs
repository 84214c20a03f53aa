//! `attributes` / `excludedAttributes` projection of a resource
//! representation (RFC 7644 §3.9), honouring each attribute's `returned`
//! characteristic.

use serde_json::{Map, Value};

use super::{
    core_attr, extension_for_urn, resolve_name, AttrDef, AttrLocation, ResolvedName, ResourceKind,
    Returned, SchemaDef,
};

/// Splits a comma-separated `attributes` query value into trimmed names.
pub fn split_attr_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// What a list of names selects of one top-level attribute.
#[derive(Default)]
struct AttrSel {
    whole: bool,
    subs: Vec<&'static AttrDef>,
}

impl AttrSel {
    fn is_empty(&self) -> bool {
        !self.whole && self.subs.is_empty()
    }

    fn has_sub(&self, sub: &AttrDef) -> bool {
        self.subs.iter().any(|s| s.name == sub.name)
    }
}

fn resolve_all(kind: ResourceKind, names: &[String]) -> (bool, Vec<ResolvedName>) {
    let mut any = false;
    let mut out = Vec::new();
    for name in names.iter().flat_map(|n| split_attr_list(n)) {
        any = true;
        if let Some(r) = resolve_name(kind, &name) {
            out.push(r);
        }
    }
    (any, out)
}

fn same_location(a: AttrLocation, b: AttrLocation) -> bool {
    match (a, b) {
        (AttrLocation::Core, AttrLocation::Core) => true,
        (AttrLocation::Extension(x), AttrLocation::Extension(y)) => x.id == y.id,
        _ => false,
    }
}

fn select(list: &[ResolvedName], loc: AttrLocation, attr: &'static AttrDef) -> AttrSel {
    let mut sel = AttrSel::default();
    for r in list {
        match r {
            ResolvedName::Extension(s) => {
                if same_location(loc, AttrLocation::Extension(s)) {
                    sel.whole = true;
                }
            }
            ResolvedName::Attr(a) => {
                if same_location(a.location, loc) && a.attr.name == attr.name {
                    match a.sub {
                        None => sel.whole = true,
                        Some(sub) => sel.subs.push(sub),
                    }
                }
            }
        }
    }
    sel
}

/// Applies `attributes` / `excludedAttributes` to a full representation.
///
/// Names are case-insensitive and may be dotted (`name.givenName`),
/// URN-qualified (`urn:…:enterprise:2.0:User:employeeNumber`) or a bare
/// extension URN; entries may also contain comma-separated lists. Unknown
/// names are ignored. `schemas` and `returned: always` attributes (`id`) are
/// always kept, `returned: never` ones (`password`) never emitted,
/// `returned: request` ones only when named in `attributes`. Complex values
/// and extension objects left empty are removed.
pub fn project(
    kind: ResourceKind,
    resource: &Value,
    attributes: &[String],
    excluded: &[String],
) -> Value {
    let Some(obj) = resource.as_object() else {
        return resource.clone();
    };
    let (request_mode, req) = resolve_all(kind, attributes);
    let (_, exc) = resolve_all(kind, excluded);
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key.clone(), value.clone());
            continue;
        }
        if let Some(ext) = extension_for_urn(kind, key) {
            if let Some(v) = project_extension(ext, value, request_mode, &req, &exc) {
                out.insert(key.clone(), v);
            }
            continue;
        }
        match core_attr(kind, key) {
            Some(attr) => {
                let req_sel = request_mode.then(|| select(&req, AttrLocation::Core, attr));
                let exc_sel = select(&exc, AttrLocation::Core, attr);
                if let Some(v) = project_attr(attr, value, req_sel.as_ref(), &exc_sel) {
                    out.insert(key.clone(), v);
                }
            }
            None => {
                if !request_mode {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Value::Object(out)
}

fn project_extension(
    ext: &'static SchemaDef,
    value: &Value,
    request_mode: bool,
    req: &[ResolvedName],
    exc: &[ResolvedName],
) -> Option<Value> {
    let Some(map) = value.as_object() else {
        return (!request_mode).then(|| value.clone());
    };
    let loc = AttrLocation::Extension(ext);
    let mut out = Map::new();
    for (key, v) in map {
        match ext.attr(key) {
            Some(attr) => {
                let req_sel = request_mode.then(|| select(req, loc, attr));
                let exc_sel = select(exc, loc, attr);
                if let Some(p) = project_attr(attr, v, req_sel.as_ref(), &exc_sel) {
                    out.insert(key.clone(), p);
                }
            }
            None => {
                if !request_mode {
                    out.insert(key.clone(), v.clone());
                }
            }
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn project_attr(
    attr: &'static AttrDef,
    value: &Value,
    req: Option<&AttrSel>,
    exc: &AttrSel,
) -> Option<Value> {
    match attr.returned {
        Returned::Never => return None,
        Returned::Always => {
            return filter_subs(attr, value, &|sub| sub.returned != Returned::Never)
        }
        Returned::Default | Returned::Request => {}
    }
    if exc.whole {
        return None;
    }
    let excluded_sub = |sub: &AttrDef| exc.has_sub(sub) && sub.returned != Returned::Always;
    match req {
        Some(sel) if sel.is_empty() => None,
        Some(sel) if sel.whole => filter_subs(attr, value, &|sub| {
            sub.returned != Returned::Never && !excluded_sub(sub)
        }),
        Some(sel) => filter_subs(attr, value, &|sub| match sub.returned {
            Returned::Never => false,
            Returned::Always => true,
            Returned::Default | Returned::Request => sel.has_sub(sub) && !excluded_sub(sub),
        }),
        None => {
            if attr.returned == Returned::Request {
                return None;
            }
            filter_subs(attr, value, &|sub| match sub.returned {
                Returned::Never | Returned::Request => false,
                Returned::Always => true,
                Returned::Default => !excluded_sub(sub),
            })
        }
    }
}

/// Keeps the sub-attributes of a complex value (or of each element of a
/// multi-valued one) for which `keep` holds; drops emptied elements and
/// returns `None` when nothing remains. Non-complex values pass unchanged.
fn filter_subs(
    attr: &'static AttrDef,
    value: &Value,
    keep: &dyn Fn(&AttrDef) -> bool,
) -> Option<Value> {
    if !attr.is_complex() {
        return Some(value.clone());
    }
    let filter_obj = |m: &Map<String, Value>| -> Option<Value> {
        let out: Map<String, Value> = m
            .iter()
            .filter(|(k, _)| attr.sub_attr(k).is_some_and(keep))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (!out.is_empty()).then_some(Value::Object(out))
    };
    match value {
        Value::Object(m) => filter_obj(m),
        Value::Array(items) => {
            let out: Vec<Value> = items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(m) => filter_obj(m),
                    other => Some(other.clone()),
                })
                .collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}
