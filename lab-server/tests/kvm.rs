//! Real KVM. Each test needs a usable /dev/kvm and tracefs; without them it
//! says why and is skipped — except under CI=true, where they must run.

use std::process::Command;

use lab_server::kvm::{self, KvmBackend, LIMITS, host};
use scenarios::trace::HostReport;
use scenarios::{Event, parse};

/// The host report, or `None` (with the reason printed) when KVM tests
/// cannot run here. Under CI=true a missing KVM or tracefs is a failure.
fn kvm_host() -> Option<HostReport> {
    let r = host::report();
    let problem = match (&r.kvm_problem, &r.tracing_problem) {
        (Some(p), _) => Some(format!("no usable KVM: {p}")),
        (None, Some(p)) => Some(format!("no KVM tracepoints: {p}")),
        (None, None) => None,
    };
    match problem {
        None => Some(r),
        Some(p) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true: the KVM tests must run, but there is {p}")
        }
        Some(p) => {
            eprintln!("skipped: {p}");
            None
        }
    }
}

fn run(host: &HostReport, text: &str) -> Vec<Event> {
    let s = parse(text).unwrap();
    let mut b = KvmBackend::new(host.clone(), LIMITS).unwrap();
    scenarios::execute_collect(&s, &mut b)
        .into_result()
        .unwrap()
}

fn writes(events: &[Event]) -> Vec<&scenarios::WriteEvent> {
    scenarios::trace::writes(events).collect()
}

fn summary(events: &[Event]) -> &scenarios::Summary {
    scenarios::trace::summary(events).expect("a summary")
}

/// QEMU 2.0's boot on today's kernel: the tracepoints count N−1 after every
/// phase, and after a run KVM_GET_CLOCK reports KVM_CLOCK_TSC_STABLE and every
/// pvclock page has the stable bit.
#[test]
fn qemu_2_0_boot_keeps_n_minus_1_and_a_stable_clock() {
    let Some(host) = kvm_host() else { return };
    for n in [1u32, 3, 8] {
        let events = run(&host, &format!("create {n}\nwrite * 0\nwrite * 0\nrun *\n"));
        let w = writes(&events);
        assert_eq!(w.len(), 3 * n as usize);
        for (i, ev) in w.iter().enumerate() {
            let expected = if i < n as usize { i as u32 } else { n - 1 };
            assert_eq!(ev.nr_matched, Some(expected), "N={n} write {}", i + 1);
            assert!(
                ev.offset.is_some(),
                "the kernel's computed offset is traced"
            );
        }
        let end = summary(&events);
        assert!(end.master_clock, "N={n}: KVM_CLOCK_TSC_STABLE");
        assert!(end.kvmclock_stable, "N={n}: {:?}", end.pvclock_stable);
        assert_eq!(end.nr_matched, Some(n - 1));
        assert!(
            end.host.as_ref().is_some_and(|h| h.kvm_usable),
            "the host report rides along"
        );
    }
}

/// A write far from the others starts a generation of one: the counter
/// drops to 0, the master clock goes off, no stable bit is left.
#[test]
fn a_skewed_write_breaks_the_clock() {
    let Some(host) = kvm_host() else { return };
    let events = run(
        &host,
        "create 4\nwrite * 0\nrun *\nwrite 2 now+10s\nrun *\nrun *\n",
    );
    let w = writes(&events);
    let skew = w.last().unwrap();
    assert_eq!(
        (skew.nr_matched, skew.new_generation),
        (Some(0), Some(true))
    );
    let end = summary(&events);
    assert!(!end.master_clock);
    assert!(
        end.pvclock_stable.iter().all(|&b| !b),
        "{:?}",
        end.pvclock_stable
    );
}

/// The pvclock pages refresh lazily: only the vCPU holding the request turns
/// the master clock off; vCPUs that ran before it keep a stale stable bit.
#[test]
fn pvclock_pages_are_stale_until_their_vcpu_runs() {
    let Some(host) = kvm_host() else { return };
    let events = run(
        &host,
        "create 4\nwrite * 0\nrun *\nwrite 2 now+10s\nrun *\n",
    );
    assert_eq!(summary(&events).pvclock_stable, [true, true, false, false]);
}

/// Without tracefs the run goes on: stability is still seen, counters are not.
#[test]
fn without_tracefs_the_counters_are_unavailable() {
    let Some(_) = kvm_host() else { return };
    let o = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(["run", "qemu-2.0-boot-2", "--backend", "kvm", "--json"])
        .env("LAB_TRACEFS", "/nonexistent")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let write = lines.iter().find(|l| l["event"] == "write").unwrap();
    assert!(
        write["nr_matched"].is_null() && write["matched"].is_null(),
        "{write}"
    );
    assert_eq!(write["online"], 1);
    let end = lines.last().unwrap();
    assert_eq!(end["kvmclock_stable"], true);
    assert!(
        end["host"]["notes"]
            .to_string()
            .contains("tracepoints cannot be read")
    );
}

/// No /dev/kvm: exit 3 (KVM unavailable) and a sentence that says what to do.
#[test]
fn without_kvm_the_cli_says_so() {
    let o = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(["run", "qemu-2.0-boot-1", "--backend", "kvm"])
        .env("LAB_KVM_DEVICE", "/nonexistent/kvm")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("/nonexistent/kvm does not exist: this machine has no KVM"),
        "{err}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(["host", "--json"])
        .env("LAB_KVM_DEVICE", "/nonexistent/kvm")
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["kvm_usable"], false);
}

/// Bounds for untrusted scenarios are checked before anything runs.
#[test]
fn bounds_are_enforced() {
    let l = LIMITS;
    let too_many = parse("create 65\n").unwrap();
    assert!(
        kvm::admit(&l, &too_many)
            .unwrap_err()
            .contains("at most 64 vCPUs")
    );
    let too_long = parse("create 1\nwait 11s\n").unwrap();
    assert!(
        kvm::admit(&l, &too_long)
            .unwrap_err()
            .contains("at most 10 s")
    );
    let too_big = parse("create 1\nrepeat 30000\n  write 0 0\nend\n").unwrap();
    assert!(kvm::admit(&l, &too_big).unwrap_err().contains("steps"));
}

/// The host report tells the truth about this host.
#[test]
fn host_report_is_measured() {
    let Some(h) = kvm_host() else { return };
    assert!(h.tsc_khz.unwrap_or(0) > 100_000);
    assert!(h.max_vcpus.unwrap_or(0) >= 64);
    if h.flavour == "kvm-pvm" {
        assert_eq!(h.offsets_honoured, Some(false), "kvm-pvm drops offsets");
        assert!(h.notes.iter().any(|n| n.contains("not applied")));
    }
}

/// `lab-server conform`: the library and 200 seeded random scenarios agree
/// with the linux-6.18 model, write by write.
#[test]
fn conform_library_and_200_random() {
    let Some(_) = kvm_host() else { return };
    let o = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(["conform", "--count", "200", "--seed", "2026"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    println!("{out}");
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("(100.0%)") && out.contains(" 0 diverged, 0 failed"),
        "{out}"
    );
}
