//! `host`: this machine's KVM, for people.

use std::io::{self, Write};

use scenarios::trace::HostReport;

use super::{opt, yes};

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
        None => {
            writeln!(out, "tracing           yes: {}", r.trace_events.join(", "))?;
            if let Some(how) = &r.trace_reader {
                writeln!(out, "                  read by {how}")?;
            }
        }
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
