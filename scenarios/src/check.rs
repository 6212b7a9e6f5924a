//! Checks of meaning: what a well-formed scenario may still get wrong.
//!
//! vCPU numbers must exist when a statement runs, settings come first, and
//! the expanded scenario stays within bounds that keep a run small enough for
//! a browser tab or a classroom server.

use std::collections::HashMap;

use crate::ast::*;
use crate::error::{Error, Errors};
use crate::lex::col_of_token;
pub use crate::limits::Analysis;
use crate::limits::Limits;

// The language's own bounds, named once in `Limits::LANGUAGE`.
const MAX_VCPUS: u32 = Limits::LANGUAGE.max_vcpus;
const MAX_STEPS: u64 = Limits::LANGUAGE.max_steps;
const MAX_WAIT_NS: u64 = Limits::LANGUAGE.max_wait_ns;

/// Checks a syntactically valid scenario. `text` is its source, used to point
/// at the right column; without it errors point at column 1 of their line.
pub fn check(scenario: &Scenario, text: Option<&str>) -> Result<Analysis, Errors> {
    let lines: Vec<&str> = text.map(|t| t.split('\n').collect()).unwrap_or_default();
    let mut c = Checker {
        lines,
        errors: Vec::new(),
        settings: HashMap::new(),
        first_vm_line: None,
        title_line: None,
    };
    let mut at = Analysis::default();
    c.block(&scenario.stmts, &mut at, 0);
    if at.vcpus == 0 && c.errors.is_empty() {
        let line = c.first_vm_line.unwrap_or(1);
        c.errors.push(Error::new(
            line,
            1,
            "the scenario creates no vCPU: add `create N` before anything else",
        ));
    }
    for (line, e) in scenario.expects() {
        c.expect(line, e, &at);
    }
    let unstable = scenario.walk().find(|s| {
        matches!(
            s.kind,
            StmtKind::Set {
                setting: Setting::HostTsc(HostTsc::Unstable)
            }
        )
    });
    let tsc_clock = scenario.walk().find(|s| {
        matches!(
            s.kind,
            StmtKind::Set {
                setting: Setting::Clocksource(Clocksource::Tsc)
            }
        )
    });
    if let (Some(u), Some(t)) = (unstable, tsc_clock) {
        c.err(
            t.line.max(u.line),
            2,
            format!(
                "a host that marked its TSC unstable (line {}) no longer uses it as clocksource: choose hpet, acpi_pm or kvm-clock",
                u.line
            ),
        );
    }
    if c.errors.is_empty() {
        Ok(at)
    } else {
        c.errors.sort_by_key(|e| (e.line, e.col));
        Err(Errors(c.errors))
    }
}

struct Checker<'a> {
    lines: Vec<&'a str>,
    errors: Vec<Error>,
    settings: HashMap<&'static str, u32>,
    first_vm_line: Option<u32>,
    title_line: Option<u32>,
}

impl Checker<'_> {
    fn col(&self, line: u32, token: usize) -> u32 {
        (line as usize)
            .checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .map_or(1, |l| col_of_token(l, token))
    }

    fn err(&mut self, line: u32, token: usize, msg: impl Into<String>) {
        let col = self.col(line, token);
        self.errors.push(Error::new(line, col, msg));
    }

    fn block(&mut self, stmts: &[Stmt], at: &mut Analysis, depth: usize) {
        for s in stmts {
            self.stmt(s, at, depth);
        }
    }

    fn stmt(&mut self, s: &Stmt, at: &mut Analysis, depth: usize) {
        let line = s.line;
        let is_vm = s.kind.is_action() || matches!(s.kind, StmtKind::Repeat { .. });
        if is_vm && self.first_vm_line.is_none() {
            self.first_vm_line = Some(line);
        }
        let in_repeat = depth > 0;
        match &s.kind {
            StmtKind::Blank | StmtKind::Comment { .. } => {}
            StmtKind::Title { text } => {
                if let Some(first) = self.title_line {
                    self.err(
                        line,
                        0,
                        format!("a second title (the first is on line {first})"),
                    );
                } else {
                    self.title_line = Some(line);
                }
                if text.is_empty() {
                    self.err(line, 0, "`title` needs text");
                }
                self.not_in_repeat(line, in_repeat, "title");
            }
            StmtKind::Story { .. } => self.not_in_repeat(line, in_repeat, "story"),
            StmtKind::Source { text } => {
                if text.is_empty() {
                    self.err(line, 0, "`source` needs text: a commit id or a VMM issue");
                }
                self.not_in_repeat(line, in_repeat, "source");
            }
            StmtKind::Expect { .. } => self.not_in_repeat(line, in_repeat, "expect"),
            StmtKind::Set { setting } => {
                self.not_in_repeat(line, in_repeat, "set");
                if let Some(first) = self.first_vm_line {
                    self.err(
                        line,
                        0,
                        format!(
                            "settings describe the host before the VM exists: move `set` above line {first}"
                        ),
                    );
                }
                if let Some(prev) = self.settings.insert(setting.key(), line) {
                    self.err(
                        line,
                        1,
                        format!("`{}` is already set on line {prev}", setting.key()),
                    );
                }
            }
            StmtKind::Create { count } => {
                let total = at.vcpus.checked_add(*count).filter(|&n| n <= MAX_VCPUS);
                match total {
                    Some(n) => at.vcpus = n,
                    None => {
                        self.err(
                            line,
                            1,
                            format!(
                                "this would make {} vCPUs; a VM has at most {MAX_VCPUS}",
                                u64::from(at.vcpus) + u64::from(*count)
                            ),
                        );
                        at.vcpus = MAX_VCPUS;
                    }
                }
                self.add(line, at, u64::from(*count), u64::from(*count), 0);
            }
            StmtKind::Write { targets, value } | StmtKind::GuestWrite { targets, value } => {
                let n = self.targets(line, targets, at.vcpus);
                if let TscValue::Now { of: Some(k), .. } = value {
                    self.vcpu_exists(line, 2, *k, at.vcpus, "now@");
                }
                self.add(line, at, n, n, 0);
            }
            StmtKind::SetOffset { targets, offset } => {
                let n = self.targets(line, targets, at.vcpus);
                if let OffsetValue::Of { vcpu, .. } = offset {
                    self.vcpu_exists(line, 2, *vcpu, at.vcpus, "offset@");
                }
                self.add(line, at, n, n, 0);
            }
            StmtKind::TscKhz { targets, .. } => {
                let n = self.targets(line, targets, at.vcpus);
                self.add(line, at, n, 0, 0);
            }
            StmtKind::Run { targets } => {
                let n = self.targets(line, targets, at.vcpus);
                self.add(line, at, n, 0, 0);
            }
            StmtKind::SetClock => self.add(line, at, 1, 0, 0),
            StmtKind::Wait { duration } => self.add(line, at, 1, 0, duration.ns),
            StmtKind::Repeat { count, body } => {
                let before = *at;
                let mut once = *at;
                self.block(body, &mut once, depth + 1);
                let n = u64::from(*count);
                let grow = |a: u64, b: u64| -> Option<u64> { a.checked_add(b.checked_mul(n)?) };
                // Counts only grow, but a bound already crossed caps them:
                // subtract with saturation (fuzz crash 7e2564ff).
                let vcpus = grow(
                    u64::from(before.vcpus),
                    u64::from(once.vcpus.saturating_sub(before.vcpus)),
                );
                match vcpus.filter(|&v| v <= u64::from(MAX_VCPUS)) {
                    Some(v) => at.vcpus = v as u32,
                    None => {
                        self.err(
                            line,
                            0,
                            format!("this `repeat` creates more than {MAX_VCPUS} vCPUs in all"),
                        );
                        at.vcpus = MAX_VCPUS;
                    }
                }
                let steps = grow(before.steps, once.steps.saturating_sub(before.steps));
                let writes = grow(before.writes, once.writes.saturating_sub(before.writes));
                let wait = grow(before.wait_ns, once.wait_ns.saturating_sub(before.wait_ns));
                // Report a bound once, at the outermost repeat that crosses it.
                let crossed_inside = once.steps > MAX_STEPS || once.wait_ns > MAX_WAIT_NS;
                match steps.filter(|&s| s <= MAX_STEPS) {
                    Some(s) => at.steps = s,
                    None => {
                        if !crossed_inside {
                            self.err(
                                line,
                                0,
                                format!(
                                    "this `repeat` expands the scenario past {MAX_STEPS} steps; lower its count"
                                ),
                            );
                        }
                        at.steps = before.steps.max(MAX_STEPS + 1);
                    }
                }
                at.writes = writes.unwrap_or(u64::MAX);
                match wait.filter(|&w| w <= MAX_WAIT_NS) {
                    Some(w) => at.wait_ns = w,
                    None => {
                        if !crossed_inside {
                            self.err(
                                line,
                                0,
                                "this `repeat` waits more than ten years in all; lower its count",
                            );
                        }
                        at.wait_ns = before.wait_ns.max(MAX_WAIT_NS + 1);
                    }
                }
            }
        }
    }

    fn not_in_repeat(&mut self, line: u32, in_repeat: bool, what: &str) {
        if in_repeat {
            self.err(line, 0, format!("`{what}` cannot be inside a `repeat`"));
        }
    }

    /// Counts a statement's steps, writes and waiting, within the bounds.
    fn add(&mut self, line: u32, at: &mut Analysis, steps: u64, writes: u64, wait_ns: u64) {
        let was_over = at.steps > MAX_STEPS;
        at.steps = at.steps.saturating_add(steps);
        at.writes = at.writes.saturating_add(writes);
        if at.steps > MAX_STEPS && !was_over {
            self.err(
                line,
                0,
                format!("the scenario expands past {MAX_STEPS} steps here; make it smaller"),
            );
        }
        let was_long = at.wait_ns > MAX_WAIT_NS;
        at.wait_ns = at.wait_ns.saturating_add(wait_ns);
        if at.wait_ns > MAX_WAIT_NS && !was_long {
            self.err(
                line,
                1,
                "the scenario waits more than ten years in all here",
            );
        }
    }

    /// Checks that every vCPU named exists; returns how many vCPUs the statement touches.
    fn targets(&mut self, line: u32, targets: &Targets, online: u32) -> u64 {
        if online == 0 {
            self.err(
                line,
                0,
                "there is no vCPU yet: add `create N` before this line",
            );
            return 0;
        }
        if let Some(max) = targets.max()
            && max >= online
        {
            {
                self.err(
                    line,
                    1,
                    format!(
                        "vCPU {max} does not exist here: the VM has {online} vCPU{} (0–{})",
                        if online == 1 { "" } else { "s" },
                        online - 1
                    ),
                );
            }
        }
        targets.count(online)
    }

    fn vcpu_exists(&mut self, line: u32, token: usize, k: u32, online: u32, what: &str) {
        if k >= online {
            self.err(
                line,
                token,
                format!(
                    "`{what}{k}` names vCPU {k}, but the VM has {online} vCPU{} here",
                    if online == 1 { "" } else { "s" }
                ),
            );
        }
    }

    fn expect(&mut self, line: u32, e: &Expect, at: &Analysis) {
        let col = |c: &Self, word: &str| -> u32 {
            let Some(l) = (line as usize).checked_sub(1).and_then(|i| c.lines.get(i)) else {
                return 1;
            };
            let after = l.find(':').map_or(0, |i| i + 1);
            l[after..]
                .find(word)
                .map_or(1, |i| l[..after + i].chars().count() as u32 + 1)
        };
        match e.at {
            ExpectAt::Write(k) if u64::from(k) > at.writes => {
                let c = col(self, "write");
                self.errors.push(Error::new(
                    line,
                    c,
                    format!(
                        "there is no write {k}: this scenario makes {} TSC writes",
                        at.writes
                    ),
                ));
            }
            ExpectAt::Vcpu(k) if k >= at.vcpus => {
                let c = col(self, "vcpu");
                self.errors.push(Error::new(
                    line,
                    c,
                    format!(
                        "there is no vCPU {k}: this scenario ends with {} vCPUs",
                        at.vcpus
                    ),
                ));
            }
            _ => {}
        }
        if e.backends.is_empty() {
            self.err(line, 1, "an expectation needs at least one backend");
        }
    }
}
