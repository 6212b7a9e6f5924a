//! Plain-text views of what the commands print: a run's table, the models side
//! by side, the host report, and the lines of `check`, `conform`, `bench`,
//! `load`, `list` and `fmt`. (JSON output is the commands' own.)

mod bench;
mod check;
mod compare;
mod conform;
mod host;
mod import;
mod library;
mod load;
mod run;

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

fn verdict(s: &Summary) -> String {
    let stable = s.pvclock_stable.iter().filter(|&&b| b).count();
    format!(
        "{} (stable bit on {stable} of {} vCPUs)",
        if s.kvmclock_stable {
            "STABLE"
        } else {
            "UNSTABLE"
        },
        s.online
    )
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
