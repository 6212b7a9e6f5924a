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
//!
//! The modules: `app` the notebook page, `embed` the cells of other pages,
//! `cell` a scenario cell (editor, runs, predictions), `output` what a run
//! shows, `editor` the scenario editor, `class` the classroom (polls,
//! presenting, following); `env` what a root shares, `live` the lab server, `lazy` the modules loaded after the first load (the
//! charts' drawing, the trace importer), `dom` the browser. Hooks (`use_*`) hold the state
//! machines; what can be decided without a browser lives in the crate's
//! plain modules.

mod app;
mod cell;
mod class;
mod dom;
mod editor;
mod embed;
mod env;
mod lazy;
mod live;
mod output;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

pub use embed::EmbedProps;
pub(crate) use env::use_env;
pub use env::{Env, EnvAct};
pub use live::{Endpoints, Host, read_poll};

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

/// Mounts one `.lab-cell` element; a bad attribute shows in its place.
#[wasm_bindgen(js_name = mountCell)]
pub fn mount_cell(el: web_sys::Element, base: String) {
    install_panic_hook();
    embed::mount_one(&el, &endpoints(base), 0);
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
        embed::mount_one(el, &endpoints, i);
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
