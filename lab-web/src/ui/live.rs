//! Talking to the lab server: the host report (with the caller's role),
//! real-KVM runs streamed over SSE, the presenter's stream, the API's other
//! calls (polls, presenting), and the recorded runs shipped with a static site.
//!
//! The page works without any of it. No server (a static host, a file
//! server) means model-only mode; a server without usable KVM says so in
//! its host report.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use scenarios::protocol::{
    ApiError, Created, HostMode, HostReport, Poll, PollState, Recording, Role, RunRequest,
    ServerProbe, StreamError, StreamEvent,
};
use scenarios::{BackendId, Event};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::dom;

/// Where the app lives (for `recorded/`) and where the API answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoints {
    /// The app's base URL, ending in `/`.
    pub base: String,
    /// `?token=` for a server started with `--token`, exactly as it was
    /// written in the page's URL (still URL-encoded), passed on as is.
    pub token: Option<String>,
}

impl Endpoints {
    pub fn api(&self, path: &str) -> String {
        let mut url = format!("{}api/{path}", self.base);
        if let Some(t) = &self.token {
            url.push_str(if url.contains('?') { "&" } else { "?" });
            url.push_str("token=");
            url.push_str(t);
        }
        url
    }
}

/// What the page knows about real KVM.
#[derive(Clone, Debug, PartialEq)]
pub enum Host {
    Checking,
    /// No lab server answered: the models run here; real KVM only as recorded runs.
    NoServer,
    /// A lab server is here but wants a token this page was not given.
    Locked,
    /// The server answered.
    Server {
        report: Box<HostReport>,
        /// `kvm` or `model-only`.
        mode: String,
        notice: Option<String>,
        /// Who the page's token makes it.
        role: Role,
    },
}

impl Host {
    pub fn kvm_live(&self) -> bool {
        matches!(self, Host::Server { mode, report, .. } if mode == "kvm" && report.kvm_usable)
    }

    /// The server says this page is the instructor's.
    pub fn instructor(&self) -> bool {
        matches!(
            self,
            Host::Server {
                role: Role::Instructor,
                ..
            }
        )
    }
}

async fn fetch_text(
    url: &str,
    init: Option<&web_sys::RequestInit>,
) -> Result<(u16, String), String> {
    let w = dom::window().ok_or("no window")?;
    let promise = match init {
        Some(i) => w.fetch_with_str_and_init(url, i),
        None => w.fetch_with_str(url),
    };
    let resp: web_sys::Response = JsFuture::from(promise)
        .await
        .map_err(|_| format!("cannot reach {url}"))?
        .dyn_into()
        .map_err(|_| "not a response")?;
    let text = JsFuture::from(resp.text().map_err(|_| "no body")?)
        .await
        .map_err(|_| "cannot read the body")?
        .as_string()
        .unwrap_or_default();
    Ok((resp.status(), text))
}

/// A refusal of the API in a sentence: its [`ApiError`], with the
/// scenario's errors if any, else the status.
fn refusal(status: u16, text: &str) -> String {
    serde_json::from_str::<ApiError>(text).map_or_else(
        |_| format!("the server said {status}"),
        |e| {
            let mut m = e.error;
            for x in e.errors.iter() {
                m.push_str(&format!("; {x}"));
            }
            m
        },
    )
}

/// `method` on `api/{path}` with a JSON `body` (the page's token added as
/// for every call): the answer's body when it succeeds, else why not.
pub(crate) async fn call(
    endpoints: &Endpoints,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<String, String> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(b) = body {
        init.set_body(&JsValue::from_str(&b));
        if let Ok(hd) = web_sys::Headers::new() {
            let _ = hd.set("content-type", "application/json");
            init.set_headers(&hd);
        }
    }
    match fetch_text(&endpoints.api(path), Some(&init)).await? {
        (200..=299, text) => Ok(text),
        (status, text) => Err(refusal(status, &text)),
    }
}

/// A [`Poll`] from its JSON (an answer of `/api/polls…`, a `poll` event),
/// read by the browser's `JSON.parse`: serde's reader of `Poll` would cost
/// the first load 3 KB gzip of its 350. The names are `Poll`'s serde names
/// (and `PollState`'s, snake_case); `tests/web.rs` reads back what serde
/// writes. `None` for anything that is not a poll.
pub fn read_poll(text: &str) -> Option<Poll> {
    let v = js_sys::JSON::parse(text).ok()?;
    let get = |k: &str| {
        js_sys::Reflect::get(&v, &JsValue::from_str(k))
            .ok()
            .filter(|x| !x.is_undefined() && !x.is_null())
    };
    let text = |k: &str| get(k)?.as_string();
    let list = |k: &str| get(k).map(|x| js_sys::Array::from(&x).to_vec());
    let state = match text("state")?.as_str() {
        "open" => PollState::Open,
        "closed" => PollState::Closed,
        "revealed" => PollState::Revealed,
        _ => return None,
    };
    Some(Poll {
        id: text("id")?,
        question: text("question")?,
        choices: list("choices")?
            .iter()
            .filter_map(JsValue::as_string)
            .collect(),
        state,
        cell: text("cell"),
        answer: text("answer"),
        counts: list("counts").map(|c| {
            c.iter()
                .filter_map(JsValue::as_f64)
                .map(|n| n as u64)
                .collect()
        }),
    })
}

/// Starts a run on the server; its id.
pub(crate) async fn post_run(endpoints: &Endpoints, req: &RunRequest) -> Result<String, String> {
    let body = serde_json::to_string(req).unwrap_or_default();
    let text = call(endpoints, "POST", "runs", Some(body)).await?;
    serde_json::from_str::<Created>(&text)
        .map(|c| c.id)
        .map_err(|e| format!("the server's answer: {e}"))
}

type Waiter = Box<dyn FnOnce(Host)>;

thread_local! {
    /// The page's host report (once known) and who waits for it.
    static HOST: RefCell<(Option<Host>, Vec<Waiter>)> = RefCell::new((None, Vec::new()));
}

/// Asks the server once per page for its host report; every caller gets
/// the same answer.
pub(crate) fn host(endpoints: &Endpoints, then: impl FnOnce(Host) + 'static) {
    enum Next {
        Known(Host),
        Wait,
        Fetch,
    }
    let mut then: Option<Box<dyn FnOnce(Host)>> = Some(Box::new(then));
    let next = HOST.with(|h| {
        let mut h = h.borrow_mut();
        match h.0.clone() {
            Some(Host::Checking) => {
                h.1.extend(then.take());
                Next::Wait
            }
            Some(known) => Next::Known(known),
            None => {
                h.0 = Some(Host::Checking);
                h.1.extend(then.take());
                Next::Fetch
            }
        }
    });
    match next {
        Next::Known(known) => {
            if let Some(t) = then {
                t(known);
            }
        }
        Next::Wait => {}
        Next::Fetch => {
            let probe = format!("{}server.json", endpoints.base);
            let url = endpoints.api("host");
            wasm_bindgen_futures::spawn_local(async move {
                let served = matches!(fetch_text(&probe, None).await,
                    Ok((200, body)) if serde_json::from_str::<ServerProbe>(&body)
                        .is_ok_and(|p| p.server));
                let host = if !served {
                    Host::NoServer
                } else {
                    match fetch_text(&url, None).await {
                        Ok((200, body)) => match (
                            serde_json::from_str::<HostReport>(&body),
                            serde_json::from_str::<HostMode>(&body),
                        ) {
                            (Ok(report), Ok(m)) => Host::Server {
                                report: Box::new(report),
                                mode: m.mode,
                                notice: m.notice,
                                role: m.role,
                            },
                            _ => Host::NoServer,
                        },
                        Ok((401 | 403, _)) => Host::Locked,
                        _ => Host::NoServer,
                    }
                };
                let waiting = HOST.with(|h| {
                    let mut h = h.borrow_mut();
                    h.0 = Some(host.clone());
                    std::mem::take(&mut h.1)
                });
                for w in waiting {
                    w(host.clone());
                }
            });
        }
    }
}

/// What a stream reports: a run's (to its cell) or the presenter's (to
/// the page's class).
#[derive(Debug)]
pub(crate) enum Live {
    Event(Box<Event>),
    /// A backend (or the whole run) failed; a run's stream ends with it.
    Failed(StreamError),
    Done,
    /// The presenter's stream: a poll as the room sees it.
    Poll(Box<Poll>),
    /// The presenter's stream (re)connected. `resumed`: the stream named
    /// its events (a server with `--redis`), so the browser's reconnection
    /// asked for what followed the last one seen (`Last-Event-ID`), and
    /// what the page holds stands. Else the server sends the current run
    /// and poll again, from their start.
    Open {
        resumed: bool,
    },
    /// The presenter's stream dropped; `true`: the browser is trying again.
    Lost(bool),
}

/// A failure of the whole run, in a sentence.
fn failed(message: impl Into<String>) -> Live {
    Live::Failed(StreamError::new(None, message))
}

/// Listens to `source`, each event read into a [`Live`] for `report`.
/// `once`: one run's stream, closed at its end (`done`, an `error`, a lost
/// connection: EventSource would retry forever); else the presenter's,
/// which carries on through all of them, the browser reconnecting.
fn listen(
    source: &web_sys::EventSource,
    report: Rc<dyn Fn(Live)>,
    once: bool,
) -> Vec<Closure<dyn FnMut(web_sys::MessageEvent)>> {
    // Whether an event came with an id: a reconnection then resumes after it.
    let named = Rc::new(Cell::new(false));
    // Each listener reads its event's data (none on a lost connection).
    let on = |name: &str, read: fn(Option<String>) -> Option<Live>| {
        let (r, src, named) = (report.clone(), source.clone(), named.clone());
        let c =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |m: web_sys::MessageEvent| {
                let data = m.data().as_string();
                // A lost connection's "error" is a plain Event: no data, and
                // no lastEventId to read.
                if data.is_some() && !m.last_event_id().is_empty() {
                    named.set(true);
                }
                let Some(l) = read(data) else {
                    return;
                };
                // Closed first, so the lost connection is not reported too.
                if once && matches!(l, Live::Failed(_) | Live::Done) {
                    src.close();
                }
                r(l);
            });
        let _ = source.add_event_listener_with_callback(name, c.as_ref().unchecked_ref());
        c
    };
    let mut closures = vec![
        on("message", |d| {
            Some(
                match serde_json::from_str::<Event>(&d.unwrap_or_default()) {
                    Ok(e) => Live::Event(Box::new(e)),
                    Err(e) => failed(format!("an event the page cannot read: {e}")),
                },
            )
        }),
        // The server's `event: error` carries data; a lost connection (also
        // named "error") does not, and is the last closure's.
        on(StreamEvent::ERROR, |d| {
            let d = d?;
            Some(Live::Failed(
                serde_json::from_str(&d).unwrap_or_else(|_| StreamError::new(None, d)),
            ))
        }),
        on(StreamEvent::DONE, |_| Some(Live::Done)),
        on(StreamEvent::POLL, |d| {
            read_poll(&d?).map(|p| Live::Poll(Box::new(p)))
        }),
    ];
    let (r, was_named) = (report.clone(), named);
    let open = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
        r(Live::Open {
            resumed: was_named.get(),
        })
    });
    let _ = source.add_event_listener_with_callback("open", open.as_ref().unchecked_ref());
    closures.push(open);
    let src = source.clone();
    let lost = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |m: web_sys::MessageEvent| {
        let closed = src.ready_state() == web_sys::EventSource::CLOSED;
        if m.data().as_string().is_some() || (once && closed) {
            return;
        }
        report(if once {
            src.close();
            failed("the connection to the lab server was lost")
        } else {
            Live::Lost(!closed)
        });
    });
    source.set_onerror(Some(lost.as_ref().unchecked_ref()));
    closures.push(lost);
    closures
}

/// An open real-KVM run: closing it (or dropping it) ends the stream, and
/// the server cancels the run when its last viewer leaves.
pub(crate) struct Stream {
    source: Option<web_sys::EventSource>,
    _closures: Vec<Closure<dyn FnMut(web_sys::MessageEvent)>>,
    closed: Rc<RefCell<bool>>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").finish_non_exhaustive()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        *self.closed.borrow_mut() = true;
        if let Some(s) = &self.source {
            s.close();
        }
    }
}

/// Starts `scenario` on real KVM and streams its events to `report`.
/// The returned handle keeps the stream open.
pub(crate) fn run_kvm(
    endpoints: &Endpoints,
    scenario: &str,
    report: Rc<dyn Fn(Live)>,
) -> Rc<RefCell<Option<Stream>>> {
    let handle: Rc<RefCell<Option<Stream>>> = Rc::new(RefCell::new(None));
    let closed = Rc::new(RefCell::new(false));
    let req = RunRequest {
        scenario: scenario.to_string(),
        backends: Some(vec![BackendId::Kvm.name().to_string()]),
        presenter: false,
    };
    let endpoints = endpoints.clone();
    // Only a weak reference: when the cell drops its handle (unmount, a new
    // run), the placeholder goes, `closed` is set, and no stream opens.
    let h = Rc::downgrade(&handle);
    let closed2 = closed.clone();
    // A placeholder until the stream opens, so dropping early still cancels.
    *handle.borrow_mut() = Some(Stream {
        source: None,
        _closures: Vec::new(),
        closed: closed.clone(),
    });
    wasm_bindgen_futures::spawn_local(async move {
        let id = match post_run(&endpoints, &req).await {
            Ok(id) => id,
            Err(e) => return report(failed(e)),
        };
        if *closed2.borrow() {
            return;
        }
        let url = endpoints.api(&format!("runs/{id}/events"));
        let Ok(source) = web_sys::EventSource::new(&url) else {
            return report(failed("this browser cannot open an event stream"));
        };
        let closures = listen(&source, report, true);
        let stream = Stream {
            source: Some(source),
            _closures: closures,
            closed: closed2,
        };
        match h.upgrade() {
            Some(h) => *h.borrow_mut() = Some(stream),
            // The cell let go while the stream opened: dropping it closes it.
            None => drop(stream),
        }
    });
    handle
}

/// Follows `/api/presenter/events` while the handle lives.
pub(crate) fn follow(endpoints: &Endpoints, report: Rc<dyn Fn(Live)>) -> Option<Stream> {
    let source = web_sys::EventSource::new(&endpoints.api("presenter/events")).ok()?;
    Some(Stream {
        _closures: listen(&source, report, false),
        source: Some(source),
        closed: Rc::new(RefCell::new(false)),
    })
}

/// A real-KVM run recorded on a lab machine: `recorded/NAME.json`, written
/// by `cargo xtask record`.
pub(crate) type Recorded = Recording;

/// Fetches the recording of a library scenario, if the site ships one
/// (`recorded/index.json` lists them, so a missing one costs no failed request).
pub(crate) fn recorded(
    endpoints: &Endpoints,
    name: &str,
    then: impl FnOnce(Option<Recorded>) + 'static,
) {
    let index = format!("{}recorded/index.json", endpoints.base);
    let url = format!("{}recorded/{name}.json", endpoints.base);
    let name = name.to_string();
    wasm_bindgen_futures::spawn_local(async move {
        let listed = match fetch_text(&index, None).await {
            Ok((200, body)) => serde_json::from_str::<scenarios::protocol::RecordingIndex>(&body)
                .is_ok_and(|l| l.contains(&name)),
            _ => false,
        };
        let rec = if listed {
            match fetch_text(&url, None).await {
                Ok((200, body)) => serde_json::from_str::<Recorded>(&body).ok(),
                _ => None,
            }
        } else {
            None
        };
        then(rec);
    });
}
