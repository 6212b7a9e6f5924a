//! The notebook being edited: what the visit opened, every edit (each saved
//! at once), and shared links pasted into the tab.

use std::rc::Rc;

use scenarios::BackendId;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use yew::prelude::*;

use super::super::dom;
use crate::imported::ImportedTrace;
use crate::keys;
use crate::notebook::{CellKind, Notebook, Opening};

pub(super) enum Edit {
    /// A trace's VM, rebuilt: a new scenario cell at the end, with the
    /// trace's run beside the models.
    Import(Rc<ImportedTrace>),
    Replace(Notebook),
    Title(String),
    Text(u32, String),
    Backends(u32, Vec<BackendId>),
    Move(u32, i32),
    Delete(u32),
    Add(usize, CellKind),
}

#[derive(PartialEq)]
pub(super) struct Doc {
    pub nb: Notebook,
    /// Bumped when the notebook is replaced: cells remount.
    pub generation: u32,
    /// The imported traces of this page's cells, by cell id. Kept in memory
    /// only (a trace can be large, and the notebook goes into storage and
    /// links): after a reload an imported cell is a scenario like any other.
    pub traces: Vec<(u32, Rc<ImportedTrace>)>,
}

impl Doc {
    /// The imported trace of cell `id`, if it has one.
    pub(super) fn trace(&self, id: u32) -> Option<Rc<ImportedTrace>> {
        self.traces
            .iter()
            .find(|(c, _)| *c == id)
            .map(|(_, t)| t.clone())
    }
}

impl Reducible for Doc {
    type Action = Edit;
    fn reduce(self: Rc<Self>, e: Edit) -> Rc<Self> {
        let mut nb = self.nb.clone();
        let mut generation = self.generation;
        let mut traces = self.traces.clone();
        match e {
            Edit::Import(t) => {
                let id = nb.push(CellKind::Scenario {
                    text: t.text.clone(),
                    backends: BackendId::MODELS.to_vec(),
                    predict: Vec::new(),
                });
                traces.push((id, t));
            }
            Edit::Replace(n) => {
                nb = n;
                generation += 1;
                traces.clear();
            }
            Edit::Title(t) => nb.title = t,
            Edit::Text(id, t) => nb.set_text(id, t),
            Edit::Backends(id, chosen) => nb.set_backends(id, chosen),
            Edit::Move(id, by) => nb.move_cell(id, by),
            Edit::Delete(id) => {
                nb.delete(id);
                traces.retain(|(c, _)| *c != id);
            }
            Edit::Add(at, kind) => nb.insert(at, kind),
        }
        if !dom::save(keys::NOTEBOOK, &nb.to_json()) {
            web_sys::console::warn_1(&"TSC Lab: this browser would not save the notebook".into());
        }
        Rc::new(Doc {
            nb,
            generation,
            traces,
        })
    }
}

pub(super) type Notice = UseStateHandle<Option<String>>;

/// The notebook, and the notice about how it was opened (dismissable).
#[hook]
pub(super) fn use_doc() -> (UseReducerHandle<Doc>, Notice) {
    let start = use_memo((), |_| {
        let saved = dom::load(keys::NOTEBOOK);
        let scenario = dom::query("scenario");
        Opening::read(&dom::location_hash(), scenario.as_deref(), saved.as_deref())
    });
    let doc = use_reducer(|| Doc {
        nb: start.notebook.clone(),
        generation: 0,
        traces: Vec::new(),
    });
    let notice = use_state(|| start.notice.clone());

    // What opened the page (a shared link, `?scenario=`) has been read: it
    // becomes the current notebook, and the address forgets it, so a reload
    // shows the notebook as edited since.
    use_effect_with((), move |_| {
        if start.save {
            let _ = dom::save(keys::NOTEBOOK, &start.notebook.to_json());
        }
        dom::forget_opening_link();
    });
    // A shared link pasted into this tab changes only the fragment: no new
    // page load, so the link is read here too.
    let (d, n) = (doc.dispatcher(), notice.clone());
    use_effect_with((), move |_| {
        let on_hash = Closure::<dyn Fn()>::new(move || {
            match Notebook::from_fragment(&dom::location_hash()) {
                Ok(Some(nb)) => {
                    d.dispatch(Edit::Replace(nb));
                    n.set(Some("Opened from a shared link.".into()));
                }
                Ok(None) => return,
                Err(e) => n.set(Some(format!("The link could not be opened: {e}."))),
            }
            dom::forget_opening_link();
        });
        let w = dom::window();
        if let Some(w) = &w {
            let _ =
                w.add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
        }
        move || {
            if let Some(w) = &w {
                let _ = w.remove_event_listener_with_callback(
                    "hashchange",
                    on_hash.as_ref().unchecked_ref(),
                );
            }
            drop(on_hash);
        }
    });
    (doc, notice)
}
