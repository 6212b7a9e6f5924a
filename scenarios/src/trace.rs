//! One trace for every backend.
//!
//! The kernel models and the real-KVM runner emit the same events, so the CLI,
//! the server, the notebook and the book draw them the same way. As JSON each
//! event is one object with `"event"` = `"write"`, `"run"`, `"clock"`,
//! `"khz"` or `"summary"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A backend a scenario can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BackendId {
    /// `kvm_write_tsc` before the fix (Linux 3.14).
    #[serde(rename = "linux-3.14")]
    Linux314,
    /// The fix 0d3da0d26e3c with u64 generations (Linux 3.17).
    #[serde(rename = "linux-3.17")]
    Linux317,
    /// The fix with the old u8 generation counters: a what-if kernel.
    #[serde(rename = "linux-3.17-u8")]
    Linux317U8,
    /// Today's `kvm_synchronize_tsc` (Linux 6.18).
    #[serde(rename = "linux-6.18")]
    Linux618,
    /// The real KVM of this machine.
    #[serde(rename = "kvm")]
    Kvm,
    /// The kernel of an imported or traced run, read from its trace: what
    /// that kernel did, not a backend a scenario can run on (it is not in
    /// [`BackendId::ALL`], and no name parses to it).
    #[serde(rename = "trace")]
    Trace,
}

impl BackendId {
    /// The four kernel models, oldest first.
    pub const MODELS: [BackendId; 4] = [
        BackendId::Linux314,
        BackendId::Linux317,
        BackendId::Linux317U8,
        BackendId::Linux618,
    ];
    /// Every backend a scenario can run on: the four models, then real KVM.
    pub const ALL: [BackendId; 5] = [
        BackendId::Linux314,
        BackendId::Linux317,
        BackendId::Linux317U8,
        BackendId::Linux618,
        BackendId::Kvm,
    ];

    /// The name in `expect` lines, the CLI and JSON: `linux-3.14`, …, `kvm`.
    pub fn name(self) -> &'static str {
        match self {
            BackendId::Linux314 => "linux-3.14",
            BackendId::Linux317 => "linux-3.17",
            BackendId::Linux317U8 => "linux-3.17-u8",
            BackendId::Linux618 => "linux-6.18",
            BackendId::Kvm => "kvm",
            BackendId::Trace => "trace",
        }
    }

    /// One line on what the backend is.
    pub fn describe(self) -> &'static str {
        match self {
            BackendId::Linux314 => "kvm_write_tsc() of Linux 3.14: every matched write counts",
            BackendId::Linux317 => {
                "kvm_write_tsc() of Linux 3.17, with 0d3da0d26e3c: a vCPU counts once per generation"
            }
            BackendId::Linux317U8 => {
                "Linux 3.17's fix with the old u8 generation counters (what-if: why the widening matters)"
            }
            BackendId::Linux618 => {
                "kvm_synchronize_tsc() of Linux 6.18: zero writes always sync, user_set_tsc, lazy master clock"
            }
            BackendId::Kvm => "the real KVM of this machine, read through its tracepoints",
            BackendId::Trace => "the kernel of an imported or traced run, read from its trace",
        }
    }

    /// Whether it is one of the kernel models (not real KVM, not a trace).
    pub fn is_model(self) -> bool {
        !matches!(self, BackendId::Kvm | BackendId::Trace)
    }
}

impl fmt::Display for BackendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        BackendId::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown backend `{s}`; expected one of {}",
                    BackendId::ALL.map(|b| b.name()).join(", ")
                )
            })
    }
}

/// Where a TSC write came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The kernel's own write of 0 in `kvm_arch_vcpu_postcreate`.
    Create,
    /// A host-initiated MSR_IA32_TSC write (KVM_SET_MSRS).
    Write,
    /// The guest's own WRMSR IA32_TSC.
    Guest,
    /// KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET).
    Offset,
}

/// Which rule decided whether a write was an attempt to synchronise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncRule {
    /// Linux 3.x: |usdiff| < 1 s, with usdiff = (data − last_tsc_write) in µs − µs elapsed.
    Window,
    /// `virtual_tsc_khz` is 0: matching disabled.
    NoKhz,
    /// Linux ≥ 6.7: a write of 0 (or a vCPU creation) always synchronises.
    Zero,
    /// Linux ≥ 6.7: the first non-zero userspace write is never a sync attempt (`user_set_tsc` unset).
    FirstUserWrite,
    /// KVM_VCPU_TSC_OFFSET: matches only when the offset equals `last_tsc_offset`.
    OffsetAttr,
    /// Linux ≥ 5.10: a guest WRMSR adjusts the offset and never synchronises.
    GuestWrite,
}

/// Why a write matched the current generation or started a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The rule that judged the write.
    pub rule: SyncRule,
    /// The write was taken as an attempt to synchronise (before the kHz check).
    pub synchronizing: bool,
    /// `vcpu->arch.virtual_tsc_khz == kvm->arch.last_tsc_khz`.
    pub khz_match: bool,
    /// The distance that the 1 s window judged, in µs, where a window applied.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub distance_us: Option<i64>,
    /// Unstable host TSC: the elapsed time was added to the written value.
    #[serde(default)]
    pub compensated: bool,
}

/// What a write did to `nr_vcpus_matched_tsc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Count {
    /// Not matched: a new generation, the counter goes back to 0.
    Reset,
    /// Matched, and the vCPU was not yet in the generation: +1.
    Counted,
    /// Matched, but the vCPU was already in the generation: +1 anyway (Linux 3.14, the bug).
    CountedAgain,
    /// Matched, and already in the generation: not counted (the fix, 0d3da0d26e3c).
    AlreadyCounted,
    /// Matched, and a wrapped u8 `this_tsc_generation` made a vCPU of an old
    /// generation look already counted: not counted (why the fix went to u64).
    StaleGeneration,
    /// The write took no part in matching.
    Untouched,
}

impl Origin {
    /// Its name, as in the JSON trace and every table: `create`, `write`, `guest`, `offset`.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Create => "create",
            Origin::Write => "write",
            Origin::Guest => "guest",
            Origin::Offset => "offset",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a count looks on screen: the colour family of its mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// A new generation started.
    New,
    /// The counter rightly went up.
    Counted,
    /// The counter is wrong after this write: counted again (the 2014 bug),
    /// or a stale vCPU taken as counted (the u8 wrap).
    Miscounted,
    /// Nothing to draw the eye to.
    Plain,
}

impl Count {
    /// The CLI's mark, at most four characters: `new`, `+1`, `+1!`, `=`, `=!`, `·`.
    pub fn mark(self) -> &'static str {
        match self {
            Count::Reset => "new",
            Count::Counted => "+1",
            Count::CountedAgain => "+1!",
            Count::AlreadyCounted => "=",
            Count::StaleGeneration => "=!",
            Count::Untouched => "·",
        }
    }

    /// The notebook's word (its tables, charts, exports and the book):
    /// `new gen`, `+1`, `+1 again`, `already`, `stale gen`, `—`.
    pub fn word(self) -> &'static str {
        match self {
            Count::Reset => "new gen",
            Count::Counted => "+1",
            Count::CountedAgain => "+1 again",
            Count::AlreadyCounted => "already",
            Count::StaleGeneration => "stale gen",
            Count::Untouched => "—",
        }
    }

    /// This write is the 2014 bug: a vCPU counted again in its generation.
    pub fn is_the_2014_bug(self) -> bool {
        self == Count::CountedAgain
    }

    /// How its mark is drawn.
    pub fn tone(self) -> Tone {
        match self {
            Count::CountedAgain | Count::StaleGeneration => Tone::Miscounted,
            Count::Reset => Tone::New,
            Count::Counted => Tone::Counted,
            Count::AlreadyCounted | Count::Untouched => Tone::Plain,
        }
    }
}

/// One TSC write (or offset set), and the VM state right after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteEvent {
    /// The backend that made the write.
    pub backend: BackendId,
    /// 0-based index of the step in the expanded scenario.
    pub step: u32,
    /// The scenario line that caused it.
    pub line: u32,
    /// 1-based number of this write among all TSC writes of the run.
    pub write: u32,
    /// Host nanoseconds since the VM was created.
    pub t_ns: u64,
    /// The vCPU written.
    pub vcpu: u32,
    /// Who wrote: the kernel at creation, userspace, the guest, or the offset attribute.
    pub origin: Origin,
    /// The TSC value written (`data`), as userspace passed it.
    pub value: u64,
    /// `None` where the backend could not observe it (real KVM without tracefs).
    pub matched: Option<bool>,
    /// The write started a generation (`cur_tsc_generation++`).
    pub new_generation: Option<bool>,
    /// `cur_tsc_generation` after the write.
    pub cur_tsc_generation: Option<u64>,
    /// The written vCPU's `this_tsc_generation` after the write.
    pub this_tsc_generation: Option<u64>,
    /// `nr_vcpus_matched_tsc` after the write.
    pub nr_matched: Option<u32>,
    /// `online_vcpus`.
    pub online: u32,
    /// `nr_vcpus_matched_tsc + 1 == online_vcpus`.
    pub vcpus_matched: Option<bool>,
    /// The vCPU's TSC offset after the write (`l1_tsc_offset`), signed.
    pub offset: Option<i64>,
    /// The stored `use_master_clock` (what `kvm_track_tsc` prints as masterclock).
    pub master_clock: bool,
    /// `kvm_track_tsc_matching` raised KVM_REQ_MASTERCLOCK_UPDATE on this vCPU
    /// (no tracepoint shows this: `None` on real KVM).
    pub masterclock_update_requested: Option<bool>,
    /// Which rule judged the write (the models' reasoning; `None` on real KVM).
    pub decision: Option<Decision>,
    /// What the write did to `nr_vcpus_matched_tsc`.
    pub count: Option<Count>,
}

/// One KVM_RUN of one vCPU up to its `hlt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEvent {
    /// The backend that ran the vCPU.
    pub backend: BackendId,
    /// 0-based index of the step in the expanded scenario.
    pub step: u32,
    /// The scenario line that caused it (0 for the implicit `run *`).
    pub line: u32,
    /// Host nanoseconds since the VM was created.
    pub t_ns: u64,
    /// The vCPU run.
    pub vcpu: u32,
    /// This run handled KVM_REQ_MASTERCLOCK_UPDATE and recomputed the master clock.
    pub masterclock_updated: Option<bool>,
    /// This run handled KVM_REQ_CLOCK_UPDATE and rewrote the vCPU's pvclock page.
    /// The models track the requests a master-clock update and KVM_SET_CLOCK
    /// raise; real KVM raises more (KVM_REQ_GLOBAL_CLOCK_UPDATE on a vCPU's
    /// first load or a move to another CPU, the periodic kvmclock sync), which
    /// rewrite a page without changing its stable bit.
    pub clock_updated: Option<bool>,
    /// `use_master_clock` after the run.
    pub master_clock: bool,
    /// PVCLOCK_TSC_STABLE_BIT in this vCPU's pvclock page after the run.
    pub pvclock_stable: bool,
    /// Part of the implicit `run *` added at the end.
    #[serde(default)]
    pub implicit: bool,
}

/// KVM_SET_CLOCK: the master clock recomputed at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockEvent {
    /// The backend that set the clock.
    pub backend: BackendId,
    /// 0-based index of the step in the expanded scenario.
    pub step: u32,
    /// The `set-clock` line.
    pub line: u32,
    /// Host nanoseconds since the VM was created.
    pub t_ns: u64,
    /// `use_master_clock` as `pvclock_update_vm_gtod_copy` just decided it.
    pub master_clock: bool,
    /// `nr_vcpus_matched_tsc + 1 == online_vcpus` at that moment.
    pub vcpus_matched: Option<bool>,
}

/// KVM_SET_TSC_KHZ on one vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KhzEvent {
    /// The backend that took the ioctl.
    pub backend: BackendId,
    /// 0-based index of the step in the expanded scenario.
    pub step: u32,
    /// The `tsc-khz` line.
    pub line: u32,
    /// Host nanoseconds since the VM was created.
    pub t_ns: u64,
    /// The vCPU whose rate was set.
    pub vcpu: u32,
    /// The rate in kHz: KVM_GET_TSC_KHZ after the ioctl on real KVM, the request as written (0: the host's) in the models.
    pub virtual_tsc_khz: u32,
}

/// What the lab knows about the machine real KVM runs on (`lab-server host`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostReport {
    /// `uname -r`.
    pub kernel: String,
    /// The host clocksource; the master clock needs `tsc`.
    pub clocksource: String,
    /// `/dev/kvm` usable; if not, why and how to fix it.
    pub kvm_usable: bool,
    /// Why `/dev/kvm` is not usable, and how to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kvm_problem: Option<String>,
    /// `kvm-pvm` (software nested KVM), `vmx`, `svm`, or `unknown`.
    pub flavour: String,
    /// Whether a TSC write reaches what the guest reads (write 2^50, read back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets_honoured: Option<bool>,
    /// Whether KVM's TSC tracepoints can be read.
    pub tracing: bool,
    /// Why the tracepoints cannot be read, and how to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_problem: Option<String>,
    /// The kernel events read, with their tracepoint ids (`kvm_track_tsc (81)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace_events: Vec<String>,
    /// How they are read, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_reader: Option<String>,
    /// KVM_CAP_MAX_VCPUS of the host kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vcpus: Option<u32>,
    /// KVM_GET_TSC_KHZ of a fresh vCPU: the rate vCPUs start at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsc_khz: Option<u32>,
    /// KVM_CAP_VCPU_ATTRIBUTES: KVM_VCPU_TSC_OFFSET can be set.
    pub tsc_offset_attr: bool,
    /// What a learner should know about this host, in sentences.
    pub notes: Vec<String>,
}

/// The state at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The backend that ran.
    pub backend: BackendId,
    /// `online_vcpus`.
    pub online: u32,
    /// `nr_vcpus_matched_tsc`.
    pub nr_matched: Option<u32>,
    /// `nr_vcpus_matched_tsc + 1 == online_vcpus`.
    pub vcpus_matched: Option<bool>,
    /// `use_master_clock`.
    pub master_clock: bool,
    /// Every vCPU's pvclock page has PVCLOCK_TSC_STABLE_BIT.
    pub kvmclock_stable: bool,
    /// PVCLOCK_TSC_STABLE_BIT in each vCPU's pvclock page, by vCPU index.
    pub pvclock_stable: Vec<bool>,
    /// Each vCPU's `this_tsc_generation`, by vCPU index.
    pub this_tsc_generation: Option<Vec<u64>>,
    /// `cur_tsc_generation`.
    pub cur_tsc_generation: Option<u64>,
    /// How many TSC writes the run made (vCPU creations included).
    pub writes: u32,
    /// The scenario did not end with `run *`, so one was added before this summary.
    pub implicit_run: bool,
    /// Host nanoseconds since the VM was created.
    pub t_ns: u64,
    /// Real KVM: the host the run happened on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostReport>,
}

/// Any event of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// `"event": "write"`: a TSC write or offset set.
    Write(WriteEvent),
    /// `"event": "run"`: one KVM_RUN of one vCPU.
    Run(RunEvent),
    /// `"event": "clock"`: KVM_SET_CLOCK.
    Clock(ClockEvent),
    /// `"event": "khz"`: KVM_SET_TSC_KHZ on one vCPU.
    Khz(KhzEvent),
    /// `"event": "summary"`: the state at the end, the last event of a run that got that far.
    Summary(Summary),
}

impl Decision {
    /// The kernel's reasoning at this write, in one line:
    /// "within the 1 s window (|Δ| = 12 µs) → already in generation 3 → not counted".
    pub fn explain(&self, ev: &WriteEvent) -> String {
        let g = ev
            .cur_tsc_generation
            .map_or("?".to_string(), |g| g.to_string());
        let mut parts: Vec<String> = Vec::with_capacity(3);
        match self.rule {
            SyncRule::Window => {
                let d = self.distance_us.unwrap_or(0);
                let win = if self.synchronizing {
                    "within"
                } else {
                    "outside"
                };
                parts.push(format!("{win} the 1 s window (|Δ| = {})", fmt_us(d)));
            }
            SyncRule::NoKhz => parts.push("virtual_tsc_khz is 0: matching disabled".into()),
            SyncRule::Zero => parts.push("a write of 0 is always a sync attempt".into()),
            SyncRule::FirstUserWrite => {
                parts.push("first userspace write (user_set_tsc unset): not a sync attempt".into())
            }
            SyncRule::OffsetAttr => parts.push(if self.synchronizing {
                "offset equals last_tsc_offset".into()
            } else {
                "offset differs from last_tsc_offset".into()
            }),
            SyncRule::GuestWrite => {
                parts.push("guest WRMSR: offset adjusted, no synchronisation (since 5.10)".into())
            }
        }
        if self.synchronizing && !self.khz_match {
            parts.push("virtual_tsc_khz ≠ last_tsc_khz".into());
        }
        if self.compensated {
            parts.push("unstable host TSC: elapsed time added".into());
        }
        parts.push(match ev.count.unwrap_or(Count::Untouched) {
            Count::Reset => format!("new generation {g}, nr_vcpus_matched_tsc = 0"),
            Count::Counted => format!("joins generation {g} → counted"),
            Count::CountedAgain => {
                format!("already in generation {g} → counted again (the 2014 bug)")
            }
            Count::AlreadyCounted => format!("already in generation {g} → not counted"),
            Count::StaleGeneration => format!(
                "this_tsc_generation {} == cur_tsc_generation after the u8 wrapped: looks already counted, really 256·k generations old → not counted",
                ev.this_tsc_generation.map_or("?".to_string(), |g| g.to_string())
            ),
            Count::Untouched => "matching state untouched".into(),
        });
        parts.join(" → ")
    }
}

fn fmt_us(us: i64) -> String {
    let a = us.unsigned_abs();
    if a >= 1_000_000 {
        format!("{:.3} s", a as f64 / 1e6)
    } else if a >= 1_000 {
        format!("{:.3} ms", a as f64 / 1e3)
    } else {
        format!("{a} µs")
    }
}

impl WriteEvent {
    /// The line the lab shows for this write: the model's reasoning, or for a
    /// backend that only observed the outcome, what happened to the counter.
    pub fn why(&self) -> String {
        match (&self.decision, self.count) {
            (Some(d), _) => d.explain(self),
            (None, Some(Count::Reset)) => "new generation (seen in the kernel's trace)".into(),
            (None, Some(Count::Counted)) => {
                "joins the generation → counted (seen in the kernel's trace)".into()
            }
            (None, Some(Count::AlreadyCounted)) => {
                "already counted (seen in the kernel's trace)".into()
            }
            (None, Some(c)) => format!("{c:?} (seen in the kernel's trace)"),
            (None, None) => "not observed: no tracefs".into(),
        }
    }
}

/// Where two backends first disagree about the same write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The 1-based write number.
    pub write: u32,
    /// What differs there, in a sentence.
    pub what: String,
}

/// The first write at which two backends that observed it disagree: on
/// `nr_vcpus_matched_tsc`, else on whether the write matched, else on whether
/// it started a generation. A backend takes part in a write only if it
/// observed the counter there (real KVM without tracefs does not).
///
/// `runs` gives each backend's writes in order (write k at index k − 1).
pub fn first_divergence(runs: &[(BackendId, Vec<&WriteEvent>)]) -> Option<Divergence> {
    let rows = runs.iter().map(|(_, w)| w.len()).max().unwrap_or(0);
    for i in 0..rows {
        let seen: Vec<(BackendId, &WriteEvent, u32)> = runs
            .iter()
            .filter_map(|(b, w)| {
                let w = *w.get(i)?;
                Some((*b, w, w.nr_matched?))
            })
            .collect();
        let Some(&(b0, w0, n0)) = seen.first() else {
            continue;
        };
        let write = w0.write;
        if let Some(&(b, _, n)) = seen.iter().find(|s| s.2 != n0) {
            return Some(Divergence {
                write,
                what: format!("nr_vcpus_matched_tsc: {n0} on {b0}, {n} on {b}"),
            });
        }
        // Whether it matched, and whether it started a generation, among
        // the backends that observed that much.
        let observed = |f: fn(&WriteEvent) -> Option<bool>| {
            let mut seen_here = seen.iter().filter_map(|&(b, w, _)| Some((b, f(w)?)));
            let first = seen_here.next()?;
            seen_here
                .find(|s| s.1 != first.1)
                .map(|other| (first, other))
        };
        if let Some(((b0, m0), (b, m))) = observed(|w| w.matched) {
            return Some(Divergence {
                write,
                what: format!(
                    "matched: {} on {b0}, {} on {b}",
                    yes(Some(m0)),
                    yes(Some(m))
                ),
            });
        }
        if let Some(((b0, g0), (b, g))) = observed(|w| w.new_generation) {
            return Some(Divergence {
                write,
                what: format!(
                    "new generation: {} on {b0}, {} on {b}",
                    yes(Some(g0)),
                    yes(Some(g))
                ),
            });
        }
    }
    None
}

fn yes(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

/// The TSC writes of a run, in order.
pub fn writes(events: &[Event]) -> impl Iterator<Item = &WriteEvent> {
    events.iter().filter_map(|e| match e {
        Event::Write(w) => Some(w),
        _ => None,
    })
}

/// The summary that ends a run, if the run got that far.
pub fn summary(events: &[Event]) -> Option<&Summary> {
    events.iter().rev().find_map(|e| match e {
        Event::Summary(s) => Some(s),
        _ => None,
    })
}

impl Event {
    /// The backend that made it.
    pub fn backend(&self) -> BackendId {
        match self {
            Event::Write(e) => e.backend,
            Event::Run(e) => e.backend,
            Event::Clock(e) => e.backend,
            Event::Khz(e) => e.backend,
            Event::Summary(e) => e.backend,
        }
    }
}
