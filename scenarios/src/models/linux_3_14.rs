//! Linux 3.14: `kvm_write_tsc()` before "KVM: x86: fix TSC matching".
//!
//! Follows `kvm_write_tsc` of `arch/x86/kvm/x86.c`, v3.14.1 (l. 1210–1328);
//! the rest of the VM — matching, the master clock, pvclock pages — is the
//! 3.x state of [`super::linux_3x`], which 3.17 shares.
//!
//! The bug: every matched write does `nr_vcpus_matched_tsc++`, even when the
//! same vCPU writes again within one generation. QEMU 1.6/2.0 writes each
//! vCPU's TSC three times during boot, so the counter overshoots
//! `online_vcpus - 1`, `vcpus_matched` never holds, the master clock stays off
//! and guests never see PVCLOCK_TSC_STABLE_BIT — even with one vCPU.
//!

use super::linux_3x::{Kvm, KvmWriteTsc, USEC_PER_SEC, kvm_track_tsc_matching, usdiff};
use super::{Generation, WriteOutcome, nsec_to_cycles};
use crate::host::HostTime;
use crate::trace::{BackendId, Count, Decision, SyncRule};

/// Linux 3.14's `kvm_write_tsc`, for [`Kvm`]: the VM of `linux-3.14` is
/// `Kvm<u8, Linux314>`.
#[derive(Clone, Copy, Debug)]
pub struct Linux314;

impl KvmWriteTsc for Linux314 {
    fn backend<G: Generation>() -> BackendId {
        BackendId::Linux314
    }

    #[inline(always)]
    fn kvm_write_tsc<G: Generation>(
        kvm: &mut Kvm<G, Self>,
        v: usize,
        data: u64,
        now: HostTime,
    ) -> WriteOutcome {
        kvm_write_tsc(kvm, v, data, now)
    }
}

/// `kvm_write_tsc(vcpu, msr)` of Linux 3.14.1, step by step.
// Inlined into the write path: the outcome stays in registers (see benches/models.rs).
#[inline(always)]
pub fn kvm_write_tsc<G: Generation>(
    kvm: &mut Kvm<G, Linux314>,
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
