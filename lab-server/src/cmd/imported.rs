//! What `import` and `trace` print of a traced VM: the trace's own kernel
//! view as the same table as `run --backend kvm` (or JSON Lines), and with
//! `--compare` what each model does with these very writes at these very
//! moments, the first divergence marked, and every write where the trace and
//! `linux-6.18` disagree.

use std::io::Write;

use scenarios::import::{Imported, ImportedRun};
use scenarios::{BackendId, Event};

use super::Fail;
use crate::render;

/// How to show a traced VM.
#[derive(Clone, Debug, Default)]
pub(crate) struct Show {
    /// JSON Lines instead of tables.
    pub(crate) json: bool,
    /// The four models beside the trace.
    pub(crate) compare: bool,
    /// Only the reconstructed scenario.
    pub(crate) scenario: bool,
    /// The kernel version the trace comes from, as the user gave it.
    pub(crate) kernel: Option<String>,
}

/// Which VM to show: the one asked for, or the only one; several without
/// `--vm` is an error that lists them.
pub(crate) fn pick(imported: &Imported, vm: Option<u32>, label: &str) -> Result<u32, Fail> {
    match (vm, imported.vms.len()) {
        (Some(id), _) => imported.vm(id).map(|v| v.id).ok_or_else(|| {
            Fail::Input(format!(
                "{label}: there is no VM {id}; the trace has {}:\n{}",
                imported.vms.len(),
                render::import_list(imported)
            ))
        }),
        (None, 1) => Ok(imported.vms[0].id),
        (None, 0) => Err(Fail::Input(format!(
            "{label}: no VM in this trace: no kvm_write_tsc_offset/kvm_track_tsc line was read{}",
            render::import_problems_brief(imported)
        ))),
        (None, n) => Err(Fail::Input(format!(
            "{label}: the trace holds {n} VMs; pick one with --vm ID:\n{}",
            render::import_list(imported)
        ))),
    }
}

/// Prints one VM's run as `show` says.
pub(crate) fn show(out: &mut impl Write, run: &ImportedRun, how: &Show) -> Result<(), Fail> {
    if how.scenario {
        write!(out, "{}", run.text)?;
        return Ok(());
    }
    let runs = if how.compare { replay(run) } else { Vec::new() };
    if how.json {
        for e in &run.events {
            writeln!(out, "{}", to_json(e))?;
        }
        for r in &runs {
            for e in &r.events {
                writeln!(out, "{}", to_json(e))?;
            }
            if let Some(e) = &r.error {
                eprintln!("{}: {e}", r.backend);
            }
        }
        return Ok(());
    }
    for note in &run.estimate {
        writeln!(out, "note: {note}")?;
    }
    if !run.estimate.is_empty() {
        writeln!(out)?;
    }
    if how.compare {
        let mut all = runs;
        all.push(render::ModelRun {
            backend: BackendId::Trace,
            events: run.events.clone(),
            error: None,
        });
        render::compare(out, &run.scenario, &all, None)?;
        let model = all
            .iter()
            .find(|r| r.backend == BackendId::Linux618)
            .map_or(&[][..], |r| &r.events[..]);
        render::trace_vs_model(
            out,
            &lab_server::conform::compare(&run.events, model),
            how.kernel.as_deref(),
        )?;
    } else {
        let mut table = render::Table::new(&run.scenario, BackendId::Trace);
        table.header(out)?;
        for e in &run.events {
            table.event(out, e)?;
        }
        // What each kernel would have done with these very writes.
        let history: Vec<_> = BackendId::MODELS
            .into_iter()
            .map(|b| {
                let replay = scenarios::replay_model(&run.scenario, b, run.host, run.timing());
                (b, replay.into_result())
            })
            .collect();
        render::history(out, &history)?;
    }
    if !run.complete {
        writeln!(
            out,
            "\nnote: the trace had more events of this VM than were kept; the run ends at the last one kept"
        )?;
    }
    Ok(())
}

/// The four models replayed with the trace's moments and values.
fn replay(run: &ImportedRun) -> Vec<render::ModelRun> {
    BackendId::MODELS
        .into_iter()
        .map(|b| {
            let c = scenarios::replay_model(&run.scenario, b, run.host, run.timing());
            render::ModelRun {
                backend: b,
                error: c.error.as_ref().map(ToString::to_string),
                events: c.events,
            }
        })
        .collect()
}

fn to_json(e: &Event) -> String {
    serde_json::to_string(e).expect("events serialise")
}
