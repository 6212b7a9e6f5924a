//! Importer throughput: trace lines per second, read as `lab-server import -`
//! reads stdin (64 KiB chunks).
//!
//! `cargo bench -p scenarios --bench import`. Criterion reports the median
//! time per import and the throughput in lines (elem/s). Target: ≥ 1 M
//! lines/s native. Then `rebuild`: one VM turned into a run, in writes/s.

use std::fmt::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scenarios::import::{ImportLimits, Importer};

/// A VM of 4 vCPUs whose threads write their TSCs over and over, every TSC
/// event between two foreign `kvm_exit` / `kvm_entry` lines, as when a whole
/// `kvm` event group is traced: `lines` lines in all.
fn trace(lines: usize, tgid: bool) -> String {
    let off: u64 = 18_446_740_036_782_508_616;
    let mut s = String::with_capacity(lines * 120);
    let mut n = 0;
    let mut t: u64 = 1_545_356_552;
    let mut i = 0u32;
    while n < lines {
        let v = i % 4;
        let tid = 16461 + v;
        let task = format!(
            "{:>16}-{tid:<7} {}[{v:03}] d..1. ",
            "qemu-system-x86",
            if tgid { "(  16455) " } else { "" }
        );
        let mut line = |body: &str| {
            t += 7;
            let _ = writeln!(s, "{task}{:>5}.{:06}: {body}", t / 1_000_000, t % 1_000_000);
            n += 1;
        };
        let (nr, online) = if i < 4 { (v, v + 1) } else { (3, 4) };
        let prev = if i < 4 { 0 } else { off };
        line("kvm_exit: reason MSR_WRITE rip 0xffffffff8107c1a8 info 0 0");
        line(&format!(
            "kvm_write_tsc_offset: vcpu={v} prev={prev} next={off}"
        ));
        line(&format!(
            "kvm_track_tsc: vcpu_id {v} masterclock 1 offsetmatched {nr} nr_online {online} hostclock tsc"
        ));
        line("kvm_entry: vcpu 0, rip 0xffffffff8107c1aa");
        i += 1;
    }
    s
}

fn import(c: &mut Criterion) {
    let mut group = c.benchmark_group("import");
    group.sample_size(10);
    for (name, tgid) in [
        ("trace_pipe (lines)", false),
        ("trace with TGID (lines)", true),
    ] {
        let text = trace(1_000_000, tgid);
        let lines = text.lines().count() as u64;
        group.throughput(Throughput::Elements(lines));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut i = Importer::new(ImportLimits::DEFAULT);
                for chunk in text.as_bytes().chunks(64 * 1024) {
                    i.push_bytes(chunk);
                }
                let imported = i.finish();
                assert_eq!(imported.vms.len(), 1);
                imported.tsc_events
            })
        });
    }
    group.finish();

    // One VM of the trace as a run: the scenario, its stamps and events.
    let imported = scenarios::import(trace(200_000, false).as_bytes(), ImportLimits::DEFAULT);
    let mut group = c.benchmark_group("rebuild");
    group.sample_size(10);
    group.throughput(Throughput::Elements(imported.vms[0].writes));
    group.bench_function("one VM (writes)", |b| {
        b.iter(|| imported.run(1, 2_600_000).expect("a run").stamps.len())
    });
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
