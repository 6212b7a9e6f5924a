//! `conform`: the linux-6.18 model against this machine's KVM, write by write.

use std::io::Write;

use lab_server::conform::{self, Outcome};

use super::Fail;
use crate::progress::Progress;
use crate::render;

/// `conform`'s flags.
pub(crate) struct Options {
    /// How many random scenarios, besides the library.
    pub(crate) count: usize,
    /// The seed of the random scenarios.
    pub(crate) seed: u64,
    /// One JSON object per scenario.
    pub(crate) json: bool,
    /// Every scenario, not only divergences.
    pub(crate) verbose: bool,
}

pub(crate) fn run(out: &mut impl Write, options: Options) -> Result<(), Fail> {
    let Options {
        count,
        seed,
        json,
        verbose,
    } = options;
    let report = lab_server::kvm::host::report();
    if !report.kvm_usable {
        return Err(Fail::Unavailable(format!(
            "conform needs real KVM: {}",
            report.kvm_problem.as_deref().unwrap_or("unavailable")
        )));
    }
    if !json {
        render::conform_header(out, &report)?;
        out.flush()?;
    }
    let cases: Vec<conform::Case> = conform::library_cases()
        .into_iter()
        .chain(conform::random_cases(count, seed))
        .collect();
    let mut counts = render::ConformCounts::default();
    let progress = Progress::steps("conform", cases.len() as u64, "scenarios");
    for case in &cases {
        progress.set_message(case.name.clone());
        let outcome = conform::check_case(case, &report, lab_server::kvm::LIMITS);
        progress.inc(1);
        let bad = matches!(outcome, Outcome::Diverge { .. } | Outcome::Failed { .. });
        match &outcome {
            Outcome::Agree { compared, .. } => {
                counts.agree += 1;
                counts.values += compared;
            }
            Outcome::Diverge { .. } => counts.diverge += 1,
            Outcome::Failed { .. } => counts.failed += 1,
            Outcome::Skipped { .. } => counts.skipped += 1,
        }
        // Printed as it goes, the progress line stepping aside on a terminal.
        progress.suspend(|| -> Result<(), Fail> {
            if json {
                let mut v = serde_json::to_value(&outcome).expect("serialises");
                v["name"] = serde_json::Value::String(case.name.clone());
                if bad {
                    v["scenario"] = serde_json::Value::String(case.text.clone());
                }
                writeln!(out, "{v}")?;
            } else if bad || verbose || !case.name.starts_with("random-") {
                render::conform_case(out, case, &outcome)?;
            }
            if progress.is_shown() {
                out.flush()?;
            }
            Ok(())
        })?;
    }
    drop(progress);
    if !json {
        render::conform_summary(out, &counts)?;
    }
    if counts.diverge + counts.failed > 0 {
        return Err(Fail::Expect);
    }
    Ok(())
}
