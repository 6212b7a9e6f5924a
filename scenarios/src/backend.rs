//! The seam between the executor and what runs a scenario: the [`Backend`]
//! trait that the kernel models and real KVM both implement, where a step
//! stands ([`StepCtx`]), and why a step failed ([`StepError`]). A leaf: it
//! uses only the AST and the trace.

use std::fmt;

use crate::ast::{Duration, OffsetValue, TscValue};
use crate::trace::{BackendId, ClockEvent, KhzEvent, Origin, RunEvent, Summary, WriteEvent};

/// Where a step stands in the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepCtx {
    /// 0-based step index (the index into a timing trace).
    pub step: u32,
    /// The scenario line (0 for the implicit `run *`).
    pub line: u32,
    /// The number the next TSC write will get (1-based).
    pub write: u32,
}

/// A step the backend could not carry out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepError {
    /// The backend refuses the step, as the kernel it stands for would (a
    /// vCPU that does not exist, an ioctl that version lacks, a value out of
    /// range), or a bound of the backend was reached.
    Refused(String),
    /// A system call failed: which ioctl (or call), and its errno.
    Os {
        /// The ioctl or call, as the kernel names it (`KVM_SET_MSRS`).
        call: &'static str,
        /// The `errno` it failed with.
        errno: i32,
    },
    /// The kernel did something the lab cannot account for (a missing
    /// trace event, a guest that did not halt), in a sentence.
    Unexpected(String),
    /// The run was stopped from outside: every viewer left, or its deadline passed.
    Stopped(String),
}

impl StepError {
    /// A refusal, in a sentence.
    pub fn refused(message: impl Into<String>) -> Self {
        StepError::Refused(message.into())
    }

    /// The errno of a failed system call, if that is what this is.
    pub fn errno(&self) -> Option<i32> {
        match self {
            StepError::Os { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Refused(s) | StepError::Unexpected(s) | StepError::Stopped(s) => {
                f.write_str(s)
            }
            // As the OS says it: "KVM_RUN: Interrupted system call (os error 4)".
            StepError::Os { call, errno } => {
                write!(f, "{call}: {}", std::io::Error::from_raw_os_error(*errno))
            }
        }
    }
}

impl std::error::Error for StepError {}

/// Anything a scenario can run on: the kernel models, and real KVM.
pub trait Backend: fmt::Debug {
    /// Which backend this is.
    fn id(&self) -> BackendId;
    /// KVM_CREATE_VCPU (the kernel writes the new vCPU's TSC itself).
    fn create_vcpu(&mut self, ctx: &StepCtx) -> Result<WriteEvent, StepError>;
    /// MSR_IA32_TSC: host-initiated for [`Origin::Write`], the guest's own for [`Origin::Guest`].
    fn write_tsc(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        value: TscValue,
        origin: Origin,
    ) -> Result<WriteEvent, StepError>;
    /// KVM_VCPU_TSC_OFFSET.
    fn set_tsc_offset(
        &mut self,
        ctx: &StepCtx,
        vcpu: u32,
        offset: OffsetValue,
    ) -> Result<WriteEvent, StepError>;
    /// KVM_SET_TSC_KHZ.
    fn set_tsc_khz(&mut self, ctx: &StepCtx, vcpu: u32, khz: u32) -> Result<KhzEvent, StepError>;
    /// KVM_SET_CLOCK.
    fn set_clock(&mut self, ctx: &StepCtx) -> Result<ClockEvent, StepError>;
    /// Let time pass.
    fn wait(&mut self, ctx: &StepCtx, d: Duration) -> Result<(), StepError>;
    /// KVM_RUN one vCPU to its `hlt`.
    fn run_vcpu(&mut self, ctx: &StepCtx, vcpu: u32, implicit: bool)
    -> Result<RunEvent, StepError>;
    /// The state now; `ctx.write - 1` writes were made.
    fn summary(&self, ctx: &StepCtx, implicit_run: bool) -> Summary;
}
