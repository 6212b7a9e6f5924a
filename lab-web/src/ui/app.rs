//! The notebook page: the toolbar, the host banner and the cells.

use std::rc::Rc;

use scenarios::BackendId;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use yew::prelude::*;

use super::cell::ScenarioCell;
use super::live::Endpoints;
use super::{Env, EnvAct, Host, dom, use_env};
use crate::charts::Theme;
use crate::markdown;
use crate::notebook::{CellKind, Notebook};

const CURRENT: &str = "tsclab.notebook.current";
const THEME: &str = "tsclab.theme";

#[derive(Properties, PartialEq)]
pub(crate) struct AppProps {
    pub endpoints: Endpoints,
}

/// The notebook a visit starts with, what to say about it, and whether it
/// may be saved as the current notebook at once (not when the saved one
/// could not be read: that one is left alone).
fn initial() -> (Notebook, Option<String>, bool) {
    let (nb, notice) = opened();
    let keep_storage = notice
        .as_deref()
        .is_some_and(|n| n.starts_with("Your saved notebook"));
    (nb, notice, !keep_storage)
}

fn opened() -> (Notebook, Option<String>) {
    match Notebook::from_fragment(&dom::location_hash()) {
        Ok(Some(nb)) => return (nb, Some("Opened from a shared link.".into())),
        Ok(None) => {}
        Err(e) => {
            return (
                Notebook::welcome(),
                Some(format!(
                    "The link could not be opened: {e}. Showing the welcome notebook."
                )),
            );
        }
    }
    if let Some(name) = dom::query("scenario") {
        return match Notebook::from_library(&name) {
            Some(nb) => (nb, None),
            None => (
                Notebook::welcome(),
                Some(format!("There is no library scenario `{name}`.")),
            ),
        };
    }
    match dom::load(CURRENT).map(|s| Notebook::from_json(&s)) {
        Some(Ok(nb)) => (nb, None),
        Some(Err(e)) => (
            Notebook::welcome(),
            Some(format!(
                "Your saved notebook could not be read ({e}); it is left in storage untouched."
            )),
        ),
        None => (Notebook::welcome(), None),
    }
}

enum Edit {
    Replace(Notebook),
    Title(String),
    Text(u32, String),
    Backends(u32, Vec<BackendId>),
    Move(u32, i32),
    Delete(u32),
    Add(usize, CellKind),
}

#[derive(PartialEq)]
struct Doc {
    nb: Notebook,
    /// Bumped when the notebook is replaced: cells remount.
    generation: u32,
}

impl Reducible for Doc {
    type Action = Edit;
    fn reduce(self: Rc<Self>, e: Edit) -> Rc<Self> {
        let mut nb = self.nb.clone();
        let mut generation = self.generation;
        match e {
            Edit::Replace(n) => {
                nb = n;
                generation += 1;
            }
            Edit::Title(t) => nb.title = t,
            Edit::Text(id, t) => {
                if let Some(c) = nb.cells.iter_mut().find(|c| c.id == id) {
                    match &mut c.kind {
                        CellKind::Markdown { text } | CellKind::Scenario { text, .. } => *text = t,
                    }
                }
            }
            Edit::Backends(id, chosen) => {
                if let Some(c) = nb.cells.iter_mut().find(|c| c.id == id)
                    && let CellKind::Scenario { backends, .. } = &mut c.kind
                {
                    *backends = chosen;
                }
            }
            Edit::Move(id, by) => {
                if let Some(i) = nb.cells.iter().position(|c| c.id == id) {
                    let j = i as i64 + i64::from(by);
                    if (0..nb.cells.len() as i64).contains(&j) {
                        nb.cells.swap(i, j as usize);
                    }
                }
            }
            Edit::Delete(id) => nb.cells.retain(|c| c.id != id),
            Edit::Add(at, kind) => {
                let id = nb.next_id();
                let at = at.min(nb.cells.len());
                nb.cells.insert(at, crate::notebook::Cell { id, kind });
            }
        }
        if !dom::save(CURRENT, &nb.to_json()) {
            web_sys::console::warn_1(&"TSC Lab: this browser would not save the notebook".into());
        }
        Rc::new(Doc { nb, generation })
    }
}

#[function_component(NotebookApp)]
pub(crate) fn notebook_app(p: &AppProps) -> Html {
    let env = use_env(&p.endpoints);
    let start = use_memo((), |_| initial());
    let doc = use_reducer(|| Doc {
        nb: start.0.clone(),
        generation: 0,
    });
    let notice = use_state(|| start.1.clone());
    let projector = use_state(|| {
        dom::query("projector").is_some() || dom::location_hash().contains("projector")
    });
    let share = use_state(|| None::<String>);

    // What opened the page (a shared link, `?scenario=`) has been read: it
    // becomes the current notebook, and the address forgets it, so a reload
    // shows the notebook as edited since.
    {
        let start = start.clone();
        use_effect_with((), move |_| {
            if start.2 {
                let _ = dom::save(CURRENT, &start.0.to_json());
            }
            dom::forget_opening_link();
        });
    }
    // A shared link pasted into this tab changes only the fragment: no new
    // page load, so the link is read here too.
    {
        let (d, notice) = (doc.dispatcher(), notice.clone());
        use_effect_with((), move |_| {
            let on_hash = Closure::<dyn Fn()>::new(move || {
                match Notebook::from_fragment(&dom::location_hash()) {
                    Ok(Some(nb)) => {
                        d.dispatch(Edit::Replace(nb));
                        notice.set(Some("Opened from a shared link.".into()));
                    }
                    Ok(None) => return,
                    Err(e) => notice.set(Some(format!("The link could not be opened: {e}."))),
                }
                dom::forget_opening_link();
            });
            let w = dom::window();
            if let Some(w) = &w {
                let _ = w.add_event_listener_with_callback(
                    "hashchange",
                    on_hash.as_ref().unchecked_ref(),
                );
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
    }
    // Theme: the user's choice, else the system's.
    {
        let env = env.clone();
        use_effect_with((), move |_| {
            if let Some(t) = dom::load(THEME) {
                set_theme(&env, &t);
            }
        });
    }
    // Mark the page ready for the browser tests and the budget bench.
    use_effect_with((), |_| {
        if let Some(b) = dom::document().and_then(|d| d.body()) {
            let _ = b.set_attribute("data-lab-ready", &format!("{:.1}", dom::now_ms()));
        }
    });

    let d = doc.dispatcher();
    let on_library = {
        let (d, notice) = (d.clone(), notice.clone());
        Callback::from(move |e: Event| {
            if let Some(s) = e.target_dyn_into::<web_sys::HtmlSelectElement>() {
                let name = s.value();
                if let Some(nb) = Notebook::from_library(&name) {
                    d.dispatch(Edit::Replace(nb));
                    notice.set(Some(format!("Opened library scenario `{name}`. Your previous notebook was replaced; use “Save file” first to keep one.")));
                }
                s.set_value("");
            }
        })
    };
    let on_welcome = {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.dispatch(Edit::Replace(Notebook::welcome())))
    };
    let on_new = {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| {
            let mut nb = Notebook::new("Untitled notebook");
            nb.push(CellKind::Markdown {
                text: "# Notes\n\nWrite here.".into(),
            });
            nb.push(CellKind::Scenario {
                text: "create 2\nwrite * 0\nrun *\n".into(),
                backends: crate::notebook::default_backends(),
                predict: Vec::new(),
            });
            d.dispatch(Edit::Replace(nb));
        })
    };
    let on_save = {
        let doc = doc.clone();
        Callback::from(move |_: MouseEvent| {
            let name = dom::file_name(&doc.nb.title);
            let _ = dom::download(
                &format!("{name}.tsclab.json"),
                "application/json",
                &doc.nb.to_json(),
            );
        })
    };
    let on_open = {
        let (d, notice) = (d.clone(), notice.clone());
        Callback::from(move |e: Event| {
            let Some(input) = e.target_dyn_into::<web_sys::HtmlInputElement>() else {
                return;
            };
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            let (d, notice) = (d.clone(), notice.clone());
            let name = file.name();
            wasm_bindgen_futures::spawn_local(async move {
                let text = wasm_bindgen_futures::JsFuture::from(file.text())
                    .await
                    .ok()
                    .and_then(|v| v.as_string())
                    .unwrap_or_default();
                match Notebook::from_json(&text) {
                    Ok(nb) => {
                        d.dispatch(Edit::Replace(nb));
                        notice.set(Some(format!("Opened {name}.")));
                    }
                    Err(e) => notice.set(Some(format!("{name}: {e}"))),
                }
            });
            input.set_value("");
        })
    };
    let on_share = {
        let (doc, share) = (doc.clone(), share.clone());
        Callback::from(move |_: MouseEvent| {
            let url = format!("{}#{}", dom::share_base(), doc.nb.to_fragment());
            dom::copy(&url);
            share.set(Some(url));
        })
    };
    let on_projector = {
        let projector = projector.clone();
        Callback::from(move |_: MouseEvent| projector.set(!*projector))
    };
    let on_theme = {
        let env = env.clone();
        Callback::from(move |_: MouseEvent| {
            let next = if env.theme == Theme::Dark {
                "light"
            } else {
                "dark"
            };
            let _ = dom::save(THEME, next);
            set_theme(&env, next);
        })
    };
    let on_title = {
        let d = d.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(i) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                d.dispatch(Edit::Title(i.value()));
            }
        })
    };

    let nb = &doc.nb;
    let add_bar = |at: usize| {
        let (d1, d2) = (d.clone(), d.clone());
        html! {
            <div class="lab-add">
                <button onclick={Callback::from(move |_: MouseEvent| d1.dispatch(Edit::Add(at, CellKind::Markdown { text: "Write here.".into() })))}>
                    { "+ Text" }
                </button>
                <button onclick={Callback::from(move |_: MouseEvent| d2.dispatch(Edit::Add(at, CellKind::Scenario {
                    text: "create 2\nwrite * 0\nrun *\n".into(),
                    backends: crate::notebook::default_backends(),
                    predict: Vec::new(),
                })))}>
                    { "+ Scenario" }
                </button>
            </div>
        }
    };

    html! {
        <ContextProvider<Env> context={(*env).clone()}>
        <div class={classes!("tsclab", "lab-app", projector.then_some("lab-projector"))}>
            <header class="lab-header">
                <input class="lab-title" aria-label="notebook title" value={nb.title.clone()} oninput={on_title} />
                <nav class="lab-toolbar" aria-label="notebook">
                    <select class="lab-library" aria-label="open a library scenario" onchange={on_library}>
                        <option value="" selected=true>{ "Library…" }</option>
                        { for scenarios::library::LIBRARY.iter().map(|e| html! {
                            <option value={e.name}>{ e.name }</option>
                        }) }
                    </select>
                    <button onclick={on_welcome}>{ "Welcome" }</button>
                    <button onclick={on_new}>{ "New" }</button>
                    <label class="lab-file">{ "Open file" }
                        <input type="file" accept=".json,application/json" onchange={on_open} />
                    </label>
                    <button onclick={on_save}>{ "Save file" }</button>
                    <button class="lab-share" onclick={on_share}>{ "Share link" }</button>
                    <button class="lab-projector-toggle" aria-pressed={projector.to_string()} onclick={on_projector}>{ "Projector" }</button>
                    <button class="lab-theme" onclick={on_theme}>{ if env.theme == Theme::Dark { "Light mode" } else { "Dark mode" } }</button>
                    <a href="book/">{ "Book" }</a>
                </nav>
            </header>
            <HostBanner host={env.host.clone()} />
            if let Some(n) = (*notice).clone() {
                <p class="lab-notice" role="status">{ n }
                    <button class="lab-linkish" aria-label="dismiss" onclick={let notice = notice.clone(); Callback::from(move |_: MouseEvent| notice.set(None))}>{ " ✕" }</button>
                </p>
            }
            if let Some(url) = (*share).clone() {
                <p class="lab-share-link" role="status">
                    { "Link copied (it holds the whole notebook): " }
                    <input readonly=true value={url} aria-label="share link" class="lab-share-url" />
                </p>
            }
            <main class="lab-cells">
                { add_bar(0) }
                { for nb.cells.iter().enumerate().map(|(i, c)| {
                    let id = c.id;
                    let (up, down, del) = (d.clone(), d.clone(), d.clone());
                    let tools = html! {
                        <div class="lab-cell-tools" role="toolbar" aria-label={format!("cell {}", i + 1)}>
                            <button title="move up" aria-label="move cell up" disabled={i == 0}
                                onclick={Callback::from(move |_: MouseEvent| up.dispatch(Edit::Move(id, -1)))}>{ "↑" }</button>
                            <button title="move down" aria-label="move cell down" disabled={i + 1 == nb.cells.len()}
                                onclick={Callback::from(move |_: MouseEvent| down.dispatch(Edit::Move(id, 1)))}>{ "↓" }</button>
                            <button title="delete" aria-label="delete cell"
                                onclick={Callback::from(move |_: MouseEvent| del.dispatch(Edit::Delete(id)))}>{ "✕" }</button>
                        </div>
                    };
                    let key = format!("{}-{id}", doc.generation);
                    let body = match &c.kind {
                        CellKind::Markdown { text } => {
                            let d = d.clone();
                            html! { <MarkdownCell text={AttrValue::from(text.clone())}
                                on_text={Callback::from(move |t| d.dispatch(Edit::Text(id, t)))} /> }
                        }
                        CellKind::Scenario { text, backends, predict } => {
                            let (d, d2) = (d.clone(), d.clone());
                            let library = scenarios::library::LIBRARY.iter().find(|e| e.text == text).map(|e| AttrValue::from(e.name));
                            html! { <ScenarioCell
                                text={AttrValue::from(text.clone())}
                                {library}
                                backends={Rc::new(backends.clone())}
                                predict={Rc::new(predict.clone())}
                                progress_key={AttrValue::from(format!("{}#{id}", nb.title))}
                                on_text={Some(Callback::from(move |t| d.dispatch(Edit::Text(id, t))))}
                                on_backends={Some(Callback::from(move |b| d2.dispatch(Edit::Backends(id, b))))}
                            /> }
                        }
                    };
                    html! {
                        <section class="lab-cell-frame" {key}>
                            { tools }
                            { body }
                            { add_bar(i + 1) }
                        </section>
                    }
                }) }
            </main>
            <footer class="lab-footer">
                { "TSC Lab · models of kvm_write_tsc() (Linux 3.14, 3.17) and kvm_synchronize_tsc() (Linux 6.18) · " }
                { format!("{} backends: ", BackendId::ALL.len()) }
                { BackendId::ALL.map(|b| b.name()).join(", ") }
            </footer>
        </div>
        </ContextProvider<Env>>
    }
}

fn set_theme(env: &UseReducerHandle<Env>, name: &str) {
    if let Some(root) = dom::document().and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-theme", name);
    }
    env.dispatch(EnvAct::Theme(if name == "dark" {
        Theme::Dark
    } else {
        Theme::Light
    }));
}

#[derive(Properties, PartialEq)]
struct HostProps {
    host: Host,
}

/// What the server says about real KVM here, or model-only mode.
#[function_component(HostBanner)]
fn host_banner(p: &HostProps) -> Html {
    match &p.host {
        Host::Checking => {
            html! { <div class="lab-host lab-host-checking" role="status">{ "Looking for a lab server…" }</div> }
        }
        Host::NoServer => html! {
            <div class="lab-host lab-host-models" role="status" data-mode="no-server">
                <strong>{ "Model-only mode" }</strong>
                { ": no lab server answers here. The four kernel models run in your browser; real-KVM columns show runs recorded on a lab machine where the site ships one. Run " }
                <code>{ "cargo xtask lab" }</code>{ " for live KVM." }
            </div>
        },
        Host::Locked => html! {
            <div class="lab-host lab-host-models" role="status" data-mode="locked">
                <strong>{ "This lab server needs a token" }</strong>
                { ": open the link you were given (it ends in ?token=…). Until then the four kernel models run in your browser." }
            </div>
        },
        Host::Server {
            report,
            mode,
            notice,
        } => {
            let honoured = match report.offsets_honoured {
                Some(true) => "yes",
                Some(false) => "no — the kernel's own view (tracepoints) is read instead",
                None => "not probed",
            };
            html! {
                <div class={classes!("lab-host", if mode == "kvm" { "lab-host-kvm" } else { "lab-host-models" })} role="status" data-mode={mode.clone()}>
                    <strong>{ if mode == "kvm" { "Real KVM available" } else { "Model-only mode" } }</strong>
                    <span>{ format!(" · kernel {} · KVM {} · clocksource {}", report.kernel, report.flavour, report.clocksource) }</span>
                    <span>{ format!(" · TSC offsets honoured: {honoured}") }</span>
                    <span>{ format!(" · tracing: {}", if report.tracing { "on" } else { "off" }) }</span>
                    if let Some(n) = notice { <div class="lab-host-notice">{ n.clone() }</div> }
                    if report.flavour == "kvm-pvm" {
                        <div class="lab-host-notice">{ "This host is kvm-pvm (software nested KVM): the kernel's matching and master-clock code runs for real, but the TSC offset does not reach what the guest reads. The lab shows the kernel's own view." }</div>
                    }
                    if let Some(pr) = &report.tracing_problem { <div class="lab-host-notice">{ pr.clone() }</div> }
                </div>
            }
        }
    }
}

#[derive(Properties, PartialEq)]
struct MarkdownProps {
    text: AttrValue,
    on_text: Callback<String>,
}

#[function_component(MarkdownCell)]
fn markdown_cell(p: &MarkdownProps) -> Html {
    let editing = use_state(|| false);
    let toggle = {
        let editing = editing.clone();
        Callback::from(move |_: MouseEvent| editing.set(!*editing))
    };
    let oninput = {
        let cb = p.on_text.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(t) = e.target_dyn_into::<web_sys::HtmlTextAreaElement>() {
                cb.emit(t.value());
            }
        })
    };
    let html = use_memo(p.text.clone(), |t| AttrValue::from(markdown::to_html(t)));
    html! {
        <div class="lab-markdown-cell">
            <button class="lab-linkish lab-edit" onclick={toggle}>{ if *editing { "Done" } else { "Edit text" } }</button>
            if *editing {
                <textarea class="lab-md-source" aria-label="text (markdown)" value={p.text.clone()}
                    rows={(p.text.lines().count() + 2).clamp(4, 30).to_string()} {oninput} />
            }
            <div class="lab-markdown">{ Html::from_html_unchecked((*html).clone()) }</div>
        </div>
    }
}
