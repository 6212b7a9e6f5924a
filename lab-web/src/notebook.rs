//! A notebook: markdown and scenario cells, predictions, and its file and
//! link forms.
//!
//! The JSON form is the file format (export/import) and, base64url-encoded,
//! the share link's fragment. Both carry a `format` number so a future
//! layout can still read old links.

use scenarios::BackendId;
use serde::{Deserialize, Serialize};

/// The file and link format this build writes.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notebook {
    pub format: u32,
    pub title: String,
    pub cells: Vec<Cell>,
}

/// As JSON: `{"type": "markdown" | "scenario", "id": …, …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WireCell", into = "WireCell")]
pub struct Cell {
    /// Unique in its notebook; keys the cell in the page and its progress.
    pub id: u32,
    pub kind: CellKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CellKind {
    Markdown {
        text: String,
    },
    Scenario {
        text: String,
        /// The backends this cell runs, in column order.
        backends: Vec<BackendId>,
        /// What the learner predicts before the answer is shown.
        predict: Vec<Prediction>,
    },
}

/// A cell's file form: the id beside the kind's fields (what a `flatten`
/// would give, without the extra deserializer it costs the WASM bundle).
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireCell {
    Markdown {
        id: u32,
        text: String,
    },
    Scenario {
        id: u32,
        text: String,
        backends: Vec<BackendId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        predict: Vec<Prediction>,
    },
}

impl From<WireCell> for Cell {
    fn from(w: WireCell) -> Cell {
        match w {
            WireCell::Markdown { id, text } => Cell {
                id,
                kind: CellKind::Markdown { text },
            },
            WireCell::Scenario {
                id,
                text,
                backends,
                predict,
            } => Cell {
                id,
                kind: CellKind::Scenario {
                    text,
                    backends,
                    predict,
                },
            },
        }
    }
}

impl From<Cell> for WireCell {
    fn from(c: Cell) -> WireCell {
        match c.kind {
            CellKind::Markdown { text } => WireCell::Markdown { id: c.id, text },
            CellKind::Scenario {
                text,
                backends,
                predict,
            } => WireCell::Scenario {
                id: c.id,
                text,
                backends,
                predict,
            },
        }
    }
}

/// A question a cell asks before it shows its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "snake_case")]
pub enum Prediction {
    /// Is kvmclock stable at the end of the run on this backend?
    Stable { backend: BackendId },
    /// `nr_vcpus_matched_tsc` right after write number `write` (1-based).
    NrMatched { backend: BackendId, write: u32 },
}

/// What the learner answered to a prediction (`{"stable": true}`,
/// `{"count": 3}`: externally tagged, the cheapest form to read in WASM).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Stable(bool),
    Count(u32),
}

impl Prediction {
    pub fn backend(&self) -> BackendId {
        match *self {
            Prediction::Stable { backend } | Prediction::NrMatched { backend, .. } => backend,
        }
    }

    pub fn question(&self) -> String {
        match self {
            Prediction::Stable { backend } => {
                format!("On {backend}, will kvmclock be stable at the end of the run?")
            }
            Prediction::NrMatched { backend, write } => {
                format!("On {backend}, what is nr_vcpus_matched_tsc right after write {write}?")
            }
        }
    }

    /// The `data-predict` spelling: `stable@linux-3.14`, `nr_matched@linux-3.14:4`.
    pub fn spec(&self) -> String {
        match self {
            Prediction::Stable { backend } => format!("stable@{backend}"),
            Prediction::NrMatched { backend, write } => format!("nr_matched@{backend}:{write}"),
        }
    }

    /// The true answer in a run of the backend, if the run shows it.
    pub fn answer(&self, run: &crate::analysis::BackendRun) -> Option<Answer> {
        match *self {
            Prediction::Stable { .. } => Some(Answer::Stable(run.summary()?.kvmclock_stable)),
            Prediction::NrMatched { write, .. } => {
                Some(Answer::Count(run.write(write)?.nr_matched?))
            }
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Stable(true) => f.write_str("stable"),
            Answer::Stable(false) => f.write_str("unstable"),
            Answer::Count(n) => write!(f, "{n}"),
        }
    }
}

/// Reads a `data-predict` list: `;`-separated `stable@BACKEND` and
/// `nr_matched@BACKEND:K` items. The error names the item and why.
pub fn parse_predictions(spec: &str) -> Result<Vec<Prediction>, String> {
    spec.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let bad = |why: &str| format!("prediction `{item}`: {why}");
            let (ask, rest) = item
                .split_once('@')
                .ok_or_else(|| bad("expected `stable@BACKEND` or `nr_matched@BACKEND:K`"))?;
            match ask {
                "stable" => Ok(Prediction::Stable {
                    backend: rest.parse().map_err(|e: String| bad(&e))?,
                }),
                "nr_matched" => {
                    let (b, k) = rest.split_once(':').ok_or_else(|| {
                        bad("expected `nr_matched@BACKEND:K` (K: a write number)")
                    })?;
                    let write: u32 = k
                        .parse()
                        .ok()
                        .filter(|&k| k >= 1)
                        .ok_or_else(|| bad("the write number K counts from 1"))?;
                    Ok(Prediction::NrMatched {
                        backend: b.parse().map_err(|e: String| bad(&e))?,
                        write,
                    })
                }
                other => Err(bad(&format!(
                    "unknown question `{other}`; expected `stable` or `nr_matched`"
                ))),
            }
        })
        .collect()
}

/// Reads a `data-backends` list (comma-separated backend names).
pub fn parse_backends(spec: &str) -> Result<Vec<BackendId>, String> {
    let mut out: Vec<BackendId> = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let b: BackendId = name.parse()?;
        if !out.contains(&b) {
            out.push(b);
        }
    }
    if out.is_empty() {
        return Err("name at least one backend".into());
    }
    Ok(out)
}

/// Every backend, models first: what a new scenario cell runs.
pub fn default_backends() -> Vec<BackendId> {
    BackendId::ALL.to_vec()
}

impl Notebook {
    pub fn new(title: impl Into<String>) -> Self {
        Notebook {
            format: FORMAT,
            title: title.into(),
            cells: Vec::new(),
        }
    }

    /// A fresh id for a new cell.
    pub fn next_id(&self) -> u32 {
        // Files with the largest id are refused by `from_json`, so this never wraps.
        self.cells
            .iter()
            .map(|c| c.id)
            .max()
            .map_or(1, |m| m.saturating_add(1))
    }

    pub fn push(&mut self, kind: CellKind) -> u32 {
        let id = self.next_id();
        self.cells.push(Cell { id, kind });
        id
    }

    /// A library scenario as a notebook: its story as markdown, then the scenario.
    pub fn from_library(name: &str) -> Option<Notebook> {
        let entry = scenarios::library::get(name)?;
        let s = entry.scenario().ok()?;
        let title = s.title().unwrap_or(entry.name).to_string();
        let mut nb = Notebook::new(title.clone());
        let mut md = format!("# {title}\n\n{}\n", s.story());
        for src in s.sources() {
            md.push_str(&format!("\n*Source:* {src}\n"));
        }
        md.push_str(&format!(
            "\nLibrary scenario `{name}`. Edit it below: the models re-run as you type. \
             Step through the writes with ← → (Home / End) once the output has focus.\n"
        ));
        nb.push(CellKind::Markdown { text: md });
        nb.push(CellKind::Scenario {
            text: entry.text.to_string(),
            backends: default_backends(),
            predict: Vec::new(),
        });
        Some(nb)
    }

    /// The notebook a first visit opens: the 2014 bug in three cells.
    pub fn welcome() -> Notebook {
        let mut nb = Notebook::new("TSC Lab: the 2014 TSC-matching bug");
        nb.push(CellKind::Markdown {
            text: "# Why did kvmclock go unstable in 2014?\n\n\
                   QEMU 1.6 and 2.0 wrote every vCPU's TSC three times while a VM booted. \
                   Linux 3.14's `kvm_write_tsc()` counted **every** matched write in \
                   `nr_vcpus_matched_tsc`, so `nr_vcpus_matched_tsc + 1 == online_vcpus` \
                   stopped holding, the master clock stayed off and guests lost \
                   `PVCLOCK_TSC_STABLE_BIT`. Commit 0d3da0d26e3c (Linux 3.17) counts a vCPU \
                   once per generation.\n\n\
                   Predict first, then run: the cell below is QEMU 2.0 booting two vCPUs."
                .into(),
        });
        let qemu = scenarios::library::get("qemu-2.0-boot-2").map_or("", |e| e.text);
        nb.push(CellKind::Scenario {
            text: qemu.to_string(),
            backends: default_backends(),
            predict: vec![
                Prediction::NrMatched {
                    backend: BackendId::Linux314,
                    write: 4,
                },
                Prediction::Stable {
                    backend: BackendId::Linux314,
                },
            ],
        });
        nb.push(CellKind::Markdown {
            text: "## Try\n\n\
                   - Change `create 2` to `create 1`: why does even one vCPU fail on linux-3.14?\n\
                   - Open `u8-generation-wrap` from the library: what does the u8 counter get wrong?\n\
                   - Add `wait 1.2s` between the two `write * 0` lines."
                .into(),
        });
        nb
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a notebook file. The error says what is wrong and where.
    pub fn from_json(text: &str) -> Result<Notebook, String> {
        let nb: Notebook = serde_json::from_str(text).map_err(|e| {
            // serde_json's message ends with its position: said once, first.
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let why = full.strip_suffix(&suffix).unwrap_or(&full);
            format!(
                "not a TSC Lab notebook at line {} column {}: {why}",
                e.line(),
                e.column()
            )
        })?;
        if nb.format > FORMAT {
            return Err(format!(
                "this notebook was written by a newer TSC Lab (format {}; this one reads up to {FORMAT})",
                nb.format
            ));
        }
        if nb.cells.iter().any(|c| c.id == u32::MAX) {
            return Err(format!("a cell id must be below {}", u32::MAX));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = nb.cells.iter().find(|c| !seen.insert(c.id)) {
            return Err(format!("two cells have the id {}", dup.id));
        }
        Ok(nb)
    }

    /// The share link's fragment (without `#`): `nb=` and the base64url JSON.
    pub fn to_fragment(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("nb={}", crate::share::encode(json.as_bytes()))
    }

    /// Reads a fragment written by [`Notebook::to_fragment`] (with or without `#`).
    /// `Ok(None)`: the fragment holds no notebook.
    pub fn from_fragment(fragment: &str) -> Result<Option<Notebook>, String> {
        let f = fragment.trim_start_matches('#');
        let Some(data) = f.split('&').find_map(|kv| kv.strip_prefix("nb=")) else {
            return Ok(None);
        };
        let bytes = crate::share::decode(data).map_err(|e| format!("the link is damaged: {e}"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| "the link is damaged: not UTF-8 after decoding".to_string())?;
        Notebook::from_json(&text).map(Some)
    }
}

/// The edits the notebook page makes. An id no cell has changes nothing.
impl Notebook {
    /// What "New" opens: a text cell and a small scenario to start from.
    pub fn untitled() -> Notebook {
        let mut nb = Notebook::new("Untitled notebook");
        nb.push(CellKind::Markdown {
            text: "# Notes\n\nWrite here.".into(),
        });
        nb.push(CellKind::new_scenario());
        nb
    }

    /// Replaces the text of cell `id` (markdown or scenario).
    pub fn set_text(&mut self, id: u32, text: String) {
        if let Some(c) = self.cells.iter_mut().find(|c| c.id == id) {
            match &mut c.kind {
                CellKind::Markdown { text: t } | CellKind::Scenario { text: t, .. } => *t = text,
            }
        }
    }

    /// Sets the backends of scenario cell `id`.
    pub fn set_backends(&mut self, id: u32, chosen: Vec<BackendId>) {
        if let Some(c) = self.cells.iter_mut().find(|c| c.id == id)
            && let CellKind::Scenario { backends, .. } = &mut c.kind
        {
            *backends = chosen;
        }
    }

    /// Moves cell `id` by `by` places, unless that leaves the notebook.
    pub fn move_cell(&mut self, id: u32, by: i32) {
        if let Some(i) = self.cells.iter().position(|c| c.id == id) {
            let j = i as i64 + i64::from(by);
            if (0..self.cells.len() as i64).contains(&j) {
                self.cells.swap(i, j as usize);
            }
        }
    }

    pub fn delete(&mut self, id: u32) {
        self.cells.retain(|c| c.id != id);
    }

    /// Inserts a new cell at position `at` (at the end when past it).
    pub fn insert(&mut self, at: usize, kind: CellKind) {
        let id = self.next_id();
        let at = at.min(self.cells.len());
        self.cells.insert(at, Cell { id, kind });
    }
}

impl CellKind {
    /// A new text cell.
    pub fn new_markdown() -> CellKind {
        CellKind::Markdown {
            text: "Write here.".into(),
        }
    }

    /// A new scenario cell: two vCPUs, one write each, every backend.
    pub fn new_scenario() -> CellKind {
        CellKind::Scenario {
            text: "create 2\nwrite * 0\nrun *\n".into(),
            backends: default_backends(),
            predict: Vec::new(),
        }
    }
}

/// `current` with backend `b` switched on or off, in column order; switching
/// off the last one leaves it on (a cell runs something).
pub fn toggle_backend(current: &[BackendId], b: BackendId) -> Vec<BackendId> {
    let on = current.contains(&b);
    let mut next: Vec<BackendId> = BackendId::ALL
        .into_iter()
        .filter(|x| if *x == b { !on } else { current.contains(x) })
        .collect();
    if next.is_empty() {
        next.push(b);
    }
    next
}

/// The notebook a visit starts with, and what to say about it.
#[derive(Debug, PartialEq)]
pub struct Opening {
    pub notebook: Notebook,
    pub notice: Option<String>,
    /// Whether it may be saved as the current notebook at once: not when
    /// the saved one could not be read (that one is left alone).
    pub save: bool,
}

impl Opening {
    /// From the page's fragment (a shared link), else its `?scenario=`, else
    /// the notebook saved in this browser, else the welcome notebook.
    pub fn read(fragment: &str, scenario: Option<&str>, saved: Option<&str>) -> Opening {
        let open = |notebook, notice: Option<String>| Opening {
            notebook,
            notice,
            save: true,
        };
        match Notebook::from_fragment(fragment) {
            Ok(Some(nb)) => return open(nb, Some("Opened from a shared link.".into())),
            Ok(None) => {}
            Err(e) => {
                return open(
                    Notebook::welcome(),
                    Some(format!(
                        "The link could not be opened: {e}. Showing the welcome notebook."
                    )),
                );
            }
        }
        if let Some(name) = scenario {
            return match Notebook::from_library(name) {
                Some(nb) => open(nb, None),
                None => open(
                    Notebook::welcome(),
                    Some(format!("There is no library scenario `{name}`.")),
                ),
            };
        }
        match saved.map(Notebook::from_json) {
            Some(Ok(nb)) => open(nb, None),
            Some(Err(e)) => Opening {
                notebook: Notebook::welcome(),
                notice: Some(format!(
                    "Your saved notebook could not be read ({e}); it is left in storage untouched."
                )),
                save: false,
            },
            None => open(Notebook::welcome(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::BackendRun;

    #[test]
    fn predictions_parse_and_print_back() {
        let p = parse_predictions("stable@linux-3.14; nr_matched@linux-3.17:4").unwrap();
        assert_eq!(
            p,
            vec![
                Prediction::Stable {
                    backend: BackendId::Linux314
                },
                Prediction::NrMatched {
                    backend: BackendId::Linux317,
                    write: 4
                }
            ]
        );
        let back: Vec<String> = p.iter().map(Prediction::spec).collect();
        assert_eq!(back.join(";"), "stable@linux-3.14;nr_matched@linux-3.17:4");
    }

    #[test]
    fn bad_predictions_say_which_item_and_why() {
        let e = parse_predictions("stable@linux-3.14;nr_matched@linux-3.14:0").unwrap_err();
        assert!(
            e.contains("nr_matched@linux-3.14:0") && e.contains("from 1"),
            "{e}"
        );
        let e = parse_predictions("stable@linux-9").unwrap_err();
        assert!(e.contains("unknown backend `linux-9`"), "{e}");
        let e = parse_predictions("guess@kvm").unwrap_err();
        assert!(e.contains("unknown question `guess`"), "{e}");
        assert!(parse_backends(" , ").is_err());
        assert_eq!(
            parse_backends("kvm,linux-3.14,kvm").unwrap(),
            vec![BackendId::Kvm, BackendId::Linux314]
        );
    }

    #[test]
    fn answers_come_from_the_run() {
        let s = scenarios::parse("create 2\nwrite * 0\nwrite * 0\nrun *\n").unwrap();
        let old = BackendRun::model(&s, BackendId::Linux314);
        let p =
            parse_predictions("nr_matched@linux-3.14:4;stable@linux-3.14;nr_matched@linux-3.14:99")
                .unwrap();
        assert_eq!(p[0].answer(&old), Some(Answer::Count(3)));
        assert_eq!(p[1].answer(&old), Some(Answer::Stable(false)));
        assert_eq!(p[2].answer(&old), None);
    }

    #[test]
    fn every_library_scenario_opens_as_a_notebook() {
        for e in scenarios::library::LIBRARY {
            let nb = Notebook::from_library(e.name).unwrap();
            assert_eq!(nb.cells.len(), 2, "{}", e.name);
            assert!(matches!(&nb.cells[1].kind, CellKind::Scenario { text, .. } if text == e.text));
        }
        assert!(Notebook::from_library("no-such").is_none());
    }

    #[test]
    fn the_share_fragment_round_trips_the_whole_notebook() {
        let mut nb = Notebook::welcome();
        nb.push(CellKind::Markdown {
            text: "ünïcødé & <tags> # and #fragments".into(),
        });
        let frag = nb.to_fragment();
        assert!(frag.starts_with("nb="));
        assert!(
            frag.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=-_".contains(&b))
        );
        assert_eq!(
            Notebook::from_fragment(&format!("#{frag}")).unwrap(),
            Some(nb.clone())
        );
        assert_eq!(Notebook::from_fragment("#projector").unwrap(), None);
        let damaged = &frag[..frag.len() - 7];
        assert!(
            Notebook::from_fragment(damaged)
                .unwrap_err()
                .contains("damaged")
                || Notebook::from_fragment(damaged)
                    .unwrap_err()
                    .contains("not a TSC Lab notebook")
        );
    }

    #[test]
    fn the_file_form_puts_the_id_beside_the_cell_fields() {
        let nb = Notebook::welcome();
        let v: serde_json::Value = serde_json::from_str(&nb.to_json()).unwrap();
        assert_eq!(v["cells"][0]["type"], "markdown");
        assert_eq!(v["cells"][0]["id"], 1);
        assert_eq!(v["cells"][1]["type"], "scenario");
        assert_eq!(v["cells"][1]["predict"][0]["ask"], "nr_matched");
        assert!(v["cells"][2].get("predict").is_none());
        assert_eq!(Notebook::from_json(&nb.to_json()).unwrap(), nb);
    }

    #[test]
    fn files_from_the_future_and_duplicate_ids_are_refused() {
        let mut nb = Notebook::welcome();
        nb.format = FORMAT + 1;
        assert!(
            Notebook::from_json(&nb.to_json())
                .unwrap_err()
                .contains("newer")
        );
        let mut nb = Notebook::welcome();
        nb.cells[1].id = nb.cells[0].id;
        assert!(
            Notebook::from_json(&nb.to_json())
                .unwrap_err()
                .contains("two cells")
        );
        let e = Notebook::from_json("{\"format\": 1,\n \"title\": 3}").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn edits_move_delete_and_insert_cells_by_id() {
        let mut nb = Notebook::untitled();
        let (a, b) = (nb.cells[0].id, nb.cells[1].id);
        nb.move_cell(a, -1);
        assert_eq!(nb.cells[0].id, a, "the first cell stays first");
        nb.move_cell(a, 1);
        assert_eq!((nb.cells[0].id, nb.cells[1].id), (b, a));
        nb.set_text(a, "new".into());
        assert_eq!(nb.cells[1].kind, CellKind::Markdown { text: "new".into() });
        nb.set_backends(a, vec![BackendId::Kvm]);
        nb.set_backends(b, vec![BackendId::Kvm]);
        assert!(
            matches!(&nb.cells[0].kind, CellKind::Scenario { backends, .. } if backends == &[BackendId::Kvm])
        );
        nb.insert(99, CellKind::new_markdown());
        assert_eq!(nb.cells.len(), 3);
        assert_eq!(nb.cells[2].id, b.max(a) + 1);
        nb.delete(b);
        assert!(nb.cells.iter().all(|c| c.id != b));
    }

    #[test]
    fn toggling_the_last_backend_off_leaves_it_on() {
        let both = [BackendId::Linux317, BackendId::Linux314];
        assert_eq!(
            toggle_backend(&both, BackendId::Kvm),
            vec![BackendId::Linux314, BackendId::Linux317, BackendId::Kvm]
        );
        assert_eq!(
            toggle_backend(&both, BackendId::Linux314),
            vec![BackendId::Linux317]
        );
        assert_eq!(
            toggle_backend(&[BackendId::Kvm], BackendId::Kvm),
            vec![BackendId::Kvm]
        );
    }

    #[test]
    fn a_visit_opens_the_link_then_the_library_then_the_saved_notebook() {
        let saved = Notebook::untitled().to_json();
        let link = format!("#{}", Notebook::untitled().to_fragment());
        let o = Opening::read(&link, Some("qemu-2.0-boot-2"), Some(&saved));
        assert_eq!(o.notebook, Notebook::untitled());
        assert_eq!(o.notice.as_deref(), Some("Opened from a shared link."));
        let o = Opening::read("#nb=!!", None, None);
        assert!(
            o.notice
                .unwrap()
                .starts_with("The link could not be opened")
        );
        let o = Opening::read("", Some("qemu-2.0-boot-2"), Some(&saved));
        assert_eq!(
            o.notebook,
            Notebook::from_library("qemu-2.0-boot-2").unwrap()
        );
        let o = Opening::read("", Some("nope"), None);
        assert_eq!(
            o.notice.as_deref(),
            Some("There is no library scenario `nope`.")
        );
        let o = Opening::read("", None, Some(&saved));
        assert_eq!(
            (o.notebook, o.notice, o.save),
            (Notebook::untitled(), None, true)
        );
        let o = Opening::read("", None, Some("{"));
        assert!(!o.save, "an unreadable saved notebook is left alone");
        assert_eq!(o.notebook, Notebook::welcome());
        assert_eq!(Opening::read("", None, None).notebook, Notebook::welcome());
    }
}
