//! `lab-server host`: the truth about this machine's KVM, measured, in a form
//! a learner can read. Attached to every real-KVM run.

use std::fs;
use std::path::Path;

use kvm_bindings::kvm_msr_entry;
use kvm_ioctls::Kvm;
use scenarios::trace::HostReport;

use super::error::KvmError;
use super::sys::{KVM_CAP_VCPU_ATTRIBUTES, MSR_IA32_TSC};

/// The process's `/dev/kvm`, opened on first use and kept: every VM is
/// created from it, so a run does not pay for an `open` (the error of a
/// failed first open is kept too: the device does not come and go).
pub(crate) fn kvm() -> Result<&'static Kvm, KvmError> {
    static KVM: std::sync::OnceLock<Result<Kvm, KvmError>> = std::sync::OnceLock::new();
    KVM.get_or_init(open_kvm).as_ref().map_err(Clone::clone)
}

/// Opens /dev/kvm (or `LAB_KVM_DEVICE`, for tests), or says plainly why not
/// and how to fix it.
pub fn open_kvm() -> Result<Kvm, KvmError> {
    let path = std::env::var("LAB_KVM_DEVICE").unwrap_or_else(|_| "/dev/kvm".into());
    let c_path = std::ffi::CString::new(path)
        .map_err(|_| KvmError::Unavailable("LAB_KVM_DEVICE holds a NUL byte".into()))?;
    Kvm::new_with_path(&c_path).map_err(|e| KvmError::Open {
        path: c_path.to_string_lossy().into_owned(),
        errno: e.errno(),
    })
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The KVM flavour, from the loaded modules.
fn flavour() -> String {
    let m = |name: &str| Path::new("/sys/module").join(name).exists();
    if m("kvm_pvm") {
        "kvm-pvm".into()
    } else if m("kvm_intel") {
        "vmx".into()
    } else if m("kvm_amd") {
        "svm".into()
    } else {
        "unknown".into()
    }
}

/// Writes 2^50 to a fresh vCPU's TSC and reads it back: hardware KVM returns
/// about the value written, a host that drops offsets returns its own TSC.
fn probe_offsets(kvm: &Kvm, tsc_khz: Option<u32>) -> Result<bool, String> {
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    let vcpu = vm
        .create_vcpu(0)
        .map_err(|e| format!("KVM_CREATE_VCPU: {e}"))?;
    let target: u64 = 1 << 50;
    let msrs = kvm_bindings::Msrs::from_entries(&[kvm_msr_entry {
        index: MSR_IA32_TSC,
        data: target,
        ..Default::default()
    }])
    .map_err(|e| format!("{e:?}"))?;
    vcpu.set_msrs(&msrs)
        .map_err(|e| format!("KVM_SET_MSRS: {e}"))?;
    let mut back = kvm_bindings::Msrs::from_entries(&[kvm_msr_entry {
        index: MSR_IA32_TSC,
        ..Default::default()
    }])
    .map_err(|e| format!("{e:?}"))?;
    vcpu.get_msrs(&mut back)
        .map_err(|e| format!("KVM_GET_MSRS: {e}"))?;
    let read = back.as_slice()[0].data;
    let one_second = u64::from(tsc_khz.unwrap_or(1_000_000)) * 1000;
    Ok(read.wrapping_sub(target) < one_second)
}

/// Measures and describes the host, once per process (the probe makes a VM).
pub fn report() -> HostReport {
    static REPORT: std::sync::OnceLock<HostReport> = std::sync::OnceLock::new();
    REPORT.get_or_init(measure).clone()
}

fn measure() -> HostReport {
    let mut r = HostReport {
        kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
        clocksource: read_trimmed(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .unwrap_or_else(|| "unknown".into()),
        flavour: flavour(),
        ..HostReport::default()
    };
    match super::perf::probe() {
        Ok(()) => {
            r.tracing = true;
            r.trace_events = super::tracefs::events_read();
            r.trace_reader = Some(super::perf::HOW.to_string());
        }
        Err(e) => r.tracing_problem = Some(e.0),
    }
    match kvm() {
        Err(problem) => r.kvm_problem = Some(problem.to_string()),
        Ok(kvm) => {
            r.kvm_usable = true;
            r.max_vcpus = u32::try_from(kvm.get_max_vcpus()).ok();
            r.tsc_offset_attr = kvm.check_extension_raw(KVM_CAP_VCPU_ATTRIBUTES) > 0;
            r.tsc_khz = kvm
                .create_vm()
                .and_then(|vm| vm.create_vcpu(0))
                .and_then(|v| v.get_tsc_khz())
                .ok();
            match probe_offsets(kvm, r.tsc_khz) {
                Ok(h) => r.offsets_honoured = Some(h),
                Err(e) => r.notes.push(format!("the TSC offset probe failed: {e}")),
            }
        }
    }
    r.notes.extend(notes(&r));
    r
}

/// The sentences a learner needs.
fn notes(r: &HostReport) -> Vec<String> {
    let mut n = Vec::new();
    if let Some(p) = &r.kvm_problem {
        n.push(format!(
            "Real KVM is not available: {p}. The lab runs on its kernel models only."
        ));
        return n;
    }
    if r.flavour == "kvm-pvm" {
        n.push(
            "This host runs kvm-pvm, a software nested KVM: the kernel's generic TSC matching, generations and master clock run for real, but the TSC offsets it computes are not applied — the guest (and a KVM_GET_MSRS read-back) sees the host TSC. Offsets shown here are the ones the kernel computed, read from its tracepoints.".into(),
        );
    } else if r.offsets_honoured == Some(false) {
        n.push("TSC offsets written here do not reach the guest (read-back returns the host TSC); offsets shown are the kernel's computed ones, from its tracepoints.".into());
    }
    if r.clocksource != "tsc" {
        n.push(format!(
            "The host clocksource is `{}`, not `tsc`: KVM's master clock cannot turn on here, so no guest will see PVCLOCK_TSC_STABLE_BIT whatever the TSC writes.",
            r.clocksource
        ));
    }
    if !r.tracing {
        n.push(format!(
            "KVM's tracepoints cannot be read ({}): runs still show the master clock (KVM_GET_CLOCK) and each vCPU's pvclock stable bit, but nr_vcpus_matched_tsc and generations are unavailable.",
            r.tracing_problem.as_deref().unwrap_or("unknown reason")
        ));
    }
    n
}
