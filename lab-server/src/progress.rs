//! Progress on stderr for long work (`conform`, `load`, `trace`, `import`),
//! drawn by indicatif — and the one place that decides whether to draw it:
//! only when stderr is a terminal and `--quiet` was not given. Piped, or
//! quiet, a [`Progress`] is inert: it writes nothing, and the commands call
//! it all the same, so no command looks at the terminal itself.
//!
//! Progress never touches stdout. A command that prints while a bar is up
//! does so inside [`Progress::suspend`], which takes the bar down, runs the
//! print and draws the bar again below it.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress is drawn; set once by [`init`].
static SHOWN: OnceLock<bool> = OnceLock::new();

/// How often a line is redrawn without news (the spinner, the time).
const TICK: Duration = Duration::from_millis(120);

/// Decides, once for the whole process, whether progress is drawn.
pub(crate) fn init(quiet: bool) {
    let _ = SHOWN.set(!quiet && std::io::stderr().is_terminal());
}

fn shown() -> bool {
    SHOWN.get().copied().unwrap_or(false)
}

/// A progress line on stderr, or nothing. Taken down when dropped, however
/// the command ends.
#[derive(Debug)]
pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    fn new(bar: impl FnOnce() -> ProgressBar, template: &str, prefix: &'static str) -> Progress {
        if !shown() {
            return Progress(None);
        }
        let style = ProgressStyle::with_template(template)
            .expect("the templates are valid")
            .progress_chars("=> ");
        let bar = bar()
            .with_style(style)
            .with_prefix(prefix)
            .with_finish(indicatif::ProgressFinish::AndClear);
        bar.set_draw_target(ProgressDrawTarget::stderr());
        // Drawn at once, so even short work shows what it is doing; redrawn
        // while nothing happens, so the time goes on.
        bar.tick();
        bar.enable_steady_tick(TICK);
        Progress(Some(bar))
    }

    /// `len` steps of work (`conform`'s scenarios, `load`'s clients).
    pub(crate) fn steps(prefix: &'static str, len: u64, unit: &str) -> Progress {
        let template =
            format!("{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} · {{elapsed}} {{wide_msg}}");
        Progress::new(|| ProgressBar::new(len), &template, prefix)
    }

    /// Bytes read, of `total` when known.
    pub(crate) fn bytes(prefix: &'static str, total: Option<u64>) -> Progress {
        match total {
            Some(len) => Progress::new(
                || ProgressBar::new(len),
                "{prefix} [{bar:30}] {bytes}/{total_bytes} read · {binary_bytes_per_sec}",
                prefix,
            ),
            None => Progress::new(
                ProgressBar::no_length,
                "{prefix} {spinner} {bytes} read · {binary_bytes_per_sec}",
                prefix,
            ),
        }
    }

    /// Work of unknown length: a spinner, the time so far and `message`.
    pub(crate) fn spinner(prefix: &'static str, message: impl Into<Cow<'static, str>>) -> Progress {
        let p = Progress::new(
            ProgressBar::no_length,
            "{prefix} {spinner} {elapsed} · {wide_msg}",
            prefix,
        );
        p.set_message(message);
        p
    }

    /// Whether anything is drawn.
    pub(crate) fn is_shown(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn inc(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }

    pub(crate) fn set_message(&self, message: impl Into<Cow<'static, str>>) {
        if let Some(b) = &self.0 {
            b.set_message(message);
        }
    }

    /// Runs `f` with the bar taken down (to print to the terminal), then
    /// draws it again.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.0 {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// A step counter for other threads (`load`'s clients): one step each call.
    pub(crate) fn counter(&self) -> impl Fn() + Send + Sync + 'static {
        let bar = self.0.clone();
        move || {
            if let Some(b) = &bar {
                b.inc(1);
            }
        }
    }

    /// What [`Progress::suspend`] does, for other threads (`trace` hands
    /// its VMM's output lines to it).
    pub(crate) fn printer(&self) -> impl Fn(&dyn Fn()) + Send + Sync + 'static {
        let bar = self.0.clone();
        move |f: &dyn Fn()| match &bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
