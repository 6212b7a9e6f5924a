//! `import` and `trace`: the VMs found, what could not be read, how a traced
//! VMM ended, and where the trace and `linux-6.18` disagree.

use std::io::{self, Write};

use lab_server::conform::Outcome;
use lab_server::traced::{Ended, Traced};
use scenarios::import::{ClockKind, Imported};

/// The VMs found, a line each (`--list`, and the error of a trace with several).
pub(crate) fn import_list(imported: &Imported) -> String {
    let mut s = format!(
        "{:>3}  {:>8}  {:>8}  {:<18} {:>5}  {:>6}  {}\n",
        "vm", "tgid", "pid", "task", "vCPUs", "writes", "time span"
    );
    for vm in &imported.vms {
        let n = |v: Option<u32>| v.map_or("?".to_string(), |v| v.to_string());
        let span = match (vm.span, imported.clock) {
            (Some((a, b)), ClockKind::Seconds { .. }) => {
                format!(
                    "{:.6} s → {:.6} s ({:.3} s)",
                    a as f64 / 1e9,
                    b as f64 / 1e9,
                    (b - a) as f64 / 1e9
                )
            }
            (Some((a, b)), ClockKind::Counter) => format!("{a} → {b} ({} counts)", b - a),
            _ => "(no timestamps)".to_string(),
        };
        s.push_str(&format!(
            "{:>3}  {:>8}  {:>8}  {:<18} {:>5}  {:>6}  {span}\n",
            vm.id,
            n(vm.tgid),
            n(vm.pid),
            vm.task.as_deref().unwrap_or("?"),
            vm.vcpus,
            vm.writes
        ));
    }
    s
}

/// Why nothing was found, in a few words (for the error).
pub(crate) fn import_problems_brief(imported: &Imported) -> String {
    match imported.problems.first() {
        Some(p) => format!(" (first problem: {p})"),
        None if imported.foreign_events > 0 => {
            format!(" ({} lines of other events)", imported.foreign_events)
        }
        None => String::new(),
    }
}

/// What could not be read, and where the input stopped: to stderr, always.
pub(crate) fn import_notes(
    out: &mut impl Write,
    imported: &Imported,
    label: &str,
) -> io::Result<()> {
    for p in &imported.problems {
        writeln!(out, "{label}:{p}")?;
    }
    if imported.problems_not_kept > 0 {
        writeln!(
            out,
            "{label}: … and {} more problems",
            imported.problems_not_kept
        )?;
    }
    if let Some(s) = &imported.stopped {
        writeln!(out, "{label}:line {}: {}", s.line, s.message)?;
    }
    if imported.foreign_events > 0 {
        writeln!(
            out,
            "{label}: {} lines of other events were skipped",
            imported.foreign_events
        )?;
    }
    if imported.events_not_kept > 0 {
        writeln!(
            out,
            "{label}: {} TSC events were counted but not kept (of no VM, like KVM_CREATE_VM's own kvm_update_master_clock, or past the limits of {} events, {} VMs, {} vCPUs a VM)",
            imported.events_not_kept,
            imported.limits.max_events,
            imported.limits.max_vms,
            imported.limits.max_vcpus
        )?;
    }
    Ok(())
}

/// How a traced VMM ran and ended (to stderr).
pub(crate) fn traced(out: &mut impl Write, t: &Traced, cmd: &[String]) -> io::Result<()> {
    let how = match t.ended {
        Ended::Exited => "exited",
        Ended::Duration => "stopped at --duration",
        Ended::Interrupted => "stopped on request",
    };
    writeln!(
        out,
        "traced `{}` (pid {}) for {:.2} s: {how} ({}); {} TSC events{}",
        cmd.join(" "),
        t.pid,
        t.ran.as_secs_f64(),
        t.status,
        t.samples.len(),
        match t.tsc_clock {
            Some(_) => ", timed in TSC cycles (values exact)",
            None => ", timed in ns (values estimated)",
        }
    )?;
    if t.losses.lost > 0 || t.losses.undecodable > 0 || t.dropped > 0 {
        writeln!(
            out,
            "note: {} events lost to a full ring, {} did not decode, {} past the lab's bound",
            t.losses.lost, t.losses.undecodable, t.dropped
        )?;
    }
    Ok(())
}

/// Every write where the trace's kernel and `linux-6.18` disagree, both shown.
pub(crate) fn trace_vs_model(
    out: &mut impl Write,
    o: &Outcome,
    kernel: Option<&str>,
) -> io::Result<()> {
    let Outcome::Diverge { divergences } = o else {
        if let Outcome::Agree { writes, compared } = o {
            writeln!(
                out,
                "the trace and linux-6.18 agree on every write ({writes} writes, {compared} values)"
            )?;
        }
        return Ok(());
    };
    writeln!(
        out,
        "the trace and linux-6.18 disagree{}:",
        match kernel {
            Some(k) => format!(" (the trace is of Linux {k}, which may legitimately differ)"),
            None => String::new(),
        }
    )?;
    for d in divergences {
        let at = d.write.map_or("end".to_string(), |w| {
            format!("write {w} (line {})", d.line)
        });
        writeln!(
            out,
            "  {at}: {} — trace {} · linux-6.18 {}",
            d.field, d.kvm, d.model
        )?;
    }
    Ok(())
}
