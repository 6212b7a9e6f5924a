//! `notebook export` and `notebook import`: what was written where.

use std::io::{self, Write};

use scenarios::BackendId;

/// `notebook export`: the file written, its cells, the backends its
/// scenario cells ran on, and (one line) those the CLI does not run.
pub(crate) fn notebook_exported(
    out: &mut impl Write,
    from: &str,
    to: &str,
    cells: usize,
    scenarios: &[&[BackendId]],
) -> io::Result<()> {
    let mut ran: Vec<BackendId> = Vec::new();
    let mut left_out: Vec<BackendId> = Vec::new();
    for &b in scenarios.iter().flat_map(|s| s.iter()) {
        let list = if b.is_model() {
            &mut ran
        } else {
            &mut left_out
        };
        if !list.contains(&b) {
            list.push(b);
        }
    }
    let names = |l: &[BackendId]| l.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ");
    write!(
        out,
        "{from} → {to}: {cells} cell{}, {} scenario cell{}",
        plural(cells),
        scenarios.len(),
        plural(scenarios.len())
    )?;
    if ran.is_empty() {
        writeln!(out)?;
    } else {
        writeln!(out, " run on {}", names(&ran))?;
    }
    if let Some(note) = lab_web::ipynb::left_out_note(&left_out) {
        writeln!(out, "{note}")?;
    }
    Ok(())
}

/// `notebook import`: the notebook file written.
pub(crate) fn notebook_imported(
    out: &mut impl Write,
    from: &str,
    to: &str,
    cells: usize,
) -> io::Result<()> {
    writeln!(out, "{from} → {to}: {cells} cell{}", plural(cells))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
