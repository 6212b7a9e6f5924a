//! Developer tasks for TSC Lab. The README's two commands live here:
//!
//! - `cargo xtask test` — set up what a fresh machine lacks, then check
//!   formatting, lint, build `scenarios` for wasm32, and run every test.
//! - `cargo xtask lab` — build and start the lab.
//!
//! Also `cargo xtask bench` (model throughput) and `cargo xtask fuzz [--runs N]`
//! (the parser fuzz target; needs the nightly toolchain).
//!
//! Every step echoes the command it runs and stops at the first failure.

mod web;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let result = match task {
        "test" => test(),
        "lab" => lab(),
        "bench" => bench(),
        "dist" => web::dist(),
        "record" => web::record(),
        "fuzz" => fuzz(&args[1..]),
        "help" | "-h" | "--help" => {
            print_help();
            Ok(())
        }
        other => Err(format!("unknown task `{other}`; try `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <task>\n\n\
         test   set up, then fmt check, clippy -D warnings, wasm32 build, every test\n\
         lab    build and start the lab server (http://127.0.0.1:8080)\n\
         bench  model throughput (criterion) and the web budgets\n\
         dist   build the static site (notebook + book) into target/dist,\n\
                with the CLI's completions and man pages (dist/completions, dist/man)\n\
         record record every library scenario on this machine's KVM (lab-web/recorded)\n\
         fuzz   fuzz the scenario parser: cargo xtask fuzz [--runs N] (nightly)"
    );
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs a command in the workspace root, echoing it; fails on a non-zero exit.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    println!("\n$ {program} {}", args.join(" "));
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    if status.success() {
        println!("  ({:.1} s)", started.elapsed().as_secs_f64());
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What a fresh machine lacks for building: the wasm32 target, rustfmt,
/// clippy, and npm binaryen (wasm-opt).
fn setup() -> Result<(), String> {
    let installed = output("rustup", &["target", "list", "--installed"])
        .map_err(|e| format!("rustup is needed to add the {WASM_TARGET} target: {e}"))?;
    if !installed.lines().any(|l| l.trim() == WASM_TARGET) {
        run("rustup", &["target", "add", WASM_TARGET])?;
    }
    let components = output("rustup", &["component", "list", "--installed"])?;
    for c in ["rustfmt", "clippy"] {
        if !components.lines().any(|l| l.starts_with(c)) {
            run("rustup", &["component", "add", c])?;
        }
    }
    Ok(())
}

/// Installs Debian packages (as root), or says what to run.
fn apt_install(packages: &[&str], for_what: &str) -> Result<(), String> {
    if output("id", &["-u"]).map(|u| u.trim() == "0") != Ok(true) {
        return Err(format!(
            "{for_what} need {}: run `apt-get install {}` as root",
            packages.join(" and "),
            packages.join(" ")
        ));
    }
    run("apt-get", &["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q"];
    args.extend_from_slice(packages);
    run("apt-get", &args)
}

/// The version of wasm-bindgen the workspace pins (lab-web, lab-charts, lab-import and xtask).
const WASM_BINDGEN: &str = "0.2.130";

/// The tests' Python tools (`tools/requirements.txt`: nbformat, nbconvert)
/// in a virtual environment under `target/venv`, never system-wide. It is
/// made again when the requirements change (a copy of them marks it done).
fn python_venv() -> Result<(), String> {
    let venv = root().join("target/venv");
    let wanted = root().join("tools/requirements.txt");
    let stamp = venv.join("requirements.txt");
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    if venv.join("bin/python").exists() && std::fs::read(&stamp).ok() == Some(read(&wanted)?) {
        return Ok(());
    }
    let has_venv = Command::new("python3")
        .args(["-c", "import ensurepip, venv"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_venv {
        apt_install(
            &["python3", "python3-venv"],
            "the Jupyter tests (nbformat, nbconvert)",
        )?;
    }
    let dir = venv.to_str().ok_or("non-UTF-8 path")?;
    run("python3", &["-m", "venv", "--clear", dir])?;
    let pip = venv.join("bin/pip");
    let req = wanted.to_str().ok_or("non-UTF-8 path")?;
    run(
        pip.to_str().ok_or("non-UTF-8 path")?,
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            req,
        ],
    )?;
    std::fs::copy(&wanted, &stamp).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(())
}

/// What the tests need beyond building: Debian's chromium and chromedriver
/// (the browser tests), Debian's QEMU (the traced-VMM tests), Redis, HAProxy
/// and nginx (the replica tests; their services are not started), the Python
/// venv (the Jupyter tests), npm axe-core (the accessibility tests) and
/// wasm-bindgen-cli's test runner (wasm-bindgen-test).
fn setup_test_tools() -> Result<(), String> {
    let have = |bin: &str| output("which", &[bin]).is_ok();
    if !have("chromium") || !have("chromedriver") {
        apt_install(&["chromium", "chromium-driver"], "the browser tests")?;
    }
    if !have("qemu-system-x86_64") {
        apt_install(&["qemu-system-x86"], "the traced-VMM tests")?;
    }
    if !have("redis-server") || !have("haproxy") || !have("nginx") {
        apt_install(
            &["redis-server", "haproxy", "nginx"],
            "the replica tests and the proxy templates",
        )?;
    }
    python_venv()?;
    web::npm_tools()?;
    let runner = output("wasm-bindgen-test-runner", &["--version"]).unwrap_or_default();
    if !runner.contains(WASM_BINDGEN) {
        // Not `--locked`: its lock file wants a crate this registry lacks.
        run(
            "cargo",
            &["install", "wasm-bindgen-cli", "--version", WASM_BINDGEN],
        )?;
    }
    Ok(())
}

fn test() -> Result<(), String> {
    let started = Instant::now();
    setup()?;
    setup_test_tools()?;
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The browser half and its wasm-bindgen tests, linted as wasm32.
    run(
        "cargo",
        &[
            "clippy",
            "--package",
            "lab-web",
            "--package",
            "lab-import",
            "--package",
            "lab-charts",
            "--all-targets",
            "--target",
            WASM_TARGET,
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The site the browser tests open: the notebook (WASM) and the book.
    web::dist()?;
    // The benchmark must keep compiling and running; one quick pass, no timing.
    run(
        "cargo",
        &[
            "test",
            "--package",
            "scenarios",
            "--bench",
            "models",
            "--",
            "--test",
        ],
    )?;
    // Everything native, the browser tests included (they need target/dist).
    // xtask has no tests; leaving it out spares a second build of its
    // dependencies with the workspace's features.
    run("cargo", &["test", "--workspace", "--exclude", "xtask"])?;
    // wasm-bindgen-test: the models and components as WASM, in headless chromium.
    run(
        "cargo",
        &["test", "--package", "lab-web", "--target", WASM_TARGET],
    )?;
    println!(
        "\nxtask test: every step passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn lab() -> Result<(), String> {
    setup()?;
    web::dist()?;
    run("cargo", &["build", "--release", "--package", "lab-server"])?;
    let bin = root().join("target/release/lab-server");
    let bin = bin.to_str().ok_or("non-UTF-8 path")?;
    // What this machine offers, then the models side by side as a first look.
    run(bin, &["host"])?;
    run(bin, &["run", "qemu-2.0-boot-4", "--compare"])?;
    println!(
        "\nStarting the lab (Ctrl-C stops it):\n  \
         notebook  http://127.0.0.1:8080/?scenario=qemu-2.0-boot-2\n  \
         book      http://127.0.0.1:8080/book/\n  \
         API       http://127.0.0.1:8080/api/host\n"
    );
    run(bin, &["serve"])
}

/// Model throughput (criterion), then the web budgets in headless chromium:
/// bundle size, time to interactive, scrubbing, WASM vs native models.
fn bench() -> Result<(), String> {
    setup()?;
    setup_test_tools()?;
    run(
        "cargo",
        &["bench", "--package", "scenarios", "--bench", "models"],
    )?;
    web::dist()?;
    run(
        "cargo",
        &[
            "test",
            "--release",
            "--package",
            "lab-server",
            "--test",
            "browser",
            "--",
            "--ignored",
            "budgets",
            "--nocapture",
        ],
    )
}

/// `cargo xtask fuzz [parse|models|import] [--runs N]`: installs cargo-fuzz if needed, runs a
/// target (the parser by default) on nightly, and reports how many inputs ran.
fn fuzz(args: &[String]) -> Result<(), String> {
    let usage = || "usage: cargo xtask fuzz [parse|models|import] [--runs N]".to_string();
    let (target, rest) = match args.first().map(String::as_str) {
        Some(t @ ("parse" | "models" | "import")) => (t, &args[1..]),
        Some("--runs") | None => ("parse", args),
        Some(_) => return Err(usage()),
    };
    let runs = match rest {
        [] => "10000000".to_string(),
        [flag, n] if flag == "--runs" => n.clone(),
        _ => return Err(usage()),
    };
    if output("cargo", &["fuzz", "--version"]).is_err() {
        run("cargo", &["install", "cargo-fuzz", "--locked"])?;
    }
    let toolchains = output("rustup", &["toolchain", "list"])?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        run(
            "rustup",
            &["toolchain", "install", "nightly", "--profile", "minimal"],
        )?;
    }
    // Seed the corpus with real inputs: the library for the parser and the
    // models, the trace fixtures for the importer.
    let corpus = root().join("scenarios/fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let seeds = root().join(if target == "import" {
        "scenarios/tests/traces"
    } else {
        "scenarios/library"
    });
    for entry in walk(&seeds)? {
        if let Some(name) = entry.file_name() {
            std::fs::copy(&entry, corpus.join(name))
                .map_err(|e| format!("{}: {e}", entry.display()))?;
        }
    }
    let runs_arg = format!("-runs={runs}");
    let corpus_arg = corpus.to_str().ok_or("non-UTF-8 path")?;
    // The targets are safe Rust: no sanitizer, so 10 M inputs take minutes, not hours.
    run(
        "cargo",
        &[
            "+nightly",
            "fuzz",
            "run",
            "--sanitizer",
            "none",
            "--fuzz-dir",
            "scenarios/fuzz",
            target,
            corpus_arg,
            "--",
            &runs_arg,
            "-max_len=4096",
            "-print_final_stats=1",
        ],
    )
}

/// The files under `dir`, its subfolders' included.
fn walk(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}
