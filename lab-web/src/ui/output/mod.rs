//! A run's output: verdicts side by side, the first divergence, the
//! step-through over every write, the kernel's reasoning per backend, the
//! aligned timeline, the VM and vCPU state, the charts and the exports.

mod chart_box;
mod exports;
mod logic;
mod scrubber;
mod timeline;
mod vcpus;
mod verdicts;
mod vm;

use std::rc::Rc;

use scenarios::BackendId;
use yew::prelude::*;

use super::{Env, dom};
use crate::analysis::{self, BackendRun};
use crate::charts::{self, Theme};

#[derive(Properties, PartialEq)]
pub(crate) struct OutputProps {
    pub runs: Rc<Vec<BackendRun>>,
    /// Changes whenever `runs` does (cheap to compare).
    pub version: u64,
    pub start: Option<u32>,
    /// The scenario, for the exports.
    pub text: AttrValue,
    /// Its title, for the exports' file names.
    pub title: AttrValue,
}

/// The runs, and the write the view is at.
#[derive(Properties, PartialEq)]
struct AtProps {
    runs: Rc<Vec<BackendRun>>,
    k: u32,
}

#[function_component(Output)]
pub(crate) fn output(p: &OutputProps) -> Html {
    let theme = use_context::<Env>().map_or(Theme::Light, |e| e.theme);
    let max = p
        .runs
        .iter()
        .map(BackendRun::write_count)
        .max()
        .unwrap_or(0);
    // None: follow the end of the run (live runs grow).
    let pos = use_state(|| p.start);
    let k = pos.unwrap_or(max).min(max);
    let selected = use_state(|| None::<BackendId>);
    let sel = selected
        .filter(|b| p.runs.iter().any(|r| r.backend == *b))
        .or_else(|| p.runs.first().map(|r| r.backend));

    let matched = {
        let runs = p.runs.clone();
        use_memo((p.version, theme), move |_| {
            charts::matched_chart(&runs, theme).map(Rc::new)
        })
    };
    let per_vcpu = {
        let runs = p.runs.clone();
        use_memo((p.version, theme, sel), move |(_, _, sel)| {
            runs.iter().find(|r| Some(r.backend) == *sel).map(|r| {
                (
                    charts::generations_chart(r, theme).map(Rc::new),
                    charts::offsets_chart(r, theme).map(Rc::new),
                )
            })
        })
    };
    let divergence = {
        let runs = p.runs.clone();
        use_memo(p.version, move |_| analysis::first_divergence(&runs))
    };

    // When the first results are on screen: the "interactive" budget's mark.
    use_effect_with(p.runs.is_empty(), |empty| {
        if !*empty
            && let Some(b) = dom::document().and_then(|d| d.body())
            && !b.has_attribute("data-lab-interactive")
        {
            let _ = b.set_attribute("data-lab-interactive", &format!("{:.1}", dom::now_ms()));
        }
    });

    let go = {
        let pos = pos.clone();
        Callback::from(move |to: u32| pos.set(Some(to.min(max))))
    };
    html! {
        <div class="lab-output" tabindex="0" onkeydown={scrubber::on_key(&go, k, max)}
            aria-label="run output: ← → step through the writes, Home and End jump">
            <verdicts::Verdicts runs={p.runs.clone()} />
            { verdicts::divergence(divergence.as_ref().as_ref(), p.runs.len(), max, &go) }
            { scrubber::scrubber(&p.runs, k, max, &go) }
            <logic::Logic runs={p.runs.clone()} {k} />
            <timeline::Timeline runs={p.runs.clone()} {k} divergence={divergence.as_ref().as_ref().map(|d| d.write)}
                on_go={go.clone()} />
            <vm::VmStates runs={p.runs.clone()} {k} />
            { vcpus::tabs(&p.runs, sel, &selected) }
            if let Some(index) = p.runs.iter().position(|r| Some(r.backend) == sel) {
                <vcpus::VcpuTable runs={p.runs.clone()} {index} {k} />
            }
            <div class="lab-charts">
                { chart_box::chart_box(&matched, k) }
                if let Some((g, o)) = per_vcpu.as_ref() {
                    { chart_box::chart_box(g, k) }
                    { chart_box::chart_box(o, k) }
                }
            </div>
            <exports::Exports runs={p.runs.clone()} text={p.text.clone()} title={p.title.clone()} />
        </div>
    }
}
