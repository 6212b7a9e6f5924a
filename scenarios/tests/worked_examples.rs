//! Worked examples: QEMU 2.0's boot with N vCPUs on each kernel model, the
//! bug fixed by Linux 0d3da0d26e3c "KVM: x86: fix TSC matching" (Tomasz
//! Grabiec, 2014; first released in 3.17).
//!
//! QEMU 2.0 writes every vCPU's TSC three times before the guest runs, always
//! 0: C, the kernel's own write at KVM_CREATE_VCPU (kvm_arch_vcpu_postcreate);
//! I, post_init (cpu_synchronize_all_post_init → kvm_put_msrs); R, post_reset
//! (x86_cpu_reset zeroes env->tsc, then kvm_put_msrs). vCPUs are created one
//! after another, so vCPU k's creation write already sees online_vcpus = k+1.
//! Assumed here: a stable host TSC, a TSC clocksource, one virtual_tsc_khz for
//! all, a fresh VM, and all writes far less than 1 s apart, so every write but
//! the very first (which starts generation 1) matches. "All matched" is
//! nr_vcpus_matched_tsc + 1 == online_vcpus.
//!
//! 3.14 adds 1 to nr_vcpus_matched_tsc on every matched write; 3.17 only when
//! the vCPU's this_tsc_generation differs from cur_tsc_generation, i.e. once
//! per vCPU per generation; 6.18 has the same rule (and a write of 0 always
//! synchronises, which changes nothing with these inputs). nr after each phase:
//!
//! | N | 3.14 after C / I / R | 3.17, 6.18 after C / I / R |
//! |---|----------------------|----------------------------|
//! | 1 | 0 / 1 / 2            | 0 / 0 / 0                  |
//! | 2 | 1 / 3 / 5            | 1 / 1 / 1                  |
//! | 3 | 2 / 5 / 8            | 2 / 2 / 2                  |
//! | 4 | 3 / 7 / 11           | 3 / 3 / 3                  |
//! | 8 | 7 / 15 / 23          | 7 / 7 / 7                  |
//!
//! That is N−1, 2N−1, 3N−1 on 3.14 and N−1 throughout since the fix. So when
//! the master clock is recomputed (KVM_SET_CLOCK at QEMU's vm_start, or the
//! first KVM_RUN), 3.14 finds the vCPUs not all matched and leaves it off, and
//! no vCPU gets PVCLOCK_TSC_STABLE_BIT, even for N = 1 (its second write makes
//! 1 + 1 ≠ 1); 3.17 and 6.18 turn it on.

mod common;

use scenarios::trace::Count;

use common::{runs, summary, writes};
use scenarios::{BackendId, parse, run_model};

const FIXED: [BackendId; 3] = [
    BackendId::Linux317,
    BackendId::Linux317U8,
    BackendId::Linux618,
];

fn qemu_boot(n: u32) -> scenarios::Scenario {
    parse(&format!(
        "create {n}\nwrite * 0\nwrite * 0\nset-clock\nrun *\n"
    ))
    .unwrap()
}

/// The table above, phase by phase, for N = 1, 2, 3, 4, 8.
#[test]
fn fix_0d3da0d26e3c_qemu_2_0_boot_closed_form_for_n_1_2_3_4_8() {
    for n in [1u32, 2, 3, 4, 8] {
        let s = qemu_boot(n);
        let nn = n as usize;
        for id in BackendId::MODELS {
            let events = run_model(&s, id).unwrap();
            let w = writes(&events);
            assert_eq!(w.len(), 3 * nn, "{id} N={n}");
            let (after_c, after_i, after_r) = (
                w[nn - 1].nr_matched,
                w[2 * nn - 1].nr_matched,
                w[3 * nn - 1].nr_matched,
            );
            let end = summary(&events);
            if id == BackendId::Linux314 {
                assert_eq!(
                    (after_c, after_i, after_r),
                    (n - 1, 2 * n - 1, 3 * n - 1),
                    "{id} N={n}"
                );
                assert!(
                    !end.master_clock,
                    "{id} N={n}: no master clock, even for N = 1"
                );
                assert!(!end.kvmclock_stable, "{id} N={n}");
            } else {
                assert_eq!(
                    (after_c, after_i, after_r),
                    (n - 1, n - 1, n - 1),
                    "{id} N={n}"
                );
                assert!(end.master_clock, "{id} N={n}");
                assert!(end.kvmclock_stable, "{id} N={n}");
            }
            // vcpus_matched holds after C everywhere, and afterwards only when fixed.
            assert!(w[nn - 1].vcpus_matched, "{id} N={n}");
            assert_eq!(
                w[3 * nn - 1].vcpus_matched,
                id != BackendId::Linux314,
                "{id} N={n}"
            );
            // online_vcpus is already incremented when the creation write happens.
            for (k, ev) in w[..nn].iter().enumerate() {
                assert_eq!(ev.online, k as u32 + 1, "{id} N={n} creation {k}");
            }
            // One generation only: every write after the first matched it.
            assert!(
                w[0].new_generation && w[1..].iter().all(|e| e.matched && !e.new_generation),
                "{id} N={n}"
            );
            assert_eq!(end.cur_tsc_generation, 1, "{id} N={n}");
        }
    }
}

/// N = 2, write by write (C0, C1, I0, I1, R0, R1): what `kvm_track_tsc`
/// prints as offsetmatched (= nr_vcpus_matched_tsc). 3.14: 0, 1, 2, 3, 4, 5,
/// all matched only after the two creations; since the fix: 0, 1, 1, 1, 1, 1.
#[test]
fn fix_0d3da0d26e3c_qemu_2_0_boot_offsetmatched_for_n_2() {
    let s = qemu_boot(2);
    let seq = |id| {
        writes(&run_model(&s, id).unwrap())
            .iter()
            .map(|w| w.nr_matched)
            .collect::<Vec<_>>()
    };
    assert_eq!(seq(BackendId::Linux314), [0, 1, 2, 3, 4, 5]);
    for id in FIXED {
        assert_eq!(seq(id), [0, 1, 1, 1, 1, 1], "{id}");
    }
}

/// N = 2: which writes raise KVM_REQ_MASTERCLOCK_UPDATE. Before the fix only
/// writes 1 and 2 (all matched while the master clock is off; writes 3–6 leave
/// the vCPUs not all matched, and the clock is off, so nothing to change);
/// after it all six (all matched, and the master clock stays off until
/// KVM_SET_CLOCK or KVM_RUN recomputes it).
#[test]
fn fix_0d3da0d26e3c_qemu_2_0_boot_masterclock_requests_for_n_2() {
    let s = qemu_boot(2);
    let req = |id| {
        writes(&run_model(&s, id).unwrap())
            .iter()
            .map(|w| w.masterclock_update_requested)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        req(BackendId::Linux314),
        [true, true, false, false, false, false]
    );
    for id in FIXED {
        assert_eq!(req(id), [true; 6], "{id}");
    }
}

/// The labels the lab shows for QEMU 2.0's boot with N = 3: 3.14 counts a vCPU
/// again, 3.17 (0d3da0d26e3c) and 6.18 say "already counted".
#[test]
fn fix_0d3da0d26e3c_qemu_2_0_boot_count_labels() {
    let s = qemu_boot(3);
    let counts = |id| {
        writes(&run_model(&s, id).unwrap())
            .iter()
            .map(|w| w.count)
            .collect::<Vec<_>>()
    };
    let c314 = counts(BackendId::Linux314);
    assert_eq!(c314[0], Count::Reset);
    assert!(c314[1..3].iter().all(|&c| c == Count::Counted));
    assert!(c314[3..].iter().all(|&c| c == Count::CountedAgain));
    for id in FIXED {
        let c = counts(id);
        assert!(
            c[3..].iter().all(|&c| c == Count::AlreadyCounted),
            "{id}: {c:?}"
        );
    }
}

/// Without KVM_SET_CLOCK the master clock is decided lazily, by the first vCPU
/// that runs with a pending KVM_REQ_MASTERCLOCK_UPDATE.
#[test]
fn master_clock_is_recomputed_lazily() {
    let s = parse("create 2\nwrite * 0\nwrite * 0\n").unwrap();
    for id in FIXED {
        let events = run_model(&s, id).unwrap();
        assert!(
            writes(&events).iter().all(|w| !w.master_clock),
            "{id}: stored value stays off while nothing runs"
        );
        let runs = runs(&events);
        assert_eq!(runs.len(), 2, "{id}: the implicit run * enters both vCPUs");
        assert!(runs.iter().all(|r| r.implicit));
        assert!(
            runs[0].masterclock_updated == Some(true) && runs[0].master_clock,
            "{id}"
        );
        let end = summary(&events);
        assert!(end.implicit_run && end.kvmclock_stable, "{id}");
    }
}

/// A host whose clocksource is not TSC-based never gets a master clock, even
/// with every vCPU matched; Hyper-V's TSC page counts as TSC-based only since 4.16.
#[test]
fn host_clocksource_gates_the_master_clock() {
    for (cs, on_618, on_3x) in [
        ("tsc", true, true),
        ("hpet", false, false),
        ("hyperv_clocksource_tsc_page", true, false),
    ] {
        let s = parse(&format!(
            "set clocksource {cs}\ncreate 2\nwrite * 0\nrun *\n"
        ))
        .unwrap();
        assert_eq!(
            summary(&run_model(&s, BackendId::Linux618).unwrap()).master_clock,
            on_618,
            "6.18 {cs}"
        );
        assert_eq!(
            summary(&run_model(&s, BackendId::Linux317).unwrap()).master_clock,
            on_3x,
            "3.17 {cs}"
        );
    }
}

/// KVM_MAX_VCPUS: 255 in 3.x, 1024 today; the 256th creation fails on 3.x.
#[test]
fn vcpu_limits_per_kernel() {
    let s = parse("create 256\n").unwrap();
    let err = run_model(&s, BackendId::Linux314).unwrap_err();
    assert!(err.to_string().contains("at most 255 vCPUs"), "{err}");
    assert_eq!(
        summary(&run_model(&s, BackendId::Linux618).unwrap()).online,
        256
    );
}
