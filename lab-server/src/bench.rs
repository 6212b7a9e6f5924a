//! `lab-server bench`: what the kvm backend costs on top of KVM itself.
//!
//! The same 8-vCPU QEMU-like scenario (create 8, write 0 to every TSC twice,
//! run each vCPU once) is timed three ways in one process: as the bare
//! sequence of ioctls (the floor), through the backend untraced, and through
//! the backend reading the kernel's tracepoints. Medians; the ratios to the
//! bare sequence are the figures that matter.

use std::time::{Duration, Instant};

use kvm_bindings::kvm_msr_entry;
use kvm_ioctls::{Kvm, VcpuExit};
use scenarios::trace::HostReport;

use crate::kvm::backend::{Vm, prepare};
use crate::kvm::tracefs::Handle;
use crate::kvm::{KvmBackend, LIMITS};

/// Medians, in microseconds.
#[derive(Debug, Clone)]
pub struct Figures {
    pub create_vm_us: f64,
    pub create_vcpu_us: f64,
    pub set_msrs_us: f64,
    pub run_us: f64,
    pub raw_scenario_us: f64,
    /// The bare ioctls plus one bare trace read per step.
    pub raw_traced_us: f64,
    pub untraced_us: f64,
    pub traced_us: f64,
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

/// The scenario as bare ioctls: no bookkeeping, no events; with `trace`, one
/// bare read of the trace after every step (what reading the kernel's view
/// costs at the least).
fn raw_scenario(kvm: &Kvm, n: u64, trace: Option<Handle>) -> Result<Duration, String> {
    let read = || -> Result<(), String> {
        if let Some(h) = trace {
            h.read_raw().map_err(|err| format!("trace_pipe: {err}"))?;
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
    let trace = crate::kvm::tracefs::this_thread().ok();
    let mut raw = vec![];
    let mut raw_traced = vec![];
    let mut untraced = vec![];
    let mut traced = vec![];
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
    // Interleaved, so that a slow moment of the machine hits all three alike.
    for _ in 0..reps {
        raw.push(raw_scenario(&kvm, 8, None)?);
        if trace.is_some() {
            raw_traced.push(raw_scenario(&kvm, 8, trace)?);
        }
        untraced.push(backend_run(false)?);
        traced.push(backend_run(true)?);
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
    })
}
