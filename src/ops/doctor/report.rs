//! The doctor's report: each step with its timing and outcome, and the verdict.

use std::fmt;
use std::time::Duration;

/// One step as it went.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub elapsed: Duration,
    pub ok: bool,
    /// What was seen (an id, a decision, or why it did not hold).
    pub note: String,
}

impl Step {
    pub fn ok(name: impl Into<String>, elapsed: Duration, note: impl Into<String>) -> Self {
        Step {
            name: name.into(),
            elapsed,
            ok: true,
            note: note.into(),
        }
    }

    pub fn failed(name: impl Into<String>, elapsed: Duration, note: impl Into<String>) -> Self {
        Step {
            name: name.into(),
            elapsed,
            ok: false,
            note: note.into(),
        }
    }
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Report {
    pub url: String,
    pub user_name: String,
    pub group: String,
    pub steps: Vec<Step>,
}

impl Report {
    pub fn new(url: &str, user_name: &str, group: &str) -> Self {
        Report {
            url: url.to_owned(),
            user_name: user_name.to_owned(),
            group: group.to_owned(),
            steps: Vec::new(),
        }
    }

    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Whether every step held (a run with no step did not pass).
    pub fn passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.ok)
    }

    /// The first step that did not hold.
    pub fn first_failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| !s.ok)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scimgate doctor: {} (staging user {}, group {})",
            self.url, self.user_name, self.group
        )?;
        let width = self.steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in &self.steps {
            let mark = if s.ok { "ok  " } else { "FAIL" };
            let ms = s.elapsed.as_secs_f64() * 1000.0;
            writeln!(f, "  {mark}  {:<width$}  {ms:>8.1} ms  {}", s.name, s.note)?;
        }
        let total: Duration = self.steps.iter().map(|s| s.elapsed).sum();
        match self.first_failure() {
            None if self.passed() => writeln!(
                f,
                "verdict: PASS ({} steps in {:.1} ms)",
                self.steps.len(),
                total.as_secs_f64() * 1000.0
            ),
            None => writeln!(f, "verdict: FAIL (nothing ran)"),
            Some(s) => writeln!(f, "verdict: FAIL at \"{}\": {}", s.name, s.note),
        }
    }
}
