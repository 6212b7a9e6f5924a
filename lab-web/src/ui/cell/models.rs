//! The cell's text, parsed once per edit, and the kernel models' runs of it.

use std::rc::Rc;

use scenarios::BackendId;
use yew::prelude::*;

use crate::analysis::{self, BackendRun};
use crate::imported::ImportedTrace;

/// The scenario on screen, parsed.
pub(super) struct Parsed {
    /// None while the text has errors.
    pub scenario: Option<scenarios::Scenario>,
    /// What is wrong with the text, for the editor.
    pub errors: Rc<Vec<scenarios::Error>>,
}

impl Parsed {
    /// The scenario's `title` line, for the exports' file names.
    pub(super) fn title(&self) -> AttrValue {
        self.scenario
            .as_ref()
            .and_then(|s| s.title())
            .map_or_else(|| AttrValue::from("TSC Lab run"), |t| t.to_string().into())
    }

    /// Whether the text sets host lines (`set host_tsc` / `set clocksource`):
    /// they shape the models, not the real run.
    pub(super) fn sets_host(&self) -> bool {
        self.scenario.as_ref().is_some_and(|s| {
            let h = s.host();
            let d = scenarios::HostConfig::default();
            h.tsc_stable != d.tsc_stable || h.clocksource != d.clocksource
        })
    }
}

/// Parses `text` when it changes, not on every render.
#[hook]
pub(super) fn use_parsed(text: &AttrValue) -> Rc<Parsed> {
    use_memo(text.clone(), |t| match scenarios::parse(t) {
        Ok(s) => Parsed {
            scenario: Some(s),
            errors: Rc::default(),
        },
        Err(e) => Parsed {
            scenario: None,
            errors: Rc::new(e.0),
        },
    })
}

/// The models' runs of the last text that parsed.
#[derive(Default)]
pub(super) struct ModelRuns {
    /// Bumped on every new set of runs: what memoised views key on.
    pub version: u64,
    pub runs: Vec<BackendRun>,
}

impl Reducible for ModelRuns {
    type Action = Vec<BackendRun>;
    fn reduce(self: Rc<Self>, runs: Vec<BackendRun>) -> Rc<Self> {
        Rc::new(ModelRuns {
            version: self.version + 1,
            runs,
        })
    }
}

/// The models re-run on every edit that parses, and when the backends
/// change; an edit that does not parse keeps the last runs. While the text
/// is the one `trace` was imported as, they are replayed at the trace's
/// moments with its values; on any other text they run on their own clock.
#[hook]
pub(super) fn use_model_runs(
    text: &AttrValue,
    parsed: &Rc<Parsed>,
    backends: &Rc<Vec<BackendId>>,
    trace: Option<&Rc<ImportedTrace>>,
) -> UseReducerHandle<ModelRuns> {
    let runs = use_reducer(ModelRuns::default);
    let (d, parsed, trace) = (runs.dispatcher(), parsed.clone(), trace.cloned());
    use_effect_with((text.clone(), backends.clone()), move |(text, backends)| {
        if let Some(s) = &parsed.scenario {
            d.dispatch(match trace.filter(|t| t.text == **text) {
                Some(t) => analysis::replay_models(s, backends, &t.replay),
                None => analysis::run_models(s, backends),
            });
        }
    });
    runs
}
