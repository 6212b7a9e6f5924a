//! Single kernel rules, each pinned at its edge: the 1 s window, the zero rule,
//! `user_set_tsc`, unstable hosts, guest writes, and replaying measured timing.

mod common;

use scenarios::models::{HostTime, Stamp, Timing};
use scenarios::trace::{Count, SyncRule};
use scenarios::{BackendId, parse, run_model};

fn writes(text: &str, id: BackendId) -> Vec<common::W> {
    let s = parse(text).unwrap_or_else(|e| panic!("{e}"));
    common::writes(&run_model(&s, id).unwrap_or_else(|e| panic!("{id}: {e}")))
}

/// Two vCPUs get the same non-zero value `gap` apart. The second write matches
/// iff the distance is under 1 s (3.x: |usdiff| < 1 s, in µs; 6.18: strictly
/// inside ±1 s of cycles). Exactly 1 s is out everywhere.
#[test]
fn window_edges() {
    for (gap, inside) in [
        ("900ms", true),
        ("999999us", true),
        ("1s", false),
        ("1200ms", false),
    ] {
        let text = format!("create 2\nwrite 0 5000000000000\nwait {gap}\nwrite 1 5000000000000\n");
        for id in BackendId::MODELS {
            let w = writes(&text, id);
            assert!(
                w[2].new_generation,
                "{id}: the first non-zero write starts a generation"
            );
            assert_eq!(w[3].matched, inside, "{id} gap {gap}");
            assert_eq!(w[3].decision.rule, SyncRule::Window, "{id}");
        }
    }
}

/// 3.x measures the distance in µs with C's truncating division: 1 s minus a
/// nanosecond is 999 999 µs, inside; 6.18 compares cycles.
#[test]
fn window_is_measured_against_the_previous_write_extrapolated_to_now() {
    // A value that moves with time stays in the window however long the gap.
    let text = "create 2\nwrite 0 5000000000000\nwait 10s\nwrite 1 now@0+100ms\n";
    for id in BackendId::MODELS {
        let w = writes(text, id);
        assert!(w[3].matched, "{id}");
        let d = w[3].decision.distance_us.unwrap();
        assert!((99_000..=101_000).contains(&d.abs()), "{id}: |Δ| = {d} µs");
    }
}

/// Zero writes 2 s after the last write: a new generation in 3.x, still one
/// generation in 6.18 (a write of 0 always synchronises).
#[test]
fn zero_rule_only_today() {
    let text = "create 2\nwait 2s\nwrite * 0\n";
    for id in [
        BackendId::Linux314,
        BackendId::Linux317,
        BackendId::Linux317U8,
    ] {
        let w = writes(text, id);
        assert!(
            w[2].new_generation && w[2].decision.rule == SyncRule::Window,
            "{id}"
        );
        assert_eq!((w[3].nr_matched, w[3].cur_tsc_generation), (1, 2), "{id}");
    }
    let w = writes(text, BackendId::Linux618);
    assert_eq!(w[2].decision.rule, SyncRule::Zero);
    assert!(w[2].matched && w[2].count == Count::AlreadyCounted);
    assert_eq!((w[3].nr_matched, w[3].cur_tsc_generation), (1, 1));
    assert_eq!(
        w[2].offset, w[0].offset,
        "the TSC is not reset: same offset as at creation"
    );
}

/// Linux bf328e22e472 "KVM: x86: Don't sync user-written TSC against startup
/// values" (Like Xu, 2023, 6.7) added `kvm->arch.user_set_tsc`: the first
/// non-zero userspace write is never a sync attempt, even when it equals the
/// running TSC exactly; creations do not set the flag, any userspace write
/// (0 included) and KVM_VCPU_TSC_OFFSET do.
#[test]
fn kvm_bf328e22e472_user_set_tsc() {
    // vCPU 1's own TSC, unchanged: still a new generation today, a match in 3.x.
    let text = "create 2\nwait 10ms\nwrite 1 now\nwrite 0 now@1\n";
    let w = writes(text, BackendId::Linux618);
    assert_eq!(w[2].decision.rule, SyncRule::FirstUserWrite);
    assert!(w[2].new_generation);
    assert_eq!(
        w[3].decision.rule,
        SyncRule::Window,
        "now user_set_tsc is set"
    );
    assert!(w[3].matched);
    assert!(writes(text, BackendId::Linux317)[2].matched);
    // A userspace write of 0 sets the flag too.
    let w = writes(
        "create 2\nwrite 0 0\nwait 10ms\nwrite 1 now\n",
        BackendId::Linux618,
    );
    assert_eq!(w[3].decision.rule, SyncRule::Window);
    // So does the offset attribute.
    let w = writes(
        "create 2\nset-offset 0 offset@0\nwait 10ms\nwrite 1 now@0\n",
        BackendId::Linux618,
    );
    assert!(w[2].matched, "the same offset as the last write matches");
    assert_eq!(w[3].decision.rule, SyncRule::Window);
    assert!(w[3].matched);
}

/// Since Linux 0c899c25d754 "KVM: x86: do not attempt TSC synchronization on
/// guest writes" (Paolo Bonzini, 2020, 5.10) a guest WRMSR only moves the
/// offset; before, it went through kvm_write_tsc like a host write.
#[test]
fn kvm_0c899c25d754_guest_writes_do_not_synchronize() {
    let text = "create 2\nrun *\nguest-write 1 100000000000\n";
    let w = writes(text, BackendId::Linux618);
    assert_eq!(
        (w[2].count, w[2].decision.rule),
        (Count::Untouched, SyncRule::GuestWrite)
    );
    assert_eq!((w[2].nr_matched, w[2].cur_tsc_generation), (1, 1));
    assert_ne!(w[2].offset, w[0].offset, "the offset moved");
    let w = writes(text, BackendId::Linux317);
    assert!(w[2].new_generation && w[2].nr_matched == 0);
}

/// An unstable host TSC: a matched write is compensated by the elapsed time
/// instead of reusing the generation's offset. In 3.x `elapsed` has already
/// been divided into µs by the window test (`do_div`), and `nsec_to_cycles`
/// reads it as ns: the vCPU is moved 1/1000 of the time. 6.18 compensates in full.
#[test]
fn unstable_host_compensates() {
    let text = "set host_tsc unstable\ncreate 2\nwait 10ms\nwrite 1 0\n";
    // 10 ms at 2.6 GHz is 26,000,000 cycles; 10,000 µs read as ns give 26,000.
    for id in BackendId::MODELS {
        let w = writes(text, id);
        assert!(w[2].matched && w[2].decision.compensated, "{id}");
        let moved = w[2].offset - w[0].offset;
        let expected = if id == BackendId::Linux618 {
            0
        } else {
            26_000 - 26_000_000
        };
        assert_eq!(moved, expected, "{id}");
        let stable = writes("create 2\nwait 10ms\nwrite 1 0\n", id);
        assert!(
            !stable[2].decision.compensated && stable[2].offset == stable[0].offset,
            "{id}"
        );
    }
}

/// KVM_SET_TSC_KHZ within ±250 ppm of the host rate: no scaling, yet
/// `virtual_tsc_khz` differs, so the next write cannot match.
#[test]
fn tsc_khz_tolerance() {
    let text = "create 2\ntsc-khz 1 2_600_100\nwrite 1 0\n";
    for id in BackendId::MODELS {
        let w = writes(text, id);
        assert!(!w[2].decision.khz_match && w[2].new_generation, "{id}");
    }
    // 0 means the host's rate: the write matches again.
    let w = writes("create 2\ntsc-khz 1 0\nwrite 1 0\n", BackendId::Linux618);
    assert!(w[2].matched);
}

/// The u8 wrap in isolation: 256 generations later, a stale vCPU looks
/// "already matched". This is why 0d3da0d26e3c, which made the count read
/// this_tsc_generation, also widened this_tsc_generation and
/// cur_tsc_generation from u8 to u64 (`linux-3.17-u8` is 3.17 with u8 ones).
#[test]
fn fix_0d3da0d26e3c_u8_generation_wraps_after_256() {
    let text = "create 2\nrepeat 128\n  write 1 1000000000000\n  write 1 2000000000000\nend\nwrite 0 now@1\n";
    let u8w = writes(text, BackendId::Linux317U8);
    let u64w = writes(text, BackendId::Linux317);
    let last = 2 + 256;
    assert_eq!(u8w[last - 1].cur_tsc_generation, 1, "1 + 256 wraps to 1");
    assert_eq!(u64w[last - 1].cur_tsc_generation, 257);
    assert_eq!(
        (u8w[last].count, u8w[last].nr_matched),
        (Count::StaleGeneration, 0)
    );
    assert_eq!(
        (u64w[last].count, u64w[last].nr_matched),
        (Count::Counted, 1)
    );
}

/// A model driven by a timing trace: replaying the virtual run's own times gives
/// the same events; stretching one gap past 1 s changes the outcome.
#[test]
fn replay_follows_the_measured_time() {
    let s = parse("create 2\nwrite * 0\nwait 20ms\nwrite * 0\nrun *\n").unwrap();
    let host = s.host();
    let at = |t: u64| {
        let ns = host.uptime_ns + t;
        (ns, scenarios::models::nsec_to_cycles(host.tsc_khz, ns))
    };
    // One stamp per step (creations, writes, the wait, runs), the second round
    // of writes `gap` after the first; `value` is what the real run wrote.
    let replay = |gap: u64, value: Option<u64>| {
        let stamps = [0, 0, 0, 0, 0, gap, gap, gap, gap]
            .iter()
            .enumerate()
            .map(|(step, &t)| {
                let (ns, tsc) = at(t);
                let value = if step == 5 || step == 6 { value } else { None };
                Stamp { ns, tsc, value }
            })
            .collect();
        let (ns, tsc) = at(0);
        let timing = Timing::Replay {
            start: HostTime { ns, tsc },
            stamps,
        };
        scenarios::replay_model(&s, BackendId::Linux317, host, timing)
            .into_result()
            .unwrap()
    };
    // Replaying the virtual run's own times gives the same events.
    assert_eq!(
        replay(20_000_000, None),
        run_model(&s, BackendId::Linux317).unwrap()
    );
    // The real run was slow: the second round came 1.5 s later.
    let w = common::writes(&replay(1_500_000_000, None));
    assert!(
        w[4].new_generation,
        "1.5 s after the previous write: outside the window"
    );
    assert_eq!(w[4].t_ns, 1_500_000_000);
    // The values the real run wrote are taken as they were, not re-resolved.
    let w = common::writes(&replay(20_000_000, Some(7)));
    assert_eq!((w[4].value, w[5].value), (7, 7));
}

/// A guest WRMSR starts a generation on 3.x but only moves the offset since
/// 0c899c25d754 (5.10), while nr_vcpus_matched_tsc stays 0 on both: the
/// first divergence is that write, found by its new generation alone.
#[test]
fn kvm_0c899c25d754_a_guest_write_diverges_by_its_generation() {
    let s = scenarios::parse("create 1\nguest-write 0 now+2s\n").unwrap();
    let runs: Vec<(BackendId, Vec<scenarios::Event>)> = [BackendId::Linux314, BackendId::Linux618]
        .into_iter()
        .map(|b| (b, scenarios::run_model(&s, b).unwrap()))
        .collect();
    let writes: Vec<(BackendId, Vec<&scenarios::WriteEvent>)> = runs
        .iter()
        .map(|(b, e)| (*b, scenarios::trace::writes(e).collect()))
        .collect();
    let d = scenarios::first_divergence(&writes).expect("they diverge");
    assert_eq!(d.write, 2, "{d:?}");
    assert!(
        d.what
            .starts_with("new generation: yes on linux-3.14, no on linux-6.18"),
        "{d:?}"
    );
}
