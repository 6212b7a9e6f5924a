//! The classroom: the instructor's polls and presenting, the students'
//! following of the presenter (issue 12's notebook side).
//!
//! [`use_class`] holds what the page knows of the class: whether it shows
//! the instructor's controls, the current poll (from the presenter's stream,
//! the instructor's own calls and the results it asks for every second while
//! the poll is open), this tab's answer, what the last call came to, and the
//! presented run. Every call goes through [`act`], which hands its answer to
//! the page's state, so a cell's "Ask the room" opens the poll that the
//! page's panel then shows. Drawn by `view`: a cell's instructor tools, the
//! poll (the instructor's panel, or a follower's question card; both with
//! the distribution as bars and a table) and the presenter's cell.

mod view;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use scenarios::BackendId;
use scenarios::protocol::{Poll, PollState};
use yew::prelude::*;

use super::live::{self, Endpoints, Live};
use super::{Env, Host, dom};
use crate::analysis::{BackendRun, Source, Status};

pub(crate) use view::cell_tools;

/// What a page knows of its class.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct ClassState {
    pub poll: Option<Rc<Poll>>,
    /// This tab's answer: (poll id, choice), once the server took it.
    pub mine: Option<(String, String)>,
    /// What the last call came to: under way, done, or why it failed.
    pub said: Option<String>,
    /// The presented run, one run per backend, as its events arrive.
    pub presented: Rc<Vec<BackendRun>>,
    /// Bumped whenever `presented` changes.
    pub version: u64,
    /// The presented run is over: the next event starts the next one.
    ended: bool,
    /// The presenter's stream in words, while following.
    pub stream: Option<&'static str>,
}

pub(crate) enum ClassAct {
    Poll(Poll),
    Mine(String, String),
    Said(Option<String>),
    Followed(Live),
    Unfollow,
}

impl ClassState {
    /// The run of backend `b` in the presented run, made on its first event.
    fn run_of(&mut self, b: BackendId) -> &mut BackendRun {
        if self.ended {
            self.presented = Rc::default();
            self.ended = false;
        }
        let runs = Rc::make_mut(&mut self.presented);
        let i = match runs.iter().position(|r| r.backend == b) {
            Some(i) => i,
            None => {
                let source = if b == BackendId::Kvm {
                    Source::Live
                } else {
                    Source::Model
                };
                runs.push(BackendRun::new(b, source));
                runs.len() - 1
            }
        };
        &mut runs[i]
    }

    fn follow(&mut self, f: Live) {
        if !matches!(f, Live::Poll(_) | Live::Lost(_)) {
            self.version += 1;
        }
        match f {
            // Resumed after the last event seen: what is here stands.
            Live::Open { resumed: true } => self.stream = Some("Following the presenter."),
            // The server sends the current run and poll again.
            Live::Open { resumed: false } => {
                self.presented = Rc::default();
                self.ended = false;
                self.stream = Some("Following the presenter.");
            }
            Live::Event(e) => self.run_of(e.backend()).push(*e),
            Live::Failed(e) => match e.backend {
                Some(b) => self.run_of(b).status = Status::Failed(e.message),
                None => {
                    for r in Rc::make_mut(&mut self.presented) {
                        if r.status == Status::Running {
                            r.status = Status::Failed(e.message.clone());
                        }
                    }
                }
            },
            Live::Done => {
                for r in Rc::make_mut(&mut self.presented) {
                    if r.status == Status::Running {
                        r.status = Status::Done;
                    }
                }
                self.ended = true;
            }
            Live::Poll(p) => self.poll(*p),
            Live::Lost(retrying) => {
                self.stream = Some(if retrying {
                    "The connection to the presenter was lost; reconnecting…"
                } else {
                    "The presenter's stream is closed (reload the page to follow again)."
                })
            }
        }
    }

    /// A poll from the server. The room's view of the current poll keeps
    /// the counts and answer the instructor's view already had.
    fn poll(&mut self, mut p: Poll) {
        if let Some(old) = self.poll.as_ref().filter(|o| o.id == p.id) {
            if p.counts.is_none() {
                p.counts.clone_from(&old.counts);
            }
            if p.answer.is_none() {
                p.answer.clone_from(&old.answer);
            }
        }
        self.poll = Some(Rc::new(p));
    }

    /// This tab's answer to `p`, if it gave one.
    pub(crate) fn mine_of(&self, p: &Poll) -> Option<&str> {
        self.mine
            .as_ref()
            .filter(|(id, _)| *id == p.id)
            .map(|(_, c)| c.as_str())
    }
}

impl Reducible for ClassState {
    type Action = ClassAct;
    fn reduce(self: Rc<Self>, act: ClassAct) -> Rc<Self> {
        let mut s = Rc::unwrap_or_clone(self);
        match act {
            ClassAct::Poll(p) => s.poll(p),
            ClassAct::Mine(id, choice) => {
                s.mine = Some((id, choice));
                s.said = None;
            }
            ClassAct::Said(m) => s.said = m,
            ClassAct::Followed(f) => s.follow(f),
            ClassAct::Unfollow => {
                s.presented = Rc::default();
                s.stream = None;
                s.version += 1;
            }
        }
        Rc::new(s)
    }
}

thread_local! {
    /// The notebook page's class, for the cells' instructor tools.
    static PAGE: std::cell::RefCell<Option<UseReducerDispatcher<ClassState>>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether this page shows the instructor's controls. A loopback server
/// without tokens makes its local user the instructor, but no one else can
/// reach it: there is no class to teach, and the controls stay away until
/// the page carries the instructor's token.
pub(crate) fn teaches(env: &Env) -> bool {
    env.host.instructor() && env.endpoints.token.is_some()
}

/// The page's class.
pub(crate) struct UseClass {
    pub state: UseReducerHandle<ClassState>,
    pub instructor: bool,
    /// "Follow the presenter" (`?follow` turns it on).
    pub follow: UseStateHandle<bool>,
    /// A lab server answers: there is a class to follow.
    pub served: bool,
    endpoints: Endpoints,
}

/// A call of the class's: `method` on `api/{path}` with `body`. What it
/// answers becomes the page's: `ok`, else the poll in the answer; then the
/// keyboard goes to `next` (a selector; empty: it stays). A refusal is
/// said after `what`. Said first: `what`, as under way.
fn act(
    e: &Endpoints,
    what: &'static str,
    (method, path, body): (&'static str, String, Option<String>),
    ok: Option<ClassAct>,
    next: &'static str,
) {
    let Some(d) = PAGE.with(|c| c.borrow().clone()) else {
        return;
    };
    d.dispatch(ClassAct::Said(Some([what, "…"].concat())));
    let e = e.clone();
    wasm_bindgen_futures::spawn_local(async move {
        d.dispatch(match live::call(&e, method, &path, body).await {
            Ok(text) => {
                if !next.is_empty() {
                    dom::focus_soon(next);
                }
                d.dispatch(ClassAct::Said(None));
                match ok.or_else(|| live::read_poll(&text).map(ClassAct::Poll)) {
                    Some(a) => a,
                    None => return,
                }
            }
            Err(e) => ClassAct::Said(Some([what, ": ", &e].concat())),
        });
    });
}

/// The class of the notebook page: the presenter followed while wanted, and
/// for the instructor the current poll on arrival, then its results every
/// second while it is open.
#[hook]
pub(crate) fn use_class(env: &Env) -> UseClass {
    let state = use_reducer(ClassState::default);
    let follow = use_state(|| dom::query("follow").is_some());
    let served = matches!(env.host, Host::Server { .. });
    let instructor = teaches(env);
    let endpoints = env.endpoints.clone();
    {
        let (d, endpoints) = (state.dispatcher(), endpoints.clone());
        use_effect_with(*follow && served, move |on| {
            PAGE.with(|c| *c.borrow_mut() = Some(d.clone()));
            let d2 = d.clone();
            let stream = on
                .then(|| {
                    live::follow(
                        &endpoints,
                        Rc::new(move |f| d2.dispatch(ClassAct::Followed(f))),
                    )
                })
                .flatten();
            move || {
                drop(stream);
                d.dispatch(ClassAct::Unfollow);
            }
        });
    }
    {
        let (d, endpoints) = (state.dispatcher(), endpoints.clone());
        let key = (
            instructor,
            state.poll.as_ref().map(|p| (p.id.clone(), p.state)),
        );
        use_effect_with(key, move |(on, poll)| {
            let stop = Rc::new(Cell::new(false));
            let path = match poll {
                Some((id, _)) => format!("polls/{id}/results"),
                // No current poll (404) is nothing to say.
                None => "polls/current".into(),
            };
            let open = matches!(poll, Some((_, PollState::Open)));
            if *on {
                let stop = stop.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    loop {
                        if let Ok(t) = live::call(&endpoints, "GET", &path, None).await
                            && !stop.get()
                            && let Some(p) = live::read_poll(&t)
                        {
                            d.dispatch(ClassAct::Poll(p));
                        }
                        if !open || stop.get() {
                            break;
                        }
                        yew::platform::time::sleep(Duration::from_secs(1)).await;
                    }
                });
            }
            move || stop.set(true)
        });
    }
    UseClass {
        state,
        instructor,
        follow,
        served,
        endpoints,
    }
}

impl UseClass {
    /// The toolbar's "Follow the presenter" (only where a server answers).
    pub(crate) fn toggle(&self) -> Html {
        if !self.served {
            return html! {};
        }
        let follow = self.follow.clone();
        let onclick = Callback::from(move |_: MouseEvent| follow.set(!*follow));
        html! {
            <button class="lab-follow" aria-pressed={self.follow.to_string()} {onclick}>
                { "Follow the presenter" }
            </button>
        }
    }

    /// Under the banner: the instructor's poll, or a follower's question
    /// card, and a follower's presenter cell.
    pub(crate) fn panels(&self) -> Html {
        let s = &*self.state;
        let following = *self.follow && self.served;
        // One live region for what the class says: how the last action went,
        // else to a follower what the poll says (the question, this tab's
        // answer, at the reveal the answer and the counts).
        let words = s
            .poll
            .as_deref()
            .filter(|_| following && !self.instructor)
            .map(|p| crate::poll::words(p, false, s.mine_of(p)));
        html! { <>
            if let Some(p) = s.poll.as_ref().filter(|_| self.instructor || following) {
                { view::poll(p, s.mine_of(p), self.instructor, &self.endpoints) }
            }
            if self.instructor || following {
                <p class="lab-class-status" role="status" aria-atomic="true">
                    { s.said.clone().or(words).unwrap_or_default() }
                </p>
            }
            if following {
                { view::presenter(s) }
            }
        </> }
    }
}
