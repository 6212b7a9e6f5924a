//! Step-by-step models of KVM's TSC matching, one per kernel version.
//!
//! Each model is a state machine for one VM that keeps the kernel's own field
//! names (`nr_vcpus_matched_tsc`, `cur_tsc_generation`, …) and follows the
//! kernel functions it names in their order, so a reader can hold the two side
//! by side:
//!
//! - [`linux_3_14`]: `kvm_write_tsc()` before the fix — the 2014 bug.
//! - [`linux_3_17`]: `kvm_write_tsc()` with 0d3da0d26e3c, with u64 or (what-if) u8 generations.
//! - [`linux_6_18`]: today's `kvm_synchronize_tsc()` / `__kvm_synchronize_tsc()`.
//!
//! Time is an input: a model never reads a clock. [`ModelBackend`] feeds it
//! either a virtual clock that only `wait` advances, or the measured time of
//! each step of a real run ([`Timing::Replay`]), so a run on real KVM can be
//! replayed through any model.

pub mod linux_3_14;
pub mod linux_3_17;
pub mod linux_3x;
pub mod linux_6_18;

use crate::ast::{DeltaAmount, Duration, OffsetValue, TscValue};
use crate::backend::{Backend, StepCtx, StepError};
pub use crate::host::{HostConfig, HostTime, Stamp, Timing};
use crate::trace::*;
use linux_3_14::Linux314;
use linux_3_17::Linux317;
use linux_3x::Kvm;

/// `nsec_to_cycles()`: nanoseconds to cycles at `khz`. Exact division, where
/// the kernel multiplies by a precomputed mult/shift pair: the two differ by a
/// few cycles, which matters only for a value exactly on the edge of the 1 s window.
pub fn nsec_to_cycles(khz: u32, ns: u64) -> u64 {
    // The u64 product covers ~2 hours at 2.6 GHz; beyond that, u128.
    match ns.checked_mul(u64::from(khz)) {
        Some(p) => p / 1_000_000,
        None => (u128::from(ns) * u128::from(khz) / 1_000_000) as u64,
    }
}

/// `kvm_scale_tsc()`: the host TSC seen at the rate the hardware scales a
/// vCPU to (see [`scaling_khz`]).
pub fn scale_tsc(host_tsc: u64, scaling_khz: u32, host_khz: u32) -> u64 {
    if scaling_khz == host_khz || host_khz == 0 {
        host_tsc
    } else {
        (u128::from(host_tsc) * u128::from(scaling_khz) / u128::from(host_khz)) as u64
    }
}

/// The `tsc_tolerance_ppm` module parameter's default.
pub const TSC_TOLERANCE_PPM: u64 = 250;

/// `kvm_set_tsc_khz()`: the rate the hardware is asked to scale a vCPU's TSC
/// to. Within ±`tsc_tolerance_ppm` of the host rate "no scaling or
/// compensation need be done", so the host rate is kept — while
/// `virtual_tsc_khz`, which matching compares, still takes the requested value.
pub fn scaling_khz(host_khz: u32, user_tsc_khz: u32) -> u32 {
    let host = u64::from(host_khz);
    let thresh_lo = host * (1_000_000 - TSC_TOLERANCE_PPM) / 1_000_000;
    let thresh_hi = host * (1_000_000 + TSC_TOLERANCE_PPM) / 1_000_000;
    let user = u64::from(user_tsc_khz);
    if user < thresh_lo || user > thresh_hi {
        user_tsc_khz
    } else {
        host_khz
    }
}

/// The generation counters: `u8` before 0d3da0d26e3c, `u64` after.
pub trait Generation: Copy + Eq + Default + std::fmt::Debug {
    /// The width in bits.
    const BITS: u32;
    /// `cur_tsc_generation++`, wrapping as C does.
    fn inc(self) -> Self;
    /// The value, widened.
    fn get(self) -> u64;
}

impl Generation for u8 {
    const BITS: u32 = u8::BITS;
    fn inc(self) -> Self {
        self.wrapping_add(1)
    }
    fn get(self) -> u64 {
        u64::from(self)
    }
}

impl Generation for u64 {
    const BITS: u32 = u64::BITS;
    fn inc(self) -> Self {
        self.wrapping_add(1)
    }
    fn get(self) -> u64 {
        self
    }
}

/// The vCPU requests the models care about (`kvm_make_request`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    /// KVM_REQ_MASTERCLOCK_UPDATE: recompute `use_master_clock` at the next entry.
    pub masterclock_update: bool,
    /// KVM_REQ_CLOCK_UPDATE: rewrite this vCPU's pvclock page at the next entry.
    pub clock_update: bool,
}

/// What a model's `kvm_write_tsc`-like function decided.
#[derive(Clone, Copy, Debug)]
pub struct WriteOutcome {
    /// `matched`: the write joined the current generation.
    pub matched: bool,
    /// Which rule judged the write, and how.
    pub decision: Decision,
    /// What the write did to `nr_vcpus_matched_tsc`.
    pub count: Count,
    /// `kvm_track_tsc_matching` raised KVM_REQ_MASTERCLOCK_UPDATE.
    pub masterclock_update_requested: bool,
}

/// What one entry into the guest did.
#[derive(Clone, Copy, Debug)]
pub struct RunOutcome {
    /// KVM_REQ_MASTERCLOCK_UPDATE was pending and the master clock was recomputed.
    pub masterclock_updated: bool,
    /// KVM_REQ_CLOCK_UPDATE was pending and `kvm_guest_time_update` rewrote the pvclock page.
    pub clock_updated: bool,
    /// PVCLOCK_TSC_STABLE_BIT in the vCPU's pvclock page afterwards.
    pub pvclock_stable: bool,
}

/// The kernel side every model offers: the ioctls the lab drives.
pub trait KernelModel {
    /// The backend this model is.
    fn backend(&self) -> BackendId;
    /// The host the VM runs on.
    fn host(&self) -> &HostConfig;
    /// KVM_MAX_VCPUS of that kernel.
    fn max_vcpus(&self) -> u32;
    /// KVM_CREATE_VCPU: `online_vcpus++`, then `kvm_arch_vcpu_postcreate()`'s TSC write of 0.
    fn create_vcpu(&mut self, now: HostTime) -> WriteOutcome;
    /// MSR_IA32_TSC written by userspace (`host_initiated`) or by the guest.
    fn set_msr_tsc(
        &mut self,
        vcpu: usize,
        data: u64,
        host_initiated: bool,
        now: HostTime,
    ) -> WriteOutcome;
    /// KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET); `None` where the kernel lacks it.
    fn set_tsc_offset_attr(
        &mut self,
        vcpu: usize,
        offset: u64,
        now: HostTime,
    ) -> Option<WriteOutcome>;
    /// KVM_SET_TSC_KHZ (0 means the host's rate).
    fn set_tsc_khz(&mut self, vcpu: usize, khz: u32);
    /// KVM_SET_CLOCK: recompute the master clock now; returns `use_master_clock`.
    fn set_clock(&mut self, now: HostTime) -> bool;
    /// KVM_RUN up to the guest's `hlt`.
    fn run(&mut self, vcpu: usize, now: HostTime) -> RunOutcome;

    /// `online_vcpus` of `struct kvm`.
    fn online_vcpus(&self) -> u32;
    /// `nr_vcpus_matched_tsc` of `struct kvm_arch` (a negative count reads as 0).
    fn nr_vcpus_matched_tsc(&self) -> u32;
    /// `cur_tsc_generation` of `struct kvm_arch`, widened to u64.
    fn cur_tsc_generation(&self) -> u64;
    /// `use_master_clock` of `struct kvm_arch`.
    fn use_master_clock(&self) -> bool;
    /// `this_tsc_generation` of the vCPU's `struct kvm_vcpu_arch`, widened to u64.
    fn this_tsc_generation(&self, vcpu: usize) -> u64;
    /// The vCPU's TSC offset: `l1_tsc_offset` (6.x), `tsc_offset` (3.x).
    fn l1_tsc_offset(&self, vcpu: usize) -> u64;
    /// `virtual_tsc_khz` of the vCPU's `struct kvm_vcpu_arch`.
    fn virtual_tsc_khz(&self, vcpu: usize) -> u32;
    /// The rate the vCPU's TSC is scaled to (the host's unless KVM_SET_TSC_KHZ asked otherwise).
    fn tsc_scaling_khz(&self, vcpu: usize) -> u32;
    /// PVCLOCK_TSC_STABLE_BIT in the vCPU's pvclock page.
    fn pvclock_stable(&self, vcpu: usize) -> bool;

    /// `vcpus_matched` as every function computes it.
    fn vcpus_matched(&self) -> bool {
        self.nr_vcpus_matched_tsc() + 1 == self.online_vcpus()
    }
    /// `kvm_read_l1_tsc()`: the guest TSC of a vCPU at a host TSC value.
    fn read_l1_tsc(&self, vcpu: usize, host_tsc: u64) -> u64 {
        let khz = self.tsc_scaling_khz(vcpu);
        scale_tsc(host_tsc, khz, self.host().tsc_khz).wrapping_add(self.l1_tsc_offset(vcpu))
    }
}

/// Builds the model for a backend name; `None` for `kvm` and `trace`.
///
/// The 3.x kernels are one VM type with the release's `kvm_write_tsc` as a
/// type parameter: `Kvm<u8, Linux314>`, `Kvm<u64, Linux317>`, `Kvm<u8, Linux317>`.
pub fn model(id: BackendId, host: HostConfig, timing: Timing) -> Option<Box<dyn Backend>> {
    Some(match id {
        BackendId::Linux314 => Box::new(ModelBackend::new(Kvm::<u8, Linux314>::new(host), timing)),
        BackendId::Linux317 => Box::new(ModelBackend::new(Kvm::<u64, Linux317>::new(host), timing)),
        BackendId::Linux317U8 => {
            Box::new(ModelBackend::new(Kvm::<u8, Linux317>::new(host), timing))
        }
        BackendId::Linux618 => Box::new(ModelBackend::new(linux_6_18::Kvm::new(host), timing)),
        BackendId::Kvm | BackendId::Trace => return None,
    })
}

/// A kernel model with its clock, as a [`Backend`]: real KVM implements the
/// same trait, so both run through one executor and emit one trace.
#[derive(Debug)]
pub struct ModelBackend<K> {
    kernel: K,
    timing: Timing,
    /// The virtual clock (ignored under replay).
    now: HostTime,
    start: HostTime,
}

impl<K: KernelModel> ModelBackend<K> {
    /// A backend for `kernel`; a virtual clock starts at the host's uptime.
    pub fn new(kernel: K, timing: Timing) -> Self {
        let host = *kernel.host();
        let start = match &timing {
            Timing::Virtual => HostTime {
                ns: host.uptime_ns,
                tsc: nsec_to_cycles(host.tsc_khz, host.uptime_ns),
            },
            Timing::Replay { start, .. } => *start,
        };
        ModelBackend {
            kernel,
            timing,
            now: start,
            start,
        }
    }

    /// The model, for reading its kernel state.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    fn at(&self, ctx: &StepCtx) -> (HostTime, Option<u64>) {
        match &self.timing {
            Timing::Virtual => (self.now, None),
            Timing::Replay { stamps, .. } => match stamps.get(ctx.step as usize) {
                Some(s) => (
                    HostTime {
                        ns: s.ns,
                        tsc: s.tsc,
                    },
                    s.value,
                ),
                // Steps past the recorded ones (an implicit run) happen at the last instant.
                None => (
                    stamps.last().map_or(self.now, |s| HostTime {
                        ns: s.ns,
                        tsc: s.tsc,
                    }),
                    None,
                ),
            },
        }
    }

    fn t_ns(&self, now: HostTime) -> u64 {
        now.ns.saturating_sub(self.start.ns)
    }

    fn vcpu(&self, vcpu: u32) -> Result<usize, StepError> {
        if vcpu < self.kernel.online_vcpus() {
            Ok(vcpu as usize)
        } else {
            Err(StepError::Refused(format!(
                "vCPU {vcpu} does not exist (the VM has {} vCPUs)",
                self.kernel.online_vcpus()
            )))
        }
    }

    /// The value of `now`, `now@K±D` at this instant.
    fn resolve(&self, target: usize, value: TscValue, now: HostTime) -> Result<u64, StepError> {
        let (of, delta) = match value {
            TscValue::Literal(v) => return Ok(v),
            TscValue::Now { of, delta } => (of, delta),
        };
        let source = match of {
            Some(k) => self.vcpu(k)?,
            None => target,
        };
        let base = self.kernel.read_l1_tsc(source, now.tsc);
        let cycles = match delta.amount {
            DeltaAmount::Cycles(c) => c,
            DeltaAmount::Time(Duration { ns }) => {
                nsec_to_cycles(self.kernel.virtual_tsc_khz(target), ns)
            }
        };
        let v = if delta.negative {
            base.checked_sub(cycles)
        } else {
            base.checked_add(cycles)
        };
        v.ok_or_else(|| {
            StepError::Refused(format!(
                "{value} is out of range here: the guest TSC is {base} and the shift is {cycles} cycles"
            ))
        })
    }

    fn write_event(
        &self,
        ctx: &StepCtx,
        vcpu: usize,
        value: u64,
        origin: Origin,
        now: HostTime,
        o: WriteOutcome,
    ) -> WriteEvent {
        let k = &self.kernel;
        WriteEvent {
            backend: k.backend(),
            step: ctx.step,
            line: ctx.line,
            write: ctx.write,
            t_ns: self.t_ns(now),
            vcpu: vcpu as u32,
            origin,
            value,
            matched: Some(o.matched),
            new_generation: Some(o.count == Count::Reset),
            cur_tsc_generation: Some(k.cur_tsc_generation()),
            this_tsc_generation: Some(k.this_tsc_generation(vcpu)),
            nr_matched: Some(k.nr_vcpus_matched_tsc()),
            online: k.online_vcpus(),
            vcpus_matched: Some(k.vcpus_matched()),
            offset: Some(k.l1_tsc_offset(vcpu) as i64),
            master_clock: k.use_master_clock(),
            masterclock_update_requested: Some(o.masterclock_update_requested),
            decision: Some(o.decision),
            count: Some(o.count),
        }
    }
}

impl<K: KernelModel + std::fmt::Debug> Backend for ModelBackend<K> {
    fn id(&self) -> BackendId {
        self.kernel.backend()
    }

    fn create_vcpu(&mut self, ctx: &StepCtx) -> Result<WriteEvent, StepError> {
        if self.kernel.online_vcpus() >= self.kernel.max_vcpus() {
            return Err(StepError::Refused(format!(
                "KVM_CREATE_VCPU fails with EINVAL: {} allows at most {} vCPUs",
                self.kernel.backend(),
                self.kernel.max_vcpus()
            )));
        }
        let (now, _) = self.at(ctx);
        let o = self.kernel.create_vcpu(now);
        let vcpu = self.kernel.online_vcpus() as usize - 1;
        Ok(self.write_event(ctx, vcpu, 0, Origin::Create, now, o))
    }

    fn write_tsc(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        value: TscValue,
        origin: Origin,
    ) -> Result<WriteEvent, StepError> {
        let v = self.vcpu(vcpu)?;
        let (now, recorded) = self.at(ctx);
        let data = match recorded {
            Some(d) => d,
            None => self.resolve(v, value, now)?,
        };
        if origin == Origin::Guest {
            // The guest writes its TSC while it runs: entering it handled the
            // vCPU's pending requests first, as any KVM_RUN does.
            self.kernel.run(v, now);
        }
        let o = self
            .kernel
            .set_msr_tsc(v, data, origin != Origin::Guest, now);
        Ok(self.write_event(ctx, v, data, origin, now, o))
    }

    fn set_tsc_offset(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        offset: OffsetValue,
    ) -> Result<WriteEvent, StepError> {
        let v = self.vcpu(vcpu)?;
        let (now, _) = self.at(ctx);
        let off = match offset {
            OffsetValue::Literal(o) => o as u64,
            OffsetValue::Of { vcpu: k, delta } => {
                let k = self.vcpu(k)?;
                self.kernel.l1_tsc_offset(k).wrapping_add(delta as u64)
            }
        };
        let o = self.kernel.set_tsc_offset_attr(v, off, now).ok_or_else(|| {
            StepError::Refused(format!(
                "KVM_VCPU_TSC_OFFSET does not exist in {} (it came in Linux 5.16); use `write` instead",
                self.kernel.backend()
            ))
        })?;
        let value = self.kernel.read_l1_tsc(v, now.tsc);
        Ok(self.write_event(ctx, v, value, Origin::Offset, now, o))
    }

    fn set_tsc_khz(&mut self, ctx: &StepCtx, vcpu: u32, khz: u32) -> Result<KhzEvent, StepError> {
        let v = self.vcpu(vcpu)?;
        let (now, _) = self.at(ctx);
        self.kernel.set_tsc_khz(v, khz);
        Ok(KhzEvent {
            backend: self.kernel.backend(),
            step: ctx.step,
            line: ctx.line,
            t_ns: self.t_ns(now),
            vcpu,
            virtual_tsc_khz: khz,
        })
    }

    fn set_clock(&mut self, ctx: &StepCtx) -> Result<ClockEvent, StepError> {
        let (now, _) = self.at(ctx);
        let master_clock = self.kernel.set_clock(now);
        Ok(ClockEvent {
            backend: self.kernel.backend(),
            step: ctx.step,
            line: ctx.line,
            t_ns: self.t_ns(now),
            master_clock,
            vcpus_matched: Some(self.kernel.vcpus_matched()),
        })
    }

    fn wait(&mut self, _ctx: &StepCtx, d: Duration) -> Result<(), StepError> {
        if self.timing == Timing::Virtual {
            let khz = self.kernel.host().tsc_khz;
            self.now.ns = self.now.ns.saturating_add(d.ns);
            self.now.tsc = nsec_to_cycles(khz, self.now.ns);
        }
        Ok(())
    }

    fn run_vcpu(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        implicit: bool,
    ) -> Result<RunEvent, StepError> {
        let v = self.vcpu(vcpu)?;
        let (now, _) = self.at(ctx);
        let o = self.kernel.run(v, now);
        Ok(RunEvent {
            backend: self.kernel.backend(),
            step: ctx.step,
            line: ctx.line,
            t_ns: self.t_ns(now),
            vcpu,
            masterclock_updated: Some(o.masterclock_updated),
            clock_updated: Some(o.clock_updated),
            master_clock: self.kernel.use_master_clock(),
            pvclock_stable: o.pvclock_stable,
            implicit,
        })
    }

    fn summary(&self, ctx: &StepCtx, implicit_run: bool) -> Summary {
        let k = &self.kernel;
        let n = k.online_vcpus() as usize;
        let pvclock_stable: Vec<bool> = (0..n).map(|v| k.pvclock_stable(v)).collect();
        let (now, _) = self.at(ctx);
        Summary {
            backend: k.backend(),
            online: k.online_vcpus(),
            nr_matched: Some(k.nr_vcpus_matched_tsc()),
            vcpus_matched: Some(k.vcpus_matched()),
            master_clock: k.use_master_clock(),
            kvmclock_stable: n > 0 && pvclock_stable.iter().all(|&b| b),
            pvclock_stable,
            this_tsc_generation: Some((0..n).map(|v| k.this_tsc_generation(v)).collect()),
            cur_tsc_generation: Some(k.cur_tsc_generation()),
            writes: ctx.write.saturating_sub(1),
            implicit_run,
            t_ns: self.t_ns(now),
            host: None,
        }
    }
}
