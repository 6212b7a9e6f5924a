//! `fmt`: scenario files in canonical form.

use std::io::Write;

use super::Fail;
use super::arg::{Loaded, parse};
use crate::render;

pub(crate) fn run(out: &mut impl Write, files: &[String], check: bool) -> Result<(), Fail> {
    let mut unformatted = false;
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Fail::Input(format!("{file}: cannot read: {e}")))?;
        let loaded = Loaded {
            label: file.clone(),
            text,
        };
        let canonical = parse(&loaded)?.to_string();
        if canonical == loaded.text {
            continue;
        }
        if check {
            render::fmt_unformatted(out, file)?;
            unformatted = true;
        } else {
            std::fs::write(file, canonical)
                .map_err(|e| Fail::Input(format!("{file}: cannot write: {e}")))?;
            render::fmt_formatted(out, file)?;
        }
    }
    if unformatted {
        return Err(Fail::Expect);
    }
    Ok(())
}
