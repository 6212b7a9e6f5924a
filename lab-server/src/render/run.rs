//! A run's table and the lines that follow it: one line per TSC write, vCPU run,
//! clock or frequency change; the end state; what each kernel would have done.

use std::io::{self, Write};

use scenarios::trace::{ClockEvent, KhzEvent, Summary};
use scenarios::{BackendId, Event, RunEvent, Scenario, WriteEvent};

use super::{count_cell, on, opt, style, verdict, yes_opt};

/// The streaming table of one backend's run.
pub(crate) struct Table<'a> {
    scenario: &'a Scenario,
    backend: BackendId,
}

impl<'a> Table<'a> {
    pub(crate) fn new(scenario: &'a Scenario, backend: BackendId) -> Self {
        Table { scenario, backend }
    }

    pub(crate) fn header(&self, out: &mut impl Write) -> io::Result<()> {
        let title = self.scenario.title().unwrap_or("(untitled scenario)");
        writeln!(out, "{} — {title}", self.backend)?;
        writeln!(out, "{}", self.backend.describe())?;
        writeln!(out)?;
        writeln!(
            out,
            "{:>5} {:>4} {:>4}  {:<6} {:>20}  {:>9}  {:>7}  {:>9}  why",
            "write", "line", "vcpu", "origin", "value", "gen c/t", "matched", "nr/online"
        )
    }

    pub(crate) fn event(&mut self, out: &mut impl Write, e: &Event) -> io::Result<()> {
        match e {
            Event::Write(w) => self.write(out, w),
            Event::Run(r) => run_line(out, r),
            Event::Clock(c) => clock_line(out, c),
            Event::Khz(k) => khz_line(out, k),
            Event::Summary(s) => summary(out, s),
        }
    }

    fn write(&self, out: &mut impl Write, w: &WriteEvent) -> io::Result<()> {
        let generation = format!(
            "{}/{}",
            opt(w.cur_tsc_generation),
            opt(w.this_tsc_generation)
        );
        let nr = format!(
            "{}/{}{}",
            opt(w.nr_matched),
            w.online,
            if w.vcpus_matched == Some(true) {
                " ✔"
            } else {
                "  "
            }
        );
        writeln!(
            out,
            "{:>5} {:>4} {:>4}  {:<6} {:>20}  {:>9}  {:>3} {}  {:>9}  {}",
            w.write,
            w.line,
            w.vcpu,
            w.origin.name(),
            w.value,
            generation,
            yes_opt(w.matched),
            count_cell(w.count, 3),
            nr,
            style::why(&w.why(), w.count)
        )
    }
}

fn run_line(out: &mut impl Write, r: &RunEvent) -> io::Result<()> {
    let mut what = Vec::new();
    if r.masterclock_updated == Some(true) {
        what.push(format!("master clock recomputed → {}", on(r.master_clock)));
    }
    match r.clock_updated {
        Some(true) => what.push("pvclock page rewritten".to_string()),
        Some(false) => {
            what.push("pvclock page not rewritten (no KVM_REQ_CLOCK_UPDATE)".to_string())
        }
        None => {}
    }
    writeln!(
        out,
        "{:>5} {:>4} {:>4}  run{}   {} · stable bit {}",
        "",
        if r.implicit {
            "-".to_string()
        } else {
            r.line.to_string()
        },
        r.vcpu,
        if r.implicit { "*" } else { " " },
        what.join(", "),
        if r.pvclock_stable { "SET" } else { "clear" }
    )
}

fn clock_line(out: &mut impl Write, c: &ClockEvent) -> io::Result<()> {
    writeln!(
        out,
        "{:>5} {:>4} {:>4}  KVM_SET_CLOCK: master clock recomputed → {} (vcpus_matched {})",
        "",
        c.line,
        "",
        on(c.master_clock),
        yes_opt(c.vcpus_matched)
    )
}

fn khz_line(out: &mut impl Write, k: &KhzEvent) -> io::Result<()> {
    writeln!(
        out,
        "{:>5} {:>4} {:>4}  KVM_SET_TSC_KHZ: virtual_tsc_khz = {}",
        "", k.line, k.vcpu, k.virtual_tsc_khz
    )
}

fn summary(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    writeln!(out)?;
    if s.implicit_run {
        writeln!(
            out,
            "(the scenario does not end with `run *`: the state below is after an implicit one, marked run*)"
        )?;
    }
    writeln!(
        out,
        "end: online_vcpus {} · nr_vcpus_matched_tsc {} · vcpus_matched {} · cur_tsc_generation {} · master clock {}",
        s.online,
        opt(s.nr_matched),
        yes_opt(s.vcpus_matched),
        opt(s.cur_tsc_generation),
        on(s.master_clock)
    )?;
    writeln!(out, "kvmclock: {}", verdict(s))
}

/// What each kernel would have done with this very run.
pub(crate) fn history(
    out: &mut impl Write,
    runs: &[(BackendId, Result<Vec<Event>, scenarios::RunError>)],
) -> io::Result<()> {
    writeln!(
        out,
        "\nthis very run, replayed with its measured timing and values through each kernel:"
    )?;
    for (b, r) in runs {
        match r {
            Ok(events) => {
                if let Some(Event::Summary(s)) = events.last() {
                    writeln!(
                        out,
                        "  on {:<14} nr {}/{} · master clock {} · kvmclock {}",
                        b.name(),
                        opt(s.nr_matched),
                        s.online,
                        on(s.master_clock),
                        verdict(s)
                    )?;
                }
            }
            Err(e) => writeln!(out, "  on {:<14} cannot run: {e}", b.name())?,
        }
    }
    Ok(())
}
