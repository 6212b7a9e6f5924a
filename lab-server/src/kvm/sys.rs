//! The few things kvm-ioctls does not wrap: guest memory, the vCPU
//! device-attribute ioctls (KVM_VCPU_TSC_OFFSET), the host clocks, and thread
//! ids. Every `unsafe` block of the project lives here or in `backend.rs`,
//! each with the reason it holds.

use std::io;
use std::ptr::NonNull;

use kvm_bindings::{KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, kvm_device_attr};
use kvm_ioctls::VcpuFd;
use vmm_sys_util::ioctl::ioctl_with_ref;
use vmm_sys_util::ioctl_iow_nr;

/// MSR_IA32_TSC.
pub(crate) const MSR_IA32_TSC: u32 = 0x10;
/// MSR_KVM_SYSTEM_TIME_NEW: the guest's pvclock area (bit 0 enables it).
pub(crate) const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b56_4d01;
/// KVM_CAP_VCPU_ATTRIBUTES (no `Cap` variant in kvm-ioctls 0.25).
pub(crate) const KVM_CAP_VCPU_ATTRIBUTES: u64 = 127;

const KVMIO: u32 = 0xAE;
ioctl_iow_nr!(KVM_SET_DEVICE_ATTR, KVMIO, 0xe1, kvm_device_attr);
ioctl_iow_nr!(KVM_GET_DEVICE_ATTR, KVMIO, 0xe2, kvm_device_attr);
ioctl_iow_nr!(KVM_HAS_DEVICE_ATTR, KVMIO, 0xe3, kvm_device_attr);

fn tsc_offset_attr(addr: u64) -> kvm_device_attr {
    kvm_device_attr {
        flags: 0,
        group: KVM_VCPU_TSC_CTRL,
        attr: u64::from(KVM_VCPU_TSC_OFFSET),
        addr,
    }
}

/// KVM_HAS_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET).
pub(crate) fn has_tsc_offset_attr(vcpu: &VcpuFd) -> bool {
    let attr = tsc_offset_attr(0);
    // SAFETY: a vCPU fd and a fully initialised kvm_device_attr that the
    // kernel only reads; `addr` is not dereferenced by HAS_DEVICE_ATTR.
    unsafe { ioctl_with_ref(vcpu, KVM_HAS_DEVICE_ATTR(), &attr) == 0 }
}

/// KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET) = `offset`.
pub(crate) fn set_tsc_offset(vcpu: &VcpuFd, offset: u64) -> io::Result<()> {
    let value = offset;
    let attr = tsc_offset_attr(&value as *const u64 as u64);
    // SAFETY: `attr.addr` points at `value`, a live u64 the kernel reads 8
    // bytes from during the call; the attr itself is only read.
    let r = unsafe { ioctl_with_ref(vcpu, KVM_SET_DEVICE_ATTR(), &attr) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// KVM_GET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET).
pub(crate) fn get_tsc_offset(vcpu: &VcpuFd) -> io::Result<u64> {
    let mut value: u64 = 0;
    let attr = tsc_offset_attr(&mut value as *mut u64 as u64);
    // SAFETY: `attr.addr` points at `value`, a live, writable u64; the kernel
    // writes exactly 8 bytes there during the call.
    let r = unsafe { ioctl_with_ref(vcpu, KVM_GET_DEVICE_ATTR(), &attr) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(value)
    }
}

/// Anonymous guest RAM, unmapped on drop.
#[derive(Debug)]
pub(crate) struct GuestMemory {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; moving the owner
// to another thread moves nothing the kernel tracks per thread.
unsafe impl Send for GuestMemory {}

impl GuestMemory {
    pub(crate) fn new(len: usize) -> io::Result<Self> {
        // SAFETY: an anonymous private mapping with no address hint; the
        // result is checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(GuestMemory { ptr, len })
    }

    pub(crate) fn host_addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies `bytes` to guest-physical `gpa`.
    pub(crate) fn write(&self, gpa: usize, bytes: &[u8]) {
        assert!(
            gpa.checked_add(bytes.len())
                .is_some_and(|end| end <= self.len),
            "guest write out of bounds"
        );
        // SAFETY: the range was checked to lie inside the mapping, which lives
        // as long as `self`; source and destination cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.as_ptr().add(gpa), bytes.len())
        }
    }

    /// Reads `N` bytes at guest-physical `gpa`, as the guest or KVM left them.
    pub(crate) fn read<const N: usize>(&self, gpa: usize) -> [u8; N] {
        assert!(
            gpa.checked_add(N).is_some_and(|end| end <= self.len),
            "guest read out of bounds"
        );
        let mut out = [0u8; N];
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: in bounds (checked above); volatile because KVM writes
            // this memory behind the compiler's back while no vCPU runs.
            *b = unsafe { std::ptr::read_volatile(self.ptr.as_ptr().add(gpa + i)) };
        }
        out
    }
}

impl Drop for GuestMemory {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe the mapping made in `new`, unmapped once here.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// The host TSC (`rdtsc`).
pub(crate) fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no preconditions on x86_64 (user-mode TSC reads are
    // allowed unless CR4.TSD is set, which Linux does not do for processes).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// CLOCK_MONOTONIC_RAW in ns: the clock today's KVM bases its TSC matching on
/// (`get_kvmclock_base_ns`), up to a constant.
pub(crate) fn monotonic_raw_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// This thread's id in the caller's PID namespace (what `perf_event_open`
/// takes as `pid`).
pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// `pthread_self()` of the calling thread, to signal it from a watchdog.
pub(crate) fn pthread_self() -> libc::pthread_t {
    // SAFETY: no preconditions.
    unsafe { libc::pthread_self() }
}

/// Installs a no-op SIGUSR1 handler without SA_RESTART, so a signal makes a
/// blocked KVM_RUN return EINTR (the watchdog's way in). Idempotent.
pub(crate) fn install_kick_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn noop(_: libc::c_int) {}
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value;
        // the handler is an `extern "C"` fn that touches nothing.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = noop as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        }
    });
}

/// Sends `signal` to every process of the group `pgid` (a child started in
/// a group of its own: its id is the group's). A group that is gone is fine.
pub(crate) fn signal_group(pgid: u32, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return; // never the caller's group, init, or every process
    }
    // SAFETY: kill(2) with a negative pid signals that process group only;
    // it reads and writes no memory of ours.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Sends SIGUSR1 to a thread of this process.
pub(crate) fn kick(thread: libc::pthread_t) {
    // SAFETY: `thread` is the pthread_t of a runner that is alive while its
    // watchdog may fire (the watchdog is disarmed before the runner exits).
    unsafe {
        libc::pthread_kill(thread, libc::SIGUSR1);
    }
}
