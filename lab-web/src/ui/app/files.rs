//! The notebook as a file (open, save: TSC Lab's JSON or Jupyter's
//! `.ipynb`) and as a link (share).

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use super::super::{dom, lazy};
use super::Page;
use super::doc::Edit;
use crate::charts::Spec;
use crate::ipynb;
use crate::notebook::{CellKind, Notebook};

/// Reads the chosen `.tsclab.json` or `.ipynb` file in place of the notebook
/// (a Jupyter notebook through lab-import; its outputs are not read: the
/// cells run anew).
pub(super) fn on_open(page: &Page) -> Callback<Event> {
    let (d, notice) = (page.doc.dispatcher(), page.notice.clone());
    let importer = format!("{}lab_import.js", page.env.endpoints.base);
    Callback::from(move |e: Event| {
        let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        let (d, notice, importer) = (d.clone(), notice.clone(), importer.clone());
        let name = file.name();
        wasm_bindgen_futures::spawn_local(async move {
            let text = wasm_bindgen_futures::JsFuture::from(file.text())
                .await
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            let json = if ipynb::looks_like_ipynb(&text) {
                lazy::ipynb_to_notebook(&importer, &text)
                    .await
                    .map(|v| v.as_string().unwrap_or_default())
                    .map_err(|e| lazy::message(&e))
            } else {
                Ok(text)
            };
            match json.and_then(|j| Notebook::from_json(&j)) {
                Ok(nb) => {
                    d.dispatch(Edit::Replace(nb));
                    notice.set(Some(format!("Opened {name}.")));
                }
                Err(e) => notice.set(Some(format!("{name}: {e}"))),
            }
        });
        input.set_value("");
    })
}

/// Downloads the notebook, named after its title.
pub(super) fn on_save(page: &Page) -> Callback<MouseEvent> {
    let doc = page.doc.clone();
    Callback::from(move |_: MouseEvent| {
        let name = dom::file_name(&doc.nb.title);
        let _ = dom::download(
            &format!("{name}.tsclab.json"),
            "application/json",
            &doc.nb.to_json(),
        );
    })
}

/// Copies a link that holds the whole notebook, and shows it.
pub(super) fn on_share(page: &Page) -> Callback<MouseEvent> {
    let (doc, share) = (page.doc.clone(), page.share.clone());
    Callback::from(move |_: MouseEvent| {
        let url = format!("{}#{}", dom::share_base(), doc.nb.to_fragment());
        dom::copy(&url);
        share.set(Some(url));
    })
}

/// Downloads the notebook as Jupyter's `.ipynb`: every cell, and each
/// scenario cell's output as TSC Lab shows it — the models' verdicts and
/// the charts, drawn by lab-charts — so JupyterLab, nbviewer and GitHub show
/// the results without TSC Lab. The file is written by lab-import.
pub(super) fn on_export_ipynb(page: &Page) -> Callback<MouseEvent> {
    let (doc, env, notice) = (page.doc.clone(), page.env.clone(), page.notice.clone());
    Callback::from(move |_: MouseEvent| {
        let nb = doc.nb.clone();
        let base = env.endpoints.base.clone();
        let specs: Vec<(u32, Spec)> = nb
            .cells
            .iter()
            .filter_map(|c| match &c.kind {
                CellKind::Scenario { text, backends, .. } => Some((c.id, text, backends)),
                CellKind::Markdown { .. } => None,
            })
            .flat_map(|(id, text, backends)| {
                let runs = ipynb::export_runs(text, backends).unwrap_or_default();
                ipynb::export_charts(&runs)
                    .into_iter()
                    .map(move |s| (id, s))
            })
            .collect();
        // The charts are drawn one after another; the file is written after the last.
        let drawn = Rc::new(RefCell::new((Vec::new(), specs.len())));
        let finish = Rc::new({
            let (drawn, notice, base) = (drawn.clone(), notice.clone(), base.clone());
            move || {
                let charts: Vec<(u32, String, String)> = std::mem::take(&mut drawn.borrow_mut().0);
                let charts = serde_json::to_string(&charts).unwrap_or_else(|_| "[]".into());
                let (nb, notice, importer) =
                    (nb.clone(), notice.clone(), format!("{base}lab_import.js"));
                wasm_bindgen_futures::spawn_local(async move {
                    let name = format!("{}.ipynb", dom::file_name(&nb.title));
                    let written = lazy::notebook_to_ipynb(&importer, &nb.to_json(), &charts)
                        .await
                        .map(|v| v.as_string().unwrap_or_default())
                        .map_err(|e| lazy::message(&e))
                        .and_then(|text| dom::download(&name, "application/x-ipynb+json", &text));
                    notice.set(Some(match written {
                        Ok(()) => format!("Saved {name} (nbformat 4.5)."),
                        Err(e) => format!("{name}: {e}"),
                    }));
                });
            }
        });
        if specs.is_empty() {
            return finish();
        }
        for (id, spec) in specs {
            let (drawn, finish) = (drawn.clone(), finish.clone());
            lazy::draw_chart(&base, spec, move |chart| {
                let done = {
                    let mut d = drawn.borrow_mut();
                    if let Ok(c) = chart {
                        d.0.push((id, c.title.clone(), c.svg.to_string()));
                    }
                    d.1 -= 1;
                    d.1 == 0
                };
                if done {
                    finish();
                }
            });
        }
    })
}
