//! `check`: a line per expectation.

use std::io::{self, Write};

use scenarios::exec::ExpectOutcome;

/// `file:line: status [backend] expect`, and why when it did not pass.
pub(crate) fn expectation(out: &mut impl Write, label: &str, o: &ExpectOutcome) -> io::Result<()> {
    let status = match o.passed {
        Some(true) => "ok",
        Some(false) => "FAILED",
        None => "skipped",
    };
    write!(
        out,
        "{}:{}: {status:7} [{}] {}",
        label, o.line, o.backend, o.expect
    )?;
    if o.passed != Some(true) && !o.note.is_empty() {
        write!(out, " — {}", o.note)?;
    }
    writeln!(out)
}

/// A scenario with nothing to check.
pub(crate) fn no_expectations(out: &mut impl Write, label: &str) -> io::Result<()> {
    writeln!(out, "{label}: no `expect` lines")
}
