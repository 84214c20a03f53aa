//! TEMPORARY interface stub, replaced by the real patch module.
use serde_json::Value;
use super::scim_type::ScimType;
#[derive(Debug, thiserror::Error)]
#[error("patch: {0}")]
pub struct PatchError(String);
impl PatchError { pub fn scim_type(&self) -> ScimType { ScimType::InvalidValue } }
pub struct PatchRequest;
impl PatchRequest { pub fn from_json(_v: Value) -> Result<Self, PatchError> { Err(PatchError("x".into())) } }
pub struct MemberRef { pub value: String }
#[derive(Default)]
pub struct MemberDelta { pub replace_all: bool, pub add: Vec<MemberRef>, pub remove: Vec<String> }
pub fn apply_user_patch(_r: &mut Value, _p: &PatchRequest) -> Result<(), PatchError> { Ok(()) }
pub fn apply_group_patch(_r: &mut Value, _d: &mut MemberDelta, _p: &PatchRequest) -> Result<(), PatchError> { Ok(()) }
