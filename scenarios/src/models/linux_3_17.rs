//! Linux 3.17: `kvm_write_tsc()` with 0d3da0d26e3c "KVM: x86: fix TSC matching"
//! (Tomasz Grabiec, 2014-07-09; first released in v3.17).
//!
//! Follows `arch/x86/kvm/x86.c` of v3.17.0 (`kvm_write_tsc`, l. 1243–1353).
//! Against 3.14 the function changed in exactly three places, marked `FIX` below:
//!
//! 1. a new local `already_matched`;
//! 2. in the matched branch, `already_matched = (vcpu->arch.this_tsc_generation
//!    == kvm->arch.cur_tsc_generation)` — read *before* this write overwrites
//!    the vCPU's generation: "this vCPU is already in the matched set";
//! 3. the counter: reset when not matched, `++` only when not already matched.
//!
//! The commit also widened `cur_tsc_generation` and `this_tsc_generation` from
//! u8 to u64: once `this_tsc_generation` is read, a u8 that wraps after 256
//! generations can make a stale vCPU look "already matched". The model takes
//! the width as `G`: `u64` for `linux-3.17`, `u8` for the what-if `linux-3.17-u8`.
//!
//! Everything else — the window, the kHz test, the stable/unstable branch, the
//! `last_*`/`this_*` bookkeeping and `kvm_track_tsc_matching` — is 3.14's, and
//! lives in [`super::linux_3x`].

use super::linux_3x::{Kvm, KvmWriteTsc, USEC_PER_SEC, kvm_track_tsc_matching, usdiff};
use super::{Generation, WriteOutcome, nsec_to_cycles};
use crate::host::HostTime;
use crate::trace::{BackendId, Count, Decision, SyncRule};

/// Linux 3.17's `kvm_write_tsc`, for [`Kvm`]: the VM of `linux-3.17` is
/// `Kvm<u64, Linux317>`, and of the what-if `linux-3.17-u8` `Kvm<u8, Linux317>`.
#[derive(Clone, Copy, Debug)]
pub struct Linux317;

impl KvmWriteTsc for Linux317 {
    fn backend<G: Generation>() -> BackendId {
        if G::BITS == 8 {
            BackendId::Linux317U8
        } else {
            BackendId::Linux317
        }
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

/// `kvm_write_tsc(vcpu, msr)` of Linux 3.17.0, step by step.
// Inlined into the write path: the outcome stays in registers (see benches/models.rs).
#[inline(always)]
pub fn kvm_write_tsc<G: Generation>(
    kvm: &mut Kvm<G, Linux317>,
    v: usize,
    mut data: u64,
    now: HostTime,
) -> WriteOutcome {
    let mut already_matched = false; // FIX (1)
    let vcpu_khz = kvm.vcpus[v].virtual_tsc_khz;
    let mut offset = kvm.compute_tsc_offset(v, data, now);
    let ns = now.ns;
    let mut elapsed = ns.wrapping_sub(kvm.arch.last_tsc_nsec);
    let usdiff = usdiff(kvm, v, data, &mut elapsed); // elapsed is now in µs, as in the kernel

    let synchronizing = usdiff < USEC_PER_SEC;
    let khz_match = vcpu_khz == kvm.arch.last_tsc_khz;
    let matched = synchronizing && khz_match;
    let mut compensated = false;
    // Not kernel logic: whether the vCPU really is in this generation, so the
    // trace can tell a u8 wrap's false "already matched" apart.
    let really_in_generation = kvm.vcpus[v].lab_this_generation == kvm.arch.lab_generation;
    if matched {
        if kvm.host.tsc_stable {
            offset = kvm.arch.cur_tsc_offset;
        } else {
            let delta = nsec_to_cycles(vcpu_khz, elapsed);
            data = data.wrapping_add(delta);
            offset = kvm.compute_tsc_offset(v, data, now);
            compensated = true;
        }
        // FIX (2): is this vCPU already in the current generation's matched set?
        already_matched = kvm.vcpus[v].this_tsc_generation == kvm.arch.cur_tsc_generation;
    } else {
        kvm.arch.cur_tsc_generation = kvm.arch.cur_tsc_generation.inc();
        kvm.arch.lab_generation += 1;
        kvm.arch.cur_tsc_nsec = ns;
        kvm.arch.cur_tsc_write = data;
        kvm.arch.cur_tsc_offset = offset;
    }

    kvm.arch.last_tsc_nsec = ns;
    kvm.arch.last_tsc_write = data;
    kvm.arch.last_tsc_khz = vcpu_khz;

    let vcpu = &mut kvm.vcpus[v];
    vcpu.last_guest_tsc = data;
    vcpu.this_tsc_generation = kvm.arch.cur_tsc_generation;
    vcpu.lab_this_generation = kvm.arch.lab_generation;
    vcpu.this_tsc_nsec = kvm.arch.cur_tsc_nsec;
    vcpu.this_tsc_write = kvm.arch.cur_tsc_write;
    vcpu.tsc_offset = offset;

    // FIX (3): each vCPU counts once per generation.
    let count = if !matched {
        kvm.arch.nr_vcpus_matched_tsc = 0;
        Count::Reset
    } else if !already_matched {
        kvm.arch.nr_vcpus_matched_tsc = kvm.arch.nr_vcpus_matched_tsc.wrapping_add(1);
        Count::Counted
    } else if really_in_generation {
        Count::AlreadyCounted
    } else {
        Count::StaleGeneration
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
