//! `lab-server`: TSC Lab's command line (and, with the server issue, its HTTP server).
//!
//! ```text
//! lab-server list                                  the scenario library
//! lab-server run qemu-2.0-boot-4 --compare         every model side by side
//! lab-server run my.tsc --backend linux-3.14 --json
//! lab-server check scenarios/library/*.tsc         verify `expect` lines (graders, CI)
//! ```
//!
//! Exit status: 0 success, 1 an expectation failed, 2 bad input (printed as
//! `file:line:col: message`).

mod render;

use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lab_server::kvm::{KvmBackend, Limits};
use scenarios::exec::ExpectOutcome;
use scenarios::{BackendId, Errors, Event, Scenario};

#[derive(Parser, Debug)]
#[command(
    name = "lab-server",
    version,
    about = "TSC Lab: see how KVM keeps guest clocks in sync"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario (a file, a library name, or `-` for stdin) and show every TSC write.
    Run {
        /// A scenario file, a library scenario name (see `list`), or `-` for stdin.
        scenario: String,
        /// The kernel to run it on.
        #[arg(long, short, default_value = "linux-6.18", value_parser = parse_backend)]
        backend: BackendId,
        /// Every kernel model side by side, and this machine's KVM when it is usable
        /// (the models then replay its measured timing); the first diverging write marked.
        #[arg(long, conflicts_with = "backend")]
        compare: bool,
        /// With --compare: leave real KVM out.
        #[arg(long, requires = "compare")]
        no_kvm: bool,
        /// JSON Lines: one object per event, the summary last.
        #[arg(long)]
        json: bool,
    },
    /// Report this machine's KVM: kernel, clocksource, flavour, whether TSC offsets
    /// are honoured, tracing, limits.
    Host {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Serve the lab: the HTTP API, live streams, the web app and the book.
    Serve {
        /// Where to listen; anything but loopback needs a token.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// The token every API call must carry (also from LAB_TOKEN).
        #[arg(long, env = "LAB_TOKEN")]
        token: Option<String>,
        /// The built site to serve at / and /book/ (default: target/dist when it exists).
        #[arg(long = "static")]
        static_dir: Option<std::path::PathBuf>,
        /// Runner threads, one scenario each at a time (default: one per core).
        #[arg(long)]
        runners: Option<usize>,
        /// Runs waiting for a runner before new ones get 429.
        #[arg(long, default_value_t = 512)]
        queue: usize,
        /// Runs one client may start per minute.
        #[arg(long, default_value_t = 120)]
        runs_per_minute: u32,
        /// Another web origin allowed to call the API (repeatable).
        #[arg(long = "origin")]
        origins: Vec<String>,
    },
    /// Drive a live server with many concurrent clients; print latency, errors, RSS, fds.
    Load {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Concurrent clients, each running the scenario once.
        #[arg(long, default_value_t = 300)]
        clients: usize,
        /// A library name or a file.
        #[arg(long, default_value = "qemu-2.0-boot-8")]
        scenario: String,
        /// Backends, comma-separated.
        #[arg(long, default_value = "kvm")]
        backends: String,
        #[arg(long, env = "LAB_TOKEN")]
        token: Option<String>,
    },
    /// Measure what the kvm backend costs on top of KVM's own ioctls (8-vCPU QEMU-like scenario).
    Bench {
        /// Repetitions of each measurement.
        #[arg(long, default_value_t = 100)]
        reps: usize,
    },
    /// Check the linux-6.18 model against this machine's KVM, write by write, on the
    /// library and on seeded random scenarios; non-zero exit on any divergence.
    Conform {
        /// How many random scenarios, besides the library.
        #[arg(long, default_value_t = 200)]
        count: usize,
        /// The seed of the random scenarios.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// One JSON object per scenario.
        #[arg(long)]
        json: bool,
        /// List every scenario, not only divergences.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Check the `expect` lines of scenarios against the models; non-zero exit on a failure.
    Check {
        /// Scenario files or library names.
        #[arg(required = true)]
        scenarios: Vec<String>,
        /// One JSON object per expectation.
        #[arg(long)]
        json: bool,
    },
    /// List the scenario library.
    List {
        /// One JSON object per scenario, with its text.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite scenario files in canonical form (indentation, spacing, `_` in big numbers).
    Fmt {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<String>,
        /// Change nothing; exit 1 if a file is not in canonical form.
        #[arg(long)]
        check: bool,
    },
    /// Print a library scenario's text (to copy and change it).
    Show {
        /// A library scenario name.
        name: String,
    },
}

fn parse_backend(s: &str) -> Result<BackendId, String> {
    s.parse()
}

/// Why the command stopped early.
enum Fail {
    /// Bad input: exit 2.
    Input(String),
    /// Expectations failed: exit 1.
    Expect,
    /// stdout closed (`| head`): stop quietly.
    Pipe,
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Fail::Pipe
        } else {
            Fail::Input(format!("lab-server: {e}"))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = match cli.command {
        Command::Run {
            scenario,
            backend,
            compare,
            no_kvm,
            json,
        } => run(
            &mut out,
            &scenario,
            backend,
            compare && !no_kvm,
            compare,
            json,
        ),
        Command::Host { json } => host(&mut out, json),
        Command::Bench { reps } => bench(&mut out, reps),
        Command::Serve {
            addr,
            token,
            static_dir,
            runners,
            queue,
            runs_per_minute,
            origins,
        } => {
            let config = lab_server::server::Config {
                addr,
                token,
                static_dir: static_dir.or_else(|| {
                    let d = std::path::PathBuf::from("target/dist");
                    d.join("index.html").exists().then_some(d)
                }),
                runners: runners
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from)),
                queue,
                runs_per_minute,
                origins,
                ..lab_server::server::Config::default()
            };
            serve(config)
        }
        Command::Load {
            url,
            clients,
            scenario,
            backends,
            token,
        } => load(&mut out, url, clients, &scenario, &backends, token),
        Command::Conform {
            count,
            seed,
            json,
            verbose,
        } => conform(&mut out, count, seed, json, verbose),
        Command::Check { scenarios, json } => check(&mut out, &scenarios, json),
        Command::List { json } => list(&mut out, json),
        Command::Fmt { files, check } => fmt(&mut out, &files, check),
        Command::Show { name } => show(&mut out, &name),
    };
    let flushed = out.flush();
    lab_server::kvm::shutdown();
    match result.and(flushed.map_err(Fail::from)) {
        Ok(()) | Err(Fail::Pipe) => ExitCode::SUCCESS,
        Err(Fail::Expect) => ExitCode::from(1),
        Err(Fail::Input(msg)) => {
            eprint!("{msg}");
            if !msg.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(2)
        }
    }
}

/// Scenarios are small; anything bigger is not one.
const MAX_SCENARIO_BYTES: u64 = 4 << 20;

/// A scenario's text and the name errors are reported under.
struct Loaded {
    label: String,
    text: String,
}

fn load_text(arg: &str) -> Result<Loaded, Fail> {
    if arg == "-" {
        let mut text = String::new();
        io::stdin()
            .take(MAX_SCENARIO_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| Fail::Input(format!("<stdin>: cannot read: {e}")))?;
        if text.len() as u64 > MAX_SCENARIO_BYTES {
            return Err(Fail::Input(format!(
                "<stdin>: more than {MAX_SCENARIO_BYTES} bytes; a scenario is at most that"
            )));
        }
        return Ok(Loaded {
            label: "<stdin>".into(),
            text,
        });
    }
    let path = Path::new(arg);
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Fail::Input(format!("{arg}: cannot read: {e}")))?;
        return Ok(Loaded {
            label: arg.to_string(),
            text,
        });
    }
    if let Some(entry) = scenarios::library::get(arg) {
        return Ok(Loaded {
            label: format!("library/{arg}.tsc"),
            text: entry.text.to_string(),
        });
    }
    Err(Fail::Input(format!(
        "{arg}: no such file, and no library scenario of that name (see `lab-server list`)"
    )))
}

fn parse(loaded: &Loaded) -> Result<Scenario, Fail> {
    scenarios::parse(&loaded.text).map_err(|e: Errors| Fail::Input(e.render(&loaded.label)))
}

fn run(
    out: &mut impl Write,
    arg: &str,
    backend: BackendId,
    with_kvm: bool,
    compare: bool,
    json: bool,
) -> Result<(), Fail> {
    let loaded = load_text(arg)?;
    let scenario = parse(&loaded)?;
    let at = |e: scenarios::Error| format!("{}:{e}", loaded.label);
    if compare {
        let (runs, kvm_note) = compare_runs(&scenario, with_kvm, &at);
        if json {
            for r in &runs {
                for e in &r.events {
                    writeln!(out, "{}", to_json(e))?;
                }
            }
            for r in &runs {
                if let Some(e) = &r.error {
                    eprintln!("{e}");
                }
            }
        } else {
            render::compare(out, &scenario, &runs)?;
            if let Some(note) = kvm_note {
                writeln!(out, "{note}")?;
            }
        }
        return Ok(());
    }
    let mut io_err: Option<io::Error> = None;
    let mut table = render::Table::new(&scenario, backend);
    let mut kvm_backend = None;
    let mut model_backend = None;
    let runner: &mut dyn scenarios::Backend = if backend == BackendId::Kvm {
        let limits = Limits::default();
        limits
            .check(&scenario)
            .map_err(|e| Fail::Input(format!("{}: {e}", loaded.label)))?;
        let report = lab_server::kvm::host::report();
        let b = KvmBackend::new(report.clone(), limits)
            .map_err(|e| Fail::Input(format!("kvm: {e}")))?;
        if !json {
            render::host_notes(out, &report)?;
            table.header(out)?;
        }
        kvm_backend.insert(b)
    } else {
        if !json {
            table.header(out)?;
        }
        model_backend
            .insert(
                scenarios::models::model(backend, scenario.host(), scenarios::Timing::Virtual)
                    .expect("a model backend"),
            )
            .as_mut()
    };
    let result = scenarios::execute(&scenario, runner, &mut |e| {
        if io_err.is_some() {
            return;
        }
        let r = if json {
            writeln!(out, "{}", to_json(e))
        } else {
            table.event(out, e)
        };
        if let Err(err) = r {
            io_err = Some(err);
        }
    });
    if let Some(e) = io_err {
        return Err(e.into());
    }
    result.map_err(|e| Fail::Input(at(e)))?;
    if let (Some(kvm), false) = (&kvm_backend, json) {
        render::history(out, &lab_server::conform::history(&scenario, kvm))?;
    }
    Ok(())
}

/// The runs of `--compare`: the four models, and real KVM when it is usable —
/// then the models replay the real run's timing, so the columns line up.
fn compare_runs(
    scenario: &Scenario,
    with_kvm: bool,
    at: &dyn Fn(scenarios::Error) -> String,
) -> (Vec<render::ModelRun>, Option<String>) {
    let mut kvm_note = None;
    let kvm = if with_kvm {
        let limits = Limits::default();
        let report = lab_server::kvm::host::report();
        match limits
            .check(scenario)
            .and_then(|()| KvmBackend::new(report, limits))
        {
            Ok(mut b) => {
                let mut events = Vec::new();
                let error = scenarios::execute(scenario, &mut b, &mut |e| events.push(e.clone()))
                    .err()
                    .map(at);
                Some((
                    b,
                    render::ModelRun {
                        backend: BackendId::Kvm,
                        events,
                        error,
                    },
                ))
            }
            Err(e) => {
                kvm_note = Some(format!("kvm: not run ({e})"));
                None
            }
        }
    } else {
        None
    };
    let mut runs: Vec<render::ModelRun> = BackendId::MODELS
        .into_iter()
        .map(|b| {
            let (host, timing) = match &kvm {
                Some((k, r)) if r.error.is_none() => (k.replay_host(), k.timing()),
                _ => (scenario.host(), scenarios::Timing::Virtual),
            };
            let mut events = Vec::new();
            let mut model = scenarios::models::model(b, host, timing).expect("a model backend");
            let error =
                scenarios::execute(scenario, model.as_mut(), &mut |e| events.push(e.clone()))
                    .err()
                    .map(at);
            render::ModelRun {
                backend: b,
                events,
                error,
            }
        })
        .collect();
    if let Some((_, run)) = kvm {
        runs.push(run);
    }
    (runs, kvm_note)
}

fn runtime() -> Result<tokio::runtime::Runtime, Fail> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail::Input(format!("tokio: {e}")))
}

fn serve(config: lab_server::server::Config) -> Result<(), Fail> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(io::stderr)
        .init();
    runtime()?
        .block_on(lab_server::server::serve(config))
        .map_err(Fail::Input)
}

fn load(
    out: &mut impl Write,
    url: String,
    clients: usize,
    scenario: &str,
    backends: &str,
    token: Option<String>,
) -> Result<(), Fail> {
    let loaded = load_text(scenario)?;
    parse(&loaded)?;
    let plan = lab_server::load::Plan {
        url: url.trim_end_matches('/').to_string(),
        clients,
        scenario: loaded.text,
        backends: backends
            .split(',')
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect(),
        token,
    };
    let o = runtime()?.block_on(lab_server::load::run(plan));
    let ms = |d: Option<std::time::Duration>| {
        d.map_or("-".to_string(), |d| {
            format!("{:.1} ms", d.as_secs_f64() * 1e3)
        })
    };
    writeln!(out, "{clients} clients, {} s wall", o.wall.as_secs_f64())?;
    writeln!(
        out,
        "  completed {} · answered 429 with Retry-After {} · errors {}",
        o.completed,
        o.rejected,
        o.errors.len()
    )?;
    writeln!(
        out,
        "  latency (request → last summary): p50 {} · p99 {} · max {}",
        ms(o.percentile(0.5)),
        ms(o.percentile(0.99)),
        ms(o.percentile(1.0))
    )?;
    let kb = |v: &serde_json::Value| {
        v["rss_kb"]
            .as_u64()
            .map_or("?".to_string(), |k| format!("{:.1} MB", k as f64 / 1024.0))
    };
    writeln!(
        out,
        "  server RSS {} before, {} after",
        kb(&o.before),
        kb(&o.after)
    )?;
    writeln!(
        out,
        "  server fds {} before, {} after · VMs {} after, vCPUs {} after",
        o.before["fds"], o.after["fds"], o.after["vms"], o.after["vcpus"]
    )?;
    let mut errors: Vec<&String> = o.errors.iter().collect();
    errors.dedup();
    for e in errors.iter().take(10) {
        writeln!(out, "  error: {e}")?;
    }
    let leaked = o.after["fds"] != o.before["fds"] || o.after["vms"] != 0;
    if leaked {
        writeln!(out, "  LEAK: the server did not return to its baseline")?;
    }
    if !o.errors.is_empty() || leaked {
        return Err(Fail::Expect);
    }
    Ok(())
}

fn bench(out: &mut impl Write, reps: usize) -> Result<(), Fail> {
    let report = lab_server::kvm::host::report();
    let f = lab_server::bench::measure(&report, reps.max(3))
        .map_err(|e| Fail::Input(format!("bench: {e}")))?;
    writeln!(
        out,
        "kvm backend cost, medians of {} runs ({}, Linux {})",
        reps.max(3),
        report.flavour,
        report.kernel
    )?;
    writeln!(out, "  KVM_CREATE_VM            {:>9.1} µs", f.create_vm_us)?;
    writeln!(
        out,
        "  KVM_CREATE_VCPU          {:>9.1} µs",
        f.create_vcpu_us
    )?;
    writeln!(out, "  KVM_SET_MSRS (TSC)       {:>9.1} µs", f.set_msrs_us)?;
    writeln!(out, "  KVM_RUN → hlt            {:>9.1} µs", f.run_us)?;
    writeln!(
        out,
        "8-vCPU QEMU-like scenario (create 8, two rounds of TSC = 0, run each):"
    )?;
    writeln!(
        out,
        "  bare ioctls              {:>9.1} µs",
        f.raw_scenario_us
    )?;
    writeln!(
        out,
        "  kvm backend, untraced    {:>9.1} µs   {:.2}× the bare ioctls",
        f.untraced_us,
        f.untraced_us / f.raw_scenario_us
    )?;
    writeln!(
        out,
        "  bare ioctls + trace reads{:>9.1} µs   (one bare trace_pipe read per step)",
        f.raw_traced_us
    )?;
    writeln!(
        out,
        "  kvm backend, traced      {:>9.1} µs   {:.2}× the bare ioctls + trace reads ({:.2}× the bare ioctls)",
        f.traced_us,
        f.traced_us / f.raw_traced_us,
        f.traced_us / f.raw_scenario_us
    )?;
    Ok(())
}

fn host(out: &mut impl Write, json: bool) -> Result<(), Fail> {
    let r = lab_server::kvm::host::report();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&r).expect("the report serialises")
        )?;
    } else {
        render::host(out, &r)?;
    }
    Ok(())
}

fn conform(
    out: &mut impl Write,
    count: usize,
    seed: u64,
    json: bool,
    verbose: bool,
) -> Result<(), Fail> {
    use lab_server::conform::{self, Outcome};
    let report = lab_server::kvm::host::report();
    if !report.kvm_usable {
        return Err(Fail::Input(format!(
            "conform needs real KVM: {}",
            report.kvm_problem.as_deref().unwrap_or("unavailable")
        )));
    }
    if !json {
        writeln!(
            out,
            "conform: linux-6.18 against this machine's KVM ({}, Linux {}, clocksource {}, tracing {})",
            report.flavour,
            report.kernel,
            report.clocksource,
            if report.tracing {
                "on"
            } else {
                "OFF: counters not compared"
            }
        )?;
        out.flush()?;
    }
    let cases: Vec<conform::Case> = conform::library_cases()
        .into_iter()
        .chain(conform::random_cases(count, seed))
        .collect();
    let (mut agree, mut diverge, mut failed, mut skipped, mut values) = (0, 0, 0, 0, 0);
    for case in &cases {
        let outcome = conform::check_case(case, &report, Limits::default());
        let bad = matches!(outcome, Outcome::Diverge { .. } | Outcome::Failed { .. });
        match &outcome {
            Outcome::Agree { compared, .. } => {
                agree += 1;
                values += compared;
            }
            Outcome::Diverge { .. } => diverge += 1,
            Outcome::Failed { .. } => failed += 1,
            Outcome::Skipped { .. } => skipped += 1,
        }
        if json {
            let mut v = serde_json::to_value(&outcome).expect("serialises");
            v["name"] = serde_json::Value::String(case.name.clone());
            if bad {
                v["scenario"] = serde_json::Value::String(case.text.clone());
            }
            writeln!(out, "{v}")?;
        } else if bad || verbose || !case.name.starts_with("random-") {
            render::conform_case(out, case, &outcome)?;
        }
    }
    let checked = agree + diverge + failed;
    if !json {
        writeln!(
            out,
            "\nagreement: {agree}/{checked} scenarios ({:.1}%), {values} values compared; {diverge} diverged, {failed} failed, {skipped} skipped",
            if checked == 0 {
                100.0
            } else {
                100.0 * agree as f64 / checked as f64
            }
        )?;
        writeln!(
            out,
            "{agree} passed, {} failed, {skipped} skipped",
            diverge + failed
        )?;
    }
    if diverge + failed > 0 {
        return Err(Fail::Expect);
    }
    Ok(())
}

fn to_json(e: &Event) -> String {
    serde_json::to_string(e).expect("events serialise")
}

fn check(out: &mut impl Write, args: &[String], json: bool) -> Result<(), Fail> {
    let (mut passed, mut failed, mut skipped) = (0u32, 0u32, 0u32);
    let mut bad_input = String::new();
    for arg in args {
        let loaded = match load_text(arg) {
            Ok(l) => l,
            Err(Fail::Input(m)) => {
                bad_input.push_str(&m);
                bad_input.push('\n');
                continue;
            }
            Err(f) => return Err(f),
        };
        let scenario = match parse(&loaded) {
            Ok(s) => s,
            Err(Fail::Input(m)) => {
                bad_input.push_str(&m);
                continue;
            }
            Err(f) => return Err(f),
        };
        let outcomes = scenarios::verify_models(&scenario);
        if outcomes.is_empty() && !json {
            writeln!(out, "{}: no `expect` lines", loaded.label)?;
        }
        for o in &outcomes {
            match o.passed {
                Some(true) => passed += 1,
                Some(false) => failed += 1,
                None => skipped += 1,
            }
            if json {
                writeln!(out, "{}", check_json(&loaded.label, o))?;
            } else {
                let status = match o.passed {
                    Some(true) => "ok",
                    Some(false) => "FAILED",
                    None => "skipped",
                };
                write!(
                    out,
                    "{}:{}: {status:7} [{}] {}",
                    loaded.label, o.line, o.backend, o.expect
                )?;
                if o.passed != Some(true) && !o.note.is_empty() {
                    write!(out, " — {}", o.note)?;
                }
                writeln!(out)?;
            }
        }
    }
    if !json {
        writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")?;
    }
    if !bad_input.is_empty() {
        return Err(Fail::Input(bad_input));
    }
    if failed > 0 {
        return Err(Fail::Expect);
    }
    Ok(())
}

fn check_json(label: &str, o: &ExpectOutcome) -> String {
    let mut v = serde_json::to_value(o).expect("outcomes serialise");
    v["file"] = serde_json::Value::String(label.to_string());
    v.to_string()
}

fn list(out: &mut impl Write, json: bool) -> Result<(), Fail> {
    for entry in scenarios::library::LIBRARY {
        let s = entry
            .scenario()
            .map_err(|e| Fail::Input(e.render(entry.name)))?;
        if json {
            let v = serde_json::json!({
                "name": entry.name,
                "title": s.title(),
                "story": s.story(),
                "source": s.sources(),
                "text": entry.text,
            });
            writeln!(out, "{v}")?;
        } else {
            writeln!(out, "{:32} {}", entry.name, s.title().unwrap_or(""))?;
        }
    }
    Ok(())
}

fn fmt(out: &mut impl Write, files: &[String], check: bool) -> Result<(), Fail> {
    let mut unformatted = false;
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Fail::Input(format!("{file}: cannot read: {e}")))?;
        let loaded = Loaded {
            label: file.clone(),
            text,
        };
        let canonical = parse(&loaded)?.to_string();
        if canonical == loaded.text {
            continue;
        }
        if check {
            writeln!(
                out,
                "{file}: not in canonical form (run `lab-server fmt {file}`)"
            )?;
            unformatted = true;
        } else {
            std::fs::write(file, canonical)
                .map_err(|e| Fail::Input(format!("{file}: cannot write: {e}")))?;
            writeln!(out, "{file}: formatted")?;
        }
    }
    if unformatted {
        return Err(Fail::Expect);
    }
    Ok(())
}

fn show(out: &mut impl Write, name: &str) -> Result<(), Fail> {
    let entry = scenarios::library::get(name).ok_or_else(|| {
        Fail::Input(format!(
            "{name}: no library scenario of that name (see `lab-server list`)"
        ))
    })?;
    out.write_all(entry.text.as_bytes())?;
    Ok(())
}
