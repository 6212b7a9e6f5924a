//! A scenario cell: the editor, the runs (models in the page, real KVM from
//! the server or a recording, an imported trace's kernel), the predictions,
//! and the output.
//!
//! The text is parsed once per edit ([`models::use_parsed`]); a hook holds
//! each of the cell's state machines: the model runs
//! ([`models::use_model_runs`]), real KVM ([`kvm::use_kvm`]) and the
//! predictions ([`predict::use_predictions`]).

mod backends;
mod kvm;
mod kvm_bar;
mod models;
mod predict;
mod predict_view;
mod trace_bar;

use std::rc::Rc;

use scenarios::BackendId;
use yew::prelude::*;

use super::class;
use super::editor::Editor;
use super::output::Output;
use super::{Env, Host};
use crate::analysis::BackendRun;
use crate::imported::ImportedTrace;
use crate::notebook::Prediction;

#[derive(Properties, PartialEq)]
pub(crate) struct CellProps {
    pub text: AttrValue,
    /// The library scenario this cell opened from (for recorded KVM runs).
    #[prop_or_default]
    pub library: Option<AttrValue>,
    pub backends: Rc<Vec<BackendId>>,
    #[prop_or_default]
    pub predict: Rc<Vec<Prediction>>,
    #[prop_or_default]
    pub start: Option<u32>,
    /// Where this cell's prediction progress is kept.
    pub progress_key: AttrValue,
    /// Told of every edit (the notebook saves it); None for embedded cells.
    pub on_text: Option<Callback<String>>,
    /// Lets the learner choose the backends (the notebook); None: fixed.
    #[prop_or_default]
    pub on_backends: Option<Callback<Vec<BackendId>>>,
    /// The trace this cell was imported from: its run is the `trace`
    /// column while the text is the imported one.
    #[prop_or_default]
    pub trace: Option<Rc<ImportedTrace>>,
}

#[function_component(ScenarioCell)]
pub(crate) fn scenario_cell(p: &CellProps) -> Html {
    let env = use_context::<Env>();
    let host = env.as_ref().map_or(Host::NoServer, |e| e.host.clone());
    let text = use_state(|| p.text.clone());
    let parsed = models::use_parsed(&text);
    // The imported trace, while the text on screen is the one imported.
    let trace = p.trace.clone().filter(|t| t.text == **text);
    let models = models::use_model_runs(&text, &parsed, &p.backends, p.trace.as_ref());
    let wants_kvm = p.backends.contains(&BackendId::Kvm);
    let kvm = kvm::use_kvm(env.as_ref(), wants_kvm, &text, &p.library, &p.text);
    let predictions = predict::use_predictions(&p.progress_key, &p.predict);

    let on_input = {
        let (text, on_text) = (text.clone(), p.on_text.clone());
        Callback::from(move |t: String| {
            if let Some(cb) = &on_text {
                cb.emit(t.clone());
            }
            text.set(AttrValue::from(t));
        })
    };

    // Back to the imported text (its trace column comes back with it).
    let restore = {
        let (on_input, t) = (on_input.clone(), p.trace.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(t) = &t {
                on_input.emit(t.text.clone());
            }
        })
    };

    // What the output compares: the models in column order, then the
    // imported trace and KVM when their runs are of the text on screen.
    let with_kvm = wants_kvm && kvm.of(&text).is_some();
    let with_trace = trace.is_some();
    // Changes whenever what is shown does: the runs, the chosen backends,
    // and whether the KVM run is of this text.
    let chosen = BackendId::ALL
        .iter()
        .enumerate()
        .filter(|(_, b)| p.backends.contains(b))
        .fold(0u64, |m, (i, _)| m | 1 << i);
    let version = ((models.version + kvm.state.version) << 8)
        | (chosen << 2)
        | (u64::from(with_trace) << 1)
        | u64::from(with_kvm);
    let shown: Rc<Vec<BackendRun>> = {
        let (models, kvm, backends) = (models.clone(), kvm.state.clone(), p.backends.clone());
        let trace = trace.clone();
        use_memo(version, move |_| {
            let mut v: Vec<BackendRun> = backends
                .iter()
                .filter_map(|b| models.runs.iter().find(|r| r.backend == *b).cloned())
                .collect();
            if let Some(t) = &trace {
                v.push(t.run.clone());
            }
            if with_kvm && let Some(k) = &kvm.run {
                v.push(k.clone());
            }
            v
        })
    };

    let errors = &parsed.errors;
    let show_output = p.predict.is_empty() || predictions.revealed();
    html! {
        <div class="lab-scenario-cell">
            <Editor text={(*text).clone()} errors={errors.clone()} {on_input} />
            if let Some(t) = &p.trace {
                { trace_bar::trace_bar(t, with_trace, restore) }
            }
            { backends::chooser(&p.backends, p.on_backends.as_ref()) }
            if wants_kvm {
                { kvm_bar::kvm_bar(&host, &kvm, &text, parsed.sets_host(), errors.is_empty()) }
            }
            { predict_view::panel(&predictions, &p.predict, &shown) }
            if let (Some(env), Some(_)) = (&env, &p.on_text) {
                { class::cell_tools(env, &p.predict, &shown, &text, &p.backends, &p.progress_key) }
            }
            if show_output {
                if !errors.is_empty() && !shown.is_empty() {
                    <p class="lab-note">{ "The scenario has errors; the output below is of its last good version." }</p>
                }
                <Output runs={shown.clone()} {version} start={p.start} text={(*text).clone()} title={parsed.title()} />
            } else {
                <p class="lab-note lab-hidden-note">{ "The output stays hidden until you answer or reveal." }</p>
            }
        </div>
    }
}
