//! Traces captured elsewhere, read back into the lab.
//!
//! Someone ran a VM with KVM's TSC tracepoints on (`kvm_write_tsc_offset`,
//! `kvm_track_tsc`, `kvm_update_master_clock`, `kvm_pvclock_update`) and sent
//! the text: `/sys/kernel/tracing/trace` or `trace_pipe` (with or without the
//! TGID and flags columns, with `context-info` off, timestamps in seconds or
//! `x86-tsc` counts), or `trace-cmd report`. [`Importer`] reads it line by
//! line, tells the VMs in it apart, and [`Imported::run`] turns one VM into
//! what the lab can show and replay:
//!
//! - the trace's own kernel view, as [`Event`](crate::trace::Event)s of
//!   backend [`Trace`](crate::trace::BackendId::Trace): the counter, online
//!   vCPUs, offsets and master clock as traced, matched and generations from
//!   the shared [`KernelView`](crate::kernel::KernelView);
//! - a [`Scenario`](crate::ast::Scenario) of `create`, `write`, `guest-write`
//!   and `wait` statements with the trace's gaps, and its canonical text;
//! - [`Timing::Replay`](crate::host::Timing::Replay) stamps and a
//!   [`HostConfig`](crate::host::HostConfig), so that
//!   [`replay_model`](crate::exec::replay_model) runs the four models at the
//!   trace's moments with the trace's values.
//!
//! The reader is streaming: feed it bytes or lines as they come
//! ([`Importer::push_bytes`], [`Importer::push_line`]); it keeps only the TSC
//! events, up to [`ImportLimits`], so memory follows the events kept, not the
//! input. It is pure (no I/O), so the notebook runs it in the browser.
//! A line it cannot read is a [`Problem`] with its line number, never dropped
//! in silence; a file cut off part way imports what it has and says where it
//! [`Stopped`].
//!
//! ```
//! use scenarios::import::{ImportLimits, Importer};
//! use scenarios::{replay_model, BackendId};
//!
//! let trace = "\
//!  qemu-system-x86-100 [000] d..1.  50.000000: kvm_write_tsc_offset: vcpu=0 prev=0 next=18446743943414584320
//!  qemu-system-x86-100 [000] d..1.  50.000001: kvm_track_tsc: vcpu_id 0 masterclock 0 offsetmatched 0 nr_online 1 hostclock tsc
//!  qemu-system-x86-101 [001] d..1.  50.000100: kvm_write_tsc_offset: vcpu=1 prev=0 next=18446743943414584320
//!  qemu-system-x86-101 [001] d..1.  50.000101: kvm_track_tsc: vcpu_id 1 masterclock 0 offsetmatched 1 nr_online 2 hostclock tsc
//!  qemu-system-x86-100 [000] d..1.  50.020000: kvm_write_tsc_offset: vcpu=0 prev=18446743943414584320 next=18446743943414584320
//!  qemu-system-x86-100 [000] d..1.  50.020001: kvm_track_tsc: vcpu_id 0 masterclock 0 offsetmatched 1 nr_online 2 hostclock tsc
//!  sshd-7 [002] ..... 50.030000: sched_switch: prev_comm=sshd
//! ";
//! let mut importer = Importer::new(ImportLimits::DEFAULT);
//! importer.push_bytes(trace.as_bytes());
//! let imported = importer.finish();
//! assert_eq!(imported.vms.len(), 1);
//! assert_eq!(imported.foreign_events, 1);
//! assert!(imported.problems.is_empty());
//!
//! let run = imported.run(1, 2_600_000).unwrap();
//! assert!(run.text.contains("create 2"));
//! assert!(run.text.contains("write 0 0"));
//! // linux-6.18 at the trace's moments, with its values, counts as the trace did.
//! let replayed = replay_model(&run.scenario, BackendId::Linux618, run.host, run.timing());
//! let model = scenarios::trace::writes(&replayed.events).map(|w| w.nr_matched);
//! let traced = scenarios::trace::writes(&run.events).map(|w| w.nr_matched);
//! assert!(model.eq(traced));
//! ```

mod body;
mod line;
mod rebuild;
mod vms;

use std::fmt;

use serde::Serialize;

use crate::kernel::Record;

pub use rebuild::{
    EVENT_SLACK_NS, ImportedRun, RATE_PPM, ValueRule, WAIT_MIN_NS, WINDOW_NS, WriteValue,
};

/// How much an import keeps. Past a bound it stops *keeping* (and says so,
/// with the line, as a [`ProblemKind::Limit`]) but goes on counting, so the
/// totals of [`Imported`] stay right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ImportLimits {
    /// VMs told apart. The events of further VMs are counted, not kept.
    pub max_vms: u32,
    /// vCPUs of one VM (KVM_MAX_VCPUS of today's x86). Events of further
    /// vCPUs are counted, not kept.
    pub max_vcpus: u32,
    /// TSC events kept in all, every VM together: what memory follows (some
    /// 48 bytes each). Later events are counted, and still tell VMs apart,
    /// but a VM's [`ImportedRun`] ends at the last one kept.
    pub max_events: u64,
    /// Bytes of one line. A longer line is a problem, and is not read.
    pub max_line_bytes: usize,
    /// Problems listed. Later ones are counted in [`Imported::problems_not_kept`].
    pub max_problems: u32,
    /// Threads remembered (each thread belongs to one VM). Events of further
    /// threads are told apart by their offsets alone, as without context.
    pub max_threads: u32,
}

impl ImportLimits {
    /// 64 VMs, 1,024 vCPUs per VM, 1,000,000 TSC events kept (some 48 MB),
    /// 4 KiB per line, 1,000 problems, 65,536 threads.
    pub const DEFAULT: ImportLimits = ImportLimits {
        max_vms: 64,
        max_vcpus: 1024,
        max_events: 1_000_000,
        max_line_bytes: 4096,
        max_problems: 1000,
        max_threads: 65_536,
    };
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits::DEFAULT
    }
}

/// The clock the trace's timestamps come from (`trace_clock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClockKind {
    /// `local`, `global`, `mono`, `boot`…: seconds, read as nanoseconds.
    Seconds {
        /// What the fewest digits after the point resolve: 1,000 ns for the
        /// kernel's `%06lu`, 1 ns for `trace-cmd report -t`.
        resolution_ns: u64,
    },
    /// An integer count, taken as `x86-tsc`: the host TSC itself.
    Counter,
    /// No timestamps (`context-info` off), or no event at all.
    Absent,
}

/// What kind of trouble a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Not a trace line in any form the importer reads.
    Unreadable,
    /// A line of one of the four TSC events whose body cannot be read.
    Malformed,
    /// Longer than [`ImportLimits::max_line_bytes`]: not read.
    TooLong,
    /// The kernel's buffer overran here (`[LOST N EVENTS]`): counters after
    /// it may be off.
    Lost,
    /// A timestamp of another clock than the lines before (or none where they
    /// had one): not read.
    Clock,
    /// A `kvm_track_tsc` with no `kvm_write_tsc_offset` of its vCPU just
    /// before it on its thread (a trace begun between the two): not read.
    Unpaired,
    /// A bound of [`ImportLimits`] was reached here: later events of its kind
    /// are counted, not kept.
    Limit,
}

/// A line the importer could not use, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based line number in the input.
    pub line: u64,
    /// What kind of trouble.
    pub kind: ProblemKind,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Where a file cut off part way stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stopped {
    /// The line that was cut (not read).
    pub line: u64,
    /// What the importer saw, in a sentence.
    pub message: String,
}

/// One VM found in a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VmInfo {
    /// 1-based, in the order the VMs first appear.
    pub id: u32,
    /// The process (thread group), when the trace has the TGID column.
    pub tgid: Option<u32>,
    /// Its first thread's pid (QEMU: the thread that created vCPU 0).
    pub pid: Option<u32>,
    /// Its first thread's task name (`qemu-system-x86`, `CPU 0/KVM`).
    pub task: Option<String>,
    /// Threads seen writing its TSCs.
    pub threads: u32,
    /// `online_vcpus` as last traced, or the vCPUs seen if more.
    pub vcpus: u32,
    /// vCPU creations in the trace (fewer than `vcpus` when the trace began
    /// after the VM was made).
    pub created: u32,
    /// TSC writes (`kvm_write_tsc_offset`), creations included.
    pub writes: u64,
    /// Its TSC events, kept or not.
    pub events: u64,
    /// Its TSC events kept (see [`ImportLimits::max_events`]); its
    /// [`ImportedRun`] ends at the last one when fewer than `events`.
    pub kept: u64,
    /// Its first and last event's line.
    pub lines: (u64, u64),
    /// Its first and last event's timestamp, in the trace's clock
    /// ([`Imported::clock`]): ns, or counts; `None` without timestamps.
    pub span: Option<(u64, u64)>,
    /// `kvm_pvclock_update` was traced for it.
    pub pvclock_traced: bool,
    /// `hostclock` as last traced (0 = none, 1 = tsc).
    pub hostclock: Option<u32>,
}

/// What an import found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// The VMs, in the order they first appear.
    pub vms: Vec<VmInfo>,
    /// The lines it could not use, in order (at most [`ImportLimits::max_problems`]).
    pub problems: Vec<Problem>,
    /// Problems past that bound, counted.
    pub problems_not_kept: u64,
    /// Lines of other events: not read, counted.
    pub foreign_events: u64,
    /// Lines read.
    pub lines: u64,
    /// TSC events read.
    pub tsc_events: u64,
    /// TSC events counted but not kept (past a limit, or of no VM).
    pub events_not_kept: u64,
    /// The clock of the timestamps.
    pub clock: ClockKind,
    /// Where the input stopped part way, if it did.
    pub stopped: Option<Stopped>,
    /// The bounds it was read with.
    pub limits: ImportLimits,
    #[serde(skip)]
    kept: Vec<Vec<vms::Kept>>,
}

impl Imported {
    /// The VM with this id.
    pub fn vm(&self, id: u32) -> Option<&VmInfo> {
        self.vms.get((id as usize).checked_sub(1)?)
    }

    /// VM `id` as a run the lab can show and replay; `tsc_khz` is the traced
    /// host's TSC rate (the CLI defaults it to this host's). `None` for a VM
    /// that does not exist, has no write kept or whose kept events make no
    /// vCPU (a cut before its first), or a rate of 0.
    pub fn run(&self, id: u32, tsc_khz: u32) -> Option<ImportedRun> {
        let info = self.vm(id)?;
        let kept = self.kept.get(id as usize - 1)?;
        if tsc_khz == 0
            || !kept
                .iter()
                .any(|k| matches!(k.what, vms::What::Write { .. }))
        {
            return None;
        }
        // A VM whose kept events make no vCPU (a cut at its first one) has no
        // run to show.
        Some(rebuild::run(info, kept, self.clock, tsc_khz)).filter(|r| r.vcpus() > 0)
    }
}

/// What the import has met so far, shared by its parts.
#[derive(Debug)]
struct Report {
    max_problems: u32,
    problems: Vec<Problem>,
    problems_not_kept: u64,
    foreign: u64,
    tsc_events: u64,
    not_kept: u64,
}

impl Report {
    fn problem(&mut self, line: u64, kind: ProblemKind, message: impl FnOnce() -> String) {
        if self.problems.len() < self.max_problems as usize {
            self.problems.push(Problem {
                line,
                kind,
                message: message(),
            });
        } else {
            self.problems_not_kept += 1;
        }
    }
}

/// Reads a text trace, a chunk or a line at a time.
#[derive(Debug)]
pub struct Importer {
    limits: ImportLimits,
    /// The start of a line whose end has not come yet.
    partial: Vec<u8>,
    /// The line being received is over the bound: its rest is skipped.
    overlong: bool,
    /// Lines seen.
    line: u64,
    clock: Option<ClockKind>,
    report: Report,
    vms: vms::Vms,
}

impl Importer {
    /// An importer with these bounds.
    pub fn new(limits: ImportLimits) -> Importer {
        Importer {
            limits,
            partial: Vec::new(),
            overlong: false,
            line: 0,
            clock: None,
            report: Report {
                max_problems: limits.max_problems,
                problems: Vec::new(),
                problems_not_kept: 0,
                foreign: 0,
                tsc_events: 0,
                not_kept: 0,
            },
            vms: vms::Vms::new(limits),
        }
    }

    /// The next bytes of the input, cut anywhere: whole lines are read now,
    /// the last part waits for its newline.
    pub fn push_bytes(&mut self, mut data: &[u8]) {
        let max = self.limits.max_line_bytes;
        while !data.is_empty() {
            let Some(nl) = data.iter().position(|&b| b == b'\n') else {
                if !self.overlong {
                    if self.partial.len() + data.len() > max {
                        self.too_long();
                    } else {
                        self.partial.extend_from_slice(data);
                    }
                }
                return;
            };
            let piece = &data[..nl];
            data = &data[nl + 1..];
            if self.overlong {
                // Its problem was said when it overflowed.
                self.overlong = false;
                self.line += 1;
            } else if self.partial.is_empty() {
                self.whole_line(piece);
            } else if self.partial.len() + piece.len() > max {
                self.too_long();
                self.overlong = false;
                self.line += 1;
            } else {
                let mut buf = std::mem::take(&mut self.partial);
                buf.extend_from_slice(piece);
                self.read(&buf);
                buf.clear();
                self.partial = buf;
            }
        }
    }

    /// One whole line, without its newline. (A line begun by
    /// [`Importer::push_bytes`] and not ended is taken as whole first.)
    pub fn push_line(&mut self, line: &str) {
        if self.overlong {
            self.overlong = false;
            self.line += 1;
        } else if !self.partial.is_empty() {
            let buf = std::mem::take(&mut self.partial);
            self.read(&buf);
        }
        self.whole_line(line.as_bytes());
    }

    /// One event that came as a record rather than a line (the binary
    /// records `lab-server trace` reads through perf): thread `pid` (task
    /// name `task`, empty if unknown) of process `tgid`, at `ts` — the host
    /// TSC when `tsc` is true (read as the `x86-tsc` clock), else
    /// nanoseconds. It counts as a line of the input, so problems still name
    /// a position.
    pub fn push_event(
        &mut self,
        task: &str,
        pid: u32,
        tgid: Option<u32>,
        ts: u64,
        tsc: bool,
        record: Record,
    ) {
        self.line += 1;
        let n = self.line;
        self.report.tsc_events += 1;
        let stamp = if tsc {
            line::Stamp::Counter(ts)
        } else {
            line::Stamp::Seconds {
                ns: ts,
                decimals: 9,
            }
        };
        let Some(ts) = self.timestamp(n, Some(stamp)) else {
            self.report.not_kept += 1;
            return;
        };
        let who = vms::Who {
            pid,
            tgid,
            task: task.as_bytes(),
        };
        self.vms.record(n, ts, Some(who), record, &mut self.report);
    }

    /// The end of the input: what was read.
    pub fn finish(mut self) -> Imported {
        let mut stopped = None;
        if self.overlong || !self.partial.is_empty() {
            let line = self.line + 1;
            let message = if self.overlong {
                format!(
                    "the file stops part way through line {line}, which is longer than {} bytes: not read",
                    self.limits.max_line_bytes
                )
            } else {
                format!(
                    "the file stops part way through line {line} ({} bytes, no newline at its end): that line is not read",
                    self.partial.len()
                )
            };
            stopped = Some(Stopped { line, message });
        }
        let (mut vms, kept) = self.vms.finish(stopped.is_some(), &mut self.report);
        let clock = self.clock.unwrap_or(ClockKind::Absent);
        if clock == ClockKind::Absent {
            for vm in &mut vms {
                vm.span = None;
            }
        }
        Imported {
            vms,
            problems: self.report.problems,
            problems_not_kept: self.report.problems_not_kept,
            foreign_events: self.report.foreign,
            lines: self.line,
            tsc_events: self.report.tsc_events,
            events_not_kept: self.report.not_kept,
            clock,
            stopped,
            limits: self.limits,
            kept,
        }
    }

    /// The line being received has passed the bound.
    fn too_long(&mut self) {
        let (line, max) = (self.line + 1, self.limits.max_line_bytes);
        self.report.problem(line, ProblemKind::TooLong, || {
            format!("longer than {max} bytes: not read")
        });
        self.partial.clear();
        self.overlong = true;
    }

    fn whole_line(&mut self, bytes: &[u8]) {
        if bytes.len() > self.limits.max_line_bytes {
            let max = self.limits.max_line_bytes;
            self.report
                .problem(self.line + 1, ProblemKind::TooLong, || {
                    format!("longer than {max} bytes: not read")
                });
            self.line += 1;
        } else {
            self.read(bytes);
        }
    }

    /// Reads one line of at most `max_line_bytes`.
    fn read(&mut self, mut bytes: &[u8]) {
        self.line += 1;
        let n = self.line;
        if n == 1 {
            // A file saved by an editor may begin with a UTF-8 byte-order mark.
            bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
        }
        let (ctx, name, body) = match line::parse(bytes) {
            line::Line::Skip => return,
            line::Line::Lost { cpu, events } => {
                self.report.problem(n, ProblemKind::Lost, || {
                    let what = events.map_or("events".to_string(), |e| format!("{e} events"));
                    format!(
                        "the kernel lost {what} on CPU {cpu} here: the counters after this line may be off"
                    )
                });
                return;
            }
            line::Line::Unreadable(why) => {
                self.report.problem(n, ProblemKind::Unreadable, || {
                    format!("not a trace line: {why}: `{}`", excerpt(bytes))
                });
                return;
            }
            line::Line::Event { ctx, name, body } => (ctx, name, body),
        };
        let Some(tsc) = body::tsc_event(name) else {
            self.report.foreign += 1;
            return;
        };
        self.report.tsc_events += 1;
        let record = match body::parse(tsc, body) {
            Ok(r) => r,
            Err(e) => {
                self.report.problem(n, ProblemKind::Malformed, || {
                    format!("{}: `{}` {}", tsc.name(), e.field, e.problem)
                });
                self.report.not_kept += 1;
                return;
            }
        };
        let Some(ts) = self.timestamp(n, ctx.map(|c| c.stamp)) else {
            self.report.not_kept += 1;
            return;
        };
        let who = ctx.map(|c| vms::Who {
            pid: c.pid,
            tgid: c.tgid,
            task: c.task,
        });
        self.vms.record(n, ts, who, record, &mut self.report);
    }

    /// The timestamp in the trace's clock; the first TSC event decides which
    /// clock that is. `None` (a problem said) for one of another clock.
    fn timestamp(&mut self, n: u64, stamp: Option<line::Stamp>) -> Option<u64> {
        let kind = match stamp {
            None => ClockKind::Absent,
            Some(line::Stamp::Counter(_)) => ClockKind::Counter,
            Some(line::Stamp::Seconds { decimals, .. }) => ClockKind::Seconds {
                resolution_ns: 10u64.pow(9 - u32::from(decimals)),
            },
        };
        let clock = self.clock.get_or_insert(kind);
        match (clock, kind) {
            (
                ClockKind::Seconds { resolution_ns },
                ClockKind::Seconds {
                    resolution_ns: this,
                },
            ) => *resolution_ns = (*resolution_ns).max(this),
            (a, b) if *a == b => {}
            (a, b) => {
                let (a, b) = (*a, b);
                self.report.problem(n, ProblemKind::Clock, || {
                    format!(
                        "{} where the lines before have {}: not read",
                        clock_words(b),
                        clock_words(a)
                    )
                });
                return None;
            }
        }
        Some(match stamp {
            None => 0,
            Some(line::Stamp::Counter(c)) => c,
            Some(line::Stamp::Seconds { ns, .. }) => ns,
        })
    }
}

fn clock_words(c: ClockKind) -> &'static str {
    match c {
        ClockKind::Seconds { .. } => "a timestamp in seconds",
        ClockKind::Counter => "a counter timestamp",
        ClockKind::Absent => "no timestamp",
    }
}

/// The start of a line, for a problem's message.
fn excerpt(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]);
    let mut s = s.trim().to_string();
    if bytes.len() > 60 {
        s.push('…');
    }
    s
}

/// Reads a whole trace held in memory (a file read at once, a pasted text).
pub fn import(text: &[u8], limits: ImportLimits) -> Imported {
    let mut i = Importer::new(limits);
    i.push_bytes(text);
    i.finish()
}
