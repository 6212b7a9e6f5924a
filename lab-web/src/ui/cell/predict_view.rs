//! The predictions panel: each question with the learner's answer and,
//! once revealed, whether it was right; then the reveal or try-again button.

use yew::prelude::*;

use super::predict::UsePredictions;
use crate::analysis::BackendRun;
use crate::notebook::{Answer, Prediction};

/// The questions, each judged against its backend's run in `shown` once
/// revealed. Nothing without questions.
pub(super) fn panel(
    state: &UsePredictions,
    questions: &[Prediction],
    shown: &[BackendRun],
) -> Html {
    if questions.is_empty() {
        return html! {};
    }
    let on_answer = state.on_answer();
    html! {
        <div class="lab-predict" role="group" aria-label="predict, then reveal">
            <div class="lab-predict-title">{ "Predict, then reveal" }</div>
            { for questions.iter().map(|q| {
                let truth = shown.iter().find(|r| r.backend == q.backend()).and_then(|r| q.answer(r));
                html! {
                    <PredictRow
                        question={*q}
                        answer={state.answer(q)}
                        truth={if state.revealed() { truth } else { None }}
                        on_answer={on_answer.clone()}
                    />
                }
            }) }
            if !state.revealed() {
                <button class="lab-reveal" onclick={state.on_reveal()} disabled={false}>
                    { if state.all_answered(questions) { "Reveal the answers" } else { "Reveal without answering" } }
                </button>
            } else {
                <button class="lab-linkish" onclick={state.on_reset()}>{ "Try again (clear my answers)" }</button>
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

/// One question: the learner's input, and the verdict once revealed.
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
