//! License caps: what a user's dbt license (SCIM `licenseType`) lets their grants reach.
//!
//! `developer` and `analyst` do not cap (for the API they behave alike); `read_only`
//! never writes; `it` reaches only the account surfaces an IT license manages on the
//! platform (account settings, users, groups, licenses, invites, security/SSO and
//! billing). A user without a license gets the route's `default_license` (developer
//! unless set); a value scimgate does not know is treated as `read_only`.

use super::area::{Area, Level};

/// A dbt license, as it caps grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum License {
    Developer,
    Analyst,
    ReadOnly,
    It,
}

/// What an IT license reaches.
const IT_AREAS: &[Area] = &[
    Area::AccountSettings,
    Area::Users,
    Area::Groups,
    Area::Licenses,
    Area::Invites,
    Area::Security,
    Area::Billing,
];

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

    /// The license of a user: theirs when known, `read_only` when unknown, `default`
    /// when they have none.
    pub fn of_user(license: Option<&str>, default: License) -> License {
        match license.map(str::trim) {
            None | Some("") => default,
            Some(text) => License::parse(text).unwrap_or(License::ReadOnly),
        }
    }

    /// `level` on `area` as this license lets it be used.
    pub fn cap(self, area: Area, level: Level) -> Level {
        match self {
            License::Developer | License::Analyst => level,
            License::ReadOnly => level.min(Level::Read),
            License::It if IT_AREAS.contains(&area) => level,
            License::It => Level::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps() {
        assert_eq!(License::ReadOnly.cap(Area::Jobs, Level::Write), Level::Read);
        assert_eq!(License::ReadOnly.cap(Area::Jobs, Level::Read), Level::Read);
        assert_eq!(License::It.cap(Area::Security, Level::Write), Level::Write);
        assert_eq!(License::It.cap(Area::Jobs, Level::Write), Level::None);
        assert_eq!(License::Analyst.cap(Area::Jobs, Level::Write), Level::Write);
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
