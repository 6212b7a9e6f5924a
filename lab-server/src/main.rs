//! `lab-server`: TSC Lab's command line and its HTTP server.
//!
//! ```text
//! lab-server list                                  the scenario library
//! lab-server run qemu-2.0-boot-4 --compare         every model side by side
//! lab-server run my.tsc --backend linux-3.14 --json
//! lab-server check scenarios/library/*.tsc         verify `expect` lines (graders, CI)
//! lab-server notebook export qemu-2.0-boot-4 --ipynb   a Jupyter notebook, outputs computed
//! ```
//!
//! Exit status ([`cmd::Fail`]):
//!
//! - 0: success;
//! - 1: an expectation failed (`check`, `fmt --check`, a `conform` divergence,
//!   `load` errors);
//! - 2: bad input, printed as `file:line:col: message` (clap's usage errors too);
//! - 3: real KVM or the kernel's tracing is not available on this machine
//!   (`run --backend kvm`, `conform`, `bench`, `trace`).
//!
//! The conventions every command shares: progress on stderr only when it is
//! a terminal and `--quiet` is not given ([`progress`]); colour on stdout
//! and stderr as `--color` and `NO_COLOR` say ([`render::style`]); stdout
//! carries the same bytes either way.

mod cmd;
mod progress;
mod render;

use std::ffi::OsString;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use scenarios::BackendId;

use cmd::Fail;

/// The end of `lab-server --help`: the exit status and the colour rules.
const AFTER_HELP: &str = "\
Exit status:
  0  success
  1  an expectation failed (check, fmt --check, a conform divergence, load errors)
  2  bad input: a file, a scenario (file:line:col: message), an argument
  3  real KVM or the kernel's tracing is not available on this machine
     (run --backend kvm, conform, bench, trace)

Colour: --color auto (the default) colours a terminal only, and not at all when
NO_COLOR is set to anything but the empty string; --color always and --color
never win over NO_COLOR. Progress goes to stderr, only when it is a terminal.";

#[derive(Parser, Debug)]
#[command(
    name = "lab-server",
    version,
    about = "TSC Lab: see how KVM keeps guest clocks in sync",
    after_help = AFTER_HELP
)]
struct Cli {
    /// When to colour the output (and this help): auto (a terminal, unless NO_COLOR is set),
    /// always (even with NO_COLOR), never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = Color::Auto)]
    color: Color,
    /// No progress on stderr (it is shown only on a terminal anyway).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// `--color` (its values have no help of their own: `--color`'s says it,
/// once, in every command's help).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Color {
    // A terminal, unless NO_COLOR is set and not empty.
    Auto,
    // Even a pipe or a file, whatever NO_COLOR says.
    Always,
    Never,
}

impl Color {
    fn clap(self) -> clap::ColorChoice {
        match self {
            Color::Auto => clap::ColorChoice::Auto,
            Color::Always => clap::ColorChoice::Always,
            Color::Never => clap::ColorChoice::Never,
        }
    }

    fn stream(self) -> anstream::ColorChoice {
        match self {
            Color::Auto => anstream::ColorChoice::Auto,
            Color::Always => anstream::ColorChoice::Always,
            Color::Never => anstream::ColorChoice::Never,
        }
    }

    /// `--color` from the raw arguments, before clap parses them, so that
    /// clap's own help and errors follow it too. The last one wins; an
    /// invalid value is left for clap to refuse; nothing after `--` counts
    /// (that is `trace`'s VMM command line).
    fn from_args(args: &[OsString]) -> Color {
        let mut color = Color::Auto;
        let mut args = args.iter().skip(1).map(|a| a.to_str().unwrap_or(""));
        while let Some(arg) = args.next() {
            let value = match arg {
                "--" => break,
                "--color" => args.next(),
                _ => arg.strip_prefix("--color="),
            };
            if let Some(c) = value.and_then(|v| Color::from_str(v, false).ok()) {
                color = c;
            }
        }
        color
    }
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
    /// Notebooks as Jupyter notebooks and back: `export` runs every scenario cell on the
    /// kernel models and keeps the verdicts and charts as outputs.
    #[command(subcommand)]
    Notebook(cmd::notebook::Command),
    /// Shell completions and man pages, from this command tree (`cargo xtask dist`).
    #[command(hide = true)]
    Generate(cmd::generate::Options),
}

fn parse_backend(s: &str) -> Result<BackendId, String> {
    s.parse()
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let color = Color::from_args(&args);
    let matches = Cli::command().color(color.clap()).get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    progress::init(cli.quiet);
    // Renderers always write their styles; this stream keeps them for a
    // terminal (or `--color always`) and strips them otherwise.
    let stdout = anstream::AutoStream::new(io::stdout().lock(), cli.color.stream());
    let mut out = BufWriter::new(stdout);
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
        Command::Notebook(command) => cmd::notebook::run(&mut out, command),
        Command::Generate(options) => cmd::generate::run(&mut out, Cli::command(), options),
    };
    let flushed = out.flush();
    cmd::exit_code(result.and(flushed.map_err(Fail::from)), cli.color.stream())
}
