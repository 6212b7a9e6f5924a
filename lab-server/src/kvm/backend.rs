//! The `kvm` backend: a scenario on real KVM vCPUs, observed through the
//! kernel's own tracepoints, KVM_GET_CLOCK and the guest's pvclock pages.
//!
//! The guest is ten bytes of real-mode code shared by every vCPU: `rdtsc`,
//! store it, `hlt`, and jump back, so every KVM_RUN ends at the `hlt`. Each
//! vCPU has its own pvclock area (MSR_KVM_SYSTEM_TIME_NEW), read after it runs.
//! No in-kernel irqchip: a `hlt` must exit to userspace.
//!
//! Every ioctl of a scenario runs on the thread that made the backend: the
//! perf events it reads follow that thread. Fields the kernel does not report
//! (the models' reasoning, which request was raised) are `None`; matched and
//! generations are inferred from the traced offsets and counter, as the kernel
//! copies the generation's offset exactly on a matched write (stable TSC).

use std::time::{Duration, Instant};

use kvm_bindings::{
    KVM_CLOCK_TSC_STABLE, kvm_clock_data, kvm_msr_entry, kvm_userspace_memory_region,
};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use scenarios::ast::{DeltaAmount, OffsetValue, TscValue};
use scenarios::kernel::{KernelView, Record, Track};
use scenarios::models::nsec_to_cycles;
use scenarios::pvclock;
use scenarios::trace::{
    BackendId, ClockEvent, HostReport, KhzEvent, Origin, RunEvent, Summary, WriteEvent,
};
use scenarios::{Backend, HostConfig, HostTime, Limits, Stamp, StepCtx, StepError, Timing};

use super::error::KvmError;
use super::perf::{self, Handle, Losses};
use super::sys::{self, GuestMemory, MSR_IA32_TSC, MSR_KVM_SYSTEM_TIME_NEW};
use super::watchdog::Watchdog;

/// Bounds for scenarios run on real KVM (they may come from anyone): 64
/// vCPUs, 20,000 steps, 10 s of waiting in all.
pub const LIMITS: Limits = Limits {
    max_vcpus: 64,
    max_steps: 20_000,
    max_wait_ns: 10_000_000_000,
};

/// A KVM_RUN that has not reached `hlt` by then is interrupted.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(1);

/// Checks a scenario against `limits` before anything runs on real KVM.
pub fn admit(limits: &Limits, scenario: &scenarios::Scenario) -> Result<(), String> {
    let a = scenarios::check(scenario, None).map_err(|e| e.to_string())?;
    limits.admit(&a).map_err(|e| e.sentence("the kvm backend"))
}

// Guest-physical layout (1 MiB of RAM at 0).
const MEM_SIZE: usize = 1 << 20;
const CODE: usize = 0x1000;
const WRMSR_STUB: usize = 0x1100;
const TSC_SLOTS: usize = 0x10000;
const PVCLOCK: usize = 0x20000;
const PVCLOCK_SLOT: usize = pvclock::SIZE;

/// rdtsc; mov [bx],eax; mov [bx+4],edx; hlt; jmp back to rdtsc.
const GUEST_CODE: [u8; 12] = [
    0x0f, 0x31, 0x66, 0x89, 0x07, 0x66, 0x89, 0x57, 0x04, 0xf4, 0xeb, 0xf4,
];
/// wrmsr; hlt (the guest's own MSR_IA32_TSC write: ecx, edx:eax set by the host).
const GUEST_WRMSR: [u8; 3] = [0x0f, 0x30, 0xf4];

/// A VM with the lab's guest loaded. Field order is drop order: the vCPU fds
/// (each keeps the VM alive in the kernel), the VM, then the memory it maps.
#[derive(Debug)]
pub(crate) struct Vm {
    pub(crate) vcpus: Vec<VcpuFd>,
    pub(crate) fd: VmFd,
    pub(crate) memory: GuestMemory,
}

impl Vm {
    /// KVM_CREATE_VM, 1 MiB of RAM at guest-physical 0, the guest code.
    pub(crate) fn new(kvm: &Kvm) -> Result<Vm, KvmError> {
        let fd = kvm
            .create_vm()
            .map_err(|e| KvmError::ioctl("KVM_CREATE_VM", e))?;
        let memory = GuestMemory::new(MEM_SIZE).map_err(|e| KvmError::io("guest memory", &e))?;
        memory.write(CODE, &GUEST_CODE);
        memory.write(WRMSR_STUB, &GUEST_WRMSR);
        let region = kvm_userspace_memory_region {
            slot: 0,
            flags: 0,
            guest_phys_addr: 0,
            memory_size: memory.len() as u64,
            userspace_addr: memory.host_addr(),
        };
        // SAFETY: `region` describes `memory`, which this `Vm` owns and drops
        // only after the VM fd and every vCPU fd (field order), so the mapping
        // outlives every use the kernel makes of it.
        unsafe { fd.set_user_memory_region(region) }
            .map_err(|e| KvmError::ioctl("KVM_SET_USER_MEMORY_REGION", e))?;
        Ok(Vm {
            vcpus: Vec::new(),
            fd,
            memory,
        })
    }
}

/// Sets up a new vCPU: real mode at CODE, its TSC slot in bx, its pvclock area.
pub(crate) fn prepare(vcpu: &VcpuFd, v: usize) -> Result<(), StepError> {
    let mut sregs = vcpu.get_sregs().map_err(|e| os("KVM_GET_SREGS", e))?;
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    sregs.ds.base = TSC_SLOTS as u64;
    sregs.ds.selector = (TSC_SLOTS >> 4) as u16;
    vcpu.set_sregs(&sregs).map_err(|e| os("KVM_SET_SREGS", e))?;
    let regs = kvm_bindings::kvm_regs {
        rip: CODE as u64,
        rflags: 2,
        rbx: 16 * v as u64,
        ..Default::default()
    };
    vcpu.set_regs(&regs).map_err(|e| os("KVM_SET_REGS", e))?;
    write_msr(
        vcpu,
        MSR_KVM_SYSTEM_TIME_NEW,
        (PVCLOCK + PVCLOCK_SLOT * v) as u64 | 1,
    )
}

/// A VM on real KVM, driven step by step.
#[derive(Debug)]
pub struct KvmBackend {
    vm: Vm,
    trace: Option<Handle>,
    thread: libc::pthread_t,
    host: HostReport,
    tsc_khz: u32,
    limits: Limits,
    start: HostTime,
    stamps: Vec<Stamp>,
    waited: Duration,
    view: KernelView,
    pvclock_version: Vec<u32>,
    /// What the thread's ring had lost before this run began (the counts
    /// are the ring's, kept for the thread's life).
    losses_at_start: Losses,
}

/// A failed ioctl, as a step error that keeps its errno.
fn os(call: &'static str, e: kvm_ioctls::Error) -> StepError {
    KvmError::ioctl(call, e).into()
}

fn now() -> HostTime {
    HostTime {
        ns: sys::monotonic_raw_ns(),
        tsc: sys::rdtsc(),
    }
}

impl KvmBackend {
    /// Creates the VM and its memory, traced when perf and tracefs allow.
    pub fn new(host: HostReport, limits: Limits) -> Result<Self, KvmError> {
        Self::with_tracing(host, limits, true)
    }

    /// As [`KvmBackend::new`]; `trace: false` leaves tracepoints unread (for
    /// measuring what tracing costs).
    pub fn with_tracing(host: HostReport, limits: Limits, trace: bool) -> Result<Self, KvmError> {
        let kvm = super::host::kvm()?;
        let tsc_khz = host
            .tsc_khz
            .ok_or_else(|| KvmError::Unavailable("KVM_GET_TSC_KHZ failed on this host".into()))?;
        sys::install_kick_handler();
        // Trace first, so that even the VM's creation is seen.
        let trace = if trace {
            perf::this_thread().ok()
        } else {
            None
        };
        // What the thread raised before this run is not this run's.
        if let Some(t) = &trace {
            t.drain();
        }
        let start = now();
        let vm = Vm::new(kvm)?;
        Ok(KvmBackend {
            vm,
            trace,
            thread: sys::pthread_self(),
            host,
            tsc_khz,
            limits,
            start,
            stamps: Vec::new(),
            waited: Duration::ZERO,
            view: KernelView::default(),
            pvclock_version: Vec::new(),
            losses_at_start: trace.as_ref().map(Handle::losses).unwrap_or_default(),
        })
    }

    /// Whether the kernel's tracepoints are being read.
    pub fn traced(&self) -> bool {
        self.trace.is_some()
    }

    /// The host as the models should see it to replay this run.
    pub fn replay_host(&self) -> HostConfig {
        HostConfig {
            tsc_khz: self.tsc_khz,
            clocksource: if self.host.clocksource == "tsc" {
                scenarios::ast::Clocksource::Tsc
            } else {
                scenarios::ast::Clocksource::Hpet
            },
            tsc_stable: true,
            uptime_ns: self.start.ns,
        }
    }

    /// The measured time (and written value) of every step so far.
    pub fn timing(&self) -> Timing {
        Timing::Replay {
            start: self.start,
            stamps: self.stamps.clone(),
        }
    }

    fn stamp(&mut self, ctx: &StepCtx, value: Option<u64>) -> HostTime {
        let t = now();
        let s = Stamp {
            ns: t.ns,
            tsc: t.tsc,
            value,
        };
        let i = ctx.step as usize;
        // Steps without a backend call leave no gap: repeat the last stamp.
        while self.stamps.len() < i {
            let last = self.stamps.last().copied().unwrap_or(s);
            self.stamps.push(Stamp {
                value: None,
                ..last
            });
        }
        if self.stamps.len() == i {
            self.stamps.push(s);
        } else {
            self.stamps[i] = s;
        }
        t
    }

    fn t_ns(&self, t: HostTime) -> u64 {
        t.ns.saturating_sub(self.start.ns)
    }

    fn same_thread(&self) -> Result<(), StepError> {
        // pthread_self reads thread-local memory: no system call per step.
        if sys::pthread_self() == self.thread {
            Ok(())
        } else {
            Err(StepError::refused(
                "a KVM backend must be driven from the thread that created it (its trace follows that thread)",
            ))
        }
    }

    fn vcpu(&self, v: u32) -> Result<usize, StepError> {
        if (v as usize) < self.vm.vcpus.len() {
            Ok(v as usize)
        } else {
            Err(StepError::Refused(format!(
                "vCPU {v} does not exist (the VM has {} vCPUs)",
                self.vm.vcpus.len()
            )))
        }
    }

    /// The kernel's records of this thread since the last step.
    fn drain(&mut self) -> Result<Vec<Record>, StepError> {
        let Some(t) = &self.trace else {
            return Ok(Vec::new());
        };
        let records: Vec<Record> = t.drain().into_iter().map(|s| s.record).collect();
        self.view.observe(&records);
        Ok(records)
    }

    /// `use_master_clock` now: as the kernel's events last said it, or,
    /// untraced, KVM_GET_CLOCK's KVM_CLOCK_TSC_STABLE flag (which reports it).
    fn master_clock(&self) -> Result<bool, StepError> {
        // Only while the ring lost nothing: a lost record may be the update.
        if let Some(m) = self
            .view
            .master()
            .filter(|_| self.losses() == Losses::default())
        {
            return Ok(m);
        }
        let c = self.vm.fd.get_clock().map_err(|e| os("KVM_GET_CLOCK", e))?;
        Ok(c.flags & KVM_CLOCK_TSC_STABLE != 0)
    }

    /// The guest TSC of a vCPU as KVM computes it: host TSC + the kernel's
    /// offset for it (from the trace), not a read-back, which hosts that drop
    /// offsets answer with their own TSC.
    fn guest_tsc(&self, v: usize) -> Result<u64, StepError> {
        let host = sys::rdtsc();
        match self.view.offset(v) {
            Some(off) => Ok(host.wrapping_add(off)),
            None => read_msr(&self.vm.vcpus[v], MSR_IA32_TSC),
        }
    }

    fn resolve(&self, v: usize, value: TscValue) -> Result<u64, StepError> {
        let (of, delta) = match value {
            TscValue::Literal(x) => return Ok(x),
            TscValue::Now { of, delta } => (of, delta),
        };
        let source = match of {
            Some(k) => self.vcpu(k)?,
            None => v,
        };
        let base = self.guest_tsc(source)?;
        let khz = self.vm.vcpus[v].get_tsc_khz().unwrap_or(self.tsc_khz);
        let cycles = match delta.amount {
            DeltaAmount::Cycles(c) => c,
            DeltaAmount::Time(d) => nsec_to_cycles(khz, d.ns),
        };
        let r = if delta.negative {
            base.checked_sub(cycles)
        } else {
            base.checked_add(cycles)
        };
        r.ok_or_else(|| {
            StepError::Refused(format!("{value} is out of range: the guest TSC is {base}"))
        })
    }

    /// Turns the trace of one write into the shared event: matched and
    /// generations are the shared inference of [`KernelView::write`].
    fn observe_write(
        &mut self,
        ctx: &StepCtx,
        v: usize,
        value: u64,
        origin: Origin,
        t: HostTime,
        records: &[Record],
    ) -> Result<WriteEvent, StepError> {
        let next = records.iter().rev().find_map(|r| match r {
            Record::WriteTscOffset { vcpu, next, .. } if *vcpu as usize == v => Some(*next),
            _ => None,
        });
        let track = records.iter().rev().find_map(|r| Track::of(r, v as u32));
        let online = track.map_or(self.vm.vcpus.len() as u32, |t| t.nr_online);
        let master_clock = match track {
            Some(t) => t.masterclock,
            None => self.master_clock()?,
        };
        let mut ev = WriteEvent {
            backend: BackendId::Kvm,
            step: ctx.step,
            line: ctx.line,
            write: ctx.write,
            t_ns: self.t_ns(t),
            vcpu: v as u32,
            origin,
            value,
            matched: None,
            new_generation: None,
            cur_tsc_generation: None,
            this_tsc_generation: None,
            nr_matched: None,
            online,
            vcpus_matched: None,
            offset: next.map(|n| n as i64),
            master_clock,
            masterclock_update_requested: None,
            decision: None,
            count: None,
        };
        let Some(inferred) = self.view.write(v, origin, next, track) else {
            if self.traced() {
                return Err(StepError::Unexpected(self.missing(
                    v,
                    next.is_none(),
                    track.is_none(),
                    records,
                )));
            }
            return Ok(ev);
        };
        let traced = self.traced();
        ev.matched = Some(inferred.matched);
        ev.new_generation = Some(inferred.new_generation);
        ev.count = Some(inferred.count);
        ev.nr_matched = inferred.nr_matched;
        ev.vcpus_matched = inferred.vcpus_matched(online);
        ev.cur_tsc_generation = traced.then_some(inferred.cur_tsc_generation);
        ev.this_tsc_generation = traced.then_some(inferred.this_tsc_generation);
        Ok(ev)
    }

    /// KVM_RUN until the guest's `hlt`, under the watchdog.
    fn run_to_hlt(&mut self, v: usize) -> Result<(), StepError> {
        let guard = Watchdog::global().arm(self.thread, Instant::now() + RUN_TIMEOUT);
        let result = loop {
            match self.vm.vcpus[v].run() {
                Ok(VcpuExit::Hlt) => break Ok(()),
                Ok(other) => {
                    break Err(StepError::Unexpected(format!(
                        "vCPU {v} stopped with an unexpected exit: {other:?}"
                    )));
                }
                Err(e) if e.errno() == libc::EINTR && guard.fired() => {
                    break Err(StepError::Unexpected(format!(
                        "vCPU {v} did not reach its hlt within {} ms: interrupted",
                        RUN_TIMEOUT.as_millis()
                    )));
                }
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => continue,
                Err(e) => break Err(os("KVM_RUN", e)),
            }
        };
        drop(guard);
        result
    }

    fn pvclock(&self, v: usize) -> (u32, u8) {
        let slot = PVCLOCK + PVCLOCK_SLOT * v;
        let version = u32::from_le_bytes(self.vm.memory.read::<4>(slot + pvclock::VERSION_OFFSET));
        let flags = self.vm.memory.read::<1>(slot + pvclock::FLAGS_OFFSET)[0];
        (version, flags)
    }

    /// Events the kernel dropped from this run's ring, because it was full.
    pub fn overruns(&self) -> u64 {
        self.losses().lost
    }

    /// What this run's ring dropped or could not decode.
    fn losses(&self) -> Losses {
        let now = self.trace.as_ref().map(Handle::losses).unwrap_or_default();
        Losses {
            lost: now.lost.saturating_sub(self.losses_at_start.lost),
            undecodable: now
                .undecodable
                .saturating_sub(self.losses_at_start.undecodable),
        }
    }

    /// Which event a write left untraced, and what the reader saw instead.
    fn missing(&self, v: usize, no_offset: bool, no_track: bool, records: &[Record]) -> String {
        let events = match (no_offset, no_track) {
            (true, true) => "no kvm_write_tsc_offset and no kvm_track_tsc",
            (true, false) => "no kvm_write_tsc_offset",
            _ => "no kvm_track_tsc",
        };
        let seen = if records.is_empty() {
            "no record at all".to_string()
        } else {
            records
                .iter()
                .map(|r| format!("{r:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Losses { lost, undecodable } = self.losses();
        format!(
            "the kernel traced {events} for vCPU {v}; the reader saw {seen}; the kernel reports {lost} record(s) lost to a full ring, and {undecodable} did not decode"
        )
    }
}

fn write_msr(vcpu: &VcpuFd, index: u32, data: u64) -> Result<(), StepError> {
    let msrs = kvm_bindings::Msrs::from_entries(&[kvm_msr_entry {
        index,
        data,
        ..Default::default()
    }])
    .map_err(|e| StepError::Unexpected(format!("{e:?}")))?;
    match vcpu.set_msrs(&msrs) {
        Ok(1) => Ok(()),
        Ok(_) => Err(StepError::Refused(format!(
            "KVM_SET_MSRS refused MSR {index:#x}"
        ))),
        Err(e) => Err(os("KVM_SET_MSRS", e)),
    }
}

fn read_msr(vcpu: &VcpuFd, index: u32) -> Result<u64, StepError> {
    let mut msrs = kvm_bindings::Msrs::from_entries(&[kvm_msr_entry {
        index,
        ..Default::default()
    }])
    .map_err(|e| StepError::Unexpected(format!("{e:?}")))?;
    vcpu.get_msrs(&mut msrs)
        .map_err(|e| os("KVM_GET_MSRS", e))?;
    Ok(msrs.as_slice()[0].data)
}

impl Backend for KvmBackend {
    fn id(&self) -> BackendId {
        BackendId::Kvm
    }

    fn create_vcpu(&mut self, ctx: &StepCtx) -> Result<WriteEvent, StepError> {
        self.same_thread()?;
        let v = self.vm.vcpus.len();
        if v as u32 >= self.limits.max_vcpus {
            return Err(StepError::Refused(format!(
                "the kvm backend runs at most {} vCPUs",
                self.limits.max_vcpus
            )));
        }
        let t = self.stamp(ctx, Some(0));
        let vcpu = self
            .vm
            .fd
            .create_vcpu(v as u64)
            .map_err(|e| os("KVM_CREATE_VCPU", e))?;
        let records = self.drain()?;
        prepare(&vcpu, v)?;
        self.vm.vcpus.push(vcpu);
        self.view.add_vcpu(self.tsc_khz);
        self.pvclock_version.push(0);
        self.observe_write(ctx, v, 0, Origin::Create, t, &records)
    }

    fn write_tsc(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        value: TscValue,
        origin: Origin,
    ) -> Result<WriteEvent, StepError> {
        self.same_thread()?;
        let v = self.vcpu(vcpu)?;
        let data = self.resolve(v, value)?;
        if origin == Origin::Guest {
            // The guest executes WRMSR itself: rip at the stub, ecx = MSR, edx:eax = value.
            let mut regs = self.vm.vcpus[v]
                .get_regs()
                .map_err(|e| os("KVM_GET_REGS", e))?;
            let saved = regs;
            regs.rip = WRMSR_STUB as u64;
            regs.rcx = u64::from(MSR_IA32_TSC);
            regs.rax = data & 0xffff_ffff;
            regs.rdx = data >> 32;
            self.vm.vcpus[v]
                .set_regs(&regs)
                .map_err(|e| os("KVM_SET_REGS", e))?;
            let t = self.stamp(ctx, Some(data));
            self.run_to_hlt(v)?;
            self.vm.vcpus[v]
                .set_regs(&saved)
                .map_err(|e| os("KVM_SET_REGS", e))?;
            let records = self.drain()?;
            return self.observe_write(ctx, v, data, origin, t, &records);
        }
        let t = self.stamp(ctx, Some(data));
        write_msr(&self.vm.vcpus[v], MSR_IA32_TSC, data)?;
        let records = self.drain()?;
        self.observe_write(ctx, v, data, origin, t, &records)
    }

    fn set_tsc_offset(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        offset: OffsetValue,
    ) -> Result<WriteEvent, StepError> {
        self.same_thread()?;
        let v = self.vcpu(vcpu)?;
        let off = match offset {
            OffsetValue::Literal(o) => o as u64,
            OffsetValue::Of { vcpu: k, delta } => {
                let k = self.vcpu(k)?;
                let base = match self.view.offset(k) {
                    Some(o) => o,
                    None => sys::get_tsc_offset(&self.vm.vcpus[k])
                        .map_err(|e| KvmError::io("KVM_GET_DEVICE_ATTR", &e))?,
                };
                base.wrapping_add(delta as u64)
            }
        };
        if !sys::has_tsc_offset_attr(&self.vm.vcpus[v]) {
            return Err(StepError::Refused(
                "this kernel has no KVM_VCPU_TSC_OFFSET attribute (Linux ≥ 5.16)".into(),
            ));
        }
        let t = self.stamp(ctx, None);
        sys::set_tsc_offset(&self.vm.vcpus[v], off)
            .map_err(|e| KvmError::io("KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET)", &e))?;
        let records = self.drain()?;
        let value = t.tsc.wrapping_add(off);
        self.observe_write(ctx, v, value, Origin::Offset, t, &records)
    }

    fn set_tsc_khz(&mut self, ctx: &StepCtx, vcpu: u32, khz: u32) -> Result<KhzEvent, StepError> {
        self.same_thread()?;
        let v = self.vcpu(vcpu)?;
        let t = self.stamp(ctx, None);
        let wanted = if khz == 0 { self.tsc_khz } else { khz };
        // Without TSC scaling a rate below the host's fails with EINVAL, yet
        // the kernel has already stored it: believe KVM_GET_TSC_KHZ.
        let set = self.vm.vcpus[v].set_tsc_khz(wanted);
        let now = self.vm.vcpus[v]
            .get_tsc_khz()
            .map_err(|e| os("KVM_GET_TSC_KHZ", e))?;
        self.view.set_khz(v, now);
        if now != wanted {
            return Err(match set {
                Err(e) => os("KVM_SET_TSC_KHZ", e),
                Ok(()) => StepError::Unexpected("KVM_SET_TSC_KHZ: the rate did not change".into()),
            });
        }
        Ok(KhzEvent {
            backend: BackendId::Kvm,
            step: ctx.step,
            line: ctx.line,
            t_ns: self.t_ns(t),
            vcpu,
            virtual_tsc_khz: now,
        })
    }

    fn set_clock(&mut self, ctx: &StepCtx) -> Result<ClockEvent, StepError> {
        self.same_thread()?;
        let t = self.stamp(ctx, None);
        let c = self.vm.fd.get_clock().map_err(|e| os("KVM_GET_CLOCK", e))?;
        let set = kvm_clock_data {
            clock: c.clock,
            ..Default::default()
        };
        self.vm
            .fd
            .set_clock(&set)
            .map_err(|e| os("KVM_SET_CLOCK", e))?;
        let records = self.drain()?;
        let vcpus_matched = records.iter().rev().find_map(|r| match r {
            Record::UpdateMasterClock { vcpus_matched, .. } => Some(*vcpus_matched),
            _ => None,
        });
        Ok(ClockEvent {
            backend: BackendId::Kvm,
            step: ctx.step,
            line: ctx.line,
            t_ns: self.t_ns(t),
            master_clock: self.master_clock()?,
            vcpus_matched,
        })
    }

    fn wait(&mut self, ctx: &StepCtx, d: scenarios::ast::Duration) -> Result<(), StepError> {
        let d = Duration::from_nanos(d.ns);
        if (self.waited + d).as_nanos() > u128::from(self.limits.max_wait_ns) {
            return Err(StepError::Refused(format!(
                "the kvm backend waits at most {} s in all",
                self.limits.max_wait_ns / 1_000_000_000
            )));
        }
        self.stamp(ctx, None);
        self.waited += d;
        std::thread::sleep(d);
        Ok(())
    }

    fn run_vcpu(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        implicit: bool,
    ) -> Result<RunEvent, StepError> {
        self.same_thread()?;
        let v = self.vcpu(vcpu)?;
        let t = self.stamp(ctx, None);
        self.run_to_hlt(v)?;
        let records = self.drain()?;
        let (version, flags) = self.pvclock(v);
        let rewritten = version != self.pvclock_version[v];
        self.pvclock_version[v] = version;
        // The page's version moves by 2 at each rewrite: no tracepoint needed.
        let clock_updated = Some(rewritten);
        let masterclock_updated = self.traced().then(|| {
            records
                .iter()
                .any(|r| matches!(r, Record::UpdateMasterClock { .. }))
        });
        Ok(RunEvent {
            backend: BackendId::Kvm,
            step: ctx.step,
            line: ctx.line,
            t_ns: self.t_ns(t),
            vcpu,
            masterclock_updated,
            clock_updated,
            master_clock: self.master_clock()?,
            pvclock_stable: pvclock::tsc_stable(flags),
            implicit,
        })
    }

    fn summary(&self, ctx: &StepCtx, implicit_run: bool) -> Summary {
        let n = self.vm.vcpus.len();
        let pvclock_stable: Vec<bool> = (0..n)
            .map(|v| pvclock::tsc_stable(self.pvclock(v).1))
            .collect();
        let nr = self.view.nr_matched().filter(|_| self.traced());
        let online = n as u32;
        let mut host = self.host.clone();
        let Losses { lost, undecodable } = self.losses();
        if lost > 0 {
            host.notes.push(format!(
                "{lost} trace events were lost to a full buffer: counters may be wrong"
            ));
        }
        if undecodable > 0 {
            host.notes.push(format!(
                "{undecodable} trace records did not decode with this kernel's format files"
            ));
        }
        Summary {
            backend: BackendId::Kvm,
            online,
            nr_matched: nr,
            vcpus_matched: nr.map(|n| n + 1 == online),
            master_clock: self.master_clock().unwrap_or(false),
            kvmclock_stable: n > 0 && pvclock_stable.iter().all(|&b| b),
            pvclock_stable,
            this_tsc_generation: self
                .traced()
                .then(|| self.view.this_tsc_generation().to_vec()),
            cur_tsc_generation: self.traced().then_some(self.view.cur_tsc_generation()),
            writes: ctx.write.saturating_sub(1),
            implicit_run,
            t_ns: self.t_ns(now()),
            host: Some(host),
        }
    }
}
