//! A scenario cell: the editor, the runs (models in the page, real KVM from
//! the server or a recording), the predictions, and the output.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use scenarios::BackendId;
use yew::prelude::*;

use super::editor::Editor;
use super::live::{self, Live, Stream};
use super::output::Output;
use super::{Env, Host, dom};
use crate::analysis::{self, BackendRun, Source, Status};
use crate::notebook::{Answer, Prediction};

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
}

/// The runs of one cell.
#[derive(Default, PartialEq)]
struct Runs {
    /// Bumped on every change: what memoised views key on.
    version: u64,
    models: Vec<BackendRun>,
    kvm: Option<BackendRun>,
    /// The scenario text the KVM run is of.
    kvm_text: String,
    /// Which KVM request the live events belong to.
    kvm_serial: u32,
}

enum Act {
    Models(Vec<BackendRun>),
    KvmStart { serial: u32, text: String },
    KvmLive { serial: u32, live: Live },
    KvmRecorded { text: String, run: BackendRun },
}

impl Reducible for Runs {
    type Action = Act;
    fn reduce(self: Rc<Self>, act: Act) -> Rc<Self> {
        let mut next = Runs {
            version: self.version + 1,
            models: self.models.clone(),
            kvm: self.kvm.clone(),
            kvm_text: self.kvm_text.clone(),
            kvm_serial: self.kvm_serial,
        };
        match act {
            Act::Models(m) => next.models = m,
            Act::KvmStart { serial, text } => {
                next.kvm_serial = serial;
                next.kvm_text = text;
                next.kvm = Some(BackendRun::new(BackendId::Kvm, Source::Live));
            }
            Act::KvmLive { serial, live } => {
                if serial != self.kvm_serial {
                    return self;
                }
                let Some(run) = next.kvm.as_mut() else {
                    return self;
                };
                match live {
                    Live::Event(e) => run.push(*e),
                    Live::Done => {
                        if run.status == Status::Running {
                            run.status = Status::Done;
                        }
                    }
                    Live::Failed(m) => run.status = Status::Failed(m),
                }
            }
            Act::KvmRecorded { text, run } => {
                next.kvm_text = text;
                next.kvm = Some(run);
            }
        }
        Rc::new(next)
    }
}

/// The learner's answers, kept per cell in localStorage.
fn load_answers(key: &str) -> HashMap<String, Answer> {
    dom::load(&format!("tsclab.progress.{key}"))
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn save_answers(key: &str, answers: &HashMap<String, Answer>) {
    let _ = dom::save(
        &format!("tsclab.progress.{key}"),
        &serde_json::to_string(answers).unwrap_or_default(),
    );
}

#[function_component(ScenarioCell)]
pub(crate) fn scenario_cell(p: &CellProps) -> Html {
    let env = use_context::<Env>();
    let host = env.as_ref().map_or(Host::NoServer, |e| e.host.clone());
    let text = use_state(|| p.text.to_string());
    let errors = use_state(|| Rc::new(Vec::<scenarios::Error>::new()));
    let runs = use_reducer(Runs::default);
    let stream = use_mut_ref(|| None::<Rc<RefCell<Option<Stream>>>>);
    let serial = use_mut_ref(|| 0u32);
    let answers = use_state(|| load_answers(&p.progress_key));
    let revealed = use_state(|| {
        let a = load_answers(&p.progress_key);
        p.predict.iter().all(|q| a.contains_key(&q.spec()))
    });

    // The models re-run on every edit that parses.
    {
        let (runs, errors) = (runs.dispatcher(), errors.clone());
        use_effect_with(
            ((*text).clone(), p.backends.clone()),
            move |(t, backends)| match scenarios::parse(t) {
                Ok(s) => {
                    errors.set(Rc::new(Vec::new()));
                    runs.dispatch(Act::Models(analysis::run_models(&s, backends)));
                }
                Err(e) => errors.set(Rc::new(e.0)),
            },
        );
    }

    let wants_kvm = p.backends.contains(&BackendId::Kvm);
    let start_kvm = {
        let (runs, stream, serial, text) = (
            runs.dispatcher(),
            stream.clone(),
            serial.clone(),
            text.clone(),
        );
        let endpoints = env.as_ref().map(|e| e.endpoints.clone());
        Callback::from(move |_: ()| {
            let Some(endpoints) = &endpoints else { return };
            let n = {
                let mut s = serial.borrow_mut();
                *s += 1;
                *s
            };
            runs.dispatch(Act::KvmStart {
                serial: n,
                text: (*text).clone(),
            });
            let d = runs.clone();
            let report: Rc<dyn Fn(Live)> =
                Rc::new(move |live| d.dispatch(Act::KvmLive { serial: n, live }));
            // Replacing the handle drops (closes) the previous stream.
            *stream.borrow_mut() = Some(live::run_kvm(endpoints, &text, report));
        })
    };

    // Real KVM once the host is known: live if the server has it, else the
    // recording of a library scenario.
    {
        let (start_kvm, runs) = (start_kvm.clone(), runs.dispatcher());
        let library = p.library.clone();
        let first_text = p.text.to_string();
        let endpoints = env.as_ref().map(|e| e.endpoints.clone());
        use_effect_with((host.clone(), wants_kvm), move |(host, wants_kvm)| {
            if *wants_kvm {
                match host {
                    Host::Checking => {}
                    h if h.kvm_live() => start_kvm.emit(()),
                    _ => {
                        if let (Some(name), Some(endpoints)) = (library, endpoints) {
                            live::recorded(&endpoints, &name, move |rec| {
                                if let Some(rec) = rec.filter(|r| r.text == first_text) {
                                    let label = format!(
                                        "{} ({}, {})",
                                        rec.host.kernel, rec.host.flavour, rec.host.clocksource
                                    );
                                    runs.dispatch(Act::KvmRecorded {
                                        text: first_text,
                                        run: BackendRun::from_events(
                                            BackendId::Kvm,
                                            Source::Recorded { host: label },
                                            rec.events,
                                        ),
                                    });
                                }
                            });
                        }
                    }
                }
            }
        });
    }
    {
        let stream = stream.clone();
        use_effect_with((), move |_| move || drop(stream.borrow_mut().take()));
    }

    let on_input = {
        let (text, on_text) = (text.clone(), p.on_text.clone());
        Callback::from(move |t: String| {
            if let Some(cb) = &on_text {
                cb.emit(t.clone());
            }
            text.set(t);
        })
    };

    // What the output compares: the models in column order, then KVM when
    // its run is of the text on screen.
    let kvm_current = runs.kvm.as_ref().filter(|_| runs.kvm_text == *text);
    // Changes whenever what is shown does: the runs, the chosen backends,
    // and whether the KVM run is of this text.
    let chosen = BackendId::ALL
        .iter()
        .enumerate()
        .filter(|(_, b)| p.backends.contains(b))
        .fold(0u64, |m, (i, _)| m | 1 << i);
    let with_kvm = wants_kvm && kvm_current.is_some();
    let version = (runs.version << 8) | (chosen << 1) | u64::from(with_kvm);
    let shown: Rc<Vec<BackendRun>> = {
        let (runs, backends) = (runs.clone(), p.backends.clone());
        use_memo(version, move |_| {
            let mut v: Vec<BackendRun> = backends
                .iter()
                .filter_map(|b| runs.models.iter().find(|r| r.backend == *b).cloned())
                .collect();
            if with_kvm && let Some(k) = &runs.kvm {
                v.push(k.clone());
            }
            v
        })
    };

    let kvm_bar = if wants_kvm {
        let stale = runs.kvm.is_some() && kvm_current.is_none();
        let running = kvm_current.is_some_and(|k| k.status == Status::Running);
        let live_ok = host.kvm_live();
        let note = match (&host, kvm_current.map(|k| &k.source)) {
            (Host::Checking, _) => "Real KVM: asking the lab server…".to_string(),
            (_, Some(Source::Recorded { host })) => format!(
                "Real KVM: a run recorded on {host}, shipped with this site (no lab server here)."
            ),
            (_, Some(Source::Live)) if running => "Real KVM: running on this machine…".into(),
            (_, Some(Source::Live)) => match &kvm_current.map(|k| &k.status) {
                Some(Status::Failed(m)) => format!("Real KVM failed: {m}"),
                _ => "Real KVM: run on the lab server's KVM.".into(),
            },
            (_, _) if stale => "Real KVM: the run shown before was of an earlier text.".into(),
            (Host::Locked, _) => "Real KVM: the lab server needs the token from your link.".into(),
            (Host::NoServer, _) => {
                "Real KVM: no lab server here — the kernel models run in your browser.".into()
            }
            (Host::Server { notice, .. }, _) if !live_ok => format!(
                "Real KVM: not on this server. {}",
                notice.clone().unwrap_or_default()
            ),
            _ => "Real KVM: not run yet.".into(),
        };
        // `set host_tsc` / `set clocksource` shape the models; a real run
        // happens on this machine's host, whatever the text says.
        let host_lines = scenarios::parse(&text).is_ok_and(|s| {
            let h = s.host();
            let d = scenarios::HostConfig::default();
            h.tsc_stable != d.tsc_stable || h.clocksource != d.clocksource
        });
        let onclick = {
            let s = start_kvm.clone();
            Callback::from(move |_: MouseEvent| s.emit(()))
        };
        html! {
            <div class="lab-kvm-bar">
                <span>{ note }</span>
                if host_lines && kvm_current.is_some() {
                    <span class="lab-host-warning">{ "Its host settings (set host_tsc / clocksource) apply to the models only: real KVM ran on this machine's own host." }</span>
                }
                if live_ok {
                    <button class="lab-run-kvm" disabled={running || !errors.is_empty()} {onclick}>
                        { if kvm_current.is_some() { "Re-run on real KVM" } else { "Run on real KVM" } }
                    </button>
                }
            </div>
        }
    } else {
        html! {}
    };

    let predictions = if p.predict.is_empty() {
        html! {}
    } else {
        let on_answer = {
            let (answers, key) = (answers.clone(), p.progress_key.clone());
            Callback::from(move |(spec, a): (String, Answer)| {
                let mut m = (*answers).clone();
                m.insert(spec, a);
                save_answers(&key, &m);
                answers.set(m);
            })
        };
        let on_reveal = {
            let revealed = revealed.clone();
            Callback::from(move |_: MouseEvent| revealed.set(true))
        };
        let on_reset = {
            let (answers, revealed, key) =
                (answers.clone(), revealed.clone(), p.progress_key.clone());
            Callback::from(move |_: MouseEvent| {
                dom::remove(&format!("tsclab.progress.{key}"));
                answers.set(HashMap::new());
                revealed.set(false);
            })
        };
        let all_answered = p.predict.iter().all(|q| answers.contains_key(&q.spec()));
        html! {
            <div class="lab-predict" role="group" aria-label="predict, then reveal">
                <div class="lab-predict-title">{ "Predict, then reveal" }</div>
                { for p.predict.iter().map(|q| {
                    let truth = shown.iter().find(|r| r.backend == q.backend()).and_then(|r| q.answer(r));
                    html! {
                        <PredictRow
                            question={*q}
                            answer={answers.get(&q.spec()).copied()}
                            truth={if *revealed { truth } else { None }}
                            on_answer={on_answer.clone()}
                        />
                    }
                }) }
                if !*revealed {
                    <button class="lab-reveal" onclick={on_reveal} disabled={false}>
                        { if all_answered { "Reveal the answers" } else { "Reveal without answering" } }
                    </button>
                } else {
                    <button class="lab-linkish" onclick={on_reset}>{ "Try again (clear my answers)" }</button>
                }
            </div>
        }
    };

    let chooser = match &p.on_backends {
        None => html! {},
        Some(cb) => html! {
            <div class="lab-backends" role="group" aria-label="backends to run">
                <span>{ "Run on: " }</span>
                { for BackendId::ALL.iter().map(|&b| {
                    let on = p.backends.contains(&b);
                    let (cb, current) = (cb.clone(), p.backends.clone());
                    let onclick = Callback::from(move |_: MouseEvent| {
                        let mut next: Vec<BackendId> = BackendId::ALL
                            .into_iter()
                            .filter(|x| if *x == b { !on } else { current.contains(x) })
                            .collect();
                        if next.is_empty() {
                            next.push(b);
                        }
                        cb.emit(next);
                    });
                    html! {
                        <button class="lab-backend-toggle" aria-pressed={on.to_string()} title={b.describe()} {onclick}>
                            { if b == BackendId::Kvm { "Real KVM" } else { b.name() } }
                        </button>
                    }
                }) }
            </div>
        },
    };
    let show_output = p.predict.is_empty() || *revealed;
    html! {
        <div class="lab-scenario-cell">
            <Editor text={AttrValue::from((*text).clone())} errors={(*errors).clone()} {on_input} />
            { chooser }
            { kvm_bar }
            { predictions }
            if show_output {
                if !errors.is_empty() && !shown.is_empty() {
                    <p class="lab-note">{ "The scenario has errors; the output below is of its last good version." }</p>
                }
                <Output runs={shown.clone()} {version} start={p.start} text={AttrValue::from((*text).clone())} />
            } else {
                <p class="lab-note lab-hidden-note">{ "The output stays hidden until you answer or reveal." }</p>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct PredictProps {
    question: Prediction,
    answer: Option<Answer>,
    /// The true answer, once revealed.
    truth: Option<Answer>,
    on_answer: Callback<(String, Answer)>,
}

#[function_component(PredictRow)]
fn predict_row(p: &PredictProps) -> Html {
    let spec = p.question.spec();
    let verdict = match (p.answer, p.truth) {
        (Some(a), Some(t)) if a == t => {
            html! { <span class="lab-right">{ format!("✔ right: {t}") }</span> }
        }
        (Some(a), Some(t)) => {
            html! { <span class="lab-wrong">{ format!("✘ you said {a}; it is {t}") }</span> }
        }
        (None, Some(t)) => html! { <span class="lab-answer">{ format!("answer: {t}") }</span> },
        _ => html! {},
    };
    let input = match p.question {
        Prediction::Stable { .. } => {
            let pick = |v: bool| {
                let (cb, spec) = (p.on_answer.clone(), spec.clone());
                Callback::from(move |_: MouseEvent| cb.emit((spec.clone(), Answer::Stable(v))))
            };
            let chosen = |v: bool| p.answer == Some(Answer::Stable(v));
            html! {
                <span class="lab-choice">
                    <button aria-pressed={chosen(true).to_string()} onclick={pick(true)}>{ "stable" }</button>
                    <button aria-pressed={chosen(false).to_string()} onclick={pick(false)}>{ "unstable" }</button>
                </span>
            }
        }
        Prediction::NrMatched { .. } => {
            let (cb, spec2) = (p.on_answer.clone(), spec.clone());
            let onchange = Callback::from(move |e: Event| {
                if let Some(i) = e.target_dyn_into::<web_sys::HtmlInputElement>()
                    && let Ok(n) = i.value().trim().parse::<u32>()
                {
                    cb.emit((spec2.clone(), Answer::Count(n)));
                }
            });
            let value = match p.answer {
                Some(Answer::Count(n)) => n.to_string(),
                _ => String::new(),
            };
            html! {
                <input class="lab-count" type="number" min="0" inputmode="numeric"
                    aria-label={p.question.question()} {value} {onchange} />
            }
        }
    };
    html! {
        <div class="lab-predict-row" data-predict={spec}>
            <span class="lab-question">{ p.question.question() }</span>
            { input }
            { verdict }
        </div>
    }
}
