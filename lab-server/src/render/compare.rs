//! `run --compare`: every model side by side, a row per write.

use std::io::{self, Write};

use scenarios::{BackendId, Event, Scenario, WriteEvent};

use super::{count_cell, count_mark, on, opt, style, verdict};

/// One model's run for `--compare`: its events up to the end, or up to the
/// step it could not make.
pub(crate) struct ModelRun {
    pub(crate) backend: BackendId,
    pub(crate) events: Vec<Event>,
    /// `file:line:col: message` of the step it could not make.
    pub(crate) error: Option<String>,
}

/// All models side by side, a row per write, the first divergence marked;
/// last, why real KVM is not among them (`kvm_note`) when it could not run.
pub(crate) fn compare(
    out: &mut impl Write,
    scenario: &Scenario,
    runs: &[ModelRun],
    kvm_note: Option<&str>,
) -> io::Result<()> {
    let title = scenario.title().unwrap_or("(untitled scenario)");
    writeln!(out, "{title} — every model")?;
    writeln!(
        out,
        "cell: nr_vcpus_matched_tsc/online_vcpus, then what the write did:"
    )?;
    writeln!(
        out,
        "  new = new generation · +1 = counted · +1! = counted again (the 2014 bug) · = = already counted\n  =! = wrongly taken as already counted (u8 wrap) · ✔ = vcpus_matched"
    )?;
    writeln!(out)?;
    let runs_writes: Vec<(BackendId, Vec<&WriteEvent>)> = runs
        .iter()
        .map(|r| (r.backend, scenarios::trace::writes(&r.events).collect()))
        .collect();
    // What real KVM without tracefs did not observe is not compared.
    let divergence = scenarios::first_divergence(&runs_writes);
    let writes: Vec<&Vec<&WriteEvent>> = runs_writes.iter().map(|(_, w)| w).collect();
    write!(
        out,
        "{:>5} {:>4} {:>4}  {:<6} {:>16}",
        "write", "line", "vcpu", "origin", "value"
    )?;
    for r in runs {
        write!(out, "  {:<14}", r.backend.name())?;
    }
    writeln!(out)?;
    let rows = writes.iter().map(|w| w.len()).max().unwrap_or(0);
    for i in 0..rows {
        let row: Vec<Option<&WriteEvent>> = writes.iter().map(|w| w.get(i).copied()).collect();
        let Some(first) = row.iter().flatten().next() else {
            continue;
        };
        write!(
            out,
            "{:>5} {:>4} {:>4}  {:<6} {:>16}",
            first.write,
            first.line,
            first.vcpu,
            first.origin.name(),
            first.value
        )?;
        for w in &row {
            // Padded by its plain width: the mark may be painted.
            let (cell, width) = match w {
                Some(w) => {
                    let nr = format!("{}/{} ", opt(w.nr_matched), w.online);
                    let tick = if w.vcpus_matched == Some(true) {
                        " ✔"
                    } else {
                        ""
                    };
                    let mark = count_mark(w.count);
                    let width = nr.chars().count() + mark.chars().count() + tick.chars().count();
                    (
                        format!("{nr}{}{tick}", count_cell(w.count, mark.chars().count())),
                        width,
                    )
                }
                None => ("—".to_string(), 1),
            };
            write!(out, "  {cell}{:1$}", "", 14usize.saturating_sub(width))?;
        }
        if divergence.as_ref().is_some_and(|d| d.write == first.write) {
            write!(
                out,
                "  {}",
                style::paint(style::DIVERGENCE, "◀ first divergence")
            )?;
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    for r in runs {
        let b = r.backend;
        if let Some(e) = &r.error {
            writeln!(out, "{:<14} stopped: {e}", b.name())?;
        } else if let Some(Event::Summary(s)) = r.events.last() {
            writeln!(
                out,
                "{:<14} nr {:>3}/{:<3} master clock {:<3} kvmclock {}{}",
                b.name(),
                opt(s.nr_matched),
                s.online,
                on(s.master_clock),
                verdict(s),
                if s.implicit_run {
                    " (after an implicit run *)"
                } else {
                    ""
                }
            )?;
        }
    }
    if divergence.is_none() {
        let all_ran = runs.iter().all(|r| r.error.is_none());
        writeln!(
            out,
            "(the models agree on every write{})",
            if all_ran { "" } else { " they made" }
        )?;
    }
    if let Some(note) = kvm_note {
        writeln!(out, "{note}")?;
    }
    Ok(())
}
