//! # lab-import — the notebook's trace importer, loaded on demand
//!
//! [`scenarios::import`] compiled to a WASM module of its own
//! (`lab_import.js` and `lab_import_bg.wasm` in `target/dist`), so that the
//! notebook's first load does not carry it: the page fetches it with a
//! dynamic `import()` only when the user imports a trace (lab-web's
//! `ui/importer.js` and `ui::app::import`). The trace is read in the page, a
//! chunk at a time, and nothing is uploaded.
//!
//! The page calls it through its classes, so that the page's own bundle
//! parses nothing new: a [`Session`] is `push`ed the bytes as they are read
//! (memory follows the TSC events kept, not the file), `finish`ed, then
//! says what it read in the page's words (`read`, `vms`, `problems`,
//! `stopped`) and rebuilds a VM as a [`Run`] (`run(vm, tsc_khz)`, or throws
//! why not), as often as the user picks a VM or a rate. A `Run` hands over
//! the scenario text, the estimate's sentences, the trace's events as JSON
//! and the replay timing as numbers
//! ([`TraceReplay::to_numbers`](scenarios::protocol::TraceReplay::to_numbers)).
//! The plain functions [`summary`] and [`run`] are what they call, tested
//! natively.
//!
//! Jupyter notebooks come and go through here too ([`ipynb_to_notebook`],
//! [`notebook_to_ipynb`]): `.ipynb` is read and written with a generic JSON
//! tree that the first load should not carry either.
//!
//! Bounds: the importer's own ([`LIMITS`]: VMs, vCPUs, TSC events kept,
//! bytes a line; past them events are counted, not kept), then the
//! notebook's: a VM of at most [`MAX_WRITES`] writes becomes a cell.

use scenarios::Event;
use scenarios::import::{ImportLimits, Imported, Importer, VmInfo};
use scenarios::protocol::{TRACE_MAX_WRITES, TraceReplay};
use wasm_bindgen::prelude::*;

/// The importer's bounds: [`ImportLimits::DEFAULT`], as the CLI's.
pub const LIMITS: ImportLimits = ImportLimits::DEFAULT;

/// The most TSC writes of one VM a notebook cell takes.
pub const MAX_WRITES: u64 = TRACE_MAX_WRITES;

/// Problems listed; the rest are counted in one more line.
pub const PROBLEMS_SHOWN: usize = 20;

/// What a trace holds, in the words the page shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceSummary {
    /// What was read: `47 lines: 35 TSC events, 0 other events; 1 VM.`
    pub read: String,
    /// One line per VM, VM `i + 1` at index `i`.
    pub vms: Vec<String>,
    /// The first [`PROBLEMS_SHOWN`] problems, `line N: what`, then
    /// `…and N more.` if there are more.
    pub problems: Vec<String>,
    /// Where a file cut off part way stopped, in a sentence.
    pub stopped: Option<String>,
}

/// One VM of a trace, rebuilt for a notebook cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRun {
    /// The VM's id: 1-based, in the order the VMs first appear.
    pub vm: u32,
    /// The traced host's TSC rate the values were estimated at.
    pub tsc_khz: u32,
    /// The rebuilt scenario's canonical text.
    pub text: String,
    /// How the values were found and their error, in sentences.
    pub estimate: Vec<String>,
    /// Every TSC event of the VM is in the run.
    pub complete: bool,
    /// The trace's kernel view, backend `trace`, ending with its summary.
    pub events: Vec<Event>,
    /// The moments and values to replay the models at.
    pub replay: TraceReplay,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// One VM as the page lists it: `pid 15215 (qemu-system-x86) · 4 vCPUs · 12 writes`.
pub fn vm_words(vm: &VmInfo) -> String {
    let mut who = match (vm.pid, vm.tgid) {
        (Some(p), Some(g)) => format!("pid {p}, tgid {g}"),
        (Some(p), None) => format!("pid {p}"),
        (None, Some(g)) => format!("tgid {g}"),
        (None, None) => "no pid in the trace".into(),
    };
    if let Some(t) = &vm.task {
        who.push_str(&format!(" ({t})"));
    }
    let mut s = format!(
        "{who} · {} · {}",
        plural(u64::from(vm.vcpus), "vCPU", "vCPUs"),
        plural(vm.writes, "write", "writes")
    );
    if vm.kept < vm.events {
        s.push_str(" · not every event kept: its run ends at the last one kept");
    }
    if vm.writes > MAX_WRITES {
        s.push_str(&format!(
            " · more than a cell takes ({})",
            grouped(MAX_WRITES)
        ));
    }
    s
}

/// What the trace holds, in the page's words: what was read, the VMs, the
/// first problems with their lines.
pub fn summary(imported: &Imported) -> TraceSummary {
    let shown = PROBLEMS_SHOWN;
    let more = imported.problems.len().saturating_sub(shown) as u64 + imported.problems_not_kept;
    let mut read = format!(
        "{}: {}, {}; {}.",
        plural(imported.lines, "line", "lines"),
        plural(imported.tsc_events, "TSC event", "TSC events"),
        plural(imported.foreign_events, "other event", "other events"),
        plural(imported.vms.len() as u64, "VM", "VMs"),
    );
    if imported.events_not_kept > 0 {
        read.push_str(&format!(
            " {} not kept (malformed, past a bound, or of no VM).",
            plural(imported.events_not_kept, "TSC event", "TSC events")
        ));
    }
    let mut problems: Vec<String> = imported
        .problems
        .iter()
        .take(shown)
        .map(ToString::to_string)
        .collect();
    if more > 0 {
        problems.push(format!("…and {} more.", grouped(more)));
    }
    TraceSummary {
        read,
        vms: imported.vms.iter().map(vm_words).collect(),
        problems,
        stopped: imported.stopped.as_ref().map(|s| s.message.clone()),
    }
}

/// VM `vm` rebuilt at `tsc_khz`, or why it cannot be.
pub fn run(imported: &Imported, vm: u32, tsc_khz: u32) -> Result<TraceRun, String> {
    let Some(info) = imported.vm(vm) else {
        return Err(format!(
            "there is no VM {vm}: the trace holds {}",
            match imported.vms.len() {
                0 => "none".to_string(),
                1 => "one (VM 1)".to_string(),
                n => format!("{n} (VMs 1 to {n})"),
            }
        ));
    };
    if tsc_khz == 0 {
        return Err("the traced host's TSC rate must be above 0 kHz".into());
    }
    if info.writes > MAX_WRITES {
        return Err(format!(
            "VM {vm} has {} TSC writes, and a notebook cell takes up to {} (it is measured to 64 vCPUs × 1,024 writes): `lab-server import FILE --vm {vm}` reads it whole",
            grouped(info.writes),
            grouped(MAX_WRITES)
        ));
    }
    let r = imported.run(vm, tsc_khz).ok_or_else(|| {
        format!("VM {vm} has no TSC write kept (see the problems), so there is nothing to rebuild")
    })?;
    Ok(TraceRun {
        vm,
        tsc_khz,
        replay: TraceReplay {
            host: r.host,
            start: r.start,
            stamps: r.stamps,
        },
        text: r.text,
        estimate: r.estimate,
        complete: r.complete,
        events: r.events,
    })
}

/// 65536 → `65,536`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One import in the page: bytes in, then what was read, then runs.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Session {
    reading: Option<Importer>,
    read: Option<Imported>,
    summary: TraceSummary,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

#[wasm_bindgen]
impl Session {
    /// A session reading with [`LIMITS`].
    #[wasm_bindgen(constructor)]
    pub fn new() -> Session {
        Session {
            reading: Some(Importer::new(LIMITS)),
            read: None,
            summary: TraceSummary::default(),
        }
    }

    /// The next bytes of the trace, cut anywhere. Ignored once finished.
    pub fn push(&mut self, bytes: &[u8]) {
        if let Some(i) = &mut self.reading {
            i.push_bytes(bytes);
        }
    }

    /// The end of the input.
    pub fn finish(&mut self) {
        if let Some(i) = self.reading.take() {
            let imported = i.finish();
            self.summary = summary(&imported);
            self.read = Some(imported);
        }
    }

    /// What was read, in a sentence.
    pub fn read(&self) -> String {
        self.summary.read.clone()
    }

    /// One line per VM: VM `i + 1` at index `i`.
    pub fn vms(&self) -> Vec<String> {
        self.summary.vms.clone()
    }

    /// The lines the importer could not use, `line N: what` (at most
    /// [`PROBLEMS_SHOWN`], then `…and N more.`).
    pub fn problems(&self) -> Vec<String> {
        self.summary.problems.clone()
    }

    /// Where a file cut off part way stopped, if it did.
    pub fn stopped(&self) -> Option<String> {
        self.summary.stopped.clone()
    }

    /// VM `vm` rebuilt at `tsc_khz`; throws an `Error` that says why not.
    pub fn run(&self, vm: u32, tsc_khz: u32) -> Result<Run, JsError> {
        self.answer(vm, tsc_khz)
            .map(|r| Run(Box::new(r)))
            .map_err(|e| JsError::new(&e))
    }
}

impl Session {
    /// What [`Session::run`] answers, as Rust.
    pub fn answer(&self, vm: u32, tsc_khz: u32) -> Result<TraceRun, String> {
        let imported = self
            .read
            .as_ref()
            .ok_or("the trace has not been read to its end")?;
        run(imported, vm, tsc_khz)
    }
}

/// One VM rebuilt, as the page takes it.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Run(Box<TraceRun>);

#[wasm_bindgen]
impl Run {
    /// The rebuilt scenario's text.
    pub fn text(&self) -> String {
        self.0.text.clone()
    }

    /// The TSC rate the values were estimated at.
    pub fn tsc_khz(&self) -> u32 {
        self.0.tsc_khz
    }

    /// How the values were found and their error, in sentences.
    pub fn estimate(&self) -> Vec<String> {
        self.0.estimate.clone()
    }

    /// Every TSC event of the VM is in the run.
    pub fn complete(&self) -> bool {
        self.0.complete
    }

    /// The trace's kernel view, backend `trace`: a JSON array of events.
    pub fn events(&self) -> String {
        serde_json::to_string(&self.0.events).unwrap_or_default()
    }

    /// The replay timing, as [`TraceReplay::to_numbers`] lays it out.
    pub fn replay(&self) -> Vec<u64> {
        self.0.replay.to_numbers()
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// The importer's speed in this browser, for the web budgets: lines per
/// second on `scenarios::bench::import_trace_text(lines)`, the median of
/// `runs`, as JSON.
#[wasm_bindgen(js_name = benchImport)]
pub fn bench_import(lines: u32, runs: u32) -> String {
    let t = scenarios::bench::import_throughput(lines, runs, performance_now);
    serde_json::to_string(&t).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use scenarios::{BackendId, Event, trace};

    fn answer(s: &Session, vm: u32, khz: u32) -> Result<TraceRun, String> {
        s.answer(vm, khz)
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/tests/traces/");
        std::fs::read(format!("{path}{name}")).expect(name)
    }

    fn read(bytes: &[u8], chunk: usize) -> Session {
        let mut s = Session::new();
        for c in bytes.chunks(chunk) {
            s.push(c);
        }
        s
    }

    #[test]
    fn a_boot_reads_as_one_vm_and_rebuilds_with_its_trace_column() {
        let mut s = read(&fixture("captured-qemu-7.2-boot-4.trace"), 7);
        s.finish();
        let summary = s.summary.clone();
        assert_eq!(
            summary.vms,
            ["pid 15215 (qemu-system-x86) · 4 vCPUs · 12 writes"]
        );
        assert_eq!(
            summary.read,
            "47 lines: 35 TSC events, 0 other events; 1 VM. 1 TSC event not kept (malformed, past a bound, or of no VM)."
        );
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
        let run = answer(&s, 1, 2_596_130).unwrap();
        assert_eq!(run.tsc_khz, 2_596_130);
        assert!(
            run.text
                .starts_with("title Imported trace: VM 1 (qemu-system-x86, pid 15215)"),
            "{}",
            run.text
        );
        assert!(!run.estimate.is_empty());
        assert_eq!(trace::writes(&run.events).count(), 12);
        assert!(run.events.iter().all(|e| match e {
            Event::Write(w) => w.backend == BackendId::Trace,
            Event::Summary(s) => s.backend == BackendId::Trace,
            _ => true,
        }));
        let end = trace::summary(&run.events).unwrap();
        assert_eq!((end.nr_matched, end.kvmclock_stable), (Some(3), true));
        // The models replayed at the trace's moments: 3.14 overcounts.
        let scenario = scenarios::parse(&run.text).unwrap();
        let replay = TraceReplay::from_numbers(&Run(Box::new(run.clone())).replay()).unwrap();
        let events: Vec<Event> =
            serde_json::from_str(&Run(Box::new(run.clone())).events()).unwrap();
        assert_eq!(events, run.events);
        assert_eq!(replay.host.tsc_khz, 2_596_130);
        let old =
            scenarios::replay_model(&scenario, BackendId::Linux314, replay.host, replay.timing());
        let end = trace::summary(&old.events).unwrap();
        assert_eq!((end.nr_matched, end.kvmclock_stable), (Some(11), false));
    }

    #[test]
    fn several_vms_are_listed_and_asked_for_by_id() {
        let mut s = read(&fixture("captured-two-qemus.trace"), 1 << 16);
        s.finish();
        let summary = s.summary.clone();
        assert_eq!(summary.vms.len(), 2);
        for vm in [1, 2] {
            assert_eq!(answer(&s, vm, 2_600_000).map(|r| r.vm), Ok(vm));
        }
        assert_eq!(
            answer(&s, 3, 2_600_000),
            Err("there is no VM 3: the trace holds 2 (VMs 1 to 2)".into())
        );
        assert!(answer(&s, 1, 0).unwrap_err().contains("above 0 kHz"));
    }

    #[test]
    fn problems_are_listed_by_line_up_to_twenty_then_counted() {
        let mut text = String::new();
        for i in 0..25 {
            text.push_str(&format!("garbage line {i}\n"));
        }
        let mut s = read(text.as_bytes(), 5);
        s.finish();
        let summary = s.summary.clone();
        assert_eq!(summary.problems.len(), PROBLEMS_SHOWN + 1);
        assert_eq!(summary.problems[20], "…and 5 more.");
        assert!(
            summary.problems[0].starts_with("line 1: "),
            "{:?}",
            summary.problems
        );
        assert!(summary.problems[19].starts_with("line 20: "));
        assert!(summary.vms.is_empty());
        assert_eq!(
            answer(&s, 1, 2_600_000),
            Err("there is no VM 1: the trace holds none".into())
        );
    }

    #[test]
    fn a_cut_file_says_where_it_stopped() {
        let mut s = read(
            &fixture("captured-qemu-7.2-boot-4-truncated.trace"),
            1 << 16,
        );
        s.finish();
        let summary = s.summary.clone();
        assert!(summary.stopped.is_some(), "{summary:?}");
    }

    #[test]
    fn a_vm_past_the_notebook_bound_is_refused_with_its_count() {
        let text = scenarios::bench::import_trace_text(300_000);
        let mut s = read(text.as_bytes(), 1 << 20);
        s.finish();
        let summary = s.summary.clone();
        assert_eq!(
            summary.vms,
            [
                "pid 16461 (qemu-system-x86) · 4 vCPUs · 75,000 writes · more than a cell takes (65,536)"
            ]
        );
        let e = answer(&s, 1, 2_600_000).unwrap_err();
        assert!(
            e.starts_with("VM 1 has 75,000 TSC writes, and a notebook cell takes up to 65,536"),
            "{e}"
        );
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }
}

/// A Jupyter notebook's text (`.ipynb`, nbformat 4) as a TSC Lab notebook
/// file (its JSON), or why not, saying where ([`lab_web::ipynb::from_ipynb`]).
#[wasm_bindgen(js_name = ipynbToNotebook)]
pub fn ipynb_to_notebook(text: &str) -> Result<String, JsError> {
    ipynb_to_notebook_native(text)
        .map(|nb| nb.to_json())
        .map_err(|e| JsError::new(&e))
}

/// [`ipynb_to_notebook`], natively.
pub fn ipynb_to_notebook_native(text: &str) -> Result<lab_web::notebook::Notebook, String> {
    lab_web::ipynb::from_ipynb(text)
}

/// A notebook's file form as `.ipynb` (nbformat 4.5): each scenario cell's
/// outputs made as every export makes them ([`lab_web::ipynb::CellOutput::of_cell`]),
/// with the charts the page drew: `charts` is JSON, `[[cell id, title, svg], …]`.
#[wasm_bindgen(js_name = notebookToIpynb)]
pub fn notebook_to_ipynb(notebook: &str, charts: &str) -> Result<String, JsError> {
    export_ipynb(notebook, charts).map_err(|e| JsError::new(&e))
}

/// [`notebook_to_ipynb`], natively.
pub fn export_ipynb(notebook: &str, charts: &str) -> Result<String, String> {
    use lab_web::ipynb::{CellOutput, Svg};
    use lab_web::notebook::{CellKind, Notebook};
    let nb = Notebook::from_json(notebook)?;
    let charts: Vec<(u32, String, String)> =
        serde_json::from_str(charts).map_err(|e| format!("the charts: {e}"))?;
    Ok(lab_web::ipynb::to_ipynb(&nb, |id| {
        let cell = nb.cells.iter().find(|c| c.id == id)?;
        let CellKind::Scenario { text, backends, .. } = &cell.kind else {
            return None;
        };
        let (mut out, _) = CellOutput::of_cell(text, backends);
        out.charts.extend(
            charts
                .iter()
                .filter(|(cell, ..)| *cell == id)
                .map(|(_, title, svg)| Svg {
                    title: title.clone(),
                    svg: svg.clone(),
                }),
        );
        Some(out)
    }))
}

#[cfg(test)]
mod jupyter_tests {
    /// The page's export: the notebook's file form and the charts it drew in,
    /// nbformat 4.5 out, each chart on its cell; and back in again.
    #[test]
    fn a_notebook_and_its_charts_become_ipynb_and_back() {
        let nb = lab_web::notebook::Notebook::from_library("qemu-2.0-boot-2").unwrap();
        let id = nb
            .cells
            .iter()
            .find(|c| matches!(c.kind, lab_web::notebook::CellKind::Scenario { .. }))
            .unwrap()
            .id;
        let charts = serde_json::to_string(&[(id, "a chart", "<svg>…</svg>")]).unwrap();
        let text = super::export_ipynb(&nb.to_json(), &charts).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (v["nbformat"].as_u64(), v["nbformat_minor"].as_u64()),
            (Some(4), Some(5))
        );
        let outputs = v["cells"][1]["outputs"].as_array().unwrap();
        assert!(
            outputs[0]["data"]["text/html"]
                .as_str()
                .unwrap()
                .contains("UNSTABLE")
        );
        assert_eq!(
            outputs.last().unwrap()["data"]["image/svg+xml"],
            "<svg>…</svg>"
        );
        let back = super::ipynb_to_notebook_native(&text).unwrap();
        assert_eq!(back.cells.len(), nb.cells.len());
        assert!(
            super::export_ipynb("{", "[]")
                .unwrap_err()
                .contains("line 1")
        );
    }
}
