//! Talking to the lab server: the host report, real-KVM runs streamed over
//! SSE, and the recorded runs shipped with a static site.
//!
//! The page works without any of it. No server (a static host, a file
//! server) means model-only mode; a server without usable KVM says so in
//! its host report.

use std::cell::RefCell;
use std::rc::Rc;

use scenarios::protocol::{
    ApiError, Created, HostMode, HostReport, Recording, RunRequest, ServerProbe, StreamError,
    StreamEvent,
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
    },
}

impl Host {
    pub fn kvm_live(&self) -> bool {
        matches!(self, Host::Server { mode, report, .. } if mode == "kvm" && report.kvm_usable)
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

/// What a live stream reports to its cell.
#[derive(Debug)]
pub(crate) enum Live {
    Event(Box<Event>),
    Failed(String),
    Done,
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
    let body = serde_json::to_string(&RunRequest {
        scenario: scenario.to_string(),
        backends: Some(vec![BackendId::Kvm.name().to_string()]),
        presenter: false,
    })
    .unwrap_or_default();
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
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&body));
        let headers = web_sys::Headers::new().ok();
        if let Some(hd) = &headers {
            let _ = hd.set("content-type", "application/json");
            init.set_headers(hd);
        }
        let id = match fetch_text(&endpoints.api("runs"), Some(&init)).await {
            Ok((201, text)) => match serde_json::from_str::<Created>(&text) {
                Ok(c) => c.id,
                Err(e) => return report(Live::Failed(format!("the server's answer: {e}"))),
            },
            Ok((status, text)) => {
                let msg = serde_json::from_str::<ApiError>(&text).map_or_else(
                    |_| format!("the server said {status}"),
                    |e| {
                        let mut m = e.error;
                        for x in e.errors.iter() {
                            m.push_str(&format!("; {x}"));
                        }
                        m
                    },
                );
                return report(Live::Failed(msg));
            }
            Err(e) => return report(Live::Failed(e)),
        };
        if *closed2.borrow() {
            return;
        }
        let url = endpoints.api(&format!("runs/{id}/events"));
        let Ok(source) = web_sys::EventSource::new(&url) else {
            return report(Live::Failed(
                "this browser cannot open an event stream".into(),
            ));
        };
        let r1 = report.clone();
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |m: web_sys::MessageEvent| {
                let data = m.data().as_string().unwrap_or_default();
                match serde_json::from_str::<Event>(&data) {
                    Ok(e) => r1(Live::Event(Box::new(e))),
                    Err(e) => r1(Live::Failed(format!("an event the page cannot read: {e}"))),
                }
            });
        let r2 = report.clone();
        let src2 = source.clone();
        let on_error_event =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |m: web_sys::MessageEvent| {
                // The server's `event: error` carries data; a transport error
                // (also named "error") does not, and is `on_fail`'s.
                let Some(data) = m.data().as_string() else {
                    return;
                };
                // Closed first, so `on_fail` does not report a lost connection.
                src2.close();
                let msg = serde_json::from_str::<StreamError>(&data).map_or(data, |e| e.message);
                r2(Live::Failed(msg));
            });
        let r3 = report.clone();
        let src3 = source.clone();
        let on_done = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
            src3.close();
            r3(Live::Done);
        });
        let r4 = report.clone();
        let src4 = source.clone();
        let on_fail = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
            // A transport error (the server went away): EventSource would
            // retry forever; say so once and stop.
            if src4.ready_state() != web_sys::EventSource::CLOSED {
                src4.close();
                r4(Live::Failed(
                    "the connection to the lab server was lost".into(),
                ));
            }
        });
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let _ = source.add_event_listener_with_callback(
            StreamEvent::ERROR,
            on_error_event.as_ref().unchecked_ref(),
        );
        let _ = source
            .add_event_listener_with_callback(StreamEvent::DONE, on_done.as_ref().unchecked_ref());
        source.set_onerror(Some(on_fail.as_ref().unchecked_ref()));
        let stream = Stream {
            source: Some(source),
            _closures: vec![on_message, on_error_event, on_done, on_fail],
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
