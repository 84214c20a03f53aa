//! dbt's documented permission tables, transcribed as data: for each of dbt's
//! permission sets (a column) and each documented permission (a row, an [`Area`]),
//! the cell dbt's documentation writes: `W`, `R`, `-`, or a footnoted case.
//!
//! Source: docs.getdbt.com, page "Enterprise permissions", whose tables are the
//! snippet `website/snippets/_enterprise-permissions-table.md` of the docs site's
//! repository (dbt-labs/docs.getdbt.com). Transcribed 2026-12-04 from the newest
//! versions of that snippet available to the project: the English text at docs commit
//! `12394053d3632c5db6986828ef3e71d050ed3380` (four tables; Cost Management columns
//! and row), completed with the `Fusion admin` column and `Fusion upgrade` row of a
//! later version of the same snippet, and the `Webhook` column of an earlier version
//! (`024c5cb312b22c26b2d28e83c5263595e07dbff7`), which the later versions dropped.
//! Nothing here is interpreted: the preset's reading of a cell is [`Cell::level`], and
//! the permission sets' names and aliases are in `permission_set`.

use super::area::{Area, Level, Scope};

/// One cell of dbt's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cell {
    /// `-` (or an empty cell, or a row or column the table does not have).
    None,
    /// `R`.
    Read,
    /// `W`.
    Write,
    /// `R*`: read by default, write only through dbt's environment-level write access
    /// (which a grant cannot express): read.
    ReadEnvWrite,
    /// `W#`: custom environment variables "set in the Credentials section": personal
    /// overrides only. The API cannot tell a personal override from an
    /// environment-level variable by its path, so the preset reads it as read.
    WritePersonal,
    /// `v`: a letter that is neither (the Security admin's Semantic Layer config cell).
    /// Read as none.
    Unclear,
}

impl Cell {
    /// The cell as dbt's table writes it.
    pub fn text(self) -> &'static str {
        match self {
            Cell::None => "-",
            Cell::Read => "R",
            Cell::Write => "W",
            Cell::ReadEnvWrite => "R*",
            Cell::WritePersonal => "W#",
            Cell::Unclear => "v",
        }
    }

    fn parse(text: &str) -> Option<Cell> {
        [
            Cell::None,
            Cell::Read,
            Cell::Write,
            Cell::ReadEnvWrite,
            Cell::WritePersonal,
            Cell::Unclear,
        ]
        .into_iter()
        .find(|c| c.text() == text)
    }

    /// What the preset grants for the cell (the footnoted cases as their docs say).
    pub fn level(self) -> Level {
        match self {
            Cell::Write => Level::Write,
            Cell::Read | Cell::ReadEnvWrite | Cell::WritePersonal => Level::Read,
            Cell::None | Cell::Unclear => Level::None,
        }
    }
}

/// One of dbt's tables: its title, the kind of rows it has, its columns (permission
/// sets, by the name a policy file writes) and its rows (row name, cells in column
/// order, whitespace-separated).
#[derive(Debug)]
pub struct DocTable {
    pub title: &'static str,
    pub scope: Scope,
    pub columns: &'static [&'static str],
    pub rows: &'static [(&'static str, &'static str)],
}

/// dbt's column headers, by the set name a policy file writes.
pub const HEADERS: &[(&str, &str)] = &[
    ("account_admin", "Account Admin"),
    ("billing_admin", "Billing admin"),
    ("cost_management_admin", "Cost Management admin"),
    ("cost_management_viewer", "Cost Management viewer"),
    ("manage_marketplace_apps", "Manage marketplace apps"),
    ("project_creator", "Project creator"),
    ("security_admin", "Security admin"),
    ("account_viewer", "Viewer"),
    ("admin", "Admin"),
    ("analyst", "Analyst"),
    ("database_admin", "Database admin"),
    ("developer", "Developer"),
    ("fusion_admin", "Fusion admin"),
    ("git_admin", "Git Admin"),
    ("job_admin", "Job admin"),
    ("job_runner", "Job runner"),
    ("job_viewer", "Job viewer"),
    ("metadata_only", "Metadata (Discovery API only)"),
    ("semantic_layer_only", "Semantic Layer"),
    ("stakeholder", "Stakeholder/Read-Only"),
    ("team_admin", "Team admin"),
    ("webhooks_only", "Webhook"),
];

const ACCOUNT_SETS: &[&str] = &[
    "account_admin",
    "billing_admin",
    "cost_management_admin",
    "cost_management_viewer",
    "manage_marketplace_apps",
    "project_creator",
    "security_admin",
    "account_viewer",
];

const ACCOUNT_SETS_IN_PROJECTS: &[&str] = &[
    "account_admin",
    "billing_admin",
    "cost_management_admin",
    "cost_management_viewer",
    "project_creator",
    "security_admin",
    "account_viewer",
];

const PROJECT_SETS_ACCOUNT: &[&str] = &[
    "admin",
    "analyst",
    "database_admin",
    "developer",
    "git_admin",
    "job_admin",
    "job_runner",
    "job_viewer",
    "metadata_only",
    "semantic_layer_only",
    "stakeholder",
    "team_admin",
];

const PROJECT_SETS: &[&str] = &[
    "admin",
    "analyst",
    "database_admin",
    "developer",
    "fusion_admin",
    "git_admin",
    "job_admin",
    "job_runner",
    "job_viewer",
    "metadata_only",
    "semantic_layer_only",
    "stakeholder",
    "team_admin",
];

/// dbt's tables, as the documentation has them.
#[rustfmt::skip]
pub const TABLES: &[DocTable] = &[
    DocTable {
        title: "Account access for account permissions",
        scope: Scope::Account,
        columns: ACCOUNT_SETS,
        rows: &[
            ("Account settings",  "W - - - - R R R"),
            ("Audit logs",        "R - - - - - R R"),
            ("Auth provider",     "W - - - - - W R"),
            ("Billing",           "W W - - - - - R"),
            ("Connections",       "W - R R - W - -"),
            ("Groups",            "W - - - - R W R"),
            ("Invitations",       "W - - - - W W R"),
            ("IP restrictions",   "W - - - - - W R"),
            ("Licenses",          "W - - - - W W R"),
            ("Marketplace app",   "- - - - W - - -"),
            ("Members",           "W - - - - W W R"),
            ("Project (create)",  "W - - - - W - -"),
            ("Public models",     "R R - - - R R R"),
            ("Service tokens",    "W - - - - - R R"),
            ("Webhooks",          "W - - - - - - -"),
        ],
    },
    DocTable {
        title: "Project access for account permissions",
        scope: Scope::Project,
        columns: ACCOUNT_SETS_IN_PROJECTS,
        rows: &[
            ("Environment credentials",      "W - - - W - R"),
            ("Cost Management",              "W - W R - - R"),
            ("Custom env. variables",        "W - - - W - R"),
            ("Data platform configurations", "W - - - W - R"),
            ("Develop (IDE or CLI)",         "W - - - W - -"),
            ("Environments",                 "W - R R W - R"),
            ("Jobs",                         "W - - - W - R"),
            ("Metadata GraphQL API access",  "R - R R R - R"),
            ("Permissions",                  "W - - - W W R"),
            ("Projects",                     "W - R R W R R"),
            ("Repositories",                 "W - - - W - R"),
            ("Runs",                         "W - - - W - R"),
            ("Semantic Layer config",        "W - - - W v R"),
        ],
    },
    DocTable {
        title: "Account access for project permissions",
        scope: Scope::Account,
        columns: PROJECT_SETS_ACCOUNT,
        rows: &[
            ("Account settings",  "R - R - R - - - - - - R"),
            ("Auth provider",     "- - - - - - - - - - - -"),
            ("Billing",           "- - - - - - - - - - - -"),
            ("Connections",       "R R R R R R - - - - R R"),
            ("Groups",            "R - R R R - - - - - R R"),
            ("Invitations",       "W R R R R R - R - - R R"),
            ("Licenses",          "W R R R R R - R - - - R"),
            ("Members",           "W - R R R - - - - - R R"),
            ("Project (create)",  "- - - - - - - - - - - -"),
            ("Public models",     "R R R R R R - R R R R R"),
            ("Service tokens",    "- - - - - - - - - - - -"),
            ("Webhooks",          "W - - W - - - - - - - -"),
        ],
    },
    DocTable {
        title: "Project access for project permissions",
        scope: Scope::Project,
        columns: PROJECT_SETS,
        rows: &[
            ("Environment credentials",      "W R  W  R  - R  W - - - - R R"),
            ("Cost Management",              "- -  -  -  - -  - - - - - - -"),
            ("Custom env. variables",        "W W# W  W# - W  W - R - - R W"),
            ("Data platform configurations", "W W  W  W  - R  W - - - - R R"),
            ("Develop (IDE or CLI)",         "W W  -  W  - -  - - - - - - -"),
            ("Environments",                 "W R  R  R  - R  W - R - - R R"),
            ("Fusion upgrade",               "- -  -  -  W -  - - - - - - -"),
            ("Jobs",                         "W R* R* R* - R* W R R - - R R*"),
            ("Metadata GraphQL API access",  "R R  R  R  - R  R - R R - R R"),
            ("Permissions",                  "W -  R  R  - R  - - - - - - R"),
            ("Projects",                     "W R  W  R  - W  R - R - - R W"),
            ("Repositories",                 "W -  R  R  - W  - - - - - R R"),
            ("Runs",                         "W R* R* R* - R* W W R - - R R*"),
            ("Semantic Layer config",        "W R  W  R  - R  R - - - W R R"),
        ],
    },
    DocTable {
        title: "Account access for project permissions (Webhook column, earlier version)",
        scope: Scope::Account,
        columns: &["webhooks_only"],
        rows: &[
            ("Public models", "R"),
            ("Webhooks",      "W"),
        ],
    },
];

/// Where a cell was read: the table, the row and the column's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRef {
    pub table: &'static str,
    pub row: &'static str,
    pub column: &'static str,
    pub cell: Cell,
}

impl std::fmt::Display for CellRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dbt \"Enterprise permissions\", {}: {} × {} = {}",
            self.table,
            self.row,
            self.column,
            self.cell.text()
        )
    }
}

/// dbt's header of the column `column` (a set name).
pub fn header(column: &str) -> &'static str {
    HEADERS
        .iter()
        .find(|(c, _)| *c == column)
        .map_or("?", |(_, h)| h)
}

/// The documented cell of column `column` (a set name) on `area`, if a table of the
/// area's scope has both the column and the row.
pub fn cell(column: &str, area: Area) -> Option<CellRef> {
    TABLES
        .iter()
        .filter(|t| t.scope == area.scope())
        .find_map(|t| {
            let at = t.columns.iter().position(|c| *c == column)?;
            let (row, cells) = t.rows.iter().find(|(row, _)| *row == area.row())?;
            let text = cells.split_whitespace().nth(at)?;
            Some(CellRef {
                table: t.title,
                row,
                column: header(column),
                cell: Cell::parse(text).unwrap_or(Cell::Unclear),
            })
        })
}

/// The levels the column `column` documents, indexed by [`Area::index`] (none where
/// it documents nothing).
pub fn levels(column: &str) -> [Level; Area::COUNT] {
    let mut out = [Level::None; Area::COUNT];
    for &area in Area::ALL {
        if let Some(c) = cell(column, area) {
            out[area.index()] = c.cell.level();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_an_area_and_every_cell_is_written() {
        for t in TABLES {
            for (row, cells) in t.rows {
                assert!(
                    Area::ALL
                        .iter()
                        .any(|a| a.scope() == t.scope && a.row() == *row),
                    "{}: row `{row}` is no area",
                    t.title
                );
                let cells: Vec<&str> = cells.split_whitespace().collect();
                assert_eq!(cells.len(), t.columns.len(), "{}: {row}", t.title);
                for c in cells {
                    assert!(Cell::parse(c).is_some(), "{}: {row}: `{c}`", t.title);
                }
            }
            for c in t.columns {
                assert_ne!(header(c), "?", "{c} has no header");
            }
        }
    }

    #[test]
    fn every_area_is_a_row_of_some_table() {
        for &a in Area::ALL {
            assert!(
                TABLES
                    .iter()
                    .any(|t| t.scope == a.scope() && t.rows.iter().any(|(r, _)| *r == a.row())),
                "{a} is in no table"
            );
        }
    }

    #[test]
    fn footnoted_cells_read_as_the_footnotes_say() {
        let jobs = cell("developer", Area::Jobs).map(|c| c.cell);
        assert_eq!(jobs, Some(Cell::ReadEnvWrite));
        assert_eq!(levels("developer")[Area::Jobs.index()], Level::Read);
        let vars = cell("analyst", Area::CustomEnvVariables).map(|c| c.cell);
        assert_eq!(vars, Some(Cell::WritePersonal));
        assert_eq!(
            levels("analyst")[Area::CustomEnvVariables.index()],
            Level::Read
        );
        let sl = cell("security_admin", Area::SemanticLayerConfig).map(|c| c.cell);
        assert_eq!(sl, Some(Cell::Unclear));
        assert_eq!(
            levels("security_admin")[Area::SemanticLayerConfig.index()],
            Level::None
        );
    }
}
