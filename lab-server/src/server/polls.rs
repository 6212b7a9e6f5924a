//! Live polls: the instructor asks the room a cell's question; each browser
//! tab answers once (a second answer replaces the first); nobody but the
//! instructor sees the answers until the reveal.
//!
//! The polls live in the class's shared state: in this
//! process, or in Redis when replicas serve one class. Either way they are
//! bounded by [`PollLimits`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use scenarios::protocol::{Poll, PollAnswer, PollRequest, PollState};

/// How much a class's polls may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollLimits {
    /// Answers (tabs) one poll takes.
    pub answers: usize,
    /// Polls kept; the oldest goes when another opens.
    pub kept: usize,
    /// Choices of one poll.
    pub choices: usize,
    /// Bytes of a question.
    pub question_bytes: usize,
    /// Bytes of a choice, and of a tab's id.
    pub word_bytes: usize,
}

impl PollLimits {
    /// The server's.
    pub const SERVER: PollLimits = PollLimits {
        answers: 10_000,
        kept: 32,
        choices: 32,
        question_bytes: 1_000,
        word_bytes: 64,
    };

    /// A poll request checked against the bounds: the sentence says which.
    pub fn admit(&self, req: &PollRequest) -> Result<(), String> {
        if req.question.trim().is_empty() || req.question.len() > self.question_bytes {
            return Err(format!(
                "a poll's question is 1 to {} bytes",
                self.question_bytes
            ));
        }
        if req.choices.len() < 2 || req.choices.len() > self.choices {
            return Err(format!("a poll has 2 to {} choices", self.choices));
        }
        for (i, c) in req.choices.iter().enumerate() {
            if c.is_empty() || c.len() > self.word_bytes {
                return Err(format!("choice {}: 1 to {} bytes", i + 1, self.word_bytes));
            }
            if req.choices[..i].contains(c) {
                return Err(format!("choice {}: `{c}` twice", i + 1));
            }
        }
        if let Some(a) = &req.answer
            && !req.choices.contains(a)
        {
            return Err(format!("the answer `{a}` is not one of the choices"));
        }
        if req.cell.as_ref().is_some_and(|c| c.len() > self.word_bytes) {
            return Err(format!(
                "a cell's name is at most {} bytes",
                self.word_bytes
            ));
        }
        Ok(())
    }

    /// An answer's shape checked (its choice is checked against its poll).
    pub fn admit_answer(&self, a: &PollAnswer) -> Result<(), String> {
        if a.tab.is_empty() || a.tab.len() > self.word_bytes {
            return Err(format!("a tab's id is 1 to {} bytes", self.word_bytes));
        }
        if a.choice.len() > self.word_bytes {
            return Err(format!("a choice is at most {} bytes", self.word_bytes));
        }
        Ok(())
    }
}

/// Why an answer or a change was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum PollRefusal {
    /// No such poll (or no longer kept).
    Unknown(String),
    /// The poll is closed or revealed.
    Closed(String),
    /// The choice is not one of the poll's.
    BadChoice(String),
    /// The poll has taken as many tabs as it may.
    Full(usize),
}

impl std::fmt::Display for PollRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PollRefusal::Unknown(id) => write!(f, "no poll `{id}`"),
            PollRefusal::Closed(id) => write!(f, "poll `{id}` takes no more answers"),
            PollRefusal::BadChoice(c) => write!(f, "`{c}` is not one of the poll's choices"),
            PollRefusal::Full(n) => write!(f, "this poll has taken its {n} answers"),
        }
    }
}

/// One poll and its answers, in this process.
#[derive(Debug)]
struct Record {
    poll: Poll,
    /// Tab → index of its choice.
    answers: HashMap<String, usize>,
}

impl Record {
    fn counted(&self) -> Poll {
        let mut counts = vec![0u64; self.poll.choices.len()];
        for &i in self.answers.values() {
            counts[i] += 1;
        }
        Poll {
            counts: Some(counts),
            ..self.poll.clone()
        }
    }
}

/// The polls of a single-process class.
#[derive(Debug)]
pub struct LocalPolls {
    limits: PollLimits,
    /// Newest first.
    polls: Mutex<VecDeque<Record>>,
}

impl LocalPolls {
    pub fn new(limits: PollLimits) -> LocalPolls {
        LocalPolls {
            limits,
            polls: Mutex::new(VecDeque::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut VecDeque<Record>) -> T) -> T {
        f(&mut self.polls.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Opens a poll (the request admitted already) under `id`; the one
    /// open before is closed.
    pub fn open(&self, id: String, req: PollRequest) -> Poll {
        let poll = Poll::opened(id, req);
        let kept = self.limits.kept;
        self.with(|polls| {
            for r in polls.iter_mut() {
                if r.poll.state == PollState::Open {
                    r.poll.state = PollState::Closed;
                }
            }
            polls.push_front(Record {
                poll: poll.clone(),
                answers: HashMap::new(),
            });
            polls.truncate(kept);
        });
        poll
    }

    /// The newest poll, with its counts.
    pub fn current(&self) -> Option<Poll> {
        self.with(|polls| polls.front().map(Record::counted))
    }

    /// A poll with its counts.
    pub fn get(&self, id: &str) -> Option<Poll> {
        self.with(|polls| polls.iter().find(|r| r.poll.id == id).map(Record::counted))
    }

    /// A tab's answer: a second one replaces its first.
    pub fn answer(&self, id: &str, a: &PollAnswer) -> Result<(), PollRefusal> {
        let max = self.limits.answers;
        self.with(|polls| {
            let r = polls
                .iter_mut()
                .find(|r| r.poll.id == id)
                .ok_or_else(|| PollRefusal::Unknown(id.into()))?;
            if r.poll.state != PollState::Open {
                return Err(PollRefusal::Closed(id.into()));
            }
            let choice = r
                .poll
                .choices
                .iter()
                .position(|c| *c == a.choice)
                .ok_or_else(|| PollRefusal::BadChoice(a.choice.clone()))?;
            if !r.answers.contains_key(&a.tab) && r.answers.len() >= max {
                return Err(PollRefusal::Full(max));
            }
            r.answers.insert(a.tab.clone(), choice);
            Ok(())
        })
    }

    /// Moves a poll on: closed, or revealed (which also closes it).
    pub fn set_state(&self, id: &str, state: PollState) -> Result<Poll, PollRefusal> {
        self.with(|polls| {
            let r = polls
                .iter_mut()
                .find(|r| r.poll.id == id)
                .ok_or_else(|| PollRefusal::Unknown(id.into()))?;
            if r.poll.state != PollState::Revealed {
                r.poll.state = state;
            }
            Ok(r.counted())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> PollRequest {
        PollRequest {
            question: "Stable after write 5?".into(),
            choices: vec!["stable".into(), "unstable".into()],
            answer: Some("unstable".into()),
            cell: None,
        }
    }

    fn ans(tab: &str, choice: &str) -> PollAnswer {
        PollAnswer {
            tab: tab.into(),
            choice: choice.into(),
        }
    }

    #[test]
    fn a_tab_answers_once_and_a_second_answer_replaces_the_first() {
        let polls = LocalPolls::new(PollLimits::SERVER);
        polls.open("p1".into(), req());
        polls.answer("p1", &ans("a", "stable")).unwrap();
        polls.answer("p1", &ans("b", "stable")).unwrap();
        polls.answer("p1", &ans("a", "unstable")).unwrap();
        let p = polls.get("p1").unwrap();
        assert_eq!(p.counts, Some(vec![1, 1]));
        assert_eq!(
            p.clone().for_the_room().counts,
            None,
            "hidden before the reveal"
        );
        let shown = polls.set_state("p1", PollState::Revealed).unwrap();
        assert_eq!(shown.for_the_room().counts, Some(vec![1, 1]));
        assert_eq!(
            polls.answer("p1", &ans("c", "stable")),
            Err(PollRefusal::Closed("p1".into()))
        );
    }

    #[test]
    fn bounds_refuse_with_a_sentence() {
        let small = PollLimits {
            answers: 2,
            kept: 2,
            ..PollLimits::SERVER
        };
        let polls = LocalPolls::new(small);
        polls.open("p1".into(), req());
        polls.answer("p1", &ans("a", "stable")).unwrap();
        polls.answer("p1", &ans("b", "stable")).unwrap();
        assert_eq!(
            polls.answer("p1", &ans("c", "stable")),
            Err(PollRefusal::Full(2))
        );
        polls.answer("p1", &ans("a", "unstable")).unwrap();
        assert_eq!(
            polls.answer("p1", &ans("a", "maybe")),
            Err(PollRefusal::BadChoice("maybe".into()))
        );
        polls.open("p2".into(), req());
        polls.open("p3".into(), req());
        assert!(polls.get("p1").is_none(), "only the newest two are kept");
        assert_eq!(polls.get("p2").unwrap().state, PollState::Closed);
        let mut bad = req();
        bad.choices = vec!["x".into()];
        assert!(small.admit(&bad).unwrap_err().contains("2 to 32 choices"));
        bad.choices = vec!["x".into(), "x".into()];
        assert!(small.admit(&bad).unwrap_err().contains("twice"));
        bad = req();
        bad.answer = Some("maybe".into());
        assert!(
            small
                .admit(&bad)
                .unwrap_err()
                .contains("not one of the choices")
        );
    }
}
