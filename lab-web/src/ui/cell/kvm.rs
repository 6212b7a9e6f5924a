//! Real KVM for one cell: a live run streamed from the lab server (started
//! once the host is known, re-run on request, cancelled by a new run or by
//! unmounting), else the recording a static site ships for a library
//! scenario. A run of an earlier text is set aside, not compared.

use std::cell::RefCell;
use std::rc::Rc;

use scenarios::BackendId;
use yew::prelude::*;

use super::super::live::{self, Endpoints, Live, Stream};
use super::super::{Env, Host};
use crate::analysis::{BackendRun, Source, Status};

/// The cell's real-KVM run, and which text and request it belongs to.
#[derive(Default)]
pub(super) struct Kvm {
    /// Bumped on every change: what memoised views key on.
    pub version: u64,
    pub run: Option<BackendRun>,
    /// The scenario text the run is of.
    text: AttrValue,
    /// Which request the live events belong to.
    serial: u32,
}

pub(super) enum Act {
    Start { serial: u32, text: AttrValue },
    Live { serial: u32, live: Live },
    Recorded { text: AttrValue, run: BackendRun },
}

impl Reducible for Kvm {
    type Action = Act;
    fn reduce(self: Rc<Self>, act: Act) -> Rc<Self> {
        let version = self.version + 1;
        match act {
            Act::Start { serial, text } => Rc::new(Kvm {
                version,
                run: Some(BackendRun::new(BackendId::Kvm, Source::Live)),
                text,
                serial,
            }),
            Act::Live { serial, live } => {
                if serial != self.serial {
                    return self;
                }
                let Some(mut run) = self.run.clone() else {
                    return self;
                };
                match live {
                    Live::Event(e) => run.push(*e),
                    Live::Done => {
                        if run.status == Status::Running {
                            run.status = Status::Done;
                        }
                    }
                    Live::Failed(e) => run.status = Status::Failed(e.message),
                    // Only the presenter's stream says these.
                    Live::Poll(_) | Live::Open { .. } | Live::Lost(_) => return self,
                }
                Rc::new(Kvm {
                    version,
                    run: Some(run),
                    text: self.text.clone(),
                    serial,
                })
            }
            Act::Recorded { text, run } => Rc::new(Kvm {
                version,
                run: Some(run),
                text,
                serial: self.serial,
            }),
        }
    }
}

/// What a cell holds of its real-KVM run.
pub(super) struct UseKvm {
    pub state: UseReducerHandle<Kvm>,
    /// Starts (or restarts) a live run of the text on screen.
    pub start: Callback<()>,
}

impl UseKvm {
    /// The run, if it is of `text`.
    pub(super) fn of(&self, text: &str) -> Option<&BackendRun> {
        self.state.run.as_ref().filter(|_| self.state.text == text)
    }
}

/// Fetches the recording of library scenario `name`; it is this cell's run
/// only if it is of `text`.
fn fetch_recording(
    endpoints: &Endpoints,
    name: &str,
    text: AttrValue,
    d: UseReducerDispatcher<Kvm>,
) {
    live::recorded(endpoints, name, move |rec| {
        if let Some(rec) = rec.filter(|r| r.text == *text) {
            let label = format!(
                "{} ({}, {})",
                rec.host.kernel, rec.host.flavour, rec.host.clocksource
            );
            let run = BackendRun::from_events(
                BackendId::Kvm,
                Source::Recorded { host: label },
                rec.events,
            );
            d.dispatch(Act::Recorded { text, run });
        }
    });
}

/// Real KVM once the host is known, if `wanted`: live if the server has it,
/// else the recording of `library` if it is of `first_text` (the text the
/// cell opened with).
#[hook]
pub(super) fn use_kvm(
    env: Option<&Env>,
    wanted: bool,
    text: &AttrValue,
    library: &Option<AttrValue>,
    first_text: &AttrValue,
) -> UseKvm {
    let state = use_reducer(Kvm::default);
    let stream = use_mut_ref(|| None::<Rc<RefCell<Option<Stream>>>>);
    let serial = use_mut_ref(|| 0u32);
    let endpoints = env.map(|e| e.endpoints.clone());
    let host = env.map_or(Host::NoServer, |e| e.host.clone());
    let start = {
        let (d, stream, text) = (state.dispatcher(), stream.clone(), text.clone());
        let endpoints = endpoints.clone();
        Callback::from(move |_: ()| {
            let Some(endpoints) = &endpoints else { return };
            let n = {
                let mut s = serial.borrow_mut();
                *s += 1;
                *s
            };
            d.dispatch(Act::Start {
                serial: n,
                text: text.clone(),
            });
            let d = d.clone();
            let report: Rc<dyn Fn(Live)> =
                Rc::new(move |live| d.dispatch(Act::Live { serial: n, live }));
            // Replacing the handle drops (closes) the previous stream.
            *stream.borrow_mut() = Some(live::run_kvm(endpoints, &text, report));
        })
    };
    {
        let (start, d) = (start.clone(), state.dispatcher());
        let (library, first_text) = (library.clone(), first_text.clone());
        use_effect_with((host, wanted), move |(host, wanted)| {
            if !*wanted || *host == Host::Checking {
                return;
            }
            if host.kvm_live() {
                start.emit(());
            } else if let (Some(name), Some(endpoints)) = (library, endpoints) {
                fetch_recording(&endpoints, &name, first_text, d);
            }
        });
    }
    // Unmounting closes the stream: the server cancels a run nobody watches.
    use_effect_with((), move |_| move || drop(stream.borrow_mut().take()));
    UseKvm { state, start }
}
