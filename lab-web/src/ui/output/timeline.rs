//! The backends' writes side by side, aligned by write number.

use std::rc::Rc;

use yew::prelude::*;

use super::logic::mark_class;
use crate::analysis::{self, BackendRun};
use crate::charts;

/// How many timeline rows show on each side of the current write.
const TIMELINE_SPAN: u32 = 6;

#[derive(Properties, PartialEq)]
pub(super) struct TimelineProps {
    pub(super) runs: Rc<Vec<BackendRun>>,
    pub(super) k: u32,
    pub(super) divergence: Option<u32>,
    pub(super) on_go: Callback<u32>,
}

/// The backends' writes aligned by write number: a window around the
/// current write (a 1,000-write trace stays cheap to scrub).
#[function_component(Timeline)]
pub(super) fn timeline(p: &TimelineProps) -> Html {
    let max = p
        .runs
        .iter()
        .map(BackendRun::write_count)
        .max()
        .unwrap_or(0);
    if max == 0 {
        return html! {};
    }
    let centre = p.k.max(1);
    let lo = centre.saturating_sub(TIMELINE_SPAN).max(1);
    let hi = (lo + 2 * TIMELINE_SPAN).min(max);
    let lo = hi.saturating_sub(2 * TIMELINE_SPAN).max(1);
    html! {
        <div class="lab-timeline-wrap" tabindex="0" role="region" aria-label="Timeline of the TSC writes">
            <table class="lab-timeline">
                <caption>{ format!("writes {lo}–{hi} of {max}, aligned: nr_vcpus_matched_tsc after each") }</caption>
                <thead><tr>
                    <th scope="col">{ "write" }</th><th scope="col">{ "vCPU" }</th><th scope="col">{ "value" }</th>
                    { for p.runs.iter().map(|r| html! {
                        <th scope="col" style={format!("--c:{}", charts::css(charts::backend_colour(r.backend)))}>{ r.backend.name() }</th>
                    }) }
                </tr></thead>
                <tbody>
                    { for (lo..=hi).map(|w| {
                        let any = p.runs.iter().find_map(|r| r.write(w));
                        let on_go = p.on_go.clone();
                        let row_class = classes!(
                            (w == p.k).then_some("lab-row-now"),
                            (Some(w) == p.divergence).then_some("lab-row-diverge"),
                        );
                        html! {
                            <tr class={row_class} data-write={w.to_string()}
                                onclick={Callback::from(move |_: MouseEvent| on_go.emit(w))}>
                                <td>
                                    { w }
                                    if Some(w) == p.divergence { <span class="lab-diverge-mark" title="first divergence">{ " ◆" }</span> }
                                </td>
                                <td>{ any.map_or(String::new(), |x| x.vcpu.to_string()) }</td>
                                <td>{ any.map_or(String::new(), |x| x.value.to_string()) }</td>
                                { for p.runs.iter().map(|r| match r.write(w) {
                                    Some(x) => {
                                        let mark = analysis::count_mark(x);
                                        html! { <td data-backend={r.backend.name()} class={mark_class(x.count)}>
                                            <b>{ x.nr_matched.map_or("?".into(), |n| n.to_string()) }</b>
                                            { format!(" {mark}") }
                                        </td> }
                                    }
                                    None => html! { <td>{ "–" }</td> },
                                }) }
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        </div>
    }
}
