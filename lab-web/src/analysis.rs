//! What the notebook shows of a run, computed from its trace alone.
//!
//! A backend's run is its event list (the same trace the CLI and the server
//! print). Everything on screen — the vCPU table at write k, the VM state, the
//! aligned timeline, the first divergence, the verdicts — is derived here,
//! without the DOM, so it is tested natively and is cheap enough to redo on
//! every scrubber move.

use scenarios::trace::{self, Count};
use scenarios::{BackendId, Event, Scenario, Summary, WriteEvent};

/// Where a backend's events came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A kernel model, run in this page.
    Model,
    /// Real KVM, streamed from the lab server.
    Live,
    /// Real KVM, a run recorded on a lab machine and shipped with the site.
    Recorded { host: String },
    /// The kernel of a trace imported into this page (backend `trace`):
    /// `label` names the file and the VM.
    Trace { label: String },
}

/// How far a backend's run got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Done,
    Failed(String),
}

/// One backend's run of one scenario. `Eq`, so that an `Rc` of runs compares
/// by pointer first: the views' props compare in O(1) while scrubbing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendRun {
    pub backend: BackendId,
    pub source: Source,
    pub status: Status,
    pub events: Vec<Event>,
    /// Index into `events` of every write, in order (write k is `writes[k-1]`).
    writes: Vec<usize>,
}

impl BackendRun {
    pub fn new(backend: BackendId, source: Source) -> Self {
        BackendRun {
            backend,
            source,
            status: Status::Running,
            events: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// A finished run from a list of events.
    pub fn from_events(backend: BackendId, source: Source, events: Vec<Event>) -> Self {
        let mut run = BackendRun::new(backend, source);
        for e in events {
            run.push(e);
        }
        run.status = Status::Done;
        run
    }

    /// Runs a kernel model in this page.
    pub fn model(scenario: &Scenario, backend: BackendId) -> Self {
        match scenarios::run_model(scenario, backend) {
            Ok(events) => BackendRun::from_events(backend, Source::Model, events),
            Err(e) => BackendRun {
                status: Status::Failed(e.to_string()),
                ..BackendRun::new(backend, Source::Model)
            },
        }
    }

    /// Replays a kernel model at the moments of a traced run, with its
    /// values (`scenarios::replay_model`): what that kernel would have done
    /// with these very writes.
    pub fn replayed(
        scenario: &Scenario,
        backend: BackendId,
        replay: &scenarios::protocol::TraceReplay,
    ) -> Self {
        let c = scenarios::replay_model(scenario, backend, replay.host, replay.timing());
        let mut run = BackendRun::from_events(backend, Source::Model, c.events);
        if let Some(e) = c.error {
            run.status = Status::Failed(e.to_string());
        }
        run
    }

    pub fn push(&mut self, e: Event) {
        if matches!(e, Event::Write(_)) {
            self.writes.push(self.events.len());
        }
        self.events.push(e);
    }

    pub fn write_count(&self) -> u32 {
        self.writes.len() as u32
    }

    /// Write number `k` (1-based), if the run got that far.
    pub fn write(&self, k: u32) -> Option<&WriteEvent> {
        let i = *self.writes.get((k as usize).checked_sub(1)?)?;
        match &self.events[i] {
            Event::Write(w) => Some(w),
            _ => None,
        }
    }

    pub fn writes(&self) -> impl Iterator<Item = &WriteEvent> {
        trace::writes(&self.events)
    }

    pub fn summary(&self) -> Option<&Summary> {
        trace::summary(&self.events)
    }

    /// The kvmclock verdict: stable, unstable, or not known yet.
    pub fn verdict(&self) -> Verdict {
        match (&self.status, self.summary()) {
            (_, Some(s)) if s.kvmclock_stable => Verdict::Stable,
            (_, Some(_)) => Verdict::Unstable,
            (Status::Failed(_), None) => Verdict::Failed,
            _ => Verdict::Pending,
        }
    }

    /// The VM and every vCPU as they stood right after write `k` (k = 0:
    /// before any write; k past the end: the end of the run, runs included).
    pub fn snapshot(&self, k: u32) -> Snapshot {
        let end = match self.writes.get(k as usize) {
            // Everything before write k+1: write k and the runs after it.
            Some(&next) if k > 0 => next,
            Some(_) => 0,
            None => self.events.len(),
        };
        let mut snap = Snapshot::default();
        for e in &self.events[..end] {
            snap.apply(e);
        }
        snap.finish();
        snap
    }
}

/// STABLE / UNSTABLE at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Stable,
    Unstable,
    Pending,
    Failed,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Stable => "STABLE",
            Verdict::Unstable => "UNSTABLE",
            Verdict::Pending => "running…",
            Verdict::Failed => "failed",
        }
    }
}

/// One row of the vCPU table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VcpuRow {
    pub vcpu: u32,
    /// `this_tsc_generation`.
    pub generation: Option<u64>,
    /// `l1_tsc_offset`.
    pub offset: Option<i64>,
    /// In the matched set: `this_tsc_generation == cur_tsc_generation`.
    pub matched_set: Option<bool>,
    /// PVCLOCK_TSC_STABLE_BIT in its pvclock page (None: it has not run yet).
    pub pvclock_stable: Option<bool>,
    /// The last TSC value written to it.
    pub last_value: Option<u64>,
    /// How many times it was written.
    pub writes: u32,
}

/// The VM-wide matching state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmState {
    pub cur_tsc_generation: Option<u64>,
    pub nr_vcpus_matched_tsc: Option<u32>,
    pub online_vcpus: u32,
    /// `nr_vcpus_matched_tsc + 1 == online_vcpus`.
    pub vcpus_matched: Option<bool>,
    pub master_clock: bool,
}

/// The VM and its vCPUs at one point of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub vm: VmState,
    pub vcpus: Vec<VcpuRow>,
}

impl Snapshot {
    fn row(&mut self, vcpu: u32) -> &mut VcpuRow {
        let i = vcpu as usize;
        if self.vcpus.len() <= i {
            let from = self.vcpus.len() as u32;
            self.vcpus.extend((from..=vcpu).map(|v| VcpuRow {
                vcpu: v,
                ..VcpuRow::default()
            }));
        }
        &mut self.vcpus[i]
    }

    fn apply(&mut self, e: &Event) {
        match e {
            Event::Write(w) => {
                let row = self.row(w.vcpu);
                row.generation = w.this_tsc_generation.or(row.generation);
                row.offset = w.offset.or(row.offset);
                row.last_value = Some(w.value);
                row.writes += 1;
                self.vm = VmState {
                    cur_tsc_generation: w.cur_tsc_generation,
                    nr_vcpus_matched_tsc: w.nr_matched,
                    online_vcpus: w.online,
                    vcpus_matched: w.vcpus_matched,
                    master_clock: w.master_clock,
                };
            }
            Event::Run(r) => {
                self.row(r.vcpu).pvclock_stable = Some(r.pvclock_stable);
                self.vm.master_clock = r.master_clock;
            }
            Event::Clock(c) => {
                self.vm.master_clock = c.master_clock;
                self.vm.vcpus_matched = c.vcpus_matched.or(self.vm.vcpus_matched);
            }
            Event::Khz(_) => {}
            Event::Summary(s) => {
                self.vm.master_clock = s.master_clock;
                self.vm.nr_vcpus_matched_tsc = s.nr_matched.or(self.vm.nr_vcpus_matched_tsc);
                self.vm.vcpus_matched = s.vcpus_matched.or(self.vm.vcpus_matched);
                self.vm.cur_tsc_generation = s.cur_tsc_generation.or(self.vm.cur_tsc_generation);
                self.vm.online_vcpus = s.online;
                if let Some(gens) = &s.this_tsc_generation {
                    for (v, g) in gens.iter().enumerate() {
                        self.row(v as u32).generation = Some(*g);
                    }
                }
            }
        }
    }

    fn finish(&mut self) {
        let cur = self.vm.cur_tsc_generation;
        for row in &mut self.vcpus {
            row.matched_set = match (row.generation, cur) {
                (Some(g), Some(c)) => Some(g == c),
                _ => None,
            };
        }
    }
}

pub use scenarios::trace::Divergence;

/// The first write at which two backends that observed it disagree
/// (`scenarios::first_divergence`, which the CLI's `--compare` uses too).
pub fn first_divergence(runs: &[BackendRun]) -> Option<Divergence> {
    let writes: Vec<(BackendId, Vec<&WriteEvent>)> = runs
        .iter()
        .map(|r| (r.backend, r.writes().collect()))
        .collect();
    scenarios::first_divergence(&writes)
}

/// What a screen reader hears when a run's state changes: each backend's
/// verdict in words, then the first divergence or that the backends agree.
/// Nothing that changes at every streamed write is in it, so a live region
/// holding it speaks only when a verdict or the divergence changes.
pub fn announcement(runs: &[BackendRun], divergence: Option<&Divergence>) -> String {
    let verdicts: Vec<String> = runs
        .iter()
        .map(|r| {
            let word = match r.verdict() {
                Verdict::Stable => "stable",
                Verdict::Unstable => "unstable",
                Verdict::Pending => "running",
                Verdict::Failed => "failed",
            };
            format!("{} {word}", r.backend.name())
        })
        .collect();
    let mut said = verdicts.join(", ") + ".";
    match divergence {
        Some(d) => said += &format!(" First divergence at write {}: {}.", d.write, d.what),
        None if runs.len() > 1 && runs.iter().all(|r| r.verdict() != Verdict::Pending) => {
            said += " The backends agree at every write."
        }
        None => {}
    }
    said
}

/// The write where `nr_vcpus_matched_tsc + 1 == online_vcpus` stops holding
/// for good: the last write at which it turned false without turning true
/// again (None if it holds at the end or was never observed).
pub fn break_write(run: &BackendRun) -> Option<u32> {
    let mut broke = None;
    for (i, w) in run.writes().enumerate() {
        match (w.vcpus_matched, broke) {
            (Some(true), _) => broke = None,
            (Some(false), None) if w.online > 1 || w.nr_matched.unwrap_or(0) > 0 => {
                broke = Some(i as u32 + 1)
            }
            _ => {}
        }
    }
    broke
}

/// The notebook's word for how a write changed the counter (`Count::word`;
/// `?` where the backend did not observe it).
pub fn count_mark(w: &WriteEvent) -> &'static str {
    w.count.map_or("?", Count::word)
}

/// Runs the models among `backends` for a scenario, in the given order.
pub fn run_models(scenario: &Scenario, backends: &[BackendId]) -> Vec<BackendRun> {
    backends
        .iter()
        .filter(|b| b.is_model())
        .map(|&b| BackendRun::model(scenario, b))
        .collect()
}

/// The same, replayed at a traced run's moments with its values.
pub fn replay_models(
    scenario: &Scenario,
    backends: &[BackendId],
    replay: &scenarios::protocol::TraceReplay,
) -> Vec<BackendRun> {
    backends
        .iter()
        .filter(|b| b.is_model())
        .map(|&b| BackendRun::replayed(scenario, b, replay))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qemu(n: u32) -> Scenario {
        scenarios::parse(&format!("create {n}\nwrite * 0\nwrite * 0\nrun *\n")).unwrap()
    }

    #[test]
    fn qemu_boot_2_shows_the_overcount_and_the_fix() {
        let s = qemu(2);
        let runs = run_models(&s, &BackendId::MODELS);
        let old = &runs[0];
        let fixed = &runs[1];
        assert_eq!(old.write_count(), 6);
        // After write 4 (vCPU 1's post_init write) 3.14 has counted three
        // matched writes, 3.17 one: the first disagreement is at write 3.
        assert_eq!(old.snapshot(4).vm.nr_vcpus_matched_tsc, Some(3));
        assert_eq!(fixed.snapshot(4).vm.nr_vcpus_matched_tsc, Some(1));
        let d = first_divergence(&runs).unwrap();
        assert_eq!(d.write, 3);
        assert!(d.what.contains("2 on linux-3.14"), "{}", d.what);
        assert_eq!(old.verdict(), Verdict::Unstable);
        assert_eq!(fixed.verdict(), Verdict::Stable);
        // The end: every vCPU ran; 3.17 leaves both in generation 1 with the bit set.
        let end = fixed.snapshot(u32::MAX);
        assert_eq!(end.vcpus.len(), 2);
        assert!(end.vcpus.iter().all(|v| v.matched_set == Some(true)));
        assert!(end.vcpus.iter().all(|v| v.pvclock_stable == Some(true)));
        let end_old = old.snapshot(u32::MAX);
        assert!(
            end_old
                .vcpus
                .iter()
                .all(|v| v.pvclock_stable == Some(false))
        );
        assert_eq!(end_old.vm.nr_vcpus_matched_tsc, Some(5));
    }

    /// The words a screen reader hears: verdicts, then where they part.
    #[test]
    fn the_announcement_says_each_verdict_and_the_first_divergence() {
        let runs = run_models(&qemu(2), &BackendId::MODELS);
        let said = announcement(&runs, first_divergence(&runs).as_ref());
        assert!(
            said.starts_with("linux-3.14 unstable, linux-3.17 stable"),
            "{said}"
        );
        assert!(said.contains("First divergence at write 3: "), "{said}");
        let same = run_models(&qemu(2), &[BackendId::Linux317, BackendId::Linux618]);
        let said = announcement(&same, first_divergence(&same).as_ref());
        assert_eq!(
            said,
            "linux-3.17 stable, linux-6.18 stable. The backends agree at every write."
        );
    }

    #[test]
    fn snapshot_zero_is_before_any_write_and_rows_grow_with_writes() {
        let runs = run_models(&qemu(3), &[BackendId::Linux317]);
        assert_eq!(runs[0].snapshot(0), Snapshot::default());
        let s1 = runs[0].snapshot(1);
        assert_eq!(s1.vcpus.len(), 1);
        assert_eq!(s1.vm.online_vcpus, 1);
        assert_eq!(s1.vcpus[0].writes, 1);
        // Write 3 is vCPU 2's creation: three rows, all in the matched set.
        let s3 = runs[0].snapshot(3);
        assert_eq!(s3.vcpus.len(), 3);
        assert_eq!(s3.vm.nr_vcpus_matched_tsc, Some(2));
        assert_eq!(s3.vm.vcpus_matched, Some(true));
        assert!(s3.vcpus.iter().all(|v| v.pvclock_stable.is_none()));
    }

    #[test]
    fn break_write_marks_where_vcpus_matched_stops_holding() {
        let runs = run_models(&qemu(2), &[BackendId::Linux314, BackendId::Linux317]);
        // 3.14: write 2 makes it hold (1 + 1 == 2), write 3 breaks it for good.
        assert_eq!(break_write(&runs[0]), Some(3));
        assert_eq!(break_write(&runs[1]), None);
    }

    #[test]
    fn backends_without_the_counter_take_no_part_in_divergence() {
        let s = qemu(2);
        let mut runs = run_models(&s, &[BackendId::Linux317]);
        let blind: Vec<Event> = runs[0]
            .events
            .iter()
            .cloned()
            .map(|e| match e {
                Event::Write(mut w) => {
                    w.nr_matched = None;
                    w.matched = None;
                    Event::Write(w)
                }
                e => e,
            })
            .collect();
        runs.push(BackendRun::from_events(BackendId::Kvm, Source::Live, blind));
        assert_eq!(first_divergence(&runs), None);
    }

    #[test]
    fn a_failed_model_is_a_failed_verdict_not_a_panic() {
        let s = scenarios::parse("create 1\nrun *\n").unwrap();
        let r = BackendRun::model(&s, BackendId::Kvm);
        assert_eq!(r.verdict(), Verdict::Failed);
        assert!(matches!(r.status, Status::Failed(ref m) if m.contains("not a model")));
    }
}
