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

mod cmd;
mod render;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use scenarios::BackendId;

use cmd::Fail;

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
    Serve(cmd::serve::Options),
    /// Drive a live server with many concurrent clients; print latency, errors, RSS, fds.
    Load(cmd::load::Options),
    /// Run a VMM (after `--`) and read the kernel's TSC events of its whole process tree;
    /// show them as `run --backend kvm` does, and with --compare what each kernel model does
    /// with these very writes.
    Trace(cmd::trace::Options),
    /// Read a trace captured elsewhere (ftrace text, trace_pipe, trace-cmd report) into its
    /// VMs, their writes, the trace's own kernel view, and what each model makes of them.
    Import(cmd::import::Options),
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
        } => {
            let mode = if compare {
                cmd::run::Mode::Compare { with_kvm: !no_kvm }
            } else {
                cmd::run::Mode::One { backend }
            };
            cmd::run::run(&mut out, &scenario, cmd::run::Options { mode, json })
        }
        Command::Host { json } => cmd::host::run(&mut out, json),
        Command::Bench { reps } => cmd::bench::run(&mut out, reps),
        Command::Trace(options) => cmd::trace::run(&mut out, options),
        Command::Import(options) => cmd::import::run(&mut out, options),
        Command::Serve(options) => cmd::serve::run(options),
        Command::Load(options) => cmd::load::run(&mut out, options),
        Command::Conform {
            count,
            seed,
            json,
            verbose,
        } => cmd::conform::run(
            &mut out,
            cmd::conform::Options {
                count,
                seed,
                json,
                verbose,
            },
        ),
        Command::Check { scenarios, json } => cmd::check::run(&mut out, &scenarios, json),
        Command::List { json } => cmd::list::run(&mut out, json),
        Command::Fmt { files, check } => cmd::fmt::run(&mut out, &files, check),
        Command::Show { name } => cmd::show::run(&mut out, &name),
    };
    let flushed = out.flush();
    cmd::exit_code(result.and(flushed.map_err(Fail::from)))
}
