//! A trace imported into the notebook: what the importer (`lab-import`, a
//! WASM module the page loads only when the user imports) answered, made
//! into what a cell shows — the trace's kernel as a column of its own
//! (backend `trace`), the moments to replay the models at — and the words
//! the page says before the importer is loaded (the bounds, the TSC rate).
//! The importer itself words what it found (the VMs, the problems).

use scenarios::import::ImportLimits;
use scenarios::protocol::{TRACE_MAX_WRITES, TraceReplay};
use scenarios::{BackendId, Event};

use crate::analysis::{BackendRun, Source};

/// The traced host's TSC rate when no lab server reports one: 2.6 GHz.
pub const DEFAULT_KHZ: u32 = 2_600_000;

/// Where the TSC rate of an import came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    /// The lab server's host report (`tsc_khz`).
    Server,
    /// [`DEFAULT_KHZ`]: no lab server reports a rate.
    Default,
    /// Typed by the user.
    Chosen,
}

impl Rate {
    /// The rate to use: `chosen` if any, else the server's, else the default.
    pub fn pick(chosen: Option<u32>, server: Option<u32>) -> (u32, Rate) {
        match (chosen.filter(|&k| k > 0), server.filter(|&k| k > 0)) {
            (Some(k), _) => (k, Rate::Chosen),
            (None, Some(k)) => (k, Rate::Server),
            (None, None) => (DEFAULT_KHZ, Rate::Default),
        }
    }

    /// `2,596,130 kHz (the lab server's host rate)`.
    pub fn words(self, khz: u32) -> String {
        let why = match self {
            Rate::Server => "the lab server's host rate",
            Rate::Default => "the default: no lab server reports a rate here",
            Rate::Chosen => "as entered",
        };
        format!("{} kHz ({why})", grouped(u64::from(khz)))
    }
}

/// One VM of a trace, rebuilt: the cell's text, the trace's run, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedTrace {
    /// The file (or "pasted trace") and the VM.
    pub label: String,
    /// The rebuilt scenario: the trace column is of this text only.
    pub text: String,
    /// The trace's kernel view: backend `trace`, source [`Source::Trace`].
    pub run: BackendRun,
    /// The moments and values the models are replayed at.
    pub replay: TraceReplay,
    /// The TSC rate the values were estimated at, and where it came from.
    pub tsc_khz: u32,
    pub rate: Rate,
    /// How the values were found and their error, in sentences.
    pub estimate: Vec<String>,
    /// Every TSC event of the VM is in the run.
    pub complete: bool,
}

/// What the importer's `Run` hands over for one VM.
#[derive(Clone, Debug, Default)]
pub struct Parts {
    pub vm: u32,
    pub text: String,
    pub tsc_khz: u32,
    pub estimate: Vec<String>,
    pub complete: bool,
    /// The trace's events, a JSON array.
    pub events: String,
    /// [`TraceReplay::to_numbers`].
    pub replay: Vec<u64>,
}

impl ImportedTrace {
    /// VM `run.vm` of `name`, as the importer handed it over.
    pub fn new(run: Parts, name: &str, rate: Rate) -> Result<ImportedTrace, String> {
        let replay = TraceReplay::from_numbers(&run.replay)
            .ok_or("the importer's replay timing could not be read")?;
        let events: Vec<Event> = serde_json::from_str(&run.events)
            .map_err(|e| format!("the importer's events could not be read: {e}"))?;
        let label = format!("{name}, VM {}", run.vm);
        Ok(ImportedTrace {
            run: BackendRun::from_events(
                BackendId::Trace,
                Source::Trace {
                    label: label.clone(),
                },
                events,
            ),
            label,
            text: run.text,
            replay,
            tsc_khz: run.tsc_khz,
            rate,
            estimate: run.estimate,
            complete: run.complete,
        })
    }
}

/// `1234567` → `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether pasted or dropped text is a trace of KVM's TSC events (and not,
/// say, a scenario being moved between cells).
pub fn looks_like_trace(text: &str) -> bool {
    text.contains("kvm_write_tsc_offset") || text.contains("kvm_track_tsc")
}

/// The bounds of an import in the notebook, and what happens past them.
pub fn limits_words() -> String {
    let l = ImportLimits::DEFAULT;
    format!(
        "Read in this browser: nothing is uploaded. Bounds: {} VMs, {} vCPUs a VM, {} TSC events kept, {} KiB a line. \
         Past them events are counted, not kept (a VM's run ends at the last event kept), and a longer line is a problem, not read. \
         A VM of up to {} writes becomes a cell; the rebuilt scenario stops at the language's bounds and says where.",
        l.max_vms,
        grouped(u64::from(l.max_vcpus)),
        grouped(l.max_events),
        l.max_line_bytes / 1024,
        grouped(TRACE_MAX_WRITES),
    )
}

// Native only: lab-import links lab-web itself (its plain logic), so in a
// wasm test build the two copies' wasm-bindgen symbols would collide.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// What lab-import hands over for the captured QEMU 7.2 boot of 4 vCPUs.
    fn boot() -> Parts {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/tests/traces/captured-qemu-7.2-boot-4.trace"
        ))
        .unwrap();
        let mut s = lab_import::Session::new();
        s.push(&text);
        s.finish();
        let run = s.run(1, 2_596_130).unwrap();
        Parts {
            vm: 1,
            text: run.text(),
            tsc_khz: run.tsc_khz(),
            estimate: run.estimate(),
            complete: run.complete(),
            events: run.events(),
            replay: run.replay(),
        }
    }

    #[test]
    fn the_trace_is_a_column_of_its_own_and_the_models_replay_at_its_moments() {
        let t = ImportedTrace::new(boot(), "boot.trace", Rate::Server).unwrap();
        assert_eq!(t.label, "boot.trace, VM 1");
        assert_eq!(t.run.backend, BackendId::Trace);
        assert_eq!(
            t.run.source,
            Source::Trace {
                label: "boot.trace, VM 1".into()
            }
        );
        assert_eq!(t.run.write_count(), 12);
        assert_eq!(t.run.summary().and_then(|s| s.nr_matched), Some(3));
        assert_eq!(t.run.verdict(), crate::analysis::Verdict::Stable);
        let s = scenarios::parse(&t.text).unwrap();
        let mut runs = crate::analysis::replay_models(&s, &BackendId::MODELS, &t.replay);
        let old = &runs[0];
        assert_eq!(old.backend, BackendId::Linux314);
        assert_eq!(old.summary().and_then(|s| s.nr_matched), Some(11));
        assert_eq!(old.verdict(), crate::analysis::Verdict::Unstable);
        // linux-6.18 agrees with the trace; 3.14 parts ways at the first rewrite.
        runs.push(t.run.clone());
        let d = crate::analysis::first_divergence(&runs).unwrap();
        assert_eq!(d.write, 5, "{d:?}");
        let today = [runs[3].clone(), t.run.clone()];
        assert_eq!(crate::analysis::first_divergence(&today), None);
    }

    #[test]
    fn a_run_whose_replay_cannot_be_read_is_refused() {
        let mut run = boot();
        run.replay.truncate(3);
        assert!(ImportedTrace::new(run, "x", Rate::Default).is_err());
        let mut run = boot();
        run.events.truncate(10);
        assert!(ImportedTrace::new(run, "x", Rate::Default).is_err());
    }

    #[test]
    fn the_rate_is_the_users_then_the_servers_then_the_default() {
        assert_eq!(Rate::pick(Some(1_000), Some(2_000)), (1_000, Rate::Chosen));
        assert_eq!(Rate::pick(None, Some(2_000)), (2_000, Rate::Server));
        assert_eq!(Rate::pick(Some(0), None), (DEFAULT_KHZ, Rate::Default));
        assert_eq!(
            Rate::Default.words(DEFAULT_KHZ),
            "2,600,000 kHz (the default: no lab server reports a rate here)"
        );
        assert_eq!(
            Rate::Server.words(2_596_130),
            "2,596,130 kHz (the lab server's host rate)"
        );
    }

    #[test]
    fn the_bounds_are_stated_with_the_importers_numbers() {
        let w = limits_words();
        for part in [
            "64 VMs",
            "1,024 vCPUs a VM",
            "1,000,000 TSC events kept",
            "4 KiB a line",
            "65,536 writes",
            "nothing is uploaded",
        ] {
            assert!(w.contains(part), "{part}: {w}");
        }
    }

    #[test]
    fn only_text_with_the_tsc_tracepoints_is_taken_for_a_trace() {
        assert!(looks_like_trace(
            " qemu-1 [000] d..1. 1.0: kvm_write_tsc_offset: vcpu=0 prev=0 next=1"
        ));
        assert!(!looks_like_trace("create 2\nwrite * 0\n"));
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(65_536), "65,536");
    }
}
