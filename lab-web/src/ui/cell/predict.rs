//! Predict, then reveal: the learner's answers, kept per cell in
//! localStorage, the reveal, and "try again". Drawn by `predict_view`.

use std::collections::HashMap;

use yew::prelude::*;

use super::super::dom;
use crate::keys;
use crate::notebook::{Answer, Prediction};

fn load_answers(progress: &str) -> HashMap<String, Answer> {
    dom::load(&keys::answers(progress))
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn save_answers(progress: &str, answers: &HashMap<String, Answer>) {
    let _ = dom::save(
        &keys::answers(progress),
        &serde_json::to_string(answers).unwrap_or_default(),
    );
}

/// A cell's answers (by question spec) and whether they are revealed.
pub(super) struct UsePredictions {
    answers: UseStateHandle<HashMap<String, Answer>>,
    revealed: UseStateHandle<bool>,
    progress: AttrValue,
}

/// The answers kept under `progress`; revealed at once when every question
/// of `questions` was answered on an earlier visit.
#[hook]
pub(super) fn use_predictions(progress: &AttrValue, questions: &[Prediction]) -> UsePredictions {
    let answers = use_state(|| load_answers(progress));
    let revealed = use_state(|| questions.iter().all(|q| answers.contains_key(&q.spec())));
    UsePredictions {
        answers,
        revealed,
        progress: progress.clone(),
    }
}

impl UsePredictions {
    pub(super) fn revealed(&self) -> bool {
        *self.revealed
    }

    pub(super) fn answer(&self, q: &Prediction) -> Option<Answer> {
        self.answers.get(&q.spec()).copied()
    }

    pub(super) fn all_answered(&self, questions: &[Prediction]) -> bool {
        questions
            .iter()
            .all(|q| self.answers.contains_key(&q.spec()))
    }

    pub(super) fn on_reveal(&self) -> Callback<MouseEvent> {
        let revealed = self.revealed.clone();
        Callback::from(move |_: MouseEvent| revealed.set(true))
    }

    /// Keeps an answer (question spec, answer), here and in storage.
    pub(super) fn on_answer(&self) -> Callback<(String, Answer)> {
        let (answers, progress) = (self.answers.clone(), self.progress.clone());
        Callback::from(move |(spec, a): (String, Answer)| {
            let mut m = (*answers).clone();
            m.insert(spec, a);
            save_answers(&progress, &m);
            answers.set(m);
        })
    }

    /// Try again: the answers are forgotten, here and in storage.
    pub(super) fn on_reset(&self) -> Callback<MouseEvent> {
        let (answers, revealed, progress) = (
            self.answers.clone(),
            self.revealed.clone(),
            self.progress.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            dom::remove(&keys::answers(&progress));
            answers.set(HashMap::new());
            revealed.set(false);
        })
    }
}
