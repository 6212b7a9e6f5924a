//! The class's state shared by replicas (`serve --redis URL`), so that N
//! replicas behind an ordinary reverse proxy serve one class with no sticky
//! sessions:
//!
//! | what | Redis keys |
//! |---|---|
//! | a run's stream | `tsclab:run:{id}` (a stream, one entry per message), `tsclab:run:{id}:owner` (its replica), `tsclab:run:{id}:info` (what it runs) |
//! | the replicas alive | `tsclab:replica:{name}` (expires unless renewed every second) |
//! | the presenter stream | `tsclab:presenter` (a stream: presenter runs' messages and polls' news) |
//! | polls | `tsclab:polls` (ids, newest first), `tsclab:poll:{id}` (the poll, its state), `tsclab:poll:{id}:answers` (tab → choice) |
//!
//! A run executes on the replica that took its `POST`; every message it
//! publishes is appended to its stream, and any replica serves
//! `GET /api/runs/{id}/events` from there, with the entry ids as SSE ids — a
//! viewer whose replica dies reconnects (EventSource does) with
//! `Last-Event-ID` to another and carries on. A run whose replica dies ends
//! for its viewers with an error event saying so, once the replica's
//! heartbeat has lapsed. Without `--redis` none of this exists: one process
//! holds everything, as before.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::StreamRangeReply;
use scenarios::protocol::{Poll, PollAnswer, PollRequest, PollState, RunInfo};
use tokio::sync::mpsc;

use super::polls::{PollLimits, PollRefusal};
use super::runs::{Message, Mirrored};

/// How long a run's stream is kept after its last message.
const RUN_TTL: Duration = Duration::from_secs(3600);
/// A replica is gone when its heartbeat is older than this.
const HEARTBEAT_TTL: Duration = Duration::from_secs(3);
/// Entries the presenter stream keeps.
const PRESENTER_KEPT: usize = 20_000;
/// How often a stream's reader looks for new entries.
const POLL_EVERY: Duration = Duration::from_millis(50);

const PRESENTER: &str = "tsclab:presenter";
const POLLS: &str = "tsclab:polls";

fn run_key(id: &str) -> String {
    format!("tsclab:run:{id}")
}

fn owner_key(id: &str) -> String {
    format!("tsclab:run:{id}:owner")
}

fn info_key(id: &str) -> String {
    format!("tsclab:run:{id}:info")
}

fn replica_key(name: &str) -> String {
    format!("tsclab:replica:{name}")
}

fn poll_key(id: &str) -> String {
    format!("tsclab:poll:{id}")
}

fn answers_key(id: &str) -> String {
    format!("tsclab:poll:{id}:answers")
}

/// A message as stream fields: its kind (`e`vent, `x` error, `d`one, `p`oll) and its text.
fn encode(m: &Message) -> (&'static str, &str) {
    match m {
        Message::Event(s) => ("e", s),
        Message::Error(s) => ("x", s),
        Message::Done => ("d", ""),
        Message::Poll(s) => ("p", s),
    }
}

fn decode(kind: &str, data: String) -> Option<Message> {
    Some(match kind {
        "e" => Message::Event(data.into()),
        "x" => Message::Error(data.into()),
        "d" => Message::Done,
        "p" => Message::Poll(data.into()),
        _ => return None,
    })
}

/// The class's state in Redis, as one replica sees it.
#[derive(Clone)]
pub struct Shared {
    conn: ConnectionManager,
    pub replica: String,
    mirror: mpsc::UnboundedSender<Mirrored>,
    limits: PollLimits,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("replica", &self.replica)
            .finish()
    }
}

/// A Redis failure in a sentence.
fn said(e: redis::RedisError) -> String {
    format!("redis: {e}")
}

impl Shared {
    /// Connects, starts the heartbeat and the writer of runs' messages.
    pub async fn connect(url: &str, replica: String, limits: PollLimits) -> Result<Shared, String> {
        let client = redis::Client::open(url).map_err(|e| format!("--redis {url}: {e}"))?;
        let conn = client
            .get_connection_manager()
            .await
            .map_err(|e| format!("--redis {url}: cannot connect: {e}"))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Shared {
            conn,
            replica,
            mirror: tx,
            limits,
        };
        shared.beat().await?;
        let beat = shared.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Err(e) = beat.beat().await {
                    tracing::warn!("heartbeat: {e}");
                }
            }
        });
        let writer = shared.clone();
        tokio::spawn(async move { writer.write(rx).await });
        Ok(shared)
    }

    /// Where runner threads send what their runs publish.
    pub fn mirror(&self) -> mpsc::UnboundedSender<Mirrored> {
        self.mirror.clone()
    }

    async fn beat(&self) -> Result<(), String> {
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(replica_key(&self.replica))
            .arg(1)
            .arg("PX")
            .arg(HEARTBEAT_TTL.as_millis() as u64)
            .query_async::<()>(&mut c)
            .await
            .map_err(said)
    }

    /// Whether Redis answers.
    pub async fn ping(&self) -> bool {
        let mut c = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .is_ok()
    }

    async fn alive(&self, replica: &str) -> bool {
        let mut c = self.conn.clone();
        redis::cmd("EXISTS")
            .arg(replica_key(replica))
            .query_async::<u32>(&mut c)
            .await
            .is_ok_and(|n| n == 1)
    }

    /// Names this replica as the owner of `run`, and keeps what it is, before
    /// its id is handed out.
    pub async fn claim(&self, run: &RunInfo) -> Result<(), String> {
        let mut c = self.conn.clone();
        redis::pipe()
            .cmd("SET")
            .arg(owner_key(&run.id))
            .arg(&self.replica)
            .arg("EX")
            .arg(RUN_TTL.as_secs())
            .ignore()
            .cmd("SET")
            .arg(info_key(&run.id))
            .arg(serde_json::to_string(run).expect("run info serialises"))
            .arg("EX")
            .arg(RUN_TTL.as_secs())
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(said)
    }

    /// Run `id`'s whole record, from whichever replica ran it.
    pub async fn record(&self, id: &str) -> Result<Option<String>, String> {
        let mut c = self.conn.clone();
        let info: Option<String> = redis::cmd("GET")
            .arg(info_key(id))
            .query_async(&mut c)
            .await
            .map_err(said)?;
        let Some(info) = info else { return Ok(None) };
        let mut info: RunInfo = serde_json::from_str(&info).map_err(|e| e.to_string())?;
        let mut messages = Vec::new();
        let mut at = "0-0".to_string();
        loop {
            let got = self.after(&run_key(id), &at).await?;
            let Some((last, _)) = got.last() else { break };
            at = last.clone();
            messages.extend(got.into_iter().map(|(_, m)| m));
        }
        info.done = matches!(messages.last(), Some(Message::Done));
        Ok(Some(super::runs::record_json(&info, &messages)))
    }

    /// Appends runs' messages to their streams (and the presenter's) in the
    /// order they happened, a batch per round trip.
    async fn write(&self, mut rx: mpsc::UnboundedReceiver<Mirrored>) {
        let mut batch = Vec::new();
        while rx.recv_many(&mut batch, 512).await > 0 {
            let mut pipe = redis::pipe();
            for m in batch.drain(..) {
                let (k, d) = encode(&m.message);
                let key = run_key(&m.run);
                pipe.cmd("XADD")
                    .arg(&key)
                    .arg("*")
                    .arg("k")
                    .arg(k)
                    .arg("d")
                    .arg(d)
                    .ignore();
                pipe.cmd("EXPIRE").arg(&key).arg(RUN_TTL.as_secs()).ignore();
                if m.presenter {
                    pipe.cmd("XADD")
                        .arg(PRESENTER)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(PRESENTER_KEPT)
                        .arg("*")
                        .arg("k")
                        .arg(k)
                        .arg("d")
                        .arg(d)
                        .arg("run")
                        .arg(m.run.as_ref())
                        .ignore();
                }
            }
            let mut c = self.conn.clone();
            if let Err(e) = pipe.query_async::<()>(&mut c).await {
                tracing::warn!("mirroring runs to redis: {e}");
            }
        }
    }

    /// Entries of `key` after `after`, decoded, with their ids.
    async fn after(&self, key: &str, after: &str) -> Result<Vec<(String, Message)>, String> {
        let mut c = self.conn.clone();
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(key)
            .arg(format!("({after}"))
            .arg("+")
            .arg("COUNT")
            .arg(512)
            .query_async(&mut c)
            .await
            .map_err(said)?;
        Ok(reply
            .ids
            .into_iter()
            .filter_map(|e| {
                let k: String = e.get("k")?;
                let d: String = e.get("d").unwrap_or_default();
                Some((e.id, decode(&k, d)?))
            })
            .collect())
    }

    /// Who runs `id`, if Redis knows the run.
    pub async fn owner(&self, id: &str) -> Option<String> {
        let mut c = self.conn.clone();
        redis::cmd("GET")
            .arg(owner_key(id))
            .query_async::<Option<String>>(&mut c)
            .await
            .ok()
            .flatten()
    }

    /// Run `id`'s messages after `from` (an entry id; `0-0` for all), then as
    /// they come, until `Done`; an error and `Done` of its own when the
    /// owner's heartbeat lapses first.
    pub fn run_stream(
        &self,
        id: String,
        owner: String,
        from: String,
    ) -> mpsc::Receiver<(String, Message)> {
        let (tx, rx) = mpsc::channel(256);
        let me = self.clone();
        tokio::spawn(async move {
            let key = run_key(&id);
            let mut at = from;
            let mut quiet = Duration::ZERO;
            loop {
                let got = match me.after(&key, &at).await {
                    Ok(g) => g,
                    Err(e) => {
                        tracing::warn!("run {id}: {e}");
                        Vec::new()
                    }
                };
                if got.is_empty() {
                    quiet += POLL_EVERY;
                    if quiet >= Duration::from_secs(1) {
                        quiet = Duration::ZERO;
                        if !me.alive(&owner).await {
                            let m = Message::error(
                                None,
                                format!(
                                    "the replica running this run ({owner}) stopped; the run ended there"
                                ),
                            );
                            let _ = tx.send((format!("{at}-lost"), m)).await;
                            let _ = tx.send((format!("{at}-end"), Message::Done)).await;
                            return;
                        }
                    }
                    tokio::time::sleep(POLL_EVERY).await;
                    continue;
                }
                quiet = Duration::ZERO;
                for (entry, m) in got {
                    at = entry.clone();
                    let done = matches!(m, Message::Done);
                    if tx.send((entry, m)).await.is_err() || done {
                        return;
                    }
                }
            }
        });
        rx
    }

    /// The presenter stream after `from` (its `Last-Event-ID`), or from the
    /// latest presenter run's start with the poll of the moment first; then
    /// live.
    pub fn presenter_stream(&self, from: Option<String>) -> mpsc::Receiver<(String, Message)> {
        let (tx, rx) = mpsc::channel(256);
        let me = self.clone();
        tokio::spawn(async move {
            let mut at = match from {
                Some(id) => id,
                None => {
                    if let Ok(Some(p)) = me.current().await {
                        let m = Message::Poll(
                            serde_json::to_string(&p.for_the_room())
                                .expect("polls serialise")
                                .into(),
                        );
                        if tx.send((String::new(), m)).await.is_err() {
                            return;
                        }
                    }
                    me.latest_presenter_start()
                        .await
                        .unwrap_or_else(|| "$".into())
                }
            };
            if at == "$" {
                at = me.last_presenter_id().await.unwrap_or_else(|| "0-0".into());
            }
            loop {
                match me.after(PRESENTER, &at).await {
                    Ok(got) if !got.is_empty() => {
                        for (entry, m) in got {
                            at = entry.clone();
                            if tx.send((entry, m)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Ok(_) => tokio::time::sleep(POLL_EVERY).await,
                    Err(e) => {
                        tracing::warn!("presenter stream: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        rx
    }

    async fn last_presenter_id(&self) -> Option<String> {
        let mut c = self.conn.clone();
        let reply: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(PRESENTER)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut c)
            .await
            .ok()?;
        reply.ids.into_iter().next().map(|e| e.id)
    }

    /// Just before the first entry of the newest presenter run, if any.
    async fn latest_presenter_start(&self) -> Option<String> {
        let mut c = self.conn.clone();
        let reply: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(PRESENTER)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(2_000)
            .query_async(&mut c)
            .await
            .ok()?;
        let newest: String = reply.ids.iter().find_map(|e| e.get("run"))?;
        let mut start = None;
        for e in &reply.ids {
            match e.get::<String>("run") {
                Some(r) if r == newest => start = Some(e.id.clone()),
                Some(_) => break,
                None => {}
            }
        }
        // The entry before the run's first: step back by one sequence number.
        let first = start?;
        let (ms, seq) = first.split_once('-')?;
        let (ms, seq): (u64, u64) = (ms.parse().ok()?, seq.parse().ok()?);
        Some(if seq > 0 {
            format!("{ms}-{}", seq - 1)
        } else {
            format!("{}-{}", ms.saturating_sub(1), u64::MAX)
        })
    }

    /// Sends `m` to the presenter stream (a poll's news).
    pub async fn announce(&self, m: &Message) {
        let (k, d) = encode(m);
        let mut c = self.conn.clone();
        let r = redis::cmd("XADD")
            .arg(PRESENTER)
            .arg("MAXLEN")
            .arg("~")
            .arg(PRESENTER_KEPT)
            .arg("*")
            .arg("k")
            .arg(k)
            .arg("d")
            .arg(d)
            .query_async::<String>(&mut c)
            .await;
        if let Err(e) = r {
            tracing::warn!("presenter stream: {e}");
        }
    }

    // Polls.

    async fn load(&self, id: &str) -> Result<Option<Poll>, String> {
        let mut c = self.conn.clone();
        let text: Option<String> = redis::cmd("HGET")
            .arg(poll_key(id))
            .arg("poll")
            .query_async(&mut c)
            .await
            .map_err(said)?;
        let Some(text) = text else { return Ok(None) };
        let mut poll: Poll = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let answers: Vec<usize> = redis::cmd("HVALS")
            .arg(answers_key(id))
            .query_async(&mut c)
            .await
            .map_err(said)?;
        let mut counts = vec![0u64; poll.choices.len()];
        for i in answers {
            if let Some(n) = counts.get_mut(i) {
                *n += 1;
            }
        }
        poll.counts = Some(counts);
        Ok(Some(poll))
    }

    async fn store(&self, poll: &Poll) -> Result<(), String> {
        let mut bare = poll.clone();
        bare.counts = None;
        let state = serde_json::to_value(bare.state).expect("states serialise");
        let mut c = self.conn.clone();
        redis::pipe()
            .cmd("HSET")
            .arg(poll_key(&poll.id))
            .arg("poll")
            .arg(serde_json::to_string(&bare).expect("polls serialise"))
            .arg("state")
            .arg(state.as_str().unwrap_or("closed"))
            .ignore()
            .cmd("EXPIRE")
            .arg(poll_key(&poll.id))
            .arg(RUN_TTL.as_secs() * 24)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(said)
    }

    /// Opens a poll; the one open before is closed; the oldest beyond
    /// [`PollLimits::kept`] go.
    pub async fn open(&self, id: String, req: PollRequest) -> Result<Poll, String> {
        if let Some(mut before) = self.current().await?
            && before.state == PollState::Open
        {
            before.state = PollState::Closed;
            self.store(&before).await?;
        }
        let poll = Poll::opened(id, req);
        self.store(&poll).await?;
        let mut c = self.conn.clone();
        let dropped: Vec<String> = redis::cmd("LRANGE")
            .arg(POLLS)
            .arg(self.limits.kept.saturating_sub(1))
            .arg(-1)
            .query_async(&mut c)
            .await
            .map_err(said)?;
        let mut pipe = redis::pipe();
        pipe.cmd("LPUSH").arg(POLLS).arg(&poll.id).ignore();
        pipe.cmd("LTRIM")
            .arg(POLLS)
            .arg(0)
            .arg(self.limits.kept - 1)
            .ignore();
        for old in dropped {
            pipe.cmd("DEL")
                .arg(poll_key(&old))
                .arg(answers_key(&old))
                .ignore();
        }
        pipe.query_async::<()>(&mut c).await.map_err(said)?;
        Ok(Poll {
            counts: Some(vec![0; poll.choices.len()]),
            ..poll
        })
    }

    /// The newest poll, with its counts.
    pub async fn current(&self) -> Result<Option<Poll>, String> {
        let mut c = self.conn.clone();
        let id: Option<String> = redis::cmd("LINDEX")
            .arg(POLLS)
            .arg(0)
            .query_async(&mut c)
            .await
            .map_err(said)?;
        match id {
            Some(id) => self.load(&id).await,
            None => Ok(None),
        }
    }

    /// A poll with its counts.
    pub async fn get(&self, id: &str) -> Result<Option<Poll>, String> {
        self.load(id).await
    }

    /// A tab's answer, atomically: only while open, one per tab (a second
    /// replaces the first), at most [`PollLimits::answers`] tabs.
    pub async fn answer(
        &self,
        id: &str,
        a: &PollAnswer,
    ) -> Result<Result<(), PollRefusal>, String> {
        let Some(poll) = self.load(id).await? else {
            return Ok(Err(PollRefusal::Unknown(id.into())));
        };
        let Some(choice) = poll.choices.iter().position(|c| *c == a.choice) else {
            return Ok(Err(PollRefusal::BadChoice(a.choice.clone())));
        };
        let script = redis::Script::new(
            r"local state = redis.call('HGET', KEYS[1], 'state')
            if not state then return -1 end
            if state ~= 'open' then return -2 end
            if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then return -3 end
            redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
            redis.call('EXPIRE', KEYS[2], ARGV[4])
            return 1",
        );
        let mut c = self.conn.clone();
        let r: i64 = script
            .key(poll_key(id))
            .key(answers_key(id))
            .arg(&a.tab)
            .arg(choice)
            .arg(self.limits.answers)
            .arg(RUN_TTL.as_secs() * 24)
            .invoke_async(&mut c)
            .await
            .map_err(said)?;
        Ok(match r {
            1 => Ok(()),
            -1 => Err(PollRefusal::Unknown(id.into())),
            -2 => Err(PollRefusal::Closed(id.into())),
            _ => Err(PollRefusal::Full(self.limits.answers)),
        })
    }

    /// Moves a poll on: closed, or revealed.
    pub async fn set_state(
        &self,
        id: &str,
        state: PollState,
    ) -> Result<Result<Poll, PollRefusal>, String> {
        let Some(mut poll) = self.load(id).await? else {
            return Ok(Err(PollRefusal::Unknown(id.into())));
        };
        if poll.state != PollState::Revealed {
            poll.state = state;
            self.store(&poll).await?;
        }
        Ok(Ok(poll))
    }
}
