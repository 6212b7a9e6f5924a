//! The components, and the page's entry points.
//!
//! - `mountNotebook(element, base)`: the whole notebook (index.html).
//! - `mountCells(base)`: every `.lab-cell` of a page becomes a live cell
//!   (the book). `<div class="lab-cell" data-scenario="NAME">` names a
//!   library scenario; `<script type="text/x-tsc" class="lab-cell">` holds
//!   one inline. Both take `data-backends`, `data-predict`, `data-step`,
//!   `data-title`.
//! - `mountCell(element, base)`: one such element.
//!
//! `base` is the URL the app was served from (ending in `/`): the API and
//! the recorded runs are found relative to it.

mod app;
mod cell;
mod dom;
mod editor;
mod live;
mod output;

use std::rc::Rc;

use scenarios::BackendId;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

use crate::charts::Theme;
use crate::notebook::{self, Prediction};
pub use live::{Endpoints, Host};

/// What every component of one mounted root shares.
#[derive(Clone, Debug, PartialEq)]
pub struct Env {
    pub endpoints: Endpoints,
    pub host: Host,
    pub theme: Theme,
}

fn theme_now() -> Theme {
    let forced = dom::document()
        .and_then(|d| d.document_element())
        .and_then(|e| e.get_attribute("data-theme"));
    match forced.as_deref() {
        Some("dark") => Theme::Dark,
        Some("light") => Theme::Light,
        _ if dom::prefers_dark() => Theme::Dark,
        _ => Theme::Light,
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            web_sys::console::error_1(&JsValue::from_str(&format!("TSC Lab: {info}")));
        }));
    });
}

fn endpoints(base: String) -> Endpoints {
    let mut base = if base.is_empty() {
        "./".to_string()
    } else {
        base
    };
    if !base.ends_with('/') {
        base.push('/');
    }
    Endpoints {
        base,
        token: dom::token(),
    }
}

/// Mounts the notebook into `root`.
#[wasm_bindgen(js_name = mountNotebook)]
pub fn mount_notebook(root: web_sys::Element, base: String) {
    install_panic_hook();
    yew::Renderer::<app::NotebookApp>::with_root_and_props(
        root,
        app::AppProps {
            endpoints: endpoints(base),
        },
    )
    .render();
}

/// Options of one embedded cell, read from its element's `data-*`.
fn cell_props(
    el: &web_sys::Element,
    endpoints: &Endpoints,
    index: usize,
) -> Result<EmbedProps, String> {
    let (text, name) = match el.get_attribute("data-scenario") {
        Some(name) => {
            let e = scenarios::library::get(&name)
                .ok_or_else(|| format!("no library scenario `{name}`"))?;
            (e.text.to_string(), Some(name))
        }
        None => {
            let t = el.text_content().unwrap_or_default();
            (t.trim_matches('\n').to_string() + "\n", None)
        }
    };
    let backends = match el.get_attribute("data-backends") {
        Some(b) => notebook::parse_backends(&b)?,
        None => notebook::default_backends(),
    };
    let predict = match el.get_attribute("data-predict") {
        Some(p) => notebook::parse_predictions(&p)?,
        None => Vec::new(),
    };
    let start = match el.get_attribute("data-step") {
        Some(s) => Some(
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("data-step `{s}`: expected a write number"))?,
        ),
        None => None,
    };
    let path = dom::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_default();
    Ok(EmbedProps {
        endpoints: endpoints.clone(),
        text: AttrValue::from(text),
        title: el.get_attribute("data-title").map(AttrValue::from),
        library: name.map(AttrValue::from),
        backends: Rc::new(backends),
        predict: Rc::new(predict),
        start,
        progress_key: AttrValue::from(format!("{path}#cell{index}")),
    })
}

/// Mounts one `.lab-cell` element; a bad attribute shows in its place.
#[wasm_bindgen(js_name = mountCell)]
pub fn mount_cell(el: web_sys::Element, base: String) {
    install_panic_hook();
    mount_one(&el, &endpoints(base), 0);
}

fn mount_one(el: &web_sys::Element, endpoints: &Endpoints, index: usize) {
    let props = cell_props(el, endpoints, index);
    let Some(doc) = dom::document() else { return };
    // A `<script>` holds text, not content: mount into a div put in its place.
    let target = if el.tag_name().eq_ignore_ascii_case("script") {
        let Ok(div) = doc.create_element("div") else {
            return;
        };
        div.set_class_name("lab-cell lab-cell-mounted");
        let _ = el.replace_with_with_node_1(&div);
        div
    } else {
        el.set_inner_html("");
        let _ = el.class_list().add_1("lab-cell-mounted");
        el.clone()
    };
    match props {
        Ok(p) => {
            yew::Renderer::<EmbeddedCell>::with_root_and_props(target, p).render();
        }
        Err(e) => target.set_inner_html(&format!(
            "<p class=\"lab-error\" role=\"alert\">This live cell cannot start: {}</p>",
            crate::markdown::escape(&e)
        )),
    }
}

/// Mounts every `.lab-cell` of the page; returns how many.
#[wasm_bindgen(js_name = mountCells)]
pub fn mount_cells(base: String) -> u32 {
    install_panic_hook();
    let endpoints = endpoints(base);
    let Some(doc) = dom::document() else { return 0 };
    let Ok(list) = doc.query_selector_all(".lab-cell:not(.lab-cell-mounted)") else {
        return 0;
    };
    let els: Vec<web_sys::Element> = (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into().ok())
        .collect();
    for (i, el) in els.iter().enumerate() {
        mount_one(el, &endpoints, i);
    }
    els.len() as u32
}

/// The models' speed in this browser, for `cargo xtask bench`: writes per
/// second per model on the benchmark scenario, as JSON.
#[wasm_bindgen(js_name = benchModels)]
pub fn bench_models(vcpus: u32, rounds: u32) -> String {
    serde_json::to_string(&scenarios::bench::model_throughput(
        vcpus,
        rounds,
        dom::now_ms,
    ))
    .unwrap_or_default()
}

#[derive(Properties, Clone, Debug, PartialEq)]
pub struct EmbedProps {
    pub endpoints: Endpoints,
    pub text: AttrValue,
    pub title: Option<AttrValue>,
    pub library: Option<AttrValue>,
    pub backends: Rc<Vec<BackendId>>,
    pub predict: Rc<Vec<Prediction>>,
    pub start: Option<u32>,
    pub progress_key: AttrValue,
}

/// One live cell on a page of its own (the book, `/embed/`).
#[function_component(EmbeddedCell)]
fn embedded_cell(p: &EmbedProps) -> Html {
    let env = use_env(&p.endpoints);
    html! {
        <ContextProvider<Env> context={(*env).clone()}>
            <div class="tsclab tsclab-embedded">
                if let Some(t) = &p.title {
                    <div class="lab-cell-title">{ t.clone() }</div>
                }
                <cell::ScenarioCell
                    text={p.text.clone()}
                    library={p.library.clone()}
                    backends={p.backends.clone()}
                    predict={p.predict.clone()}
                    start={p.start}
                    progress_key={p.progress_key.clone()}
                    on_text={None::<Callback<String>>}
                />
            </div>
        </ContextProvider<Env>>
    }
}

/// A change to the environment. A reducer, not a state: the host report
/// arrives later from a callback, and must not undo a theme chosen meanwhile.
#[derive(Debug)]
pub enum EnvAct {
    Host(Host),
    Theme(Theme),
}

impl Reducible for Env {
    type Action = EnvAct;
    fn reduce(self: Rc<Self>, act: EnvAct) -> Rc<Self> {
        let mut env = (*self).clone();
        match act {
            EnvAct::Host(h) => env.host = h,
            EnvAct::Theme(t) => env.theme = t,
        }
        Rc::new(env)
    }
}

/// The shared environment of a root: asks for the host report once and
/// follows the page's colour scheme.
#[hook]
fn use_env(endpoints: &Endpoints) -> UseReducerHandle<Env> {
    let env = use_reducer(|| Env {
        endpoints: endpoints.clone(),
        host: Host::Checking,
        theme: theme_now(),
    });
    {
        let d = env.dispatcher();
        let endpoints = endpoints.clone();
        use_effect_with((), move |_| {
            live::host(&endpoints, move |host| d.dispatch(EnvAct::Host(host)));
        });
    }
    env
}
