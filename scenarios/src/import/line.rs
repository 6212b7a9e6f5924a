//! One line of a text trace, taken apart without allocating.
//!
//! The kernel prints an event line as (`kernel/trace/trace_output.c`,
//! `trace_print_context`):
//!
//! ```text
//!  qemu-system-x86-16461   (  16455) [000] d..1.  1545.356552: kvm_write_tsc_offset: vcpu=0 prev=0 next=18446744069414584320
//!  └ task ─────────┘ pid   └ tgid ─┘ cpu   flags  timestamp     event                 body
//! ```
//!
//! The TGID column appears with `record-tgid` (`(-------)` when unknown),
//! the flags with `irq-info`, the timestamp is an integer for counter clocks
//! (`x86-tsc`), and with `context-info` off only `event: body` is left.
//! `trace-cmd report` prints the same parts (`%16s-%-5d [%03d] %6.1000d:
//! %s: %s`, the event name padded to 20 columns). Task names may hold
//! spaces, slashes and dashes (`CPU 0/KVM`), so the task is split from its
//! pid at the *last* `-` before the `(tgid)` or `[cpu]` column.

use super::body::{self, decimal};

/// A timestamp as printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// `1545.356552`: seconds, as nanoseconds, with the digits printed after the point.
    Seconds {
        /// The time in ns.
        ns: u64,
        /// Digits after the point (6 for the kernel's µs, 9 for `trace-cmd -t`).
        decimals: u8,
    },
    /// `3996553145163`: a counter clock (`x86-tsc`: the host TSC).
    Counter(u64),
}

/// Who raised an event and when: the line's context columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Context<'a> {
    /// The task's name (`comm`), as printed.
    pub(crate) task: &'a [u8],
    /// The thread's pid.
    pub(crate) pid: u32,
    /// The thread group (process), with `record-tgid`, when known.
    pub(crate) tgid: Option<u32>,
    /// When.
    pub(crate) stamp: Stamp,
}

/// What a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// Blank, a `#` header, or a `trace-cmd report` header (`version = 6`,
    /// `cpus=4`, `CPU 2 is empty`): skipped silently.
    Skip,
    /// `CPU:2 [LOST 17 EVENTS]` (the kernel) or `CPU:2 [17 EVENTS DROPPED]`
    /// (trace-cmd): the buffer overran here.
    Lost {
        /// The CPU whose buffer overran.
        cpu: u32,
        /// How many events, when printed.
        events: Option<u64>,
    },
    /// An event: its context (none with `context-info` off), name and body.
    Event {
        /// The context columns.
        ctx: Option<Context<'a>>,
        /// The event's name, without a `kvm:` system prefix.
        name: &'a [u8],
        /// What follows `name: `.
        body: &'a [u8],
    },
    /// Not a line the importer can read, and why.
    Unreadable(&'static str),
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

pub(crate) fn trim_start(s: &[u8]) -> &[u8] {
    let i = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    &s[i..]
}

pub(crate) fn trim_end(s: &[u8]) -> &[u8] {
    let i = s.iter().rposition(|&b| !is_space(b)).map_or(0, |i| i + 1);
    &s[..i]
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `NAME: ` or `SYSTEM:NAME: ` at the start of `s` (or `NAME:` at its end):
/// the name and what follows.
fn event_at(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = s.iter().position(|&b| !is_ident(b)).unwrap_or(s.len());
    if n == 0 || s.get(n) != Some(&b':') {
        return None;
    }
    let (mut name, mut rest) = (&s[..n], &s[n + 1..]);
    // `kvm:kvm_write_tsc_offset:` (perf script, some tools): drop the system.
    let m = rest
        .iter()
        .position(|&b| !is_ident(b))
        .unwrap_or(rest.len());
    if m > 0 && rest.get(m) == Some(&b':') {
        name = &rest[..m];
        rest = &rest[m + 1..];
    }
    match rest.first() {
        None => Some((name, rest)),
        Some(&b) if is_space(b) => Some((name, trim_start(rest))),
        _ => None,
    }
}

/// Takes one line (without its newline) apart.
pub(crate) fn parse(raw: &[u8]) -> Line<'_> {
    let line = trim_end(raw);
    let s = trim_start(line);
    if s.is_empty() || s[0] == b'#' {
        return Line::Skip;
    }
    if let Some(l) = header(s) {
        return l;
    }
    // `context-info` off: the line starts with the event's name.
    if let Some((name, body)) = event_at(line) {
        // trace-cmd prefixes each line with its instance's name when a file
        // holds several: `kvmtsc: CPU 0/KVM-16461 [000] …`.
        if !body::is_tsc_event(name)
            && let Line::Event {
                ctx: Some(c),
                name,
                body,
            } = with_context(body)
        {
            return Line::Event {
                ctx: Some(c),
                name,
                body,
            };
        }
        return Line::Event {
            ctx: None,
            name,
            body,
        };
    }
    with_context(line)
}

/// `version = 6`, `cpus=4`, `CPU 2 is empty`, `CPU:2 [LOST 17 EVENTS]`,
/// `CPU:2 [17 EVENTS DROPPED]`, `CPU:2 [SUBBUFFER START]`.
fn header(s: &[u8]) -> Option<Line<'static>> {
    if s.starts_with(b"version = ") || s.starts_with(b"cpus=") {
        return Some(Line::Skip);
    }
    if s.starts_with(b"CPU ") && s.ends_with(b" is empty") {
        return Some(Line::Skip);
    }
    let rest = s.strip_prefix(b"CPU:")?;
    let close = rest.iter().position(|&b| b == b' ')?;
    let cpu = decimal(&rest[..close])?;
    let inner = trim_start(&rest[close..])
        .strip_prefix(b"[")?
        .strip_suffix(b"]")?;
    if inner == b"SUBBUFFER START" {
        return Some(Line::Skip);
    }
    let count = inner
        .strip_prefix(b"LOST ")
        .and_then(|r| r.strip_suffix(b" EVENTS"))
        .or_else(|| inner.strip_suffix(b" EVENTS DROPPED"));
    let events = match count {
        Some(n) => Some(decimal(n)?),
        None if inner == b"EVENTS DROPPED" => None,
        None => return None,
    };
    Some(Line::Lost {
        cpu: u32::try_from(cpu).ok()?,
        events,
    })
}

/// The position of the `[cpu]` column: the first ` [` followed by digits and `]`.
fn cpu_column(s: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = s[from..].iter().position(|&b| b == b'[') {
        let open = from + i;
        let digits = s[open + 1..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(s.len() - open - 1);
        if open > 0 && s[open - 1] == b' ' && digits > 0 && s.get(open + 1 + digits) == Some(&b']')
        {
            return Some((open, open + 1 + digits));
        }
        from = open + 1;
    }
    None
}

/// `1545.356552:` or `3996553145163:` (the colon included).
fn stamp(tok: &[u8]) -> Option<Stamp> {
    let t = tok.strip_suffix(b":")?;
    match t.iter().position(|&b| b == b'.') {
        None => decimal(t).map(Stamp::Counter),
        Some(dot) => {
            let secs = decimal(&t[..dot])?;
            let frac = &t[dot + 1..];
            if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
                return None;
            }
            // Nanoseconds: the first nine digits after the point.
            let mut ns: u64 = 0;
            for i in 0..9 {
                ns = ns * 10 + frac.get(i).map_or(0, |&b| u64::from(b - b'0'));
            }
            Some(Stamp::Seconds {
                ns: secs.checked_mul(1_000_000_000)?.checked_add(ns)?,
                decimals: frac.len().min(9) as u8,
            })
        }
    }
}

/// The next space-separated token of `s`, and the rest.
fn token(s: &[u8]) -> (&[u8], &[u8]) {
    let s = trim_start(s);
    let end = s.iter().position(|&b| is_space(b)).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// A line with its context columns.
fn with_context(line: &[u8]) -> Line<'_> {
    let Some((open, close)) = cpu_column(line) else {
        return Line::Unreadable("neither `event: body` nor a task-pid and [CPU] column");
    };
    let head = trim_end(&line[..open]);
    // `(  16455)` or `(-------)` after the task-pid: record-tgid.
    let (task_pid, tgid) = match head.strip_suffix(b")") {
        Some(h) => {
            let Some(p) = h.iter().rposition(|&b| b == b'(') else {
                return Line::Unreadable("a `)` before the [CPU] column without its `(`");
            };
            let inner = trim_start(trim_end(&h[p + 1..]));
            let tgid = if !inner.is_empty() && inner.iter().all(|&b| b == b'-') {
                None
            } else {
                match decimal(inner).and_then(|t| u32::try_from(t).ok()) {
                    Some(t) => Some(t),
                    None => return Line::Unreadable("the TGID column is not a number"),
                }
            };
            (trim_end(&h[..p]), tgid)
        }
        None => (head, None),
    };
    let task_pid = trim_start(task_pid);
    // The last `-` splits the task from its pid; `perf script` puts a space there.
    let split = task_pid
        .iter()
        .rposition(|&b| b == b'-')
        .filter(|&d| decimal(&task_pid[d + 1..]).is_some())
        .or_else(|| task_pid.iter().rposition(|&b| is_space(b)));
    let Some(d) = split else {
        return Line::Unreadable("no task-pid before the [CPU] column");
    };
    let Some(pid) = decimal(&task_pid[d + 1..]).and_then(|p| u32::try_from(p).ok()) else {
        return Line::Unreadable("the pid after the task name is not a number");
    };
    let task = trim_end(&task_pid[..d]);
    // After `[cpu]`: the flags (irq-info), then the timestamp.
    let (tok, mut rest) = token(&line[close + 1..]);
    let stamp = match stamp(tok) {
        Some(s) => s,
        None => {
            let (tok2, rest2) = token(rest);
            match stamp(tok2) {
                Some(s) => {
                    rest = rest2;
                    s
                }
                None => return Line::Unreadable("no timestamp after the [CPU] column"),
            }
        }
    };
    let Some((name, body)) = event_at(trim_start(rest)) else {
        return Line::Unreadable("no event name after the timestamp");
    };
    Line::Event {
        ctx: Some(Context {
            task,
            pid,
            tgid,
            stamp,
        }),
        name,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(l: &str) -> (Option<Context<'_>>, &str, &str) {
        match parse(l.as_bytes()) {
            Line::Event { ctx, name, body } => (
                ctx,
                std::str::from_utf8(name).unwrap(),
                std::str::from_utf8(body).unwrap(),
            ),
            other => panic!("{l:?}: {other:?}"),
        }
    }

    #[test]
    fn the_kernels_line_with_flags() {
        let (c, name, body) = event(
            " qemu-system-x86-16461   [000] d..1.  1545.356552: kvm_write_tsc_offset: vcpu=0 prev=0 next=18446744069414584320",
        );
        let c = c.unwrap();
        assert_eq!(
            (c.task, c.pid, c.tgid),
            (&b"qemu-system-x86"[..], 16461, None)
        );
        assert_eq!(
            c.stamp,
            Stamp::Seconds {
                ns: 1_545_356_552_000,
                decimals: 6
            }
        );
        assert_eq!(name, "kvm_write_tsc_offset");
        assert_eq!(body, "vcpu=0 prev=0 next=18446744069414584320");
    }

    #[test]
    fn tgid_task_names_with_spaces_and_counters() {
        let (c, ..) = event(
            "       CPU 0/KVM-16461   (  16455) [003] .....  3996553145163: kvm_track_tsc: vcpu_id 0",
        );
        let c = c.unwrap();
        assert_eq!(
            (c.task, c.pid, c.tgid),
            (&b"CPU 0/KVM"[..], 16461, Some(16455))
        );
        assert_eq!(c.stamp, Stamp::Counter(3_996_553_145_163));
        let (c, ..) = event("  my-vm-x-7 (-------) [001] 1.5: kvm_track_tsc: x");
        let c = c.unwrap();
        assert_eq!((c.task, c.pid, c.tgid), (&b"my-vm-x"[..], 7, None));
    }

    #[test]
    fn trace_cmd_report_and_bare_events() {
        let (c, name, body) = event(
            "       CPU 0/KVM-16461 [000]  1545.356552: kvm_write_tsc_offset:   vcpu=0 prev=0 next=1",
        );
        assert_eq!(c.unwrap().pid, 16461);
        assert_eq!(
            (name, body),
            ("kvm_write_tsc_offset", "vcpu=0 prev=0 next=1")
        );
        let (c, name, body) = event("kvm_track_tsc: vcpu_id 1 masterclock 0");
        assert!(c.is_none());
        assert_eq!((name, body), ("kvm_track_tsc", "vcpu_id 1 masterclock 0"));
        let (c, name, _) = event("kvmtsc: CPU 1/KVM-9 [001] 2.000000001: kvm:kvm_track_tsc: a");
        assert_eq!(name, "kvm_track_tsc");
        assert_eq!(
            c.unwrap().stamp,
            Stamp::Seconds {
                ns: 2_000_000_001,
                decimals: 9
            }
        );
    }

    #[test]
    fn headers_and_losses() {
        for l in [
            "# tracer: nop",
            "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
            "",
            "   ",
            "version = 6",
            "cpus=4",
            "CPU 2 is empty",
            "CPU:1 [SUBBUFFER START]",
        ] {
            assert_eq!(parse(l.as_bytes()), Line::Skip, "{l:?}");
        }
        assert_eq!(
            parse(b"CPU:2 [LOST 17 EVENTS]"),
            Line::Lost {
                cpu: 2,
                events: Some(17)
            }
        );
        assert_eq!(
            parse(b"CPU:3 [EVENTS DROPPED]"),
            Line::Lost {
                cpu: 3,
                events: None
            }
        );
    }

    #[test]
    fn unreadable_lines_say_why() {
        for l in [
            "hello world",
            " qemu-16461 [000] d..1. soon: kvm_track_tsc: x",
            " qemu [000] 1.0: kvm_track_tsc: x",
            " qemu-1 [000] 1.0 kvm_track_tsc x",
        ] {
            assert!(
                matches!(parse(l.as_bytes()), Line::Unreadable(_)),
                "{l:?}: {:?}",
                parse(l.as_bytes())
            );
        }
    }
}
