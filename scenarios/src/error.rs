//! Errors with a place: every message a learner sees says where and why.
//!
//! A scenario that does not parse or check gives [`Errors`], each at a line
//! and column. A run that fails gives one [`RunError`]: the backend, the step's
//! line where the step has one, and the backend's [`StepError`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::backend::StepError;
use crate::trace::BackendId;

/// A problem at a line and column of a scenario (both 1-based; column counts
/// characters, not bytes). Column 1 is used when only the line is known, for
/// example for scenarios that arrived as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
    /// What is wrong, and how to put it right where the lab knows.
    pub message: String,
}

impl Error {
    /// An error at `line:col` (a column of 0 becomes 1).
    pub fn new(line: u32, col: u32, message: impl Into<String>) -> Self {
        Error {
            line,
            col: col.max(1),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for Error {}

/// All the problems found in one scenario, in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Errors(pub Vec<Error>);

impl Errors {
    /// No error at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors in source order.
    pub fn iter(&self) -> impl Iterator<Item = &Error> {
        self.0.iter()
    }

    /// One `file:line:col: message` line per error, as compilers print them.
    pub fn render(&self, file: &str) -> String {
        self.0
            .iter()
            .map(|e| format!("{file}:{e}\n"))
            .collect::<String>()
    }
}

impl fmt::Display for Errors {
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

impl std::error::Error for Errors {}

/// Why a run stopped before its summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunError {
    /// A backend could not make a step.
    Step {
        /// The backend.
        backend: BackendId,
        /// The scenario line of the step; `None` for the implicit `run *`.
        line: Option<u32>,
        /// What the backend said.
        error: StepError,
    },
    /// The backend is not a kernel model (real KVM runs in lab-server): a
    /// caller's mistake, not the scenario's.
    NotAModel(BackendId),
}

impl RunError {
    /// The scenario line of the step that failed, where it has one.
    pub fn line(&self) -> Option<u32> {
        match self {
            RunError::Step { line, .. } => *line,
            RunError::NotAModel(_) => None,
        }
    }

    /// The backend's own error, if a step failed.
    pub fn step_error(&self) -> Option<&StepError> {
        match self {
            RunError::Step { error, .. } => Some(error),
            RunError::NotAModel(_) => None,
        }
    }
}

impl fmt::Display for RunError {
    /// `14:1: kvm: …` where the step has a line (`file:` goes in front of
    /// it, as for parse errors), `kvm: …` where it has none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Step {
                backend,
                line: Some(line),
                error,
            } => write!(f, "{line}:1: {backend}: {error}"),
            RunError::Step {
                backend,
                line: None,
                error,
            } => write!(f, "{backend}: {error}"),
            RunError::NotAModel(b) => {
                write!(f, "`{b}` is not a model: it runs in lab-server")
            }
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.step_error().map(|e| e as _)
    }
}
