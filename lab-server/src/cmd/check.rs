//! `check`: scenarios' `expect` lines against the models.

use std::io::Write;

use scenarios::exec::ExpectOutcome;

use super::Fail;
use super::arg::{load_text, parse};
use crate::render;

pub(crate) fn run(out: &mut impl Write, args: &[String], json: bool) -> Result<(), Fail> {
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut bad_input = String::new();
    for arg in args {
        let loaded = match load_text(arg) {
            Ok(l) => l,
            Err(Fail::Input(m)) => {
                bad_input.push_str(&m);
                bad_input.push('\n');
                continue;
            }
            Err(f) => return Err(f),
        };
        let scenario = match parse(&loaded) {
            Ok(s) => s,
            Err(Fail::Input(m)) => {
                bad_input.push_str(&m);
                continue;
            }
            Err(f) => return Err(f),
        };
        let outcomes = scenarios::verify_models(&scenario);
        if outcomes.is_empty() && !json {
            render::no_expectations(out, &loaded.label)?;
        }
        for o in &outcomes {
            match o.passed {
                Some(true) => passed += 1,
                Some(false) => failed += 1,
                None => skipped += 1,
            }
            if json {
                writeln!(out, "{}", check_json(&loaded.label, o))?;
            } else {
                render::expectation(out, &loaded.label, o)?;
            }
        }
    }
    if !json {
        render::tally(out, passed, failed, skipped)?;
    }
    if !bad_input.is_empty() {
        return Err(Fail::Input(bad_input));
    }
    if failed > 0 {
        return Err(Fail::Expect);
    }
    Ok(())
}

/// One line of `check --json`: an expectation's outcome and the file it is in.
#[derive(serde::Serialize)]
struct CheckLine<'a> {
    #[serde(flatten)]
    outcome: &'a ExpectOutcome,
    file: &'a str,
}

fn check_json(label: &str, o: &ExpectOutcome) -> String {
    serde_json::to_string(&CheckLine {
        outcome: o,
        file: label,
    })
    .expect("outcomes serialise")
}
