//! The wire: every JSON shape that the server, the notebook, the CLI and
//! `xtask` exchange, defined once. Field names and the paths named here are
//! contracts; change them only with every side at once.
//!
//! | path | request | answer |
//! |---|---|---|
//! | `GET /server.json` | | [`ServerProbe`] |
//! | `GET /api/host` | | [`HostAnswer`] (a [`HostReport`] and a [`HostMode`]) |
//! | `GET /api/stats` | | [`Stats`] |
//! | `GET /api/scenarios`, `/api/scenarios/{name}` | | [`LibraryEntry`] (a list, or one) |
//! | `POST /api/parse` | [`ParseRequest`] | [`ParseAnswer`] |
//! | `POST /api/runs` | [`RunRequest`] | `201` [`Created`] |
//! | `GET /api/runs/{id}/events`, `/api/presenter/events` | | Server-Sent Events, see [`StreamEvent`] |
//! | `GET /api/runs/{id}` | | [`RunInfo`] with `"events"`: each an [`Event`] or a [`StreamError`] |
//! | `GET /api/health` | | [`Health`] (no token needed: for probes and proxies) |
//! | `POST /api/polls` (instructor) | [`PollRequest`] | `201` [`Poll`] |
//! | `GET /api/polls/current` | | [`Poll`] as the room sees it (counts once revealed), or 404 |
//! | `POST /api/polls/{id}/answers` | [`PollAnswer`] | `204` |
//! | `POST /api/polls/{id}/close`, `/reveal` (instructor) | | [`Poll`] |
//! | `GET /api/polls/{id}/results` (instructor) | | [`Poll`] with its counts as they come in |
//! | `GET /api/polls/{id}/results.csv` (instructor) | | `choice,count` lines |
//!
//! The caller's [`Role`] is in `/api/host`'s `role`: the instructor presents
//! (`"presenter": true` in a [`RunRequest`]), opens, closes and reveals polls
//! and sees their answers; a student asking for any of these gets `403`.
//!
//! In the page, the notebook's trace importer (`lab-import`, a WASM module
//! loaded on first use) is called through its own class (`Session`, `Run`);
//! what it hands the page beside strings is [`Event`]s as JSON and a
//! [`TraceReplay`] as numbers.
//!
//! Every refusal, whatever its status (400, 401, 403, 404, 413, 429, 503),
//! is one [`ApiError`] body.

use serde::{Deserialize, Serialize};

use crate::error::Errors;
pub use crate::trace::HostReport;
use crate::trace::{BackendId, Event};

/// `GET /server.json`: `true` from lab-server; a static copy of the site ships `false`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerProbe {
    /// A lab server answers (not a plain file server).
    pub server: bool,
    /// Where its API lives, relative to the site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
}

/// What `/api/host` adds to the [`HostReport`], in the same object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostMode {
    /// `kvm` when real KVM runs here, `model-only` when it does not.
    #[serde(default)]
    pub mode: String,
    /// In model-only mode, why, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// The caller's role on this server.
    #[serde(default)]
    pub role: Role,
}

/// Who is asking: the instructor (the instructor token, or the local user of
/// a loopback server without tokens) or a student (the class token).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Presents, runs polls, sees the answers.
    Instructor,
    /// Follows, answers.
    #[default]
    Student,
}

/// `GET /api/health`: the replica answering, and whether it reaches its Redis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Ready to serve.
    pub ok: bool,
    /// The replica's name (`--replica`, else the host name).
    pub replica: String,
    /// Whether the shared state is in Redis (`--redis`) and reachable.
    pub redis: bool,
}

/// `POST /api/polls`: a question to the room, with its choices in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollRequest {
    /// The question (a cell's prediction asks it already).
    pub question: String,
    /// What the room may answer.
    pub choices: Vec<String>,
    /// The right answer, shown at the reveal (one of `choices`), if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// The cell the question comes from, for the notebook to place it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
}

/// `POST /api/polls/{id}/answers`: one browser tab's answer; the tab's
/// second answer replaces its first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollAnswer {
    /// The tab, anonymous: a random id the tab keeps for itself.
    pub tab: String,
    /// One of the poll's choices.
    pub choice: String,
}

/// Where a poll is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollState {
    /// Taking answers.
    Open,
    /// No more answers; not yet revealed.
    Closed,
    /// The answer and the distribution are shown to everyone.
    Revealed,
}

/// A poll. The room sees `counts` and `answer` only once it is revealed; the
/// instructor sees the counts as they come in (`/results`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    /// The poll's id.
    pub id: String,
    /// The question.
    pub question: String,
    /// The choices, in order.
    pub choices: Vec<String>,
    /// Open, closed or revealed.
    pub state: PollState,
    /// The cell it asks about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// The right answer, once revealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Answers per choice, in the choices' order (revealed, or the instructor's view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Vec<u64>>,
}

impl Poll {
    /// The poll `req` asks, opened under `id`: no answers yet.
    pub fn opened(id: String, req: PollRequest) -> Poll {
        Poll {
            id,
            question: req.question,
            choices: req.choices,
            state: PollState::Open,
            cell: req.cell,
            answer: req.answer,
            counts: None,
        }
    }

    /// How many tabs answered, where the counts are known.
    pub fn total(&self) -> Option<u64> {
        self.counts.as_ref().map(|c| c.iter().sum())
    }

    /// The poll as the room sees it: no counts, no answer, until revealed.
    pub fn for_the_room(mut self) -> Poll {
        if self.state != PollState::Revealed {
            self.counts = None;
            self.answer = None;
        }
        self
    }

    /// The counts as CSV: a `choice,count` header, then a line per choice.
    pub fn csv(&self) -> String {
        let mut out = String::from("choice,count\n");
        let counts = self.counts.clone().unwrap_or_default();
        for (i, c) in self.choices.iter().enumerate() {
            let field = if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            };
            out += &format!("{field},{}\n", counts.get(i).copied().unwrap_or(0));
        }
        out
    }
}

impl HostMode {
    /// `mode` when real KVM runs.
    pub const KVM: &'static str = "kvm";
    /// `mode` when it does not.
    pub const MODEL_ONLY: &'static str = "model-only";
}

/// `GET /api/host`: the report and the mode, one flat object. (Readers in
/// the browser read the two parts apart from the same text, which costs the
/// bundle no `flatten` deserializer.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostAnswer {
    /// This machine's KVM.
    #[serde(flatten)]
    pub report: HostReport,
    /// Whether the server runs real KVM.
    #[serde(flatten)]
    pub mode: HostMode,
}

/// `GET /api/stats`: the server's load and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Runs waiting for a runner.
    pub queued: u64,
    /// Runs on a runner now.
    pub running: u64,
    /// Resident memory, in KiB (`None` where /proc does not say).
    pub rss_kb: Option<u64>,
    /// Open file descriptors.
    pub fds: u64,
    /// KVM VMs open.
    pub vms: u64,
    /// KVM vCPUs open.
    pub vcpus: u64,
    /// Open presenter streams (`/api/presenter/events`) on this server: with
    /// replicas, on this replica (0 from a server that predates it).
    #[serde(default)]
    pub followers: u64,
}

/// One scenario of the library, as `/api/scenarios` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryEntry {
    /// Its name (`qemu-2.0-boot-4`).
    pub name: String,
    /// Its `title`, if it parses and has one.
    pub title: Option<String>,
    /// Its `story` lines joined, if it parses.
    pub story: Option<String>,
    /// Its `source` lines, if it parses.
    pub source: Option<Vec<String>>,
    /// The scenario text.
    pub text: String,
}

impl LibraryEntry {
    /// The wire form of a library scenario (`lab-server list --json` prints the same).
    pub fn of(e: &crate::library::Entry) -> Self {
        let s = e.scenario().ok();
        LibraryEntry {
            name: e.name.to_string(),
            title: s.as_ref().and_then(|s| s.title().map(str::to_string)),
            story: s.as_ref().map(|s| s.story()),
            source: s
                .as_ref()
                .map(|s| s.sources().into_iter().map(str::to_string).collect()),
            text: e.text.to_string(),
        }
    }
}

/// `POST /api/parse`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseRequest {
    /// The scenario text.
    pub scenario: String,
}

/// The answer to `POST /api/parse`: the scenario as JSON and its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseAnswer {
    /// The parsed scenario.
    pub scenario: crate::Scenario,
    /// What it adds up to.
    pub analysis: crate::limits::Analysis,
}

/// `POST /api/runs`: a scenario and the backends to run it on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The scenario text.
    pub scenario: String,
    /// Backend names (`linux-3.14`, `kvm`, …); every model, and `kvm` where
    /// it is usable, when absent. Names, not [`BackendId`]s, so that an
    /// unknown one is refused with the list of known ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backends: Option<Vec<String>>,
    /// Show the run to everyone following `/api/presenter/events`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub presenter: bool,
}

/// `201 Created`: the run's id, for `/api/runs/{id}/events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The run's id (unguessable).
    pub id: String,
}

/// Every refusal of the API: a sentence, and a scenario's errors (with line
/// and column) when the scenario was the problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong, in a sentence.
    pub error: String,
    /// The scenario's errors, in source order.
    #[serde(default, skip_serializing_if = "Errors::is_empty")]
    pub errors: Errors,
}

impl ApiError {
    /// A refusal with no scenario errors.
    pub fn new(error: impl Into<String>) -> Self {
        ApiError {
            error: error.into(),
            errors: Errors::default(),
        }
    }
}

/// The data of a stream's `event: error`: a backend that could not run or
/// stopped part way (or, without `backend`, the whole run). The stream goes on
/// with the next backend, and always ends with `done`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamError {
    /// Always `"error"`, as in a recorded run's event list.
    pub event: ErrorTag,
    /// The backend that failed, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendId>,
    /// Why, in a sentence (with the scenario's line where there is one).
    pub message: String,
}

impl StreamError {
    /// An error of `backend` (or of the whole run).
    pub fn new(backend: Option<BackendId>, message: impl Into<String>) -> Self {
        StreamError {
            event: ErrorTag::Error,
            backend,
            message: message.into(),
        }
    }
}

/// The tag of a [`StreamError`]: `"event": "error"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorTag {
    /// `"error"`.
    Error,
}

/// One message of a run's Server-Sent Event stream.
///
/// | SSE `event:` | `data:` |
/// |---|---|
/// | (none, i.e. `message`) | an [`Event`] |
/// | `error` | a [`StreamError`] |
/// | `done` | `{}`: the last message of the run |
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// A trace event of one backend.
    Event(Box<Event>),
    /// A backend could not run, or stopped.
    Error(StreamError),
    /// The run is over: every backend ran or failed.
    Done,
}

impl StreamEvent {
    /// The SSE event name of an error.
    pub const ERROR: &'static str = "error";
    /// The SSE event name of the end.
    pub const DONE: &'static str = "done";
    /// The data of `done`.
    pub const DONE_DATA: &'static str = "{}";
    /// The SSE event name of a [`Poll`] on the presenter stream (as the room sees it).
    pub const POLL: &'static str = "poll";

    /// The SSE `event:` name: `None` for a trace event (the default `message`).
    pub fn sse_name(&self) -> Option<&'static str> {
        match self {
            StreamEvent::Event(_) => None,
            StreamEvent::Error(_) => Some(Self::ERROR),
            StreamEvent::Done => Some(Self::DONE),
        }
    }
}

/// `GET /api/runs/{id}` without its events: the server writes this object
/// and adds `"events": [...]`, each an [`Event`] or a [`StreamError`], from
/// the text it streamed (no second serialisation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run's id.
    pub id: String,
    /// The scenario text it ran.
    pub scenario: String,
    /// The backends, in the order they ran.
    pub backends: Vec<BackendId>,
    /// Shown to the presenter's followers.
    pub presenter: bool,
    /// Every backend has ran or failed.
    pub done: bool,
}

/// A real-KVM run recorded on a lab machine (`cargo xtask record`,
/// `lab-web/recorded/NAME.json`), shown by sites without a lab server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// The scenario text that was run: a recording of an older text is not
    /// that scenario's result.
    pub text: String,
    /// The machine it ran on.
    pub host: HostReport,
    /// The run's trace.
    pub events: Vec<Event>,
}

/// `lab-web/recorded/index.json`: the names of the recorded library scenarios.
pub type RecordingIndex = Vec<String>;

/// The most TSC writes of one VM the notebook's trace importer
/// (`lab-import`) makes a cell of: a cell is measured to 64 vCPUs × 1,024
/// writes (the scrubbing budget); `lab-server import` reads a larger VM whole.
pub const TRACE_MAX_WRITES: u64 = 65_536;

/// A [`Timing::Replay`](crate::host::Timing::Replay) and its host: what the
/// notebook's trace importer hands the page (as [`TraceReplay::to_numbers`])
/// to replay the models at a trace's moments with its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceReplay {
    /// The traced host.
    pub host: crate::host::HostConfig,
    /// The instant of the VM's first event.
    pub start: crate::host::HostTime,
    /// One stamp per step of the scenario.
    pub stamps: Vec<crate::host::Stamp>,
}

impl TraceReplay {
    /// The timing for `replay_model`.
    pub fn timing(&self) -> crate::host::Timing {
        crate::host::Timing::Replay {
            start: self.start,
            stamps: self.stamps.clone(),
        }
    }

    /// As plain numbers (what the page already reads): `tsc_khz`, the
    /// clocksource's index in [`Clocksource::ALL`](crate::ast::Clocksource::ALL),
    /// `tsc_stable`, `uptime_ns`, the start's ns and TSC, then four per
    /// stamp: ns, TSC, whether it has a value, the value.
    pub fn to_numbers(&self) -> Vec<u64> {
        let h = &self.host;
        let cs = crate::ast::Clocksource::ALL
            .iter()
            .position(|c| *c == h.clocksource)
            .unwrap_or(0);
        let mut out = vec![
            u64::from(h.tsc_khz),
            cs as u64,
            u64::from(h.tsc_stable),
            h.uptime_ns,
            self.start.ns,
            self.start.tsc,
        ];
        for s in &self.stamps {
            out.extend([
                s.ns,
                s.tsc,
                u64::from(s.value.is_some()),
                s.value.unwrap_or(0),
            ]);
        }
        out
    }

    /// Reads [`TraceReplay::to_numbers`] back; `None` if it is not that.
    pub fn from_numbers(n: &[u64]) -> Option<TraceReplay> {
        let (head, stamps) = n.split_at_checked(6)?;
        if stamps.len() % 4 != 0 {
            return None;
        }
        Some(TraceReplay {
            host: crate::host::HostConfig {
                tsc_khz: u32::try_from(head[0]).ok()?,
                clocksource: *crate::ast::Clocksource::ALL.get(usize::try_from(head[1]).ok()?)?,
                tsc_stable: head[2] != 0,
                uptime_ns: head[3],
            },
            start: crate::host::HostTime {
                ns: head[4],
                tsc: head[5],
            },
            stamps: stamps
                .chunks(4)
                .map(|s| crate::host::Stamp {
                    ns: s[0],
                    tsc: s[1],
                    value: (s[2] != 0).then_some(s[3]),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Clocksource;
    use crate::host::{HostConfig, HostTime, Stamp};

    #[test]
    fn a_replay_round_trips_through_its_numbers() {
        let r = TraceReplay {
            host: HostConfig {
                tsc_khz: 2_596_130,
                clocksource: Clocksource::Hpet,
                tsc_stable: false,
                uptime_ns: 3_389_289_662_000,
            },
            start: HostTime {
                ns: 3_389_289_662_000,
                tsc: u64::MAX - 7,
            },
            stamps: vec![
                Stamp {
                    ns: 1,
                    tsc: 2,
                    value: None,
                },
                Stamp {
                    ns: 3,
                    tsc: 4,
                    value: Some(u64::MAX),
                },
            ],
        };
        let n = r.to_numbers();
        assert_eq!(n.len(), 6 + 2 * 4);
        assert_eq!(TraceReplay::from_numbers(&n), Some(r));
        assert_eq!(TraceReplay::from_numbers(&n[..5]), None);
        assert_eq!(TraceReplay::from_numbers(&n[..7]), None);
        let mut bad = n.clone();
        bad[1] = 99;
        assert_eq!(TraceReplay::from_numbers(&bad), None);
    }
}
