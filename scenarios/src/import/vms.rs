//! Telling the VMs of a trace apart, and keeping their TSC events.
//!
//! A trace may hold several VMs at once, their lines interleaved. Each
//! thread belongs to one VM, and with `record-tgid` each VM to one process:
//!
//! - a new VM begins at the creation of its first vCPU: a
//!   `kvm_write_tsc_offset` with `prev=0` (a vCPU's offset starts at 0)
//!   followed by a `kvm_track_tsc` with `nr_online 1` — on any thread, since
//!   no VM that already has a vCPU can print `nr_online 1` for a new one;
//! - any other write of a thread seen before is of that thread's VM;
//! - a thread not seen before that writes a vCPU joins the VM in which that
//!   vCPU's last offset is the write's `prev`;
//! - one that creates vCPU k joins the VM that has k vCPUs (the one whose
//!   generation offset it took, if several);
//! - with TGIDs, only the VMs of its process are candidates, and failing
//!   both it joins its process's latest VM; failing all, it begins a VM (one
//!   made before the trace began).
//!
//! Without context there are no threads, and the rules for a thread not
//! seen before apply to every write. `kvm_track_tsc` follows its `kvm_write_tsc_offset` on the same
//! thread (both are raised under `tsc_write_lock`); a write with none after
//! it is a guest write (Linux ≥ 5.10: WRMSR of IA32_TSC or TSC_ADJUST only
//! moves the offset), the kernel's own adjustment of an unstable TSC when a
//! vCPU is loaded, or the trace's end.

use std::collections::HashMap;

use crate::kernel::{KernelView, Record, Track};
use crate::trace::Origin;

use super::{ImportLimits, ProblemKind, Report, VmInfo};

/// The one rate every vCPU is taken at: the trace shows no KVM_SET_TSC_KHZ,
/// and the inference only compares rates.
pub(crate) const ONE_RATE: u32 = 1;

/// Writes waiting for their `kvm_track_tsc`; past this many, the oldest is
/// taken as a write without one.
const MAX_PENDING: usize = 64;

/// vCPU ids below this are looked up in a table; above, by a search.
const DIRECT_IDS: u32 = 4096;

/// Who raised an event: a line's context columns.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Who<'a> {
    pub(crate) pid: u32,
    pub(crate) tgid: Option<u32>,
    pub(crate) task: &'a [u8],
}

/// One TSC event kept for a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kept {
    /// Its line in the input.
    pub(crate) line: u64,
    /// Its timestamp in the trace's clock (0 without one).
    pub(crate) ts: u64,
    /// The kernel's `vcpu_id` (0 for a master-clock update).
    pub(crate) vcpu: u32,
    pub(crate) what: What,
}

/// What a kept event says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum What {
    /// `kvm_write_tsc_offset`, with the `kvm_track_tsc` that followed it.
    Write {
        origin: Origin,
        next: u64,
        track: Option<Track>,
    },
    /// `kvm_update_master_clock`.
    MasterClock { masterclock: bool },
    /// `kvm_pvclock_update`.
    Pvclock { flags: u8 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Vm(usize),
    /// A VM past [`ImportLimits::max_vms`]: counted, not kept.
    Dropped,
}

#[derive(Debug)]
struct Thread {
    slot: Slot,
    task: Box<str>,
}

/// A `kvm_write_tsc_offset` waiting to see whether a `kvm_track_tsc` follows.
#[derive(Debug)]
struct Pending {
    line: u64,
    ts: u64,
    pid: Option<u32>,
    tgid: Option<u32>,
    /// The task's name, for a thread not seen before.
    task: Option<Box<str>>,
    vcpu: u32,
    prev: u64,
    next: u64,
}

#[derive(Debug)]
struct Vm {
    info: VmInfo,
    view: KernelView,
    /// View index → `vcpu_id`.
    ids: Vec<u32>,
    /// `vcpu_id` → view index + 1 (0: none), for ids below [`DIRECT_IDS`].
    direct: Vec<u32>,
    /// `online_vcpus` as last traced.
    online: u32,
    kept: Vec<Kept>,
    said_vcpus: bool,
    /// A write of it traced a `prev` other than 0: the host reports the
    /// offset a write replaces (kvm-pvm, which applies none, always says 0).
    reports_prev: bool,
}

impl Vm {
    fn index(&self, id: u32) -> Option<usize> {
        if id < DIRECT_IDS {
            match self.direct.get(id as usize) {
                Some(&i) if i > 0 => Some(i as usize - 1),
                _ => None,
            }
        } else {
            self.ids.iter().position(|&x| x == id)
        }
    }

    fn add(&mut self, id: u32) -> usize {
        let i = self.view.add_vcpu(ONE_RATE);
        self.ids.push(id);
        if id < DIRECT_IDS {
            if self.direct.len() <= id as usize {
                self.direct.resize(id as usize + 1, 0);
            }
            self.direct[id as usize] = i as u32 + 1;
        }
        i
    }
}

/// The VMs of a trace, as its events arrive.
#[derive(Debug)]
pub(crate) struct Vms {
    limits: ImportLimits,
    vms: Vec<Vm>,
    threads: HashMap<u32, Thread>,
    tgids: HashMap<u32, Slot>,
    pending: Vec<Pending>,
    /// TSC events kept in all.
    kept: u64,
    /// The VM of the latest event.
    last: Option<usize>,
    said_vms: bool,
    said_events: bool,
    said_threads: bool,
}

impl Vms {
    pub(crate) fn new(limits: ImportLimits) -> Vms {
        Vms {
            limits,
            vms: Vec::new(),
            threads: HashMap::new(),
            tgids: HashMap::new(),
            pending: Vec::new(),
            kept: 0,
            last: None,
            said_vms: false,
            said_events: false,
            said_threads: false,
        }
    }

    /// One TSC event of line `line`.
    pub(crate) fn record(
        &mut self,
        line: u64,
        ts: u64,
        who: Option<Who<'_>>,
        record: Record,
        report: &mut Report,
    ) {
        let pid = who.map(|w| w.pid);
        match record {
            Record::WriteTscOffset { vcpu, prev, next } => {
                self.flush(pid, report);
                let task = who
                    .filter(|w| !w.task.is_empty() && !self.threads.contains_key(&w.pid))
                    .map(|w| String::from_utf8_lossy(w.task).into());
                self.pending.push(Pending {
                    line,
                    ts,
                    pid,
                    tgid: who.and_then(|w| w.tgid),
                    task,
                    vcpu,
                    prev,
                    next,
                });
                if self.pending.len() > MAX_PENDING {
                    let oldest = (0..self.pending.len())
                        .min_by_key(|&i| self.pending[i].line)
                        .unwrap_or(0);
                    let p = self.pending.swap_remove(oldest);
                    self.resolve(p, None, report);
                }
            }
            Record::TrackTsc {
                vcpu,
                masterclock,
                offsetmatched,
                nr_online,
                hostclock,
            } => {
                let track = Track {
                    masterclock,
                    offsetmatched,
                    nr_online,
                };
                match self.pending_of(pid) {
                    Some(i) if self.pending[i].vcpu == vcpu => {
                        let p = self.pending.swap_remove(i);
                        self.resolve(p, Some((track, hostclock)), report);
                    }
                    other => {
                        if let Some(i) = other {
                            let p = self.pending.swap_remove(i);
                            self.resolve(p, None, report);
                        }
                        report.not_kept += 1;
                        report.problem(line, ProblemKind::Unpaired, || {
                            let on = pid.map_or(String::new(), |p| format!(" on thread {p}"));
                            format!(
                                "kvm_track_tsc of vCPU {vcpu} with no kvm_write_tsc_offset of it just before{on}: not read"
                            )
                        });
                    }
                }
            }
            Record::UpdateMasterClock {
                masterclock,
                hostclock,
                ..
            } => {
                self.flush(pid, report);
                let Some(v) = self.vm_of(who) else {
                    report.not_kept += 1;
                    return;
                };
                let vm = &mut self.vms[v];
                vm.view.observe(std::slice::from_ref(&record));
                vm.info.hostclock = Some(hostclock);
                let k = Kept {
                    line,
                    ts,
                    vcpu: 0,
                    what: What::MasterClock { masterclock },
                };
                self.keep(v, k, report);
            }
            Record::PvclockUpdate { vcpu, flags, .. } => {
                self.flush(pid, report);
                let Some(v) = self.vm_of(who) else {
                    report.not_kept += 1;
                    return;
                };
                self.vms[v].info.pvclock_traced = true;
                let k = Kept {
                    line,
                    ts,
                    vcpu,
                    what: What::Pvclock { flags },
                };
                self.keep(v, k, report);
            }
        }
    }

    /// The end of the input: writes still waiting have no `kvm_track_tsc`.
    /// The end of the input; `cut` when it stopped part way through a line.
    pub(crate) fn finish(
        mut self,
        cut: bool,
        report: &mut Report,
    ) -> (Vec<VmInfo>, Vec<Vec<Kept>>) {
        self.pending.sort_by_key(|p| p.line);
        for p in std::mem::take(&mut self.pending) {
            if cut {
                // Its kvm_track_tsc may be what the cut took: neither a
                // userspace write nor a guest one can be told.
                report.problem(p.line, ProblemKind::Unpaired, || {
                    format!(
                        "the trace stops before this write's kvm_track_tsc (vCPU {}): not read",
                        p.vcpu
                    )
                });
                report.not_kept += 1;
                continue;
            }
            self.resolve(p, None, report);
        }
        self.vms.into_iter().map(|vm| (vm.info, vm.kept)).unzip()
    }

    fn pending_of(&self, pid: Option<u32>) -> Option<usize> {
        self.pending.iter().position(|p| p.pid == pid)
    }

    /// The thread's waiting write, if any, has no `kvm_track_tsc`.
    fn flush(&mut self, pid: Option<u32>, report: &mut Report) {
        if let Some(i) = self.pending_of(pid) {
            let p = self.pending.swap_remove(i);
            self.resolve(p, None, report);
        }
    }

    /// The VM of an event that is not a write: its process's, its thread's,
    /// or (an unknown thread, no context) the VM of the latest event.
    fn vm_of(&self, who: Option<Who<'_>>) -> Option<usize> {
        let Some(w) = who else {
            return self.last;
        };
        if let Some(t) = w.tgid {
            return match self.tgids.get(&t) {
                Some(Slot::Vm(v)) => Some(*v),
                _ => None,
            };
        }
        match self.threads.get(&w.pid).map(|t| t.slot) {
            Some(Slot::Vm(v)) => Some(v),
            Some(Slot::Dropped) => None,
            None => self.last,
        }
    }

    /// A write, with the `kvm_track_tsc` that followed it if one did.
    fn resolve(&mut self, mut p: Pending, track: Option<(Track, u32)>, report: &mut Report) {
        // A first creation (nr_online 1, prev 0) starts a new VM — unless its
        // thread's VM has that one vCPU already and its host never reports a
        // `prev`: then it is a rewrite of it (kvm-pvm, which applies no
        // offset, traces prev = 0 for every write, and a 1-vCPU QEMU writes
        // all from one thread).
        let rewrite = p
            .pid
            .and_then(|pid| self.threads.get(&pid))
            .is_some_and(|t| {
                matches!(t.slot, Slot::Vm(v) if self.vms[v].online == 1 && !self.vms[v].reports_prev)
            });
        let first = p.prev == 0 && !rewrite && track.is_some_and(|(t, _)| t.nr_online == 1);
        let Slot::Vm(v) = self.assign(&mut p, track.map(|t| t.0), first, report) else {
            report.not_kept += 1;
            return;
        };
        self.last = Some(v);
        let max_vcpus = self.limits.max_vcpus as usize;
        let vm = &mut self.vms[v];
        vm.info.writes += 1;
        vm.reports_prev |= p.prev != 0;
        let (idx, new) = match vm.index(p.vcpu) {
            Some(i) => (i, false),
            None if vm.ids.len() >= max_vcpus => {
                if !vm.said_vcpus {
                    vm.said_vcpus = true;
                    let (id, max) = (vm.info.id, max_vcpus);
                    report.problem(p.line, ProblemKind::Limit, || {
                        format!(
                            "VM {id} has more than {max} vCPUs: the events of vCPU {} and any further ones are counted, not kept",
                            p.vcpu
                        )
                    });
                }
                vm.info.events += 1;
                report.not_kept += 1;
                return;
            }
            None => (vm.add(p.vcpu), true),
        };
        let creation = new && p.prev == 0 && track.is_some_and(|(t, _)| t.nr_online > vm.online);
        let origin = match track {
            _ if creation => Origin::Create,
            Some(_) => Origin::Write,
            None => Origin::Guest,
        };
        vm.view.write(idx, origin, Some(p.next), track.map(|t| t.0));
        if let Some((t, hostclock)) = track {
            vm.online = vm.online.max(t.nr_online);
            vm.info.hostclock = Some(hostclock);
            vm.view.observe(&[Record::TrackTsc {
                vcpu: p.vcpu,
                masterclock: t.masterclock,
                offsetmatched: t.offsetmatched,
                nr_online: t.nr_online,
                hostclock,
            }]);
        }
        vm.info.created += u32::from(creation);
        vm.info.vcpus = vm.online.max(vm.ids.len() as u32);
        let k = Kept {
            line: p.line,
            ts: p.ts,
            vcpu: p.vcpu,
            what: What::Write {
                origin,
                next: p.next,
                track: track.map(|t| t.0),
            },
        };
        self.keep(v, k, report);
    }

    /// Keeps an event of VM `v`, if the bound allows.
    fn keep(&mut self, v: usize, k: Kept, report: &mut Report) {
        let vm = &mut self.vms[v];
        vm.info.events += 1;
        vm.info.lines.1 = k.line;
        if let Some(span) = &mut vm.info.span {
            span.1 = k.ts;
        }
        if self.kept >= self.limits.max_events {
            report.not_kept += 1;
            if !self.said_events {
                self.said_events = true;
                let max = self.limits.max_events;
                report.problem(k.line, ProblemKind::Limit, || {
                    format!(
                        "more than {max} TSC events: this one and later ones are counted, not kept"
                    )
                });
            }
            return;
        }
        self.kept += 1;
        vm.info.kept += 1;
        vm.kept.push(k);
    }

    /// The VM a write belongs to (see the module's rules): its thread's; a
    /// new one at a first creation; the one it continues (within its
    /// process, with TGIDs); its process's latest; else a new one.
    fn assign(
        &mut self,
        p: &mut Pending,
        track: Option<Track>,
        first: bool,
        report: &mut Report,
    ) -> Slot {
        if !first && let Some(t) = p.pid.and_then(|pid| self.threads.get(&pid)) {
            return t.slot;
        }
        let process = p.tgid.and_then(|g| self.tgids.get(&g).copied());
        let slot = if first {
            self.new_vm(p, report)
        } else if let Some(v) = self.guess(p, track) {
            Slot::Vm(v)
        } else if let Some(s) = process {
            s
        } else {
            self.new_vm(p, report)
        };
        if let Some(g) = p.tgid
            && (first || process.is_none())
            && (self.tgids.len() < self.limits.max_threads as usize || process.is_some())
        {
            self.tgids.insert(g, slot);
        }
        if let Some(pid) = p.pid {
            self.bind(pid, slot, p, report);
        }
        slot
    }

    /// The VM a write of an unknown thread (or without context) continues.
    fn guess(&self, p: &Pending, track: Option<Track>) -> Option<usize> {
        let latest = |a: &(usize, &Vm), b: &(usize, &Vm)| a.1.info.lines.1.cmp(&b.1.info.lines.1);
        // With TGIDs, only the VMs of the write's process.
        let vms = || {
            self.vms
                .iter()
                .enumerate()
                .filter(|(_, vm)| p.tgid.is_none() || vm.info.tgid == p.tgid)
        };
        if p.prev != 0 {
            let continues = vms()
                .filter(|(_, vm)| vm.index(p.vcpu).and_then(|i| vm.view.offset(i)) == Some(p.prev))
                .max_by(latest);
            if let Some((v, _)) = continues {
                return Some(v);
            }
        }
        let t = track.filter(|t| p.prev == 0 && t.nr_online > 1)?;
        // A rewrite of a vCPU a VM has, at the online count it has: on hosts
        // that trace prev = 0 for every write (kvm-pvm), or without threads.
        let rewrites =
            || vms().filter(|(_, vm)| vm.online == t.nr_online && vm.index(p.vcpu).is_some());
        let same_offset = |vm: &Vm| {
            vm.index(p.vcpu).and_then(|i| vm.view.offset(i)) == Some(p.next)
                || vm.view.cur_offset() == Some(p.next)
        };
        // Only with the offset it already has: another VM's creation of that
        // vCPU number looks the same but for its own offset.
        if let Some((v, _)) = rewrites().filter(|(_, vm)| same_offset(vm)).max_by(latest) {
            return Some(v);
        }
        let joins = |vm: &&Vm| vm.online + 1 == t.nr_online && vm.index(p.vcpu).is_none();
        let candidates = || vms().filter(|(_, vm)| joins(vm));
        candidates()
            .filter(|(_, vm)| vm.view.cur_offset() == Some(p.next))
            .max_by(latest)
            .or_else(|| candidates().max_by(latest))
            .map(|(v, _)| v)
    }

    fn new_vm(&mut self, p: &Pending, report: &mut Report) -> Slot {
        if self.vms.len() >= self.limits.max_vms as usize {
            if !self.said_vms {
                self.said_vms = true;
                let max = self.limits.max_vms;
                report.problem(p.line, ProblemKind::Limit, || {
                    format!(
                        "more than {max} VMs: the events of the VMs that begin here or later are counted, not kept"
                    )
                });
            }
            return Slot::Dropped;
        }
        self.vms.push(Vm {
            info: VmInfo {
                id: self.vms.len() as u32 + 1,
                tgid: p.tgid,
                pid: None,
                task: None,
                threads: 0,
                vcpus: 0,
                created: 0,
                writes: 0,
                events: 0,
                kept: 0,
                lines: (p.line, p.line),
                span: Some((p.ts, p.ts)),
                pvclock_traced: false,
                hostclock: None,
            },
            view: KernelView::new(),
            ids: Vec::new(),
            direct: Vec::new(),
            online: 0,
            kept: Vec::new(),
            said_vcpus: false,
            reports_prev: false,
        });
        Slot::Vm(self.vms.len() - 1)
    }

    /// Thread `pid` belongs to `slot` from now on.
    fn bind(&mut self, pid: u32, slot: Slot, p: &mut Pending, report: &mut Report) {
        let task = match self.threads.get_mut(&pid) {
            Some(t) if t.slot == slot => return,
            Some(t) => {
                t.slot = slot;
                t.task.clone()
            }
            None => {
                if self.threads.len() >= self.limits.max_threads as usize {
                    if !self.said_threads {
                        self.said_threads = true;
                        let max = self.limits.max_threads;
                        report.problem(p.line, ProblemKind::Limit, || {
                            format!(
                                "more than {max} threads: those from here on are told apart by their offsets alone"
                            )
                        });
                    }
                    return;
                }
                let task = p.task.take().unwrap_or_default();
                self.threads.insert(
                    pid,
                    Thread {
                        slot,
                        task: task.clone(),
                    },
                );
                task
            }
        };
        if let Slot::Vm(v) = slot {
            let info = &mut self.vms[v].info;
            info.threads += 1;
            if info.pid.is_none() {
                info.pid = Some(pid);
                // Records read through perf carry no task name.
                info.task = (!task.is_empty()).then(|| task.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What memory follows: the events kept (ImportLimits::max_events says so).
    #[test]
    fn a_kept_event_is_small() {
        assert!(
            std::mem::size_of::<Kept>() <= 48,
            "{}",
            std::mem::size_of::<Kept>()
        );
    }
}
