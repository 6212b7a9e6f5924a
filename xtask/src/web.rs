//! `cargo xtask dist`: the static site — the notebook (WASM) and the book —
//! in `target/dist/`, which `lab-server serve` serves and any static file
//! server can host (model-only there).
//!
//! The steps, all in this process or with pinned tools:
//! 1. `cargo build -p lab-web -p lab-charts -p lab-import --target
//!    wasm32-unknown-unknown --profile wasm-release`: the notebook, the
//!    charts' drawing it loads once it has results, and the trace importer it
//!    loads when the user imports a trace;
//! 2. wasm-bindgen as a library (`wasm-bindgen-cli-support`, same version as
//!    the `wasm-bindgen` crate), ES-module output, for each;
//! 3. `wasm-opt -Oz` from npm `binaryen` 132 (`tools/`; Debian's binaryen
//!    108 cannot read rustc 1.95 + wasm-bindgen 0.2.130 output);
//! 4. the static pages and the recorded real-KVM runs;
//! 5. the book, with mdBook as a library; a warning fails the build;
//! 6. the CLI's shell completions and man pages (`lab-server generate`), in
//!    `target/dist/completions/` and `target/dist/man/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use scenarios::Event;
use scenarios::protocol::{HostReport, Recording, RecordingIndex};

use crate::{WASM_TARGET, apt_install, output, root, run};

/// What `dist` writes where.
pub(crate) fn dist_dir() -> PathBuf {
    root().join("target/dist")
}

/// The npm tools, pinned in `tools/package-lock.json`: binaryen's `wasm-opt`
/// (the web build) and `axe-core` (the browser tests' accessibility checks).
pub(crate) const NPM_TOOLS: [&str; 2] = [
    "tools/node_modules/.bin/wasm-opt",
    "tools/node_modules/axe-core/axe.min.js",
];

/// Installs the npm tools into `tools/node_modules` unless they are there.
pub(crate) fn npm_tools() -> Result<(), String> {
    if NPM_TOOLS.iter().all(|t| root().join(t).exists()) {
        return Ok(());
    }
    if output("npm", &["--version"]).is_err() {
        apt_install(&["npm"], "binaryen's wasm-opt and axe-core")?;
    }
    let tools = root().join("tools");
    let tools = tools.to_str().ok_or("non-UTF-8 path")?;
    run("npm", &["ci", "--prefix", tools, "--no-audit", "--no-fund"])
}

/// `wasm-opt`, installed if need be.
fn wasm_opt() -> Result<PathBuf, String> {
    npm_tools()?;
    Ok(root().join(NPM_TOOLS[0]))
}

fn write(path: &Path, content: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, content).map_err(|e| format!("{}: {e}", path.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let dest = to.join(path.file_name().ok_or("a file without a name")?);
        if path.is_dir() {
            copy_dir(&path, &dest)?;
        } else {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            write(&dest, &bytes)?;
        }
    }
    Ok(())
}

/// The WASM modules of the site: the notebook (every page loads it), the
/// charts' drawing (loaded once a cell has results) and the trace importer
/// (loaded on the first import); the first load carries the notebook only.
const MODULES: [(&str, &str); 3] = [
    ("lab-web", "lab_web"),
    ("lab-charts", "lab_charts"),
    ("lab-import", "lab_import"),
];

/// `NAME.js` and `NAME_bg.wasm` in `out` from the built `NAME.wasm`:
/// wasm-bindgen as a library, then wasm-opt.
fn bindgen(name: &str, out: &Path, opt: &Path) -> Result<(), String> {
    let wasm = root().join(format!("target/{WASM_TARGET}/wasm-release/{name}.wasm"));
    println!("\n$ wasm-bindgen {} (library)", wasm.display());
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?
        .typescript(false)
        // The library's default is `true`: then `init()` with no argument
        // would not know where the .wasm is.
        .omit_default_module_path(false)
        .out_name(name)
        .generate(out)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?;
    let bg = out.join(format!("{name}_bg.wasm"));
    let bg = bg.to_str().ok_or("non-UTF-8 path")?;
    // No --enable-* flags: binaryen reads the module's target_features
    // section. --converge repeats -Oz while it still shrinks the module;
    // --low-memory-unused: rustc puts the stack first, growing down from
    // 1 MiB, so the first KiB is touched only by a stack overflow. Together
    // some 4 KB gzip off the notebook.
    run(
        opt.to_str().ok_or("non-UTF-8 path")?,
        &["-Oz", "--converge", "--low-memory-unused", bg, "-o", bg],
    )
}

/// Builds the notebook and its lazily loaded modules: wasm, bindings,
/// wasm-opt, static files.
pub(crate) fn web() -> Result<(), String> {
    let out = dist_dir();
    // One build per module: features unify within a build, and a module that
    // uses lab-web's plain logic (lab-import) must not get its `ui` feature —
    // the notebook's own wasm-bindgen exports would come along into its file.
    for (package, _) in MODULES {
        run(
            "cargo",
            &[
                "build",
                "--package",
                package,
                "--lib",
                "--target",
                WASM_TARGET,
                "--profile",
                "wasm-release",
            ],
        )?;
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    // wasm-bindgen writes the JS snippets anew; one dropped since must not linger.
    let snippets = out.join("snippets");
    if snippets.exists() {
        std::fs::remove_dir_all(&snippets).map_err(|e| format!("{}: {e}", snippets.display()))?;
    }
    let opt = wasm_opt()?;
    for (_, name) in MODULES {
        bindgen(name, &out, &opt)?;
    }
    copy_dir(&root().join("lab-web/static"), &out)?;
    copy_dir(&root().join("lab-web/recorded"), &out.join("recorded"))?;
    Ok(())
}

/// Counts mdBook's warnings and errors while it builds.
struct Warnings(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() <= tracing::Level::WARN {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Builds the book into `target/dist/book`; any warning is an error.
pub(crate) fn book() -> Result<(), String> {
    use tracing_subscriber::layer::SubscriberExt;
    let warnings = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_target(false))
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(Warnings(warnings.clone()));
    println!("\n$ mdbook build book (library) -> target/dist/book");
    tracing::subscriber::with_default(subscriber, || {
        let mut book = mdbook_driver::MDBook::load(root().join("book"))
            .map_err(|e| format!("the book: {e:#}"))?;
        book.config.build.build_dir = dist_dir().join("book");
        book.build().map_err(|e| format!("the book: {e:#}"))
    })?;
    match warnings.load(Ordering::Relaxed) {
        0 => Ok(()),
        n => Err(format!("the book built with {n} warning(s); see above")),
    }
}

/// The CLI's shell completions and man pages, made by `lab-server generate`
/// from its clap tree: `target/dist/completions/` (lab-server.bash,
/// _lab-server, lab-server.fish, lab-server.elv, _lab-server.ps1) and
/// `target/dist/man/` (lab-server.1 and a page per subcommand).
pub(crate) fn cli_docs() -> Result<(), String> {
    run("cargo", &["build", "--package", "lab-server"])?;
    let bin = root().join("target/debug/lab-server");
    let bin = bin.to_str().ok_or("non-UTF-8 path")?;
    let completions = dist_dir().join("completions");
    let completions = completions.to_str().ok_or("non-UTF-8 path")?;
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        run(bin, &["generate", shell, "--dir", completions])?;
    }
    // The pages are written anew: one of a command dropped since must not linger.
    let man = dist_dir().join("man");
    if man.exists() {
        std::fs::remove_dir_all(&man).map_err(|e| format!("{}: {e}", man.display()))?;
    }
    run(
        bin,
        &[
            "generate",
            "man",
            "--dir",
            man.to_str().ok_or("non-UTF-8 path")?,
        ],
    )
}

/// `cargo xtask dist`: the whole static site, and the CLI's completions and
/// man pages beside it.
pub(crate) fn dist() -> Result<(), String> {
    web()?;
    book()?;
    cli_docs()?;
    println!("\nxtask dist: the site is in {}", dist_dir().display());
    Ok(())
}

/// `cargo xtask record`: records every library scenario on this machine's
/// real KVM into `lab-web/recorded/`, for sites without a lab server.
pub(crate) fn record() -> Result<(), String> {
    run("cargo", &["build", "--release", "--package", "lab-server"])?;
    let bin = root().join("target/release/lab-server");
    let bin = bin.to_str().ok_or("non-UTF-8 path")?;
    let host_json = output(bin, &["host", "--json"])?;
    let host: HostReport =
        serde_json::from_str(&host_json).map_err(|e| format!("`lab-server host --json`: {e}"))?;
    if !host.kvm_usable {
        return Err(format!(
            "this machine's KVM is not usable, so there is nothing to record \
             (the recordings in lab-web/recorded/ are left as they are): {}",
            host.kvm_problem.as_deref().unwrap_or("no reason given")
        ));
    }
    let list = output(bin, &["list"])?;
    let names = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect::<Vec<_>>()
        .join("\n");
    let dir = root().join("lab-web/recorded");
    let mut recorded = Vec::new();
    for name in names.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let events = match output(bin, &["run", name, "--backend", "kvm", "--json"]) {
            Ok(e) => e,
            Err(e) => {
                println!("  {name}: not recorded ({})", e.trim());
                continue;
            }
        };
        let events = events
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(serde_json::from_str::<Event>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("`lab-server run {name} --json`: {e}"))?;
        let recording = Recording {
            text: output(bin, &["show", name])?,
            host: host.clone(),
            events,
        };
        let json = serde_json::to_string_pretty(&recording).map_err(|e| e.to_string())?;
        write(
            &dir.join(format!("{name}.json")),
            format!("{json}\n").as_bytes(),
        )?;
        println!("  {name}: {} events", recording.events.len());
        recorded.push(name.to_string());
    }
    if recorded.is_empty() {
        return Err("no scenario could be recorded; lab-web/recorded/ is left as it was".into());
    }
    let count = recorded.len();
    let index: RecordingIndex = recorded;
    let index = serde_json::to_string(&index).map_err(|e| e.to_string())?;
    write(&dir.join("index.json"), format!("{index}\n").as_bytes())?;
    println!("\nxtask record: {} runs in {}", count, dir.display());
    Ok(())
}
