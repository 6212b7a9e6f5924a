//! Live cells on pages of their own (the book, `/embed/`): each `.lab-cell`
//! element's `data-*` read into a cell, mounted in the element's place.

use std::rc::Rc;

use scenarios::BackendId;
use yew::prelude::*;

use super::cell::ScenarioCell;
use super::live::Endpoints;
use super::{Env, dom, use_env};
use crate::keys;
use crate::notebook::{self, Prediction};

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
        progress_key: AttrValue::from(keys::embedded_cell(&path, index)),
    })
}

/// Mounts one `.lab-cell` element; a bad attribute shows in its place.
pub(super) fn mount_one(el: &web_sys::Element, endpoints: &Endpoints, index: usize) {
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
                <ScenarioCell
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
