//! Plain-text views of a run: a line per TSC write, and the models side by side.

use std::io::{self, Write};

use scenarios::trace::{ClockEvent, Count, HostReport, KhzEvent, Summary};
use scenarios::{BackendId, Event, RunEvent, Scenario, WriteEvent};

/// The streaming table of one backend's run.
pub(crate) struct Table<'a> {
    scenario: &'a Scenario,
    backend: BackendId,
}

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

/// What a write did to the counter, in four characters.
fn count_mark(c: Option<Count>) -> &'static str {
    let Some(c) = c else { return "?" };
    match c {
        Count::Reset => "new",
        Count::Counted => "+1",
        Count::CountedAgain => "+1!",
        Count::AlreadyCounted => "=",
        Count::StaleGeneration => "=!",
        Count::Untouched => "·",
    }
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
        let origin = serde_json::to_value(w.origin).expect("origin serialises");
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
            "{:>5} {:>4} {:>4}  {:<6} {:>20}  {:>9}  {:>3} {:>3}  {:>9}  {}",
            w.write,
            w.line,
            w.vcpu,
            origin.as_str().unwrap_or("?"),
            w.value,
            generation,
            yes_opt(w.matched),
            count_mark(w.count),
            nr,
            w.why()
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

/// One model's run for `--compare`: its events up to the end, or up to the
/// step it could not make.
pub(crate) struct ModelRun {
    pub(crate) backend: BackendId,
    pub(crate) events: Vec<Event>,
    /// `file:line:col: message` of the step it could not make.
    pub(crate) error: Option<String>,
}

/// All models side by side, a row per write, the first divergence marked.
pub(crate) fn compare(
    out: &mut impl Write,
    scenario: &Scenario,
    runs: &[ModelRun],
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
    let writes: Vec<Vec<&WriteEvent>> = runs
        .iter()
        .map(|r| scenarios::trace::writes(&r.events).collect())
        .collect();
    write!(
        out,
        "{:>5} {:>4} {:>4}  {:<6} {:>16}",
        "write", "line", "vcpu", "origin", "value"
    )?;
    for r in runs {
        write!(out, "  {:<14}", r.backend.name())?;
    }
    writeln!(out)?;
    let rows = writes.iter().map(Vec::len).max().unwrap_or(0);
    let mut diverged = false;
    for i in 0..rows {
        let row: Vec<Option<&WriteEvent>> = writes.iter().map(|w| w.get(i).copied()).collect();
        let Some(first) = row.iter().flatten().next() else {
            continue;
        };
        let origin = serde_json::to_value(first.origin).expect("origin serialises");
        write!(
            out,
            "{:>5} {:>4} {:>4}  {:<6} {:>16}",
            first.write,
            first.line,
            first.vcpu,
            origin.as_str().unwrap_or("?"),
            first.value
        )?;
        for w in &row {
            let cell = match w {
                Some(w) => format!(
                    "{}/{} {}{}",
                    opt(w.nr_matched),
                    w.online,
                    count_mark(w.count),
                    if w.vcpus_matched == Some(true) {
                        " ✔"
                    } else {
                        ""
                    }
                ),
                None => "—".to_string(),
            };
            write!(out, "  {cell:<14}")?;
        }
        // What real KVM without tracefs did not observe is not compared.
        let present: Vec<_> = row
            .iter()
            .flatten()
            .filter_map(|w| Some((w.matched?, w.nr_matched?, w.new_generation?)))
            .collect();
        if !diverged && present.windows(2).any(|p| p[0] != p[1]) {
            diverged = true;
            write!(out, "  ◀ first divergence")?;
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
    if !diverged {
        let all_ran = runs.iter().all(|r| r.error.is_none());
        writeln!(
            out,
            "(the models agree on every write{})",
            if all_ran { "" } else { " they made" }
        )?;
    }
    Ok(())
}

/// The host report, for people.
pub(crate) fn host(out: &mut impl Write, r: &HostReport) -> io::Result<()> {
    let yesno = |b: Option<bool>| b.map_or("unknown", yes);
    writeln!(out, "kernel            {}", r.kernel)?;
    writeln!(
        out,
        "clocksource       {}{}",
        r.clocksource,
        if r.clocksource == "tsc" {
            ""
        } else {
            "  (the master clock needs tsc)"
        }
    )?;
    match &r.kvm_problem {
        None => writeln!(out, "/dev/kvm          usable")?,
        Some(p) => writeln!(out, "/dev/kvm          NOT usable: {p}")?,
    }
    writeln!(out, "KVM flavour       {}", r.flavour)?;
    writeln!(out, "offsets honoured  {}", yesno(r.offsets_honoured))?;
    match &r.tracing_problem {
        None => writeln!(
            out,
            "tracing           yes (kvm:kvm_track_tsc, kvm_write_tsc_offset, kvm_update_master_clock, kvm_pvclock_update)"
        )?,
        Some(p) => writeln!(out, "tracing           no: {p}")?,
    }
    writeln!(out, "max vCPUs         {}", opt(r.max_vcpus))?;
    writeln!(out, "tsc_khz           {}", opt(r.tsc_khz))?;
    writeln!(out, "TSC offset attr   {}", yes(r.tsc_offset_attr))?;
    host_notes(out, r)
}

/// The host's notes, as paragraphs.
pub(crate) fn host_notes(out: &mut impl Write, r: &HostReport) -> io::Result<()> {
    for n in &r.notes {
        writeln!(out, "note: {n}")?;
    }
    if !r.notes.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

/// What each kernel would have done with this very run.
pub(crate) fn history(
    out: &mut impl Write,
    runs: &[(BackendId, Result<Vec<Event>, scenarios::Error>)],
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

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("      | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
