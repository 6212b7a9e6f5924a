//! `lab-server` end to end: output contracts, snapshots, exit codes, errors.
//!
//! Snapshots live in `tests/snapshots/`; `UPDATE_SNAPSHOTS=1 cargo test -p
//! lab-server` rewrites them (review the diff before committing).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(args)
        .output()
        .expect("lab-server runs")
}

fn lab_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lab-server runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its snapshot at line {}:\n  snapshot: {:?}\n  now:      {:?}\n(UPDATE_SNAPSHOTS=1 rewrites it)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn json_lines_contract() {
    for backend in ["linux-3.14", "linux-3.17", "linux-3.17-u8", "linux-6.18"] {
        let o = lab(&["run", "qemu-2.0-boot-2", "--backend", backend, "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let events = json_lines(&o);
        let writes: Vec<&Value> = events.iter().filter(|e| e["event"] == "write").collect();
        assert_eq!(writes.len(), 6, "{backend}");
        for w in &writes {
            for field in ["vcpu", "value", "matched", "nr_matched", "online"] {
                assert!(!w[field].is_null(), "{backend}: write without {field}: {w}");
            }
        }
        assert!(events.iter().any(|e| e["event"] == "run"));
        let last = events.last().unwrap();
        assert_eq!(
            last["event"], "summary",
            "{backend}: the summary comes last"
        );
        for field in [
            "backend",
            "online",
            "nr_matched",
            "vcpus_matched",
            "master_clock",
            "kvmclock_stable",
        ] {
            assert!(!last[field].is_null(), "{backend}: summary without {field}");
        }
        assert_eq!(last["backend"], backend);
        assert_eq!(last["kvmclock_stable"], backend != "linux-3.14");
        snapshot(&format!("qemu-2.0-boot-2.{backend}.jsonl"), &stdout(&o));
    }
}

#[test]
fn compare_marks_the_first_divergence() {
    let o = lab(&["run", "qemu-2.0-boot-4", "--compare", "--no-kvm"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let marked: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("first divergence"))
        .collect();
    assert_eq!(marked.len(), 1, "{out}");
    assert!(
        marked[0].trim_start().starts_with("5 "),
        "write 5, post_init of vCPU 0: {}",
        marked[0]
    );
    assert!(
        marked[0].contains("4/4 +1!"),
        "3.14 counts vCPU 0 again: {}",
        marked[0]
    );
    assert!(out.contains("linux-3.14     nr  11/4"), "{out}");
    assert!(
        out.contains("linux-6.18     nr   3/4   master clock on  kvmclock STABLE"),
        "{out}"
    );
    snapshot("qemu-2.0-boot-4.compare.txt", &out);
}

#[test]
fn table_explains_each_write() {
    let o = lab(&["run", "qemu-2.0-boot-1", "--backend", "linux-3.14"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("counted again (the 2014 bug)"), "{out}");
    assert!(
        out.contains("kvmclock: UNSTABLE (stable bit on 0 of 1 vCPUs)"),
        "{out}"
    );
    snapshot("qemu-2.0-boot-1.linux-3.14.txt", &out);
}

#[test]
fn stdin_and_the_implicit_run() {
    let o = lab_stdin(&["run", "-", "--json"], "create 2\nwrite * 0\n");
    assert!(o.status.success(), "{}", stderr(&o));
    let events = json_lines(&o);
    let runs: Vec<&Value> = events.iter().filter(|e| e["event"] == "run").collect();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["implicit"] == true));
    assert_eq!(events.last().unwrap()["implicit_run"], true);
    let table = stdout(&lab_stdin(&["run", "-"], "create 2\nwrite * 0\n"));
    assert!(table.contains("does not end with `run *`"), "{table}");
    // A scenario that ends with run * gets no implicit one.
    let o = lab_stdin(&["run", "-", "--json"], "create 2\nrun *\n");
    assert_eq!(json_lines(&o).last().unwrap()["implicit_run"], false);
}

#[test]
fn bad_input_exits_2_with_file_line_col() {
    let o = lab_stdin(&["run", "-"], "create 4\nwrite 5 0\n");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "<stdin>:2:7: vCPU 5 does not exist here: the VM has 4 vCPUs (0–3)\n"
    );
    let dir = std::env::temp_dir().join(format!("lab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.tsc");
    std::fs::write(&file, "create 2\nrepeat 2\n  wrte * 0\n").unwrap();
    let f = file.to_str().unwrap();
    let o = lab(&["run", f]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{f}:3:3: unknown statement `wrte` (did you mean `write`?)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{f}:2:1: `repeat 2` is never closed")),
        "{err}"
    );
    let o = lab(&["run", "no-such-scenario"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no such file, and no library scenario of that name"));
    let o = lab(&["run", "qemu-2.0-boot-1", "--backend", "linux-2.6"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown backend `linux-2.6`"));
    // A kernel without the ioctl: the line that asked for it.
    let o = lab(&["run", "tsc-offset-attr", "--backend", "linux-3.17"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "library/tsc-offset-attr.tsc:17:1: linux-3.17: KVM_VCPU_TSC_OFFSET does not exist"
        ),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_passes_the_library_and_fails_a_wrong_expectation() {
    let lib = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/library");
    let files: Vec<String> = std::fs::read_dir(lib)
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let o = lab(&args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.trim_end().ends_with("0 failed, 0 skipped"), "{out}");
    let o = lab_stdin(
        &["check", "-"],
        "create 2\nwrite * 0\nexpect linux-3.14: nr_matched = 1\nexpect linux-3.17: nr_matched = 1\nexpect kvm: nr_matched = 1\n",
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("<stdin>:3: FAILED  [linux-3.14] expect linux-3.14: nr_matched = 1 — nr_matched = 1, but it is 3"), "{out}");
    assert!(out.contains("<stdin>:4: ok      [linux-3.17]"), "{out}");
    assert!(out.contains("skipped [kvm]"), "{out}");
    assert!(
        out.trim_end().ends_with("1 passed, 1 failed, 1 skipped"),
        "{out}"
    );
    let o = lab_stdin(
        &["check", "-", "--json"],
        "create 1\nexpect *: online = 1\n",
    );
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 4);
    assert!(
        lines
            .iter()
            .all(|l| l["passed"] == true && l["file"] == "<stdin>")
    );
}

#[test]
fn list_show_and_fmt() {
    let out = stdout(&lab(&["list"]));
    assert!(
        out.lines().any(
            |l| l.starts_with("qemu-2.0-boot-4") && l.contains("QEMU 2.0 boots a 4-vCPU guest")
        )
    );
    let json = json_lines(&lab(&["list", "--json"]));
    assert!(json.len() >= 15);
    assert!(
        json.iter()
            .all(|e| e["title"].is_string() && e["story"].is_string() && e["text"].is_string())
    );
    let shown = stdout(&lab(&["show", "u8-generation-wrap"]));
    assert!(shown.starts_with("title The u8 generation wrap"));
    let dir = std::env::temp_dir().join(format!("lab-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("messy.tsc");
    std::fs::write(
        &file,
        "create   2\nrepeat 2\nwrite *   5000000000000 # sync\nend\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(lab(&["fmt", "--check", f]).status.code(), Some(1));
    assert!(lab(&["fmt", f]).status.success());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "create 2\nrepeat 2\n  write * 5_000_000_000_000 # sync\nend\n"
    );
    assert!(lab(&["fmt", "--check", f]).status.success());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn closed_stdout_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(["run", "u8-generation-wrap", "--backend", "linux-3.17"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}
