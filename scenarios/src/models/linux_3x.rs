//! The Linux 3.x VM, shared by 3.14 and 3.17.
//!
//! Follows `arch/x86/kvm/x86.c` of v3.14.1, whose TSC-matching code 3.17
//! keeps except in `kvm_write_tsc` (`linux_3_14` and `linux_3_17` have one
//! `kvm_write_tsc` each, chosen by the VM's type through [`KvmWriteTsc`]): `kvm_track_tsc_matching` (l. 1177–1202),
//! `pvclock_update_vm_gtod_copy` (1458–1485), `kvm_gen_update_masterclock`
//! (1487–1508), `kvm_guest_time_update` (1510–1616), `kvm_arch_vcpu_postcreate`
//! (6710–6725), and `kvm_vm_ioctl_create_vcpu` in `virt/kvm/kvm_main.c`
//! (`online_vcpus` is incremented at l. 1937, before the post-create write at 1940).
//!
//! Between the two releases the TSC-matching code changed only in
//! `kvm_write_tsc` and the width of the generation counters (plus a
//! `backwards_tsc_observed` flag for host suspend, which this lab never sets;
//! other kvmclock changes of 3.15 — update rate limiting, the periodic sync —
//! do not touch matching). `G` is that width: `u8` in 3.14, `u64` in 3.17.
//!
//! Where 3.x differed by vendor, the model follows an SVM host with TSC rate
//! control, whose offsets are scaled; Intel VMX of that era had no scaling.

use std::marker::PhantomData;

use super::{Generation, KernelModel, Requests, RunOutcome, WriteOutcome, scale_tsc};
use crate::ast::Clocksource;
use crate::host::{HostConfig, HostTime};
use crate::pvclock;
use crate::trace::BackendId;

/// `USEC_PER_SEC`: the width of the matching window.
pub const USEC_PER_SEC: i64 = 1_000_000;

/// `KVM_MAX_VCPUS` on x86 in 3.14 and 3.17.
pub const KVM_MAX_VCPUS: u32 = 255;

/// `struct kvm_arch`, the fields TSC matching uses (all zero at VM creation:
/// `struct kvm` is kzalloc'ed).
#[derive(Clone, Debug, Default)]
pub struct KvmArch<G> {
    /// `get_kernel_ns()` at the latest TSC write, by any vCPU.
    pub last_tsc_nsec: u64,
    /// `data` of the latest TSC write: the window is judged against it.
    pub last_tsc_write: u64,
    /// `virtual_tsc_khz` of the vCPU that wrote last.
    pub last_tsc_khz: u32,
    /// `get_kernel_ns()` at the write that started the current generation.
    pub cur_tsc_nsec: u64,
    /// `data` of the write that started the current generation.
    pub cur_tsc_write: u64,
    /// The offset of the current generation; a matched write on a stable host reuses it.
    pub cur_tsc_offset: u64,
    /// Bumped by every unmatched write; `u8` in 3.14, `u64` from 3.17.
    pub cur_tsc_generation: G,
    /// Matched writes counted in the current generation, its first vCPU not included.
    pub nr_vcpus_matched_tsc: i32,
    /// Whether the VM uses the master clock; set only by `pvclock_update_vm_gtod_copy`.
    pub use_master_clock: bool,
    /// Not kernel state: the generation counted without wrapping, kept only
    /// so the trace can say truthfully whether a vCPU was already in the
    /// generation when a u8 counter says so.
    pub lab_generation: u64,
}

/// `struct kvm_vcpu_arch`, the TSC fields, plus the vCPU's pvclock page.
#[derive(Clone, Debug, Default)]
pub struct KvmVcpuArch<G> {
    /// `vcpu->vcpu_id`: the creation index.
    pub vcpu_id: u32,
    /// The guest TSC rate set by `kvm_set_tsc_khz`; matching compares it with `last_tsc_khz`.
    pub virtual_tsc_khz: u32,
    /// The rate the hardware scales this vCPU's TSC to (`scaling_khz`).
    pub tsc_scaling_khz: u32,
    /// The TSC offset in the VMCS (`vmx_write_tsc_offset`).
    pub tsc_offset: u64,
    /// `cur_tsc_nsec` of the generation the vCPU last synchronised to.
    pub this_tsc_nsec: u64,
    /// `cur_tsc_write` of the generation the vCPU last synchronised to.
    pub this_tsc_write: u64,
    /// In 3.14 written but never read: the fix is what starts reading it.
    pub this_tsc_generation: G,
    /// `data` of the vCPU's latest TSC write.
    pub last_guest_tsc: u64,
    /// The vCPU's pending requests (`vcpu->requests`), the two the models track.
    pub requests: Requests,
    /// `flags` of the pvclock page last written by `kvm_guest_time_update`.
    pub pvclock_flags: u8,
    /// Not kernel state: `lab_generation` when this vCPU last synchronised.
    pub lab_this_generation: u64,
}

/// The one function that differs between the 3.x releases: `kvm_write_tsc`.
/// `Linux314` and `Linux317` each implement it; the VM's type says which one
/// runs, so neither release's module knows of the other.
pub trait KvmWriteTsc: Sized {
    /// The backend this write function makes with generations of width `G`.
    fn backend<G: Generation>() -> BackendId;
    /// `kvm_write_tsc(vcpu, msr)`: the write of `data` to vCPU `v`'s TSC.
    fn kvm_write_tsc<G: Generation>(
        kvm: &mut Kvm<G, Self>,
        v: usize,
        data: u64,
        now: HostTime,
    ) -> WriteOutcome;
}

/// A Linux 3.x VM: `struct kvm` with its x86 part and its vCPUs. `G` is the
/// width of the generation counters, `W` the release's `kvm_write_tsc`.
#[derive(Clone, Debug)]
pub struct Kvm<G, W> {
    /// The host the VM runs on.
    pub host: HostConfig,
    /// `kvm->arch`.
    pub arch: KvmArch<G>,
    /// `vcpu->arch` of each vCPU, by index.
    pub vcpus: Vec<KvmVcpuArch<G>>,
    /// `atomic_read(&kvm->online_vcpus)`.
    pub online_vcpus: u32,
    write_tsc: PhantomData<W>,
}

impl<G: Generation, W: KvmWriteTsc> Kvm<G, W> {
    /// KVM_CREATE_VM: `kvm_arch_init_vm` runs `pvclock_update_vm_gtod_copy`
    /// with no vCPU online, so the master clock starts off.
    pub fn new(host: HostConfig) -> Self {
        let mut kvm = Kvm {
            host,
            arch: KvmArch::default(),
            vcpus: Vec::new(),
            online_vcpus: 0,
            write_tsc: PhantomData,
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
pub(crate) fn usdiff<G, W>(kvm: &Kvm<G, W>, v: usize, data: u64, elapsed: &mut u64) -> i64 {
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

/// `kvm_track_tsc_matching(vcpu)` as in 3.14 and 3.17 (before 7f187922ddf6 of
/// November 2014): ask for a master-clock update only to turn it on or off, and
/// only on the vCPU that wrote. Returns whether a request was made; the
/// `kvm_track_tsc` tracepoint prints `nr_vcpus_matched_tsc` as `offsetmatched`.
// Inlined into the write path: the outcome stays in registers (see benches/models.rs).
#[inline(always)]
pub fn kvm_track_tsc_matching<G: Generation, W: KvmWriteTsc>(
    kvm: &mut Kvm<G, W>,
    v: usize,
) -> bool {
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
pub fn pvclock_update_vm_gtod_copy<G: Generation, W: KvmWriteTsc>(kvm: &mut Kvm<G, W>) {
    let vcpus_matched = kvm.arch.nr_vcpus_matched_tsc + 1 == kvm.online_vcpus as i32;
    // kvm_get_time_and_clockread(): true only on a VCLOCK_TSC host, and then it
    // also snapshots (ns, host TSC) as the master pair. Time is not modelled
    // here beyond the flag, so the pair is left as it was.
    let host_tsc_clocksource = kvm.host_clock_is_tsc();
    kvm.arch.use_master_clock = host_tsc_clocksource && vcpus_matched;
}

/// `kvm_gen_update_masterclock(kvm)`: recompute, then make every vCPU rewrite
/// its pvclock page (KVM_REQ_CLOCK_UPDATE), under KVM_REQ_MCLOCK_INPROGRESS.
pub fn kvm_gen_update_masterclock<G: Generation, W: KvmWriteTsc>(kvm: &mut Kvm<G, W>) {
    pvclock_update_vm_gtod_copy(kvm);
    for vcpu in &mut kvm.vcpus {
        vcpu.requests.clock_update = true;
    }
}

/// `kvm_guest_time_update(v)`: write the vCPU's pvclock page; the stable bit
/// is set iff the VM uses the master clock.
pub fn kvm_guest_time_update<G: Generation, W: KvmWriteTsc>(kvm: &mut Kvm<G, W>, v: usize) {
    let mut flags = 0;
    if kvm.arch.use_master_clock {
        flags |= pvclock::PVCLOCK_TSC_STABLE_BIT;
    }
    kvm.vcpus[v].pvclock_flags = flags;
}

/// KVM_RUN → `vcpu_enter_guest()`: pending requests are handled in the
/// kernel's order (master clock first, then this vCPU's clock), then the guest
/// runs to its `hlt`.
pub fn vcpu_enter_guest<G: Generation, W: KvmWriteTsc>(
    kvm: &mut Kvm<G, W>,
    v: usize,
) -> RunOutcome {
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
        pvclock_stable: pvclock::tsc_stable(kvm.vcpus[v].pvclock_flags),
    }
}

impl<G: Generation, W: KvmWriteTsc> KernelModel for Kvm<G, W> {
    fn backend(&self) -> BackendId {
        W::backend::<G>()
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
        W::kvm_write_tsc(self, id as usize, 0, now)
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
        W::kvm_write_tsc(self, v, data, now)
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
        pvclock::tsc_stable(self.vcpus[v].pvclock_flags)
    }
}
