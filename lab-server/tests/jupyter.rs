//! The notebooks in Jupyter's own tools: every library notebook exported by
//! `lab-server notebook export NAME --ipynb`, validated with Python's
//! `nbformat` and rendered with `jupyter nbconvert --to html`; and the round
//! trip ipynb → lab → ipynb keeps every cell, a Jupyter notebook's Python
//! cell included.
//!
//! nbformat and nbconvert live in `target/venv` (`cargo xtask test` makes it
//! from tools/requirements.txt). Without it these tests say so and pass as
//! skipped, except under CI=true.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    root().join("target/venv/bin/python")
}

/// Whether the venv is here; skips (or, under CI=true, fails) when it is not.
fn ready(test: &str) -> bool {
    let ok = Command::new(python())
        .args(["-c", "import nbformat, nbconvert"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    let why = "no target/venv with nbformat and nbconvert (cargo xtask test makes it)";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: cannot run under CI=true: {why}");
    }
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// A command, bounded in time, its output; fails the test on a non-zero exit.
fn ok(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let out = common::bounded(child, limit);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lab-server"))
}

/// A fresh scratch directory under target/.
fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target/tmp-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fn library() -> Vec<String> {
    let out = ok(lab().args(["list", "--json"]), Duration::from_secs(30));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            v["name"].as_str().expect("a name").to_string()
        })
        .collect()
}

/// Every library notebook: exported, `nbformat.validate`d against the
/// nbformat 4.5 schema, and rendered to HTML by nbconvert with its verdict
/// table and charts.
#[test]
fn every_library_notebook_validates_and_renders() {
    if !ready("every_library_notebook_validates_and_renders") {
        return;
    }
    let dir = scratch("jupyter-library");
    let names = library();
    assert!(names.len() >= 20, "{names:?}");
    let mut files = Vec::new();
    for name in &names {
        let file = dir.join(format!("{name}.ipynb"));
        ok(
            lab()
                .args(["notebook", "export", name, "--ipynb", "-o"])
                .arg(&file),
            Duration::from_secs(60),
        );
        files.push(file);
    }
    let check = "import sys, nbformat
for f in sys.argv[1:]:
    nb = nbformat.read(f, as_version=nbformat.NO_CONVERT)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5), (f, nb.nbformat, nb.nbformat_minor)
    nbformat.validate(nb)
print(len(sys.argv) - 1, 'valid')";
    let out = ok(
        Command::new(python()).args(["-c", check]).args(&files),
        Duration::from_secs(120),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(said.trim(), format!("{} valid", names.len()));

    let html = dir.join("html");
    ok(
        Command::new(python())
            .args(["-m", "nbconvert", "--to", "html", "--output-dir"])
            .arg(&html)
            .args(&files),
        Duration::from_secs(300),
    );
    // nbconvert shows an SVG output as an <img> of base64 data: count the charts among them.
    let charts = "import base64, re, sys
for f in sys.argv[1:]:
    page = open(f).read()
    svgs = [base64.b64decode(s).decode() for s in re.findall(r'data:image/svg\\+xml;base64,([A-Za-z0-9+/=]+)', page)]
    print(f.rsplit('/', 1)[-1], sum('<polyline' in s for s in svgs), 'kvmclock' in page)";
    let pages: Vec<PathBuf> = names
        .iter()
        .map(|n| html.join(format!("{n}.html")))
        .collect();
    let out = ok(
        Command::new(python()).args(["-c", charts]).args(&pages),
        Duration::from_secs(120),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(said.lines().count(), names.len(), "{said}");
    for line in said.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(
            words[1..],
            ["3", "True"],
            "{line}: charts drawn, and the verdict table"
        );
    }
    let boot = std::fs::read_to_string(html.join("qemu-2.0-boot-2.html")).expect("the boot");
    assert!(
        boot.contains("UNSTABLE") && boot.contains("First divergence at write 3"),
        "the 2014 bug is not in the rendered QEMU 2.0 boot"
    );
}

/// ipynb → lab → ipynb keeps every cell: a library notebook, and a notebook
/// made by Jupyter's own nbformat with a Python cell and a raw cell (which
/// come back as markdown holding them).
#[test]
fn the_round_trip_keeps_every_cell() {
    if !ready("the_round_trip_keeps_every_cell") {
        return;
    }
    let dir = scratch("jupyter-round-trip");
    let first = dir.join("first.ipynb");
    ok(
        lab()
            .args([
                "notebook",
                "export",
                "snapshot-restore-double-write",
                "--ipynb",
                "-o",
            ])
            .arg(&first),
        Duration::from_secs(60),
    );
    let jupyters = dir.join("jupyters.ipynb");
    let make = "import sys, nbformat
from nbformat import v4
nb = v4.new_notebook()
nb.cells = [v4.new_markdown_cell('# From Jupyter\\n\\nSome prose.'),
            v4.new_code_cell('import numpy as np\\nprint(np.pi)'),
            v4.new_raw_cell('raw text'),
            v4.new_code_cell('create 2\\nwrite * 0\\nrun *\\n', metadata={'language': 'tsc-scenario'})]
nbformat.write(nb, sys.argv[1])";
    ok(
        Command::new(python()).args(["-c", make]).arg(&jupyters),
        Duration::from_secs(60),
    );
    for (name, start) in [("library", &first), ("jupyter", &jupyters)] {
        let json = dir.join(format!("{name}.json"));
        let again = dir.join(format!("{name}-again.ipynb"));
        ok(
            lab()
                .args(["notebook", "import"])
                .arg(start)
                .arg("-o")
                .arg(&json),
            Duration::from_secs(60),
        );
        ok(
            lab()
                .args(["notebook", "export"])
                .arg(&json)
                .args(["--ipynb", "-o"])
                .arg(&again),
            Duration::from_secs(60),
        );
        let cells = |p: &Path| -> Vec<(String, String)> {
            let v: Value =
                serde_json::from_slice(&std::fs::read(p).expect("a file")).expect("JSON");
            v["cells"]
                .as_array()
                .expect("cells")
                .iter()
                .map(|c| {
                    let source = match &c["source"] {
                        Value::String(s) => s.clone(),
                        Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect(),
                        other => panic!("a source that is {other}"),
                    };
                    (c["cell_type"].as_str().unwrap_or("?").to_string(), source)
                })
                .collect()
        };
        let (before, after) = (cells(start), cells(&again));
        assert_eq!(before.len(), after.len(), "{name}: cells lost or added");
        for ((kind0, src0), (kind1, src1)) in before.iter().zip(&after) {
            if kind0 == "markdown" || (kind0 == "code" && kind1 == "code") {
                assert_eq!((kind0, src0), (kind1, src1), "{name}: a cell changed");
            } else {
                // A Python or raw cell: kept, as markdown holding it in a fence.
                assert_eq!(kind1, "markdown", "{name}: {kind0} cell");
                assert!(
                    src1.contains(src0.as_str()) && src1.contains("```"),
                    "{name}: {src1}"
                );
            }
        }
        let check =
            "import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))";
        ok(
            Command::new(python()).args(["-c", check]).arg(&again),
            Duration::from_secs(60),
        );
    }
}
