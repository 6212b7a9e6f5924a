//! Model throughput with a clock passed in, so the same measurement runs
//! natively and in the browser and `cargo xtask bench` can report the
//! WASM/native ratio (target ≥ 0.5×), and the same for the trace importer
//! (target ≥ 0.3×). No I/O: the caller brings the clock.
use crate::models::{self, Timing};
use crate::{BackendId, Event};

/// The benchmark scenario: `vcpus` creations, then `rounds` × (every vCPU
/// writes 0, every vCPU writes `now`) — the shape of `scenarios`' criterion
/// bench (64 vCPUs × 781 rounds = 100,032 writes).
pub fn scenario_text(vcpus: u32, rounds: u32) -> String {
    format!("create {vcpus}\nrepeat {rounds}\n  write * 0\n  write * now\nend\n")
}

/// Median writes per second of each model on the benchmark scenario.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Throughput {
    /// vCPUs the scenario creates.
    pub vcpus: u32,
    /// TSC writes per run, creations included: `vcpus` × (1 + 2 × `rounds`).
    pub writes: u64,
    /// `(backend, writes/s)`, the median of eleven runs each.
    pub models: Vec<(BackendId, f64)>,
}

/// Runs each model eleven times on the benchmark scenario and reports the
/// median writes/s per model. `now_ms` is the clock (`performance.now()` in
/// a page, an `Instant` natively).
pub fn model_throughput(vcpus: u32, rounds: u32, now_ms: impl Fn() -> f64) -> Throughput {
    let writes = u64::from(vcpus) * (1 + 2 * u64::from(rounds));
    let mut out = Throughput {
        vcpus,
        writes,
        models: Vec::new(),
    };
    let Ok(scenario) = crate::parse(&scenario_text(vcpus, rounds)) else {
        return out;
    };
    for id in BackendId::MODELS {
        let mut times = Vec::new();
        for _ in 0..11 {
            let Some(mut backend) = models::model(id, scenario.host(), Timing::Virtual) else {
                continue;
            };
            // Read every write, as a page does, so nothing is optimised away.
            let mut seen = 0u64;
            let t0 = now_ms();
            let ok = crate::execute(&scenario, backend.as_mut(), &mut |e| {
                if let Event::Write(w) = e {
                    seen += u64::from(w.nr_matched.unwrap_or(0) & 1);
                }
            });
            let dt = now_ms() - t0;
            if ok.is_ok() && seen <= writes {
                times.push(dt.max(1e-3));
            }
        }
        times.sort_by(f64::total_cmp);
        if let Some(median) = times.get(times.len() / 2) {
            out.models
                .push((id, (writes as f64 / (median / 1000.0)).round()));
        }
    }
    out
}

/// A trace of `lines` lines for the importer's throughput: one VM of 4
/// vCPUs whose threads write their TSCs over and over, each TSC event pair
/// between a foreign `kvm_exit` and `kvm_entry` (the shape of `scenarios`'
/// criterion bench `import`).
pub fn import_trace_text(lines: u32) -> String {
    use std::fmt::Write;
    let off: u64 = 18_446_740_036_782_508_616;
    let mut s = String::with_capacity(lines as usize * 110);
    let (mut n, mut t, mut i) = (0u32, 1_545_356_552u64, 0u32);
    while n < lines {
        let v = i % 4;
        let (nr, online, prev) = if i < 4 { (v, v + 1, 0) } else { (3, 4, off) };
        let bodies = [
            "kvm_exit: reason MSR_WRITE rip 0xffffffff8107c1a8 info 0 0".to_string(),
            format!("kvm_write_tsc_offset: vcpu={v} prev={prev} next={off}"),
            format!(
                "kvm_track_tsc: vcpu_id {v} masterclock 1 offsetmatched {nr} nr_online {online} hostclock tsc"
            ),
            "kvm_entry: vcpu 0, rip 0xffffffff8107c1aa".to_string(),
        ];
        for body in bodies.iter().take((lines - n).min(4) as usize) {
            t += 7;
            let _ = writeln!(
                s,
                " qemu-system-x86-{:<7} [{v:03}] d..1. {:>5}.{:06}: {body}",
                16461 + v,
                t / 1_000_000,
                t % 1_000_000
            );
            n += 1;
        }
        i += 1;
    }
    s
}

/// The importer's speed on [`import_trace_text`]: lines read per second.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ImportThroughput {
    /// Lines in the trace.
    pub lines: u64,
    /// Lines per second, the median of `runs` imports.
    pub lines_per_s: f64,
}

/// Imports a trace of `lines` lines `runs` times (64 KiB at a time, as a
/// file is read) and reports the median rate. `now_ms` is the clock.
pub fn import_throughput(lines: u32, runs: u32, now_ms: impl Fn() -> f64) -> ImportThroughput {
    let text = import_trace_text(lines);
    let mut times = Vec::new();
    let mut read = 0;
    for _ in 0..runs.max(1) {
        let t0 = now_ms();
        let mut importer = crate::import::Importer::new(crate::import::ImportLimits::DEFAULT);
        for chunk in text.as_bytes().chunks(1 << 16) {
            importer.push_bytes(chunk);
        }
        let imported = importer.finish();
        times.push((now_ms() - t0).max(1e-3));
        read = imported.lines;
    }
    times.sort_by(f64::total_cmp);
    ImportThroughput {
        lines: read,
        lines_per_s: (read as f64 / (times[times.len() / 2] / 1000.0)).round(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_import_bench_reads_every_line_of_one_vm() {
        let start = std::time::Instant::now();
        let t = super::import_throughput(1_000, 3, || start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(t.lines, 1_000);
        assert!(t.lines_per_s > 0.0, "{t:?}");
        let imported = crate::import::import(
            super::import_trace_text(1_000).as_bytes(),
            crate::import::ImportLimits::DEFAULT,
        );
        assert_eq!(imported.vms.len(), 1);
        assert!(imported.problems.is_empty(), "{:?}", imported.problems);
        assert_eq!(imported.tsc_events, 500);
    }

    #[test]
    fn throughput_reports_every_model() {
        let start = std::time::Instant::now();
        let t = super::model_throughput(4, 10, || start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(t.writes, 84);
        assert_eq!(t.models.len(), 4);
        assert!(t.models.iter().all(|(_, w)| *w > 0.0), "{t:?}");
        assert_eq!(
            crate::check(&crate::parse(&super::scenario_text(4, 10)).unwrap(), None)
                .unwrap()
                .writes,
            84
        );
    }
}
