//! `conform`: a line per case, and the agreement.

use std::io::{self, Write};

use scenarios::trace::HostReport;

use super::tally;

/// The first line: what is compared, on which host.
pub(crate) fn conform_header(out: &mut impl Write, report: &HostReport) -> io::Result<()> {
    writeln!(
        out,
        "conform: linux-6.18 against this machine's KVM ({}, Linux {}, clocksource {}, tracing {})",
        report.flavour,
        report.kernel,
        report.clocksource,
        if report.tracing {
            "on"
        } else {
            "OFF: counters not compared"
        }
    )
}

/// One line per conformance case; the scenario and every divergence when bad.
pub(crate) fn conform_case(
    out: &mut impl Write,
    case: &lab_server::conform::Case,
    outcome: &lab_server::conform::Outcome,
) -> io::Result<()> {
    use lab_server::conform::Outcome;
    let dots = ".".repeat(34usize.saturating_sub(case.name.len()));
    match outcome {
        Outcome::Agree { writes, compared } => writeln!(
            out,
            "  {} {dots} agree ({writes} writes, {compared} values)",
            case.name
        ),
        Outcome::Skipped { reason } => writeln!(out, "  {} {dots} skipped: {reason}", case.name),
        Outcome::Failed { error } => {
            writeln!(out, "  {} {dots} FAILED: {error}", case.name)?;
            writeln!(out, "{}", indent(&case.text))
        }
        Outcome::Diverge { divergences } => {
            writeln!(out, "  {} {dots} DIVERGED", case.name)?;
            for d in divergences {
                let at = d.write.map_or("end".to_string(), |w| {
                    format!("write {w} (line {})", d.line)
                });
                writeln!(
                    out,
                    "      {at}: {} — kvm {} · linux-6.18 {}",
                    d.field, d.kvm, d.model
                )?;
            }
            writeln!(out, "{}", indent(&case.text))
        }
    }
}

/// How the cases went, counted.
#[derive(Default)]
pub(crate) struct ConformCounts {
    pub(crate) agree: usize,
    pub(crate) diverge: usize,
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
    /// Values compared in the cases that agreed.
    pub(crate) values: usize,
}

/// The last lines: the agreement, and the tally.
pub(crate) fn conform_summary(out: &mut impl Write, c: &ConformCounts) -> io::Result<()> {
    let ConformCounts {
        agree,
        diverge,
        failed,
        skipped,
        values,
    } = *c;
    let checked = agree + diverge + failed;
    writeln!(
        out,
        "\nagreement: {agree}/{checked} scenarios ({:.1}%), {values} values compared; {diverge} diverged, {failed} failed, {skipped} skipped",
        if checked == 0 {
            100.0
        } else {
            100.0 * agree as f64 / checked as f64
        }
    )?;
    tally(out, agree, diverge + failed, skipped)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("      | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
