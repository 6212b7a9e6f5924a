//! Running a scenario on a backend, and checking its expectations.
//!
//! [`execute`] walks the statements (expanding `repeat`s as it goes, so a long
//! scenario costs no memory), calls the backend once per step, and hands every
//! event to a sink as it happens: the CLI prints it, the server streams it,
//! the notebook stores it.

use serde::{Deserialize, Serialize};

use crate::ast::*;
use crate::backend::{Backend, StepCtx, StepError};
use crate::error::RunError;
use crate::host::{HostConfig, Timing};
use crate::models;
use crate::trace::*;

/// Runs `scenario` on `backend`, handing each event to `sink` as it happens.
/// The last event is the [`Summary`]. A scenario that does not end with a run
/// of every vCPU gets one (its run events say `implicit`).
///
/// ```
/// use scenarios::{execute, models, parse, BackendId, Event, Timing};
///
/// let s = parse("create 2\nwrite * 0\n").unwrap();
/// let mut model = models::model(BackendId::Linux618, s.host(), Timing::Virtual).unwrap();
/// let mut writes = 0;
/// let summary = execute(&s, model.as_mut(), &mut |e| {
///     if let Event::Write(_) = e {
///         writes += 1;
///     }
/// })
/// .unwrap();
/// assert_eq!(writes, 4); // two creations, two writes
/// assert!(summary.kvmclock_stable);
/// ```
pub fn execute(
    scenario: &Scenario,
    backend: &mut dyn Backend,
    sink: &mut dyn FnMut(&Event),
) -> Result<Summary, RunError> {
    let mut ex = Executor {
        backend,
        sink,
        ctx: StepCtx {
            step: 0,
            line: 0,
            write: 1,
        },
        online: 0,
        ended_with_full_run: false,
    };
    ex.block(&scenario.stmts)?;
    let implicit = !ex.ended_with_full_run;
    if implicit {
        ex.ctx.line = 0;
        for v in 0..ex.online {
            let ev = ex
                .backend
                .run_vcpu(&ex.ctx, v, true)
                .map_err(|e| ex.fail(e))?;
            (ex.sink)(&Event::Run(ev));
            ex.ctx.step += 1;
        }
    }
    let summary = ex.backend.summary(&ex.ctx, implicit);
    (ex.sink)(&Event::Summary(summary.clone()));
    Ok(summary)
}

/// A whole run: every event it made, and how it ended. A run that fails part
/// way keeps the events up to the step it could not make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collected {
    /// The events, in order; the last is the summary when the run ended well.
    pub events: Vec<Event>,
    /// Why the run stopped early, if it did.
    pub error: Option<RunError>,
}

impl Collected {
    /// The events of a run that ended well, or why it did not.
    pub fn into_result(self) -> Result<Vec<Event>, RunError> {
        match self.error {
            None => Ok(self.events),
            Some(e) => Err(e),
        }
    }
}

/// Runs `scenario` on `backend` and keeps every event.
pub fn execute_collect(scenario: &Scenario, backend: &mut dyn Backend) -> Collected {
    let mut events = Vec::new();
    let result = execute(scenario, backend, &mut |e| events.push(e.clone()));
    Collected {
        events,
        error: result.err(),
    }
}

/// Runs `scenario` through one kernel model on the virtual clock.
pub fn run_model(scenario: &Scenario, id: BackendId) -> Result<Vec<Event>, RunError> {
    replay_model(scenario, id, scenario.host(), Timing::Virtual).into_result()
}

/// Replays a run through a model: with [`Timing::Replay`] the model sees the
/// measured time of every step and the values the real run wrote, so it says
/// what that kernel would have done with these very writes. The events are
/// kept up to the step the model could not make, if any.
///
/// ```
/// use scenarios::{parse, replay_model, BackendId, HostTime, Stamp, Timing};
///
/// // Two creations and a write of 0, 2 s apart: outside the 3.x window.
/// let s = parse("create 2\nwrite 1 0\n").unwrap();
/// let host = s.host();
/// let at = |ns: u64| Stamp { ns, tsc: ns * 26 / 10, value: None };
/// let start = HostTime { ns: host.uptime_ns, tsc: host.uptime_ns * 26 / 10 };
/// let stamps = vec![at(start.ns), at(start.ns + 10_000), at(start.ns + 2_000_000_000)];
/// let run = replay_model(&s, BackendId::Linux314, host, Timing::Replay { start, stamps });
/// let events = run.into_result().unwrap();
/// let last = scenarios::trace::writes(&events).last().unwrap();
/// assert_eq!(last.new_generation, Some(true));
/// ```
pub fn replay_model(
    scenario: &Scenario,
    id: BackendId,
    host: HostConfig,
    timing: Timing,
) -> Collected {
    match models::model(id, host, timing) {
        Some(mut backend) => execute_collect(scenario, backend.as_mut()),
        None => Collected {
            events: Vec::new(),
            error: Some(RunError::NotAModel(id)),
        },
    }
}

struct Executor<'a> {
    backend: &'a mut dyn Backend,
    sink: &'a mut dyn FnMut(&Event),
    ctx: StepCtx,
    online: u32,
    ended_with_full_run: bool,
}

impl Executor<'_> {
    fn fail(&self, error: StepError) -> RunError {
        RunError::Step {
            backend: self.backend.id(),
            line: (self.ctx.line > 0).then_some(self.ctx.line),
            error,
        }
    }

    fn emit(&mut self, e: Event) {
        (self.sink)(&e);
        self.ctx.step += 1;
    }

    /// One TSC write per target vCPU, each numbered and emitted.
    fn each_write(
        &mut self,
        targets: &Targets,
        mut write: impl FnMut(&mut dyn Backend, &StepCtx, u32) -> Result<WriteEvent, StepError>,
    ) -> Result<(), RunError> {
        for v in targets.iter(self.online) {
            let ev = write(&mut *self.backend, &self.ctx, v).map_err(|e| self.fail(e))?;
            self.ctx.write += 1;
            self.emit(Event::Write(ev));
        }
        Ok(())
    }

    fn block(&mut self, stmts: &[Stmt]) -> Result<(), RunError> {
        for s in stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt) -> Result<(), RunError> {
        self.ctx.line = s.line;
        let acts = s.kind.is_action();
        if acts {
            self.ended_with_full_run = false;
        }
        match &s.kind {
            StmtKind::Create { count } => {
                for _ in 0..*count {
                    let ev = self
                        .backend
                        .create_vcpu(&self.ctx)
                        .map_err(|e| self.fail(e))?;
                    self.online += 1;
                    self.ctx.write += 1;
                    self.emit(Event::Write(ev));
                }
            }
            StmtKind::Write { targets, value } | StmtKind::GuestWrite { targets, value } => {
                let origin = if matches!(s.kind, StmtKind::Write { .. }) {
                    Origin::Write
                } else {
                    Origin::Guest
                };
                self.each_write(targets, |b, ctx, v| b.write_tsc(ctx, v, *value, origin))?;
            }
            StmtKind::SetOffset { targets, offset } => {
                self.each_write(targets, |b, ctx, v| b.set_tsc_offset(ctx, v, *offset))?;
            }
            StmtKind::TscKhz { targets, khz } => {
                for v in targets.iter(self.online) {
                    let ev = self
                        .backend
                        .set_tsc_khz(&self.ctx, v, *khz)
                        .map_err(|e| self.fail(e))?;
                    self.emit(Event::Khz(ev));
                }
            }
            StmtKind::SetClock => {
                let ev = self
                    .backend
                    .set_clock(&self.ctx)
                    .map_err(|e| self.fail(e))?;
                self.emit(Event::Clock(ev));
            }
            StmtKind::Wait { duration } => {
                self.backend
                    .wait(&self.ctx, *duration)
                    .map_err(|e| self.fail(e))?;
                self.ctx.step += 1;
            }
            StmtKind::Run { targets } => {
                for v in targets.iter(self.online) {
                    let ev = self
                        .backend
                        .run_vcpu(&self.ctx, v, false)
                        .map_err(|e| self.fail(e))?;
                    self.emit(Event::Run(ev));
                }
                self.ended_with_full_run = targets.is_every_vcpu_in_order(self.online);
            }
            StmtKind::Repeat { count, body } => {
                for _ in 0..*count {
                    self.block(body)?;
                }
            }
            StmtKind::Blank
            | StmtKind::Comment { .. }
            | StmtKind::Title { .. }
            | StmtKind::Story { .. }
            | StmtKind::Source { .. }
            | StmtKind::Set { .. }
            | StmtKind::Expect { .. } => {}
        }
        Ok(())
    }
}

/// The result of one expectation on one backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectOutcome {
    /// The line of the `expect`.
    pub line: u32,
    /// The backend it was judged on.
    pub backend: BackendId,
    /// The expectation as written.
    pub expect: String,
    /// What the run gave.
    pub actual: Option<ExpectValue>,
    /// `None` when it could not be checked (the backend did not run).
    pub passed: Option<bool>,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The value an expectation looks at, in a backend's events.
pub fn actual(expect: &Expect, events: &[Event]) -> Option<ExpectValue> {
    let summary = crate::trace::summary(events);
    let b = |x: Option<bool>| x.map(ExpectValue::Bool);
    let n = |x: Option<u64>| x.map(ExpectValue::Int);
    match expect.at {
        ExpectAt::End => {
            let s = summary?;
            match expect.field {
                Field::NrMatched => n(s.nr_matched.map(u64::from)),
                Field::Online => n(Some(s.online.into())),
                Field::VcpusMatched => b(s.vcpus_matched),
                Field::MasterClock => b(Some(s.master_clock)),
                Field::KvmclockStable => b(Some(s.kvmclock_stable)),
                Field::CurTscGeneration => n(s.cur_tsc_generation),
                Field::Writes => n(Some(s.writes.into())),
                _ => None,
            }
        }
        ExpectAt::Vcpu(k) => {
            let s = summary?;
            let k = k as usize;
            match expect.field {
                Field::PvclockStable => b(s.pvclock_stable.get(k).copied()),
                Field::ThisTscGeneration => n(s.this_tsc_generation.as_ref()?.get(k).copied()),
                _ => None,
            }
        }
        ExpectAt::Write(k) => {
            let w = crate::trace::writes(events).nth(k as usize - 1)?;
            match expect.field {
                Field::NrMatched => n(w.nr_matched.map(u64::from)),
                Field::Online => n(Some(w.online.into())),
                Field::VcpusMatched => b(w.vcpus_matched),
                Field::MasterClock => b(Some(w.master_clock)),
                Field::CurTscGeneration => n(w.cur_tsc_generation),
                Field::Matched => b(w.matched),
                Field::NewGeneration => b(w.new_generation),
                Field::ThisTscGeneration => n(w.this_tsc_generation),
                Field::Vcpu => n(Some(w.vcpu.into())),
                Field::Value => n(Some(w.value)),
                Field::MasterclockUpdateRequested => b(w.masterclock_update_requested),
                _ => None,
            }
        }
    }
}

/// Checks one expectation against a backend's events (`Err` if the run failed).
pub fn judge(
    line: u32,
    expect: &Expect,
    backend: BackendId,
    run: Result<&[Event], &RunError>,
) -> ExpectOutcome {
    let mut out = ExpectOutcome {
        line,
        backend,
        expect: expect.to_string(),
        actual: None,
        passed: None,
        note: String::new(),
    };
    match run {
        Err(e) => {
            out.passed = Some(false);
            out.note = format!("the run failed: {e}");
        }
        Ok(events) => match actual(expect, events) {
            // Real KVM without tracefs cannot see the counters: not a failure.
            None => {
                out.note = format!(
                    "skipped: `{backend}` did not observe {}",
                    expect.field.name()
                );
            }
            Some(a) => {
                let ok = match (a, expect.value) {
                    (ExpectValue::Int(x), ExpectValue::Int(y)) => expect.op.holds(x, y),
                    (ExpectValue::Bool(x), ExpectValue::Bool(y)) => expect.op.holds(x, y),
                    _ => false,
                };
                out.actual = Some(a);
                out.passed = Some(ok);
                if !ok {
                    out.note = format!(
                        "{} {} {}, but it is {a}",
                        expect.field.name(),
                        expect.op.symbol(),
                        expect.value
                    );
                }
            }
        },
    }
    out
}

/// Checks every expectation of a scenario. `runs` gives each backend's events
/// (or its error); a backend that `runs` does not know is reported as skipped.
pub fn verify(
    scenario: &Scenario,
    runs: &mut dyn FnMut(BackendId) -> Option<Result<Vec<Event>, RunError>>,
) -> Vec<ExpectOutcome> {
    type Run = Option<Result<Vec<Event>, RunError>>;
    let mut cache: Vec<(BackendId, Run)> = Vec::new();
    let mut out = Vec::new();
    for (line, e) in scenario.expects() {
        for &b in &e.backends {
            if !cache.iter().any(|(id, _)| *id == b) {
                cache.push((b, runs(b)));
            }
            let run = &cache
                .iter()
                .find(|(id, _)| *id == b)
                .expect("cached above")
                .1;
            out.push(match run {
                Some(r) => judge(line, e, b, r.as_deref()),
                None => ExpectOutcome {
                    line,
                    backend: b,
                    expect: e.to_string(),
                    actual: None,
                    passed: None,
                    note: format!("skipped: the `{b}` backend is not available here"),
                },
            });
        }
    }
    out
}

/// Checks every expectation against the four models.
pub fn verify_models(scenario: &Scenario) -> Vec<ExpectOutcome> {
    verify(scenario, &mut |b| {
        b.is_model().then(|| run_model(scenario, b))
    })
}
