//! `lab-server serve`: the HTTP API, live streams and classroom limits.
//!
//! ```text
//! GET  /api/host                   the host report (+ "mode": "kvm" | "model-only")
//! GET  /api/scenarios              the library: name, title, story, source, text
//! GET  /api/scenarios/{name}       one of them
//! POST /api/parse                  {"scenario": text} → the parsed scenario, or 400 with errors
//! POST /api/runs                   {"scenario": text, "backends": [...], "presenter": bool} → {"id"}
//! GET  /api/runs/{id}/events       Server-Sent Events: each the CLI's --json object, then "done"
//! GET  /api/runs/{id}              the whole recorded run
//! GET  /api/presenter/events       follow the presenter's runs live, and polls' news
//! POST /api/polls                  (instructor) open a poll; GET /api/polls/current
//! POST /api/polls/{id}/answers     a tab's answer; /close, /reveal (instructor)
//! GET  /api/polls/{id}/results     (instructor) the counts; /results.csv
//! GET  /api/health                 no token: for probes and proxies
//! GET  /api/stats                  queue, runners, RSS, fds, live VMs
//! GET  /, /book/                   the web app and the book (a plain page until they exist)
//! ```
//!
//! Bound to 127.0.0.1:8080 by default; any other address needs a token
//! (`--token` or `LAB_TOKEN`), checked on every API call (`Authorization:
//! Bearer …`, or `?token=` for EventSource, which cannot set headers). The
//! instructor's token (`--instructor-token`) is needed to present and to run
//! polls. With `--redis` the class's state lives in Redis ([`shared`]) and
//! replicas behind a proxy serve one class.

mod api;
pub mod polls;
pub mod runs;
pub mod shared;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use scenarios::Limits;

/// Server settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    /// The class token: students' requests carry it.
    pub token: Option<String>,
    /// The instructor's token: presenting and polls need it.
    pub instructor_token: Option<String>,
    /// The built site (`cargo xtask dist`): `index.html` and `book/`.
    pub static_dir: Option<PathBuf>,
    pub runners: usize,
    pub queue: usize,
    /// Runs a client may start per minute.
    pub runs_per_minute: u32,
    pub run_deadline: Duration,
    pub body_limit: usize,
    /// Bounds of a run on real KVM (the models' are `api::SERVER_LIMITS`).
    pub limits: Limits,
    /// Extra Origins allowed besides the server's own.
    pub origins: Vec<String>,
    /// `--redis URL`: the class's shared state in Redis, for replicas.
    pub redis: Option<String>,
    /// This replica's name (`--replica`, else the host name).
    pub replica: String,
    /// Behind a reverse proxy: the client is the last `X-Forwarded-For` address.
    pub behind_proxy: bool,
}

/// The host's name, for a replica that is not named.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "lab-server".into())
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            instructor_token: None,
            static_dir: None,
            runners: 2,
            queue: 512,
            runs_per_minute: 120,
            run_deadline: Duration::from_secs(30),
            body_limit: 64 * 1024,
            limits: crate::kvm::LIMITS,
            origins: Vec::new(),
            redis: None,
            replica: host_name(),
            behind_proxy: false,
        }
    }
}

impl Config {
    /// Refuses an exposed server without a token.
    pub fn validate(&self) -> Result<(), String> {
        let loopback = match self.addr.ip() {
            IpAddr::V4(a) => a.is_loopback(),
            IpAddr::V6(a) => a.is_loopback(),
        };
        if !loopback && self.token.as_deref().is_none_or(str::is_empty) {
            return Err(format!(
                "{} is reachable from other machines: give a token with --token or LAB_TOKEN",
                self.addr
            ));
        }
        Ok(())
    }
}

/// Everything a handler needs.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub host: scenarios::trace::HostReport,
    pub runs: Arc<runs::Runs>,
    pub rate: api::RateLimiter,
    /// The class's polls (in this process).
    pub polls: polls::LocalPolls,
    /// With `--redis`: the state replicas share (polls, presenter, runs' streams).
    pub shared: Option<shared::Shared>,
    /// Flips to true at shutdown: every open stream ends.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Presenter streams open on this server (`/api/stats`' `followers`).
    pub followers: Arc<std::sync::atomic::AtomicU64>,
}

/// Builds the app (used by `serve` and by tests without a socket).
pub fn app(config: Config) -> (Router, Arc<AppState>) {
    app_with(config, None)
}

/// The app with the class's state in Redis (`shared`), or in this process.
pub fn app_with(config: Config, shared: Option<shared::Shared>) -> (Router, Arc<AppState>) {
    let host = crate::kvm::host::report();
    let runs = runs::Runs::start(
        config.runners,
        config.queue,
        config.limits,
        config.run_deadline,
        host.clone(),
    );
    if let Some(sh) = &shared {
        runs.mirror_to(sh.mirror());
    }
    let state = Arc::new(AppState {
        shutdown: tokio::sync::watch::Sender::new(false),
        followers: Arc::default(),
        rate: api::RateLimiter::new(config.runs_per_minute),
        polls: polls::LocalPolls::new(polls::PollLimits::SERVER),
        shared,
        config,
        host,
        runs,
    });
    (api::router(state.clone()), state)
}

/// Serves until SIGINT or SIGTERM, then cancels every run and cleans up.
pub async fn serve(config: Config) -> Result<(), String> {
    config.validate()?;
    let addr = config.addr;
    let shared = match &config.redis {
        Some(url) => Some(
            shared::Shared::connect(url, config.replica.clone(), polls::PollLimits::SERVER).await?,
        ),
        None => None,
    };
    let (router, state) = app_with(config, shared);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%local, mode = if state.host.kvm_usable { "kvm" } else { "model-only" }, "TSC Lab is serving");
    println!("TSC Lab: http://{local}/");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| e.to_string())?;
    tracing::info!("shutting down: cancelling runs");
    state.runs.cancel_all();
    // Give runner threads a moment to drop their VMs.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while state.runs.running.load(std::sync::atomic::Ordering::SeqCst) > 0
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
