//! The notebook's header: its title and the toolbar.

use yew::prelude::*;

use super::doc::Edit;
use super::{Page, files, theme};
use crate::notebook::Notebook;

/// Opens the chosen library scenario in place of the notebook.
fn on_library(page: &Page) -> Callback<Event> {
    let (d, notice) = (page.doc.dispatcher(), page.notice.clone());
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
}

pub(super) fn header(page: &Page) -> Html {
    let d = page.doc.dispatcher();
    let replace = |nb: fn() -> Notebook| {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.dispatch(Edit::Replace(nb())))
    };
    let on_title = {
        let d = d.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(i) = e.target_dyn_into::<web_sys::HtmlInputElement>() {
                d.dispatch(Edit::Title(i.value()));
            }
        })
    };
    let projector = &page.projector;
    let on_projector = {
        let projector = projector.clone();
        Callback::from(move |_: MouseEvent| projector.set(!*projector))
    };
    html! {
        <header class="lab-header">
            <input class="lab-title" aria-label="notebook title" value={page.doc.nb.title.clone()} oninput={on_title} />
            <nav class="lab-toolbar" aria-label="notebook">
                <select class="lab-library" aria-label="open a library scenario" onchange={on_library(page)}>
                    <option value="" selected=true>{ "Library…" }</option>
                    { for scenarios::library::LIBRARY.iter().map(|e| html! {
                        <option value={e.name}>{ e.name }</option>
                    }) }
                </select>
                <button onclick={replace(Notebook::welcome)}>{ "Welcome" }</button>
                <button onclick={replace(Notebook::untitled)}>{ "New" }</button>
                <label class="lab-file" title="a TSC Lab notebook (.json) or a Jupyter notebook (.ipynb)">{ "Open file" }
                    <input type="file" accept=".json,.ipynb,application/json,application/x-ipynb+json" onchange={files::on_open(page)} />
                </label>
                <button onclick={files::on_save(page)}>{ "Save file" }</button>
                <button class="lab-export-ipynb" title="for JupyterLab, nbviewer and GitHub: the cells and their results" onclick={files::on_export_ipynb(page)}>{ "Export .ipynb" }</button>
                <label class="lab-file lab-import-file" title="a text trace of KVM's TSC events, read in this browser: it becomes a new cell (or paste one, or drop a file, anywhere on the page)">{ "Import trace…" }
                    <input type="file" onchange={page.import.on_file()} />
                </label>
                <button class="lab-share" onclick={files::on_share(page)}>{ "Share link" }</button>
                { page.class.toggle() }
                <button class="lab-projector-toggle" aria-pressed={projector.to_string()} onclick={on_projector}>{ "Projector" }</button>
                { theme::toggle(&page.env) }
                <a href="book/">{ "Book" }</a>
            </nav>
        </header>
    }
}
