//! The imported-trace line of a cell: where its `trace` column comes from,
//! the TSC rate its values were estimated at and how, or, once the text is
//! edited, that the trace is of the imported text (and a way back to it).

use yew::prelude::*;

use crate::imported::ImportedTrace;

/// The line for `t`; `current`: the text on screen is the imported one.
/// `restore` puts the imported text back.
pub(super) fn trace_bar(t: &ImportedTrace, current: bool, restore: Callback<MouseEvent>) -> Html {
    let rate = t.rate.words(t.tsc_khz);
    html! {
        <div class="lab-trace-bar" tabindex="-1" aria-label="imported trace">
            if current {
                <p>
                    <strong>{ "Imported trace" }</strong>
                    { format!(": the trace column is the kernel of {}, as it traced itself; the models are replayed at the trace's moments with its values. Read in this browser: nothing was uploaded.", t.label) }
                </p>
            } else {
                <p>
                    <strong>{ "Imported trace" }</strong>
                    { format!(": the trace column of {} is of the text as imported, so it is set aside while the text differs. ", t.label) }
                    <button class="lab-linkish lab-trace-restore" onclick={restore}>{ "Back to the imported text" }</button>
                </p>
            }
            <p class="lab-trace-rate">{ format!("TSC rate for the values' estimates: {rate}.") }</p>
            if !t.complete {
                <p class="lab-host-warning">{ "Not every TSC event of this VM was kept (the import's bounds): the run ends at the last one kept." }</p>
            }
            <details class="lab-trace-estimate" open=true>
                <summary>{ "How the written values were rebuilt" }</summary>
                <ul>{ for t.estimate.iter().map(|s| html! { <li>{ s.clone() }</li> }) }</ul>
            </details>
        </div>
    }
}
