//! STABLE / UNSTABLE per backend, and where the backends first part ways.

use std::rc::Rc;

use yew::prelude::*;

use crate::analysis::{BackendRun, Divergence, Source, Status, Verdict};
use crate::charts;

#[derive(Properties, PartialEq)]
pub(super) struct RunsProps {
    pub(super) runs: Rc<Vec<BackendRun>>,
}

/// STABLE / UNSTABLE per backend, at a glance; words and symbols, not
/// colour alone.
#[function_component(Verdicts)]
pub(super) fn verdicts(p: &RunsProps) -> Html {
    html! {
        <div class="lab-verdicts">
            { for p.runs.iter().map(|r| {
                let v = r.verdict();
                let s = r.summary();
                let (icon, class) = match v {
                    Verdict::Stable => ("✔", "lab-stable"),
                    Verdict::Unstable => ("✘", "lab-unstable"),
                    Verdict::Pending => ("…", "lab-pending"),
                    Verdict::Failed => ("!", "lab-failed"),
                };
                let source = match &r.source {
                    Source::Model => "model",
                    Source::Live => "real KVM",
                    Source::Recorded { .. } => "real KVM, recorded",
                    Source::Trace { .. } => "imported trace",
                };
                let detail = match (s, &r.status) {
                    (Some(s), _) => format!(
                        "nr_vcpus_matched_tsc {} · online {} · master clock {}",
                        s.nr_matched.map_or("?".into(), |n| n.to_string()),
                        s.online,
                        if s.master_clock { "on" } else { "off" }
                    ),
                    (None, Status::Failed(m)) => m.clone(),
                    (None, _) => format!("{} writes so far", r.write_count()),
                };
                html! {
                    <div class={classes!("lab-verdict", class)} data-backend={r.backend.name()} data-verdict={v.label()}
                        style={format!("--c:{}", charts::css(charts::backend_colour(r.backend)))} title={r.backend.describe()}>
                        <div class="lab-verdict-backend">{ r.backend.name() }<span class="lab-source-tag">{ source }</span></div>
                        <div class="lab-verdict-word">{ format!("{icon} {}", v.label()) }</div>
                        <div class="lab-verdict-detail">{ detail }</div>
                    </div>
                }
            }) }
        </div>
    }
}

/// The first divergence, with a button that steps there; or, with several
/// backends and writes, that they agree. `go` moves the view to a write.
pub(super) fn divergence(
    d: Option<&Divergence>,
    backends: usize,
    max: u32,
    go: &Callback<u32>,
) -> Html {
    match d {
        Some(d) => {
            let (go, write) = (go.clone(), d.write);
            let onclick = Callback::from(move |_: MouseEvent| go.emit(write));
            html! {
                <p class="lab-divergence" data-write={d.write.to_string()}>
                    <strong>{ format!("◆ First divergence at write {}", d.write) }</strong>
                    { format!(": {}. ", d.what) }
                    <button class="lab-linkish lab-goto-divergence" {onclick}>
                        { "step there" }
                    </button>
                </p>
            }
        }
        None if backends > 1 && max > 0 => {
            html! { <p class="lab-divergence lab-agree">{ "The backends agree on every write." }</p> }
        }
        None => html! {},
    }
}
