//! `list`: the scenario library.

use std::io::Write;

use super::Fail;
use crate::render;

pub(crate) fn run(out: &mut impl Write, json: bool) -> Result<(), Fail> {
    for entry in scenarios::library::LIBRARY {
        let s = entry
            .scenario()
            .map_err(|e| Fail::Input(e.render(entry.name)))?;
        if json {
            let v = serde_json::to_string(&scenarios::protocol::LibraryEntry::of(entry))
                .expect("entries serialise");
            writeln!(out, "{v}")?;
        } else {
            render::list_entry(out, entry.name, s.title())?;
        }
    }
    Ok(())
}
