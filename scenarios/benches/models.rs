//! Model throughput: TSC writes per second on a 64-vCPU, ~100k-write scenario.
//!
//! `cargo xtask bench` (or `cargo bench -p scenarios --bench models`). Criterion
//! reports the median time per run and the throughput in writes (elem/s).
//! Target: ≥ 20 M writes/s native for every model.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scenarios::models::{self, Timing};
use scenarios::{BackendId, Event, Scenario};

/// 64 creations + 781 × (64 writes of 0 + 64 writes of `now`) = 100,032 writes.
fn big_scenario() -> Scenario {
    let text = "create 64\nrepeat 781\n  write * 0\n  write * now\nend\n";
    scenarios::parse(text).expect("bench scenario parses")
}

fn writes_per_run(s: &Scenario) -> u64 {
    scenarios::check(s, None).expect("checks").writes
}

fn models(c: &mut Criterion) {
    let scenario = big_scenario();
    let writes = writes_per_run(&scenario);
    let mut group = c.benchmark_group("model writes");
    group.throughput(Throughput::Elements(writes));
    group.sample_size(20);
    for id in BackendId::MODELS {
        group.bench_function(id.name(), |b| {
            b.iter(|| {
                let mut backend =
                    models::model(id, scenario.host(), Timing::Virtual).expect("a model");
                let mut seen = 0u64;
                scenarios::execute(&scenario, backend.as_mut(), &mut |e| {
                    if let Event::Write(w) = e {
                        seen += u64::from(w.nr_matched.unwrap_or(0) & 1);
                    }
                })
                .expect("runs");
                seen
            })
        });
    }
    group.finish();
}

fn parser(c: &mut Criterion) {
    let text: String = scenarios::library::LIBRARY
        .iter()
        .map(|e| e.text)
        .collect::<Vec<_>>()
        .join("\n# ---\n");
    let lines = text.lines().count() as u64;
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(lines));
    group.bench_function("library (lines)", |b| {
        b.iter(|| scenarios::text::parse_syntax(&text).expect("parses"))
    });
    group.finish();
}

criterion_group!(benches, models, parser);
criterion_main!(benches);
