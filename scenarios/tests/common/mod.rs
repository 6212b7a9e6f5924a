//! Helpers shared by the integration tests.
//!
//! The models observe everything, so their events are unwrapped here into
//! plain views ([`W`], [`S`]); a `None` from a model is a bug and panics.
#![allow(dead_code, unreachable_pub)]

use scenarios::trace::{Count, Decision};
use scenarios::{Event, RunEvent};

/// A model's TSC write, every field observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct W {
    pub write: u32,
    pub t_ns: u64,
    pub vcpu: u32,
    pub value: u64,
    pub matched: bool,
    pub new_generation: bool,
    pub cur_tsc_generation: u64,
    pub this_tsc_generation: u64,
    pub nr_matched: u32,
    pub online: u32,
    pub vcpus_matched: bool,
    pub offset: i64,
    pub master_clock: bool,
    pub masterclock_update_requested: bool,
    pub decision: Decision,
    pub count: Count,
}

/// A model's summary, every field observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S {
    pub online: u32,
    pub nr_matched: u32,
    pub vcpus_matched: bool,
    pub master_clock: bool,
    pub kvmclock_stable: bool,
    pub pvclock_stable: Vec<bool>,
    pub cur_tsc_generation: u64,
    pub writes: u32,
    pub implicit_run: bool,
}

/// The TSC writes of a model's run, in order.
pub fn writes(events: &[Event]) -> Vec<W> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Write(w) => Some(W {
                write: w.write,
                t_ns: w.t_ns,
                vcpu: w.vcpu,
                value: w.value,
                matched: w.matched.expect("models observe matched"),
                new_generation: w.new_generation.expect("observed"),
                cur_tsc_generation: w.cur_tsc_generation.expect("observed"),
                this_tsc_generation: w.this_tsc_generation.expect("observed"),
                nr_matched: w.nr_matched.expect("observed"),
                online: w.online,
                vcpus_matched: w.vcpus_matched.expect("observed"),
                offset: w.offset.expect("observed"),
                master_clock: w.master_clock,
                masterclock_update_requested: w.masterclock_update_requested.expect("observed"),
                decision: w.decision.expect("observed"),
                count: w.count.expect("observed"),
            }),
            _ => None,
        })
        .collect()
}

/// The vCPU runs of a run, in order.
pub fn runs(events: &[Event]) -> Vec<RunEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Run(r) => Some(*r),
            _ => None,
        })
        .collect()
}

/// The summary of a model's run, which must be the last event.
pub fn summary(events: &[Event]) -> S {
    match events.last() {
        Some(Event::Summary(s)) => S {
            online: s.online,
            nr_matched: s.nr_matched.expect("observed"),
            vcpus_matched: s.vcpus_matched.expect("observed"),
            master_clock: s.master_clock,
            kvmclock_stable: s.kvmclock_stable,
            pvclock_stable: s.pvclock_stable.clone(),
            cur_tsc_generation: s.cur_tsc_generation.expect("observed"),
            writes: s.writes,
            implicit_run: s.implicit_run,
        },
        other => panic!("the last event is not a summary: {other:?}"),
    }
}
