//! The trace importer on the traces under `tests/traces/`.
//!
//! Every file there is imported, each VM rebuilt, its scenario re-parsed, and
//! linux-6.18 replayed at the trace's moments with its values must agree with
//! the trace write by write. A file may come with `NAME.expect` (see
//! `tests/traces/README.md`) to pin what it holds: add a trace, and it is
//! tested. The hand-made fixtures then get their own checks.

use std::path::{Path, PathBuf};

use scenarios::import::{ClockKind, ImportLimits, Imported, ProblemKind, ValueRule};
use scenarios::trace::{self, first_divergence};
use scenarios::{BackendId, Event, import, replay_model};

/// The rate of the host the hand-made traces were made for.
const KHZ: u32 = 2_600_000;

fn traces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traces")
}

fn fixture(name: &str) -> Imported {
    let text = std::fs::read(traces().join(name)).expect(name);
    import(&text, ImportLimits::DEFAULT)
}

/// `NAME.expect`: `vms N`, `problem LINE`, `stopped LINE`, `tsc_khz K`, `diverges`.
#[derive(Debug, Default)]
struct Expect {
    vms: Option<usize>,
    problems: Vec<u64>,
    stopped: Option<u64>,
    tsc_khz: Option<u32>,
    diverges: bool,
}

fn expect_of(path: &Path) -> Expect {
    let mut e = Expect::default();
    let Ok(text) = std::fs::read_to_string(path.with_extension(format!(
        "{}.expect",
        path.extension().unwrap().to_str().unwrap()
    ))) else {
        return e;
    };
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let mut w = line.split_whitespace();
        match (w.next(), w.next()) {
            (Some("vms"), Some(n)) => e.vms = Some(n.parse().unwrap()),
            (Some("problem"), Some(n)) => e.problems.push(n.parse().unwrap()),
            (Some("stopped"), Some(n)) => e.stopped = Some(n.parse().unwrap()),
            (Some("tsc_khz"), Some(n)) => e.tsc_khz = Some(n.parse().unwrap()),
            (Some("diverges"), None) => e.diverges = true,
            (None, _) => {}
            other => panic!("{}: unknown line {other:?}", path.display()),
        }
    }
    e
}

/// Replays VM `id` on `model` and returns (trace writes, model writes, model summary).
fn replay(imported: &Imported, id: u32, khz: u32, model: BackendId) -> (Vec<Event>, Vec<Event>) {
    let run = imported.run(id, khz).unwrap();
    let replayed = replay_model(&run.scenario, model, run.host, run.timing());
    assert!(
        replayed.error.is_none(),
        "{model} on VM {id}: {:?}\n{}",
        replayed.error,
        run.text
    );
    (run.events, replayed.events)
}

fn agree(trace_events: &[Event], model_events: &[Event]) -> Option<trace::Divergence> {
    let t: Vec<_> = trace::writes(trace_events).collect();
    let m: Vec<_> = trace::writes(model_events).collect();
    assert_eq!(t.len(), m.len(), "as many writes");
    first_divergence(&[(BackendId::Trace, t), (BackendId::Linux618, m)])
}

#[test]
fn every_trace_imports_and_replays() {
    let mut seen = 0;
    for entry in std::fs::read_dir(traces()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".expect") || name.ends_with(".md") {
            continue;
        }
        seen += 1;
        let e = expect_of(&path);
        let imported = import(&std::fs::read(&path).unwrap(), ImportLimits::DEFAULT);
        if let Some(n) = e.vms {
            assert_eq!(imported.vms.len(), n, "{name}: VMs");
        }
        let lines: Vec<u64> = imported.problems.iter().map(|p| p.line).collect();
        assert_eq!(
            lines, e.problems,
            "{name}: problems {:#?}",
            imported.problems
        );
        assert_eq!(
            imported.stopped.as_ref().map(|s| s.line),
            e.stopped,
            "{name}"
        );
        let khz = e.tsc_khz.unwrap_or(KHZ);
        for vm in &imported.vms {
            let run = imported.run(vm.id, khz).unwrap();
            // The text is canonical: it parses back to itself and checks.
            let parsed = scenarios::parse(&run.text)
                .unwrap_or_else(|err| panic!("{name}: {err}\n{}", run.text));
            assert_eq!(parsed.to_string(), run.text, "{name}");
            let writes = trace::writes(&run.events).count() as u64;
            assert!(writes >= vm.writes.min(vm.kept), "{name}: VM {}", vm.id);
            let (t, m) = replay(&imported, vm.id, khz, BackendId::Linux618);
            let d = agree(&t, &m);
            if !e.diverges {
                assert_eq!(d, None, "{name}: VM {}\n{}", vm.id, run.text);
            }
        }
    }
    assert!(seen >= 10, "the fixtures are there");
}

/// The six forms of one QEMU 7.2 boot with -smp 4.
const BOOTS: [&str; 6] = [
    "qemu-7.2-smp4.trace_pipe",
    "qemu-7.2-smp4-tgid.trace",
    "qemu-7.2-smp4-x86-tsc.trace",
    "qemu-7.2-smp4-nocontext.trace",
    "qemu-7.2-smp4.trace-cmd",
    "qemu-7.2-smp4-debug-threads.trace",
];

/// The statements that act, as text (no title, comments, waits).
fn actions(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            ["create", "write", "guest-write"]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .map(|l| l.split('#').next().unwrap().trim().to_string())
        .collect()
}

#[test]
fn qemu_boot_in_every_form_is_the_same_run() {
    let mut first: Option<Vec<String>> = None;
    for name in BOOTS {
        let imported = fixture(name);
        assert_eq!(imported.vms.len(), 1, "{name}");
        assert!(
            imported.problems.is_empty(),
            "{name}: {:?}",
            imported.problems
        );
        let vm = &imported.vms[0];
        assert_eq!((vm.vcpus, vm.created, vm.writes), (4, 4, 12), "{name}");
        assert!(vm.pvclock_traced);
        let run = imported.run(1, KHZ).unwrap();
        let nr: Vec<u32> = trace::writes(&run.events)
            .map(|w| w.nr_matched.unwrap())
            .collect();
        assert_eq!(nr, [0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3], "{name}");
        // QEMU wrote 0 at boot: every value is taken as 0.
        assert!(
            run.values[4..]
                .iter()
                .all(|v| v.value == 0 && matches!(v.rule, ValueRule::Taken { .. })),
            "{name}: {:?}",
            run.values
        );
        let a = actions(&run.text);
        assert_eq!(a[0], "create 4", "{name}\n{}", run.text);
        assert_eq!(a.len(), 9);
        match &first {
            None => first = Some(a),
            Some(f) => assert_eq!(&a, f, "{name}"),
        }
        let end = trace::summary(&run.events).unwrap();
        assert!(end.master_clock && end.kvmclock_stable, "{name}");
        assert_eq!(end.pvclock_stable, [true; 4]);

        // linux-6.18 at the trace's moments counts as the trace did, and
        // linux-3.14 counts every matched write: 3N − 1, no stable clock.
        let (t, m) = replay(&imported, 1, KHZ, BackendId::Linux618);
        assert_eq!(agree(&t, &m), None, "{name}");
        assert!(trace::summary(&m).unwrap().kvmclock_stable);
        let (_, old) = replay(&imported, 1, KHZ, BackendId::Linux314);
        let end = trace::summary(&old).unwrap();
        assert_eq!(end.nr_matched, Some(11), "{name}");
        assert!(!end.kvmclock_stable, "{name}");
    }
}

#[test]
fn who_each_form_names() {
    let tgid = fixture("qemu-7.2-smp4-tgid.trace");
    let vm = &tgid.vms[0];
    assert_eq!((vm.tgid, vm.pid, vm.threads), (Some(16455), Some(16461), 4));
    assert_eq!(vm.task.as_deref(), Some("qemu-system-x86"));
    assert!(matches!(
        tgid.clock,
        ClockKind::Seconds {
            resolution_ns: 1000
        }
    ));
    let tc = fixture("qemu-7.2-smp4.trace-cmd");
    assert_eq!(tc.vms[0].task.as_deref(), Some("CPU 0/KVM"));
    assert_eq!(tc.vms[0].tgid, None);
    assert_eq!(
        fixture("qemu-7.2-smp4-x86-tsc.trace").clock,
        ClockKind::Counter
    );
    let bare = fixture("qemu-7.2-smp4-nocontext.trace");
    assert_eq!(bare.clock, ClockKind::Absent);
    assert_eq!((bare.vms[0].pid, bare.vms[0].span), (None, None));
    let run = tgid.run(1, KHZ).unwrap();
    assert!(
        run.text
            .starts_with("title Imported trace: VM 1 (qemu-system-x86, pid 16461, tgid 16455)\n")
    );
    assert!(run.text.contains("set tsc_khz 2_600_000\n"));
}

#[test]
fn counter_timestamps_give_values_to_the_slack() {
    let run = fixture("qemu-7.2-smp4-x86-tsc.trace").run(1, KHZ).unwrap();
    // The writes' estimates are the 3 µs between the kernel's TSC read and the stamp.
    for v in &run.values[4..] {
        let ValueRule::Taken {
            estimate,
            error_cycles,
        } = v.rule
        else {
            panic!("{v:?}")
        };
        assert!(estimate < 3_000_000_000 && error_cycles > 2_600_000_000);
    }
    assert!(run.estimate.iter().any(|s| s.contains("x86-tsc")));
}

#[test]
fn two_vms_interleaved_without_tgid() {
    let imported = fixture("two-vms-interleaved.trace_pipe");
    assert_eq!(imported.vms.len(), 2);
    let (a, b) = (&imported.vms[0], &imported.vms[1]);
    assert_eq!((a.vcpus, a.writes, a.pid), (2, 6, Some(2010)));
    assert_eq!((b.vcpus, b.writes, b.pid), (3, 9, Some(3010)));
    for id in [1, 2] {
        let (t, m) = replay(&imported, id, KHZ, BackendId::Linux618);
        assert_eq!(agree(&t, &m), None);
    }
}

#[test]
fn two_vms_without_context_are_told_apart_by_their_offsets() {
    // The interleaved file with its context columns cut off.
    let text = std::fs::read_to_string(traces().join("two-vms-interleaved.trace_pipe")).unwrap();
    let bare: String = text
        .lines()
        .map(|l| format!("{}\n", &l[l.find("kvm_").unwrap()..]))
        .collect();
    let imported = import(bare.as_bytes(), ImportLimits::DEFAULT);
    let got: Vec<(u32, u64)> = imported.vms.iter().map(|v| (v.vcpus, v.writes)).collect();
    assert_eq!(got, [(2, 6), (3, 9)]);
    let (t, m) = replay(&imported, 2, KHZ, BackendId::Linux618);
    assert_eq!(agree(&t, &m), None);
}

#[test]
fn a_truncated_file_says_where_it_stopped() {
    let imported = fixture("truncated.trace_pipe");
    let stopped = imported.stopped.as_ref().unwrap();
    assert_eq!(stopped.line, 18);
    assert!(stopped.message.contains("line 18"), "{}", stopped.message);
    assert_eq!(imported.lines, 17);
    // Line 17 is vCPU 0's third write, whose kvm_track_tsc the cut took: it
    // cannot be told a userspace write from a guest one, so it is reported
    // and not read (rather than taken for a guest write).
    let problems: Vec<(u64, ProblemKind)> =
        imported.problems.iter().map(|p| (p.line, p.kind)).collect();
    assert_eq!(problems, [(17, ProblemKind::Unpaired)]);
    let vm = &imported.vms[0];
    assert_eq!(vm.writes, 8);
    let run = imported.run(1, KHZ).unwrap();
    let (t, m) = replay(&imported, 1, KHZ, BackendId::Linux618);
    assert_eq!(agree(&t, &m), None, "{}", run.text);
}

#[test]
fn foreign_events_are_counted_and_bad_lines_reported() {
    let text = std::fs::read_to_string(traces().join("foreign-and-malformed.trace_pipe")).unwrap();
    let line_of = |s: &str| text.lines().position(|l| l.contains(s)).unwrap() as u64 + 1;
    let imported = fixture("foreign-and-malformed.trace_pipe");
    assert_eq!(imported.foreign_events, 7);
    let p: Vec<(u64, ProblemKind)> = imported.problems.iter().map(|p| (p.line, p.kind)).collect();
    assert_eq!(
        p,
        [
            (line_of("masterclock zero"), ProblemKind::Malformed),
            (line_of("not a trace line"), ProblemKind::Unreadable),
        ]
    );
    assert_eq!(
        imported.problems[0].message,
        "kvm_track_tsc: `masterclock` is not a number"
    );
    assert_eq!(
        imported.problems[0].to_string().split(':').next(),
        Some(&*format!("line {}", line_of("zero")))
    );
    assert_eq!(imported.vms[0].writes, 12);
}

#[test]
fn qemu_resets_write_1_and_start_a_generation() {
    let imported = fixture("qemu-7.2-smp4-reset.trace");
    let run = imported.run(1, KHZ).unwrap();
    assert_eq!(run.values.len(), 20);
    // Both resets write 1: the vCPUs had run (their pvclock pages were written).
    assert!(
        run.values[12..].iter().all(|v| v.value == 1),
        "{:?}",
        &run.values[12..]
    );
    let w: Vec<_> = trace::writes(&run.events).collect();
    assert_eq!(w[12].new_generation, Some(true));
    assert_eq!(w[12].nr_matched, Some(0));
    assert!(w[13..].iter().all(|w| w.matched == Some(true)));
    assert_eq!(w[19].cur_tsc_generation, Some(2));
    let (t, m) = replay(&imported, 1, KHZ, BackendId::Linux618);
    assert_eq!(agree(&t, &m), None, "{}", run.text);
    assert!(run.text.contains("wait 1"), "{}", run.text);
}

#[test]
fn limits_hold() {
    let bytes = std::fs::read(traces().join("two-vms-interleaved.trace_pipe")).unwrap();
    let one_vm = import(
        &bytes,
        ImportLimits {
            max_vms: 1,
            ..ImportLimits::DEFAULT
        },
    );
    assert_eq!(one_vm.vms.len(), 1);
    assert_eq!(one_vm.problems.len(), 1);
    assert_eq!(one_vm.problems[0].kind, ProblemKind::Limit);
    assert!(one_vm.events_not_kept > 0);
    assert_eq!(one_vm.tsc_events, 37);

    let few = import(
        &bytes,
        ImportLimits {
            max_events: 5,
            ..ImportLimits::DEFAULT
        },
    );
    let kept: u64 = few.vms.iter().map(|v| v.kept).sum();
    assert_eq!(kept, 5);
    assert_eq!(
        few.vms.iter().map(|v| v.writes).sum::<u64>(),
        15,
        "still counted"
    );
    assert_eq!(
        few.problems
            .iter()
            .filter(|p| p.kind == ProblemKind::Limit)
            .count(),
        1
    );
    let run = few.run(2, KHZ).unwrap();
    assert!(!run.complete);

    let short = import(
        &bytes,
        ImportLimits {
            max_line_bytes: 130,
            ..ImportLimits::DEFAULT
        },
    );
    assert!(
        short
            .problems
            .iter()
            .all(|p| p.kind == ProblemKind::TooLong)
    );
    assert!(!short.problems.is_empty());
    assert_eq!(short.lines, one_vm.lines);

    let two_vcpus = import(
        &bytes,
        ImportLimits {
            max_vcpus: 2,
            max_problems: 1,
            ..ImportLimits::DEFAULT
        },
    );
    assert_eq!(two_vcpus.vms[1].vcpus, 3, "online as traced");
    assert_eq!(two_vcpus.problems.len(), 1);
}

#[test]
fn lines_split_anywhere_read_the_same() {
    let bytes = std::fs::read(traces().join("qemu-7.2-smp4-reset.trace")).unwrap();
    let whole = import(&bytes, ImportLimits::DEFAULT);
    for chunk in [1, 2, 7, 64, 4096] {
        let mut i = scenarios::Importer::new(ImportLimits::DEFAULT);
        for c in bytes.chunks(chunk) {
            i.push_bytes(c);
        }
        assert_eq!(i.finish(), whole, "chunks of {chunk}");
    }
    let mut i = scenarios::Importer::new(ImportLimits::DEFAULT);
    for l in std::str::from_utf8(&bytes).unwrap().lines() {
        i.push_line(l);
    }
    assert_eq!(i.finish(), whole);
    let crlf = String::from_utf8(bytes).unwrap().replace('\n', "\r\n");
    assert_eq!(
        import(crlf.as_bytes(), ImportLimits::DEFAULT).vms,
        whole.vms
    );
}

proptest::proptest! {
    /// Any text at all: an import, never a panic, and every VM rebuilds.
    #[test]
    fn arbitrary_text_never_panics(text in "(( ?[a-zA-Z0-9_/ -]{0,12}-[0-9]{1,6} (\\( *[0-9-]{1,7}\\) )?\\[[0-9]{1,3}\\] ([.dNh1]{5} )?[0-9]{1,5}(\\.[0-9]{0,9})?: )?(kvm_write_tsc_offset: vcpu=[0-9]{1,2} prev=[0-9]{1,20} next=-?[0-9]{1,20}|kvm_track_tsc: vcpu_id [0-9] masterclock [01] offsetmatched [0-9]{1,3} nr_online [0-9]{1,3} hostclock (tsc|none|0x[0-9]{1,9})|kvm_update_master_clock: masterclock [01] hostclock tsc offsetmatched [01]|kvm_pvclock_update: vcpu_id [0-9], pvclock \\{ version [0-9], flags 0x[0-9]{1,3} \\}|CPU:[0-9] \\[LOST [0-9]{1,3} EVENTS\\]|.{0,40})\n?){0,40}") {
        let imported = import(text.as_bytes(), ImportLimits { max_events: 30, max_vcpus: 4, max_vms: 3, ..ImportLimits::DEFAULT });
        for run in imported.vms.iter().filter_map(|vm| imported.run(vm.id, KHZ)) {
            proptest::prop_assert!(scenarios::parse(&run.text).is_ok(), "{}", run.text);
            let _ = replay_model(&run.scenario, BackendId::Linux618, run.host, run.timing());
        }
    }

    /// Any bytes: never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let imported = import(&bytes, ImportLimits::DEFAULT);
        for vm in &imported.vms {
            let _ = imported.run(vm.id, 1);
        }
    }
}

/// A line of the kernel's format, on thread `tid` of process `tgid`.
fn kline(tid: u32, tgid: u32, us: u64, event: &str) -> String {
    format!(
        " qemu-system-x86-{tid:<7} ({tgid:>7}) [000] d..1. {:>5}.{:06}: {event}\n",
        us / 1_000_000,
        us % 1_000_000
    )
}

const OFF: u64 = 18_446_743_943_414_584_320;

#[test]
fn a_write_without_kvm_track_tsc_is_a_guest_write() {
    let off2 = OFF.wrapping_add(5_000);
    let text = [
        kline(
            7,
            7,
            50_000_000,
            &format!("kvm_write_tsc_offset: vcpu=0 prev=0 next={OFF}"),
        ),
        kline(
            7,
            7,
            50_000_001,
            "kvm_track_tsc: vcpu_id 0 masterclock 0 offsetmatched 0 nr_online 1 hostclock tsc",
        ),
        kline(
            7,
            7,
            50_300_000,
            &format!("kvm_write_tsc_offset: vcpu=0 prev={OFF} next={off2}"),
        ),
        kline(
            7,
            7,
            50_400_000,
            "kvm_pvclock_update: vcpu_id 0, pvclock { version 2, flags 0x1 }",
        ),
    ]
    .concat();
    let imported = import(text.as_bytes(), ImportLimits::DEFAULT);
    assert!(imported.problems.is_empty(), "{:?}", imported.problems);
    let run = imported.run(1, KHZ).unwrap();
    assert!(run.text.contains("guest-write 0 "), "{}", run.text);
    let w: Vec<_> = trace::writes(&run.events).collect();
    assert_eq!(w[1].origin, scenarios::trace::Origin::Guest);
    assert_eq!(w[1].count, Some(scenarios::trace::Count::Untouched));
    // The guest wrote its TSC as it stood 300 ms in, moved by 5,000 cycles.
    let ValueRule::Estimated {
        error_cycles: Some(e),
    } = run.values[1].rule
    else {
        panic!("{:?}", run.values[1])
    };
    let expected = 300_000 * 2_600 + 5_000;
    assert!(
        run.values[1].value.abs_diff(expected) <= e,
        "{:?}",
        run.values[1]
    );
    let (t, m) = replay(&imported, 1, KHZ, BackendId::Linux618);
    assert_eq!(agree(&t, &m), None);
}

#[test]
fn one_process_one_thread_vm_after_vm() {
    // The lab's own runner: VM after VM of 1 vCPU on one thread.
    let other = OFF.wrapping_sub(2_600_000_000);
    let text = [
        kline(
            9,
            5,
            10_000_000,
            &format!("kvm_write_tsc_offset: vcpu=0 prev=0 next={OFF}"),
        ),
        kline(
            9,
            5,
            10_000_001,
            "kvm_track_tsc: vcpu_id 0 masterclock 0 offsetmatched 0 nr_online 1 hostclock tsc",
        ),
        kline(
            9,
            5,
            10_100_000,
            &format!("kvm_write_tsc_offset: vcpu=0 prev={OFF} next={OFF}"),
        ),
        kline(
            9,
            5,
            10_100_001,
            "kvm_track_tsc: vcpu_id 0 masterclock 0 offsetmatched 0 nr_online 1 hostclock tsc",
        ),
        kline(
            9,
            5,
            11_000_000,
            &format!("kvm_write_tsc_offset: vcpu=0 prev=0 next={other}"),
        ),
        kline(
            9,
            5,
            11_000_001,
            "kvm_track_tsc: vcpu_id 0 masterclock 0 offsetmatched 0 nr_online 1 hostclock tsc",
        ),
    ]
    .concat();
    let imported = import(text.as_bytes(), ImportLimits::DEFAULT);
    let got: Vec<(u32, u64, Option<u32>)> = imported
        .vms
        .iter()
        .map(|v| (v.vcpus, v.writes, v.tgid))
        .collect();
    assert_eq!(got, [(1, 2, Some(5)), (1, 1, Some(5))]);
}

#[test]
fn a_trace_begun_part_way_reports_what_it_lacks() {
    let text = [
        "CPU:1 [LOST 12 EVENTS]\n".to_string(),
        kline(
            7,
            7,
            1_000,
            "kvm_track_tsc: vcpu_id 2 masterclock 1 offsetmatched 3 nr_online 4 hostclock tsc",
        ),
        kline(
            7,
            7,
            2_000,
            &format!("kvm_write_tsc_offset: vcpu=2 prev={OFF} next={OFF}"),
        ),
        kline(
            7,
            7,
            2_001,
            "kvm_track_tsc: vcpu_id 2 masterclock 1 offsetmatched 3 nr_online 4 hostclock tsc",
        ),
    ]
    .concat();
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend_from_slice(text.as_bytes());
    let imported = import(&bom, ImportLimits::DEFAULT);
    let p: Vec<(u64, ProblemKind)> = imported.problems.iter().map(|p| (p.line, p.kind)).collect();
    assert_eq!(p, [(1, ProblemKind::Lost), (2, ProblemKind::Unpaired)]);
    assert!(imported.problems[0].message.contains("12 events on CPU 1"));
    // The VM had 4 vCPUs before the trace began: the scenario makes them first.
    let vm = &imported.vms[0];
    assert_eq!((vm.vcpus, vm.created, vm.writes), (4, 0, 1));
    let run = imported.run(1, KHZ).unwrap();
    assert!(
        run.text.contains("create 4 # made before the trace began"),
        "{}",
        run.text
    );
    assert!(
        run.estimate.iter().any(|s| s.contains("no bound")),
        "{:?}",
        run.estimate
    );
    let w: Vec<_> = trace::writes(&run.events).collect();
    assert_eq!(w.len(), 5);
    assert_eq!((w[0].nr_matched, w[4].nr_matched), (None, Some(3)));
}

#[test]
fn a_run_stays_within_the_languages_bounds() {
    let text = [
        kline(7, 7, 1_000, &format!("kvm_write_tsc_offset: vcpu=0 prev=0 next={OFF}")),
        kline(7, 7, 1_001, "kvm_track_tsc: vcpu_id 0 masterclock 0 offsetmatched 0 nr_online 1 hostclock tsc"),
        kline(7, 7, 2_000, &format!("kvm_write_tsc_offset: vcpu=0 prev={OFF} next={OFF}")),
        kline(7, 7, 2_001, "kvm_track_tsc: vcpu_id 0 masterclock 0 offsetmatched 0 nr_online 4294967295 hostclock tsc"),
    ]
    .concat();
    let imported = import(text.as_bytes(), ImportLimits::DEFAULT);
    let run = imported.run(1, KHZ).unwrap();
    assert!(!run.complete);
    assert!(
        run.text.contains("stops before trace line 3"),
        "{}",
        run.text
    );
    scenarios::parse(&run.text).unwrap();
}

/// `cargo xtask fuzz import` found a trace whose timestamps jump by more than
/// the language's ten years of waiting: the rebuilt scenario did not parse.
/// The run now stops before such a gap, and says so.
#[test]
fn fuzz_a5446006_a_gap_past_ten_years_stops_the_run() {
    every_run_parses("import-crash-a5446006");
}

/// The fuzzer again: a VM whose first write is already past the language's
/// bounds rebuilt into a scenario with no vCPU, which does not parse. Such a
/// VM has no run (`Imported::run` is `None`).
#[test]
fn fuzz_d9d4652f_a_vm_cut_at_its_first_write_has_no_run() {
    every_run_parses("import-crash-d9d4652f");
}

/// Every VM of a fuzzer's input that has a run rebuilds into a scenario
/// that parses back to its own text.
fn every_run_parses(name: &str) {
    let input = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz")
            .join(name),
    )
    .unwrap();
    let imported = import(&input, ImportLimits::DEFAULT);
    assert!(!imported.vms.is_empty());
    for vm in &imported.vms {
        let Some(run) = imported.run(vm.id, KHZ) else {
            continue;
        };
        let again = scenarios::parse(&run.text).unwrap_or_else(|e| panic!("{e}\n{}", run.text));
        assert_eq!(again.to_string(), run.text);
    }
}
