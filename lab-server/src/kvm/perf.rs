//! The kernel's TSC events of one thread, read as binary records from a perf
//! ring.
//!
//! `perf_event_open(PERF_TYPE_TRACEPOINT, config = the event's id, pid = a
//! thread, cpu = -1)` for each of [`format::EVENTS`], all writing into the
//! ring of the first (`PERF_EVENT_IOC_SET_OUTPUT`). Each sample is
//! `PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_RAW`: who raised it, when
//! (CLOCK_MONOTONIC_RAW, the clock the backend stamps its steps with), and the
//! tracepoint's own binary record, decoded with its `format` file.
//!
//! Why perf and not tracefs: the events are per thread by construction (no
//! shared filter, nothing global to set, nothing left in the kernel when the
//! fds close — even on SIGKILL); the records are binary, so no global trace
//! option (`record-tgid`, `trace_clock`, `context-info`, …) changes what is
//! read; another tracer of the same events gets its own copy; the thread id
//! is the caller's own, so a PID namespace changes nothing; and reading a step's
//! events is a few loads from shared memory, not a system call. The kernel
//! counts what a full ring drops (`PERF_RECORD_LOST`), so a loss is reported,
//! never guessed.
//!
//! The `unsafe` here is the system call, the `mmap` of the ring and the reads
//! of it, each with its reason.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use perf_event_open_sys as sys;
use sys::bindings::{perf_event_attr, perf_event_header, perf_event_mmap_page};

use super::error::KvmError;
use super::format::{Decoder, Record};
use super::tracefs::{self, Unavailable};

/// Data pages of a thread's ring: 64 KiB, some 900 samples — a step raises a
/// handful, and the ring is emptied after every step.
const DATA_PAGES: usize = 16;

/// One event the kernel raised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The process (thread group) that raised it, in the reader's PID namespace.
    pub pid: u32,
    /// The thread.
    pub tid: u32,
    /// When: CLOCK_MONOTONIC_RAW in ns for a thread's ring, perf's clock for
    /// a process tree's ([`TscClock`] turns that into TSC cycles).
    pub time: u64,
    /// The event.
    pub record: Record,
}

/// What a drain found that is not a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Losses {
    /// Samples the kernel dropped because the ring was full (`PERF_RECORD_LOST`).
    pub lost: u64,
    /// Records that did not decode (truncated, or of an unknown type).
    pub undecodable: u64,
}

/// The perf ring of one thread's TSC events.
#[derive(Debug)]
pub(crate) struct Ring {
    /// One fd per event; the first owns the ring, the others write into it.
    _fds: Vec<OwnedFd>,
    /// The mapping: one metadata page, then `data_size` bytes of ring.
    page: NonNull<perf_event_mmap_page>,
    len: usize,
    data_offset: usize,
    data_size: usize,
    /// A record that wraps around the end of the ring, made whole.
    scratch: Vec<u8>,
    losses: Losses,
}

// SAFETY: the mapping is owned by this value alone; the kernel writes to it
// from whichever thread raises the events, never through this value, so
// moving the owner to another thread changes nothing.
unsafe impl Send for Ring {}

/// The call that failed, with its errno.
fn os(call: &'static str) -> KvmError {
    KvmError::io(call, &io::Error::last_os_error())
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).unwrap_or(4096)
}

/// Who a ring's events follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// One thread (the caller's own id for it), on any CPU; stamped with
    /// CLOCK_MONOTONIC_RAW, the clock the kvm backend stamps its steps with.
    Thread(i32),
    /// The calling thread and every thread and process it starts from now
    /// on (`inherit`), on one CPU; stamped with perf's own clock, which the
    /// ring's metadata page converts to TSC cycles where the kernel allows.
    Children {
        /// The CPU.
        cpu: i32,
    },
}

/// `perf_event_open` for one tracepoint.
fn open_one(id: u32, target: Target) -> Result<OwnedFd, KvmError> {
    let mut attr = perf_event_attr {
        type_: sys::bindings::PERF_TYPE_TRACEPOINT,
        size: std::mem::size_of::<perf_event_attr>() as u32,
        config: u64::from(id),
        sample_type: u64::from(
            sys::bindings::PERF_SAMPLE_TID
                | sys::bindings::PERF_SAMPLE_TIME
                | sys::bindings::PERF_SAMPLE_RAW,
        ),
        ..perf_event_attr::default()
    };
    attr.__bindgen_anon_1.sample_period = 1;
    // Enabled from the start: the events of the thread's next ioctl are kept.
    attr.set_disabled(0);
    let (pid, cpu) = match target {
        Target::Thread(tid) => {
            attr.clockid = libc::CLOCK_MONOTONIC_RAW;
            attr.set_use_clockid(1);
            (tid, -1)
        }
        Target::Children { cpu } => {
            attr.set_inherit(1);
            (0, cpu)
        }
    };
    // SAFETY: `attr` is a fully initialised perf_event_attr of its own size
    // that the kernel only reads during the call; it asks for samples of a
    // tracepoint of one thread (and, inherited, of its children), which
    // touches nothing of this process.
    let fd = unsafe {
        sys::perf_event_open(
            &mut attr,
            pid,
            cpu,
            -1,
            libc::c_ulong::from(sys::bindings::PERF_FLAG_FD_CLOEXEC),
        )
    };
    if fd < 0 {
        return Err(os("perf_event_open"));
    }
    // SAFETY: `fd` was just returned by the kernel and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Ring {
    /// Opens the events of `decoder` for `target` and maps their ring.
    pub(crate) fn open(decoder: &Decoder, target: Target) -> Result<Ring, KvmError> {
        let fds = decoder
            .ids()
            .map(|id| open_one(id, target))
            .collect::<Result<Vec<OwnedFd>, _>>()?;
        let Some(first) = fds.first() else {
            return Err(KvmError::Unavailable("no event to trace".into()));
        };
        let page = page_size();
        let len = page * (1 + DATA_PAGES);
        // SAFETY: a shared mapping of a perf fd of 1 + 2^n pages, as
        // perf_event_open(2) requires; the kernel owns its layout, and the
        // mapping lives until `Drop` unmaps it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                first.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(os("mmap of the perf ring"));
        }
        let page_ptr = NonNull::new(ptr.cast::<perf_event_mmap_page>())
            .ok_or_else(|| KvmError::Unavailable("mmap of the perf ring returned NULL".into()))?;
        // SAFETY: the first page of the mapping is the kernel's
        // perf_event_mmap_page; these two fields are set once, before mmap returns.
        let (data_offset, data_size) = unsafe {
            let p = page_ptr.as_ptr();
            (
                std::ptr::read_volatile(&raw const (*p).data_offset),
                std::ptr::read_volatile(&raw const (*p).data_size),
            )
        };
        // Kernels before 4.1 leave both 0: the data follows the first page.
        let (data_offset, data_size) = match (data_offset, data_size) {
            (0, 0) => (page, page * DATA_PAGES),
            (o, s) => (o as usize, s as usize),
        };
        let mut ring = Ring {
            _fds: Vec::new(),
            page: page_ptr,
            len,
            data_offset,
            data_size,
            scratch: Vec::new(),
            losses: Losses::default(),
        };
        // The others write into the first's ring, which must be mapped first.
        for fd in &fds[1..] {
            // SAFETY: both are perf event fds of the same task, CPU and clock; SET_OUTPUT only redirects this event's samples into
            // the first event's (mapped) ring, and takes the fd by value.
            let r = unsafe { sys::ioctls::SET_OUTPUT(fd.as_raw_fd(), first.as_raw_fd()) };
            if r < 0 {
                // `ring` unmaps as it drops; the fds close with `fds`.
                return Err(os("PERF_EVENT_IOC_SET_OUTPUT"));
            }
        }
        ring._fds = fds;
        Ok(ring)
    }

    /// Turns the events on or off (PERF_EVENT_IOC_ENABLE / _DISABLE): while
    /// off, the kernel writes nothing for this thread.
    fn set_enabled(&self, on: bool) -> Result<(), KvmError> {
        for fd in &self._fds {
            // SAFETY: a perf event fd this ring owns; ENABLE and DISABLE take
            // a flags word (0: this event only) and touch nothing of ours.
            let r = unsafe {
                if on {
                    sys::ioctls::ENABLE(fd.as_raw_fd(), 0)
                } else {
                    sys::ioctls::DISABLE(fd.as_raw_fd(), 0)
                }
            };
            if r < 0 {
                return Err(os(if on {
                    "PERF_EVENT_IOC_ENABLE"
                } else {
                    "PERF_EVENT_IOC_DISABLE"
                }));
            }
        }
        Ok(())
    }

    /// What was dropped or unreadable since the ring was opened.
    pub(crate) fn losses(&self) -> Losses {
        self.losses
    }

    /// How to turn this ring's sample times into TSC cycles, where the
    /// kernel says its clock is the TSC's (`cap_user_time_zero`).
    pub(crate) fn tsc_clock(&self) -> Option<TscClock> {
        let p = self.page.as_ptr();
        // SAFETY: reads of the kernel's metadata page, whose fields these
        // are; `lock` (an aligned u32 of that page) is the seqcount the kernel
        // bumps around an update, loaded atomically before and after, and the
        // read retried while it is odd or if it moved.
        unsafe {
            let lock = AtomicU32::from_ptr(&raw mut (*p).lock);
            loop {
                let seq = lock.load(Ordering::Acquire);
                if seq & 1 != 0 {
                    // The kernel is in the middle of an update.
                    std::hint::spin_loop();
                    continue;
                }
                let caps = std::ptr::read_volatile(&raw const (*p).__bindgen_anon_1);
                let clock = (caps.__bindgen_anon_1.cap_user_time_zero() != 0).then(|| TscClock {
                    zero: std::ptr::read_volatile(&raw const (*p).time_zero),
                    mult: std::ptr::read_volatile(&raw const (*p).time_mult),
                    shift: std::ptr::read_volatile(&raw const (*p).time_shift),
                });
                fence(Ordering::Acquire);
                if lock.load(Ordering::Relaxed) == seq {
                    return clock.filter(|c| c.mult != 0);
                }
            }
        }
    }

    /// Takes every record the kernel has written so far, in order.
    pub(crate) fn drain(&mut self, decoder: &Decoder, out: &mut Vec<Sample>) {
        let p = self.page.as_ptr();
        // SAFETY: `data_head` and `data_tail` are aligned u64s of the mapped
        // metadata page, shared with the kernel, which writes the head and
        // reads the tail: read and written only atomically here. The acquire
        // load orders our reads of the records after the head, as
        // perf_event_open(2) prescribes.
        let (head_at, tail_at) = unsafe {
            (
                AtomicU64::from_ptr(&raw mut (*p).data_head),
                AtomicU64::from_ptr(&raw mut (*p).data_tail),
            )
        };
        let head = head_at.load(Ordering::Acquire);
        let mut tail = tail_at.load(Ordering::Relaxed);
        let mut buf = std::mem::take(&mut self.scratch);
        while tail < head {
            self.read_into(tail, std::mem::size_of::<perf_event_header>(), &mut buf);
            let ty = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let size = usize::from(u16::from_le_bytes([buf[6], buf[7]]));
            if size < 8 || (size as u64) > head - tail {
                // A record the kernel cannot have written: drop the rest.
                self.losses.undecodable += 1;
                tail = head;
                break;
            }
            self.read_into(tail + 8, size - 8, &mut buf);
            match ty {
                sys::bindings::PERF_RECORD_SAMPLE => match parse_sample(&buf, decoder) {
                    Some(s) => out.push(s),
                    None => self.losses.undecodable += 1,
                },
                sys::bindings::PERF_RECORD_LOST => {
                    // struct { u64 id; u64 lost; }
                    if let Some(lost) = buf.get(8..16) {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(lost);
                        self.losses.lost += u64::from_le_bytes(b);
                    }
                }
                _ => {}
            }
            tail += size as u64;
        }
        self.scratch = buf;
        // Hands the space back to the kernel, after our reads of it.
        tail_at.store(tail, Ordering::Release);
    }

    /// `n` bytes of the ring at stream position `at`, made contiguous in `buf`.
    fn read_into(&self, at: u64, n: usize, buf: &mut Vec<u8>) {
        let start = (at % self.data_size as u64) as usize;
        let n = n.min(self.data_size);
        let first = n.min(self.data_size - start);
        buf.clear();
        buf.reserve(n);
        // SAFETY: the data area is `data_size` bytes at `data_offset` inside
        // the mapping, which lives as long as `self`. Only the record's own
        // bytes are copied — `start..start + first`, then `0..n - first` when
        // it wraps, both inside the area and between tail and head, which the
        // kernel does not write until we move the tail — by raw copies into
        // `buf`'s reserved space; no reference to the shared area is made.
        unsafe {
            let data = self.page.as_ptr().cast::<u8>().add(self.data_offset);
            std::ptr::copy_nonoverlapping(data.add(start), buf.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(data, buf.as_mut_ptr().add(first), n - first);
            buf.set_len(n);
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`, once; nothing
        // borrows it past `self`. The fds close after, with the fields.
        unsafe { libc::munmap(self.page.as_ptr().cast(), self.len) };
    }
}

/// A `PERF_RECORD_SAMPLE` body of `TID | TIME | RAW`:
/// `u32 pid, tid; u64 time; u32 size; u8 raw[size]`.
pub(crate) fn parse_sample(body: &[u8], decoder: &Decoder) -> Option<Sample> {
    let u32_at = |i: usize| -> Option<u32> {
        Some(u32::from_le_bytes(body.get(i..i + 4)?.try_into().ok()?))
    };
    let pid = u32_at(0)?;
    let tid = u32_at(4)?;
    let time = u64::from_le_bytes(body.get(8..16)?.try_into().ok()?);
    let size = u32_at(16)? as usize;
    let raw = body.get(20..20usize.checked_add(size)?)?;
    let record = decoder.decode(raw).ok()?;
    Some(Sample {
        pid,
        tid,
        time,
        record,
    })
}

thread_local! {
    /// This thread's ring, opened on first use and kept until the thread
    /// ends: four `perf_event_open`s and an `mmap` per scenario would cost
    /// more than a small scenario. It reads nothing of other threads.
    static RING: std::cell::RefCell<Option<Result<Ring, Unavailable>>> = const { std::cell::RefCell::new(None) };
}

/// Whether this process can read the TSC events: the format files decode and
/// a ring opens (and closes again at once).
pub(crate) fn probe() -> Result<(), Unavailable> {
    let decoder = tracefs::decoder()?;
    Ring::open(decoder, Target::Thread(super::sys::gettid()))
        .map(drop)
        .map_err(|e| open_error(&e))
}

fn open_error(e: &KvmError) -> Unavailable {
    Unavailable(match e.errno() {
        Some(libc::EACCES | libc::EPERM) => format!(
            "perf_event_open on the kvm tracepoints was refused ({e}): run as root, or with CAP_PERFMON, or lower /proc/sys/kernel/perf_event_paranoid"
        ),
        _ => format!("the kvm tracepoints cannot be read through perf: {e}"),
    })
}

/// How the events are read, for the host report.
pub(crate) const HOW: &str = "perf_event_open per runner thread (PERF_TYPE_TRACEPOINT, PERF_SAMPLE_RAW), binary records decoded with each event's events/kvm/<event>/format";

/// perf time → TSC cycles, as perf_event_open(2) gives it for
/// `cap_user_time_zero`: `time = zero + (cyc × mult) >> shift`, inverted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TscClock {
    zero: u64,
    mult: u32,
    shift: u16,
}

impl TscClock {
    /// The TSC value at perf time `time`.
    pub fn tsc(&self, time: u64) -> u64 {
        let t = time.wrapping_sub(self.zero);
        let (mult, shift) = (u64::from(self.mult), u32::from(self.shift));
        let quot = t / mult;
        let rem = t % mult;
        (quot << shift).wrapping_add((rem << shift) / mult)
    }
}

/// The rings of a process tree: the events of the calling thread and of every
/// thread and process it starts after this, one ring per online CPU
/// (inherited events cannot share one ring across CPUs).
#[derive(Debug)]
pub(crate) struct TreeRings {
    rings: Vec<Ring>,
}

impl TreeRings {
    /// Opens them. Start the processes to trace from this thread afterwards.
    pub(crate) fn open() -> Result<TreeRings, Unavailable> {
        let decoder = tracefs::decoder()?;
        let rings = online_cpus()
            .into_iter()
            .map(|cpu| Ring::open(decoder, Target::Children { cpu }).map_err(|e| open_error(&e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TreeRings { rings })
    }

    /// Everything written so far, from every CPU, in time order.
    pub(crate) fn drain(&mut self, out: &mut Vec<Sample>) -> Result<(), Unavailable> {
        let decoder = tracefs::decoder()?;
        let start = out.len();
        for r in &mut self.rings {
            r.drain(decoder, out);
        }
        out[start..].sort_by_key(|s| s.time);
        Ok(())
    }

    /// What the rings dropped or could not decode.
    pub(crate) fn losses(&self) -> Losses {
        self.rings.iter().fold(Losses::default(), |a, r| {
            let l = r.losses();
            Losses {
                lost: a.lost + l.lost,
                undecodable: a.undecodable + l.undecodable,
            }
        })
    }

    /// perf time → TSC, when every ring says its clock is the TSC's (and
    /// they all say the same conversion).
    pub(crate) fn tsc_clock(&self) -> Option<TscClock> {
        let first = self.rings.first()?.tsc_clock()?;
        self.rings[1..]
            .iter()
            .all(|r| r.tsc_clock() == Some(first))
            .then_some(first)
    }
}

/// The online CPUs (`/sys/devices/system/cpu/online`, e.g. `0-1,4`).
fn online_cpus() -> Vec<i32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    cpus.extend(a..=b);
                }
            }
            None => cpus.extend(part.parse::<i32>().ok()),
        }
    }
    if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, usize::from);
        cpus.extend(0..n as i32);
    }
    cpus
}

/// The calling thread's TSC events, opening its ring on first use.
pub(crate) fn this_thread() -> Result<Handle, Unavailable> {
    let decoder = tracefs::decoder()?;
    RING.with(|r| {
        let mut r = r.borrow_mut();
        // Tried once per thread: a ring that cannot open (EMFILE, the mlock
        // limit) is not retried at every run.
        let ring = r.get_or_insert_with(|| {
            Ring::open(decoder, Target::Thread(super::sys::gettid())).map_err(|e| open_error(&e))
        });
        match ring {
            Ok(_) => Ok(Handle {
                decoder,
                _this_thread: std::marker::PhantomData,
            }),
            Err(e) => Err(e.clone()),
        }
    })
}

/// A thread's access to its own ring. Neither `Send` nor `Sync`: it reads
/// the ring of the thread it is used on, so it stays on the one that made it
/// (and so does a `KvmBackend` holding it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Handle {
    decoder: &'static Decoder,
    _this_thread: std::marker::PhantomData<*const ()>,
}

impl Handle {
    /// The events raised since the last drain, in order.
    pub(crate) fn drain(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        RING.with(|r| {
            if let Some(Ok(ring)) = r.borrow_mut().as_mut() {
                ring.drain(self.decoder, &mut out);
            }
        });
        out
    }

    /// Turns this thread's events off (`false`) or back on: the benchmark's
    /// untraced runs must not pay for events nobody reads.
    pub(crate) fn set_enabled(&self, on: bool) -> Result<(), KvmError> {
        RING.with(|r| match r.borrow().as_ref() {
            Some(Ok(ring)) => ring.set_enabled(on),
            _ => Ok(()),
        })
    }

    /// What this thread's ring dropped or could not decode, since it opened.
    pub(crate) fn losses(&self) -> Losses {
        RING.with(|r| match r.borrow().as_ref() {
            Some(Ok(ring)) => ring.losses(),
            _ => Losses::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvm::format::{EVENTS, EventFormat};

    fn decoder() -> Decoder {
        let formats: Vec<EventFormat> = crate::kvm::format::tests::FORMATS_6_18
            .iter()
            .map(|(e, t)| EventFormat::parse(e, t).unwrap())
            .collect();
        assert_eq!(formats.len(), EVENTS.len());
        Decoder::new(&formats).unwrap()
    }

    /// A sample body as the kernel writes it for TID | TIME | RAW.
    fn body(pid: u32, tid: u32, time: u64, raw: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&pid.to_le_bytes());
        b.extend_from_slice(&tid.to_le_bytes());
        b.extend_from_slice(&time.to_le_bytes());
        b.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        b.extend_from_slice(raw);
        b
    }

    #[test]
    fn a_sample_gives_who_when_and_what() {
        let mut raw = vec![0u8; 32];
        raw[0..2].copy_from_slice(&83u16.to_le_bytes());
        raw[8..12].copy_from_slice(&2u32.to_le_bytes());
        raw[24..32].copy_from_slice(&5u64.to_le_bytes());
        let s = parse_sample(&body(10, 11, 12_345, &raw), &decoder()).unwrap();
        assert_eq!((s.pid, s.tid, s.time), (10, 11, 12_345));
        assert_eq!(
            s.record,
            Record::WriteTscOffset {
                vcpu: 2,
                prev: 0,
                next: 5
            }
        );
    }

    proptest::proptest! {
        /// Any bytes as a sample body: a sample or nothing, never a panic.
        #[test]
        fn garbage_samples_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128)) {
            let _ = parse_sample(&b, &decoder());
        }

        /// A sample whose raw size runs past its body is refused.
        #[test]
        fn a_size_past_the_body_is_refused(extra in 1u32..1000) {
            let mut b = body(1, 1, 1, &[0u8; 32]);
            let len = u32::from_le_bytes(b[16..20].try_into().unwrap());
            b[16..20].copy_from_slice(&(len + extra).to_le_bytes());
            proptest::prop_assert!(parse_sample(&b, &decoder()).is_none());
        }
    }
}
