//! # scenarios — the core of TSC Lab
//!
//! A small language for driving a VM's TSCs (create vCPUs, write TSCs, wait,
//! run), a library of scenarios taken from real bugs, and step-by-step models
//! of how KVM matches TSC writes and decides on the master clock, in Linux
//! 3.14 (before "KVM: x86: fix TSC matching", 0d3da0d26e3c), 3.17 (after it)
//! and 6.18 (today).
//!
//! ```
//! use scenarios::{parse, run_model, BackendId, Event};
//!
//! // QEMU 2.0 boot with 2 vCPUs: creation, post_init and post_reset write 0.
//! let s = parse("create 2\nwrite * 0\nwrite * 0\nrun *\n").unwrap();
//! let summary = |id| match run_model(&s, id).unwrap().pop() {
//!     Some(Event::Summary(sum)) => sum,
//!     _ => unreachable!(),
//! };
//! // Before the fix every matched write counts: 5 ≠ online - 1, no master clock.
//! assert_eq!(summary(BackendId::Linux314).nr_matched, Some(5));
//! assert!(!summary(BackendId::Linux314).kvmclock_stable);
//! // After it each vCPU counts once per generation.
//! assert_eq!(summary(BackendId::Linux317).nr_matched, Some(1));
//! assert!(summary(BackendId::Linux317).kvmclock_stable);
//! ```
//!
//! The crate is pure — no I/O, no threads, no clock — so the same code runs
//! natively in the server and as WebAssembly in the browser.
//!
//! A kernel trace captured elsewhere comes back in through [`import`](mod@import): the
//! VMs in it, each rebuilt as the trace's own events, a scenario, and the
//! timing that replays the models at the trace's moments.
//!
//! ```
//! use scenarios::{import, replay_model, BackendId, ImportLimits};
//!
//! let trace = b"\
//! kvm_write_tsc_offset: vcpu=0 prev=0 next=18446743943414584320
//! kvm_track_tsc: vcpu_id 0 masterclock 0 offsetmatched 0 nr_online 1 hostclock tsc
//! kvm_write_tsc_offset: vcpu=0 prev=18446743943414584320 next=18446743943414584320
//! kvm_track_tsc: vcpu_id 0 masterclock 0 offsetmatched 0 nr_online 1 hostclock tsc
//! ";
//! let imported = import(trace, ImportLimits::DEFAULT);
//! let run = imported.run(1, 2_600_000).unwrap();
//! assert!(run.text.contains("create 1\nwrite 0 0"));
//! let model = replay_model(&run.scenario, BackendId::Linux618, run.host, run.timing());
//! assert!(model.error.is_none());
//! ```

//! ## Layers
//!
//! Each module uses only those above it in this list (none uses one that
//! uses it back):
//!
//! | layer | modules |
//! |---|---|
//! | words | `lex` (crate-private), [`pvclock`] |
//! | the language | [`ast`], [`trace`] (the events and their vocabulary) |
//! | settings and seams | [`host`], [`limits`], [`backend`], [`error`], [`kernel`] (the kernel's view, from its tracepoints) |
//! | reading text | [`text`] → [`check`](mod@check) |
//! | the kernels | [`models`] (`linux_3x` shared by `linux_3_14` and `linux_3_17`; `linux_6_18`) |
//! | running | [`exec`], then [`import`](mod@import) (`body` ← `line`; `vms`; `rebuild`), [`library`], [`bench`](mod@bench), [`protocol`] |

#![warn(missing_docs)]

pub mod ast;
pub mod backend;
pub mod bench;
pub mod check;
pub mod error;
pub mod exec;
pub mod host;
pub mod import;
pub mod kernel;
mod lex;
pub mod library;
pub mod limits;
pub mod models;
pub mod protocol;
pub mod pvclock;
pub mod text;
pub mod trace;

pub use ast::Scenario;
pub use backend::{Backend, StepCtx, StepError};
pub use check::{Analysis, check};
pub use error::{Error, Errors, RunError};
pub use exec::{
    Collected, execute, execute_collect, replay_model, run_model, verify, verify_models,
};
pub use host::{HostConfig, HostTime, Stamp, Timing};
pub use import::{ImportLimits, Imported, ImportedRun, Importer, import};
pub use limits::{Exceeded, Limits};
pub use text::parse;
pub use trace::{BackendId, Event, HostReport, RunEvent, Summary, WriteEvent, first_divergence};

impl Scenario {
    /// Reads a scenario from its JSON form and checks it like parsed text.
    pub fn from_json_value(scenario: Scenario) -> Result<Scenario, Errors> {
        check::check(&scenario, None)?;
        Ok(scenario)
    }
}
