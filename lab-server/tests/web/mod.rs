//! The browser harness the browser tests share: headless Debian chromium
//! over WebDriver (chromedriver), `lab-server serve` with the built site
//! (`cargo xtask dist` → target/dist), a plain static server, and the
//! checks every page gets (console errors, axe-core).
//!
//! Without chromium, chromedriver or the built site a test says so and
//! passes as skipped — except under CI=true, where it must run.

// Each test binary uses a part of the harness.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// One browser at a time: two cores.
pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn dist() -> PathBuf {
    root().join("target/dist")
}

pub(crate) fn shots() -> PathBuf {
    let d = root().join("target/screenshots");
    std::fs::create_dir_all(&d).expect("target/screenshots");
    d
}

/// Why these tests cannot run here, if they cannot.
pub(crate) fn missing() -> Option<String> {
    if !dist().join("index.html").exists() || !dist().join("lab_web_bg.wasm").exists() {
        return Some("the site is not built (cargo xtask dist)".into());
    }
    if !axe_js().exists() {
        return Some("axe-core is not installed (cargo xtask dist installs tools/)".into());
    }
    for bin in ["chromium", "chromedriver"] {
        if Command::new("which")
            .arg(bin)
            .output()
            .map_or(true, |o| !o.status.success())
        {
            return Some(format!(
                "`{bin}` is not installed (apt-get install chromium chromium-driver)"
            ));
        }
    }
    None
}

/// Skips (or, under CI=true, fails) when the browser stack is absent.
pub(crate) fn ready(test: &str) -> bool {
    match missing() {
        None => true,
        Some(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: cannot run under CI=true: {why}")
        }
        Some(why) => {
            eprintln!("SKIPPED {test}: {why}");
            false
        }
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process killed on drop.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lab-server serve` on a free port with the built site.
pub(crate) fn server(envs: &[(&str, &str)]) -> (Proc, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lab-server"));
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--static"])
        .arg(dist());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    serving(cmd)
}

/// Starts `cmd` (a `lab-server serve`) and reads where it listens from its
/// first line ("TSC Lab: http://127.0.0.1:PORT/"): the process and
/// `http://127.0.0.1:PORT`.
pub(crate) fn serving(mut cmd: Command) -> (Proc, String) {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("lab-server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("lab-server says where it listens");
    let base = line
        .trim()
        .strip_prefix("TSC Lab: ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .trim_end_matches('/')
        .to_string();
    (Proc(child), base)
}

/// A plain static file server for target/dist: no API at all.
pub(crate) fn static_server(rt: &tokio::runtime::Runtime) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(dist()));
    rt.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

pub(crate) struct Browser {
    pub(crate) client: Client,
    _driver: Proc,
    /// Where the browser saves downloads (the exports).
    pub(crate) downloads: PathBuf,
}

impl Browser {
    pub(crate) async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// A browser with more command-line switches (e.g. `--force-prefers-reduced-motion`).
    pub(crate) async fn start_with(extra: &[&str]) -> Browser {
        let port = free_port();
        let driver = Proc(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = std::env::temp_dir().join(format!("tsclab-chromium-{port}"));
        let downloads = profile.join("downloads");
        let _ = std::fs::remove_dir_all(&downloads);
        std::fs::create_dir_all(&downloads).expect("a download directory");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--window-size=1280,1600",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": args,
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false
                }
            }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        Browser {
            client,
            _driver: driver,
            downloads,
        }
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    pub(crate) async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `cond` (a JS expression) is truthy; returns its value.
    pub(crate) async fn wait(&self, cond: &str, what: &str) -> Value {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.js(&format!("return ({cond});")).await;
            if !(v.is_null() || v == false || v == "" || v == 0) {
                return v;
            }
            if Instant::now() > until {
                self.shot(&format!("FAILED-{}", what.replace(' ', "-")))
                    .await;
                panic!("timed out waiting for {what} ({cond})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
            .text()
            .await
            .expect("text")
    }

    pub(crate) async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// Waits for a finished download and returns its bytes.
    pub(crate) async fn download(&self, name: &str) -> Vec<u8> {
        let path = self.downloads.join(name);
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(bytes) = std::fs::read(&path)
                && !bytes.is_empty()
            {
                return bytes;
            }
            if Instant::now() > until {
                let seen: Vec<_> = std::fs::read_dir(&self.downloads)
                    .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
                    .unwrap_or_default();
                panic!("no download `{name}` (the directory has {seen:?})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn shot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(shots().join(format!("{name}.png")), png);
        }
    }

    /// The browser console since the last call: every entry, and the errors.
    pub(crate) async fn console_errors(&self) -> Vec<String> {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("the browser log");
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or("").to_string())
            .collect()
    }

    pub(crate) async fn assert_no_console_errors(&self, page: &str) {
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "console errors on {page}: {errors:#?}");
    }

    pub(crate) async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// chromedriver's `POST /session/{id}/se/log` (the browser console).
#[derive(Debug)]
pub(crate) struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or("")))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

pub(crate) fn kvm_here() -> bool {
    let host = lab_server::kvm::host::report();
    host.kvm_usable && host.tracing
}

/// axe-core, pinned in tools/package.json (`npm ci` by `cargo xtask dist`).
pub(crate) fn axe_js() -> PathBuf {
    root().join("tools/node_modules/axe-core/axe.min.js")
}

/// The rules the pages are held to: WCAG 2.0 and 2.1, levels A and AA.
pub(crate) const WCAG: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// Runs axe over the page; resolves to its violations, one line each:
/// rule (impact): help — the first nodes' targets and why.
const AXE_RUN: &str = "const [tags, done] = arguments;
    axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
      .then(r => done(r.violations.map(v => `${v.id} (${v.impact}): ${v.help} — ` +
          v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' [' +
            (n.failureSummary || '').replace(/\\s+/g, ' ') + ']').join('; ') +
          (v.nodes.length > 4 ? ` (+${v.nodes.length - 4} more)` : ''))))
      .catch(e => done(['axe failed: ' + e]));";

impl Browser {
    /// axe's WCAG 2.0/2.1 A and AA violations on the page as it is now.
    pub(crate) async fn axe(&self) -> Vec<String> {
        if self.js("return typeof axe === 'undefined';").await == true {
            let src = std::fs::read_to_string(axe_js()).expect("axe.min.js");
            self.client
                .execute(&format!("{src}\nreturn true;"), vec![])
                .await
                .expect("axe-core loads");
        }
        let v = self
            .client
            .execute_async(AXE_RUN, vec![json!(WCAG)])
            .await
            .expect("axe runs");
        v.as_array()
            .into_iter()
            .flatten()
            .map(|l| l.as_str().unwrap_or("?").to_string())
            .collect()
    }
}

/// Fails with every violation axe found on every page or view (name,
/// violations) at once, so one run shows them all.
pub(crate) fn assert_clean(found: &[(String, Vec<String>)]) {
    let bad: Vec<String> = found
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(page, v)| format!("{page}:\n  {}", v.join("\n  ")))
        .collect();
    assert!(
        bad.is_empty(),
        "axe (WCAG 2.0/2.1 A, AA) found violations on {} of the {} checked:\n{}",
        bad.len(),
        found.len(),
        bad.join("\n")
    );
}

/// A verdict badge's word on a backend.
pub(crate) fn verdict(backend: &str) -> String {
    format!("document.querySelector('.lab-verdict[data-backend=\"{backend}\"]')?.dataset.verdict")
}

/// The chapters, in SUMMARY.md order, as built pages.
pub(crate) fn book_chapters() -> Vec<String> {
    let summary = std::fs::read_to_string(root().join("book/src/SUMMARY.md")).expect("SUMMARY.md");
    summary
        .lines()
        .filter_map(|l| {
            let start = l.find("](")? + 2;
            let end = l[start..].find(')')? + start;
            Some(l[start..end].replace(".md", ".html"))
        })
        .collect()
}
