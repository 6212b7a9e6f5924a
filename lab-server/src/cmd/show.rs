//! `show`: a library scenario's text.

use std::io::Write;

use super::Fail;

pub(crate) fn run(out: &mut impl Write, name: &str) -> Result<(), Fail> {
    let entry = scenarios::library::get(name).ok_or_else(|| {
        Fail::Input(format!(
            "{name}: no library scenario of that name (see `lab-server list`)"
        ))
    })?;
    out.write_all(entry.text.as_bytes())?;
    Ok(())
}
