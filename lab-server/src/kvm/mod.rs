//! Real KVM: the `kvm` backend, the host report, and the kernel's tracepoints.
//!
//! This module (and only this one) talks to `/dev/kvm`; its `unsafe` code is
//! confined to [`sys`] and to the memory-region call in [`backend`].

pub mod backend;
mod error;
pub mod host;
mod sys;
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

/// Removes the process's tracefs instance (call once, at exit).
pub fn shutdown() {
    tracefs::Tracer::shutdown();
}
