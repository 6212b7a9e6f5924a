//! The notebook's backend chooser: which columns a cell runs.

use std::rc::Rc;

use scenarios::BackendId;
use yew::prelude::*;

use crate::notebook;

/// One toggle per backend; `on_change` gets the new set. Nothing without
/// `on_change` (an embedded cell's backends are fixed).
pub(super) fn chooser(
    current: &Rc<Vec<BackendId>>,
    on_change: Option<&Callback<Vec<BackendId>>>,
) -> Html {
    let Some(cb) = on_change else {
        return html! {};
    };
    html! {
        <div class="lab-backends" role="group" aria-label="backends to run">
            <span>{ "Run on: " }</span>
            { for BackendId::ALL.iter().map(|&b| {
                let on = current.contains(&b);
                let (cb, current) = (cb.clone(), current.clone());
                let onclick = Callback::from(move |_: MouseEvent| {
                    cb.emit(notebook::toggle_backend(&current, b));
                });
                html! {
                    <button class="lab-backend-toggle" aria-pressed={on.to_string()} title={b.describe()} {onclick}>
                        { if b == BackendId::Kvm { "Real KVM" } else { b.name() } }
                    </button>
                }
            }) }
        </div>
    }
}
