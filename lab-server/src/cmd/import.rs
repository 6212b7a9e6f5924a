//! `import`: a trace captured elsewhere, read into VMs, their writes, the
//! trace's own kernel view and what each model makes of the same writes.

use std::io::{Read, Write};

use scenarios::import::{ImportLimits, Imported, Importer};

use super::Fail;
use super::imported::{self, Show};
use crate::progress::Progress;
use crate::render;

/// `import`'s flags.
#[derive(clap::Args, Debug)]
pub(crate) struct Options {
    /// The trace: a file (`/sys/kernel/tracing/trace`, `trace_pipe` text,
    /// `trace-cmd report` output), or `-` for stdin.
    pub(crate) file: String,
    /// List the VMs found (id, pid, vCPUs, writes, time span) and stop.
    #[arg(long)]
    pub(crate) list: bool,
    /// The VM to show, by the id `--list` gives (needed when there are several).
    #[arg(long)]
    pub(crate) vm: Option<u32>,
    /// The traced host's TSC rate in kHz (default: this host's).
    #[arg(long = "tsc-khz")]
    pub(crate) tsc_khz: Option<u32>,
    /// JSON Lines: the trace's events (backend `trace`), and the models' with --compare.
    #[arg(long)]
    pub(crate) json: bool,
    /// Replay the four models at the trace's moments, with the trace's values.
    #[arg(long)]
    pub(crate) compare: bool,
    /// Print the scenario rebuilt from the trace and stop.
    #[arg(long)]
    pub(crate) scenario: bool,
    /// The kernel version the trace comes from (said beside any disagreement with linux-6.18).
    #[arg(long)]
    pub(crate) kernel: Option<String>,
}

/// Reads `file` a chunk at a time: memory follows the events kept, not the
/// input. The bytes read are the progress (of the file's size, when it has
/// one: tracefs's `trace` says 0).
fn read(file: &str) -> Result<Imported, Fail> {
    let mut importer = Importer::new(ImportLimits::DEFAULT);
    let (mut input, size): (Box<dyn Read>, Option<u64>) = if file == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| Fail::Input(format!("{file}: cannot read: {e}")))?;
        let size = f
            .metadata()
            .ok()
            .filter(|m| m.is_file() && m.len() > 0)
            .map(|m| m.len());
        (Box::new(f), size)
    };
    let progress = Progress::bytes("import", size);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                importer.push_bytes(&buf[..n]);
                progress.inc(n as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Fail::Input(format!("{file}: cannot read: {e}"))),
        }
    }
    Ok(importer.finish())
}

/// This host's TSC rate, for traces that do not say theirs.
pub(crate) fn host_tsc_khz() -> Option<u32> {
    lab_server::kvm::host::report().tsc_khz
}

pub(crate) fn run(out: &mut impl Write, o: Options) -> Result<(), Fail> {
    let label = if o.file == "-" { "<stdin>" } else { &o.file };
    let imported = read(&o.file)?;
    render::import_notes(&mut std::io::stderr(), &imported, label)?;
    if o.list {
        if o.json {
            writeln!(
                out,
                "{}",
                serde_json::to_string(&imported).expect("an import serialises")
            )?;
        } else {
            write!(out, "{}", render::import_list(&imported))?;
        }
        return Ok(());
    }
    let id = imported::pick(&imported, o.vm, label)?;
    let khz = o.tsc_khz.or_else(host_tsc_khz).ok_or_else(|| {
        Fail::Input(format!(
            "{label}: the traced host's TSC rate is needed and this host's is unknown: give --tsc-khz K"
        ))
    })?;
    let run = imported
        .run(id, khz)
        .ok_or_else(|| Fail::Input(format!("{label}: VM {id} cannot be rebuilt")))?;
    imported::show(
        out,
        &run,
        &Show {
            json: o.json,
            compare: o.compare,
            scenario: o.scenario,
            kernel: o.kernel,
        },
    )
}
