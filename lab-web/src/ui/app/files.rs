//! The notebook as a file (open, save) and as a link (share).

use yew::prelude::*;

use super::super::dom;
use super::Page;
use super::doc::Edit;
use crate::notebook::Notebook;

/// Reads the chosen `.tsclab.json` file in place of the notebook.
pub(super) fn on_open(page: &Page) -> Callback<Event> {
    let (d, notice) = (page.doc.dispatcher(), page.notice.clone());
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
