//! TEMPORARY interface stub, replaced by the real filter module.
use serde_json::Value;
use super::schema::ResourceKind;
use super::scim_type::ScimType;
#[derive(Debug, thiserror::Error)]
#[error("filter: {0}")]
pub struct FilterError(String);
impl FilterError { pub fn scim_type(&self) -> ScimType { ScimType::InvalidFilter } }
pub enum EqTarget { UserName, ExternalId, Id, DisplayName, Email }
pub struct Filter;
impl Filter {
    pub fn matches(&self, _k: ResourceKind, _r: &Value) -> bool { true }
    pub fn as_equality(&self) -> Option<(EqTarget, &str)> { None }
}
pub fn parse_filter(s: &str, _d: usize) -> Result<Filter, FilterError> { Err(FilterError(s.into())) }
