//! Errors with a place: every message a learner sees says where and why.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A problem at a line and column of a scenario (both 1-based; column counts
/// characters, not bytes). Column 1 is used when only the line is known, for
/// example for scenarios that arrived as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl Error {
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Errors(pub Vec<Error>);

impl Errors {
    pub fn one(line: u32, col: u32, message: impl Into<String>) -> Self {
        Errors(vec![Error::new(line, col, message)])
    }

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
