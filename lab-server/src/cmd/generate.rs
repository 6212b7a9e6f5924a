//! `generate` (hidden): shell completions and man pages, made from the clap
//! tree in `main.rs` so they cannot drift from `--help`. `cargo xtask dist`
//! writes them under `target/dist/completions` and `target/dist/man`.

use std::io::Write;
use std::path::PathBuf;

use clap_complete::Shell;

use super::Fail;

/// The binary's name, as the completions and man pages call it.
const BIN: &str = "lab-server";

/// What to generate.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
    /// Man pages (roff): lab-server(1), and with --dir one per subcommand.
    Man,
}

/// `generate`'s arguments.
#[derive(clap::Args, Debug)]
pub(crate) struct Options {
    /// A shell's completions, or the man pages.
    pub(crate) target: Target,
    /// Write into this directory instead of stdout: completions under their usual names
    /// (lab-server.bash, _lab-server, lab-server.fish, lab-server.elv, _lab-server.ps1),
    /// man pages as lab-server.1 and lab-server-COMMAND.1.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

pub(crate) fn run(out: &mut impl Write, mut cmd: clap::Command, o: Options) -> Result<(), Fail> {
    let shell = match o.target {
        Target::Bash => Shell::Bash,
        Target::Zsh => Shell::Zsh,
        Target::Fish => Shell::Fish,
        Target::Elvish => Shell::Elvish,
        Target::Powershell => Shell::PowerShell,
        Target::Man => return man(out, cmd, o.dir),
    };
    match o.dir {
        None => {
            // clap_complete panics on a failed write (`| head`): it writes
            // to memory, and the error stays ours.
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut cmd, BIN, &mut text);
            out.write_all(&text)?;
        }
        Some(dir) => {
            create(&dir)?;
            let path = clap_complete::generate_to(shell, &mut cmd, BIN, &dir)
                .map_err(|e| Fail::Input(format!("{}: cannot write: {e}", dir.display())))?;
            writeln!(out, "{}", path.display())?;
        }
    }
    Ok(())
}

/// The man pages: the command's own on stdout, or every page into `dir`.
/// There is no `help` subcommand in them (`man lab-server-run` is its help).
fn man(out: &mut impl Write, cmd: clap::Command, dir: Option<PathBuf>) -> Result<(), Fail> {
    let cmd = cmd.disable_help_subcommand(true);
    let Some(dir) = dir else {
        clap_mangen::Man::new(cmd).render(out)?;
        return Ok(());
    };
    create(&dir)?;
    clap_mangen::generate_to(cmd.clone(), &dir)
        .map_err(|e| Fail::Input(format!("{}: cannot write: {e}", dir.display())))?;
    let mut built = cmd;
    built.build();
    let mut names = Vec::new();
    pages(&built, &mut names);
    for name in names {
        writeln!(out, "{}", dir.join(format!("{name}.1")).display())?;
    }
    Ok(())
}

/// The pages `clap_mangen::generate_to` writes: every visible command.
fn pages(cmd: &clap::Command, names: &mut Vec<String>) {
    names.push(cmd.get_display_name().unwrap_or(cmd.get_name()).to_string());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub, names);
    }
}

fn create(dir: &std::path::Path) -> Result<(), Fail> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Fail::Input(format!("{}: cannot create: {e}", dir.display())))
}
