//! Real KVM: the `kvm` backend, the host report, and the kernel's tracepoints.
//!
//! This module (and only this one) talks to `/dev/kvm` and perf; its
//! `unsafe` code is confined to `sys` (guest memory, device attributes,
//! signals), `perf` (the system call and the ring) and the memory-region call
//! in [`backend`], each block with its reason.

pub mod backend;
mod error;
pub mod format;
pub mod host;
pub mod perf;
pub(crate) mod sys;
pub mod tracefs;
mod watchdog;

pub use backend::{KvmBackend, LIMITS, RUN_TIMEOUT, admit};
pub use error::KvmError;

/// Counts this process's KVM file descriptors: (VMs, vCPUs).
pub fn kvm_fds() -> (usize, usize) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return (0, 0);
    };
    let (mut vms, mut vcpus) = (0, 0);
    for e in dir.filter_map(Result::ok) {
        if let Ok(target) = std::fs::read_link(e.path()) {
            let t = target.to_string_lossy();
            if t == "anon_inode:kvm-vm" {
                vms += 1;
            } else if t.starts_with("anon_inode:kvm-vcpu") {
                vcpus += 1;
            }
        }
    }
    (vms, vcpus)
}

/// All open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Opens the calling thread's perf ring now, if tracing works here: a runner
/// thread's ring is part of the server's baseline, not of its first run.
pub fn prepare_thread() {
    let _ = perf::this_thread();
}

/// This process's perf event fds (for leak checks): the TSC events' rings.
pub fn perf_fds() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|t| t.to_string_lossy() == "anon_inode:[perf_event]")
        .count()
}
