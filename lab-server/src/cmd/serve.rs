//! `serve`: the HTTP API, live streams, the web app and the book.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::{Fail, runtime};

/// `serve`'s flags, before their defaults are filled in.
pub(crate) struct Options {
    pub(crate) addr: SocketAddr,
    pub(crate) token: Option<String>,
    pub(crate) static_dir: Option<PathBuf>,
    pub(crate) runners: Option<usize>,
    pub(crate) queue: usize,
    pub(crate) runs_per_minute: u32,
    pub(crate) origins: Vec<String>,
}

pub(crate) fn run(options: Options) -> Result<(), Fail> {
    let Options {
        addr,
        token,
        static_dir,
        runners,
        queue,
        runs_per_minute,
        origins,
    } = options;
    let config = lab_server::server::Config {
        addr,
        token,
        static_dir: static_dir.or_else(|| {
            let d = PathBuf::from("target/dist");
            d.join("index.html").exists().then_some(d)
        }),
        runners: runners
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from)),
        queue,
        runs_per_minute,
        origins,
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
