//! `lab-server bench`: what the kvm backend costs on top of KVM itself.
//!
//! The same 8-vCPU QEMU-like scenario (create 8, write 0 to every TSC twice,
//! run each vCPU once) is timed four ways in one process, interleaved: as the
//! bare sequence of ioctls (the floor), the bare ioctls on a thread whose
//! perf ring is open and drained after every step (what the kernel's view
//! costs at the least), through the backend untraced, and through the backend
//! reading the kernel's events. All on one thread, whose perf events are
//! turned off for the untraced runs (they would otherwise pay for events
//! nobody reads). Medians; the ratios to the bare sequence are the figures
//! that matter, with the spread of the per-round ratio.

use std::time::{Duration, Instant};

use kvm_bindings::kvm_msr_entry;
use kvm_ioctls::{Kvm, VcpuExit};
use scenarios::trace::HostReport;

use crate::kvm::backend::{Vm, prepare};
use crate::kvm::perf::{self, Handle};
use crate::kvm::{KvmBackend, LIMITS};

/// Medians, in microseconds.
#[derive(Debug, Clone)]
pub struct Figures {
    pub create_vm_us: f64,
    pub create_vcpu_us: f64,
    pub set_msrs_us: f64,
    pub run_us: f64,
    pub raw_scenario_us: f64,
    /// The bare ioctls with the thread's perf ring open, drained after every step.
    pub raw_traced_us: f64,
    pub untraced_us: f64,
    pub traced_us: f64,
    /// traced / bare, round by round: the 25th, 50th and 75th percentiles.
    pub traced_ratio: [f64; 3],
}

/// The 25th, 50th and 75th percentiles of `v`.
fn quartiles(mut v: Vec<f64>) -> [f64; 3] {
    if v.is_empty() {
        return [f64::NAN; 3];
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    [at(0.25), at(0.5), at(0.75)]
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e6
}

fn tsc_msr(data: u64) -> kvm_bindings::Msrs {
    kvm_bindings::Msrs::from_entries(&[kvm_msr_entry {
        index: 0x10,
        data,
        ..Default::default()
    }])
    .expect("one MSR")
}

/// The scenario as bare ioctls: no bookkeeping; with `trace` (the calling
/// thread's ring), the ring drained and decoded after every step (what
/// reading the kernel's view costs at the least).
fn raw_scenario(kvm: &Kvm, n: u64, trace: Option<Handle>) -> Result<Duration, String> {
    let read = || -> Result<(), String> {
        if let Some(h) = trace {
            std::hint::black_box(h.drain());
        }
        Ok(())
    };
    let e = |what: &'static str| move |err: kvm_ioctls::Error| format!("{what}: {err}");
    let t = Instant::now();
    let mut vm = Vm::new(kvm).map_err(|e| e.to_string())?;
    for i in 0..n {
        let v = vm.fd.create_vcpu(i).map_err(e("KVM_CREATE_VCPU"))?;
        read()?;
        prepare(&v, i as usize).map_err(|e| e.to_string())?;
        vm.vcpus.push(v);
    }
    for _ in 0..2 {
        for v in &vm.vcpus {
            v.set_msrs(&tsc_msr(0)).map_err(e("KVM_SET_MSRS"))?;
            read()?;
        }
    }
    for v in &mut vm.vcpus {
        match v.run().map_err(e("KVM_RUN"))? {
            VcpuExit::Hlt => {}
            other => return Err(format!("unexpected exit {other:?}")),
        }
        read()?;
    }
    vm.fd.get_clock().map_err(e("KVM_GET_CLOCK"))?;
    drop(vm);
    Ok(t.elapsed())
}

/// Measures, `reps` times each.
pub fn measure(host: &HostReport, reps: usize) -> Result<Figures, String> {
    let kvm = crate::kvm::host::open_kvm().map_err(|e| e.to_string())?;
    let e = |what: &'static str| move |err: kvm_ioctls::Error| format!("{what}: {err}");
    let (mut vm_t, mut vcpu_t, mut msr_t, mut run_t) = (vec![], vec![], vec![], vec![]);
    for _ in 0..reps {
        let t = Instant::now();
        let empty = kvm.create_vm().map_err(e("KVM_CREATE_VM"))?;
        vm_t.push(t.elapsed());
        drop(empty);
        let mut vm = Vm::new(&kvm).map_err(|e| e.to_string())?;
        let first = vm.fd.create_vcpu(0).map_err(e("KVM_CREATE_VCPU"))?;
        vm.vcpus.push(first);
        let t = Instant::now();
        let mut v = vm.fd.create_vcpu(1).map_err(e("KVM_CREATE_VCPU"))?;
        vcpu_t.push(t.elapsed());
        prepare(&v, 1).map_err(|e| e.to_string())?;
        let t = Instant::now();
        v.set_msrs(&tsc_msr(0)).map_err(e("KVM_SET_MSRS"))?;
        msr_t.push(t.elapsed());
        v.run().map_err(e("KVM_RUN"))?; // the first run also updates the clocks
        let t = Instant::now();
        v.run().map_err(e("KVM_RUN"))?;
        run_t.push(t.elapsed());
        vm.vcpus.push(v);
    }
    let mut raw = vec![];
    let mut raw_traced = vec![];
    let mut untraced = vec![];
    let mut traced = vec![];
    let mut ratio = vec![];
    let s = scenarios::parse("create 8\nwrite * 0\nwrite * 0\nrun *\n")
        .map_err(|err| err.to_string())?;
    let backend_run = |trace: bool| -> Result<Duration, String> {
        let t = Instant::now();
        let mut b =
            KvmBackend::with_tracing(host.clone(), LIMITS, trace).map_err(|e| e.to_string())?;
        if trace && !b.traced() {
            return Err("tracing is not available here".into());
        }
        scenarios::execute(&s, &mut b, &mut |_| {}).map_err(|err| err.to_string())?;
        drop(b);
        Ok(t.elapsed())
    };
    let ring = perf::this_thread().ok();
    let traced_on = |on: bool| -> Result<(), String> {
        match &ring {
            Some(h) => h.set_enabled(on).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    };
    // Interleaved, so that a slow moment of the machine hits all four alike.
    for _ in 0..reps {
        traced_on(false)?;
        let bare = raw_scenario(&kvm, 8, None)?;
        raw.push(bare);
        untraced.push(backend_run(false)?);
        traced_on(true)?;
        if ring.is_some() {
            raw_traced.push(raw_scenario(&kvm, 8, ring)?);
        }
        let t = backend_run(true)?;
        traced.push(t);
        ratio.push(t.as_secs_f64() / bare.as_secs_f64());
    }
    Ok(Figures {
        create_vm_us: median(vm_t),
        create_vcpu_us: median(vcpu_t),
        set_msrs_us: median(msr_t),
        run_us: median(run_t),
        raw_scenario_us: median(raw),
        raw_traced_us: if raw_traced.is_empty() {
            f64::NAN
        } else {
            median(raw_traced)
        },
        untraced_us: median(untraced),
        traced_us: median(traced),
        traced_ratio: quartiles(ratio),
    })
}
