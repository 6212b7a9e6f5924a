//! One VM of a trace, rebuilt as a run: the trace's own events, a scenario
//! that does what the VMM did, and the timing to replay it.
//!
//! **Values.** A trace shows offsets, not the values written: KVM computed
//! `next = value − host TSC` (kernel-side `kvm_compute_l1_tsc_offset`), so
//! the value is the host TSC at the write + `next` (wrapping). With the
//! `x86-tsc` clock the timestamp *is* the host TSC. With a clock in seconds
//! the host TSC is estimated: from the VM's first creation that starts a
//! generation (the kernel wrote 0 there, so `next = −host TSC` exactly) and
//! the time since at `tsc_khz`. The error bound of a write that started a
//! generation is
//!
//! - the timestamp's resolution, twice (the write's and the anchor's),
//! - [`EVENT_SLACK_NS`]: the kernel reads the TSC a little before it stamps
//!   the event (a few µs, more under nested virtualisation),
//! - [`RATE_PPM`] of the time since the anchor: how far the traced host's
//!   real rate may be from `tsc_khz` (the kernel's own `tsc_tolerance_ppm`);
//!
//! all as cycles at `tsc_khz`. A write that *matched* took the generation's
//! offset, not one computed from its value, so its value may lie anywhere in
//! the kernel's 1 s window ([`WINDOW_NS`]) around the estimate: the bound
//! grows by that. An estimate within the bound of 0 or 1 is taken as that
//! value — 0 until the VM has run since the vCPU was made (QEMU at boot, a hotplug), 1 after
//! (QEMU's reset, 5286c3662294) — as the kernel's rules treat 0 apart.

use std::collections::HashMap;

use serde::Serialize;

use crate::ast::{
    Clocksource, Duration, Scenario, Setting, Stmt, StmtKind, Targets, TscValue, VcpuRange,
};
use crate::host::{HostConfig, HostTime, Stamp, Timing};
use crate::kernel::{Inferred, KernelView};
use crate::limits::Limits;
use crate::models::nsec_to_cycles;
use crate::pvclock;
use crate::text::Grouped;
use crate::trace::{BackendId, Count, Event, Origin, Summary, WriteEvent};

use super::vms::{Kept, ONE_RATE, What};
use super::{ClockKind, VmInfo};

/// What the kernel's TSC read and the event's timestamp may be apart: 10 µs.
pub const EVENT_SLACK_NS: u64 = 10_000;
/// How far the traced host's TSC rate may be from `tsc_khz`: 250 ppm.
pub const RATE_PPM: u64 = 250;
/// The kernel's synchronisation window: a matched write lies within 1 s.
pub const WINDOW_NS: u64 = 1_000_000_000;
/// Gaps shorter than this get no `wait` of their own (they are carried to
/// the next one, so the scenario's clock never lags the trace by more).
pub const WAIT_MIN_NS: u64 = 1_000_000;

/// The language's bound on vCPUs.
const MAX_VCPUS: u32 = Limits::LANGUAGE.max_vcpus;

/// How a write's value in the scenario was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum ValueRule {
    /// A vCPU's creation: the kernel's own write of 0.
    Creation,
    /// The host TSC at the write + the traced offset, within ±`error_cycles`
    /// (`None`: no bound, for want of an anchor or of timestamps).
    Estimated {
        /// The error bound in cycles.
        error_cycles: Option<u64>,
    },
    /// The estimate lay within `error_cycles` of 0 or 1: taken as that value.
    Taken {
        /// The estimate itself.
        estimate: u64,
        /// The bound it was judged with.
        error_cycles: u64,
    },
}

/// One write of the rebuilt run, and where its value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WriteValue {
    /// 1-based write number, as the run's events number them.
    pub write: u32,
    /// The trace line of its `kvm_write_tsc_offset` (`None` for a vCPU made
    /// before the trace began).
    pub trace_line: Option<u64>,
    /// The value in the scenario.
    pub value: u64,
    /// How it was found.
    pub rule: ValueRule,
}

/// One VM of a trace, as a run the lab can show and replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportedRun {
    /// The VM's id in [`Imported::vms`](super::Imported::vms).
    pub vm: u32,
    /// What the VMM did: `create`, `write`, `guest-write` and `wait`.
    pub scenario: Scenario,
    /// The scenario's canonical text.
    pub text: String,
    /// The trace's own kernel view, backend `trace`, ending with its summary.
    pub events: Vec<Event>,
    /// The traced host, for replaying the scenario.
    pub host: HostConfig,
    /// The instant of the VM's first event.
    pub start: HostTime,
    /// One stamp per step of the scenario, with the values written.
    pub stamps: Vec<Stamp>,
    /// Each write's value and how it was found.
    pub values: Vec<WriteValue>,
    /// How the values were found and their error, in sentences (also the
    /// scenario's comments).
    pub estimate: Vec<String>,
    /// Every TSC event of the VM is in the run (else it ends at the last one
    /// kept, or before the language's bound on steps).
    pub complete: bool,
}

impl ImportedRun {
    /// vCPUs the rebuilt scenario creates.
    pub fn vcpus(&self) -> u32 {
        self.scenario
            .walk()
            .map(|s| match s.kind {
                crate::ast::StmtKind::Create { count } => count,
                _ => 0,
            })
            .sum()
    }

    /// The trace's moments and values, for
    /// [`replay_model`](crate::exec::replay_model).
    pub fn timing(&self) -> Timing {
        Timing::Replay {
            start: self.start,
            stamps: self.stamps.clone(),
        }
    }
}

/// The shared inference over a VM's kept events, in order: one `Inferred`
/// per write (aligned with `kept`), the view at the end, and its id → index.
fn infer(kept: &[Kept]) -> (Vec<Option<Inferred>>, KernelView, HashMap<u32, usize>) {
    let mut view = KernelView::new();
    let mut ids: HashMap<u32, usize> = HashMap::new();
    let mut out = Vec::with_capacity(kept.len());
    for k in kept {
        let What::Write {
            origin,
            next,
            track,
        } = k.what
        else {
            out.push(None);
            continue;
        };
        let v = *ids.entry(k.vcpu).or_insert_with(|| view.add_vcpu(ONE_RATE));
        out.push(view.write(v, origin, Some(next), track));
    }
    (out, view, ids)
}

/// `|a − b|` on the wrapping TSC circle.
fn distance(a: u64, b: u64) -> u64 {
    (a.wrapping_sub(b) as i64).unsigned_abs()
}

/// A TSC value for a comment: small negatives as such.
fn signed(v: u64) -> String {
    let s = v as i64;
    if s < 0 && s > -(1 << 62) {
        format!("-{}", Grouped(s.unsigned_abs()))
    } else {
        Grouped(v).to_string()
    }
}

struct Clock {
    kind: ClockKind,
    khz: u32,
    /// (ns, host TSC) at the anchoring creation.
    anchor: Option<(u64, u64)>,
}

impl Clock {
    fn cycles(&self, ns: u64) -> u64 {
        nsec_to_cycles(self.khz, ns)
    }

    /// Nanoseconds of kept event `i`.
    fn ns(&self, k: &Kept, i: usize) -> u64 {
        match self.kind {
            ClockKind::Seconds { .. } => k.ts,
            ClockKind::Counter => (u128::from(k.ts) * 1_000_000 / u128::from(self.khz)) as u64,
            // No timestamps: the events 1 µs apart, from the default uptime.
            ClockKind::Absent => HostConfig::default().uptime_ns + i as u64 * 1_000,
        }
    }

    /// The host TSC at `ns` (kept event `k`).
    fn tsc(&self, k: &Kept, ns: u64) -> u64 {
        match (self.kind, self.anchor) {
            (ClockKind::Counter, _) => k.ts,
            (_, Some((a_ns, a_tsc))) if ns >= a_ns => a_tsc.wrapping_add(self.cycles(ns - a_ns)),
            (_, Some((a_ns, a_tsc))) => a_tsc.wrapping_sub(self.cycles(a_ns - ns)),
            (_, None) => self.cycles(ns),
        }
    }

    /// The error bound of a write that started a generation, at `ns`.
    fn error(&self, ns: u64) -> Option<u64> {
        match (self.kind, self.anchor) {
            (ClockKind::Counter, _) => Some(self.cycles(EVENT_SLACK_NS)),
            (ClockKind::Seconds { resolution_ns }, Some((a_ns, _))) => {
                let drift = self.cycles(ns.abs_diff(a_ns)) / 1_000_000 * RATE_PPM;
                Some(self.cycles(2 * resolution_ns + EVENT_SLACK_NS) + drift)
            }
            _ => None,
        }
    }
}

/// The scenario as it grows, with its stamps and the trace's events.
struct Builder {
    stmts: Vec<Stmt>,
    stamps: Vec<Stamp>,
    events: Vec<Event>,
    values: Vec<WriteValue>,
    /// The next write's number.
    write: u32,
    /// vCPUs the scenario has created.
    online: u32,
    /// The last step was a `create` (a next one joins its statement).
    creating: bool,
}

impl Builder {
    fn push(&mut self, kind: StmtKind, comment: Option<String>) -> u32 {
        self.creating = false;
        let line = self.stmts.len() as u32 + 1;
        self.stmts.push(Stmt {
            line,
            kind,
            comment,
        });
        line
    }

    fn comment(&mut self, text: &str) {
        self.push(
            StmtKind::Comment {
                text: format!(" {text}"),
            },
            None,
        );
    }

    fn step(&self) -> u32 {
        self.stamps.len() as u32
    }

    /// One creation: joins the `create` just before, if any.
    fn create(&mut self) -> u32 {
        let line = match self.stmts.last_mut() {
            Some(Stmt {
                kind: StmtKind::Create { count },
                line,
                comment: None,
            }) if self.creating => {
                *count += 1;
                *line
            }
            _ => self.push(StmtKind::Create { count: 1 }, None),
        };
        self.creating = true;
        self.online += 1;
        line
    }
}

/// What the trace says of one write, for its event.
struct Row {
    line: u32,
    t_ns: u64,
    vcpu: u32,
    origin: Origin,
    value: u64,
    online: u32,
    master_clock: bool,
    next: Option<u64>,
    inferred: Option<Inferred>,
}

impl Builder {
    /// The trace-backend event of the write about to be stamped: its
    /// matching fields from the shared inference.
    fn event(&self, r: Row) -> Event {
        let i = r.inferred;
        Event::Write(WriteEvent {
            backend: BackendId::Trace,
            step: self.step(),
            line: r.line,
            write: self.write,
            t_ns: r.t_ns,
            vcpu: r.vcpu,
            origin: r.origin,
            value: r.value,
            matched: i.map(|i| i.matched),
            new_generation: i.map(|i| i.new_generation),
            cur_tsc_generation: i.map(|i| i.cur_tsc_generation),
            this_tsc_generation: i.map(|i| i.this_tsc_generation),
            nr_matched: i.and_then(|i| i.nr_matched),
            online: r.online,
            vcpus_matched: i.and_then(|i| i.vcpus_matched(r.online)),
            offset: r.next.map(|n| n as i64),
            master_clock: r.master_clock,
            masterclock_update_requested: None,
            decision: None,
            count: i.map(|i| i.count),
        })
    }
}

/// VM `info`'s kept events as a run, at `khz`.
pub(crate) fn run(info: &VmInfo, kept: &[Kept], kind: ClockKind, khz: u32) -> ImportedRun {
    let (inferred, view, view_ids) = infer(kept);
    let mut clock = Clock {
        kind,
        khz,
        anchor: None,
    };
    // The anchor: the first creation that started a generation.
    let anchor = kept.iter().enumerate().find(|(i, k)| {
        matches!(
            k.what,
            What::Write {
                origin: Origin::Create,
                ..
            }
        ) && inferred[*i].is_some_and(|f| f.count == Count::Reset)
    });
    let mut anchor_line = None;
    if let Some((i, k)) = anchor
        && let What::Write { next, .. } = k.what
    {
        clock.anchor = Some((clock.ns(k, i), 0u64.wrapping_sub(next)));
        anchor_line = Some(k.line);
    }
    let (start_ns, start) = match kept.first() {
        Some(k) => {
            let ns = clock.ns(k, 0);
            (
                ns,
                HostTime {
                    ns,
                    tsc: clock.tsc(k, ns),
                },
            )
        }
        None => (0, HostTime::default()),
    };
    let estimate = sentences(info, &clock, kept, anchor_line);
    let mut b = Builder {
        stmts: Vec::new(),
        stamps: Vec::new(),
        events: Vec::new(),
        values: Vec::new(),
        write: 1,
        online: 0,
        creating: false,
    };
    let who = match (&info.task, info.pid, info.tgid) {
        (Some(t), Some(p), Some(g)) => format!(" ({t}, pid {p}, tgid {g})"),
        (Some(t), Some(p), None) => format!(" ({t}, pid {p})"),
        (None, Some(p), Some(g)) => format!(" (pid {p}, tgid {g})"),
        (_, _, Some(g)) => format!(" (tgid {g})"),
        _ => String::new(),
    };
    b.push(
        StmtKind::Title {
            text: format!("Imported trace: VM {}{who}", info.id),
        },
        None,
    );
    for s in &estimate {
        b.comment(s);
    }
    b.push(
        StmtKind::Set {
            setting: Setting::TscKhz(khz),
        },
        None,
    );
    let tsc_clock = info.hostclock.is_none_or(|c| c == 1);
    if !tsc_clock {
        b.push(
            StmtKind::Set {
                setting: Setting::Clocksource(Clocksource::Hpet),
            },
            Some(" the trace's hostclock is not tsc: no master clock".into()),
        );
    }
    b.push(StmtKind::Blank, None);

    // vcpu_id → the scenario's index; which indices have an id; each
    // vcpu_id's last pvclock flags (a vCPU with some has run).
    let mut index_of: HashMap<u32, u32> = HashMap::new();
    let mut taken: Vec<bool> = Vec::new();
    let mut last_flags: HashMap<u32, u8> = HashMap::new();
    // How many pvclock rewrites the VM had when each vcpu_id was created:
    // a vCPU made before the VM last ran has had its state read back by the
    // VMM since (QEMU writes 1 at reset then, 5286c3662294), one made after
    // (a hotplug) has not (QEMU writes its fresh 0).
    let mut rewrites: u64 = 0;
    let mut created_at: HashMap<u32, u64> = HashMap::new();
    let mut master: Option<bool> = None;
    let mut master_seen = false;
    let mut clock_ns = start_ns;
    let mut last = start;
    let mut cut = None;
    for (i, k) in kept.iter().enumerate() {
        let ns = clock.ns(k, i);
        let now = HostTime {
            ns,
            tsc: clock.tsc(k, ns),
        };
        let (origin, next, track) = match k.what {
            What::Pvclock { flags } => {
                last_flags.insert(k.vcpu, flags);
                rewrites += 1;
                continue;
            }
            What::MasterClock { masterclock } => {
                master = Some(masterclock);
                master_seen = true;
                continue;
            }
            What::Write {
                origin,
                next,
                track,
            } => (origin, next, track),
        };
        if origin == Origin::Create {
            created_at.insert(k.vcpu, rewrites);
        }
        let mapped = index_of.get(&k.vcpu).copied();
        // vCPUs made before the trace began: as many as it says were online,
        // and one for a vCPU the trace writes before any free one.
        let creating = u32::from(origin == Origin::Create);
        let mut want = track.map_or(0, |t| t.nr_online.saturating_sub(creating));
        if origin != Origin::Create
            && mapped.is_none()
            && want <= b.online
            && !taken.iter().any(|t| !t)
        {
            want = b.online + 1;
        }
        // The language's bounds: the run ends before them.
        let vcpus = u64::from(want.max(b.online)) + u64::from(creating);
        let steps = b.step() as u64 + 2 + u64::from(want.saturating_sub(b.online));
        // The gap since the scenario's clock, as a wait.
        let gap = ns.saturating_sub(clock_ns);
        let waited = clock_ns.saturating_sub(start_ns);
        if vcpus > u64::from(MAX_VCPUS)
            || steps > Limits::LANGUAGE.max_steps
            || waited.saturating_add(gap) > Limits::LANGUAGE.max_wait_ns
        {
            cut = Some(k.line);
            break;
        }
        if gap >= WAIT_MIN_NS {
            let d = gap / 1_000 * 1_000;
            b.push(
                StmtKind::Wait {
                    duration: Duration { ns: d },
                },
                None,
            );
            b.stamps.push(Stamp {
                ns: last.ns,
                tsc: last.tsc,
                value: None,
            });
            clock_ns += d;
        }
        last = now;
        if want > b.online {
            let n = want - b.online;
            let line = b.push(
                StmtKind::Create { count: n },
                Some(" made before the trace began".into()),
            );
            for _ in 0..n {
                let v = b.online;
                let ev = b.event(Row {
                    line,
                    t_ns: ns.saturating_sub(start_ns),
                    vcpu: v,
                    origin: Origin::Create,
                    value: 0,
                    online: v + 1,
                    master_clock: master.unwrap_or(false),
                    next: None,
                    inferred: None,
                });
                b.events.push(ev);
                b.values.push(WriteValue {
                    write: b.write,
                    trace_line: None,
                    value: 0,
                    rule: ValueRule::Creation,
                });
                b.stamps.push(Stamp {
                    ns: now.ns,
                    tsc: now.tsc,
                    value: Some(0),
                });
                b.online += 1;
                b.write += 1;
                taken.push(false);
            }
            b.creating = false;
        }
        let inf = inferred[i];
        let online = track.map_or(b.online, |t| t.nr_online);
        let master_clock = track.map_or(master.unwrap_or(false), |t| t.masterclock);
        let (vcpu, line, value, rule) = if origin == Origin::Create {
            let v = b.online;
            let line = b.create();
            index_of.insert(k.vcpu, v);
            taken.push(true);
            (v, line, 0, ValueRule::Creation)
        } else {
            let v = match mapped {
                Some(v) => v,
                None => {
                    let free = taken.iter().position(|t| !t).expect("a free index") as u32;
                    taken[free as usize] = true;
                    index_of.insert(k.vcpu, free);
                    free
                }
            };
            let est = now.tsc.wrapping_add(next);
            let matched = inf.is_some_and(|f| f.matched);
            let slack = if matched { clock.cycles(WINDOW_NS) } else { 0 };
            let error = clock.error(ns).map(|e| e + slack);
            // Without timestamps the times are made up: judge 0 and 1 by the
            // window alone.
            let within = match clock.kind {
                ClockKind::Absent => Some(clock.cycles(EVENT_SLACK_NS) + slack),
                _ => error,
            };
            let (near0, near1) = match within {
                Some(w) => (distance(est, 0) <= w, distance(est, 1) <= w),
                None => (false, false),
            };
            let (value, rule, comment) = if near0 || near1 {
                // The VM ran since this vCPU was made (any vCPU's page was
                // rewritten since); without pvclock in the trace, a master
                // clock decision stands in.
                let ran = if info.pvclock_traced {
                    rewrites > created_at.get(&k.vcpu).copied().unwrap_or(0)
                } else {
                    master_seen
                };
                let value = u64::from(if near0 && near1 { ran } else { near1 });
                let w = within.unwrap_or(0);
                let why = if value == 1 {
                    "the VM has run since this vCPU was made"
                } else {
                    "the VM has not run since this vCPU was made"
                };
                (
                    value,
                    ValueRule::Taken {
                        estimate: est,
                        error_cycles: w,
                    },
                    format!(
                        " ≈ {} ±{}: taken as {value} ({why})",
                        signed(est),
                        Grouped(w)
                    ),
                )
            } else {
                let c = match error {
                    Some(e) => format!(" host TSC + offset, ±{} cycles", Grouped(e)),
                    None => " host TSC + offset, error unbounded".to_string(),
                };
                (
                    est,
                    ValueRule::Estimated {
                        error_cycles: error,
                    },
                    c,
                )
            };
            let targets = Targets::List(vec![VcpuRange { first: v, last: v }]);
            let kind = if origin == Origin::Guest {
                StmtKind::GuestWrite {
                    targets,
                    value: TscValue::Literal(value),
                }
            } else {
                StmtKind::Write {
                    targets,
                    value: TscValue::Literal(value),
                }
            };
            let line = b.push(kind, Some(comment));
            (v, line, value, rule)
        };
        let ev = b.event(Row {
            line,
            t_ns: ns.saturating_sub(start_ns),
            vcpu,
            origin,
            value,
            online,
            master_clock,
            next: Some(next),
            inferred: inf,
        });
        b.events.push(ev);
        b.values.push(WriteValue {
            write: b.write,
            trace_line: Some(k.line),
            value,
            rule,
        });
        b.stamps.push(Stamp {
            ns: now.ns,
            tsc: now.tsc,
            value: Some(value),
        });
        b.write += 1;
        if origin == Origin::Create {
            b.creating = true;
        }
        if let Some(t) = track {
            master = Some(t.masterclock);
        }
    }
    let summary = summary(
        &b,
        End {
            view: &view,
            view_ids: &view_ids,
            index_of: &index_of,
            pvclock_traced: info.pvclock_traced,
            last_flags: &last_flags,
            master,
            t_ns: last.ns.saturating_sub(start_ns),
        },
    );
    b.events.push(Event::Summary(summary));
    let mut estimate = estimate;
    if let Some(line) = cut {
        let note = format!(
            "The run stops before trace line {line}: past it the scenario would exceed the language's bounds ({} steps, {MAX_VCPUS} vCPUs, ten years of waiting).",
            Grouped(Limits::LANGUAGE.max_steps)
        );
        b.stmts.push(Stmt {
            line: b.stmts.len() as u32 + 1,
            kind: StmtKind::Comment {
                text: format!(" {note}"),
            },
            comment: None,
        });
        estimate.push(note);
    }
    let scenario = Scenario { stmts: b.stmts };
    ImportedRun {
        vm: info.id,
        text: scenario.to_string(),
        scenario,
        events: b.events,
        host: HostConfig {
            tsc_khz: khz,
            clocksource: if tsc_clock {
                Clocksource::Tsc
            } else {
                Clocksource::Hpet
            },
            tsc_stable: true,
            uptime_ns: start.ns,
        },
        start,
        stamps: b.stamps,
        values: b.values,
        estimate,
        complete: info.kept == info.events && cut.is_none(),
    }
}

/// What the summary is made of.
struct End<'a> {
    view: &'a KernelView,
    /// `vcpu_id` → the view's index.
    view_ids: &'a HashMap<u32, usize>,
    /// `vcpu_id` → the scenario's index.
    index_of: &'a HashMap<u32, u32>,
    pvclock_traced: bool,
    /// Each `vcpu_id`'s last pvclock flags.
    last_flags: &'a HashMap<u32, u8>,
    master: Option<bool>,
    t_ns: u64,
}

fn summary(b: &Builder, e: End<'_>) -> Summary {
    let End {
        view,
        view_ids,
        index_of,
        pvclock_traced,
        last_flags,
        master,
        t_ns,
    } = e;
    let online = b.online;
    // The scenario's index → vcpu_id.
    let mut id_at: Vec<Option<u32>> = vec![None; online as usize];
    for (&id, &v) in index_of {
        id_at[v as usize] = Some(id);
    }
    // A vCPU whose page was never rewritten in the trace (it had not run
    // yet: SeaBIOS starts only the boot vCPU) gets the stable bit at its
    // first entry iff the master clock is on (`kvm_guest_time_update`): what
    // the models' implicit `run *` shows too, so the summary says "after an
    // implicit run" then.
    let master_at_end = master.unwrap_or(false);
    let mut never_ran = false;
    let pvclock_stable: Vec<bool> = if pvclock_traced {
        id_at
            .iter()
            .map(|id| match id.and_then(|id| last_flags.get(&id)) {
                Some(&f) => pvclock::tsc_stable(f),
                None => {
                    never_ran = true;
                    master_at_end
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let gens = view.this_tsc_generation();
    let this: Vec<u64> = id_at
        .iter()
        .map(|id| id.and_then(|id| view_ids.get(&id)).map_or(0, |&i| gens[i]))
        .collect();
    let nr = view.nr_matched();
    Summary {
        backend: BackendId::Trace,
        online,
        nr_matched: nr,
        vcpus_matched: nr.map(|n| n + 1 == online),
        master_clock: master.unwrap_or(false),
        kvmclock_stable: pvclock_traced && online > 0 && pvclock_stable.iter().all(|&s| s),
        pvclock_stable,
        this_tsc_generation: Some(this),
        cur_tsc_generation: Some(view.cur_tsc_generation()),
        writes: b.write - 1,
        implicit_run: never_ran,
        t_ns,
        host: None,
    }
}

/// How the values were found, in sentences (the scenario's comments).
fn sentences(info: &VmInfo, clock: &Clock, kept: &[Kept], anchor: Option<u64>) -> Vec<String> {
    let mut out = vec![format!(
        "Rebuilt from a kernel trace: {} TSC writes of {} vCPUs, trace lines {}-{}.",
        info.writes, info.vcpus, info.lines.0, info.lines.1
    )];
    if info.kept < info.events {
        out.push(format!(
            "Only the first {} of its {} TSC events were kept (the import's limit): the run ends there.",
            info.kept, info.events
        ));
    }
    out.push(
        "Each written value is the host TSC at the write + the offset the kernel traced.".into(),
    );
    let khz = Grouped(u64::from(clock.khz));
    match (clock.kind, anchor) {
        (ClockKind::Counter, _) => {
            out.push(format!(
                "The timestamps are x86-tsc counts, the host TSC itself: exact to ±{} cycles, the {} µs between the kernel's TSC read and the event's.",
                Grouped(clock.cycles(EVENT_SLACK_NS)),
                EVENT_SLACK_NS / 1_000
            ));
            // A creation that started a generation has next = −TSC: check the clock is that TSC.
            if let Some((_, a_tsc)) = clock.anchor
                && let Some(k) = kept.iter().find(|k| Some(k.line) == anchor)
                && distance(k.ts, a_tsc) > clock.cycles(WINDOW_NS)
            {
                out.push(format!(
                    "But at trace line {} the counter is {} while the kernel's offset says the host TSC was {}: the counter may not be x86-tsc.",
                    k.line,
                    Grouped(k.ts),
                    Grouped(a_tsc)
                ));
            }
        }
        (ClockKind::Seconds { resolution_ns }, Some(line)) => {
            let max = kept
                .iter()
                .enumerate()
                .filter_map(|(i, k)| clock.error(clock.ns(k, i)))
                .max()
                .unwrap_or(0);
            out.push(format!(
                "The timestamps are seconds ({resolution_ns} ns resolution): the host TSC is taken from the creation at trace line {line} (offset = -host TSC) and the time since at {khz} kHz."
            ));
            out.push(format!(
                "Error: 2 x resolution + {} µs + {RATE_PPM} ppm of the time since, up to ±{} cycles here; a write that matched may lie anywhere in the 1 s window: ±{} more.",
                EVENT_SLACK_NS / 1_000,
                Grouped(max),
                Grouped(clock.cycles(WINDOW_NS))
            ));
        }
        (ClockKind::Seconds { .. }, None) => out.push(format!(
            "The timestamps are seconds and no creation in the trace starts a generation: the host TSC is taken as timestamp x {khz} kHz, off by its value at the trace clock's zero, unknown: no bound."
        )),
        (ClockKind::Absent, _) => out.push(
            "The trace has no timestamps (context-info off): the events are taken 1 µs apart, and the values have no bound."
                .into(),
        ),
    }
    out.push(
        "A value within its error of 0 or 1 is taken as that value: 0 until the VM has run since the vCPU was made (QEMU at boot, and a hotplugged vCPU's first state), 1 after (QEMU's reset, 5286c3662294)."
            .into(),
    );
    out
}
