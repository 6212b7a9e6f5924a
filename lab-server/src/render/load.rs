//! `load`: how a live server took many concurrent clients.

use std::io::{self, Write};
use std::time::Duration;

use lab_server::load::Outcome;
use scenarios::protocol::Stats;

/// The report of `load`: throughput, latency, the server's RSS and fds before
/// and after, the first distinct errors, and `LEAK` when `leaked`.
pub(crate) fn load(
    out: &mut impl Write,
    clients: usize,
    o: &Outcome,
    leaked: bool,
) -> io::Result<()> {
    let ms = |d: Option<Duration>| {
        d.map_or("-".to_string(), |d| {
            format!("{:.1} ms", d.as_secs_f64() * 1e3)
        })
    };
    writeln!(out, "{clients} clients, {} s wall", o.wall.as_secs_f64())?;
    writeln!(
        out,
        "  completed {} · answered 429 with Retry-After {} · errors {}",
        o.completed,
        o.rejected,
        o.errors.len()
    )?;
    writeln!(
        out,
        "  latency (request → last summary): p50 {} · p99 {} · max {}",
        ms(o.percentile(0.5)),
        ms(o.percentile(0.99)),
        ms(o.percentile(1.0))
    )?;
    let kb = |s: &Option<Stats>| {
        s.and_then(|s| s.rss_kb)
            .map_or("?".to_string(), |k| format!("{:.1} MB", k as f64 / 1024.0))
    };
    // A figure of a server that did not answer reads `null`, as its JSON would.
    let n = |s: &Option<Stats>, f: fn(&Stats) -> u64| {
        s.as_ref().map_or("null".to_string(), |s| f(s).to_string())
    };
    writeln!(
        out,
        "  server RSS {} before, {} after",
        kb(&o.before),
        kb(&o.after)
    )?;
    writeln!(
        out,
        "  server fds {} before, {} after · VMs {} after, vCPUs {} after",
        n(&o.before, |s| s.fds),
        n(&o.after, |s| s.fds),
        n(&o.after, |s| s.vms),
        n(&o.after, |s| s.vcpus)
    )?;
    let mut errors: Vec<&String> = o.errors.iter().collect();
    errors.dedup();
    for e in errors.iter().take(10) {
        writeln!(out, "  error: {e}")?;
    }
    if leaked {
        writeln!(out, "  LEAK: the server did not return to its baseline")?;
    }
    Ok(())
}
