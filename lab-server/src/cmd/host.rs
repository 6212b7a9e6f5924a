//! `host`: this machine's KVM.

use std::io::Write;

use super::Fail;
use crate::render;

pub(crate) fn run(out: &mut impl Write, json: bool) -> Result<(), Fail> {
    let r = lab_server::kvm::host::report();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&r).expect("the report serialises")
        )?;
    } else {
        render::host(out, &r)?;
    }
    Ok(())
}
