//! Linux 3.14: `kvm_write_tsc()` before "KVM: x86: fix TSC matching".
//!
//! Follows `arch/x86/kvm/x86.c` of v3.14.1:
//! `kvm_write_tsc` (l. 1210–1328), `kvm_track_tsc_matching` (1177–1202),
//! `pvclock_update_vm_gtod_copy` (1458–1485), `kvm_gen_update_masterclock`
//! (1487–1508), `kvm_guest_time_update` (1510–1616), `kvm_arch_vcpu_postcreate`
//! (6710–6725), and `kvm_vm_ioctl_create_vcpu` in `virt/kvm/kvm_main.c`
//! (`online_vcpus` is incremented at l. 1937, before the post-create write at 1940).
//!
//! The bug: every matched write does `nr_vcpus_matched_tsc++`, even when the
//! same vCPU writes again within one generation. QEMU 1.6/2.0 writes each
//! vCPU's TSC three times during boot, so the counter overshoots
//! `online_vcpus - 1`, `vcpus_matched` never holds, the master clock stays off
//! and guests never see PVCLOCK_TSC_STABLE_BIT — even with one vCPU.
//!
//! The VM state here also serves Linux 3.17 ([`super::linux_3_17`]): between
//! the two releases the TSC-matching code changed only in `kvm_write_tsc` and
//! the width of the generation counters (plus a `backwards_tsc_observed` flag
//! for host suspend, which this lab never sets; other kvmclock changes of 3.15
//! — update rate limiting, the periodic sync — do not touch matching). `G` is
//! that width: `u8` in 3.14.
//!
//! Where 3.x differed by vendor, the model follows an SVM host with TSC rate
//! control, whose offsets are scaled; Intel VMX of that era had no scaling.

use super::{
    Generation, HostConfig, HostTime, KernelModel, Requests, RunOutcome, WriteOutcome,
    nsec_to_cycles, scale_tsc,
};
use crate::ast::Clocksource;
use crate::trace::{BackendId, Count, Decision, SyncRule};

/// `USEC_PER_SEC`: the width of the matching window.
pub const USEC_PER_SEC: i64 = 1_000_000;

/// `KVM_MAX_VCPUS` on x86 in 3.14 and 3.17.
pub const KVM_MAX_VCPUS: u32 = 255;

/// `struct kvm_arch`, the fields TSC matching uses (all zero at VM creation:
/// `struct kvm` is kzalloc'ed).
#[derive(Clone, Debug, Default)]
pub struct KvmArch<G> {
    pub last_tsc_nsec: u64,
    pub last_tsc_write: u64,
    pub last_tsc_khz: u32,
    pub cur_tsc_nsec: u64,
    pub cur_tsc_write: u64,
    pub cur_tsc_offset: u64,
    pub cur_tsc_generation: G,
    pub nr_vcpus_matched_tsc: i32,
    pub use_master_clock: bool,
    pub master_kernel_ns: u64,
    pub master_cycle_now: u64,
    /// Not kernel state: the generation counted without wrapping, kept only
    /// so the trace can say truthfully whether a vCPU was already in the
    /// generation when a u8 counter says so.
    pub lab_generation: u64,
}

/// `struct kvm_vcpu_arch`, the TSC fields, plus the vCPU's pvclock page.
#[derive(Clone, Debug, Default)]
pub struct KvmVcpuArch<G> {
    pub vcpu_id: u32,
    pub virtual_tsc_khz: u32,
    /// The rate the hardware scales this vCPU's TSC to (`scaling_khz`).
    pub tsc_scaling_khz: u32,
    /// The TSC offset in the VMCS (`vmx_write_tsc_offset`).
    pub tsc_offset: u64,
    pub this_tsc_nsec: u64,
    pub this_tsc_write: u64,
    /// In 3.14 written but never read: the fix is what starts reading it.
    pub this_tsc_generation: G,
    pub last_guest_tsc: u64,
    pub requests: Requests,
    /// `flags` of the pvclock page last written by `kvm_guest_time_update`.
    pub pvclock_flags: u8,
    /// Not kernel state: `lab_generation` when this vCPU last synchronised.
    pub lab_this_generation: u64,
}

/// PVCLOCK_TSC_STABLE_BIT (bit 0 of the pvclock flags).
pub const PVCLOCK_TSC_STABLE_BIT: u8 = 1 << 0;

/// A Linux 3.x VM: `struct kvm` with its x86 part and its vCPUs.
#[derive(Clone, Debug)]
pub struct Kvm<G> {
    pub id: BackendId,
    pub host: HostConfig,
    pub arch: KvmArch<G>,
    pub vcpus: Vec<KvmVcpuArch<G>>,
    /// `atomic_read(&kvm->online_vcpus)`.
    pub online_vcpus: u32,
}

impl<G: Generation> Kvm<G> {
    /// KVM_CREATE_VM: `kvm_arch_init_vm` runs `pvclock_update_vm_gtod_copy`
    /// with no vCPU online, so the master clock starts off.
    pub fn new(host: HostConfig, id: BackendId) -> Self {
        let mut kvm = Kvm {
            id,
            host,
            arch: KvmArch::default(),
            vcpus: Vec::new(),
            online_vcpus: 0,
        };
        pvclock_update_vm_gtod_copy(&mut kvm);
        kvm
    }

    /// `vclock_mode == VCLOCK_TSC`: before Linux 4.16 only the `tsc`
    /// clocksource counts (a Hyper-V TSC page does not).
    fn host_clock_is_tsc(&self) -> bool {
        self.host.clocksource == Clocksource::Tsc
    }

    /// `kvm_x86_ops->compute_tsc_offset` (SVM: `svm_compute_tsc_offset`, which
    /// scales): the offset that makes the guest read `target_tsc` now.
    pub(crate) fn compute_tsc_offset(&self, v: usize, target_tsc: u64, now: HostTime) -> u64 {
        let khz = self.vcpus[v].tsc_scaling_khz;
        target_tsc.wrapping_sub(scale_tsc(now.tsc, khz, self.host.tsc_khz))
    }

    // Inlined into the write path: the outcome stays in registers (see benches/models.rs).
    #[inline(always)]
    fn kvm_write_tsc(&mut self, v: usize, data: u64, now: HostTime) -> WriteOutcome {
        match self.id {
            BackendId::Linux314 => kvm_write_tsc(self, v, data, now),
            _ => super::linux_3_17::kvm_write_tsc(self, v, data, now),
        }
    }
}

/// The window test shared by 3.14 and 3.17: l. 1224–1257 of v3.14.1.
///
/// usdiff = (data − last_tsc_write) converted to µs at the vCPU's rate, minus
/// the µs elapsed since the previous write (by any vCPU): how far the new value
/// is from the previous write extrapolated to now. The arithmetic is C's:
/// signed, wrapping, truncating division.
///
/// Like the kernel's `do_div(elapsed, 1000)`, this turns `elapsed` into
/// microseconds *in place*. The unstable-TSC branch of `kvm_write_tsc` then
/// passes those microseconds to `nsec_to_cycles()` — a unit slip of the 3.x
/// code, kept here because it changes which later writes match (Linux 6.x
/// computes the window without touching `elapsed`).
pub(crate) fn usdiff<G>(kvm: &Kvm<G>, v: usize, data: u64, elapsed: &mut u64) -> i64 {
    let khz = kvm.vcpus[v].virtual_tsc_khz;
    if khz == 0 {
        return USEC_PER_SEC; // disable TSC match window below
    }
    // n.b. signed multiplication and division required
    let mut usdiff = data.wrapping_sub(kvm.arch.last_tsc_write) as i64;
    usdiff = usdiff.wrapping_mul(1000) / i64::from(khz);
    *elapsed /= 1000; // do_div(elapsed, 1000)
    // usdiff -= elapsed: u64 arithmetic, stored as s64
    usdiff = usdiff.wrapping_sub(*elapsed as i64);
    if usdiff < 0 {
        usdiff = usdiff.wrapping_neg();
    }
    usdiff
}

/// `kvm_write_tsc(vcpu, msr)` of Linux 3.14.1, step by step.
// Inlined into the write path: the outcome stays in registers (see benches/models.rs).
#[inline(always)]
pub fn kvm_write_tsc<G: Generation>(
    kvm: &mut Kvm<G>,
    v: usize,
    mut data: u64,
    now: HostTime,
) -> WriteOutcome {
    // raw_spin_lock_irqsave(&kvm->arch.tsc_write_lock): `&mut` is the lock.
    let mut offset = kvm.compute_tsc_offset(v, data, now);
    let ns = now.ns; // get_kernel_ns()
    let mut elapsed = ns.wrapping_sub(kvm.arch.last_tsc_nsec);
    let usdiff = usdiff(kvm, v, data, &mut elapsed);

    let vcpu_khz = kvm.vcpus[v].virtual_tsc_khz;
    let synchronizing = usdiff < USEC_PER_SEC;
    let khz_match = vcpu_khz == kvm.arch.last_tsc_khz;
    // Special case: a TSC write with a small delta (1 second) of virtual cycle
    // time against real time is interpreted as an attempt to synchronize.
    let matched = synchronizing && khz_match;
    let mut compensated = false;
    // Not read by 3.14 — only to label the overcount in the trace (unwrapped).
    let was_in_generation = kvm.vcpus[v].lab_this_generation == kvm.arch.lab_generation;
    if matched {
        if kvm.host.tsc_stable {
            // !check_tsc_unstable(): reuse the generation's offset exactly.
            offset = kvm.arch.cur_tsc_offset;
        } else {
            // `elapsed` is in µs by now (see `usdiff`): the kernel's own slip.
            let delta = nsec_to_cycles(vcpu_khz, elapsed);
            data = data.wrapping_add(delta);
            offset = kvm.compute_tsc_offset(v, data, now);
            compensated = true;
        }
    } else {
        // A new generation: remember when, what and which offset started it.
        kvm.arch.cur_tsc_generation = kvm.arch.cur_tsc_generation.inc();
        kvm.arch.lab_generation += 1;
        kvm.arch.cur_tsc_nsec = ns;
        kvm.arch.cur_tsc_write = data;
        kvm.arch.cur_tsc_offset = offset;
    }

    // The window slides: the next write is judged against this one.
    kvm.arch.last_tsc_nsec = ns;
    kvm.arch.last_tsc_write = data;
    kvm.arch.last_tsc_khz = vcpu_khz;

    let vcpu = &mut kvm.vcpus[v];
    vcpu.last_guest_tsc = data;
    // Keep track of which generation this vCPU has synchronized to.
    vcpu.this_tsc_generation = kvm.arch.cur_tsc_generation;
    vcpu.lab_this_generation = kvm.arch.lab_generation;
    vcpu.this_tsc_nsec = kvm.arch.cur_tsc_nsec;
    vcpu.this_tsc_write = kvm.arch.cur_tsc_write;

    // (update_ia32_tsc_adjust_msr for guest writes: the lab's guest CPUID has no TSC_ADJUST.)
    vcpu.tsc_offset = offset; // kvm_x86_ops->write_tsc_offset: trace kvm_write_tsc_offset
    // raw_spin_unlock_irqrestore(&kvm->arch.tsc_write_lock)

    // spin_lock(&kvm->arch.pvclock_gtod_sync_lock)
    let count = if matched {
        kvm.arch.nr_vcpus_matched_tsc = kvm.arch.nr_vcpus_matched_tsc.wrapping_add(1); // the bug: counted again and again
        if was_in_generation {
            Count::CountedAgain
        } else {
            Count::Counted
        }
    } else {
        kvm.arch.nr_vcpus_matched_tsc = 0;
        Count::Reset
    };
    let requested = kvm_track_tsc_matching(kvm, v);
    WriteOutcome {
        matched,
        decision: Decision {
            rule: if vcpu_khz == 0 {
                SyncRule::NoKhz
            } else {
                SyncRule::Window
            },
            synchronizing,
            khz_match,
            distance_us: (vcpu_khz != 0).then_some(usdiff),
            compensated,
        },
        count,
        masterclock_update_requested: requested,
    }
}

/// `kvm_track_tsc_matching(vcpu)` as in 3.14 and 3.17 (before 7f187922ddf6 of
/// November 2014): ask for a master-clock update only to turn it on or off, and
/// only on the vCPU that wrote. Returns whether a request was made; the
/// `kvm_track_tsc` tracepoint prints `nr_vcpus_matched_tsc` as `offsetmatched`.
// Inlined into the write path: the outcome stays in registers (see benches/models.rs).
#[inline(always)]
pub fn kvm_track_tsc_matching<G: Generation>(kvm: &mut Kvm<G>, v: usize) -> bool {
    // Note: the vCPU that started the generation is not counted, hence "+1".
    let vcpus_matched = kvm.arch.nr_vcpus_matched_tsc + 1 == kvm.online_vcpus as i32;
    let mut do_request = false;
    if vcpus_matched && kvm.host_clock_is_tsc() && !kvm.arch.use_master_clock {
        do_request = true;
    }
    if !vcpus_matched && kvm.arch.use_master_clock {
        do_request = true;
    }
    if do_request {
        kvm.vcpus[v].requests.masterclock_update = true; // kvm_make_request(KVM_REQ_MASTERCLOCK_UPDATE, vcpu)
    }
    do_request
}

/// `pvclock_update_vm_gtod_copy(kvm)`: the only place `use_master_clock` is decided.
pub fn pvclock_update_vm_gtod_copy<G: Generation>(kvm: &mut Kvm<G>) {
    let vcpus_matched = kvm.arch.nr_vcpus_matched_tsc + 1 == kvm.online_vcpus as i32;
    // kvm_get_time_and_clockread(): true only on a VCLOCK_TSC host, and then it
    // also snapshots (ns, host TSC) as the master pair. Time is not modelled
    // here beyond the flag, so the pair is left as it was.
    let host_tsc_clocksource = kvm.host_clock_is_tsc();
    kvm.arch.use_master_clock = host_tsc_clocksource && vcpus_matched;
}

/// `kvm_gen_update_masterclock(kvm)`: recompute, then make every vCPU rewrite
/// its pvclock page (KVM_REQ_CLOCK_UPDATE), under KVM_REQ_MCLOCK_INPROGRESS.
pub fn kvm_gen_update_masterclock<G: Generation>(kvm: &mut Kvm<G>) {
    pvclock_update_vm_gtod_copy(kvm);
    for vcpu in &mut kvm.vcpus {
        vcpu.requests.clock_update = true;
    }
}

/// `kvm_guest_time_update(v)`: write the vCPU's pvclock page; the stable bit
/// is set iff the VM uses the master clock.
pub fn kvm_guest_time_update<G: Generation>(kvm: &mut Kvm<G>, v: usize) {
    let mut flags = 0;
    if kvm.arch.use_master_clock {
        flags |= PVCLOCK_TSC_STABLE_BIT;
    }
    kvm.vcpus[v].pvclock_flags = flags;
}

/// KVM_RUN → `vcpu_enter_guest()`: pending requests are handled in the
/// kernel's order (master clock first, then this vCPU's clock), then the guest
/// runs to its `hlt`.
pub fn vcpu_enter_guest<G: Generation>(kvm: &mut Kvm<G>, v: usize) -> RunOutcome {
    let masterclock_updated = std::mem::take(&mut kvm.vcpus[v].requests.masterclock_update);
    if masterclock_updated {
        kvm_gen_update_masterclock(kvm);
    }
    let clock_updated = std::mem::take(&mut kvm.vcpus[v].requests.clock_update);
    if clock_updated {
        kvm_guest_time_update(kvm, v);
    }
    RunOutcome {
        masterclock_updated,
        clock_updated,
        pvclock_stable: kvm.vcpus[v].pvclock_flags & PVCLOCK_TSC_STABLE_BIT != 0,
    }
}

impl<G: Generation> KernelModel for Kvm<G> {
    fn backend(&self) -> BackendId {
        self.id
    }

    fn host(&self) -> &HostConfig {
        &self.host
    }

    fn max_vcpus(&self) -> u32 {
        KVM_MAX_VCPUS
    }

    /// `kvm_vm_ioctl_create_vcpu`: the vCPU is set up (`virtual_tsc_khz` from
    /// `kvm_set_tsc_khz(vcpu, max_tsc_khz)`), `online_vcpus` is incremented,
    /// and only then `kvm_arch_vcpu_postcreate` writes MSR_IA32_TSC = 0,
    /// host-initiated. Its first `vcpu_load` (`vcpu->cpu == -1`) raises
    /// KVM_REQ_GLOBAL_CLOCK_UPDATE, which at the first entry becomes a clock
    /// update for this vCPU: modelled as KVM_REQ_CLOCK_UPDATE pending from the start.
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
        self.kvm_write_tsc(id as usize, 0, now)
    }

    /// `vmx_set_msr(MSR_IA32_TSC)`: host and guest writes alike go through
    /// `kvm_write_tsc` (until Linux 5.10).
    fn set_msr_tsc(
        &mut self,
        v: usize,
        data: u64,
        _host_initiated: bool,
        now: HostTime,
    ) -> WriteOutcome {
        self.kvm_write_tsc(v, data, now)
    }

    fn set_tsc_offset_attr(
        &mut self,
        _v: usize,
        _offset: u64,
        _now: HostTime,
    ) -> Option<WriteOutcome> {
        None
    }

    /// KVM_SET_TSC_KHZ → `kvm_set_tsc_khz`: the vCPU's rate changes (0 means
    /// the host's); matching state is untouched until its next write.
    ///
    /// This models an SVM host with TSC rate control (TSCRATEMSR), where the
    /// ioctl works. On Intel VMX hosts of the 3.x era `kvm_max_guest_tsc_khz`
    /// stayed 0, so KVM_SET_TSC_KHZ failed with EINVAL and the rate never changed.
    fn set_tsc_khz(&mut self, v: usize, khz: u32) {
        let khz = if khz == 0 { self.host.tsc_khz } else { khz };
        self.vcpus[v].virtual_tsc_khz = khz;
        self.vcpus[v].tsc_scaling_khz = super::scaling_khz(self.host.tsc_khz, khz);
    }

    /// KVM_SET_CLOCK (x86.c:3845–3866) ends in `kvm_gen_update_masterclock`.
    fn set_clock(&mut self, _now: HostTime) -> bool {
        kvm_gen_update_masterclock(self);
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
        self.arch.cur_tsc_generation.get()
    }
    fn use_master_clock(&self) -> bool {
        self.arch.use_master_clock
    }
    fn this_tsc_generation(&self, v: usize) -> u64 {
        self.vcpus[v].this_tsc_generation.get()
    }
    fn l1_tsc_offset(&self, v: usize) -> u64 {
        self.vcpus[v].tsc_offset
    }
    fn virtual_tsc_khz(&self, v: usize) -> u32 {
        self.vcpus[v].virtual_tsc_khz
    }
    fn tsc_scaling_khz(&self, v: usize) -> u32 {
        self.vcpus[v].tsc_scaling_khz
    }
    fn pvclock_stable(&self, v: usize) -> bool {
        self.vcpus[v].pvclock_flags & PVCLOCK_TSC_STABLE_BIT != 0
    }
}
