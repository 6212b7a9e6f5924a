//! `serve`: the HTTP API, live streams, the web app and the book.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::{Fail, runtime};

/// `serve`'s flags (the clap arguments), before their defaults are filled in.
#[derive(clap::Args, Debug)]
pub(crate) struct Options {
    /// Where to listen; anything but loopback needs a token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,
    /// The class token every API call must carry (also from LAB_TOKEN): students follow,
    /// run and answer with it.
    #[arg(long, env = "LAB_TOKEN")]
    pub(crate) token: Option<String>,
    /// The instructor's token (also from LAB_INSTRUCTOR_TOKEN): presenting, opening and
    /// closing polls and seeing the answers need it. On loopback without tokens the local
    /// user is the instructor.
    #[arg(long, env = "LAB_INSTRUCTOR_TOKEN")]
    pub(crate) instructor_token: Option<String>,
    /// The built site to serve at / and /book/ (default: target/dist when it exists).
    #[arg(long = "static")]
    pub(crate) static_dir: Option<PathBuf>,
    /// Runner threads, one scenario each at a time (default: one per core).
    #[arg(long)]
    pub(crate) runners: Option<usize>,
    /// Runs waiting for a runner before new ones get 429.
    #[arg(long, default_value_t = 512)]
    pub(crate) queue: usize,
    /// Runs one client may start per minute.
    #[arg(long, default_value_t = 120)]
    pub(crate) runs_per_minute: u32,
    /// Another web origin allowed to call the API (repeatable).
    #[arg(long = "origin")]
    pub(crate) origins: Vec<String>,
    /// Keep the class's shared state (presenter stream, polls, runs' streams) in Redis
    /// (also from LAB_REDIS_URL), so that several replicas behind one proxy serve one class.
    #[arg(long, env = "LAB_REDIS_URL", value_name = "URL")]
    pub(crate) redis: Option<String>,
    /// This replica's name (also from LAB_REPLICA; default: the host name).
    #[arg(long, env = "LAB_REPLICA", value_name = "NAME")]
    pub(crate) replica: Option<String>,
    /// Served behind a reverse proxy (HAProxy, nginx, an Ingress; also LAB_BEHIND_PROXY=1):
    /// runs per minute are counted per the address the proxy puts last in X-Forwarded-For,
    /// not per the proxy's own.
    #[arg(long, env = "LAB_BEHIND_PROXY")]
    pub(crate) behind_proxy: bool,
}

pub(crate) fn run(options: Options) -> Result<(), Fail> {
    let Options {
        addr,
        token,
        instructor_token,
        static_dir,
        runners,
        queue,
        runs_per_minute,
        origins,
        redis,
        replica,
        behind_proxy,
    } = options;
    let config = lab_server::server::Config {
        addr,
        token,
        instructor_token,
        static_dir: static_dir.or_else(|| {
            let d = PathBuf::from("target/dist");
            d.join("index.html").exists().then_some(d)
        }),
        runners: runners
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from)),
        queue,
        runs_per_minute,
        origins,
        redis,
        replica: replica.unwrap_or_else(lab_server::server::host_name),
        behind_proxy,
        ..lab_server::server::Config::default()
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(io::stderr)
        .init();
    runtime()?
        .block_on(lab_server::server::serve(config))
        .map_err(Fail::Input)
}
