//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use scenarios::{Event, RunEvent, Summary, WriteEvent};

/// The TSC writes of a run, in order.
pub fn writes(events: &[Event]) -> Vec<WriteEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Write(w) => Some(*w),
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

/// The summary, which must be the last event.
pub fn summary(events: &[Event]) -> Summary {
    match events.last() {
        Some(Event::Summary(s)) => s.clone(),
        other => panic!("the last event is not a summary: {other:?}"),
    }
}
