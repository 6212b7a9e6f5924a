//! A VMM run under the lab's eyes: `lab-server trace -- CMD ARGS…`.
//!
//! The kernel's TSC events of CMD and of every thread and process it starts
//! are read through perf rings opened *before* CMD is started, from the
//! thread that starts it (perf events inherit to children). CMD runs in a
//! process group of its own; when it exits, when `--duration` passes, or when
//! the lab is told to stop (Ctrl-C, SIGTERM), the whole group gets SIGTERM,
//! then SIGKILL after a grace period. Nothing is left running and nothing is
//! left in the kernel: the rings are this process's fds.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::kvm::perf::{Losses, Sample, TreeRings, TscClock};
use crate::kvm::sys;

/// How long CMD may take to stop after SIGTERM before it is killed.
pub const GRACE: Duration = Duration::from_secs(3);

/// How often the rings are emptied while CMD runs.
const POLL: Duration = Duration::from_millis(20);

/// At most this many events are kept (a boot makes a few dozen); past it
/// they are counted, not kept.
pub const MAX_EVENTS: usize = 1_000_000;

/// Why the trace ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// CMD exited by itself.
    Exited,
    /// `--duration` passed.
    Duration,
    /// The lab was told to stop (Ctrl-C or SIGTERM).
    Interrupted,
}

/// What a traced run gave.
#[derive(Debug)]
pub struct Traced {
    /// The kernel's TSC events of CMD's process tree, in time order.
    pub samples: Vec<Sample>,
    /// Events past [`MAX_EVENTS`], counted but not kept.
    pub dropped: u64,
    /// What the kernel dropped from a full ring, or that did not decode.
    pub losses: Losses,
    /// perf time → TSC, when the kernel's perf clock is the TSC.
    pub tsc_clock: Option<TscClock>,
    /// Why it ended.
    pub ended: Ended,
    /// CMD's exit status (after SIGTERM or SIGKILL when the lab stopped it).
    pub status: ExitStatus,
    /// CMD's process id.
    pub pid: u32,
    /// The task name (`comm`) of each thread that raised an event, read
    /// from /proc while it ran (`qemu-system-x86`, `CPU 0/KVM`).
    pub tasks: std::collections::HashMap<u32, String>,
    /// How long CMD ran.
    pub ran: Duration,
}

/// Why CMD could not be traced.
#[derive(Debug)]
pub enum TraceError {
    /// The kernel's events cannot be read here.
    Unavailable(String),
    /// CMD could not be started.
    Spawn(String, std::io::Error),
}

impl std::fmt::Display for TraceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TraceError::Unavailable(why) => write!(f, "cannot trace: {why}"),
            TraceError::Spawn(cmd, e) => write!(f, "cannot start `{cmd}`: {e}"),
        }
    }
}

impl std::error::Error for TraceError {}

/// Where CMD's output lines go when they do not go to the lab's stderr.
pub type OutputSink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// What the caller sees of a trace while it runs (the CLI's progress line).
#[derive(Default)]
pub struct Watch<'a> {
    /// Called after each poll with the number of events read so far.
    pub events: Option<&'a mut dyn FnMut(usize)>,
    /// When set, CMD's stdout and stderr come through pipes and each line
    /// (or what is left at the end) is handed here, from a thread of its
    /// own, instead of CMD writing to the lab's stderr itself: a progress
    /// line drawn there can step aside for them rather than overwrite them.
    pub output: Option<OutputSink>,
}

impl std::fmt::Debug for Watch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("events", &self.events.is_some())
            .field("output", &self.output.is_some())
            .finish()
    }
}

/// How long the lines CMD wrote last may take to come through its pipes
/// once its group is gone.
const OUTPUT_DRAIN: Duration = Duration::from_secs(1);

/// Runs `cmd` (program and arguments) traced, until it exits, `duration`
/// passes, or `stop` turns true. CMD's output goes to the lab's stderr (or
/// through `watch.output`), so the lab's own stdout (a table, JSON Lines)
/// stays clean.
pub fn trace(
    cmd: &[String],
    duration: Option<Duration>,
    stop: &AtomicBool,
    mut watch: Watch<'_>,
) -> Result<Traced, TraceError> {
    let (program, args) = cmd
        .split_first()
        .ok_or_else(|| TraceError::Unavailable("no command given".into()))?;
    // The rings first: CMD inherits the events from this thread.
    let mut rings = TreeRings::open().map_err(|e| TraceError::Unavailable(e.0))?;
    let started = Instant::now();
    let (stdout, stderr) = match watch.output {
        Some(_) => (Stdio::piped(), Stdio::piped()),
        None => (stderr_copy(), stderr_copy()),
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|e| TraceError::Spawn(program.clone(), e))?;
    let pid = child.id();
    let mut forwarders = Vec::new();
    if let Some(sink) = &watch.output {
        let pipes: [Option<Box<dyn std::io::Read + Send>>; 2] = [
            child.stdout.take().map(|p| Box::new(p) as _),
            child.stderr.take().map(|p| Box::new(p) as _),
        ];
        for pipe in pipes.into_iter().flatten() {
            let sink = sink.clone();
            forwarders.push(std::thread::spawn(move || forward_lines(pipe, &*sink)));
        }
    }
    let deadline = duration.map(|d| started + d);
    let mut samples = Vec::new();
    let mut dropped = 0u64;
    let mut tasks = std::collections::HashMap::new();
    let mut take = |rings: &mut TreeRings, samples: &mut Vec<Sample>| {
        let mut batch = Vec::new();
        let _ = rings.drain(&mut batch);
        for s in &batch {
            tasks.entry(s.tid).or_insert_with(|| {
                std::fs::read_to_string(format!("/proc/{}/task/{}/comm", s.pid, s.tid))
                    .map(|c| c.trim_end().to_string())
                    .unwrap_or_default()
            });
        }
        let room = MAX_EVENTS.saturating_sub(samples.len());
        dropped += batch.len().saturating_sub(room) as u64;
        samples.extend(batch.into_iter().take(room));
    };
    let (ended, status) = loop {
        take(&mut rings, &mut samples);
        if let Some(events) = watch.events.as_mut() {
            events(samples.len());
        }
        if let Ok(Some(status)) = child.try_wait() {
            break (Ended::Exited, status);
        }
        if stop.load(Ordering::SeqCst) {
            break (Ended::Interrupted, stop_group(&mut child, pid));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break (Ended::Duration, stop_group(&mut child, pid));
        }
        std::thread::sleep(POLL);
    };
    // Whatever the group raised while it went down.
    take(&mut rings, &mut samples);
    // CMD's children, if any outlived it, go too: first SIGTERM, then after
    // the grace SIGKILL. Only while the group still has members (so its id
    // cannot have been given to anyone else).
    if group_alive(pid) {
        sys::signal_group(pid, libc::SIGTERM);
        let deadline = Instant::now() + GRACE;
        while group_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if group_alive(pid) {
            sys::signal_group(pid, libc::SIGKILL);
        }
    }
    // CMD's last lines, unless something outside its group holds the pipes.
    let drained = Instant::now() + OUTPUT_DRAIN;
    while forwarders.iter().any(|f| !f.is_finished()) && Instant::now() < drained {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Sorted once more as a whole: a CPU's record can arrive a drain late.
    samples.sort_by_key(|s| s.time);
    Ok(Traced {
        samples,
        dropped,
        losses: rings.losses(),
        tsc_clock: rings.tsc_clock(),
        ended,
        status,
        pid,
        tasks,
        ran: started.elapsed(),
    })
}

/// SIGTERM to CMD's group, then SIGKILL after [`GRACE`]; CMD's exit status.
fn stop_group(child: &mut Child, pid: u32) -> ExitStatus {
    sys::signal_group(pid, libc::SIGTERM);
    let deadline = Instant::now() + GRACE;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if Instant::now() >= deadline {
            sys::signal_group(pid, libc::SIGKILL);
            // Killed: `wait` returns at once.
            return child.wait().unwrap_or_else(|_| {
                std::os::unix::process::ExitStatusExt::from_raw(libc::SIGKILL)
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether any process is still in the group `pgid` (from /proc: the
/// fifth field of `/proc/PID/stat`, after the command name in parentheses).
fn group_alive(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .any(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(2))
                .and_then(|g| g.parse::<u32>().ok())
                == Some(pgid)
        })
}

/// Hands what `pipe` carries to `sink` a line at a time; a line longer than
/// 4 KiB, or what is left at the end, as it is.
fn forward_lines(mut pipe: Box<dyn std::io::Read + Send>, sink: &(dyn Fn(&[u8]) + Send + Sync)) {
    const LONGEST: usize = 4096;
    let mut buf = [0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        let end = match pending.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if pending.len() > LONGEST => pending.len(),
            None => continue,
        };
        sink(&pending[..end]);
        pending.drain(..end);
    }
    if !pending.is_empty() {
        sink(&pending);
    }
}

/// A copy of the lab's stderr, for CMD's output.
fn stderr_copy() -> Stdio {
    use std::os::fd::AsFd;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}

/// The traced events as the kernel's own trace text (`record-tgid` on, the
/// `x86-tsc` clock when perf's converts to TSC cycles, else seconds), which
/// `lab-server import` and the notebook's "Import trace…" read: the recording
/// `trace --out` writes. Each line is the event's `print fmt` of
/// `arch/x86/kvm/trace.h`; of a pvclock update only the version and flags are
/// known (the rest of the page is not decoded) and printed.
pub fn trace_text(t: &Traced, cmd: &[String]) -> String {
    use scenarios::kernel::Record;
    let mut out = format!(
        "# lab-server trace of `{}`: the kernel's TSC events, read through perf\n# clock: {}\n",
        cmd.join(" "),
        if t.tsc_clock.is_some() {
            "x86-tsc"
        } else {
            "ns (seconds below)"
        }
    );
    let clock = |c: u32| match c {
        0 => "none".to_string(),
        1 => "tsc".to_string(),
        c => format!("0x{c:x}"),
    };
    for s in &t.samples {
        let ts = match t.tsc_clock {
            Some(c) => c.tsc(s.time).to_string(),
            None => format!("{}.{:09}", s.time / 1_000_000_000, s.time % 1_000_000_000),
        };
        let task = t
            .tasks
            .get(&s.tid)
            .filter(|n| !n.is_empty())
            .map_or("<...>", String::as_str);
        let (event, body) = match &s.record {
            Record::WriteTscOffset { vcpu, prev, next } => (
                "kvm_write_tsc_offset",
                format!("vcpu={vcpu} prev={prev} next={next}"),
            ),
            Record::TrackTsc {
                vcpu,
                masterclock,
                offsetmatched,
                nr_online,
                hostclock,
            } => (
                "kvm_track_tsc",
                format!(
                    "vcpu_id {vcpu} masterclock {} offsetmatched {offsetmatched} nr_online {nr_online} hostclock {}",
                    u8::from(*masterclock),
                    clock(*hostclock)
                ),
            ),
            Record::UpdateMasterClock {
                masterclock,
                hostclock,
                vcpus_matched,
            } => (
                "kvm_update_master_clock",
                format!(
                    "masterclock {} hostclock {} offsetmatched {}",
                    u8::from(*masterclock),
                    clock(*hostclock),
                    u8::from(*vcpus_matched)
                ),
            ),
            Record::PvclockUpdate {
                vcpu,
                version,
                flags,
            } => (
                "kvm_pvclock_update",
                format!("vcpu_id {vcpu}, pvclock {{ version {version}, flags 0x{flags:x} }}"),
            ),
        };
        out.push_str(&format!(
            " {task}-{} ({:>7}) [000] ..... {ts}: {event}: {body}\n",
            s.tid, s.pid
        ));
    }
    out
}
