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
        /// Run every kernel model side by side and mark the first write where they diverge.
        #[arg(long, conflicts_with = "backend")]
        compare: bool,
        /// JSON Lines: one object per event, the summary last.
        #[arg(long)]
        json: bool,
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
            json,
        } => run(&mut out, &scenario, backend, compare, json),
        Command::Check { scenarios, json } => check(&mut out, &scenarios, json),
        Command::List { json } => list(&mut out, json),
        Command::Fmt { files, check } => fmt(&mut out, &files, check),
        Command::Show { name } => show(&mut out, &name),
    };
    let flushed = out.flush();
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

fn load(arg: &str) -> Result<Loaded, Fail> {
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
    compare: bool,
    json: bool,
) -> Result<(), Fail> {
    let loaded = load(arg)?;
    let scenario = parse(&loaded)?;
    if compare {
        // Each model's events up to the end, or up to the step it cannot make.
        let runs: Vec<render::ModelRun> = BackendId::MODELS
            .into_iter()
            .map(|b| {
                let mut events = Vec::new();
                let mut model =
                    scenarios::models::model(b, scenario.host(), scenarios::Timing::Virtual)
                        .expect("a model backend");
                let error = scenarios::execute(&scenario, model.as_mut(), &mut |e| events.push(e))
                    .err()
                    .map(|e| format!("{}:{e}", loaded.label));
                render::ModelRun {
                    backend: b,
                    events,
                    error,
                }
            })
            .collect();
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
        }
        return Ok(());
    }
    if !backend.is_model() {
        return Err(Fail::Input(format!(
            "the `{backend}` backend is not in this build yet: it comes with the real-KVM runner. Models: {}",
            BackendId::MODELS.map(|b| b.name()).join(", ")
        )));
    }
    let mut backend_impl =
        scenarios::models::model(backend, scenario.host(), scenarios::Timing::Virtual)
            .expect("a model backend");
    let mut io_err: Option<io::Error> = None;
    let mut table = render::Table::new(&scenario, backend);
    if !json {
        table.header(out)?;
    }
    let result = scenarios::execute(&scenario, backend_impl.as_mut(), &mut |e| {
        if io_err.is_some() {
            return;
        }
        let r = if json {
            writeln!(out, "{}", to_json(&e))
        } else {
            table.event(out, &e)
        };
        if let Err(err) = r {
            io_err = Some(err);
        }
    });
    if let Some(e) = io_err {
        return Err(e.into());
    }
    result.map_err(|e| Fail::Input(format!("{}:{e}", loaded.label)))?;
    Ok(())
}

fn to_json(e: &Event) -> String {
    serde_json::to_string(e).expect("events serialise")
}

fn check(out: &mut impl Write, args: &[String], json: bool) -> Result<(), Fail> {
    let (mut passed, mut failed, mut skipped) = (0u32, 0u32, 0u32);
    let mut bad_input = String::new();
    for arg in args {
        let loaded = match load(arg) {
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
