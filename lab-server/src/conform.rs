//! Conformance: the `linux-6.18` model against this machine's kernel.
//!
//! Each scenario runs on real KVM, then through the model replayed with the
//! run's own measured step times and written values. They must agree write by
//! write (matched, nr_vcpus_matched_tsc, online_vcpus) and at the end (master
//! clock, each vCPU's pvclock stable bit). Where they differ, the model is
//! wrong until shown otherwise.

use scenarios::ast::{HostTsc, Setting, StmtKind};
use scenarios::trace::{summary, writes};
use scenarios::{BackendId, Event, Scenario, WriteEvent};
use serde::Serialize;

use scenarios::Limits;

use crate::kvm::KvmBackend;
use crate::random;

/// A scenario to check.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub text: String,
}

/// How one case went.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Every compared value agreed.
    Agree { writes: usize, compared: usize },
    /// At least one value differed.
    Diverge { divergences: Vec<Divergence> },
    /// The case cannot run on this host (a host setting it asks for).
    Skipped { reason: String },
    /// Real KVM or the model failed to run it.
    Failed { error: String },
}

/// One value on which real KVM and the model disagree.
#[derive(Clone, Debug, Serialize)]
pub struct Divergence {
    /// The write (1-based), or `None` for the end state.
    pub write: Option<u32>,
    pub line: u32,
    pub field: String,
    pub kvm: String,
    pub model: String,
}

/// The cases of the library.
pub fn library_cases() -> Vec<Case> {
    scenarios::library::LIBRARY
        .iter()
        .map(|e| Case {
            name: e.name.to_string(),
            text: e.text.to_string(),
        })
        .collect()
}

/// `count` seeded random cases.
pub fn random_cases(count: usize, seed: u64) -> Vec<Case> {
    let mut rng = random::Rng::new(seed);
    (0..count)
        .map(|i| Case {
            name: format!("random-{seed}-{i}"),
            text: random::scenario(&mut rng),
        })
        .collect()
}

/// Why a scenario cannot be compared on this host, if it cannot.
fn host_mismatch(s: &Scenario, host: &scenarios::trace::HostReport) -> Option<String> {
    for st in s.walk() {
        if let StmtKind::Set { setting } = &st.kind {
            match setting {
                Setting::HostTsc(HostTsc::Unstable) => {
                    return Some("it needs a host whose TSC is unstable".into());
                }
                Setting::Clocksource(c) if c.name() != host.clocksource => {
                    return Some(format!(
                        "it needs host clocksource {}, this host has {}",
                        c.name(),
                        host.clocksource
                    ));
                }
                Setting::TscKhz(k) if Some(*k) != host.tsc_khz => {
                    return Some(format!("it needs a {k} kHz host TSC"));
                }
                _ => {}
            }
        }
    }
    None
}

/// Runs one case on real KVM and through the replayed model, and compares.
pub fn check_case(case: &Case, host: &scenarios::trace::HostReport, limits: Limits) -> Outcome {
    let scenario = match scenarios::parse(&case.text) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::Failed {
                error: e.to_string(),
            };
        }
    };
    if let Some(reason) = host_mismatch(&scenario, host) {
        return Outcome::Skipped { reason };
    }
    if let Err(e) = crate::kvm::admit(&limits, &scenario) {
        return Outcome::Skipped { reason: e };
    }
    let (kvm, backend) = match run_kvm(&scenario, host, limits) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed { error: e },
    };
    let model = match scenarios::replay_model(
        &scenario,
        BackendId::Linux618,
        backend.replay_host(),
        backend.timing(),
    )
    .into_result()
    {
        Ok(m) => m,
        Err(e) => {
            return Outcome::Failed {
                error: format!("linux-6.18: {e}"),
            };
        }
    };
    compare(&kvm, &model)
}

/// Runs a scenario on a fresh VM; the backend is kept for its timing trace.
pub fn run_kvm(
    scenario: &Scenario,
    host: &scenarios::trace::HostReport,
    limits: Limits,
) -> Result<(Vec<Event>, KvmBackend), String> {
    let mut backend = KvmBackend::new(host.clone(), limits).map_err(|e| e.to_string())?;
    let events = scenarios::execute_collect(scenario, &mut backend)
        .into_result()
        .map_err(|e| format!("kvm: {e}"))?;
    if backend.overruns() > 0 {
        return Err("the trace buffer overflowed: events were lost".into());
    }
    Ok((events, backend))
}

/// Compares a real run with the model's replay of it.
pub fn compare(kvm: &[Event], model: &[Event]) -> Outcome {
    let mut d = Vec::new();
    let (kw, mw): (Vec<&WriteEvent>, Vec<&WriteEvent>) =
        (writes(kvm).collect(), writes(model).collect());
    let mut compared = 0;
    if kw.len() != mw.len() {
        d.push(Divergence {
            write: None,
            line: 0,
            field: "writes".into(),
            kvm: kw.len().to_string(),
            model: mw.len().to_string(),
        });
    }
    for (k, m) in kw.iter().zip(&mw) {
        let mut cmp = |field: &str, a: Option<String>, b: Option<String>| {
            // A value real KVM did not observe (no tracefs) is not compared.
            if let (Some(a), Some(b)) = (a, b) {
                compared += 1;
                if a != b {
                    d.push(Divergence {
                        write: Some(k.write),
                        line: k.line,
                        field: field.into(),
                        kvm: a,
                        model: b,
                    });
                }
            }
        };
        let s = |x: Option<bool>| x.map(|b| b.to_string());
        cmp("matched", s(k.matched), s(m.matched));
        cmp(
            "nr_matched",
            k.nr_matched.map(|n| n.to_string()),
            m.nr_matched.map(|n| n.to_string()),
        );
        cmp(
            "online",
            Some(k.online.to_string()),
            Some(m.online.to_string()),
        );
    }
    match (summary(kvm), summary(model)) {
        (Some(k), Some(m)) => {
            compared += 2;
            if k.master_clock != m.master_clock {
                d.push(Divergence {
                    write: None,
                    line: 0,
                    field: "master_clock".into(),
                    kvm: k.master_clock.to_string(),
                    model: m.master_clock.to_string(),
                });
            }
            if k.pvclock_stable != m.pvclock_stable {
                d.push(Divergence {
                    write: None,
                    line: 0,
                    field: "pvclock_stable".into(),
                    kvm: format!("{:?}", k.pvclock_stable),
                    model: format!("{:?}", m.pvclock_stable),
                });
            }
        }
        _ => d.push(Divergence {
            write: None,
            line: 0,
            field: "summary".into(),
            kvm: "missing".into(),
            model: "missing".into(),
        }),
    }
    if d.is_empty() {
        Outcome::Agree {
            writes: kw.len(),
            compared,
        }
    } else {
        Outcome::Diverge { divergences: d }
    }
}

/// Replays a real run through every model: what each kernel would have done
/// with this very run's timing and values.
pub fn history(
    scenario: &Scenario,
    backend: &KvmBackend,
) -> Vec<(BackendId, Result<Vec<Event>, scenarios::RunError>)> {
    BackendId::MODELS
        .into_iter()
        .map(|id| {
            let replay =
                scenarios::replay_model(scenario, id, backend.replay_host(), backend.timing());
            (id, replay.into_result())
        })
        .collect()
}
