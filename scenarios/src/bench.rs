//! Model throughput with a clock passed in, so the same measurement runs
//! natively and in the browser and `cargo xtask bench` can report the
//! WASM/native ratio (target ≥ 0.5×). No I/O: the caller brings the clock.
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

#[cfg(test)]
mod tests {
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
