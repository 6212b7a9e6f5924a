//! `lab-server trace` on real QEMU (Debian's `qemu-system-x86`, which
//! `cargo xtask test` installs as root). QEMU 7.2 with `-enable-kvm` and no
//! disk runs SeaBIOS, and its boot writes every vCPU's TSC three times: at
//! KVM_CREATE_VCPU (the kernel's own write of 0), then at `post_init` and
//! `post_reset` (`kvm_put_msrs` with TSC = 0). Today's kernel keeps
//! nr_vcpus_matched_tsc at N−1 and turns the master clock on; Linux 3.14,
//! counting every matched write, would end at 3N−1 and never stable. A QMP
//! `system_reset` writes 1 to every vCPU (QEMU 5286c3662294).
//!
//! Each QEMU is bounded by `--duration` (and the test's own deadline), and no
//! QEMU process outlives its test. Without QEMU, /dev/kvm or tracing the tests
//! say why and are skipped — except under CI=true, where they must run.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::bounded;

const QEMU: &str = "qemu-system-x86_64";

/// The tests take turns: each counts the QEMU processes it leaves.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether QEMU, KVM and tracing are here; under CI=true they must be.
fn can_trace() -> bool {
    let r = lab_server::kvm::host::report();
    let qemu = Command::new(QEMU)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let problem = if !qemu {
        Some(format!("no {QEMU} (apt-get install qemu-system-x86)"))
    } else {
        r.kvm_problem.or(r.tracing_problem)
    };
    match problem {
        None => true,
        Some(p) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true: the QEMU tests must run, but: {p}")
        }
        Some(p) => {
            eprintln!("skipped: {p}");
            false
        }
    }
}

/// QEMU processes running now (their pids).
fn qemus() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim().starts_with("qemu-system"))
        })
        .collect()
}

/// `lab-server trace ARGS -- QEMU …`, bounded; its output.
fn trace(args: &[&str], qemu: &[&str], limit: Duration) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .arg("trace")
        .args(args)
        .arg("--")
        .arg(QEMU)
        .args(qemu)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lab-server starts");
    bounded(child, limit)
}

fn boot(n: u32) -> Vec<String> {
    [
        "-enable-kvm",
        "-smp",
        &n.to_string(),
        "-m",
        "64",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "none",
    ]
    .map(str::to_string)
    .to_vec()
}

/// The JSON Lines of a run: every event, by backend.
fn events(o: &Output) -> Vec<Value> {
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "lab-server trace failed ({}): {}\n{text}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn of<'a>(events: &'a [Value], backend: &str, kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["backend"] == backend && e["event"] == kind)
        .collect()
}

#[test]
fn qemu_7_2_boot_writes_every_tsc_three_times_and_stays_n_minus_1() {
    if !can_trace() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let before = qemus();
    for n in [1u32, 2, 4] {
        let args = boot(n);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = trace(
            &["--duration", "1.5", "--json", "--compare"],
            &args,
            Duration::from_secs(30),
        );
        let ev = events(&o);
        let writes = of(&ev, "trace", "write");
        assert_eq!(writes.len() as u32, 3 * n, "-smp {n}: 3N writes");
        let end = of(&ev, "trace", "summary");
        let end = end.last().expect("a trace summary");
        assert_eq!(end["nr_matched"], n - 1, "-smp {n}: {end}");
        assert_eq!(end["master_clock"], true, "-smp {n}: {end}");
        // What Linux 3.14 would have done with these very writes.
        let old = of(&ev, "linux-3.14", "summary");
        let old = old.last().expect("a linux-3.14 summary");
        assert_eq!(old["nr_matched"], 3 * n - 1, "-smp {n}: {old}");
        assert_eq!(old["kvmclock_stable"], false, "-smp {n}: {old}");
        // And today's model agrees with the traced kernel write by write.
        let today = of(&ev, "linux-6.18", "write");
        assert_eq!(today.len(), writes.len());
        for (t, m) in writes.iter().zip(&today) {
            assert_eq!(t["nr_matched"], m["nr_matched"], "-smp {n}: {t} vs {m}");
        }
    }
    let left: Vec<u32> = qemus()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(left.is_empty(), "QEMU processes left behind: {left:?}");
}

#[test]
fn a_qmp_system_reset_writes_1_to_every_vcpu() {
    if !can_trace() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let before = qemus();
    let socket = std::env::temp_dir().join(format!("lab-qmp-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let qmp = format!("unix:{},server=on,wait=off", socket.display());
    let mut args = boot(4);
    args.extend(["-qmp".to_string(), qmp]);
    let args: Vec<String> = args;
    let socket2 = socket.clone();
    // 1.2 s after start, over QMP: capabilities, then system_reset.
    let resetter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        let s = std::os::unix::net::UnixStream::connect(&socket2).expect("QMP socket");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let mut line = String::new();
        r.read_line(&mut line).unwrap(); // the greeting
        for cmd in [
            r#"{"execute":"qmp_capabilities"}"#,
            r#"{"execute":"system_reset"}"#,
        ] {
            writeln!(w, "{cmd}").unwrap();
            // Asynchronous events (`RESET`) may come before the answer.
            loop {
                line.clear();
                assert!(r.read_line(&mut line).unwrap() > 0, "QMP closed");
                if line.contains("\"return\"") {
                    break;
                }
                assert!(!line.contains("\"error\""), "QMP said {line}");
            }
        }
    });
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = trace(
        &["--duration", "3", "--json"],
        &argv,
        Duration::from_secs(30),
    );
    resetter.join().expect("the reset was sent");
    let _ = std::fs::remove_file(&socket);
    let ev = events(&o);
    let writes = of(&ev, "trace", "write");
    assert!(
        writes.len() > 12,
        "boot writes and reset writes: {}",
        writes.len()
    );
    // After the boot's 12 writes, every write of the reset writes 1.
    let reset: Vec<&&Value> = writes.iter().skip(12).collect();
    assert!(reset.len() >= 4, "{reset:?}");
    assert!(
        reset.iter().all(|w| w["value"] == "1" || w["value"] == 1),
        "the reset writes 1: {reset:?}"
    );
    // Today's kernel: one new generation, then N−1 again.
    let end = of(&ev, "trace", "summary");
    assert_eq!(end.last().unwrap()["nr_matched"], 3);
    let left: Vec<u32> = qemus()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(left.is_empty(), "QEMU processes left behind: {left:?}");
}

/// `--out` writes the trace as the kernel's text; `import` reads it back to
/// the same kernel view, write by write.
#[test]
fn a_trace_written_with_out_imports_to_the_same_run() {
    if !can_trace() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let file = std::env::temp_dir().join(format!("lab-trace-{}.trace", std::process::id()));
    let out = file.to_str().unwrap().to_string();
    let args = boot(2);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let traced = events(&trace(
        &["--duration", "1.5", "--json", "--out", &out],
        &args,
        Duration::from_secs(30),
    ));
    let imported = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(["import", &out, "--json"])
        .output()
        .expect("lab-server import runs");
    let _ = std::fs::remove_file(&file);
    let imported = events(&imported);
    let nr = |ev: &[Value]| -> Vec<Value> {
        of(ev, "trace", "write")
            .iter()
            .map(|w| w["nr_matched"].clone())
            .collect()
    };
    assert_eq!(nr(&traced).len(), 6);
    assert_eq!(nr(&traced), nr(&imported));
}
