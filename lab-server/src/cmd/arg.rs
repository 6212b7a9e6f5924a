//! A scenario argument: a file, a library scenario's name, or `-` for stdin.

use std::io::{self, Read};
use std::path::Path;

use scenarios::{Errors, Scenario};

use super::Fail;

/// Scenarios are small; anything bigger is not one.
const MAX_SCENARIO_BYTES: u64 = 4 << 20;

/// A scenario's text and the name errors are reported under.
pub(crate) struct Loaded {
    pub(crate) label: String,
    pub(crate) text: String,
}

pub(crate) fn load_text(arg: &str) -> Result<Loaded, Fail> {
    if arg == "-" {
        let mut text = String::new();
        io::stdin()
            .take(MAX_SCENARIO_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| Fail::Input(format!("<stdin>: cannot read: {e}")))?;
        if text.len() as u64 > MAX_SCENARIO_BYTES {
            return Err(Fail::Input(format!(
                "<stdin>: more than {MAX_SCENARIO_BYTES} bytes; a scenario is at most that"
            )));
        }
        return Ok(Loaded {
            label: "<stdin>".into(),
            text,
        });
    }
    let path = Path::new(arg);
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Fail::Input(format!("{arg}: cannot read: {e}")))?;
        return Ok(Loaded {
            label: arg.to_string(),
            text,
        });
    }
    if let Some(entry) = scenarios::library::get(arg) {
        return Ok(Loaded {
            label: format!("library/{arg}.tsc"),
            text: entry.text.to_string(),
        });
    }
    Err(Fail::Input(format!(
        "{arg}: no such file, and no library scenario of that name (see `lab-server list`)"
    )))
}

pub(crate) fn parse(loaded: &Loaded) -> Result<Scenario, Fail> {
    scenarios::parse(&loaded.text).map_err(|e: Errors| Fail::Input(e.render(&loaded.label)))
}
