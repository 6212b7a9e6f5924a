//! The worked examples of the kernel history (§g of kernel-tsc-history.md):
//! QEMU-2.0-like boots with N vCPUs, every write of 0, all within far less than
//! 1 s, written C (creation), I (post_init), R (post_reset).
//!
//! Closed form: before the fix nr_vcpus_matched_tsc = N−1 after C, 2N−1 after I,
//! 3N−1 after R, and the master clock stays off even for N = 1; after it (3.17,
//! and 6.18 with these inputs) nr = N−1 after every phase and the master clock
//! turns on when recomputed.

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

#[test]
fn closed_form_for_n_1_2_3_4_8() {
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

/// g.2: the write-by-write trace for N = 2, and what `kvm_track_tsc` prints as
/// offsetmatched.
#[test]
fn offsetmatched_sequence_for_n_2() {
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

/// g.2: which writes raise KVM_REQ_MASTERCLOCK_UPDATE. Before the fix only
/// writes 1 and 2 (matched while the master clock is off); after it all six
/// (the master clock is not recomputed until KVM_SET_CLOCK or KVM_RUN).
#[test]
fn masterclock_requests_for_n_2() {
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

/// The labels the lab shows: 3.14 counts a vCPU again, 3.17 says "already counted".
#[test]
fn count_labels_name_the_bug_and_the_fix() {
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
