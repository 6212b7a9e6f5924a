//! Every vCPU of one backend at the write the view is at, and the tabs
//! that choose the backend.

use std::rc::Rc;

use scenarios::BackendId;
use yew::prelude::*;

use super::vm::head;
use crate::analysis::{self, BackendRun};
use crate::charts;

/// How many vCPU rows show at once when there are more (around the write).
const VCPU_WINDOW: usize = 16;

/// One tab per backend: which run the vCPU table and the per-vCPU charts show.
pub(super) fn tabs(
    runs: &[BackendRun],
    sel: Option<BackendId>,
    selected: &UseStateHandle<Option<BackendId>>,
) -> Html {
    html! {
        <div class="lab-tabs" role="tablist" aria-label="backend for the vCPU table and per-vCPU charts">
            { for runs.iter().map(|r| {
                let b = r.backend;
                let selected = selected.clone();
                let on = Some(b) == sel;
                html! {
                    <button role="tab" aria-selected={on.to_string()} class={classes!("lab-tab", on.then_some("lab-tab-on"))}
                        style={format!("--c:{}", charts::css(charts::backend_colour(b)))}
                        onclick={Callback::from(move |_: MouseEvent| selected.set(Some(b)))}>
                        { b.name() }
                    </button>
                }
            }) }
        </div>
    }
}
#[derive(Properties, PartialEq)]
pub(super) struct VcpuProps {
    pub(super) runs: Rc<Vec<BackendRun>>,
    pub(super) index: usize,
    pub(super) k: u32,
}

/// Every vCPU of one backend at this write, coloured by generation (the
/// number is always written too).
#[function_component(VcpuTable)]
pub(super) fn vcpu_table(p: &VcpuProps) -> Html {
    let all = use_state(|| false);
    let run = &p.runs[p.index];
    let snap = run.snapshot(p.k);
    let writing = run.write(p.k).map(|w| w.vcpu);
    let n = snap.vcpus.len();
    // Many vCPUs: the rows around the one written, unless asked for all.
    // (A step then redraws VCPU_WINDOW rows, not 64.)
    let (lo, hi) = if *all || n <= VCPU_WINDOW {
        (0, n)
    } else {
        let centre = writing.map_or(0, |v| v as usize);
        let lo = centre.saturating_sub(VCPU_WINDOW / 2).min(n - VCPU_WINDOW);
        (lo, lo + VCPU_WINDOW)
    };
    let toggle = {
        let all = all.clone();
        Callback::from(move |_: MouseEvent| all.set(!*all))
    };
    html! {
        <div class="lab-vcpus-wrap" tabindex="0" role="region" aria-label="vCPUs">
        <table class="lab-vcpus" data-backend={run.backend.name()}>
            <caption>
                { format!("vCPUs on {} right after write {}", run.backend, p.k) }
                if n > VCPU_WINDOW {
                    { if *all { format!(" — all {n}. ") } else { format!(" — vCPUs {lo}–{} of {n}, around the one written. ", hi - 1) } }
                    <button class="lab-linkish lab-vcpus-all" onclick={toggle}>
                        { if *all { "Show the ones around the write" } else { "Show all" } }
                    </button>
                }
            </caption>
            { head(&["vCPU", "this_tsc_generation", "matched set", "TSC offset", "pvclock stable bit", "writes", "last value"]) }
            <tbody>
                { for snap.vcpus.into_iter().skip(lo).take(hi - lo).map(|v| {
                    let (now, key) = (Some(v.vcpu) == writing, v.vcpu);
                    html! { <VcpuRowView {key} row={v} {now} /> }
                }) }
            </tbody>
        </table>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct VcpuRowProps {
    row: analysis::VcpuRow,
    now: bool,
}

/// One vCPU's row: a component of its own, so a step redraws only the rows
/// that changed (two, usually), not all 64.
#[function_component(VcpuRowView)]
fn vcpu_row(p: &VcpuRowProps) -> Html {
    let v = &p.row;
    // Colour by class, not inline style: cheaper for the browser to restyle.
    let generation = match v.generation {
        Some(g) => html! { <span class={format!("lab-gen lab-g{}", g % 7)}>{ g }</span> },
        None => html! { "?" },
    };
    html! {
        <tr class={classes!(p.now.then_some("lab-row-now"))}>
            <th scope="row">{ v.vcpu }</th>
            <td>{ generation }</td>
            <td class={match v.matched_set { Some(true) => "lab-yes", Some(false) => "lab-no", None => "" }}>
                { match v.matched_set { Some(true) => "in", Some(false) => "out", None => "?" } }
            </td>
            <td class="lab-num">{ v.offset.map_or("?".into(), |o| o.to_string()) }</td>
            <td class={match v.pvclock_stable { Some(true) => "lab-yes", Some(false) => "lab-no", None => "" }}>
                { match v.pvclock_stable { Some(true) => "set", Some(false) => "clear", None => "not run yet" } }
            </td>
            <td class="lab-num">{ v.writes }</td>
            <td class="lab-num">{ v.last_value.map_or(String::new(), |x| x.to_string()) }</td>
        </tr>
    }
}
