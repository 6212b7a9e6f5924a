//! "Import trace…": a trace file chosen, dropped on the page or pasted is
//! read by the importer — lab-import, a WASM module of its own that the
//! page loads on the first import (`ui::lazy`), so the first load does
//! not carry it — and each VM asked for becomes a new scenario cell. The
//! panel says what was read, the problems by line, the bounds, and the TSC
//! rate the values are estimated at; with several VMs the user picks one.
//! Nothing is uploaded.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

use super::super::lazy::{self, read_trace};
use super::super::{Env, Host, dom};
use super::doc::{Doc, Edit};
use crate::imported::{self, ImportedTrace, Parts, Rate};

// lab-import's classes, called as they are: the page parses no new shape.
#[wasm_bindgen]
extern "C" {
    type ImportSession;
    #[wasm_bindgen(method)]
    fn read(this: &ImportSession) -> String;
    #[wasm_bindgen(method)]
    fn vms(this: &ImportSession) -> Vec<String>;
    #[wasm_bindgen(method)]
    fn problems(this: &ImportSession) -> Vec<String>;
    #[wasm_bindgen(method)]
    fn stopped(this: &ImportSession) -> Option<String>;
    #[wasm_bindgen(method, catch)]
    fn run(this: &ImportSession, vm: u32, khz: u32) -> Result<ImportRun, JsValue>;
    #[wasm_bindgen(method, js_name = free)]
    fn free_session(this: &ImportSession);

    type ImportRun;
    #[wasm_bindgen(method)]
    fn text(this: &ImportRun) -> String;
    #[wasm_bindgen(method)]
    fn tsc_khz(this: &ImportRun) -> u32;
    #[wasm_bindgen(method)]
    fn estimate(this: &ImportRun) -> Vec<String>;
    #[wasm_bindgen(method)]
    fn complete(this: &ImportRun) -> bool;
    #[wasm_bindgen(method)]
    fn events(this: &ImportRun) -> String;
    #[wasm_bindgen(method)]
    fn replay(this: &ImportRun) -> Vec<u64>;
    #[wasm_bindgen(method, js_name = free)]
    fn free_run(this: &ImportRun);
}

/// A read trace in the importer's memory; freed when the last holder lets go.
struct Session(ImportSession);

impl Drop for Session {
    fn drop(&mut self) {
        self.0.free_session();
    }
}

/// What the panel shows of a read trace.
struct Summary {
    read: String,
    vms: Vec<String>,
    problems: Vec<String>,
    stopped: Option<String>,
}

/// What to import.
pub(super) enum Input {
    /// A chosen or dropped file.
    File(web_sys::File),
    /// A pasted text.
    Text(String),
}

#[derive(Clone)]
enum Stage {
    Idle,
    Reading {
        name: String,
    },
    Read {
        name: String,
        session: Rc<Session>,
        summary: Rc<Summary>,
        /// What the last action did, in a sentence.
        said: String,
    },
    Failed {
        name: String,
        message: String,
    },
}

/// The import's state and its actions, for the toolbar and the panel.
pub(super) struct UseImport {
    stage: UseStateHandle<Stage>,
    /// A TSC rate typed by the user, in kHz.
    chosen: UseStateHandle<Option<u32>>,
    /// The rate the next VM is rebuilt at, and where it comes from.
    rate: (u32, Rate),
    pub(super) start: Callback<Input>,
    d: UseReducerDispatcher<Doc>,
}

fn server_khz(host: &Host) -> Option<u32> {
    match host {
        Host::Server { report, .. } => report.tsc_khz,
        _ => None,
    }
}

/// VM `vm` of the session as a new cell; what happened, in a sentence.
fn add_vm(
    session: &Session,
    name: &str,
    vm: u32,
    (khz, rate): (u32, Rate),
    d: &UseReducerDispatcher<Doc>,
) -> String {
    let trace = session
        .0
        .run(vm, khz)
        .map_err(|e| lazy::message(&e))
        .and_then(|r| {
            let parts = Parts {
                vm,
                text: r.text(),
                tsc_khz: r.tsc_khz(),
                estimate: r.estimate(),
                complete: r.complete(),
                events: r.events(),
                replay: r.replay(),
            };
            r.free_run();
            ImportedTrace::new(parts, name, rate)
        });
    match trace {
        Ok(t) => {
            d.dispatch(Edit::Import(Rc::new(t)));
            dom::focus_soon(".lab-cell-frame:last-of-type .lab-trace-bar");
            format!(
                "VM {vm} of {name} is the new cell at the end of the notebook, its values estimated at {}.",
                rate.words(khz)
            )
        }
        Err(e) => format!("VM {vm} could not become a cell: {e}."),
    }
}

/// Whether an event happened in a text field (where paste and drop keep
/// their usual meaning).
fn in_field(target: Option<web_sys::EventTarget>) -> bool {
    target
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| {
            e.closest("input, textarea, select, [contenteditable]")
                .ok()
                .flatten()
        })
        .is_some()
}

/// The import's state machine, and the page's paste and drop listeners.
#[hook]
pub(super) fn use_import(env: &Env, doc: &UseReducerHandle<Doc>) -> UseImport {
    let stage = use_state(|| Stage::Idle);
    let chosen = use_state(|| None::<u32>);
    let serial = use_mut_ref(|| 0u32);
    let rate = Rate::pick(*chosen, server_khz(&env.host));
    let d = doc.dispatcher();
    let start = {
        let (stage, d, base) = (stage.clone(), d.clone(), env.endpoints.base.clone());
        Callback::from(move |input: Input| {
            let (name, source) = match input {
                Input::File(f) => (f.name(), JsValue::from(f)),
                Input::Text(t) => ("the pasted trace".to_string(), JsValue::from_str(&t)),
            };
            let n = {
                let mut s = serial.borrow_mut();
                *s += 1;
                *s
            };
            stage.set(Stage::Reading { name: name.clone() });
            let (stage, d, serial) = (stage.clone(), d.clone(), serial.clone());
            let url = format!("{base}lab_import.js");
            wasm_bindgen_futures::spawn_local(async move {
                let read = read_trace(&url, &source).await;
                if *serial.borrow() != n {
                    // A newer import started meanwhile: this one is dropped.
                    if let Ok(s) = read {
                        drop(Session(s.unchecked_into()));
                    }
                    return;
                }
                let session = match read {
                    Ok(s) => Rc::new(Session(s.unchecked_into())),
                    Err(e) => {
                        let message = format!(
                            "the importer could not read it ({}). Nothing was uploaded; the page is as it was.",
                            lazy::message(&e)
                        );
                        return stage.set(Stage::Failed { name, message });
                    }
                };
                let s = &session.0;
                let summary = Summary {
                    read: s.read(),
                    vms: s.vms(),
                    problems: s.problems(),
                    stopped: s.stopped(),
                };
                let said = match summary.vms.as_slice() {
                    [] => "No VM in this trace: no kvm_write_tsc_offset or kvm_track_tsc line could be read (the problems are below).".to_string(),
                    [_] => add_vm(&session, &name, 1, rate, &d),
                    many => {
                        dom::focus_soon(".lab-import-vm");
                        format!(
                            "The trace holds {} VMs: pick one below to add it as a cell.",
                            many.len()
                        )
                    }
                };
                stage.set(Stage::Read {
                    name,
                    session,
                    summary: Rc::new(summary),
                    said,
                });
            });
        })
    };

    // Paste and drop anywhere on the page (not into a text field): the
    // listeners call the latest `start`, which knows the latest rate.
    let latest = use_mut_ref(|| None::<Callback<Input>>);
    *latest.borrow_mut() = Some(start.clone());
    use_effect_with((), move |_| {
        let emit = move |i: Input| {
            let cb = latest.borrow().clone();
            if let Some(cb) = cb {
                cb.emit(i);
            }
        };
        let emit2 = emit.clone();
        let on_paste =
            Closure::<dyn Fn(web_sys::ClipboardEvent)>::new(move |e: web_sys::ClipboardEvent| {
                if in_field(e.target()) {
                    return;
                }
                let text = e
                    .clipboard_data()
                    .and_then(|d| d.get_data("text/plain").ok())
                    .unwrap_or_default();
                if imported::looks_like_trace(&text) {
                    e.prevent_default();
                    emit(Input::Text(text));
                }
            });
        let on_over = Closure::<dyn Fn(web_sys::DragEvent)>::new(move |e: web_sys::DragEvent| {
            let Some(dt) = e.data_transfer() else { return };
            let types = dt.types();
            let files = types.includes(&"Files".into(), 0);
            if files || (!in_field(e.target()) && types.includes(&"text/plain".into(), 0)) {
                e.prevent_default();
            }
        });
        let on_drop = Closure::<dyn Fn(web_sys::DragEvent)>::new(move |e: web_sys::DragEvent| {
            let Some(dt) = e.data_transfer() else { return };
            if let Some(f) = dt.files().and_then(|f| f.get(0)) {
                e.prevent_default();
                return emit2(Input::File(f));
            }
            if in_field(e.target()) {
                return;
            }
            let text = dt.get_data("text/plain").unwrap_or_default();
            if imported::looks_like_trace(&text) {
                e.prevent_default();
                emit2(Input::Text(text));
            }
        });
        let w = dom::window();
        let listen = move |add: bool| {
            let Some(w) = &w else { return };
            for (name, f) in [
                ("paste", on_paste.as_ref()),
                ("dragover", on_over.as_ref()),
                ("drop", on_drop.as_ref()),
            ] {
                let _ = if add {
                    w.add_event_listener_with_callback(name, f.unchecked_ref())
                } else {
                    w.remove_event_listener_with_callback(name, f.unchecked_ref())
                };
            }
        };
        listen(true);
        // The closures live in `listen` until the page lets go of them.
        move || listen(false)
    });
    UseImport {
        stage,
        chosen,
        rate,
        start,
        d,
    }
}

impl UseImport {
    /// The toolbar's file input.
    pub(super) fn on_file(&self) -> Callback<Event> {
        let start = self.start.clone();
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() else {
                return;
            };
            if let Some(file) = input.files().and_then(|f| f.get(0)) {
                start.emit(Input::File(file));
            }
            input.set_value("");
        })
    }
}

/// The import panel under the banner: nothing until an import starts.
pub(super) fn panel(imp: &UseImport) -> Html {
    let close = {
        let stage = imp.stage.clone();
        Callback::from(move |_: MouseEvent| {
            stage.set(Stage::Idle);
            dom::focus_soon(".lab-import-file input");
        })
    };
    let body = match &*imp.stage {
        Stage::Idle => return html! {},
        Stage::Reading { name } => html! {
            <p role="status">{ format!("Reading {name} in this browser (the importer loads on first use)…") }</p>
        },
        Stage::Failed { name, message } => html! {
            <p class="lab-error" role="alert">{ format!("{name}: {message}") }</p>
        },
        Stage::Read {
            name,
            session,
            summary,
            said,
        } => {
            let (khz, rate) = imp.rate;
            let on_khz = {
                let chosen = imp.chosen.clone();
                Callback::from(move |e: Event| {
                    if let Some(i) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                        chosen.set(i.value().trim().parse::<u32>().ok().filter(|&k| k > 0));
                    }
                })
            };
            let vms = summary.vms.iter().zip(1u32..).map(|(words, id)| {
                let onclick = {
                    let (stage, session, name, d) =
                        (imp.stage.clone(), session.clone(), name.clone(), imp.d.clone());
                    let summary = summary.clone();
                    Callback::from(move |_: MouseEvent| {
                        let said = add_vm(&session, &name, id, (khz, rate), &d);
                        stage.set(Stage::Read {
                            name: name.clone(),
                            session: session.clone(),
                            summary: summary.clone(),
                            said,
                        });
                    })
                };
                html! {
                    <li>
                        <button class="lab-import-vm" {onclick}>{ format!("Add VM {id} as a cell") }</button>
                        { format!(" {words}") }
                    </li>
                }
            });
            html! { <>
                <h2>{ format!("Imported trace: {name}") }</h2>
                <p role="status">{ said.clone() }</p>
                <p>{ summary.read.clone() }</p>
                if let Some(s) = &summary.stopped {
                    <p class="lab-host-warning">{ s.clone() }</p>
                }
                if !summary.problems.is_empty() {
                    <p>{ "Lines it could not use:" }</p>
                    <ul class="lab-import-problems" tabindex="0" aria-label="Lines the importer could not use">
                        { for summary.problems.iter().map(|p| html! { <li>{ p.clone() }</li> }) }
                    </ul>
                }
                if !summary.vms.is_empty() {
                    <label>{ "The traced host's TSC rate, for the values' estimates (kHz): " }
                        <input type="number" class="lab-import-khz" min="1" value={khz.to_string()} onchange={on_khz} />
                    </label>
                    { format!(" now {}", rate.words(khz)) }
                    <ul class="lab-import-vms" aria-label="the VMs in the trace">{ for vms }</ul>
                }
            </> }
        }
    };
    html! {
        <section class="lab-import" aria-label="import a trace">
            { body }
            <p class="lab-note">{ imported::limits_words() }</p>
            <button class="lab-import-close" onclick={close}>{ "Close" }</button>
        </section>
    }
}
