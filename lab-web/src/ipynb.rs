//! Jupyter interop: a notebook as an `.ipynb` file (nbformat 4.5) and back.
//!
//! There is no Jupyter kernel for scenarios, so the file names no
//! `kernelspec`; JupyterLab, nbviewer and GitHub open it all the same and show
//! what TSC Lab computed when it wrote the file. Text cells are markdown
//! cells; scenario cells are code cells in the language `tsc-scenario`
//! (cell metadata `language`, notebook `language_info`), their backends and
//! predictions in the cell's `tsc_lab` metadata, their outputs `display_data`
//! (the verdict table as plain semantic HTML and as text, each chart as SVG)
//! — markup only, no style, no script, so sanitizing viewers keep it.
//!
//! Reading takes any nbformat 4 file. Outputs are never read back: they are
//! recomputed, and never trusted as markup. Cells TSC Lab cannot run —
//! Python or other code cells, raw cells — come back as markdown cells
//! holding a fenced code block in their language, so nothing is lost.

use std::collections::HashSet;

use scenarios::BackendId;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::analysis::{self, BackendRun, Status, Verdict};
use crate::charts::Chart;
use crate::markdown::escape;
use crate::notebook::{CellKind, Notebook, default_backends, parse_backends, parse_predictions};

/// The language of scenario cells: code cells' `metadata.language` and the
/// notebook's `language_info.name`.
pub const LANGUAGE: &str = "tsc-scenario";
/// `language_info.file_extension`: the library's scenario files.
pub const FILE_EXTENSION: &str = ".tsc";
/// `language_info.mimetype`.
pub const MIMETYPE: &str = "text/x-tsc-scenario";
/// The nbformat this module writes: 4.5 (cell ids).
pub const NBFORMAT: u64 = 4;
pub const NBFORMAT_MINOR: u64 = 5;
/// The title of an imported notebook that names none and has no heading.
pub const DEFAULT_TITLE: &str = "Imported notebook";

/// What a scenario cell shows, as the caller computed it: one
/// `display_data` with the verdicts (`text/html` and `text/plain`), then one
/// per chart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CellOutput {
    pub html: String,
    pub plain: String,
    pub charts: Vec<Svg>,
}

/// A drawn chart: its title (the output's `text/plain`, the alt text) and
/// its SVG text (`image/svg+xml`; it must carry its `xmlns`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Svg {
    pub title: String,
    pub svg: String,
}

impl From<&Chart> for Svg {
    fn from(c: &Chart) -> Svg {
        Svg {
            title: c.title.clone(),
            svg: c.svg.to_string(),
        }
    }
}

impl CellOutput {
    /// The verdict table of `runs` ([`verdict_output`]), no charts.
    pub fn from_runs(scenario_text: &str, runs: &[BackendRun]) -> CellOutput {
        let (html, plain) = verdict_output(scenario_text, runs);
        CellOutput {
            html,
            plain,
            charts: Vec::new(),
        }
    }

    /// The output with a sentence after the verdicts (e.g. [`left_out_note`]).
    pub fn with_note(mut self, note: &str) -> CellOutput {
        self.html += &format!("<p>{}</p>\n", escape(note));
        if !self.plain.is_empty() && !self.plain.ends_with('\n') {
            self.plain.push('\n');
        }
        self.plain += note;
        self.plain.push('\n');
        self
    }

    /// The whole output of a scenario cell as an export makes it, short of
    /// drawing its charts ([`export_charts`]): its models run, the verdicts,
    /// and what was left out.
    pub fn of_cell(text: &str, backends: &[BackendId]) -> (CellOutput, Vec<BackendRun>) {
        let runs = export_runs(text, backends).unwrap_or_default();
        let out = CellOutput::from_runs(text, &runs);
        let out = match left_out_note(backends) {
            Some(note) => out.with_note(&note),
            None => out,
        };
        (out, runs)
    }

    fn to_json(&self) -> Vec<Value> {
        let display = |data: Value| {
            json!({
                "output_type": "display_data",
                "data": data,
                "metadata": {},
            })
        };
        let mut out = vec![display(json!({
            "text/html": self.html,
            "text/plain": self.plain,
        }))];
        for c in &self.charts {
            out.push(display(json!({
                "image/svg+xml": c.svg,
                "text/plain": c.title,
            })));
        }
        out
    }
}

// ---------------------------------------------------------------- export

/// The notebook as an nbformat 4.5 file: pretty JSON with Jupyter's 1-space
/// indent, sorted keys and a final newline. `outputs(id)` gives the outputs
/// of scenario cell `id` (none: the cell is written without outputs).
pub fn to_ipynb(nb: &Notebook, outputs: impl Fn(u32) -> Option<CellOutput>) -> String {
    let mut used = HashSet::new();
    let cells: Vec<Value> = nb
        .cells
        .iter()
        .map(|c| {
            let id = cell_id(c.id, &mut used);
            match &c.kind {
                CellKind::Markdown { text } => json!({
                    "cell_type": "markdown",
                    "id": id,
                    "metadata": {},
                    "source": source_lines(text),
                }),
                CellKind::Scenario {
                    text,
                    backends,
                    predict,
                } => {
                    let mut tsc = Map::new();
                    let names: Vec<&str> = backends.iter().map(|b| b.name()).collect();
                    tsc.insert("backends".into(), json!(names));
                    if !predict.is_empty() {
                        let specs: Vec<String> = predict.iter().map(|p| p.spec()).collect();
                        tsc.insert("predict".into(), Value::String(specs.join(";")));
                    }
                    json!({
                        "cell_type": "code",
                        "execution_count": null,
                        "id": id,
                        "metadata": {"language": LANGUAGE, "tsc_lab": tsc},
                        "outputs": outputs(c.id).map_or_else(Vec::new, |o| o.to_json()),
                        "source": source_lines(text),
                    })
                }
            }
        })
        .collect();
    let doc = json!({
        "cells": cells,
        "metadata": {
            "language_info": {
                "name": LANGUAGE,
                "file_extension": FILE_EXTENSION,
                "mimetype": MIMETYPE,
            },
            "title": nb.title,
            "tsc_lab": {
                "format": nb.format,
                "title": nb.title,
                "generator": "TSC Lab",
            },
        },
        "nbformat": NBFORMAT,
        "nbformat_minor": NBFORMAT_MINOR,
    });
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(b" "),
    );
    if doc.serialize(&mut ser).is_err() {
        return String::new();
    }
    let mut text = String::from_utf8(buf).unwrap_or_default();
    text.push('\n');
    text
}

/// `tsc-cell-ID`, made unique should two cells share an id (nbformat 4.5:
/// `^[a-zA-Z0-9-_]+$`, 1 to 64 characters).
fn cell_id(id: u32, used: &mut HashSet<String>) -> String {
    let base = format!("tsc-cell-{id}");
    let mut candidate = base.clone();
    let mut n = 2u32;
    while !used.insert(candidate.clone()) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    candidate
}

/// Jupyter's `source`: the lines, each keeping its `\n` (so the last one has
/// none unless the text ends with one).
fn source_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

// ---------------------------------------------------------------- verdicts

struct Row {
    backend: String,
    kvmclock: String,
    nr_matched: String,
    online: String,
    vcpus_matched: String,
    master_clock: String,
    failed: Option<String>,
}

const HEADERS: [&str; 6] = [
    "backend",
    "kvmclock",
    "nr_vcpus_matched_tsc",
    "online_vcpus",
    "vcpus_matched",
    "master clock",
];

impl Row {
    fn new(r: &BackendRun) -> Row {
        let verdict = r.verdict();
        let s = r.summary();
        let dash = || "–".to_string();
        Row {
            backend: r.backend.name().to_string(),
            kvmclock: verdict.label().to_string(),
            nr_matched: s
                .and_then(|s| s.nr_matched)
                .map_or_else(dash, |n| n.to_string()),
            online: s.map_or_else(dash, |s| s.online.to_string()),
            vcpus_matched: s
                .and_then(|s| s.vcpus_matched)
                .map_or_else(dash, |m| if m { "yes" } else { "no" }.to_string()),
            master_clock: s.map_or_else(dash, |s| {
                if s.master_clock { "on" } else { "off" }.to_string()
            }),
            failed: match (&r.status, verdict) {
                (Status::Failed(why), Verdict::Failed) => Some(why.clone()),
                _ => None,
            },
        }
    }

    fn cells(&self) -> [&str; 6] {
        [
            &self.backend,
            &self.kvmclock,
            &self.nr_matched,
            &self.online,
            &self.vcpus_matched,
            &self.master_clock,
        ]
    }
}

/// What an exported scenario cell runs: the kernel models among its
/// backends, on its text. Real KVM and an imported trace live in a page or a
/// server, not in a file; they are left out, and [`left_out_note`] says so in
/// the output. `Err` is the parser's first error (`line:col: message`).
pub fn export_runs(text: &str, backends: &[BackendId]) -> Result<Vec<BackendRun>, String> {
    let scenario = scenarios::parse(text).map_err(|e| e.to_string())?;
    let models: Vec<BackendId> = backends.iter().copied().filter(|b| b.is_model()).collect();
    Ok(analysis::run_models(&scenario, &models))
}

/// The sentence an export adds for the backends it could not run, if any.
pub fn left_out_note(backends: &[BackendId]) -> Option<String> {
    let out: Vec<&str> = backends
        .iter()
        .filter(|b| !b.is_model())
        .map(|b| b.name())
        .collect();
    (!out.is_empty()).then(|| {
        format!(
            "{}: not run in this export (real KVM and imported traces run in TSC Lab itself)",
            out.join(", ")
        )
    })
}

/// The charts an exported cell carries, light on white: `nr_vcpus_matched_tsc`
/// per backend, then generations and offsets per vCPU on the first backend;
/// none for a cell that did not run (it does not parse).
pub fn export_charts(runs: &[BackendRun]) -> Vec<crate::charts::Spec> {
    use crate::charts::{Theme, generations_spec, matched_spec, offsets_spec};
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    vec![
        matched_spec(runs, Theme::Light),
        generations_spec(first, Theme::Light),
        offsets_spec(first, Theme::Light),
    ]
}

/// The verdict table of a scenario cell, as HTML and as plain text: per
/// backend, kvmclock STABLE / UNSTABLE (or failed, and why), the final
/// `nr_vcpus_matched_tsc` beside `online_vcpus`, whether
/// `nr_vcpus_matched_tsc + 1 == online_vcpus` (`vcpus_matched`), the master
/// clock; then the first divergence. The HTML is plain semantic markup
/// (`<table>`, `<caption>`, `<th scope>`), every text escaped, no style and
/// no script: it reads the same in JupyterLab, nbviewer and GitHub.
pub fn verdict_output(scenario_text: &str, runs: &[BackendRun]) -> (String, String) {
    let mut html = String::new();
    let mut plain = String::new();
    let parsed = scenarios::parse(scenario_text);
    let caption = match parsed.as_ref().ok().and_then(|s| s.title()) {
        Some(t) => format!("kvmclock at the end of the run: {t}"),
        None => "kvmclock at the end of the run".to_string(),
    };
    if let Err(e) = &parsed {
        html.push_str(&format!(
            "<p>The scenario does not parse:</p>\n<pre>{}</pre>\n",
            escape(&e.to_string())
        ));
        plain.push_str(&format!("The scenario does not parse:\n{e}\n"));
    }
    if runs.is_empty() {
        let none = "No backend has run this scenario.";
        html.push_str(&format!("<p>{none}</p>\n"));
        plain.push_str(none);
        plain.push('\n');
        return (html, plain);
    }
    let rows: Vec<Row> = runs.iter().map(Row::new).collect();

    html.push_str(&format!(
        "<table>\n<caption>{}</caption>\n<thead>\n<tr>",
        escape(&caption)
    ));
    for h in HEADERS {
        html.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
    }
    html.push_str("</tr>\n</thead>\n<tbody>\n");
    for row in &rows {
        let kvmclock = match (&row.failed, row.kvmclock.as_str()) {
            (Some(why), _) => format!("failed: {}", escape(why)),
            (None, v @ ("STABLE" | "UNSTABLE")) => format!("<strong>{v}</strong>"),
            (None, v) => escape(v),
        };
        html.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{kvmclock}</td>",
            escape(&row.backend)
        ));
        for c in &row.cells()[2..] {
            html.push_str(&format!("<td>{}</td>", escape(c)));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");

    plain.push_str(&caption);
    plain.push('\n');
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row.cells()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut line = |cells: [&str; 6]| {
        let mut l = String::new();
        for (c, w) in cells.iter().zip(widths) {
            l.push_str(c);
            l.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
        }
        plain.push_str(l.trim_end());
        plain.push('\n');
    };
    line(HEADERS);
    for row in &rows {
        line(row.cells());
    }
    for row in &rows {
        if let Some(why) = &row.failed {
            plain.push_str(&format!("{} failed: {why}\n", row.backend));
        }
    }

    if runs.len() > 1 {
        match analysis::first_divergence(runs) {
            Some(d) => {
                html.push_str(&format!(
                    "<p><strong>First divergence at write {}</strong>: {}.</p>\n",
                    d.write,
                    escape(&d.what)
                ));
                plain.push_str(&format!(
                    "First divergence at write {}: {}.\n",
                    d.write, d.what
                ));
            }
            None => {
                let agree = "The backends agree on every write.";
                html.push_str(&format!("<p>{agree}</p>\n"));
                plain.push_str(agree);
                plain.push('\n');
            }
        }
    }
    (html, plain)
}

// ---------------------------------------------------------------- import

/// Whether `text` looks like a Jupyter notebook: a JSON object with a
/// top-level `"nbformat"` key. One pass over the bytes, no parsing; a TSC
/// Lab notebook file (`format`, `title`, `cells`) answers false.
pub fn looks_like_ipynb(text: &str) -> bool {
    let bytes = text.trim_start_matches('\u{feff}').trim_start().as_bytes();
    if bytes.first() != Some(&b'{') {
        return false;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i = start;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let Some(key) = bytes.get(start..i) else {
                    return false;
                };
                if depth == 1 && key == b"nbformat" {
                    let after = bytes.get(i + 1..).unwrap_or_default();
                    if after.trim_ascii_start().first() == Some(&b':') {
                        return true;
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Reads a Jupyter notebook (nbformat 4, any minor).
///
/// Markdown cells become text cells. Code cells in `tsc-scenario` (their
/// `metadata.language` or VS Code's `metadata.vscode.languageId`, else the
/// notebook's `language_info.name`, else its `kernelspec.language`) become
/// scenario cells, with the backends and predictions of their
/// `metadata.tsc_lab` (every backend and no prediction when absent). Other
/// code cells (Python, …) and raw cells come back as **markdown** cells
/// holding a fenced code block in their language, so nothing is lost; they
/// do not run. Outputs are ignored: TSC Lab recomputes its own. The cells get
/// fresh ids 1..n; the title is `metadata.tsc_lab.title`, else
/// `metadata.title`, else the first markdown heading, else
/// [`DEFAULT_TITLE`]. The result passes the checks of
/// [`Notebook::from_json`].
///
/// Errors say where (a JSON path from the top, indices from 0) and why.
pub fn from_ipynb(text: &str) -> Result<Notebook, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let why = full.strip_suffix(&suffix).unwrap_or(&full);
        format!("not JSON at line {} column {}: {why}", e.line(), e.column())
    })?;
    let Value::Object(top) = &doc else {
        return Err(format!(
            "not a Jupyter notebook: the file holds {}, not an object",
            kind(&doc)
        ));
    };
    match top.get("nbformat") {
        None => return Err("not a Jupyter notebook: there is no top-level \"nbformat\"".into()),
        Some(v) => match v.as_u64() {
            Some(NBFORMAT) => {}
            Some(n) if n < NBFORMAT => {
                return Err(format!(
                    "nbformat {n} is not supported: TSC Lab reads nbformat 4 (what Jupyter has \
                     written since IPython 3); open the notebook in Jupyter and save it to \
                     upgrade it"
                ));
            }
            Some(n) => {
                return Err(format!(
                    "nbformat {n} is not supported: TSC Lab reads nbformat 4, and this file \
                     was written by a newer Jupyter"
                ));
            }
            None => return Err(format!("nbformat: expected an integer, found {}", kind(v))),
        },
    }
    if let Some(m) = top.get("nbformat_minor")
        && !m.is_u64()
    {
        return Err(format!(
            "nbformat_minor: expected a non-negative integer, found {}",
            kind(m)
        ));
    }
    let meta = object(top.get("metadata"), "metadata")?;
    let tsc = object(meta.and_then(|m| m.get("tsc_lab")), "metadata.tsc_lab")?;
    let nb_language = meta.and_then(|m| {
        let info = m.get("language_info").and_then(|i| i.get("name"));
        let kernel = m.get("kernelspec").and_then(|k| k.get("language"));
        info.and_then(Value::as_str)
            .or_else(|| kernel.and_then(Value::as_str))
    });

    let cells = match top.get("cells") {
        None => return Err("cells: missing (a notebook has a list of cells)".into()),
        Some(Value::Array(cells)) => cells,
        Some(other) => {
            return Err(format!(
                "cells: expected a list of cells, found {}",
                kind(other)
            ));
        }
    };
    let mut nb = Notebook::new(DEFAULT_TITLE);
    let mut heading = None;
    for (i, cell) in cells.iter().enumerate() {
        let kind = cell_kind(i, cell, nb_language)?;
        if heading.is_none()
            && cell.get("cell_type").and_then(Value::as_str) == Some("markdown")
            && let CellKind::Markdown { text } = &kind
        {
            heading = first_heading(text);
        }
        nb.push(kind);
    }

    let tsc_title = match tsc.and_then(|t| t.get("title")) {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(other) => {
            return Err(format!(
                "metadata.tsc_lab.title: expected a string, found {}",
                kind(other)
            ));
        }
    };
    let title = match meta.and_then(|m| m.get("title")) {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.trim()).filter(|t| !t.is_empty()).map(str::to_string),
        Some(other) => {
            return Err(format!(
                "metadata.title: expected a string, found {}",
                kind(other)
            ));
        }
    };
    if let Some(t) = tsc_title.or(title).or(heading) {
        nb.title = t;
    }
    // The bounds and checks of the notebook file, whatever they are: no
    // second definition of them here.
    Notebook::from_json(&nb.to_json()).map_err(|e| format!("the notebook is refused: {e}"))
}

/// Cell `i` as a TSC Lab cell.
fn cell_kind(i: usize, cell: &Value, nb_language: Option<&str>) -> Result<CellKind, String> {
    let at = format!("cells[{i}]");
    let Value::Object(c) = cell else {
        return Err(format!(
            "{at}: expected a cell (an object), found {}",
            kind(cell)
        ));
    };
    let cell_type = match c.get("cell_type") {
        Some(Value::String(t)) => t.as_str(),
        None => return Err(format!("{at}.cell_type: missing")),
        Some(other) => {
            return Err(format!(
                "{at}.cell_type: expected a string, found {}",
                kind(other)
            ));
        }
    };
    let meta = object(c.get("metadata"), &format!("{at}.metadata"))?;
    let source = source(c.get("source"), &at)?;
    match cell_type {
        "markdown" => Ok(CellKind::Markdown { text: source }),
        "code" => {
            let cell_language = match meta.and_then(|m| m.get("language")) {
                None | Some(Value::Null) => None,
                Some(Value::String(l)) => Some(l.as_str()),
                Some(other) => {
                    return Err(format!(
                        "{at}.metadata.language: expected a string, found {}",
                        kind(other)
                    ));
                }
            };
            let vscode = meta
                .and_then(|m| m.get("vscode"))
                .and_then(|v| v.get("languageId"))
                .and_then(Value::as_str);
            let language = cell_language.or(vscode).or(nb_language);
            if language == Some(LANGUAGE) {
                scenario(&at, meta, source)
            } else {
                Ok(CellKind::Markdown {
                    text: fenced(language.unwrap_or(""), &source),
                })
            }
        }
        "raw" => {
            let mime = meta.and_then(|m| {
                m.get("raw_mimetype")
                    .or_else(|| m.get("format"))
                    .and_then(Value::as_str)
            });
            // `text/x-rst` → `rst`, `text/latex` → `latex`; none: `text`.
            let info = mime.map_or("text", |m| {
                let sub = m.rsplit('/').next().unwrap_or(m);
                sub.strip_prefix("x-").unwrap_or(sub)
            });
            Ok(CellKind::Markdown {
                text: fenced(info, &source),
            })
        }
        other => Err(format!(
            "{at}.cell_type: unknown cell type `{}`; expected markdown, code or raw",
            clip(other)
        )),
    }
}

/// A `tsc-scenario` code cell: its backends and predictions from
/// `metadata.tsc_lab`.
fn scenario(at: &str, meta: Option<&Map<String, Value>>, text: String) -> Result<CellKind, String> {
    let at = format!("{at}.metadata.tsc_lab");
    let tsc = object(meta.and_then(|m| m.get("tsc_lab")), &at)?;
    let backends = match tsc.and_then(|t| t.get("backends")) {
        None | Some(Value::Null) => default_backends(),
        // The `data-backends` spelling: `linux-3.14, kvm`.
        Some(Value::String(s)) => parse_backends(s).map_err(|e| format!("{at}.backends: {e}"))?,
        Some(Value::Array(names)) => {
            let mut out: Vec<BackendId> = Vec::new();
            for (j, n) in names.iter().enumerate() {
                let Value::String(name) = n else {
                    return Err(format!(
                        "{at}.backends[{j}]: expected a backend name, found {}",
                        kind(n)
                    ));
                };
                let b: BackendId = name
                    .parse()
                    .map_err(|e| format!("{at}.backends[{j}]: {e}"))?;
                if !out.contains(&b) {
                    out.push(b);
                }
            }
            if out.is_empty() {
                return Err(format!("{at}.backends: name at least one backend"));
            }
            out
        }
        Some(other) => {
            return Err(format!(
                "{at}.backends: expected a list of backend names, found {}",
                kind(other)
            ));
        }
    };
    let predict = match tsc.and_then(|t| t.get("predict")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => parse_predictions(s).map_err(|e| format!("{at}.predict: {e}"))?,
        Some(other) => {
            return Err(format!(
                "{at}.predict: expected a string such as `stable@linux-3.14;nr_matched@linux-3.14:4`, \
                 found {}",
                kind(other)
            ));
        }
    };
    Ok(CellKind::Scenario {
        text,
        backends,
        predict,
    })
}

/// A cell's `source`: a string, or a list of strings to join.
fn source(v: Option<&Value>, at: &str) -> Result<String, String> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for (j, p) in parts.iter().enumerate() {
                match p {
                    Value::String(s) => out.push_str(s),
                    other => {
                        return Err(format!(
                            "{at}.source[{j}]: expected a string (a line of the source), found {}",
                            kind(other)
                        ));
                    }
                }
            }
            Ok(out)
        }
        None => Err(format!(
            "{at}.source: missing (expected a string or a list of strings)"
        )),
        Some(other) => Err(format!(
            "{at}.source: expected a string or a list of strings, found {}",
            kind(other)
        )),
    }
}

/// `body` as a fenced code block in `language`: the fence is longer than any
/// run of backticks in the body (CommonMark), the info string one word.
fn fenced(language: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let info: String = language
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '`')
        .take(64)
        .collect();
    let mut text = format!("{fence}{info}\n{body}");
    if !body.is_empty() && !body.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&fence);
    text
}

/// The text of the first ATX heading (`# …` to `###### …`) outside fenced
/// code, if any.
fn first_heading(text: &str) -> Option<String> {
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if t.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        let level = t.bytes().take_while(|&b| b == b'#').count();
        if indent > 3 || !(1..=6).contains(&level) {
            continue;
        }
        let rest = &t[level..];
        if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            continue;
        }
        // A closing sequence of `#`s goes.
        let mut h = rest.trim();
        let stripped = h.trim_end_matches('#');
        if stripped.is_empty() || stripped.ends_with([' ', '\t']) {
            h = stripped.trim_end();
        }
        if !h.is_empty() {
            return Some(h.to_string());
        }
    }
    None
}

/// An object, or nothing (absent or null); anything else is an error at `at`.
fn object<'a>(v: Option<&'a Value>, at: &str) -> Result<Option<&'a Map<String, Value>>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(format!("{at}: expected an object, found {}", kind(other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A value from the file, short enough for a message.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() > MAX {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Source;
    use crate::notebook::{Cell, Prediction};

    /// Every notebook the lab ships: the welcome and one per library scenario.
    fn shipped() -> Vec<Notebook> {
        let mut all = vec![Notebook::welcome()];
        all.extend(
            scenarios::library::LIBRARY
                .iter()
                .map(|e| Notebook::from_library(e.name).unwrap()),
        );
        all
    }

    /// The outputs the page would write: the models' verdicts and a chart.
    fn real_outputs(nb: &Notebook) -> impl Fn(u32) -> Option<CellOutput> + '_ {
        |id| {
            let cell = nb.cells.iter().find(|c| c.id == id)?;
            let CellKind::Scenario { text, backends, .. } = &cell.kind else {
                return None;
            };
            let runs = scenarios::parse(text)
                .map(|s| analysis::run_models(&s, backends))
                .unwrap_or_default();
            let mut out = CellOutput::from_runs(text, &runs);
            out.charts.push(Svg {
                title: "nr_vcpus_matched_tsc over the TSC writes".into(),
                svg: "<svg xmlns=\"http://www.w3.org/2000/svg\"><polyline/></svg>".into(),
            });
            Some(out)
        }
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn valid_id(id: &str) -> bool {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    /// The notebook with ids 1..n, as an import numbers them.
    fn renumbered(nb: &Notebook) -> Notebook {
        let mut nb = nb.clone();
        for (i, c) in nb.cells.iter_mut().enumerate() {
            c.id = i as u32 + 1;
        }
        nb
    }

    fn minimal(cells: &str) -> String {
        format!(
            "{{\"nbformat\": 4, \"nbformat_minor\": 5, \"metadata\": {{}}, \"cells\": [{cells}]}}"
        )
    }

    #[test]
    fn every_shipped_notebook_exports_as_nbformat_4_5_with_its_outputs() {
        for nb in shipped() {
            let text = to_ipynb(&nb, real_outputs(&nb));
            assert!(text.ends_with("}\n"), "{}", nb.title);
            assert!(
                text.starts_with("{\n \"cells\": [\n  {\n"),
                "1-space indent"
            );
            let v = parse(&text);
            assert_eq!(v["nbformat"], 4);
            assert_eq!(v["nbformat_minor"], 5);
            assert!(v["metadata"].get("kernelspec").is_none());
            assert_eq!(v["metadata"]["language_info"]["name"], LANGUAGE);
            assert_eq!(v["metadata"]["language_info"]["file_extension"], ".tsc");
            assert_eq!(v["metadata"]["language_info"]["mimetype"], MIMETYPE);
            assert_eq!(v["metadata"]["tsc_lab"]["generator"], "TSC Lab");
            assert_eq!(v["metadata"]["tsc_lab"]["format"], nb.format);
            assert_eq!(v["metadata"]["tsc_lab"]["title"], nb.title.as_str());
            assert_eq!(v["metadata"]["title"], nb.title.as_str());
            let cells = v["cells"].as_array().unwrap();
            assert_eq!(cells.len(), nb.cells.len());
            let mut ids = HashSet::new();
            for (c, cell) in cells.iter().zip(&nb.cells) {
                let id = c["id"].as_str().unwrap();
                assert!(valid_id(id), "{id}");
                assert!(ids.insert(id.to_string()), "duplicate id {id}");
                assert!(c["metadata"].is_object());
                assert!(c["source"].as_array().unwrap().iter().all(Value::is_string));
                match &cell.kind {
                    CellKind::Markdown { .. } => {
                        assert_eq!(c["cell_type"], "markdown");
                        assert!(c.get("outputs").is_none() && c.get("execution_count").is_none());
                    }
                    CellKind::Scenario { backends, .. } => {
                        assert_eq!(c["cell_type"], "code");
                        assert!(c["execution_count"].is_null());
                        assert_eq!(c["metadata"]["language"], LANGUAGE);
                        let names: Vec<&str> = backends.iter().map(|b| b.name()).collect();
                        assert_eq!(c["metadata"]["tsc_lab"]["backends"], json!(names));
                        let outs = c["outputs"].as_array().unwrap();
                        assert_eq!(outs.len(), 2, "verdicts and the chart");
                        for o in outs {
                            assert_eq!(o["output_type"], "display_data");
                            assert_eq!(o["metadata"], json!({}));
                            assert!(o["data"]["text/plain"].is_string());
                        }
                        let html = outs[0]["data"]["text/html"].as_str().unwrap();
                        assert!(
                            html.contains("<table>") && html.contains("<caption>"),
                            "{html}"
                        );
                        assert!(html.contains("STABLE"), "{}: {html}", nb.title);
                        assert!(
                            outs[1]["data"]["image/svg+xml"]
                                .as_str()
                                .unwrap()
                                .starts_with("<svg")
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_shipped_notebook_round_trips() {
        for nb in shipped() {
            let text = to_ipynb(&nb, real_outputs(&nb));
            let back = from_ipynb(&text).unwrap_or_else(|e| panic!("{}: {e}", nb.title));
            assert_eq!(back, renumbered(&nb), "{}", nb.title);
            assert_eq!(to_ipynb(&back, real_outputs(&back)), text, "{}", nb.title);
        }
    }

    #[test]
    fn the_welcome_notebooks_predictions_and_backends_survive() {
        let mut nb = Notebook::welcome();
        nb.set_backends(2, vec![BackendId::Kvm, BackendId::Linux314]);
        let v = parse(&to_ipynb(&nb, |_| None));
        let tsc = &v["cells"][1]["metadata"]["tsc_lab"];
        assert_eq!(tsc["predict"], "nr_matched@linux-3.14:4;stable@linux-3.14");
        assert_eq!(tsc["backends"], json!(["kvm", "linux-3.14"]));
        assert_eq!(v["cells"][1]["outputs"], json!([]));
        assert!(v["cells"][1]["metadata"]["tsc_lab"].is_object());
        let back = from_ipynb(&to_ipynb(&nb, |_| None)).unwrap();
        assert_eq!(back, nb);
    }

    #[test]
    fn ids_come_back_fresh_and_the_rest_equal() {
        let mut nb = Notebook::untitled();
        nb.push(CellKind::Markdown {
            text: "ünïcødé & <tags>\r\nno final newline".into(),
        });
        nb.push(CellKind::Scenario {
            text: String::new(),
            backends: vec![BackendId::Linux618],
            predict: vec![Prediction::Stable {
                backend: BackendId::Linux618,
            }],
        });
        nb.delete(1);
        nb.cells[0].id = 40;
        let back = from_ipynb(&to_ipynb(&nb, |_| None)).unwrap();
        assert_eq!(
            back.cells.iter().map(|c| c.id).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(back, renumbered(&nb));
    }

    #[test]
    fn sources_are_lines_keeping_their_newlines() {
        let mut nb = Notebook::new("lines");
        nb.push(CellKind::Markdown {
            text: "a\nb\n\nc".into(),
        });
        nb.push(CellKind::Markdown { text: "x\n".into() });
        nb.push(CellKind::Markdown {
            text: String::new(),
        });
        let v = parse(&to_ipynb(&nb, |_| None));
        assert_eq!(v["cells"][0]["source"], json!(["a\n", "b\n", "\n", "c"]));
        assert_eq!(v["cells"][1]["source"], json!(["x\n"]));
        assert_eq!(v["cells"][2]["source"], json!([]));
    }

    #[test]
    fn duplicate_cell_ids_still_export_unique_ids() {
        let mut nb = Notebook::untitled();
        nb.cells.push(Cell {
            id: 1,
            kind: CellKind::new_markdown(),
        });
        let v = parse(&to_ipynb(&nb, |_| None));
        let ids: Vec<&str> = v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["tsc-cell-1", "tsc-cell-2", "tsc-cell-1-2"]);
    }

    const JUPYTER: &str = r###"{
 "cells": [
  {"cell_type": "markdown", "id": "a1", "metadata": {}, "source": ["Intro\n", "\n", "## Mixed *bag* ##\n"]},
  {"cell_type": "code", "execution_count": 3, "id": "b2", "metadata": {"scrolled": true},
   "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}],
   "source": "# not a heading\nprint('hi')"},
  {"cell_type": "raw", "id": "c3", "metadata": {"raw_mimetype": "text/x-rst"}, "source": ["**rst**"]},
  {"cell_type": "code", "execution_count": null, "id": "d4", "metadata": {"language": "tsc-scenario"},
   "outputs": [{"output_type": "display_data", "data": {"text/html": "<script>alert(1)</script>"}, "metadata": {}}],
   "source": ["create 1\n", "run *\n"]},
  {"cell_type": "code", "execution_count": null, "id": "e5", "metadata": {}, "source": "s = '```'\n"},
  {"cell_type": "raw", "id": "f6", "metadata": {}, "source": ""}
 ],
 "metadata": {
  "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
  "language_info": {"name": "python", "version": "3.12.1"}
 },
 "nbformat": 4,
 "nbformat_minor": 2
}"###;

    #[test]
    fn python_and_raw_cells_come_back_as_markdown_fences() {
        let nb = from_ipynb(JUPYTER).unwrap();
        assert_eq!(nb.title, "Mixed *bag*");
        assert_eq!(nb.format, crate::notebook::FORMAT);
        let kinds: Vec<CellKind> = nb.cells.iter().map(|c| c.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                CellKind::Markdown {
                    text: "Intro\n\n## Mixed *bag* ##\n".into()
                },
                CellKind::Markdown {
                    text: "```python\n# not a heading\nprint('hi')\n```".into()
                },
                CellKind::Markdown {
                    text: "```rst\n**rst**\n```".into()
                },
                CellKind::Scenario {
                    text: "create 1\nrun *\n".into(),
                    backends: default_backends(),
                    predict: Vec::new(),
                },
                CellKind::Markdown {
                    text: "````python\ns = '```'\n````".into()
                },
                CellKind::Markdown {
                    text: "```text\n```".into()
                },
            ]
        );
        assert_eq!(
            nb.cells.iter().map(|c| c.id).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
        // Written again, the foreign cells stay markdown; nothing of the old outputs.
        let text = to_ipynb(&nb, |_| None);
        assert!(!text.contains("alert"));
        assert_eq!(from_ipynb(&text).unwrap(), nb);
    }

    #[test]
    fn the_notebook_language_makes_code_cells_scenarios() {
        let text = r#"{"nbformat": 4, "nbformat_minor": 0,
            "metadata": {"language_info": {"name": "tsc-scenario"}, "title": " Boot "},
            "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": "create 2\n"},
                      {"cell_type": "code", "metadata": {"language": "python"}, "outputs": [], "source": "1"},
                      {"cell_type": "code", "metadata": {"tsc_lab": {"backends": "linux-3.14, kvm", "predict": null}},
                       "outputs": [], "source": "create 1\n"}]}"#;
        let nb = from_ipynb(text).unwrap();
        assert_eq!(nb.title, "Boot");
        assert!(
            matches!(&nb.cells[0].kind, CellKind::Scenario { backends, .. } if *backends == default_backends())
        );
        assert_eq!(
            nb.cells[1].kind,
            CellKind::Markdown {
                text: "```python\n1\n```".into()
            }
        );
        assert!(matches!(&nb.cells[2].kind,
            CellKind::Scenario { backends, predict, .. }
                if *backends == [BackendId::Linux314, BackendId::Kvm] && predict.is_empty()));
    }

    #[test]
    fn the_title_is_tsc_labs_then_jupyters_then_a_heading() {
        let with = |meta: &str, md: &str| {
            from_ipynb(&format!(
                "{{\"nbformat\": 4, \"nbformat_minor\": 5, \"metadata\": {meta}, \"cells\": \
                 [{{\"cell_type\": \"markdown\", \"metadata\": {{}}, \"source\": {md}}}]}}"
            ))
            .unwrap()
            .title
        };
        let both = r#"{"tsc_lab": {"title": "Ours"}, "title": "Theirs"}"#;
        assert_eq!(with(both, "\"# Heading\""), "Ours");
        assert_eq!(with(r#"{"title": "Theirs"}"#, "\"# Heading\""), "Theirs");
        assert_eq!(
            with(r#"{"title": "  "}"#, "\"text\\n### Heading #\\n\""),
            "Heading"
        );
        assert_eq!(
            with("{}", "\"```\\n# code\\n```\\n#nospace\""),
            DEFAULT_TITLE
        );
        assert_eq!(with(r#"{"tsc_lab": {"title": ""}}"#, "\"# H\""), "");
    }

    #[test]
    fn errors_say_where_and_why() {
        let e = from_ipynb("{\n \"nbformat\": 4,\n \"cells\": [}").unwrap_err();
        assert!(e.starts_with("not JSON at line 3 column"), "{e}");
        assert!(
            !e.ends_with(&format!("column {}", 12)),
            "the place is said once: {e}"
        );

        let e =
            from_ipynb(r#"{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}"#).unwrap_err();
        assert!(e.starts_with("nbformat 3 is not supported: "), "{e}");
        let e = from_ipynb(r#"{"nbformat": 5, "cells": []}"#).unwrap_err();
        assert!(e.starts_with("nbformat 5 is not supported: "), "{e}");
        let e = from_ipynb(r#"{"nbformat": "4", "cells": []}"#).unwrap_err();
        assert!(e.starts_with("nbformat: expected an integer"), "{e}");

        let e = from_ipynb(&Notebook::welcome().to_json()).unwrap_err();
        assert!(e.contains("no top-level \"nbformat\""), "{e}");
        let e = from_ipynb("[1]").unwrap_err();
        assert!(e.contains("not an object"), "{e}");
        let e = from_ipynb(r#"{"nbformat": 4}"#).unwrap_err();
        assert!(e.starts_with("cells: missing"), "{e}");

        let md = r#"{"cell_type": "markdown", "metadata": {}, "source": "x"}"#;
        let e = from_ipynb(&minimal(&format!(
            r#"{md}, {md}, {md}, {{"cell_type": "markdown", "metadata": {{}}, "source": 5}}"#
        )))
        .unwrap_err();
        assert_eq!(
            e,
            "cells[3].source: expected a string or a list of strings, found a number"
        );
        let e = from_ipynb(&minimal(
            r#"{"cell_type": "markdown", "source": ["a", null]}"#,
        ))
        .unwrap_err();
        assert!(
            e.starts_with("cells[0].source[1]: expected a string"),
            "{e}"
        );
        let e = from_ipynb(&minimal(r#"{"cell_type": "markdown"}"#)).unwrap_err();
        assert!(e.starts_with("cells[0].source: missing"), "{e}");
        let e = from_ipynb(&minimal(r#"{"cell_type": "heading", "source": ""}"#)).unwrap_err();
        assert!(
            e.starts_with("cells[0].cell_type: unknown cell type `heading`"),
            "{e}"
        );
        let e = from_ipynb(&minimal(
            r#"{"cell_type": "code", "metadata": [], "source": ""}"#,
        ))
        .unwrap_err();
        assert!(
            e.starts_with("cells[0].metadata: expected an object"),
            "{e}"
        );

        let scenario = |tsc: &str| {
            from_ipynb(&minimal(&format!(
                r#"{md}, {{"cell_type": "code", "metadata": {{"language": "tsc-scenario", "tsc_lab": {tsc}}},
                   "outputs": [], "source": "create 1\n"}}"#
            )))
            .unwrap_err()
        };
        let e = scenario(r#"{"backends": ["linux-3.14", "linux-9"]}"#);
        assert!(
            e.starts_with("cells[1].metadata.tsc_lab.backends[1]: unknown backend `linux-9`"),
            "{e}"
        );
        let e = scenario(r#"{"backends": "linux-9"}"#);
        assert!(
            e.starts_with("cells[1].metadata.tsc_lab.backends: unknown backend `linux-9`"),
            "{e}"
        );
        let e = scenario(r#"{"backends": []}"#);
        assert!(
            e.starts_with("cells[1].metadata.tsc_lab.backends: name at least one"),
            "{e}"
        );
        let e = scenario(r#"{"backends": ["trace"]}"#);
        assert!(
            e.starts_with("cells[1].metadata.tsc_lab.backends[0]: unknown backend"),
            "{e}"
        );
        let e = scenario(r#"{"backends": 3}"#);
        assert!(
            e.starts_with("cells[1].metadata.tsc_lab.backends: expected a list"),
            "{e}"
        );
        let e = scenario(r#"{"predict": "stable@linux-3.14;guess@kvm"}"#);
        assert!(
            e.starts_with("cells[1].metadata.tsc_lab.predict: prediction `guess@kvm`"),
            "{e}"
        );
        let e = scenario(r#"{"predict": ["stable@kvm"]}"#);
        assert!(
            e.starts_with("cells[1].metadata.tsc_lab.predict: expected a string"),
            "{e}"
        );
        let e = scenario("[]");
        assert!(
            e.starts_with("cells[1].metadata.tsc_lab: expected an object"),
            "{e}"
        );

        let e =
            from_ipynb(r#"{"nbformat": 4, "metadata": {"tsc_lab": {"title": 1}}, "cells": []}"#)
                .unwrap_err();
        assert!(
            e.starts_with("metadata.tsc_lab.title: expected a string"),
            "{e}"
        );
    }

    #[test]
    fn no_prefix_of_a_file_panics() {
        let nb = Notebook::welcome();
        let text = to_ipynb(&nb, real_outputs(&nb));
        for end in (0..text.len())
            .filter(|&i| text.is_char_boundary(i))
            .step_by(37)
        {
            assert!(from_ipynb(&text[..end]).is_err());
            let _ = looks_like_ipynb(&text[..end]);
        }
    }

    #[test]
    fn looks_like_ipynb_wants_a_top_level_nbformat_key() {
        let nb = Notebook::welcome();
        assert!(looks_like_ipynb(&to_ipynb(&nb, |_| None)));
        assert!(looks_like_ipynb(JUPYTER));
        assert!(looks_like_ipynb(
            "\u{feff} {\"a\": \"x\\\"\", \"nbformat\" : 4}"
        ));
        assert!(!looks_like_ipynb(&nb.to_json()));
        let mut tricky = Notebook::new("nbformat");
        tricky.push(CellKind::Markdown {
            text: "\"nbformat\": 4".into(),
        });
        assert!(!looks_like_ipynb(&tricky.to_json()));
        assert!(!looks_like_ipynb(r#"{"cells": [{"nbformat": 4}]}"#));
        assert!(!looks_like_ipynb(r#"{"a": {}} {"nbformat": 4}"#));
        assert!(!looks_like_ipynb("[\"nbformat\"]"));
        assert!(!looks_like_ipynb(""));
        assert!(!looks_like_ipynb("{\"nbformat"));
    }

    fn runs() -> Vec<BackendRun> {
        let s = scenarios::parse("create 2\nwrite * 0\nwrite * 0\nrun *\n").unwrap();
        analysis::run_models(&s, &[BackendId::Linux314, BackendId::Linux317])
    }

    #[test]
    fn the_verdict_table_is_plain_semantic_html() {
        let text = "title <b>boot</b> & co\ncreate 2\nwrite * 0\nwrite * 0\nrun *\n";
        let mut runs = runs();
        let mut failed = BackendRun::new(BackendId::Kvm, Source::Live);
        failed.status = Status::Failed("<script>no lab server</script>".into());
        runs.push(failed);
        let (html, plain) = verdict_output(text, &runs);
        assert!(html.starts_with("<table>\n<caption>kvmclock at the end of the run: &lt;b&gt;boot&lt;/b&gt; &amp; co</caption>"), "{html}");
        assert!(
            html.contains("<th scope=\"col\">nr_vcpus_matched_tsc</th>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<tr><th scope=\"row\">linux-3.14</th><td><strong>UNSTABLE</strong></td>\
                 <td>5</td><td>2</td><td>no</td><td>off</td></tr>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<tr><th scope=\"row\">linux-3.17</th><td><strong>STABLE</strong></td>\
                 <td>1</td><td>2</td><td>yes</td><td>on</td></tr>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<td>failed: &lt;script&gt;no lab server&lt;/script&gt;</td>"),
            "{html}"
        );
        assert!(
            html.contains("First divergence at write 3</strong>: "),
            "{html}"
        );
        // Only these tags, and no attribute but `scope`.
        let allowed = [
            "table",
            "caption",
            "thead",
            "tbody",
            "tr",
            "th scope=\"col\"",
            "th scope=\"row\"",
            "th",
            "td",
            "strong",
            "p",
        ];
        for tag in html.split('<').skip(1).map(|t| &t[..t.find('>').unwrap()]) {
            let name = tag.trim_start_matches('/');
            assert!(allowed.contains(&name), "<{tag}> in {html}");
        }

        let lines: Vec<&str> = plain.lines().collect();
        assert_eq!(lines[0], "kvmclock at the end of the run: <b>boot</b> & co");
        assert!(
            lines[1].starts_with("backend     kvmclock  nr_vcpus_matched_tsc  online_vcpus"),
            "{plain}"
        );
        // Every column starts at the same place on every line.
        let at = lines[1].find("nr_vcpus_matched_tsc").unwrap();
        let master = lines[1].find("master clock").unwrap();
        for (l, nr, clock) in [(2, "5 ", "off"), (3, "1 ", "on"), (4, "– ", "–")] {
            assert!(lines[l][at..].starts_with(nr), "{plain}");
            let clock_at = lines[l]
                .char_indices()
                .nth(lines[1][..master].chars().count());
            assert_eq!(
                clock_at.map(|(i, _)| &lines[l][i..]),
                Some(clock),
                "{plain}"
            );
        }
        assert!(lines[2].starts_with("linux-3.14  UNSTABLE"), "{plain}");
        assert!(lines[4].starts_with("kvm         failed"), "{plain}");
        assert!(lines.iter().all(|l| l.len() == l.trim_end().len()));
        assert_eq!(lines[5], "kvm failed: <script>no lab server</script>");
        assert!(
            lines[6].starts_with("First divergence at write 3: nr_vcpus_matched_tsc"),
            "{plain}"
        );
    }

    #[test]
    fn the_verdict_says_when_nothing_ran_or_the_text_does_not_parse() {
        let (html, plain) = verdict_output("create 2\n", &[]);
        assert_eq!(html, "<p>No backend has run this scenario.</p>\n");
        assert_eq!(plain, "No backend has run this scenario.\n");
        let (html, plain) = verdict_output("crate <2>\n", &[]);
        assert!(
            html.starts_with("<p>The scenario does not parse:</p>\n<pre>"),
            "{html}"
        );
        assert!(
            html.contains("&lt;2&gt;") || !html.contains("<2>"),
            "{html}"
        );
        assert!(
            plain.starts_with("The scenario does not parse:\n"),
            "{plain}"
        );
        let one = &runs()[1..];
        let (html, plain) = verdict_output("create 2\nwrite * 0\nwrite * 0\nrun *\n", one);
        assert!(
            !html.contains("divergence") && !html.contains("agree"),
            "{html}"
        );
        assert!(!plain.contains("divergence"), "{plain}");
        let same = [runs()[1].clone(), runs()[1].clone()];
        let (html, _) = verdict_output("create 2\n", &same);
        assert!(
            html.contains("<p>The backends agree on every write.</p>"),
            "{html}"
        );
    }

    #[test]
    fn a_chart_becomes_an_svg_output_with_its_title_as_alt_text() {
        let chart = crate::charts::matched_spec(&runs(), crate::charts::Theme::Light).drawn(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>".into(),
            (0.1, 0.9),
        );
        let mut nb = Notebook::new("chart");
        let id = nb.push(CellKind::new_scenario());
        let out = CellOutput {
            charts: vec![Svg::from(&chart)],
            ..CellOutput::from_runs("create 2\nwrite * 0\nrun *\n", &runs())
        };
        let v = parse(&to_ipynb(&nb, |i| (i == id).then(|| out.clone())));
        let o = &v["cells"][0]["outputs"][1];
        assert_eq!(
            o["data"]["image/svg+xml"],
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"
        );
        assert_eq!(o["data"]["text/plain"], chart.title.as_str());
        assert_eq!(
            v["cells"][0]["outputs"][0]["data"]["text/plain"],
            out.plain.as_str()
        );
    }
}
