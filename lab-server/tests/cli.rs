//! `lab-server` end to end: output contracts, snapshots, exit codes, errors.
//!
//! Snapshots live in `tests/snapshots/`; `UPDATE_SNAPSHOTS=1 cargo test -p
//! lab-server` rewrites them (review the diff before committing).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;

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

// ------------------------------------------------------------ CLI conventions

/// `lab-server ARGS` with `env` set (and the colour variables of the
/// machine running the tests removed, so only the test's own count).
fn lab_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lab-server"));
    c.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("lab-server runs")
}

fn has_escape(bytes: &[u8]) -> bool {
    bytes.contains(&0x1b)
}

/// The text without its SGR sequences (`ESC [ … m`), as a terminal shows it.
fn strip_sgr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('m').expect("an SGR sequence ends with m");
        assert!(
            after[..end]
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b';'),
            "only colour sequences: {:?}",
            &after[..=end]
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lab-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `lab-server ARGS` under a pseudo-terminal (util-linux `script`), stdout
/// sent to `stdout_file` when given, in `env`: what the terminal showed (the
/// `script` transcript) and the exit status. Bounded in time; `None` (the
/// test says why and is skipped) where `script` is missing, except under
/// CI=true.
fn on_terminal(
    args: &[&str],
    stdout_file: Option<&std::path::Path>,
    env: &[(&str, &str)],
) -> Option<(String, std::process::ExitStatus)> {
    on_terminal_under(&[], args, stdout_file, env)
}

/// [`on_terminal`], with lab-server run under the command `under` (for
/// example `timeout -s INT 8`) inside the terminal.
fn on_terminal_under(
    under: &[&str],
    args: &[&str],
    stdout_file: Option<&std::path::Path>,
    env: &[(&str, &str)],
) -> Option<(String, std::process::ExitStatus)> {
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        assert!(
            !ci(),
            "CI=true: util-linux `script` is needed for the terminal tests"
        );
        eprintln!("skipped: no util-linux `script` to give lab-server a terminal");
        return None;
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line: String = under.iter().map(|w| quote(w) + " ").collect();
    line.push_str(&quote(env!("CARGO_BIN_EXE_lab-server")));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    if let Some(f) = stdout_file {
        line.push_str(" > ");
        line.push_str(&quote(f.to_str().unwrap()));
    }
    let mut c = Command::new("script");
    // -q: no banner; -e: its exit status is the command's; -f: flush as it goes.
    c.args(["-q", "-e", "-f", "-c", &line, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        // A terminal that colours: anstream asks TERM.
        .env("TERM", "xterm-256color");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = common::bounded(
        c.spawn().expect("script runs"),
        std::time::Duration::from_secs(60),
    );
    Some((String::from_utf8_lossy(&o.stdout).into_owned(), o.status))
}

/// A trace of a 2-vCPU QEMU boot followed by `lines` foreign events: a
/// few MiB, read in many chunks.
fn big_trace(dir: &std::path::Path, lines: usize) -> PathBuf {
    let base = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/tests/traces/captured-qemu-7.2-boot-2-foreign.trace"
    );
    let mut text = std::fs::read_to_string(base).unwrap();
    for i in 0..lines {
        text.push_str(&format!(
            "          <idle>-0       [001] d..2.  {:.6}: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=kworker next_pid={i}\n",
            3400.0 + i as f64 * 0.0001
        ));
    }
    let path = dir.join("big.trace");
    std::fs::write(&path, text).unwrap();
    path
}

/// Issue 13, CLI conventions: piped stderr gets no progress and no escape
/// sequence, from the longest command there is. `conform` needs real KVM;
/// without /dev/kvm it is skipped, saying so, except under CI=true.
#[test]
fn conform_prints_no_progress_to_a_piped_stderr() {
    if !std::path::Path::new("/dev/kvm").exists() {
        assert!(!ci(), "CI=true: conform needs /dev/kvm");
        eprintln!("skipped: no /dev/kvm, and conform needs real KVM");
        return;
    }
    let child = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(["conform", "--count", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = common::bounded(child, std::time::Duration::from_secs(600));
    if o.status.code() == Some(3) && !ci() {
        eprintln!("skipped: this machine's KVM is not usable: {}", stderr(&o));
        return;
    }
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("agreement:"), "{}", stdout(&o));
    assert!(!has_escape(&o.stderr), "{:?}", stderr(&o));
    assert!(!has_escape(&o.stdout), "{:?}", stdout(&o));
    assert!(!stderr(&o).contains("conform ["), "{}", stderr(&o));
}

/// The same for `import` of a file read in many chunks, and on a terminal
/// the progress shows (`import [====>   ] 1.20 MiB/3.00 MiB read`) — on
/// stderr only: stdout is byte for byte what a pipe gets. `--quiet` hides it.
#[test]
fn import_shows_progress_on_a_terminal_only() {
    let dir = scratch("progress");
    let trace = big_trace(&dir, 20_000);
    let t = trace.to_str().unwrap();
    let piped = lab_env(&["import", t, "--list"], &[]);
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert!(
        stdout(&piped).contains("qemu-system-x86"),
        "{}",
        stdout(&piped)
    );
    assert!(!has_escape(&piped.stderr), "{:?}", stderr(&piped));
    assert!(!stderr(&piped).contains("MiB"), "{}", stderr(&piped));

    let out_file = dir.join("stdout");
    let Some((screen, status)) = on_terminal(&["import", t, "--list"], Some(&out_file), &[]) else {
        return;
    };
    assert!(status.success(), "{screen}");
    assert!(
        screen.contains("import ["),
        "no progress on the terminal: {screen:?}"
    );
    assert!(screen.contains("MiB read"), "{screen:?}");
    assert_eq!(
        std::fs::read(&out_file).unwrap(),
        piped.stdout,
        "stdout differs with progress on"
    );

    let (quiet, status) =
        on_terminal(&["-q", "import", t, "--list"], Some(&out_file), &[]).unwrap();
    assert!(status.success(), "{quiet}");
    assert!(!quiet.contains("import ["), "--quiet: {quiet:?}");
    assert_eq!(std::fs::read(&out_file).unwrap(), piped.stdout);
    std::fs::remove_dir_all(&dir).ok();
}

/// `--color auto` piped is plain (the snapshots above hold it byte for
/// byte); `--color always` piped colours the verdicts, the 2014 bug's marks,
/// the first divergence and an error's `file:line:col:` — and without the
/// colours it is the plain text exactly; NO_COLOR does not beat `always`;
/// clap's help follows `--color`.
#[test]
fn color_always_colours_a_pipe_and_beats_no_color() {
    let compare = ["run", "qemu-2.0-boot-4", "--compare", "--no-kvm"];
    let plain = lab_env(&compare, &[]);
    assert!(!has_escape(&plain.stdout));
    let plain = stdout(&plain);
    for env in [&[][..], &[("NO_COLOR", "1")][..]] {
        let mut args = compare.to_vec();
        args.extend(["--color", "always"]);
        let o = lab_env(&args, env);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("\x1b["), "{env:?}: no colour: {out}");
        assert_eq!(
            strip_sgr(&out),
            plain,
            "{env:?}: the text under the colours"
        );
        let painted = |text: &str| {
            out.lines()
                .any(|l| l.contains(&format!("m{text}\x1b[0m")) || l.contains(&format!("m{text} ")))
        };
        assert!(painted("+1!"), "{out}");
        assert!(painted("◀ first divergence"), "{out}");
        assert!(painted("STABLE"), "{out}");
        assert!(painted("UNSTABLE"), "{out}");
    }
    let o = lab_env(
        &[
            "run",
            "qemu-2.0-boot-1",
            "--backend",
            "linux-3.14",
            "--color",
            "always",
        ],
        &[],
    );
    let out = stdout(&o);
    assert!(
        out.contains("→ \x1b[1m\x1b[31mcounted again (the 2014 bug)\x1b[0m"),
        "{out}"
    );
    assert_eq!(
        strip_sgr(&out),
        stdout(&lab_env(
            &["run", "qemu-2.0-boot-1", "--backend", "linux-3.14"],
            &[]
        ))
    );
    // Errors: the location painted, the message as it was.
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(["run", "-", "--color", "always"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"create 4\nwrite 5 0\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with("\x1b[1m<stdin>:2:7:\x1b[0m vCPU 5"),
        "{err:?}"
    );
    assert_eq!(
        strip_sgr(&err),
        "<stdin>:2:7: vCPU 5 does not exist here: the VM has 4 vCPUs (0–3)\n"
    );
    let o = lab_env(&["run", "-", "--color", "never"], &[]);
    assert!(!has_escape(&o.stderr));
    // clap's own help and errors.
    let help = lab_env(&["--color", "always", "--help"], &[("NO_COLOR", "1")]);
    assert!(has_escape(&help.stdout));
    assert_eq!(
        strip_sgr(&stdout(&help)),
        stdout(&lab_env(&["--help"], &[]))
    );
    assert!(!has_escape(&lab_env(&["--help"], &[]).stdout));
    assert!(!has_escape(
        &lab_env(&["--color", "never", "--help"], &[]).stdout
    ));
    let usage = lab_env(&["run", "--color=always"], &[]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(has_escape(&usage.stderr), "{}", stderr(&usage));
    // After `--` it is the VMM's argument, not ours.
    let o = lab_env(
        &["trace", "--", "echo", "--color=always"],
        &[("LAB_TRACEFS", "/nonexistent/tracefs")],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(!has_escape(&o.stderr), "{:?}", stderr(&o));
}

/// On a terminal, auto colours — unless NO_COLOR is set to something;
/// `--color always` colours even then, `never` never.
#[test]
fn color_auto_on_a_terminal_honours_no_color() {
    let run = ["run", "qemu-2.0-boot-1", "--backend", "linux-3.14"];
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: [(&[&str], Env, bool); 5] = [
        (&[], &[], true),
        (&[], &[("NO_COLOR", "1")], false),
        (&[], &[("NO_COLOR", "")], true),
        (&["--color", "always"], &[("NO_COLOR", "1")], true),
        (&["--color", "never"], &[], false),
    ];
    for (flags, env, coloured) in cases {
        let mut args = run.to_vec();
        args.extend(flags);
        let Some((screen, status)) = on_terminal(&args, None, env) else {
            return;
        };
        assert!(status.success(), "{screen}");
        assert!(screen.contains("UNSTABLE"), "{screen}");
        assert_eq!(
            screen.contains("\x1b[1m\x1b[31mUNSTABLE\x1b[0m"),
            coloured,
            "{flags:?} {env:?}: {screen:?}"
        );
    }
}

/// Exit status: 0 success, 1 an expectation failed, 2 bad input, 3 KVM or
/// tracing unavailable — each from the real binary.
#[test]
fn exit_status_0_1_2_3() {
    let code = |o: &Output| o.status.code();
    assert_eq!(code(&lab(&["list"])), Some(0));
    assert_eq!(
        code(&lab_stdin(
            &["check", "-"],
            "create 1\nexpect linux-6.18: online = 2\n"
        )),
        Some(1)
    );
    assert_eq!(code(&lab_stdin(&["run", "-"], "create 0\n")), Some(2));
    assert_eq!(code(&lab(&["run", "no-such-scenario"])), Some(2));
    assert_eq!(code(&lab(&["no-such-command"])), Some(2), "a usage error");
    assert_eq!(code(&lab(&["--color", "sometimes", "list"])), Some(2));
    let no_kvm = [("LAB_KVM_DEVICE", "/nonexistent/kvm")];
    let o = lab_env(&["run", "qemu-2.0-boot-1", "--backend", "kvm"], &no_kvm);
    assert_eq!(code(&o), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/nonexistent/kvm does not exist"),
        "{}",
        stderr(&o)
    );
    // --compare without KVM still runs the models: a note, not a failure.
    let o = lab_env(&["run", "qemu-2.0-boot-1", "--compare"], &no_kvm);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("kvm: not run"), "{}", stdout(&o));
    let o = lab_env(&["conform", "--count", "1"], &no_kvm);
    assert_eq!(code(&o), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("conform needs real KVM"),
        "{}",
        stderr(&o)
    );
    let o = lab_env(&["bench", "--reps", "3"], &no_kvm);
    assert_eq!(code(&o), Some(3), "{}", stderr(&o));
    let o = lab_env(
        &["trace", "--", "true"],
        &[("LAB_TRACEFS", "/nonexistent/tracefs")],
    );
    assert_eq!(code(&o), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no tracefs at /nonexistent/tracefs"),
        "{}",
        stderr(&o)
    );
    // The codes are in the top-level help.
    let help = stdout(&lab(&["--help"]));
    for line in [
        "  0  success",
        "  1  an expectation failed",
        "  2  bad input",
        "  3  real KVM",
    ] {
        assert!(help.contains(line), "{line}: {help}");
    }
}

/// The commands `--help` lists (`help` aside), from its `Commands:` section.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// `--help` of the command and of every subcommand (and theirs), as
/// snapshots: a changed flag or sentence shows in review.
#[test]
fn help_snapshots() {
    let top = lab(&["--help"]);
    assert!(top.status.success());
    snapshot("help/lab-server.txt", &stdout(&top));
    let mut pending: Vec<Vec<String>> = subcommands(&stdout(&top))
        .into_iter()
        .map(|c| vec![c])
        .collect();
    assert!(pending.len() >= 13, "{pending:?}");
    assert!(
        !pending.iter().any(|p| p[0] == "generate"),
        "generate is hidden"
    );
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let o = lab(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let help = stdout(&o);
        snapshot(&format!("help/lab-server-{}.txt", path.join("-")), &help);
        seen += 1;
        for sub in subcommands(&help) {
            let mut p = path.clone();
            p.push(sub);
            pending.push(p);
        }
    }
    assert!(seen >= 15, "notebook export and import included: {seen}");
}

/// The bash completion and the man page, made from the clap tree, as
/// snapshots; `generate man --dir` writes the same top page and one per
/// subcommand; every shell's completion is made.
#[test]
fn completion_and_man_page_snapshots() {
    let bash = lab(&["generate", "bash"]);
    assert!(bash.status.success(), "{}", stderr(&bash));
    let bash = stdout(&bash);
    assert!(bash.contains("complete -F _lab-server") || bash.contains("complete -F _lab__server"));
    snapshot("completions/lab-server.bash", &bash);
    let man = lab(&["generate", "man"]);
    assert!(man.status.success(), "{}", stderr(&man));
    let man = stdout(&man);
    assert!(man.contains(".TH lab-server 1"), "{man}");
    assert!(man.contains("Exit status:"), "the codes are in the page");
    snapshot("man/lab-server.1", &man);
    let dir = scratch("generate");
    let o = lab(&[
        "generate",
        "man",
        "--dir",
        dir.join("man").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(dir.join("man/lab-server.1")).unwrap(),
        man
    );
    for page in [
        "lab-server-run.1",
        "lab-server-conform.1",
        "lab-server-notebook-export.1",
    ] {
        assert!(
            dir.join("man").join(page).exists(),
            "{page}: {}",
            stdout(&o)
        );
    }
    assert!(!dir.join("man/lab-server-generate.1").exists());
    let completions = dir.join("completions");
    for (shell, file) in [
        ("bash", "lab-server.bash"),
        ("zsh", "_lab-server"),
        ("fish", "lab-server.fish"),
        ("elvish", "lab-server.elv"),
        ("powershell", "_lab-server.ps1"),
    ] {
        let o = lab(&["generate", shell, "--dir", completions.to_str().unwrap()]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let text = std::fs::read_to_string(completions.join(file)).unwrap();
        assert!(text.contains("notebook"), "{shell}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `notebook export NAME --ipynb`: a library scenario as a Jupyter notebook,
/// valid nbformat 4.5, its scenario cell's outputs computed here: the
/// verdicts (text/html, text/plain) and three charts (image/svg+xml); the
/// kvm column left out, in one line.
#[test]
fn notebook_export_of_a_library_notebook_is_ipynb() {
    let o = lab(&[
        "notebook",
        "export",
        "qemu-2.0-boot-2",
        "--ipynb",
        "-o",
        "-",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("an .ipynb is JSON");
    assert_eq!(v["nbformat"], 4);
    assert_eq!(v["nbformat_minor"], 5);
    assert_eq!(v["metadata"]["language_info"]["name"], "tsc-scenario");
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells[0]["cell_type"], "markdown");
    let code = cells.iter().find(|c| c["cell_type"] == "code").unwrap();
    let outputs = code["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 4, "the verdicts and three charts");
    assert!(outputs.iter().all(|o| o["output_type"] == "display_data"));
    let verdicts = &outputs[0]["data"];
    let html = verdicts["text/html"].as_str().unwrap();
    let plain = verdicts["text/plain"].as_str().unwrap();
    assert!(
        html.contains("<table>") && html.contains("<strong>UNSTABLE</strong>"),
        "{html}"
    );
    assert!(plain.contains("linux-3.14     UNSTABLE"), "{plain}");
    assert!(plain.contains("First divergence at write 3"), "{plain}");
    assert!(
        plain.ends_with(
            "kvm: not run in this export (real KVM and imported traces run in TSC Lab itself)\n"
        ),
        "{plain}"
    );
    assert_eq!(plain.matches("not run in this export").count(), 1);
    for chart in &outputs[1..] {
        let svg = chart["data"]["image/svg+xml"].as_str().unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("xmlns"), "{svg}");
        assert!(chart["data"]["text/plain"].is_string());
    }
    // To a file: the default name, and a line on stdout saying so.
    let dir = scratch("nb-export");
    let o = Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(["notebook", "export", "qemu-2.0-boot-2", "--ipynb"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "qemu-2.0-boot-2 → qemu-2.0-boot-2.ipynb: 2 cells, 1 scenario cell run on linux-3.14, linux-3.17, linux-3.17-u8, linux-6.18\nkvm: not run in this export (real KVM and imported traces run in TSC Lab itself)\n"
    );
    let written = std::fs::read(dir.join("qemu-2.0-boot-2.ipynb")).unwrap();
    let first = lab(&[
        "notebook",
        "export",
        "qemu-2.0-boot-2",
        "--ipynb",
        "-o",
        "-",
    ]);
    assert_eq!(written, first.stdout);
    std::fs::remove_dir_all(&dir).ok();
}

/// `notebook import` reads the export back into the notebook file, and
/// exporting that gives the same .ipynb byte for byte.
#[test]
fn notebook_import_round_trips() {
    let dir = scratch("nb-round-trip");
    let ipynb = dir.join("wrap.ipynb");
    let i = ipynb.to_str().unwrap();
    let o = lab(&[
        "notebook",
        "export",
        "u8-generation-wrap",
        "--ipynb",
        "-o",
        i,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = lab(&["notebook", "import", i]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json = dir.join("wrap.json");
    assert!(
        stdout(&o).ends_with("wrap.json: 2 cells\n"),
        "{}",
        stdout(&o)
    );
    let nb: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(nb["format"], 1);
    assert_eq!(nb["cells"][1]["type"], "scenario");
    assert_eq!(
        nb["cells"][1]["text"],
        stdout(&lab(&["show", "u8-generation-wrap"])).as_str()
    );
    let again = lab(&[
        "notebook",
        "export",
        json.to_str().unwrap(),
        "--ipynb",
        "-o",
        "-",
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(again.stdout, std::fs::read(&ipynb).unwrap());
    let stdin = lab_stdin(
        &["notebook", "import", "-"],
        &std::fs::read_to_string(&ipynb).unwrap(),
    );
    assert_eq!(
        stdin.stdout,
        std::fs::read(&json).unwrap(),
        "- reads stdin, writes stdout"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A notebook file that is not JSON exits 2 saying where and why; a cell
/// that does not parse exports with its error as its output, and the rest
/// of the notebook with it.
#[test]
fn notebook_bad_input() {
    let dir = scratch("nb-bad");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"format\": 1,\n  \"title\": }\n").unwrap();
    let b = bad.to_str().unwrap();
    let o = lab(&["notebook", "export", b, "--ipynb"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with(&format!(
            "{b}: not a TSC Lab notebook at line 2 column 12: "
        )),
        "{}",
        stderr(&o)
    );
    let o = lab(&["notebook", "import", b]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with(&format!("{b}: not JSON at line 2 column 12: ")),
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("bad.ipynb").exists());
    let o = lab(&["notebook", "export", "no-such-notebook", "--ipynb"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        o.status.code(),
        lab(&["notebook", "export", "x.json"]).status.code(),
        "--ipynb is required"
    );

    let nb = serde_json::json!({
        "format": 1,
        "title": "one broken cell",
        "cells": [
            {"type": "scenario", "id": 1, "text": "create 2\nwrte * 0\n", "backends": ["linux-3.14"]},
            {"type": "scenario", "id": 2, "text": "create 1\nrun *\n", "backends": ["linux-6.18", "kvm"]}
        ]
    });
    let file = dir.join("broken.json");
    std::fs::write(&file, nb.to_string()).unwrap();
    let o = lab(&[
        "notebook",
        "export",
        file.to_str().unwrap(),
        "--ipynb",
        "-o",
        "-",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cell 1: the scenario does not parse: 2:1: unknown statement `wrte`"),
        "{}",
        stderr(&o)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let broken = v["cells"][0]["outputs"][0]["data"]["text/plain"]
        .as_str()
        .unwrap();
    assert!(broken.contains("2:1: unknown statement `wrte`"), "{broken}");
    assert_eq!(
        v["cells"][0]["outputs"].as_array().unwrap().len(),
        1,
        "no charts without runs"
    );
    let fine = v["cells"][1]["outputs"][0]["data"]["text/plain"]
        .as_str()
        .unwrap();
    assert!(fine.contains("linux-6.18  STABLE"), "{fine}");
    assert!(fine.contains("kvm: not run in this export"), "{fine}");
    std::fs::remove_dir_all(&dir).ok();
}

/// On a terminal `conform` shows its progress (`conform [=>  ] 3/227`) on
/// stderr; stopped after a few seconds, it has drawn it.
#[test]
fn conform_shows_progress_on_a_terminal() {
    if !std::path::Path::new("/dev/kvm").exists() {
        assert!(!ci(), "CI=true: conform needs /dev/kvm");
        eprintln!("skipped: no /dev/kvm, and conform needs real KVM");
        return;
    }
    // `timeout` stops conform (SIGINT) inside the terminal after 8 s.
    let under = ["timeout", "-s", "INT", "8"];
    let Some((shown, _)) = on_terminal_under(&under, &["conform", "--count", "1"], None, &[])
    else {
        return;
    };
    assert!(
        shown.contains("conform ["),
        "no progress on the terminal: {shown:?}"
    );
}
