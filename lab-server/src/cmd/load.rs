//! `load`: many concurrent clients against a live server.

use std::io::Write;

use super::arg::{load_text, parse};
use super::{Fail, runtime};
use crate::progress::Progress;
use crate::render;

/// `load`'s flags.
#[derive(clap::Args, Debug)]
pub(crate) struct Options {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub(crate) url: String,
    /// Concurrent clients, each running the scenario once.
    #[arg(long, default_value_t = 300)]
    pub(crate) clients: usize,
    /// A library name or a file.
    #[arg(long, default_value = "qemu-2.0-boot-8")]
    pub(crate) scenario: String,
    /// Backends, comma-separated.
    #[arg(long, default_value = "kvm")]
    pub(crate) backends: String,
    #[arg(long, env = "LAB_TOKEN")]
    pub(crate) token: Option<String>,
}

pub(crate) fn run(out: &mut impl Write, options: Options) -> Result<(), Fail> {
    let Options {
        url,
        clients,
        scenario,
        backends,
        token,
    } = options;
    let loaded = load_text(&scenario)?;
    parse(&loaded)?;
    let plan = lab_server::load::Plan {
        url: url.trim_end_matches('/').to_string(),
        clients,
        scenario: loaded.text,
        backends: backends
            .split(',')
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect(),
        token,
    };
    let progress = Progress::steps("load", clients as u64, "clients done");
    let o = runtime()?.block_on(lab_server::load::run_observed(
        plan,
        std::sync::Arc::new(progress.counter()),
    ));
    drop(progress);
    let leaked = match (o.before, o.after) {
        (Some(b), Some(a)) => a.fds != b.fds || a.vms != 0,
        // A server that stopped answering cannot be shown to be clean.
        _ => true,
    };
    render::load(out, clients, &o, leaked)?;
    if !o.errors.is_empty() || leaked {
        return Err(Fail::Expect);
    }
    Ok(())
}
