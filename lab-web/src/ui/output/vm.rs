//! The VM-wide state at the write the view is at, one row per backend.

use yew::prelude::*;

use super::AtProps;
use crate::charts;

/// A table's header row.
pub(super) fn head(cols: &[&str]) -> Html {
    html! {
        <thead><tr>{ for cols.iter().map(|c| html! { <th scope="col">{ *c }</th> }) }</tr></thead>
    }
}

/// The VM-wide state of every backend at this write.
#[function_component(VmStates)]
pub(super) fn vm_states(p: &AtProps) -> Html {
    let yes = |b: Option<bool>| match b {
        Some(true) => "✔ yes",
        Some(false) => "✘ no",
        None => "?",
    };
    html! {
        <table class="lab-vm">
            <caption>{ if p.k == 0 { "The VM before any write".to_string() } else { format!("The VM right after write {}", p.k) } }</caption>
            { head(&["backend", "cur_tsc_generation", "nr_vcpus_matched_tsc", "online_vcpus", "nr + 1 == online", "master clock"]) }
            <tbody>
                { for p.runs.iter().map(|r| {
                    let s = r.snapshot(p.k);
                    html! {
                        <tr data-backend={r.backend.name()}>
                            <th scope="row" style={format!("--c:{}", charts::css(charts::backend_colour(r.backend)))}>{ r.backend.name() }</th>
                            <td>{ s.vm.cur_tsc_generation.map_or("?".into(), |g| g.to_string()) }</td>
                            <td class="lab-nr">{ s.vm.nr_vcpus_matched_tsc.map_or("?".into(), |n| n.to_string()) }</td>
                            <td>{ s.vm.online_vcpus }</td>
                            <td>{ yes(s.vm.vcpus_matched) }</td>
                            <td>{ if s.vm.master_clock { "on" } else { "off" } }</td>
                        </tr>
                    }
                }) }
            </tbody>
        </table>
    }
}
