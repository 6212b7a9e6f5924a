//! `trace`: run a VMM and read the kernel's TSC events of its whole process
//! tree, then show them as `import` does — the same table as `run --backend
//! kvm`, and with `--compare` what each model does with these very writes.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lab_server::traced::{self, Ended, TraceError, Traced};
use scenarios::import::{ImportLimits, Importer};

use super::Fail;
use super::imported::{self, Show};
use crate::progress::Progress;
use crate::render;

/// `trace`'s flags.
#[derive(clap::Args, Debug)]
pub(crate) struct Options {
    /// Stop CMD after this many seconds (it is stopped cleanly: SIGTERM, then SIGKILL).
    #[arg(long)]
    pub(crate) duration: Option<f64>,
    /// Write the traced events as a trace file (the kernel's text format) that
    /// `import` and the notebook's "Import trace…" open.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// JSON Lines: the trace's events (backend `trace`), and the models' with --compare.
    #[arg(long)]
    pub(crate) json: bool,
    /// Replay the four models at the trace's moments, with the trace's values.
    #[arg(long)]
    pub(crate) compare: bool,
    /// The VMM and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

/// Ctrl-C and SIGTERM set `stop`: CMD is then stopped and the trace shown.
fn on_signals(stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stop.store(true, Ordering::SeqCst);
        });
    });
}

pub(crate) fn run(out: &mut impl Write, o: Options) -> Result<(), Fail> {
    let duration = match o.duration {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(Fail::Input(format!(
                "--duration {s}: give a number of seconds above 0"
            )));
        }
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    on_signals(stop.clone());
    let t = {
        let shown = o.command.join(" ");
        let progress = Progress::spinner("trace", format!("no TSC event yet · `{shown}`"));
        let mut seen = 0;
        let mut events = |n: usize| {
            if n != seen {
                seen = n;
                progress.set_message(format!("{n} TSC events · `{shown}`"));
            }
        };
        // With a progress line up, CMD's lines come through it, not under it.
        let output = progress.is_shown().then(|| {
            let print = progress.printer();
            Arc::new(move |line: &[u8]| {
                print(&|| {
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(line);
                    let _ = err.flush();
                });
            }) as traced::OutputSink
        });
        let watch = traced::Watch {
            events: Some(&mut events),
            output,
        };
        traced::trace(&o.command, duration, &stop, watch).map_err(|e| match e {
            TraceError::Unavailable(_) => Fail::Unavailable(e.to_string()),
            TraceError::Spawn(..) => Fail::Input(e.to_string()),
        })?
    };
    render::traced(&mut std::io::stderr(), &t, &o.command)?;
    let imported = to_import(&t);
    render::import_notes(&mut std::io::stderr(), &imported, "trace")?;
    let khz = super::import::host_tsc_khz().ok_or_else(|| {
        Fail::Unavailable("this host's TSC rate is unknown (KVM_GET_TSC_KHZ failed)".into())
    })?;
    if imported.vms.is_empty() {
        return Err(Fail::Input(format!(
            "`{}` made no VM: the kernel traced no TSC write of its process tree",
            o.command.join(" ")
        )));
    }
    let how = Show {
        json: o.json,
        compare: o.compare,
        scenario: false,
        kernel: None,
    };
    for (i, vm) in imported.vms.iter().enumerate() {
        let Some(run) = imported.run(vm.id, khz) else {
            continue;
        };
        if imported.vms.len() > 1 && !o.json {
            writeln!(
                out,
                "{}VM {} (pid {})",
                if i > 0 { "\n" } else { "" },
                vm.id,
                vm.tgid.or(vm.pid).map_or("?".into(), |p| p.to_string())
            )?;
        }
        imported::show(out, &run, &how)?;
    }
    if let Some(path) = &o.out {
        std::fs::write(path, traced::trace_text(&t, &o.command))
            .map_err(|e| Fail::Input(format!("{}: cannot write: {e}", path.display())))?;
    }
    if t.ended == Ended::Exited && !t.status.success() {
        eprintln!("note: `{}` exited with {}", o.command.join(" "), t.status);
    }
    Ok(())
}

/// The traced events, read by the importer as a trace of the x86-tsc clock
/// when perf's clock converts to the TSC, else of nanoseconds.
fn to_import(t: &Traced) -> scenarios::import::Imported {
    let mut importer = Importer::new(ImportLimits::DEFAULT);
    for s in &t.samples {
        let ts = match t.tsc_clock {
            Some(c) => c.tsc(s.time),
            None => s.time,
        };
        let task = t.tasks.get(&s.tid).map_or("", String::as_str);
        importer.push_event(
            task,
            s.tid,
            Some(s.pid),
            ts,
            t.tsc_clock.is_some(),
            s.record.clone(),
        );
    }
    importer.finish()
}
