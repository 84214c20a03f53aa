//! The `dbt-platform` preset: the dbt platform's APIs in their own permission terms.
//!
//! A request on a `preset: dbt-platform` route is first classified: [`catalogue`] lists
//! every Admin API v2/v3 operation and the GraphQL endpoints with the [`area`] it
//! touches and whether it reads or writes; [`matcher`] finds the operation of a method
//! and path. Then [`grant`]s give groups a [`permission_set`] on all or some projects,
//! as the user's [`license`] lets them; the sets' levels are read from
//! [`permissions`], the transcription of dbt's documented tables. The order of a decision is kept in
//! `policy::set` with the route's rules; `policies/README.md` is the reference.

pub mod area;
pub mod catalogue;
pub mod grant;
pub mod license;
pub mod matcher;
pub mod permission_set;
pub mod permissions;

#[cfg(test)]
mod spec_walk;

use std::sync::LazyLock;

use http::Method;

pub use area::{Access, Area, Level, Scope};
pub use catalogue::{Operation, OwnUser, Verb};
pub use grant::{DbtPlatformPolicy, Grant};
pub use license::License;
pub use matcher::{Matched, OperationTree};
pub use permission_set::PermissionSet;
pub use permissions::{Cell, CellRef};

/// The rule of a denial because the preset does not know the operation.
pub const UNKNOWN_OPERATION: &str = "preset:unknown-operation";

static TREE: LazyLock<Result<OperationTree, matcher::DuplicateOperation>> =
    LazyLock::new(|| OperationTree::build(catalogue::all()));

/// The operation of `method` on `path` (normalised, after the route's `strip_prefix`).
pub fn classify<'p>(method: &Method, path: &'p str) -> Option<Matched<'p>> {
    let verb = Verb::of(method)?;
    match &*TREE {
        Ok(tree) => tree.find(verb, path),
        Err(e) => {
            tracing::error!(error = %e, "the dbt-platform operation catalogue is inconsistent");
            None
        }
    }
}
