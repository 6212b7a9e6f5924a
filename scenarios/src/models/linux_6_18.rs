//! Linux 6.18: today's `kvm_synchronize_tsc()` / `__kvm_synchronize_tsc()`.
//!
//! Follows `arch/x86/kvm/x86.c` of a 6.16+ tree, the same code as 6.18:
//! `kvm_synchronize_tsc`, `__kvm_synchronize_tsc`, `kvm_track_tsc_matching`,
//! `pvclock_update_vm_gtod_copy`, `kvm_update_masterclock`,
//! `kvm_guest_time_update`, `kvm_set_msr_common(MSR_IA32_TSC)` and
//! `kvm_arch_tsc_set_attr(KVM_VCPU_TSC_OFFSET)`. What changed since 3.17:
//!
//! - a write of 0 — the kernel's own at vCPU creation, or userspace's — is
//!   always an attempt to synchronise, whatever the time since the last write
//!   (CPU hotplug); it matches when the vCPU's rate equals the last write's;
//! - a non-zero userspace write is a sync attempt only once userspace has
//!   written a TSC before (`user_set_tsc`, bf328e22e472, Linux 6.7), and then
//!   when it lies within ±1 s of guest cycles of the last write extrapolated
//!   to now;
//! - guest WRMSRs only adjust the offset (0c899c25d754, Linux 5.10);
//! - KVM_VCPU_TSC_OFFSET sets an exact offset, matching only an identical one
//!   (828ca89628bf, Linux 5.16);
//! - `kvm_track_tsc_matching` asks for a master-clock update only on a toggle,
//!   or on a new generation while the master clock is on (c52ffadc65e2). The
//!   request goes to the writing vCPU and is handled when *that* vCPU next
//!   enters the guest; each vCPU's pvclock page is rewritten only when it runs.
//!
//! The 2014 rule survives in `__kvm_synchronize_tsc`: a matched write counts
//! only if `this_tsc_generation != cur_tsc_generation`, on u64 counters.

use super::{
    HostConfig, HostTime, KernelModel, Requests, RunOutcome, WriteOutcome, nsec_to_cycles,
    scale_tsc,
};
use crate::ast::Clocksource;
use crate::pvclock;
use crate::trace::{BackendId, Count, Decision, SyncRule};

/// `KVM_MAX_VCPUS` on x86 today (without CONFIG_MAXSMP).
pub const KVM_MAX_VCPUS: u32 = 1024;

/// `struct kvm_arch`, the TSC-matching fields (zero at VM creation).
#[derive(Clone, Debug, Default)]
pub struct KvmArch {
    /// `get_kvmclock_base_ns()` at the latest `__kvm_synchronize_tsc`, by any vCPU.
    pub last_tsc_nsec: u64,
    /// The TSC value of the latest write: the window is judged against it.
    pub last_tsc_write: u64,
    /// `virtual_tsc_khz` of the vCPU that wrote last.
    pub last_tsc_khz: u32,
    /// The offset the latest write set; KVM_VCPU_TSC_OFFSET matches only this one.
    pub last_tsc_offset: u64,
    /// `get_kvmclock_base_ns()` at the write that started the current generation.
    pub cur_tsc_nsec: u64,
    /// The TSC value of the write that started the current generation.
    pub cur_tsc_write: u64,
    /// The offset of the current generation; a matched write on a stable host reuses it.
    pub cur_tsc_offset: u64,
    /// Bumped by every unmatched write.
    pub cur_tsc_generation: u64,
    /// Matched writes counted in the current generation, its first vCPU not included.
    pub nr_vcpus_matched_tsc: i32,
    /// Userspace has written a TSC (MSR or offset attribute) at least once.
    pub user_set_tsc: bool,
    /// Whether the VM uses the master clock; set only by `pvclock_update_vm_gtod_copy`.
    pub use_master_clock: bool,
    /// Set when the host TSC went backwards across suspend; never in this lab.
    pub backwards_tsc_observed: bool,
    /// Set when vCPU 0's guest uses the old MSR_KVM_SYSTEM_TIME; never in this lab.
    pub boot_vcpu_runs_old_kvmclock: bool,
}

/// `struct kvm_vcpu_arch`, the TSC fields, plus the vCPU's pvclock page.
#[derive(Clone, Debug, Default)]
pub struct KvmVcpuArch {
    /// `vcpu->vcpu_id`: the creation index.
    pub vcpu_id: u32,
    /// The guest TSC rate set by `kvm_set_tsc_khz`; matching compares it with `last_tsc_khz`.
    pub virtual_tsc_khz: u32,
    /// The rate the hardware scales this vCPU's TSC to (`scaling_khz`).
    pub tsc_scaling_khz: u32,
    /// The offset L1's TSC reads with (`kvm_vcpu_write_tsc_offset`).
    pub l1_tsc_offset: u64,
    /// `cur_tsc_nsec` of the generation the vCPU last synchronised to.
    pub this_tsc_nsec: u64,
    /// `cur_tsc_write` of the generation the vCPU last synchronised to.
    pub this_tsc_write: u64,
    /// The generation the vCPU last synchronised to; a matched write counts only if it differs.
    pub this_tsc_generation: u64,
    /// The TSC value `__kvm_synchronize_tsc` last recorded for the vCPU.
    pub last_guest_tsc: u64,
    /// MSR_IA32_TSC_ADJUST: the sum of what guest WRMSRs moved the offset by.
    pub ia32_tsc_adjust_msr: i64,
    /// The vCPU's pending requests (`vcpu->requests`), the two the models track.
    pub requests: Requests,
    /// `flags` of the pvclock page last written by `kvm_guest_time_update`.
    pub pvclock_flags: u8,
}

/// A Linux 6.18 VM.
#[derive(Clone, Debug)]
pub struct Kvm {
    /// The host the VM runs on.
    pub host: HostConfig,
    /// `kvm->arch`.
    pub arch: KvmArch,
    /// `vcpu->arch` of each vCPU, by index.
    pub vcpus: Vec<KvmVcpuArch>,
    /// `atomic_read(&kvm->online_vcpus)`.
    pub online_vcpus: u32,
}

impl Kvm {
    /// KVM_CREATE_VM: `kvm_arch_init_vm` computes the master clock with no
    /// vCPU online: off.
    pub fn new(host: HostConfig) -> Self {
        let mut kvm = Kvm {
            host,
            arch: KvmArch::default(),
            vcpus: Vec::new(),
            online_vcpus: 0,
        };
        pvclock_update_vm_gtod_copy(&mut kvm);
        kvm
    }

    /// `gtod_is_based_on_tsc(vclock_mode)`: the TSC, or Hyper-V's TSC page.
    fn gtod_is_based_on_tsc(&self) -> bool {
        matches!(
            self.host.clocksource,
            Clocksource::Tsc | Clocksource::HypervClocksourceTscPage
        )
    }

    /// `kvm_check_tsc_unstable()`: a Hyper-V TSC-page host counts as stable.
    fn kvm_check_tsc_unstable(&self) -> bool {
        if self.host.clocksource == Clocksource::HypervClocksourceTscPage {
            return false;
        }
        !self.host.tsc_stable
    }

    /// `kvm_compute_l1_tsc_offset(vcpu, target_tsc)`.
    fn kvm_compute_l1_tsc_offset(&self, v: usize, target_tsc: u64, now: HostTime) -> u64 {
        let khz = self.vcpus[v].tsc_scaling_khz;
        target_tsc.wrapping_sub(scale_tsc(now.tsc, khz, self.host.tsc_khz))
    }
}

/// `kvm_synchronize_tsc(vcpu, user_value)`: `None` is the creation call
/// (`kvm_arch_vcpu_postcreate`), `Some` a host-initiated MSR_IA32_TSC write.
// Inlined into the write path: the outcome stays in registers (see benches/models.rs).
#[inline(always)]
pub fn kvm_synchronize_tsc(
    kvm: &mut Kvm,
    v: usize,
    user_value: Option<u64>,
    now: HostTime,
) -> WriteOutcome {
    let mut data = user_value.unwrap_or(0);
    // raw_spin_lock_irqsave(&kvm->arch.tsc_write_lock)
    let mut offset = kvm.kvm_compute_l1_tsc_offset(v, data, now);
    let ns = now.ns; // get_kvmclock_base_ns()
    let elapsed = ns.wrapping_sub(kvm.arch.last_tsc_nsec);
    let khz = kvm.vcpus[v].virtual_tsc_khz;
    let mut synchronizing = false;
    let mut rule = SyncRule::NoKhz;
    let mut distance_us = None;

    if khz != 0 {
        if data == 0 {
            // Force synchronization when creating a vCPU, or when userspace
            // explicitly writes a zero value.
            rule = SyncRule::Zero;
            synchronizing = true;
        } else if kvm.arch.user_set_tsc {
            let tsc_exp = kvm
                .arch
                .last_tsc_write
                .wrapping_add(nsec_to_cycles(khz, elapsed));
            let tsc_hz = u64::from(khz) * 1000;
            // "Here lies UAPI baggage": within ±1 s of guest cycles means the
            // writes were meant to be in sync. (u64 arithmetic, as in C.)
            synchronizing =
                data < tsc_exp.wrapping_add(tsc_hz) && data.wrapping_add(tsc_hz) > tsc_exp;
            rule = SyncRule::Window;
            let cycles = data.wrapping_sub(tsc_exp) as i64;
            distance_us = Some(match cycles.checked_mul(1000) {
                Some(c) => c / i64::from(khz),
                None => (i128::from(cycles) * 1000 / i128::from(khz)) as i64,
            });
        } else {
            rule = SyncRule::FirstUserWrite;
        }
    }

    let khz_match = khz == kvm.arch.last_tsc_khz;
    let mut matched = false;
    let mut compensated = false;
    if synchronizing && khz_match {
        if !kvm.kvm_check_tsc_unstable() {
            offset = kvm.arch.cur_tsc_offset;
        } else {
            let delta = nsec_to_cycles(khz, elapsed);
            data = data.wrapping_add(delta);
            offset = kvm.kvm_compute_l1_tsc_offset(v, data, now);
            compensated = true;
        }
        matched = true;
    }

    let (count, requested) =
        __kvm_synchronize_tsc(kvm, v, offset, data, ns, matched, user_value.is_some());
    WriteOutcome {
        matched,
        decision: Decision {
            rule,
            synchronizing,
            khz_match,
            distance_us,
            compensated,
        },
        count,
        masterclock_update_requested: requested,
    }
}

/// `__kvm_synchronize_tsc(vcpu, offset, tsc, ns, matched, user_set_tsc)`:
/// records the write, sets the offset, and tracks the generation the vCPU
/// joined. Returns what happened to the counter and whether a master-clock
/// update was requested.
// Inlined into the write path: the outcome stays in registers (see benches/models.rs).
#[inline(always)]
pub fn __kvm_synchronize_tsc(
    kvm: &mut Kvm,
    v: usize,
    offset: u64,
    tsc: u64,
    ns: u64,
    matched: bool,
    user_set_tsc: bool,
) -> (Count, bool) {
    if user_set_tsc {
        kvm.arch.user_set_tsc = true;
    }
    // We track the most recent recorded kHz, write and time to allow the
    // matching interval to be extended at each write.
    kvm.arch.last_tsc_nsec = ns;
    kvm.arch.last_tsc_write = tsc;
    kvm.arch.last_tsc_khz = kvm.vcpus[v].virtual_tsc_khz;
    kvm.arch.last_tsc_offset = offset;

    kvm.vcpus[v].last_guest_tsc = tsc;
    kvm_vcpu_write_tsc_offset(kvm, v, offset);

    let count = if !matched {
        // We split periods of matched TSC writes into generations.
        kvm.arch.cur_tsc_generation = kvm.arch.cur_tsc_generation.wrapping_add(1);
        kvm.arch.cur_tsc_nsec = ns;
        kvm.arch.cur_tsc_write = tsc;
        kvm.arch.cur_tsc_offset = offset;
        kvm.arch.nr_vcpus_matched_tsc = 0;
        Count::Reset
    } else if kvm.vcpus[v].this_tsc_generation != kvm.arch.cur_tsc_generation {
        kvm.arch.nr_vcpus_matched_tsc = kvm.arch.nr_vcpus_matched_tsc.wrapping_add(1);
        Count::Counted
    } else {
        Count::AlreadyCounted
    };

    // Keep track of which generation this vCPU has synchronized to.
    let vcpu = &mut kvm.vcpus[v];
    vcpu.this_tsc_generation = kvm.arch.cur_tsc_generation;
    vcpu.this_tsc_nsec = kvm.arch.cur_tsc_nsec;
    vcpu.this_tsc_write = kvm.arch.cur_tsc_write;

    let requested = kvm_track_tsc_matching(kvm, v, !matched);
    (count, requested)
}

/// `kvm_vcpu_write_tsc_offset(vcpu, l1_offset)`: traced as `kvm_write_tsc_offset`.
fn kvm_vcpu_write_tsc_offset(kvm: &mut Kvm, v: usize, l1_offset: u64) {
    kvm.vcpus[v].l1_tsc_offset = l1_offset;
}

/// `kvm_track_tsc_matching(vcpu, new_generation)` since c52ffadc65e2.
// Inlined into the write path: the outcome stays in registers (see benches/models.rs).
#[inline(always)]
pub fn kvm_track_tsc_matching(kvm: &mut Kvm, v: usize, new_generation: bool) -> bool {
    // To use the master clock, the host clocksource must be based on TSC and
    // all vCPUs must have matching TSCs. The count doesn't include the
    // reference vCPU, hence "+1".
    let use_master_clock =
        kvm.arch.nr_vcpus_matched_tsc + 1 == kvm.online_vcpus as i32 && kvm.gtod_is_based_on_tsc();
    // Request an update if the master clock must be toggled, or when starting
    // a new generation while it is on.
    let request = (kvm.arch.use_master_clock && new_generation)
        || kvm.arch.use_master_clock != use_master_clock;
    if request {
        kvm.vcpus[v].requests.masterclock_update = true;
    }
    request
}

/// `pvclock_update_vm_gtod_copy(kvm)`.
pub fn pvclock_update_vm_gtod_copy(kvm: &mut Kvm) {
    let vcpus_matched = kvm.arch.nr_vcpus_matched_tsc + 1 == kvm.online_vcpus as i32;
    // kvm_get_time_and_clockread(): only on a TSC-based host.
    let host_tsc_clocksource = kvm.gtod_is_based_on_tsc();
    kvm.arch.use_master_clock = host_tsc_clocksource
        && vcpus_matched
        && !kvm.arch.backwards_tsc_observed
        && !kvm.arch.boot_vcpu_runs_old_kvmclock;
}

/// `kvm_update_masterclock(kvm)`: recompute under `tsc_write_lock`, then
/// KVM_REQ_CLOCK_UPDATE to every vCPU (`kvm_end_pvclock_update`).
pub fn kvm_update_masterclock(kvm: &mut Kvm) {
    pvclock_update_vm_gtod_copy(kvm);
    for vcpu in &mut kvm.vcpus {
        vcpu.requests.clock_update = true;
    }
}

/// `kvm_guest_time_update(v)`: the pvclock page gets PVCLOCK_TSC_STABLE_BIT
/// iff the VM uses the master clock.
pub fn kvm_guest_time_update(kvm: &mut Kvm, v: usize) {
    let mut flags = 0;
    if kvm.arch.use_master_clock {
        flags |= pvclock::PVCLOCK_TSC_STABLE_BIT;
    }
    kvm.vcpus[v].pvclock_flags = flags;
}

/// `vcpu_enter_guest()`: KVM_REQ_MASTERCLOCK_UPDATE, then KVM_REQ_CLOCK_UPDATE.
pub fn vcpu_enter_guest(kvm: &mut Kvm, v: usize) -> RunOutcome {
    let masterclock_updated = std::mem::take(&mut kvm.vcpus[v].requests.masterclock_update);
    if masterclock_updated {
        kvm_update_masterclock(kvm);
    }
    let clock_updated = std::mem::take(&mut kvm.vcpus[v].requests.clock_update);
    if clock_updated {
        kvm_guest_time_update(kvm, v);
    }
    RunOutcome {
        masterclock_updated,
        clock_updated,
        pvclock_stable: pvclock::tsc_stable(kvm.vcpus[v].pvclock_flags),
    }
}

impl KernelModel for Kvm {
    fn backend(&self) -> BackendId {
        BackendId::Linux618
    }

    fn host(&self) -> &HostConfig {
        &self.host
    }

    fn max_vcpus(&self) -> u32 {
        KVM_MAX_VCPUS
    }

    /// `kvm_vm_ioctl_create_vcpu`: `online_vcpus` is incremented, then
    /// `kvm_arch_vcpu_postcreate` calls `kvm_synchronize_tsc(vcpu, NULL)`.
    fn create_vcpu(&mut self, now: HostTime) -> WriteOutcome {
        let id = self.online_vcpus;
        self.vcpus.push(KvmVcpuArch {
            vcpu_id: id,
            virtual_tsc_khz: self.host.tsc_khz,
            tsc_scaling_khz: self.host.tsc_khz,
            requests: Requests {
                masterclock_update: false,
                clock_update: true,
            },
            ..KvmVcpuArch::default()
        });
        self.online_vcpus += 1;
        kvm_synchronize_tsc(self, id as usize, None, now)
    }

    /// `kvm_set_msr_common(MSR_IA32_TSC)`.
    fn set_msr_tsc(
        &mut self,
        v: usize,
        data: u64,
        host_initiated: bool,
        now: HostTime,
    ) -> WriteOutcome {
        if host_initiated {
            return kvm_synchronize_tsc(self, v, Some(data), now);
        }
        // A guest write: move the offset by the difference, record it in
        // TSC_ADJUST, and take no part in matching.
        let adj = self
            .kvm_compute_l1_tsc_offset(v, data, now)
            .wrapping_sub(self.vcpus[v].l1_tsc_offset);
        let new = self.vcpus[v].l1_tsc_offset.wrapping_add(adj);
        kvm_vcpu_write_tsc_offset(self, v, new); // adjust_tsc_offset_guest
        self.vcpus[v].ia32_tsc_adjust_msr =
            self.vcpus[v].ia32_tsc_adjust_msr.wrapping_add(adj as i64);
        WriteOutcome {
            matched: false,
            decision: Decision {
                rule: SyncRule::GuestWrite,
                synchronizing: false,
                khz_match: self.vcpus[v].virtual_tsc_khz == self.arch.last_tsc_khz,
                distance_us: None,
                compensated: false,
            },
            count: Count::Untouched,
            masterclock_update_requested: false,
        }
    }

    /// `kvm_arch_tsc_set_attr(KVM_VCPU_TSC_OFFSET)`: matched only when the
    /// offset equals `last_tsc_offset` at the same rate — no time window.
    fn set_tsc_offset_attr(
        &mut self,
        v: usize,
        offset: u64,
        now: HostTime,
    ) -> Option<WriteOutcome> {
        let khz = self.vcpus[v].virtual_tsc_khz;
        let khz_match = self.arch.last_tsc_khz == khz;
        let same = self.arch.last_tsc_offset == offset;
        let matched = khz != 0 && khz_match && same;
        let tsc = scale_tsc(now.tsc, self.vcpus[v].tsc_scaling_khz, self.host.tsc_khz)
            .wrapping_add(offset);
        let ns = now.ns;
        let (count, requested) = __kvm_synchronize_tsc(self, v, offset, tsc, ns, matched, true);
        Some(WriteOutcome {
            matched,
            decision: Decision {
                rule: SyncRule::OffsetAttr,
                synchronizing: same,
                khz_match,
                distance_us: None,
                compensated: false,
            },
            count,
            masterclock_update_requested: requested,
        })
    }

    /// KVM_SET_TSC_KHZ → `kvm_set_tsc_khz` (0 means the host's rate). On a
    /// host without TSC scaling a rate below the host's fails with EINVAL, yet
    /// `virtual_tsc_khz` has already been stored — as here.
    fn set_tsc_khz(&mut self, v: usize, khz: u32) {
        let khz = if khz == 0 { self.host.tsc_khz } else { khz };
        self.vcpus[v].virtual_tsc_khz = khz;
        self.vcpus[v].tsc_scaling_khz = super::scaling_khz(self.host.tsc_khz, khz);
    }

    /// KVM_SET_CLOCK: `kvm_start_pvclock_update`, `pvclock_update_vm_gtod_copy`,
    /// `kvm_end_pvclock_update` (KVM_REQ_CLOCK_UPDATE to all).
    fn set_clock(&mut self, _now: HostTime) -> bool {
        kvm_update_masterclock(self);
        self.arch.use_master_clock
    }

    fn run(&mut self, v: usize, _now: HostTime) -> RunOutcome {
        vcpu_enter_guest(self, v)
    }

    fn online_vcpus(&self) -> u32 {
        self.online_vcpus
    }
    fn nr_vcpus_matched_tsc(&self) -> u32 {
        self.arch.nr_vcpus_matched_tsc.max(0) as u32
    }
    fn cur_tsc_generation(&self) -> u64 {
        self.arch.cur_tsc_generation
    }
    fn use_master_clock(&self) -> bool {
        self.arch.use_master_clock
    }
    fn this_tsc_generation(&self, v: usize) -> u64 {
        self.vcpus[v].this_tsc_generation
    }
    fn l1_tsc_offset(&self, v: usize) -> u64 {
        self.vcpus[v].l1_tsc_offset
    }
    fn virtual_tsc_khz(&self, v: usize) -> u32 {
        self.vcpus[v].virtual_tsc_khz
    }
    fn tsc_scaling_khz(&self, v: usize) -> u32 {
        self.vcpus[v].tsc_scaling_khz
    }
    fn pvclock_stable(&self, v: usize) -> bool {
        pvclock::tsc_stable(self.vcpus[v].pvclock_flags)
    }
}
