//! The host a VM runs on: its settings as a scenario gives them, an instant
//! of its clocks, and the measured time of a real run. It uses only the
//! AST's setting types. (What a real machine reports of itself is
//! [`crate::trace::HostReport`], part of every real run's summary.)

use serde::{Deserialize, Serialize};

use crate::ast::{Clocksource, HostTsc, Scenario, Setting, StmtKind};

/// The host as the kernel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConfig {
    /// The host TSC frequency (`tsc_khz`); vCPUs start at this rate.
    pub tsc_khz: u32,
    /// The host clocksource; the master clock needs a TSC-based one.
    pub clocksource: Clocksource,
    /// `!check_tsc_unstable()`.
    pub tsc_stable: bool,
    /// Host uptime when the VM is created (boot-based ns).
    pub uptime_ns: u64,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            tsc_khz: 2_600_000,
            clocksource: Clocksource::Tsc,
            tsc_stable: true,
            uptime_ns: 100_000_000_000,
        }
    }
}

/// A host instant: `get_kernel_ns()` (boot-based nanoseconds) and `rdtsc()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostTime {
    /// `get_kernel_ns()`: boot-based nanoseconds.
    pub ns: u64,
    /// `rdtsc()`: the host TSC.
    pub tsc: u64,
}

/// The measured time of one step of a real run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Boot-based nanoseconds when the step ran.
    pub ns: u64,
    /// The host TSC when the step ran.
    pub tsc: u64,
    /// For a write: the value the real run wrote (it resolved `now` itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
}

/// Where a model's time comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timing {
    /// A virtual clock: it starts at the host's uptime and only `wait` moves it.
    Virtual,
    /// The measured time of every step of a real run (indexed by step), and
    /// the instant the VM was created.
    Replay {
        /// The instant the VM was created.
        start: HostTime,
        /// One stamp per step, indexed by [`StepCtx::step`](crate::backend::StepCtx::step).
        stamps: Vec<Stamp>,
    },
}

impl Scenario {
    /// The host settings, defaults filled in. A host that marked its TSC
    /// unstable has stopped using it as clocksource (`mark_tsc_unstable`), so
    /// `set host_tsc unstable` alone means clocksource `hpet`.
    pub fn host(&self) -> HostConfig {
        let mut host = HostConfig::default();
        let clocksource_set = self.walk().any(|s| {
            matches!(
                s.kind,
                StmtKind::Set {
                    setting: Setting::Clocksource(_)
                }
            )
        });
        for s in self.walk() {
            if let StmtKind::Set { setting } = &s.kind {
                match *setting {
                    Setting::TscKhz(khz) => host.tsc_khz = khz,
                    Setting::Clocksource(c) => host.clocksource = c,
                    Setting::HostTsc(t) => host.tsc_stable = t == HostTsc::Stable,
                    Setting::Uptime(d) => host.uptime_ns = d.ns,
                }
            }
        }
        if !host.tsc_stable && !clocksource_set {
            host.clocksource = Clocksource::Hpet;
        }
        host
    }
}
