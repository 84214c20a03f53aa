//! The figures a benchmark prints: each line on stdout and appended, with the time of the
//! run, to `bench/out/results.txt`, as `<bench> <metric> <value> <unit>[ (target …)]`.

use std::io::Write;
use std::path::PathBuf;

/// Where a benchmark's figures go, and the name they are printed under.
#[derive(Clone)]
pub struct Report {
    /// `bench/out` (made by [`Report::new`]).
    pub out: PathBuf,
    stamp: String,
    bench: String,
}

impl Report {
    /// Figures of the benchmark `bench`, stamped with the time now.
    pub fn new(bench: &str) -> anyhow::Result<Self> {
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("bench")
            .join("out");
        std::fs::create_dir_all(out.join("tmp"))?;
        let stamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)?;
        Ok(Report {
            out,
            stamp,
            bench: bench.to_owned(),
        })
    }

    /// The same report under another benchmark name.
    pub fn for_bench(&self, bench: &str) -> Report {
        Report {
            bench: bench.to_owned(),
            ..self.clone()
        }
    }

    /// Prints `text` and appends it to `results.txt`.
    pub fn line(&self, text: &str) -> anyhow::Result<()> {
        println!("{text}");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.out.join("results.txt"))?;
        writeln!(f, "{} {text}", self.stamp)?;
        Ok(())
    }

    /// `<bench> <metric> <value> <unit>`.
    pub fn figure(&self, metric: &str, value: f64, unit: &str) -> anyhow::Result<()> {
        self.figure_with(metric, value, unit, "")
    }

    /// A figure followed by `suffix` (e.g. [`target`]).
    pub fn figure_with(
        &self,
        metric: &str,
        value: f64,
        unit: &str,
        suffix: &str,
    ) -> anyhow::Result<()> {
        let value = if value.abs() >= 100.0 || value.fract() == 0.0 {
            format!("{value:.0}")
        } else {
            format!("{value:.3}")
        };
        self.line(&format!("{} {metric} {value} {unit}{suffix}", self.bench))
    }

    /// A note that explains the figures around it.
    pub fn note(&self, text: &str) -> anyhow::Result<()> {
        self.line(&format!("{} note: {text}", self.bench))
    }

    /// A temporary directory under `bench/out/tmp`.
    pub fn tempdir(&self) -> anyhow::Result<tempfile::TempDir> {
        Ok(tempfile::tempdir_in(self.out.join("tmp"))?)
    }
}

/// ` (target <what>: met)` or `NOT MET`.
pub fn target(what: &str, met: bool) -> String {
    format!(" (target {what}: {})", if met { "met" } else { "NOT MET" })
}
