//! `notebook export` and `notebook import`: a TSC Lab notebook file (the
//! notebook's own JSON, `lab_web::notebook`) as a Jupyter notebook and back.
//!
//! The export runs each scenario cell on the kernel models among its
//! backends, here, as the page would: its outputs are the verdict table
//! (`lab_web::ipynb::CellOutput`) and the page's three charts drawn by
//! lab-charts. Real KVM and an imported trace need a lab server or the page;
//! they are left out, and the cell's output says so in one line. A cell that
//! does not parse keeps its error (`line:col: message`) as its output: one
//! broken cell does not stop an instructor's export.

use std::io::{Read, Write};
use std::path::Path;

use lab_web::ipynb::{CellOutput, Svg};
use lab_web::notebook::{CellKind, Notebook};
use scenarios::BackendId;

use super::Fail;
use crate::render;

/// A notebook file is read whole; past this it is not one.
const MAX_NOTEBOOK_BYTES: u64 = 64 << 20;

/// `notebook`'s subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum Command {
    /// Write a notebook as a Jupyter notebook (nbformat 4.5): every scenario cell run on
    /// the kernel models, its verdicts and charts as the cell's outputs.
    Export(ExportOptions),
    /// Read a Jupyter notebook (.ipynb, nbformat 4) into a TSC Lab notebook file.
    Import(ImportOptions),
}

/// `notebook export`'s flags.
#[derive(clap::Args, Debug)]
pub(crate) struct ExportOptions {
    /// A TSC Lab notebook file (the notebook's "Export"), a library scenario name (see
    /// `list`), or `-` for stdin.
    pub(crate) notebook: String,
    /// As a Jupyter notebook: the format of the export.
    #[arg(long, required = true)]
    pub(crate) ipynb: bool,
    /// Where to write it (default: the file with the extension .ipynb, NAME.ipynb for a
    /// library scenario, stdout for stdin); `-` for stdout.
    #[arg(long, short, value_name = "OUT")]
    pub(crate) out: Option<String>,
}

/// `notebook import`'s flags.
#[derive(clap::Args, Debug)]
pub(crate) struct ImportOptions {
    /// A Jupyter notebook (.ipynb), or `-` for stdin.
    pub(crate) file: String,
    /// Where to write the TSC Lab notebook (default: the file with the extension .json,
    /// stdout for stdin); `-` for stdout.
    #[arg(long, short, value_name = "OUT")]
    pub(crate) out: Option<String>,
}

pub(crate) fn run(out: &mut impl Write, command: Command) -> Result<(), Fail> {
    match command {
        Command::Export(o) => export(out, o),
        Command::Import(o) => import(out, o),
    }
}

fn export(out: &mut impl Write, o: ExportOptions) -> Result<(), Fail> {
    debug_assert!(o.ipynb, "clap requires --ipynb");
    let (label, nb, default_out) = open(&o.notebook)?;
    let notes = std::cell::RefCell::new(Vec::new());
    let text = lab_web::ipynb::to_ipynb(&nb, |id| {
        let cell = nb.cells.iter().find(|c| c.id == id)?;
        let CellKind::Scenario { text, backends, .. } = &cell.kind else {
            return None;
        };
        let (output, note) = cell_output(text, backends);
        if let Some(n) = note {
            notes.borrow_mut().push(format!("{label}: cell {id}: {n}"));
        }
        Some(output)
    });
    for n in notes.into_inner() {
        eprintln!("note: {n}");
    }
    let target = o.out.unwrap_or(default_out);
    write_to(out, &target, &text)?;
    if target != "-" {
        let scenarios: Vec<&[BackendId]> = nb
            .cells
            .iter()
            .filter_map(|c| match &c.kind {
                CellKind::Scenario { backends, .. } => Some(&backends[..]),
                CellKind::Markdown { .. } => None,
            })
            .collect();
        render::notebook_exported(out, &label, &target, nb.cells.len(), &scenarios)?;
    }
    Ok(())
}

/// The notebook an export reads: a file, a library scenario, or stdin; its
/// label, and where its export goes by default.
fn open(arg: &str) -> Result<(String, Notebook, String), Fail> {
    if arg != "-"
        && !Path::new(arg).exists()
        && let Some(nb) = Notebook::from_library(arg)
    {
        return Ok((arg.to_string(), nb, format!("{arg}.ipynb")));
    }
    let (label, text) = read(
        arg,
        "no such file, and no library scenario of that name (see `lab-server list`)",
    )?;
    let nb = Notebook::from_json(&text).map_err(|e| {
        let hint = if lab_web::ipynb::looks_like_ipynb(&text) {
            format!(
                "\n(it is a Jupyter notebook: `lab-server notebook import {arg}` reads it into one)"
            )
        } else {
            String::new()
        };
        Fail::Input(format!("{label}: {e}{hint}"))
    })?;
    Ok((label, nb, default_out(arg, "ipynb")))
}

/// A cell's outputs as every export makes them (`CellOutput::of_cell`: its
/// verdicts or its error, the backends left out), its charts drawn here; and
/// a note when it does not parse.
fn cell_output(text: &str, backends: &[BackendId]) -> (CellOutput, Option<String>) {
    let note = lab_web::ipynb::export_runs(text, backends)
        .err()
        .map(|e| format!("the scenario does not parse: {e}").replace('\n', "; "));
    let (mut output, runs) = CellOutput::of_cell(text, backends);
    for spec in lab_web::ipynb::export_charts(&runs) {
        let title = spec.title.clone();
        match lab_charts::draw_spec(spec) {
            Ok(chart) => output.charts.push(Svg::from(&chart)),
            Err(e) => eprintln!("note: the chart “{title}” could not be drawn: {e}"),
        }
    }
    (output, note)
}

fn import(out: &mut impl Write, o: ImportOptions) -> Result<(), Fail> {
    let (label, text) = read(&o.file, "no such file")?;
    let nb = lab_web::ipynb::from_ipynb(&text).map_err(|e| Fail::Input(format!("{label}: {e}")))?;
    let target = o.out.unwrap_or_else(|| default_out(&o.file, "json"));
    let mut json = nb.to_json();
    json.push('\n');
    write_to(out, &target, &json)?;
    if target != "-" {
        render::notebook_imported(out, &label, &target, nb.cells.len())?;
    }
    Ok(())
}

/// `file` with another extension; stdout (`-`) for stdin.
fn default_out(file: &str, extension: &str) -> String {
    if file == "-" {
        return "-".into();
    }
    Path::new(file)
        .with_extension(extension)
        .to_string_lossy()
        .into_owned()
}

/// A notebook file's text (or stdin's), and the name it is reported under;
/// `missing` says why when there is no such file.
fn read(arg: &str, missing: &str) -> Result<(String, String), Fail> {
    let label = if arg == "-" { "<stdin>" } else { arg }.to_string();
    let mut text = String::new();
    let read = if arg == "-" {
        std::io::stdin()
            .take(MAX_NOTEBOOK_BYTES + 1)
            .read_to_string(&mut text)
    } else {
        std::fs::File::open(arg)
            .and_then(|f| f.take(MAX_NOTEBOOK_BYTES + 1).read_to_string(&mut text))
    };
    read.map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound && arg != "-" {
            missing.to_string()
        } else {
            format!("cannot read: {e}")
        };
        Fail::Input(format!("{label}: {why}"))
    })?;
    if text.len() as u64 > MAX_NOTEBOOK_BYTES {
        return Err(Fail::Input(format!(
            "{label}: more than {MAX_NOTEBOOK_BYTES} bytes; a notebook is at most that"
        )));
    }
    Ok((label, text))
}

/// Writes `text` to `target`, or to stdout for `-`.
fn write_to(out: &mut impl Write, target: &str, text: &str) -> Result<(), Fail> {
    if target == "-" {
        out.write_all(text.as_bytes())?;
        return Ok(());
    }
    std::fs::write(target, text).map_err(|e| Fail::Input(format!("{target}: cannot write: {e}")))
}
