//! Policy files as YAML: the shared reader ([`crate::yaml`]) with its errors as
//! [`PolicyError`]s, and a mapping type that keeps each key's position.

use std::marker::PhantomData;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::{Location, Spanned};

use super::error::{at_position, PolicyError};

/// Parses one YAML document; an empty document (or only comments) is `None`.
pub(crate) fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<Option<T>, PolicyError> {
    crate::yaml::parse(text).map_err(|e| at_position(file, e.line, e.column, e.problem.to_string()))
}

/// A YAML mapping read in order, each key with its position (serde's maps lose both).
#[derive(Debug)]
pub(crate) struct Pairs<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for Pairs<V> {
    fn default() -> Self {
        Pairs(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Pairs<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<V> {
            type Value = Pairs<V>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Pairs(out))
            }
        }

        deserializer.deserialize_map(PairsVisitor(PhantomData))
    }
}

/// Where a value was written (for values that come through aliases, the use site).
pub(crate) fn at<T>(s: &Spanned<T>) -> &Location {
    &s.referenced
}
