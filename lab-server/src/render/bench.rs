//! `bench`: what the kvm backend costs, per ioctl and per scenario.

use std::io::{self, Write};

use lab_server::bench::Figures;
use scenarios::trace::HostReport;

/// The table of `bench`, medians of `runs` runs.
pub(crate) fn bench(
    out: &mut impl Write,
    report: &HostReport,
    runs: usize,
    f: &Figures,
) -> io::Result<()> {
    writeln!(
        out,
        "kvm backend cost, medians of {} runs ({}, Linux {})",
        runs, report.flavour, report.kernel
    )?;
    writeln!(out, "  KVM_CREATE_VM            {:>9.1} µs", f.create_vm_us)?;
    writeln!(
        out,
        "  KVM_CREATE_VCPU          {:>9.1} µs",
        f.create_vcpu_us
    )?;
    writeln!(out, "  KVM_SET_MSRS (TSC)       {:>9.1} µs", f.set_msrs_us)?;
    writeln!(out, "  KVM_RUN → hlt            {:>9.1} µs", f.run_us)?;
    writeln!(
        out,
        "8-vCPU QEMU-like scenario (create 8, two rounds of TSC = 0, run each):"
    )?;
    writeln!(
        out,
        "  bare ioctls              {:>9.1} µs",
        f.raw_scenario_us
    )?;
    writeln!(
        out,
        "  kvm backend, untraced    {:>9.1} µs   {:.2}× the bare ioctls",
        f.untraced_us,
        f.untraced_us / f.raw_scenario_us
    )?;
    writeln!(
        out,
        "  bare ioctls + perf ring  {:>9.1} µs   {:.2}× the bare ioctls (events on, ring drained every step)",
        f.raw_traced_us,
        f.raw_traced_us / f.raw_scenario_us
    )?;
    writeln!(
        out,
        "  kvm backend, traced      {:>9.1} µs   {:.2}× the bare ioctls (per round: {:.2}× median, {:.2}–{:.2}× quartiles)",
        f.traced_us,
        f.traced_us / f.raw_scenario_us,
        f.traced_ratio[1],
        f.traced_ratio[0],
        f.traced_ratio[2]
    )
}
