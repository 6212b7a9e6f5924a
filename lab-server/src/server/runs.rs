//! Runs: a bounded queue, a fixed pool of runner threads, and the record of
//! every run's events for live streaming and replay.
//!
//! One scenario per runner thread at a time, every KVM ioctl of it on that
//! thread (the tracepoint filter follows threads). Events are recorded as the
//! JSON the CLI prints with `--json` and published to subscribers as they
//! happen. A run whose viewers have all gone, or that runs past its deadline,
//! is cancelled at its next step, and its VM is freed then.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scenarios::ast::{Duration as ScnDuration, OffsetValue, TscValue};
use scenarios::protocol::{RunInfo, StreamError};
use scenarios::trace::{ClockEvent, KhzEvent, Origin, RunEvent, Summary, WriteEvent};
use scenarios::{Backend, BackendId, Event, Limits, Scenario, StepCtx, StepError};
use tokio::sync::broadcast;

use crate::kvm::KvmBackend;

/// Recorded runs are forgotten, oldest finished first, past this many bytes.
const KEEP_BYTES: usize = 64 << 20;

/// 64 random bits, in hex.
pub(crate) fn random_hex() -> String {
    use std::io::Read;
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        // No /dev/urandom: fall back to the clock, still not sequential.
        b = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64)
            .to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One message of a run's stream, kept as the JSON text it is sent as
/// (serialised once, when it happens): a [`scenarios::protocol::StreamEvent`]
/// already written.
#[derive(Clone, Debug)]
pub enum Message {
    /// An [`Event`].
    Event(Arc<str>),
    /// A [`StreamError`]: a backend could not finish.
    Error(Arc<str>),
    /// The end of the run.
    Done,
    /// A poll as the room sees it (the presenter stream only).
    Poll(Arc<str>),
}

impl Message {
    /// An error message of `backend` (or of the whole run).
    pub(crate) fn error(backend: Option<BackendId>, message: impl Into<String>) -> Message {
        let e = StreamError::new(backend, message);
        Message::Error(serde_json::to_string(&e).expect("errors serialise").into())
    }
}

/// What a runner thread hands the shared state's writer (`--redis`): a
/// run's message, and whether the presenter stream gets it too.
#[derive(Debug)]
pub struct Mirrored {
    pub run: Arc<str>,
    pub presenter: bool,
    pub message: Message,
}

/// A run: what was asked, what happened so far, who is watching.
///
/// Viewers read the record from their own position and sleep on `grew`
/// between messages: nothing is copied per viewer, and a slow viewer cannot
/// fall behind a channel's capacity.
#[derive(Debug)]
pub struct Run {
    pub id: String,
    pub text: String,
    pub backends: Vec<BackendId>,
    pub presenter: bool,
    pub created: Instant,
    record: Mutex<Vec<Message>>,
    grew: tokio::sync::Notify,
    /// Set when every viewer has left, or at the deadline, or at shutdown.
    pub cancel: AtomicBool,
    /// Viewers ever attached (cancellation needs one to have come and gone).
    viewers_seen: AtomicUsize,
    viewers: AtomicUsize,
    pub done: AtomicBool,
    /// Bytes of recorded JSON (records are evicted by size).
    bytes: AtomicUsize,
}

/// A viewer of a run; the run knows when the last one has gone.
#[derive(Debug)]
pub struct Viewer {
    run: Arc<Run>,
    next: usize,
}

impl Viewer {
    /// The next messages, waiting for some if there are none yet; empty at the end.
    pub async fn next_batch(&mut self) -> Vec<Message> {
        loop {
            let notified = self.run.grew.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // The end is decided from the record itself: a stream ends only
            // after it has delivered `Done`.
            {
                let record = self.run.record.lock().unwrap_or_else(|p| p.into_inner());
                let batch = record[self.next.min(record.len())..].to_vec();
                if !batch.is_empty() {
                    self.next += batch.len();
                    return batch;
                }
                if matches!(record.last(), Some(Message::Done)) {
                    return Vec::new();
                }
            }
            notified.await;
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.run.viewers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Run {
    /// A new viewer, starting from the first message.
    pub fn subscribe(self: &Arc<Self>) -> Viewer {
        self.viewers_seen.fetch_add(1, Ordering::SeqCst);
        self.viewers.fetch_add(1, Ordering::SeqCst);
        Viewer {
            run: self.clone(),
            next: 0,
        }
    }

    /// Records a message; `presenter` also gets it, under the same lock, so
    /// that a presenter viewer's copy and subscription never overlap.
    fn publish(&self, m: Message, presenter: Option<&broadcast::Sender<Message>>) {
        let size = match &m {
            Message::Event(s) | Message::Error(s) | Message::Poll(s) => s.len(),
            Message::Done => 0,
        };
        let done = matches!(m, Message::Done);
        self.bytes.fetch_add(size, Ordering::SeqCst);
        {
            let mut record = self.record.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = presenter {
                let _ = p.send(m.clone());
            }
            record.push(m);
        }
        if done {
            self.done.store(true, Ordering::SeqCst);
        }
        self.grew.notify_waiters();
    }

    /// Everything recorded so far.
    pub fn messages(&self) -> Vec<Message> {
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether viewers came and all went.
    fn abandoned(&self) -> bool {
        self.viewers_seen.load(Ordering::SeqCst) > 0 && self.viewers.load(Ordering::SeqCst) == 0
    }
}

impl Run {
    /// What the run is, without its events.
    pub fn info(&self) -> RunInfo {
        RunInfo {
            id: self.id.clone(),
            scenario: self.text.clone(),
            backends: self.backends.clone(),
            presenter: self.presenter,
            done: self.done.load(Ordering::SeqCst),
        }
    }

    /// The whole run as JSON text, built from the stored strings (no parse).
    pub fn record_json(&self) -> String {
        record_json(&self.info(), &self.messages())
    }
}

/// A run's record (`GET /api/runs/{id}`): its [`RunInfo`] with `"events"`,
/// each event or error as the text it was streamed as.
pub fn record_json(info: &RunInfo, messages: &[Message]) -> String {
    let head = serde_json::to_string(info).expect("run info serialises");
    let bytes: usize = messages
        .iter()
        .map(|m| match m {
            Message::Event(s) | Message::Error(s) => s.len() + 1,
            _ => 0,
        })
        .sum();
    let mut out = String::with_capacity(head.len() + bytes + 64);
    out.push_str(&head[..head.len() - 1]);
    out.push_str(",\"events\":[");
    let mut first = true;
    for m in messages {
        if let Message::Event(s) | Message::Error(s) = m {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(s);
        }
    }
    out.push_str("]}");
    out
}

/// Why a run was not queued.
#[derive(Debug)]
pub enum Rejected {
    /// The queue is full: come back after this long.
    Busy(Duration),
    ShuttingDown,
}

struct Job {
    run: Arc<Run>,
    scenario: Scenario,
}

/// The runner pool and the registry of runs.
pub struct Runs {
    queue: SyncSender<Job>,
    runs: Mutex<HashMap<String, Arc<Run>>>,
    next: AtomicU64,
    pub queued: Arc<AtomicUsize>,
    pub running: Arc<AtomicUsize>,
    presenter: broadcast::Sender<Message>,
    presenter_run: Mutex<Option<String>>,
    /// With `--redis`: every message also goes to the class's shared state.
    mirror: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Mirrored>>,
    limits: Limits,
    deadline: Duration,
    keep: usize,
    host: scenarios::trace::HostReport,
}

impl std::fmt::Debug for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runs")
            .field("queued", &self.queued)
            .field("running", &self.running)
            .finish()
    }
}

impl Runs {
    /// Starts `threads` runner threads behind a queue of `capacity` runs.
    pub fn start(
        threads: usize,
        capacity: usize,
        limits: Limits,
        deadline: Duration,
        host: scenarios::trace::HostReport,
    ) -> Arc<Runs> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(capacity);
        let (presenter, _) = broadcast::channel(1024);
        let runs = Arc::new(Runs {
            queue: tx,
            runs: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            queued: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
            presenter,
            presenter_run: Mutex::new(None),
            mirror: std::sync::OnceLock::new(),
            limits,
            deadline,
            keep: 2_000,
            host,
        });
        let rx = Arc::new(Mutex::new(rx));
        // Every runner's perf ring is open before the server answers: part
        // of its baseline, not of its first run.
        let ready = Arc::new(std::sync::Barrier::new(threads.max(1) + 1));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let runs = runs.clone();
            let ready = ready.clone();
            std::thread::Builder::new()
                .name(format!("runner-{i}"))
                .spawn(move || {
                    if runs.host.kvm_usable {
                        crate::kvm::prepare_thread();
                    }
                    ready.wait();
                    loop {
                        let job = {
                            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
                            rx.recv()
                        };
                        let Ok(job) = job else { break };
                        runs.queued.fetch_sub(1, Ordering::SeqCst);
                        runs.running.fetch_add(1, Ordering::SeqCst);
                        let run = job.run.clone();
                        // A bug must not cost a runner thread, nor leave viewers waiting.
                        let outcome =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                runs.execute(job)
                            }));
                        if outcome.is_err() {
                            runs.publish(
                                &run,
                                Message::error(None, "internal error: the run panicked"),
                            );
                            runs.publish(&run, Message::Done);
                        }
                        runs.running.fetch_sub(1, Ordering::SeqCst);
                    }
                })
                .expect("runner threads start");
        }
        ready.wait();
        runs
    }

    /// Queues a run, or says why not.
    pub fn submit(
        &self,
        text: String,
        scenario: Scenario,
        backends: Vec<BackendId>,
        presenter: bool,
    ) -> Result<Arc<Run>, Rejected> {
        // Unguessable: a stranger who could name a run could watch it, and by
        // leaving, cancel it.
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("r{n:x}-{}", random_hex());
        let run = Arc::new(Run {
            id: id.clone(),
            text,
            backends,
            presenter,
            created: Instant::now(),
            record: Mutex::new(Vec::new()),
            grew: tokio::sync::Notify::new(),
            cancel: AtomicBool::new(false),
            viewers_seen: AtomicUsize::new(0),
            viewers: AtomicUsize::new(0),
            done: AtomicBool::new(false),
            bytes: AtomicUsize::new(0),
        });
        self.queued.fetch_add(1, Ordering::SeqCst);
        match self.queue.try_send(Job {
            run: run.clone(),
            scenario,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                // A run takes a few ms; a second is a generous wait.
                return Err(Rejected::Busy(Duration::from_secs(1)));
            }
            Err(TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                return Err(Rejected::ShuttingDown);
            }
        }
        let mut all = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let bytes: usize = all.values().map(|r| r.bytes.load(Ordering::SeqCst)).sum();
        if all.len() >= self.keep || bytes > KEEP_BYTES {
            // Forget the oldest finished runs until well under both bounds.
            let mut done: Vec<(Instant, String, usize)> = all
                .values()
                .filter(|r| r.done.load(Ordering::SeqCst))
                .map(|r| (r.created, r.id.clone(), r.bytes.load(Ordering::SeqCst)))
                .collect();
            done.sort();
            let (mut n, mut b) = (all.len(), bytes);
            for (_, id, size) in done {
                if n < self.keep * 9 / 10 && b < KEEP_BYTES * 9 / 10 {
                    break;
                }
                all.remove(&id);
                n -= 1;
                b -= size;
            }
        }
        all.insert(id.clone(), run.clone());
        if presenter {
            *self.presenter_run.lock().unwrap_or_else(|p| p.into_inner()) = Some(id);
        }
        Ok(run)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Run>> {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// The presenter's stream: every message of every presenter run.
    /// The presenter's stream: what the current presenter run has recorded,
    /// and every message of presenter runs from then on, without overlap.
    pub fn presenter(&self) -> (Vec<Message>, broadcast::Receiver<Message>) {
        let id = self
            .presenter_run
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match id.and_then(|id| self.get(&id)) {
            Some(run) => {
                let record = run.record.lock().unwrap_or_else(|p| p.into_inner());
                (record.clone(), self.presenter.subscribe())
            }
            None => (Vec::new(), self.presenter.subscribe()),
        }
    }

    /// Sends `m` to everyone following the presenter (a poll's news).
    pub fn announce(&self, m: Message) {
        let _ = self.presenter.send(m);
    }

    /// Cancels every unfinished run (at shutdown).
    pub fn cancel_all(&self) {
        for r in self.runs.lock().unwrap_or_else(|p| p.into_inner()).values() {
            r.cancel.store(true, Ordering::SeqCst);
        }
    }

    fn publish(&self, run: &Run, m: Message) {
        if let Some(tx) = self.mirror.get() {
            let _ = tx.send(Mirrored {
                run: run.id.as_str().into(),
                presenter: run.presenter,
                message: m.clone(),
            });
        }
        run.publish(m, run.presenter.then_some(&self.presenter));
    }

    /// From now on every run's messages are also sent to `tx` (the shared state's writer).
    pub fn mirror_to(&self, tx: tokio::sync::mpsc::UnboundedSender<Mirrored>) {
        let _ = self.mirror.set(tx);
    }

    fn execute(&self, job: Job) {
        let Job { run, scenario } = job;
        let started = Instant::now();
        let deadline = started + self.deadline;
        for &b in &run.backends {
            if run.cancel.load(Ordering::SeqCst) {
                break;
            }
            let mut kvm;
            let mut model;
            let inner: &mut dyn Backend = match b {
                BackendId::Kvm => match KvmBackend::new(self.host.clone(), self.limits) {
                    Ok(k) => {
                        kvm = k;
                        &mut kvm
                    }
                    Err(e) => {
                        self.publish(&run, Message::error(Some(b), e.to_string()));
                        continue;
                    }
                },
                m => {
                    model =
                        scenarios::models::model(m, scenario.host(), scenarios::Timing::Virtual)
                            .expect("a model");
                    model.as_mut()
                }
            };
            let mut c = Cancellable {
                inner,
                run: &run,
                deadline,
            };
            let sink = &mut |e: &Event| self.publish(&run, Message::Event(to_json(e)));
            let result = scenarios::execute(&scenario, &mut c, sink)
                .map(|_| ())
                .map_err(|e| e.to_string());
            // (`kvm` is dropped at the end of this iteration: the VM is freed
            // before the next backend runs.)
            if let Err(message) = result {
                self.publish(&run, Message::error(Some(b), message));
            }
        }
        self.publish(&run, Message::Done);
        tracing::info!(
            run = %run.id,
            backends = ?run.backends,
            queued_ms = started.duration_since(run.created).as_millis() as u64,
            ran_us = started.elapsed().as_micros() as u64,
            "run finished"
        );
    }
}

fn to_json(e: &Event) -> Arc<str> {
    serde_json::to_string(e).expect("events serialise").into()
}

/// A backend that stops at its next step once the run is cancelled or late.
struct Cancellable<'a> {
    inner: &'a mut dyn Backend,
    run: &'a Run,
    deadline: Instant,
}

impl std::fmt::Debug for Cancellable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl Cancellable<'_> {
    fn go_on(&self) -> Result<(), StepError> {
        if self.run.abandoned() {
            self.run.cancel.store(true, Ordering::SeqCst);
        }
        if self.run.cancel.load(Ordering::SeqCst) {
            return Err(StepError::Stopped("cancelled: every viewer left".into()));
        }
        if Instant::now() > self.deadline {
            self.run.cancel.store(true, Ordering::SeqCst);
            return Err(StepError::Stopped(
                "the run took too long and was stopped".into(),
            ));
        }
        Ok(())
    }
}

impl Backend for Cancellable<'_> {
    fn id(&self) -> BackendId {
        self.inner.id()
    }
    fn create_vcpu(&mut self, ctx: &StepCtx) -> Result<WriteEvent, StepError> {
        self.go_on()?;
        self.inner.create_vcpu(ctx)
    }
    fn write_tsc(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        value: TscValue,
        origin: Origin,
    ) -> Result<WriteEvent, StepError> {
        self.go_on()?;
        self.inner.write_tsc(ctx, vcpu, value, origin)
    }
    fn set_tsc_offset(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        offset: OffsetValue,
    ) -> Result<WriteEvent, StepError> {
        self.go_on()?;
        self.inner.set_tsc_offset(ctx, vcpu, offset)
    }
    fn set_tsc_khz(&mut self, ctx: &StepCtx, vcpu: u32, khz: u32) -> Result<KhzEvent, StepError> {
        self.go_on()?;
        self.inner.set_tsc_khz(ctx, vcpu, khz)
    }
    fn set_clock(&mut self, ctx: &StepCtx) -> Result<ClockEvent, StepError> {
        self.go_on()?;
        self.inner.set_clock(ctx)
    }
    fn wait(&mut self, ctx: &StepCtx, d: ScnDuration) -> Result<(), StepError> {
        self.go_on()?;
        if self.inner.id() != BackendId::Kvm {
            // A model's wait only moves its virtual clock.
            return self.inner.wait(ctx, d);
        }
        // Sleep in slices, so a cancelled run stops waiting within 100 ms.
        let mut left = d.ns;
        while left > 0 {
            let slice = left.min(100_000_000);
            self.inner.wait(ctx, ScnDuration::from_ns(slice))?;
            left -= slice;
            self.go_on()?;
        }
        Ok(())
    }
    fn run_vcpu(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        implicit: bool,
    ) -> Result<RunEvent, StepError> {
        self.go_on()?;
        self.inner.run_vcpu(ctx, vcpu, implicit)
    }
    fn summary(&self, ctx: &StepCtx, implicit_run: bool) -> Summary {
        self.inner.summary(ctx, implicit_run)
    }
}
