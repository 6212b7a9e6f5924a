//! The KVM_RUN watchdog: one thread for the process that interrupts a runner
//! whose vCPU has not reached its `hlt` in time.
//!
//! The lab's guest always halts within microseconds, so this only guards
//! against the unexpected. A runner arms a deadline before KVM_RUN and drops
//! the guard after; past the deadline the watchdog sends SIGUSR1 to the runner
//! thread (a no-op handler installed without SA_RESTART), every 50 ms until
//! disarmed, and KVM_RUN returns EINTR. The watchdog polls every 50 ms rather
//! than being woken, so arming it costs no system call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::sys;

/// How often the watchdog looks at the armed deadlines (and re-kicks a runner
/// past its deadline until it is disarmed).
const TICK: Duration = Duration::from_millis(50);

struct Entry {
    thread: libc::pthread_t,
    deadline: Instant,
    fired: Arc<AtomicBool>,
}

#[derive(Default)]
struct State {
    armed: HashMap<u64, Entry>,
}

/// The process-wide watchdog.
pub(crate) struct Watchdog {
    state: Mutex<State>,
    wake: Condvar,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watchdog")
    }
}

/// An armed deadline; disarmed on drop.
pub(crate) struct Guard {
    id: u64,
    fired: Arc<AtomicBool>,
}

impl Guard {
    /// Whether the watchdog interrupted this run.
    pub(crate) fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let w = Watchdog::global();
        w.lock().armed.remove(&self.id);
    }
}

impl Watchdog {
    pub(crate) fn global() -> &'static Watchdog {
        static W: OnceLock<&'static Watchdog> = OnceLock::new();
        W.get_or_init(|| {
            let w: &'static Watchdog = Box::leak(Box::new(Watchdog {
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
                next_id: AtomicU64::new(1),
            }));
            std::thread::Builder::new()
                .name("kvm-watchdog".into())
                .spawn(move || w.serve())
                .expect("the watchdog thread starts");
            w
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Interrupts `thread` if the guard is still alive at `deadline`.
    pub(crate) fn arm(&self, thread: libc::pthread_t, deadline: Instant) -> Guard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let fired = Arc::new(AtomicBool::new(false));
        self.lock().armed.insert(
            id,
            Entry {
                thread,
                deadline,
                fired: fired.clone(),
            },
        );
        // No wake-up: the watchdog looks every TICK. Waking it on every
        // KVM_RUN would cost a context switch per run on a 2-core host.
        Guard { id, fired }
    }

    fn serve(&self) {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            for e in state.armed.values() {
                if e.deadline <= now {
                    e.fired.store(true, Ordering::SeqCst);
                    sys::kick(e.thread);
                }
            }
            state = self
                .wake
                .wait_timeout(state, TICK)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    use super::*;

    /// A thread blocked in a system call (here a read that never completes,
    /// as a stuck KVM_RUN would be) is interrupted once its deadline passes.
    #[test]
    fn interrupts_a_blocked_thread() {
        sys::install_kick_handler();
        let (mut a, _b) = UnixStream::pair().unwrap();
        let started = Instant::now();
        let guard = Watchdog::global().arm(
            sys::pthread_self(),
            Instant::now() + Duration::from_millis(50),
        );
        let r = a.read(&mut [0u8; 1]);
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::Interrupted);
        assert!(guard.fired());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        drop(guard);
        // Disarmed: nothing fires any more.
        let guard = Watchdog::global().arm(
            sys::pthread_self(),
            Instant::now() + Duration::from_secs(60),
        );
        std::thread::sleep(Duration::from_millis(120));
        assert!(!guard.fired());
    }
}
