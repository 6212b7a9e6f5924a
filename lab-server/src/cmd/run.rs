//! `run`: one backend's run as a table (or JSON Lines), or every model side by side.

use std::io::{self, Write};

use lab_server::kvm::{self, KvmBackend};
use scenarios::{BackendId, Event, RunError, Scenario};

use super::Fail;
use super::arg::{load_text, parse};
use crate::render;

/// How to run the scenario, and how to print it.
pub(crate) struct Options {
    pub(crate) mode: Mode,
    /// JSON Lines instead of tables.
    pub(crate) json: bool,
}

/// On one backend, or on all of them.
pub(crate) enum Mode {
    /// One backend: a model, or this machine's KVM.
    One { backend: BackendId },
    /// Every model side by side, and real KVM too when `with_kvm` and it is usable.
    Compare { with_kvm: bool },
}

pub(crate) fn run(out: &mut impl Write, arg: &str, options: Options) -> Result<(), Fail> {
    let Options { mode, json } = options;
    let loaded = load_text(arg)?;
    let scenario = parse(&loaded)?;
    // `file:line:1: kvm: …` as for parse errors, or `file: kvm: …` for a step without a line.
    let at = |e: &RunError| match e.line() {
        Some(_) => format!("{}:{e}", loaded.label),
        None => format!("{}: {e}", loaded.label),
    };
    let backend = match mode {
        Mode::One { backend } => backend,
        Mode::Compare { with_kvm } => {
            let (runs, kvm_note) = compare_runs(&scenario, with_kvm, &at);
            if json {
                for r in &runs {
                    for e in &r.events {
                        writeln!(out, "{}", to_json(e))?;
                    }
                }
                for r in &runs {
                    if let Some(e) = &r.error {
                        eprintln!("{e}");
                    }
                }
            } else {
                render::compare(out, &scenario, &runs, kvm_note.as_deref())?;
            }
            return Ok(());
        }
    };
    let mut io_err: Option<io::Error> = None;
    let mut table = render::Table::new(&scenario, backend);
    let mut kvm_backend = None;
    let mut model_backend = None;
    let runner: &mut dyn scenarios::Backend = if backend == BackendId::Kvm {
        kvm::admit(&kvm::LIMITS, &scenario)
            .map_err(|e| Fail::Input(format!("{}: {e}", loaded.label)))?;
        let report = lab_server::kvm::host::report();
        let b = KvmBackend::new(report.clone(), kvm::LIMITS).map_err(|e| Fail::kvm("kvm", &e))?;
        if !json {
            render::host_notes(out, &report)?;
            table.header(out)?;
        }
        kvm_backend.insert(b)
    } else {
        if !json {
            table.header(out)?;
        }
        model_backend
            .insert(
                scenarios::models::model(backend, scenario.host(), scenarios::Timing::Virtual)
                    .expect("a model backend"),
            )
            .as_mut()
    };
    let result = scenarios::execute(&scenario, runner, &mut |e| {
        if io_err.is_some() {
            return;
        }
        let r = if json {
            writeln!(out, "{}", to_json(e))
        } else {
            table.event(out, e)
        };
        if let Err(err) = r {
            io_err = Some(err);
        }
    });
    if let Some(e) = io_err {
        return Err(e.into());
    }
    result.map_err(|e| Fail::Input(at(&e)))?;
    if let (Some(kvm), false) = (&kvm_backend, json) {
        render::history(out, &lab_server::conform::history(&scenario, kvm))?;
    }
    Ok(())
}

/// The runs of `--compare`: the four models, and real KVM when it is usable —
/// then the models replay the real run's timing, so the columns line up.
/// A run that stops part way keeps its events up to there.
fn compare_runs(
    scenario: &Scenario,
    with_kvm: bool,
    at: &dyn Fn(&RunError) -> String,
) -> (Vec<render::ModelRun>, Option<String>) {
    let run = |backend, c: scenarios::Collected| render::ModelRun {
        backend,
        error: c.error.as_ref().map(at),
        events: c.events,
    };
    let mut kvm_note = None;
    let kvm = if with_kvm {
        let report = kvm::host::report();
        match kvm::admit(&kvm::LIMITS, scenario)
            .and_then(|()| KvmBackend::new(report, kvm::LIMITS).map_err(|e| e.to_string()))
        {
            Ok(mut b) => {
                let collected = scenarios::execute_collect(scenario, &mut b);
                Some((b, run(BackendId::Kvm, collected)))
            }
            Err(e) => {
                kvm_note = Some(format!("kvm: not run ({e})"));
                None
            }
        }
    } else {
        None
    };
    let mut runs: Vec<render::ModelRun> = BackendId::MODELS
        .into_iter()
        .map(|b| {
            let (host, timing) = match &kvm {
                Some((k, r)) if r.error.is_none() => (k.replay_host(), k.timing()),
                _ => (scenario.host(), scenarios::Timing::Virtual),
            };
            run(b, scenarios::replay_model(scenario, b, host, timing))
        })
        .collect();
    if let Some((_, run)) = kvm {
        runs.push(run);
    }
    (runs, kvm_note)
}

fn to_json(e: &Event) -> String {
    serde_json::to_string(e).expect("events serialise")
}
