//! Licenses as dbt documents them ("Users and licenses"): what a user's dbt license
//! (SCIM `licenseType`) does with their grants.
//!
//! `developer`: the grants apply. `read_only` and `it` "do not inherit rights from any
//! permission sets": whatever their groups, a read_only user has the
//! "Stakeholder/Read-Only" column, an it user the Security admin and Billing admin
//! columns, on every project. `analyst` (which the license pages read here do not
//! describe) is read the safer way: the grants apply at most at the Analyst and Cost
//! Management admin columns' levels. A user without a license gets the route's
//! `default_license` (developer unless set); a value scimgate does not know is
//! treated as `read_only`.

use std::sync::LazyLock;

use super::area::{Area, Level};
use super::permissions::{self, CellRef};

/// A dbt license.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum License {
    Developer,
    Analyst,
    ReadOnly,
    It,
}

/// What a license does with a user's grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The grants apply as they are (developer).
    Grants,
    /// The grants apply, each at most at these columns' levels (analyst).
    Capped,
    /// The grants are ignored; these columns' levels apply on every project (read_only,
    /// it).
    Fixed,
}

/// The per-area maximum of some documented columns.
fn union(columns: &[&str]) -> [Level; Area::COUNT] {
    let mut out = [Level::None; Area::COUNT];
    for c in columns {
        for (o, l) in out.iter_mut().zip(permissions::levels(c)) {
            *o = (*o).max(l);
        }
    }
    out
}

const READ_ONLY_COLUMNS: &[&str] = &["stakeholder"];
const IT_COLUMNS: &[&str] = &["security_admin", "billing_admin"];
const ANALYST_COLUMNS: &[&str] = &["analyst", "cost_management_admin"];

static READ_ONLY: LazyLock<[Level; Area::COUNT]> = LazyLock::new(|| union(READ_ONLY_COLUMNS));
static IT: LazyLock<[Level; Area::COUNT]> = LazyLock::new(|| union(IT_COLUMNS));
static ANALYST: LazyLock<[Level; Area::COUNT]> = LazyLock::new(|| union(ANALYST_COLUMNS));

impl License {
    /// The license named `text` (any case), if it is one.
    pub fn parse(text: &str) -> Option<License> {
        let known = [
            ("developer", License::Developer),
            ("analyst", License::Analyst),
            ("read_only", License::ReadOnly),
            ("it", License::It),
        ];
        known
            .into_iter()
            .find(|(name, _)| text.eq_ignore_ascii_case(name))
            .map(|(_, l)| l)
    }

    /// The license's name.
    pub fn name(self) -> &'static str {
        match self {
            License::Developer => "developer",
            License::Analyst => "analyst",
            License::ReadOnly => "read_only",
            License::It => "it",
        }
    }

    /// The license of a user: theirs when known, `read_only` when unknown, `default`
    /// when they have none.
    pub fn of_user(license: Option<&str>, default: License) -> License {
        match license.map(str::trim) {
            None | Some("") => default,
            Some(text) => License::parse(text).unwrap_or(License::ReadOnly),
        }
    }

    /// What the license does with grants.
    pub fn effect(self) -> Effect {
        match self {
            License::Developer => Effect::Grants,
            License::Analyst => Effect::Capped,
            License::ReadOnly | License::It => Effect::Fixed,
        }
    }

    /// The documented columns behind the license's cap or fixed grant (none for
    /// developer).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            License::Developer => &[],
            License::Analyst => ANALYST_COLUMNS,
            License::ReadOnly => READ_ONLY_COLUMNS,
            License::It => IT_COLUMNS,
        }
    }

    /// The level the license allows on `area`: the cap (analyst), the fixed grant
    /// (read_only, it), or write (developer).
    pub fn level(self, area: Area) -> Level {
        let table = match self {
            License::Developer => return Level::Write,
            License::Analyst => &*ANALYST,
            License::ReadOnly => &*READ_ONLY,
            License::It => &*IT,
        };
        table[area.index()]
    }

    /// The documented cell that gives the license `level` on `area`, if one does.
    pub fn cell(self, area: Area, level: Level) -> Option<CellRef> {
        self.columns()
            .iter()
            .filter_map(|c| permissions::cell(c, area))
            .find(|c| c.cell.level() >= level)
    }

    /// Whether the license lets its user call the API for themselves (their own
    /// credentials and API keys): dbt's license table gives read_only and it users
    /// no API access.
    pub fn api_access(self) -> bool {
        matches!(self, License::Developer | License::Analyst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_and_it_are_fixed_grants_and_analyst_a_cap() {
        assert_eq!(License::ReadOnly.effect(), Effect::Fixed);
        assert_eq!(License::ReadOnly.level(Area::Jobs), Level::Read);
        assert_eq!(License::ReadOnly.level(Area::AuditLogs), Level::None);
        assert_eq!(License::It.effect(), Effect::Fixed);
        assert_eq!(License::It.level(Area::AuthProvider), Level::Write);
        assert_eq!(License::It.level(Area::Billing), Level::Write);
        assert_eq!(License::It.level(Area::Jobs), Level::None);
        assert_eq!(License::Analyst.level(Area::Develop), Level::Write);
        assert_eq!(License::Analyst.level(Area::Webhooks), Level::None);
        assert_eq!(License::Developer.level(Area::Webhooks), Level::Write);
    }

    #[test]
    fn unknown_licenses_read_only_and_missing_ones_default() {
        assert_eq!(
            License::of_user(Some("enterprise"), License::Developer),
            License::ReadOnly
        );
        assert_eq!(License::of_user(None, License::It), License::It);
        assert_eq!(
            License::of_user(Some("Read_Only"), License::Developer),
            License::ReadOnly
        );
    }
}
