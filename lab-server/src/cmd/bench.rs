//! `bench`: what the kvm backend costs on top of KVM's own ioctls.

use std::io::Write;

use super::Fail;
use crate::render;

pub(crate) fn run(out: &mut impl Write, reps: usize) -> Result<(), Fail> {
    let report = lab_server::kvm::host::report();
    // Nothing here is input but `--reps`: whatever fails is this machine's KVM.
    let f = lab_server::bench::measure(&report, reps.max(3))
        .map_err(|e| Fail::Unavailable(format!("bench: {e}")))?;
    render::bench(out, &report, reps.max(3), &f)?;
    Ok(())
}
