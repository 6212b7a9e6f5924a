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

use super::{Env, dom, lazy};
use crate::analysis::{self, BackendRun};
use crate::charts::{self, Chart, Spec, Theme};

/// A chart, `None` until lab-charts has drawn it.
pub(super) type Drawn = Option<Result<Rc<Chart>, String>>;

/// The chart `spec` makes, drawn by lab-charts (loaded beside the app, at
/// `base`) whenever `key` changes; the last chart stays until the next is
/// drawn. `spec` giving `None`: no chart.
#[hook]
fn use_drawn<K: PartialEq + 'static>(
    key: K,
    base: &str,
    spec: impl FnOnce() -> Option<Spec> + 'static,
) -> Drawn {
    let drawn = use_state(|| None);
    let serial = use_mut_ref(|| 0u32);
    let (d, base) = (drawn.clone(), base.to_string());
    use_effect_with(key, move |_| {
        let n = {
            let mut s = serial.borrow_mut();
            *s += 1;
            *s
        };
        match spec() {
            Some(spec) => lazy::draw_chart(&base, spec, move |c| {
                // A newer run's chart is on its way: this one is dropped.
                if *serial.borrow() == n {
                    d.set(Some(c.map(Rc::new)));
                }
            }),
            None => d.set(None),
        }
    });
    (*drawn).clone()
}

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
    let env = use_context::<Env>();
    let theme = env.as_ref().map_or(Theme::Light, |e| e.theme);
    let base = env.as_ref().map_or("./", |e| e.endpoints.base.as_str());
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

    // When the first results are on screen: the "interactive" budget's mark
    // (before the charts' drawing is asked for: it is not in the first load).
    use_effect_with(p.runs.is_empty(), |empty| {
        if !*empty
            && let Some(b) = dom::document().and_then(|d| d.body())
            && !b.has_attribute("data-lab-interactive")
        {
            let _ = b.set_attribute("data-lab-interactive", &format!("{:.1}", dom::now_ms()));
        }
    });

    // Drawn once per run (and theme), off the first load: lab-charts, asked
    // for once there are runs.
    let matched = {
        let runs = p.runs.clone();
        use_drawn((p.version, theme), base, move || {
            (!runs.is_empty()).then(|| charts::matched_spec(&runs, theme))
        })
    };
    let per_vcpu = |make: fn(&BackendRun, Theme) -> Spec| {
        let runs = p.runs.clone();
        move || {
            runs.iter()
                .find(|r| Some(r.backend) == sel)
                .map(|r| make(r, theme))
        }
    };
    let generations = use_drawn(
        (p.version, theme, sel),
        base,
        per_vcpu(charts::generations_spec),
    );
    let offsets = use_drawn(
        (p.version, theme, sel),
        base,
        per_vcpu(charts::offsets_spec),
    );
    let divergence = {
        let runs = p.runs.clone();
        use_memo(p.version, move |_| analysis::first_divergence(&runs))
    };

    let go = {
        let pos = pos.clone();
        Callback::from(move |to: u32| pos.set(Some(to.min(max))))
    };
    html! {
        <div class="lab-output" tabindex="0" onkeydown={scrubber::on_key(&go, k, max)}
            aria-label="run output: ← → step through the writes, Home and End jump">
            <verdicts::Verdicts runs={p.runs.clone()} />
            { verdicts::divergence(divergence.as_ref().as_ref(), p.runs.len(), max, &go) }
            <p class="lab-sr-only lab-announce" role="status" aria-live="polite" aria-atomic="true">
                { analysis::announcement(&p.runs, divergence.as_ref().as_ref()) }
            </p>
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
                { chart_box::chart_box(&generations, k) }
                { chart_box::chart_box(&offsets, k) }
            </div>
            <exports::Exports runs={p.runs.clone()} text={p.text.clone()} title={p.title.clone()}
                chart={matched.and_then(Result::ok)} />
        </div>
    }
}
