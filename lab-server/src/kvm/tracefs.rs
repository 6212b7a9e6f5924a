//! The kernel's own view: KVM's TSC tracepoints through a private tracefs
//! instance.
//!
//! One long-lived instance per process (`kvmlab_<pid>`): creating one costs
//! ~35 ms and removing it ~113 ms, far too much per scenario. Runner threads
//! register their thread id; the four events are filtered to
//! `common_pid == t1 || common_pid == t2 …`, and `trace_pipe` is drained
//! without blocking after every step, each line routed to the thread that
//! caused it. Instances left by dead processes are removed at startup.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Where tracefs is (or gets) mounted.
pub(crate) const TRACEFS: &str = "/sys/kernel/tracing";

/// tracefs's path: `LAB_TRACEFS` if set (tests use it to take tracing away).
fn tracefs_path() -> PathBuf {
    std::env::var_os("LAB_TRACEFS").map_or_else(|| PathBuf::from(TRACEFS), PathBuf::from)
}
const PREFIX: &str = "kvmlab_";
/// The events read. `kvm_pvclock_update` is left out on purpose: its long
/// lines cost more to format than the page's own version counter, which the
/// backend reads from guest memory instead, tells.
pub const EVENTS: [&str; 3] = [
    "kvm_track_tsc",
    "kvm_write_tsc_offset",
    "kvm_update_master_clock",
];

/// A `trace_pipe` read shorter than this emptied the buffer: the kernel fills
/// up to a page per read, and no line is longer than 512 bytes.
const SHORT_READ: usize = 2048;

/// One tracepoint line, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// `kvm_track_tsc`: `offsetmatched` is nr_vcpus_matched_tsc, `masterclock`
    /// the stored use_master_clock before any update.
    TrackTsc {
        vcpu: u32,
        masterclock: bool,
        offsetmatched: u32,
        nr_online: u32,
        hostclock: String,
    },
    /// `kvm_write_tsc_offset`: the offset KVM computed (`next`).
    WriteTscOffset { vcpu: u32, prev: u64, next: u64 },
    /// `kvm_update_master_clock`: `offsetmatched` is the vcpus_matched boolean here.
    UpdateMasterClock {
        masterclock: bool,
        hostclock: String,
        vcpus_matched: bool,
    },
}

/// Parses one `trace_pipe` line into (thread id, record); `None` for lines of
/// other events or malformed ones.
pub(crate) fn parse_line(line: &str) -> Option<(i32, Record)> {
    // "<comm>-<tid> [cpu] flags ts: event: body"; comm may hold spaces and '-'.
    let (head, rest) = line.split_once(" [")?;
    let tid: i32 = head.trim().rsplit_once('-')?.1.parse().ok()?;
    let (_, after_ts) = rest.split_once(": ")?;
    let (event, body) = after_ts.split_once(": ")?;
    let words: Vec<&str> = body.split_whitespace().collect();
    let field = |name: &str| -> Option<&str> {
        words
            .iter()
            .position(|w| *w == name)
            .and_then(|i| words.get(i + 1).copied())
    };
    let kv = |name: &str| -> Option<&str> {
        words
            .iter()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
    };
    let rec = match event.trim() {
        "kvm_track_tsc" => Record::TrackTsc {
            vcpu: field("vcpu_id")?.parse().ok()?,
            masterclock: field("masterclock")? != "0",
            offsetmatched: field("offsetmatched")?.parse().ok()?,
            nr_online: field("nr_online")?.parse().ok()?,
            hostclock: field("hostclock")?.to_string(),
        },
        "kvm_write_tsc_offset" => Record::WriteTscOffset {
            vcpu: kv("vcpu")?.parse().ok()?,
            prev: kv("prev")?.parse().ok()?,
            next: kv("next")?.parse().ok()?,
        },
        "kvm_update_master_clock" => Record::UpdateMasterClock {
            masterclock: field("masterclock")? != "0",
            hostclock: field("hostclock")?.to_string(),
            vcpus_matched: field("offsetmatched")? != "0",
        },
        _ => return None,
    };
    Some((tid, rec))
}

/// Why tracing is unavailable.
#[derive(Clone, Debug)]
pub(crate) struct Unavailable(pub(crate) String);

/// The process's tracefs instance.
#[derive(Debug)]
pub(crate) struct Tracer {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None` once shut down (the instance cannot be removed while open).
    pipe: Option<File>,
    tids: BTreeSet<i32>,
    queues: HashMap<i32, Vec<Record>>,
    partial: String,
}

static TRACER: OnceLock<Result<Tracer, Unavailable>> = OnceLock::new();

impl Tracer {
    /// The process-wide tracer, set up on first use.
    pub(crate) fn get() -> Result<&'static Tracer, Unavailable> {
        TRACER
            .get_or_init(Tracer::setup)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether tracing works here, without setting anything up.
    pub(crate) fn probe() -> Result<(), Unavailable> {
        let root = mounted_root()?;
        let events = fs::read_to_string(root.join("available_events"))
            .map_err(|e| Unavailable(format!("{}/available_events: {e}", root.display())))?;
        for ev in EVENTS {
            if !events.lines().any(|l| l == format!("kvm:{ev}")) {
                return Err(Unavailable(format!(
                    "the kernel has no kvm:{ev} tracepoint"
                )));
            }
        }
        Ok(())
    }

    fn setup() -> Result<Tracer, Unavailable> {
        Tracer::probe()?;
        let root = mounted_root()?;
        remove_stale_instances(&root);
        let dir = root
            .join("instances")
            .join(format!("{PREFIX}{}", std::process::id()));
        let err = |what: &str, e: io::Error| Unavailable(format!("{what} {}: {e}", dir.display()));
        if !dir.exists() {
            fs::create_dir(&dir).map_err(|e| err("cannot create", e))?;
        }
        let w = |file: &str, value: &str| -> Result<(), Unavailable> {
            fs::write(dir.join(file), value).map_err(|e| err(&format!("cannot write {file} in"), e))
        };
        w("tracing_on", "0")?;
        w("buffer_size_kb", "1024")?;
        for ev in EVENTS {
            w(&format!("events/kvm/{ev}/filter"), "common_pid == 0")?;
            w(&format!("events/kvm/{ev}/enable"), "1")?;
        }
        w("tracing_on", "1")?;
        let pipe = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(dir.join("trace_pipe"))
            .map_err(|e| err("cannot open trace_pipe of", e))?;
        Ok(Tracer {
            dir,
            inner: Mutex::new(Inner {
                pipe: Some(pipe),
                tids: BTreeSet::new(),
                queues: HashMap::new(),
                partial: String::new(),
            }),
        })
    }

    /// Starts routing the calling thread's events to it, until the returned
    /// registration is dropped.
    pub(crate) fn register(&'static self, tid: i32) -> Result<Registration, Unavailable> {
        let mut inner = self.lock();
        let mut tids = inner.tids.clone();
        tids.insert(tid);
        if let Err(e) = self.write_filters(&tids) {
            // Put the filters back as they were; nothing was registered.
            let _ = self.write_filters(&inner.tids);
            return Err(e);
        }
        inner.tids = tids;
        inner.queues.insert(tid, Vec::new());
        Ok(Registration { tracer: self, tid })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write_filters(&self, tids: &BTreeSet<i32>) -> Result<(), Unavailable> {
        let filter = if tids.is_empty() {
            "common_pid == 0".to_string()
        } else {
            tids.iter()
                .map(|t| format!("common_pid == {t}"))
                .collect::<Vec<_>>()
                .join(" || ")
        };
        for ev in EVENTS {
            let path = self.dir.join(format!("events/kvm/{ev}/filter"));
            fs::write(&path, &filter)
                .map_err(|e| Unavailable(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Reads everything the kernel has traced so far and returns the calling
    /// thread's records, in order.
    pub(crate) fn drain(&self, tid: i32) -> io::Result<Vec<Record>> {
        let mut inner = self.lock();
        let mut buf = [0u8; 1 << 16];
        while let Some(pipe) = inner.pipe.as_mut() {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let chunk = String::from_utf8_lossy(&buf[..n]).into_owned();
                    inner.partial.push_str(&chunk);
                    // One read returns at most a page of lines; a short one
                    // means the buffer is empty, which saves the EAGAIN read
                    // (a third of the cost of tracing a step).
                    if n < SHORT_READ {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let complete = match inner.partial.rfind('\n') {
            Some(i) => {
                let rest = inner.partial.split_off(i + 1);
                std::mem::replace(&mut inner.partial, rest)
            }
            None => String::new(),
        };
        for line in complete.lines() {
            if let Some((t, rec)) = parse_line(line)
                && let Some(q) = inner.queues.get_mut(&t)
            {
                q.push(rec);
            }
        }
        Ok(inner
            .queues
            .get_mut(&tid)
            .map(std::mem::take)
            .unwrap_or_default())
    }

    /// Events lost to a full ring buffer since the instance was made.
    pub(crate) fn overruns(&self) -> u64 {
        let Ok(cpus) = fs::read_dir(self.dir.join("per_cpu")) else {
            return 0;
        };
        cpus.filter_map(Result::ok)
            .filter_map(|d| fs::read_to_string(d.path().join("stats")).ok())
            .filter_map(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("overrun:")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                })
            })
            .sum()
    }

    /// Disables the events and removes the instance (at process end).
    pub(crate) fn shutdown() {
        if let Some(Ok(t)) = TRACER.get() {
            t.lock().pipe = None;
            let _ = fs::write(t.dir.join("tracing_on"), "0");
            for ev in EVENTS {
                let _ = fs::write(t.dir.join(format!("events/kvm/{ev}/enable")), "0");
            }
            let _ = fs::remove_dir(&t.dir);
        }
    }
}

thread_local! {
    /// This thread's registration, made once and kept until the thread ends:
    /// rewriting four filters per scenario would cost more than the scenario.
    static REGISTERED: std::cell::RefCell<Option<Registration>> = const { std::cell::RefCell::new(None) };
}

/// The calling thread's view of the trace, registering it on first use.
pub(crate) fn this_thread() -> Result<Handle, Unavailable> {
    let tracer = Tracer::get()?;
    let tid = super::sys::gettid();
    REGISTERED.with(|r| {
        let mut r = r.borrow_mut();
        if r.is_none() {
            *r = Some(tracer.register(tid)?);
        }
        Ok(Handle { tracer, tid })
    })
}

/// A registered thread's access to its own events.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Handle {
    tracer: &'static Tracer,
    tid: i32,
}

impl Handle {
    pub(crate) fn drain(&self) -> io::Result<Vec<Record>> {
        self.tracer.drain(self.tid)
    }

    /// Reads and discards what is in the pipe: the bare cost of reading the
    /// trace, for the benchmark's floor.
    pub(crate) fn read_raw(&self) -> io::Result<usize> {
        let mut inner = self.tracer.lock();
        let mut buf = [0u8; 1 << 16];
        let mut total = 0;
        while let Some(pipe) = inner.pipe.as_mut() {
            match pipe.read(&mut buf) {
                Ok(n) if n < SHORT_READ => return Ok(total + n),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    pub(crate) fn overruns(&self) -> u64 {
        self.tracer.overruns()
    }
}

/// A runner thread's registration; unregisters on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    tracer: &'static Tracer,
    tid: i32,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut inner = self.tracer.lock();
        inner.tids.remove(&self.tid);
        inner.queues.remove(&self.tid);
        let _ = self.tracer.write_filters(&inner.tids);
    }
}

/// tracefs's root, mounting it when this process may.
fn mounted_root() -> Result<PathBuf, Unavailable> {
    let root = tracefs_path();
    if root.join("available_events").exists() {
        return Ok(root);
    }
    if root != Path::new(TRACEFS) {
        return Err(Unavailable(format!("no tracefs at {}", root.display())));
    }
    // Mounting needs CAP_SYS_ADMIN: as root, try once; otherwise say how.
    let status = std::process::Command::new("mount")
        .args(["-t", "tracefs", "nodev", TRACEFS])
        .stderr(std::process::Stdio::null())
        .status();
    if root.join("available_events").exists() {
        return Ok(root);
    }
    Err(Unavailable(match status {
        Ok(_) => format!(
            "tracefs is not mounted at {TRACEFS} and could not be mounted (as root: `mount -t tracefs nodev {TRACEFS}`)"
        ),
        Err(e) => format!("tracefs is not mounted at {TRACEFS} and `mount` failed to start: {e}"),
    }))
}

/// Removes `kvmlab_<pid>` instances whose process is gone; nothing else.
fn remove_stale_instances(root: &Path) {
    let Ok(entries) = fs::read_dir(root.join("instances")) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir(e.path());
        }
    }
}

/// How many `kvmlab_` instances exist (for leak checks).
pub fn instance_count() -> usize {
    fs::read_dir(tracefs_path().join("instances"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
                .count()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernels_lines() {
        let l = "  lab-server-4242  [001] ..... 123.456789: kvm_track_tsc: vcpu_id 3 masterclock 0 offsetmatched 7 nr_online 8 hostclock tsc";
        assert_eq!(
            parse_line(l),
            Some((
                4242,
                Record::TrackTsc {
                    vcpu: 3,
                    masterclock: false,
                    offsetmatched: 7,
                    nr_online: 8,
                    hostclock: "tsc".into()
                }
            ))
        );
        let l = "kvm qemu-1-77 [000] d..1. 5.0: kvm_write_tsc_offset: vcpu=1 prev=0 next=18446744073449551616";
        assert_eq!(
            parse_line(l),
            Some((
                77,
                Record::WriteTscOffset {
                    vcpu: 1,
                    prev: 0,
                    next: 18446744073449551616
                }
            ))
        );
        let l = "x-9 [000] ..... 1.0: kvm_update_master_clock: masterclock 1 hostclock tsc offsetmatched 1";
        assert_eq!(
            parse_line(l),
            Some((
                9,
                Record::UpdateMasterClock {
                    masterclock: true,
                    hostclock: "tsc".into(),
                    vcpus_matched: true
                }
            ))
        );
        assert_eq!(parse_line("garbage"), None);
        assert_eq!(parse_line("a-1 [0] .: kvm_exit: reason HLT"), None);
    }
}
