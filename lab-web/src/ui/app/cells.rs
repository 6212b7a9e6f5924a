//! The notebook's cells, each in a frame with its tools (move, delete) and
//! a bar to add a cell after it.

use std::rc::Rc;

use yew::prelude::*;

use super::super::cell::ScenarioCell;
use super::doc::{Doc, Edit};
use super::text_cell::MarkdownCell;
use crate::keys;
use crate::notebook::{Cell, CellKind};

type Dispatch = UseReducerDispatcher<Doc>;

/// "+ Text" and "+ Scenario": a new cell at position `at`.
fn add_bar(d: &Dispatch, at: usize) -> Html {
    let add = |kind: fn() -> CellKind| {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.dispatch(Edit::Add(at, kind())))
    };
    html! {
        <div class="lab-add">
            <button onclick={add(CellKind::new_markdown)}>{ "+ Text" }</button>
            <button onclick={add(CellKind::new_scenario)}>{ "+ Scenario" }</button>
        </div>
    }
}

/// Move up, move down, delete: for cell `id`, the `i`th of `n`.
fn tools(d: &Dispatch, id: u32, i: usize, n: usize) -> Html {
    let edit = |e: fn(u32) -> Edit| {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.dispatch(e(id)))
    };
    html! {
        <div class="lab-cell-tools" role="toolbar" aria-label={format!("cell {}", i + 1)}>
            <button title="move up" aria-label="move cell up" disabled={i == 0}
                onclick={edit(|id| Edit::Move(id, -1))}>{ "↑" }</button>
            <button title="move down" aria-label="move cell down" disabled={i + 1 == n}
                onclick={edit(|id| Edit::Move(id, 1))}>{ "↓" }</button>
            <button title="delete" aria-label="delete cell"
                onclick={edit(Edit::Delete)}>{ "✕" }</button>
        </div>
    }
}

/// The cell itself: its text drawn, or a live scenario (with its imported
/// trace, if it has one).
fn body(doc: &Doc, d: &Dispatch, title: &str, c: &Cell) -> Html {
    let id = c.id;
    let on_text = {
        let d = d.clone();
        Callback::from(move |t| d.dispatch(Edit::Text(id, t)))
    };
    match &c.kind {
        CellKind::Markdown { text } => {
            html! { <MarkdownCell text={AttrValue::from(text.clone())} {on_text} /> }
        }
        CellKind::Scenario {
            text,
            backends,
            predict,
        } => {
            let d = d.clone();
            let library = scenarios::library::LIBRARY
                .iter()
                .find(|e| e.text == text)
                .map(|e| AttrValue::from(e.name));
            html! { <ScenarioCell
                text={AttrValue::from(text.clone())}
                {library}
                backends={Rc::new(backends.clone())}
                predict={Rc::new(predict.clone())}
                progress_key={AttrValue::from(keys::notebook_cell(title, id))}
                on_text={Some(on_text)}
                on_backends={Some(Callback::from(move |b| d.dispatch(Edit::Backends(id, b))))}
                trace={doc.trace(id)}
            /> }
        }
    }
}

pub(super) fn cells(doc: &UseReducerHandle<Doc>) -> Html {
    let (d, nb) = (doc.dispatcher(), &doc.nb);
    html! {
        <main class="lab-cells">
            { add_bar(&d, 0) }
            { for nb.cells.iter().enumerate().map(|(i, c)| html! {
                <section class="lab-cell-frame" id={format!("lab-cell-{}", c.id)} key={format!("{}-{}", doc.generation, c.id)}>
                    { tools(&d, c.id, i, nb.cells.len()) }
                    { body(doc, &d, &nb.title, c) }
                    { add_bar(&d, i + 1) }
                </section>
            }) }
        </main>
    }
}
