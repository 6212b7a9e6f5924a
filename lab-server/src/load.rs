//! `lab-server load`: drive a live server on loopback with many concurrent
//! clients, each running a scenario and reading its stream to the summary.
//! It starts nothing itself. Each client has its own loopback address
//! (127.0.0.2 …), so per-client limits see a class, not one machine.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use scenarios::protocol::{Created, RunRequest, Stats};

/// What to do.
#[derive(Clone, Debug)]
pub struct Plan {
    pub url: String,
    pub clients: usize,
    pub scenario: String,
    pub backends: Vec<String>,
    pub token: Option<String>,
}

/// How it went.
#[derive(Debug, Default)]
pub struct Outcome {
    pub completed: usize,
    /// 429 with a Retry-After header: the server said "later", properly.
    pub rejected: usize,
    pub errors: Vec<String>,
    pub latencies: Vec<Duration>,
    /// `/api/stats` before the class (`None` if it did not answer).
    pub before: Option<Stats>,
    /// `/api/stats` once the server settled after it.
    pub after: Option<Stats>,
    pub wall: Duration,
}

impl Outcome {
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let mut v = self.latencies.clone();
        v.sort();
        (!v.is_empty()).then(|| v[((v.len() as f64 - 1.0) * p).round() as usize])
    }
}

enum One {
    Done(Duration),
    Rejected,
    Error(String),
}

async fn stats(client: &reqwest::Client, plan: &Plan) -> Option<Stats> {
    let mut r = client.get(format!("{}/api/stats", plan.url));
    if let Some(t) = &plan.token {
        r = r.bearer_auth(t);
    }
    r.send().await.ok()?.json().await.ok()
}

async fn one(i: usize, plan: &Plan) -> One {
    let local = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        (2 + i / 250) as u8,
        (2 + i % 250) as u8,
    ));
    let client = match reqwest::Client::builder()
        .local_address(local)
        .timeout(Duration::from_secs(120))
        .build()
    {
        Ok(c) => c,
        Err(e) => return One::Error(format!("client: {e}")),
    };
    let started = Instant::now();
    let body = RunRequest {
        scenario: plan.scenario.clone(),
        backends: Some(plan.backends.clone()),
        presenter: false,
    };
    let mut req = client.post(format!("{}/api/runs", plan.url)).json(&body);
    if let Some(t) = &plan.token {
        req = req.bearer_auth(t);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return One::Error(format!("POST /api/runs: {e}")),
    };
    if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return if resp.headers().contains_key("retry-after") {
            One::Rejected
        } else {
            One::Error("429 without Retry-After".into())
        };
    }
    if !resp.status().is_success() {
        return One::Error(format!("POST /api/runs: {}", resp.status()));
    }
    let id = match resp.json::<Created>().await {
        Ok(c) => c.id,
        Err(_) => return One::Error("no run id".into()),
    };
    let mut req = client.get(format!("{}/api/runs/{id}/events", plan.url));
    if let Some(t) = &plan.token {
        req = req.bearer_auth(t);
    }
    let resp = match req.send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => return One::Error(format!("GET events: {}", r.status())),
        Err(e) => return One::Error(format!("GET events: {e}")),
    };
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut summaries = 0;
    let mut last_summary = None;
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return One::Error("the stream broke".into());
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if event.contains("\"event\":\"summary\"") {
                summaries += 1;
                last_summary = Some(started.elapsed());
            }
            if event.starts_with("event: error") || event.contains("\nevent: error") {
                return One::Error(format!("run error: {}", event.trim()));
            }
            if event.starts_with("event: done") || event.contains("\nevent: done") {
                return match (summaries == plan.backends.len(), last_summary) {
                    (true, Some(t)) => One::Done(t),
                    _ => One::Error(format!(
                        "{summaries} summaries for {} backends",
                        plan.backends.len()
                    )),
                };
            }
        }
    }
    One::Error("the stream ended before `done`".into())
}

/// Runs the plan: every client at once.
pub async fn run(plan: Plan) -> Outcome {
    run_observed(plan, Arc::new(|| {})).await
}

/// As [`run`], calling `done` as each client finishes, in the order they
/// finish (the CLI's progress).
pub async fn run_observed(plan: Plan, done: Arc<dyn Fn() + Send + Sync>) -> Outcome {
    let probe = reqwest::Client::new();
    let mut out = Outcome {
        before: stats(&probe, &plan).await,
        ..Outcome::default()
    };
    let started = Instant::now();
    let tasks: Vec<_> = (0..plan.clients)
        .map(|i| {
            let plan = plan.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let one = one(i, &plan).await;
                done();
                one
            })
        })
        .collect();
    for t in tasks {
        match t.await {
            Ok(One::Done(d)) => {
                out.completed += 1;
                out.latencies.push(d);
            }
            Ok(One::Rejected) => out.rejected += 1,
            Ok(One::Error(e)) => out.errors.push(e),
            Err(e) => out.errors.push(format!("task: {e}")),
        }
    }
    out.wall = started.elapsed();
    // Let the server finish and free every VM before the last look.
    let settle = Instant::now();
    loop {
        out.after = stats(&probe, &plan).await;
        // Closing sockets take a moment to leave the fd table.
        let idle = match (&out.before, &out.after) {
            (Some(b), Some(a)) => a.queued == 0 && a.running == 0 && a.vms == 0 && a.fds == b.fds,
            _ => false,
        };
        if idle || settle.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out
}
