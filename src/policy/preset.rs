//! Route presets: `preset: dbt-platform`, `preset: dbt-docs` and `preset: mcp` name what a route fronts,
//! so its rules can be written in that surface's own terms.
//!
//! This file only names the presets and parses the key; what each one adds to a route's
//! decision lives in its own module.

use std::fmt;

/// A route's `preset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The dbt platform's APIs (Admin v2/v3, Discovery, Semantic Layer).
    DbtPlatform,
    /// A dbt docs site (`dbt docs serve` or a hosted copy of `target/`).
    DbtDocs,
    /// An MCP server over the streamable HTTP transport (`dbt-mcp`, any other).
    Mcp,
}

impl Preset {
    /// Every preset, in the order the reference lists them.
    pub const ALL: [Preset; 3] = [Preset::DbtPlatform, Preset::DbtDocs, Preset::Mcp];

    /// The name written in a policy file.
    pub fn name(self) -> &'static str {
        match self {
            Preset::DbtPlatform => "dbt-platform",
            Preset::DbtDocs => "dbt-docs",
            Preset::Mcp => "mcp",
        }
    }

    /// Parses a policy file's `preset` value.
    pub fn parse(text: &str) -> Result<Preset, String> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
                format!("unknown preset `{text}` (one of: {})", names.join(", "))
            })
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Preset;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for p in Preset::ALL {
            assert_eq!(Preset::parse(p.name()), Ok(p));
        }
        let err = Preset::parse("dbt-cloud").unwrap_err();
        assert!(
            err.contains("dbt-platform") && err.contains("dbt-docs"),
            "{err}"
        );
    }
}
