//! Plain-text views of what the commands print: a run's table, the models side
//! by side, the host report, and the lines of `check`, `conform`, `bench`,
//! `load`, `list`, `fmt` and `notebook`. (JSON output is the commands' own.) What is
//! coloured, and how, is [`style`]'s.

mod bench;
mod check;
mod compare;
mod conform;
mod host;
mod import;
mod library;
mod load;
mod notebook;
mod run;
pub(crate) mod style;

use std::io::{self, Write};

use scenarios::trace::{Count, Summary};

pub(crate) use bench::bench;
pub(crate) use check::{expectation, no_expectations};
pub(crate) use compare::{ModelRun, compare};
pub(crate) use conform::{ConformCounts, conform_case, conform_header, conform_summary};
pub(crate) use host::{host, host_notes};
pub(crate) use import::{import_list, import_notes, import_problems_brief, trace_vs_model, traced};
pub(crate) use library::{fmt_formatted, fmt_unformatted, list_entry};
pub(crate) use load::load;
pub(crate) use notebook::{notebook_exported, notebook_imported};
pub(crate) use run::{Table, history};

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A value the backend may not have observed: `?` when it did not.
fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "?".to_string(), |v| v.to_string())
}

fn yes_opt(b: Option<bool>) -> &'static str {
    b.map_or("?", yes)
}

fn on(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// What a write did to the counter, in four characters (`Count::mark`).
fn count_mark(c: Option<Count>) -> &'static str {
    c.map_or("?", Count::mark)
}

/// The count mark right-aligned in `width` columns, then painted.
fn count_cell(c: Option<Count>, width: usize) -> String {
    style::paint(style::count(c), format!("{:>width$}", count_mark(c)))
}

fn verdict(s: &Summary) -> String {
    let stable = s.pvclock_stable.iter().filter(|&&b| b).count();
    let word = if s.kvmclock_stable {
        style::paint(style::STABLE, "STABLE")
    } else {
        style::paint(style::UNSTABLE, "UNSTABLE")
    };
    format!("{word} (stable bit on {stable} of {} vCPUs)", s.online)
}

/// `passed, failed, skipped`: the last line of `check` and of `conform`.
pub(crate) fn tally(
    out: &mut impl Write,
    passed: usize,
    failed: usize,
    skipped: usize,
) -> io::Result<()> {
    writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")
}
