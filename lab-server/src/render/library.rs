//! `list`'s line per library scenario, and `fmt`'s per file it changed or would.

use std::io::{self, Write};

/// A library scenario: its name and title.
pub(crate) fn list_entry(out: &mut impl Write, name: &str, title: Option<&str>) -> io::Result<()> {
    writeln!(out, "{:32} {}", name, title.unwrap_or(""))
}

/// `fmt --check`: a file that is not in canonical form.
pub(crate) fn fmt_unformatted(out: &mut impl Write, file: &str) -> io::Result<()> {
    writeln!(
        out,
        "{file}: not in canonical form (run `lab-server fmt {file}`)"
    )
}

/// `fmt`: a file rewritten in canonical form.
pub(crate) fn fmt_formatted(out: &mut impl Write, file: &str) -> io::Result<()> {
    writeln!(out, "{file}: formatted")
}
