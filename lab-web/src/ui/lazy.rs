//! The notebook's parts that are not in its first load (`lazy.js`): the
//! charts' drawing (lab-charts), asked for as soon as a cell has results,
//! and the importer (lab-import: traces, see `app::import`, and Jupyter
//! notebooks, see `app::files`), on the first import. Each is a WASM module of its own, found beside the app (`base`).

use std::cell::RefCell;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::charts::{Chart, Spec};

#[wasm_bindgen(module = "/src/ui/lazy.js")]
extern "C" {
    /// The module at `url`, loaded and initialised once.
    #[wasm_bindgen(catch)]
    async fn load(url: &str) -> Result<JsValue, JsValue>;
    fn new_chart(
        module: &JsValue,
        title: &str,
        y_desc: &str,
        max_write: u32,
        y0: f64,
        y1: f64,
        dark: bool,
    ) -> ChartDrawing;
    /// Loads lab-import and reads a File or a string into a finished session.
    #[wasm_bindgen(catch)]
    pub(crate) async fn read_trace(url: &str, source: &JsValue) -> Result<JsValue, JsValue>;
    /// Loads lab-import and reads a `.ipynb`'s text into a notebook file (JSON).
    #[wasm_bindgen(catch)]
    pub(crate) async fn ipynb_to_notebook(url: &str, text: &str) -> Result<JsValue, JsValue>;
    /// Loads lab-import and writes a notebook file (JSON) and its drawn charts as `.ipynb`.
    #[wasm_bindgen(catch)]
    pub(crate) async fn notebook_to_ipynb(
        url: &str,
        notebook: &str,
        charts: &str,
    ) -> Result<JsValue, JsValue>;
}

// lab-charts' `Chart`, called as it is.
#[wasm_bindgen]
extern "C" {
    type ChartDrawing;
    #[wasm_bindgen(method)]
    #[allow(clippy::too_many_arguments)]
    fn line(
        this: &ChartDrawing,
        colour: u32,
        alpha: f64,
        label: &str,
        marker: i32,
        every: u32,
        xs: &[f64],
        ys: &[f64],
    );
    #[wasm_bindgen(method)]
    fn mark(this: &ChartDrawing, x: f64, colour: u32, text: &str, text_y: f64);
    #[wasm_bindgen(method, catch)]
    fn draw(this: &ChartDrawing) -> Result<String, JsValue>;
    #[wasm_bindgen(method)]
    fn plot_x0(this: &ChartDrawing) -> f64;
    #[wasm_bindgen(method)]
    fn plot_x1(this: &ChartDrawing) -> f64;
    #[wasm_bindgen(method)]
    fn free(this: &ChartDrawing);
}

thread_local! {
    /// lab-charts once loaded: later charts are drawn at once.
    static CHARTS: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

/// What a JS exception says.
pub(crate) fn message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "an unknown error".into())
}

fn draw_with(module: &JsValue, spec: Spec) -> Result<Chart, String> {
    let c = new_chart(
        module,
        &spec.title,
        &spec.y_desc,
        spec.max_write,
        spec.y.0,
        spec.y.1,
        spec.dark,
    );
    for l in &spec.lines {
        let (xs, ys): (Vec<f64>, Vec<f64>) = l.points.iter().copied().unzip();
        c.line(l.colour, l.alpha, &l.label, l.marker, l.every, &xs, &ys);
    }
    for m in &spec.marks {
        c.mark(m.x, m.colour, &m.text, m.text_y);
    }
    let drawn = c.draw().map_err(|e| message(&e));
    let plot_x = (c.plot_x0(), c.plot_x1());
    c.free();
    Ok(spec.drawn(drawn?, plot_x))
}

/// Draws `spec` with lab-charts (found beside the app, at `base`) and hands
/// the chart to `then`: at once if the module is here, else once it loads.
pub(crate) fn draw_chart(
    base: &str,
    spec: Spec,
    then: impl FnOnce(Result<Chart, String>) + 'static,
) {
    if let Some(m) = CHARTS.with(|c| c.borrow().clone()) {
        return then(draw_with(&m, spec));
    }
    let url = format!("{base}lab_charts.js");
    wasm_bindgen_futures::spawn_local(async move {
        match load(&url).await {
            Ok(m) => {
                CHARTS.with(|c| *c.borrow_mut() = Some(m.clone()));
                then(draw_with(&m, spec));
            }
            Err(e) => then(Err(format!(
                "the charts could not be loaded ({})",
                message(&e)
            ))),
        }
    });
}
