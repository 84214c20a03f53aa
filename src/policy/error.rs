//! Why a policy set was refused.
//!
//! Every problem names its file and, where the YAML gives one, the line and column, so
//! an operator can jump straight to it: `policies/docs.yaml:12:7: reason`. Loading keeps
//! going after a problem so that `policy check` reports all of them at once; the
//! caller gets one [`PolicyError`] (or [`PolicyError::Several`]).

use std::fmt;

/// A refused policy file or set.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A problem at a place in a file.
    #[error("{file}:{line}:{column}: {reason}")]
    At {
        file: String,
        line: u64,
        column: u64,
        reason: String,
    },
    /// A problem with a whole file, where no position applies.
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    /// A file or directory that could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The policy directory could not be watched for changes.
    #[error("{path}: cannot watch for changes: {source}")]
    Watch {
        path: String,
        #[source]
        source: notify::Error,
    },
    /// The watcher's thread could not be started.
    #[error("cannot start the policy watcher thread: {0}")]
    WatchThread(#[source] std::io::Error),
    /// Several problems, in file order (each on its own line).
    #[error("{}", Lines(.0))]
    Several(Vec<PolicyError>),
}

impl PolicyError {
    /// Every single problem, in order (a lone error is a list of one).
    pub fn problems(&self) -> Vec<&PolicyError> {
        match self {
            PolicyError::Several(list) => list.iter().flat_map(|e| e.problems()).collect(),
            other => vec![other],
        }
    }

    /// `Ok` when `list` is empty, the one problem, or all of them.
    pub(crate) fn from_list(mut list: Vec<PolicyError>) -> Result<(), PolicyError> {
        match list.len() {
            0 => Ok(()),
            1 => Err(list.remove(0)),
            _ => Err(PolicyError::Several(list)),
        }
    }
}

struct Lines<'a>(&'a [PolicyError]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Problems found in one file, collected rather than returned one at a time.
pub(crate) struct Problems<'a> {
    pub file: &'a str,
    pub list: Vec<PolicyError>,
}

impl<'a> Problems<'a> {
    pub fn new(file: &'a str) -> Self {
        Problems {
            file,
            list: Vec::new(),
        }
    }

    /// Records a problem at a YAML position.
    pub fn at(&mut self, at: &serde_saphyr::Location, reason: impl Into<String>) {
        self.list.push(at_location(self.file, at, reason.into()));
    }

    /// The value of `result`, or `None` after recording its error at `at`.
    pub fn check<T>(
        &mut self,
        at: &serde_saphyr::Location,
        result: Result<T, String>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(reason) => {
                self.at(at, reason);
                None
            }
        }
    }
}

/// A problem at a YAML position (or for the whole file, when the position is unknown).
pub(crate) fn at_location(file: &str, at: &serde_saphyr::Location, reason: String) -> PolicyError {
    at_position(file, at.line(), at.column(), reason)
}

/// A problem at `line`:`column` (1-based; line 0: for the whole file).
pub(crate) fn at_position(file: &str, line: u64, column: u64, reason: String) -> PolicyError {
    if line == 0 {
        PolicyError::File {
            file: file.to_owned(),
            reason,
        }
    } else {
        PolicyError::At {
            file: file.to_owned(),
            line,
            column,
            reason,
        }
    }
}

/// `file:line` of a YAML position, as route and rule locations are shown.
pub(crate) fn file_line(file: &str, at: &serde_saphyr::Location) -> String {
    format!("{file}:{}", at.line())
}
