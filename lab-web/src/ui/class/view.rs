//! What the class draws: a cell's instructor tools ("Ask the room" per
//! prediction, "Present this cell"); the poll, as the instructor's panel
//! (the answers as they arrive, Close, Reveal, Download CSV) or as a
//! follower's question card (a button per choice, this tab's answer, the
//! answer and the distribution once revealed); and the presented run,
//! read-only.
//!
//! The markup is `crate::poll`'s; each group has one click handler that
//! reads its buttons' `data-act` and `data-value`. What changes rewrites
//! only its own markup: the instructor's buttons stay put (and keep the
//! focus) while the counts come in, and after an action the keyboard
//! lands on the button that follows it.

use std::rc::Rc;

use scenarios::BackendId;
use scenarios::protocol::{Poll, PollAnswer, PollState, RunRequest};
use yew::prelude::*;

use super::super::live::Endpoints;
use super::super::output::Output;
use super::super::{Env, dom};
use super::{ClassAct, ClassState, act, teaches};
use crate::analysis::BackendRun;
use crate::markdown::escape;
use crate::notebook::Prediction;
use crate::poll;

fn raw(markup: String) -> Html {
    Html::from_html_unchecked(markup.into())
}

/// The button a click in a group landed on: its `data-act` and `data-value`.
fn clicked(e: &MouseEvent) -> Option<(String, usize)> {
    let b = e
        .target_dyn_into::<web_sys::Element>()?
        .closest("button[data-act]")
        .ok()??;
    let value = b.get_attribute("data-value").and_then(|v| v.parse().ok());
    Some((b.get_attribute("data-act")?, value.unwrap_or(0)))
}

/// A notebook cell's instructor tools (nothing for anyone else): each
/// prediction asked of the room, with the right answer from the cell's
/// `runs`, and the cell's `text` presented on its `backends`; how it went
/// is said above the cells.
pub(crate) fn cell_tools(
    env: &Env,
    predict: &Rc<Vec<Prediction>>,
    runs: &Rc<Vec<BackendRun>>,
    text: &AttrValue,
    backends: &Rc<Vec<BackendId>>,
    cell: &AttrValue,
) -> Html {
    if !teaches(env) {
        return html! {};
    }
    let onclick = {
        let e = env.endpoints.clone();
        let (predict, runs, text, backends, cell) = (
            predict.clone(),
            runs.clone(),
            text.clone(),
            backends.clone(),
            cell.clone(),
        );
        let kvm = env.host.kvm_live();
        Callback::from(move |ev: MouseEvent| {
            let Some((what, i)) = clicked(&ev) else {
                return;
            };
            if what == "ask" {
                let Some(q) = predict.get(i) else { return };
                let run = runs.iter().find(|r| r.backend == q.backend());
                let body = serde_json::to_string(&poll::request(q, run, &cell)).ok();
                let next = ".lab-poll [data-act=close]";
                act(
                    &e,
                    "Asking the room",
                    ("POST", "polls".into(), body),
                    None,
                    next,
                );
            } else {
                // The models, and real KVM where this server has it.
                let names = backends
                    .iter()
                    .filter(|b| BackendId::MODELS.contains(b) || (**b == BackendId::Kvm && kvm))
                    .map(|b| b.name().to_string())
                    .collect();
                let req = RunRequest {
                    scenario: text.to_string(),
                    backends: Some(names),
                    presenter: true,
                };
                let body = serde_json::to_string(&req).ok();
                let done = ClassAct::Said(Some("Presented: the class's followers see it.".into()));
                act(
                    &e,
                    "Presenting",
                    ("POST", "runs".into(), body),
                    Some(done),
                    "",
                );
            }
        })
    };
    html! {
        <div class="lab-class-tools" role="group" aria-label="the class (instructor)" {onclick}>
            { raw(poll::tools(predict)) }
        </div>
    }
}

/// The poll: the instructor's panel, or a follower's question card.
pub(super) fn poll(
    p: &Rc<Poll>,
    mine: Option<&str>,
    instructor: bool,
    endpoints: &Endpoints,
) -> Html {
    let onclick = {
        let (e, p) = (endpoints.clone(), p.clone());
        Callback::from(move |ev: MouseEvent| {
            let Some((what, i)) = clicked(&ev) else {
                return;
            };
            let id = &p.id;
            let post = |verb: &str, next| {
                let call = ("POST", ["polls/", id, "/", verb].concat(), None);
                act(&e, "Asking the server", call, None, next);
            };
            match what.as_str() {
                // The button goes with the state it ends: the keyboard lands on the next.
                "close" => post("close", ".lab-poll [data-act=reveal]"),
                "reveal" => post("reveal", ".lab-poll [data-act=csv]"),
                _ => {
                    let Some(choice) = p.choices.get(i) else {
                        return;
                    };
                    let answer = PollAnswer {
                        tab: dom::tab_id(),
                        choice: choice.clone(),
                    };
                    let body = serde_json::to_string(&answer).ok();
                    let call = ("POST", ["polls/", id, "/answers"].concat(), body);
                    let ok = Some(ClassAct::Mine(id.clone(), choice.clone()));
                    let next = ".lab-poll [aria-pressed=true]";
                    act(&e, "Sending your answer", call, ok, next);
                }
            }
        })
    };
    let state = match p.state {
        PollState::Open => "open",
        PollState::Closed => "closed",
        PollState::Revealed => "revealed",
    };
    let label = if instructor {
        "your poll"
    } else {
        "question from the presenter"
    };
    // The instructor's words change with every count (not a live region);
    // a follower's are the page's live region, under the card.
    let (csv, words) = if instructor {
        let csv = endpoints.api(&["polls/", &p.id, "/results.csv"].concat());
        let words = poll::words(p, true, None);
        (
            Some(csv),
            [r#"<p class="lab-poll-state">"#, &escape(&words), "</p>"].concat(),
        )
    } else {
        (None, String::new())
    };
    html! {
        <section class="lab-poll" role="region" aria-label={label} data-state={state}
            data-poll={p.id.clone()} {onclick}>
            { raw(poll::head(p, csv.as_deref(), mine) + &words) }
            if instructor || p.state == PollState::Revealed {
                { distribution(p) }
            }
        </section>
    }
}

/// The bars and the table of `p`'s counts. The disclosure is the page's
/// own element, so the table stays open while the counts change.
fn distribution(p: &Poll) -> Html {
    let (bars, table) = poll::distribution(p);
    html! { <>
        { raw(bars) }
        <details class="lab-poll-table">
            <summary>{ "Table view" }</summary>
            { raw(table) }
        </details>
    </> }
}

/// The presented run, read-only: its events drawn as any cell's output.
pub(super) fn presenter(s: &ClassState) -> Html {
    let waiting = if s.presented.is_empty() {
        " Nothing presented yet."
    } else {
        ""
    };
    html! {
        <section class="lab-presenter" role="region" aria-label="the presenter's run">
            { raw("<h2>Presenter</h2>".into()) }
            <p class="lab-note" role="status">
                { s.stream.unwrap_or("Connecting to the presenter…") }{ waiting }
            </p>
            if !s.presented.is_empty() {
                <Output runs={s.presented.clone()} version={s.version} start={None::<u32>}
                    text={AttrValue::default()} title={AttrValue::from("presented run")} />
            }
        </section>
    }
}
