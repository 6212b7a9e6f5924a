//! How big a run may be: what a scenario adds up to ([`Analysis`]) and the
//! bounds a runner puts on it ([`Limits`]). The language has its own
//! ([`Limits::LANGUAGE`]); every runner — the kvm backend, the server — picks
//! tighter numbers and names them once, in a `Limits` of its own. A leaf.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a scenario adds up to once every `repeat` is expanded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    /// vCPUs at the end.
    pub vcpus: u32,
    /// TSC writes, vCPU creations included.
    pub writes: u64,
    /// Steps, the unit of timing traces.
    pub steps: u64,
    /// Total time waited, in ns.
    pub wait_ns: u64,
}

/// Bounds on one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// vCPUs in one VM.
    pub max_vcpus: u32,
    /// Steps (vCPU creations, per-vCPU writes and runs, waits…) once every `repeat` is expanded.
    pub max_steps: u64,
    /// Host time waited in all, in ns.
    pub max_wait_ns: u64,
}

impl Limits {
    /// What the language accepts at all: 1,024 vCPUs (KVM_MAX_VCPUS of
    /// today's x86 KVM), a million steps, ten years of waiting — small enough
    /// for a browser tab.
    pub const LANGUAGE: Limits = Limits {
        max_vcpus: 1024,
        max_steps: 1_000_000,
        max_wait_ns: 10 * 365 * 24 * 3600 * 1_000_000_000,
    };

    /// The same bounds with at most `max_steps` steps.
    pub const fn with_max_steps(self, max_steps: u64) -> Limits {
        Limits { max_steps, ..self }
    }

    /// Whether a scenario of this size fits: vCPUs first, then steps, then waiting.
    pub fn admit(&self, a: &Analysis) -> Result<(), Exceeded> {
        if a.vcpus > self.max_vcpus {
            Err(Exceeded::Vcpus {
                limit: self.max_vcpus,
                actual: a.vcpus,
            })
        } else if a.steps > self.max_steps {
            Err(Exceeded::Steps {
                limit: self.max_steps,
                actual: a.steps,
            })
        } else if a.wait_ns > self.max_wait_ns {
            Err(Exceeded::Wait {
                limit_ns: self.max_wait_ns,
                actual_ns: a.wait_ns,
            })
        } else {
            Ok(())
        }
    }
}

/// The bound a scenario is over, and by how much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    /// It creates more vCPUs than the runner takes.
    Vcpus {
        /// The bound.
        limit: u32,
        /// The scenario's vCPUs.
        actual: u32,
    },
    /// It expands to more steps.
    Steps {
        /// The bound.
        limit: u64,
        /// The scenario's steps.
        actual: u64,
    },
    /// It waits longer in all.
    Wait {
        /// The bound, in ns.
        limit_ns: u64,
        /// The scenario's waiting, in ns.
        actual_ns: u64,
    },
}

impl Exceeded {
    /// The refusal in a sentence, naming who refuses: "the kvm backend runs
    /// at most 64 vCPUs; this scenario creates 65".
    pub fn sentence(&self, runner: &str) -> String {
        match *self {
            Exceeded::Vcpus { limit, actual } => {
                format!("{runner} runs at most {limit} vCPUs; this scenario creates {actual}")
            }
            Exceeded::Steps { limit, actual } => {
                format!("{runner} runs at most {limit} steps; this scenario has {actual}")
            }
            Exceeded::Wait {
                limit_ns,
                actual_ns,
            } => format!(
                "{runner} waits at most {} s in all; this scenario waits {:.1} s",
                limit_ns / 1_000_000_000,
                actual_ns as f64 / 1e9
            ),
        }
    }
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence("this runner"))
    }
}

impl std::error::Error for Exceeded {}
