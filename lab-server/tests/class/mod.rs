//! The class harness the replica tests share: one Redis, N `lab-server
//! serve --redis` replicas and one reverse proxy in front, HAProxy
//! (deploy/haproxy.cfg.in) or nginx (deploy/nginx.conf.in), each filled in
//! as the README says: round robin, no sticky sessions. On loopback, all
//! started by [`Class::start`] and killed and reaped when it drops.
//!
//! Without redis-server, haproxy or nginx a test says so and passes as
//! skipped (`cargo xtask test` installs them with apt as root) — except
//! under CI=true, where it must run.

// Each test binary uses a part of the harness.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::web::{Proc, dist, free_port, root, serving};

fn have(bin: &str) -> bool {
    Command::new("which")
        .arg(bin)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The reverse proxy in front of the replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proxy {
    HAProxy,
    Nginx,
}

impl Proxy {
    fn binary(self) -> &'static str {
        match self {
            Proxy::HAProxy => "haproxy",
            Proxy::Nginx => "nginx",
        }
    }
}

/// Skips (or, under CI=true, fails) without redis-server and `proxy`.
pub(crate) fn ready(test: &str, proxy: Proxy) -> bool {
    let missing: Vec<&str> = ["redis-server", "redis-cli", proxy.binary()]
        .into_iter()
        .filter(|b| !have(b))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{} not installed (apt-get install redis-server {})",
        missing.join(", "),
        proxy.binary()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: cannot run under CI=true: {why}");
    }
    eprintln!("SKIPPED {test}: {why}");
    false
}

fn wait_for_port(port: u16, what: &str) {
    let until = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn redis(port: u16) -> Proc {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    wait_for_port(port, "redis-server");
    Proc(child)
}

/// A replica (class token `class`, instructor token `teach`), serving the
/// built site if `site`; its port.
fn replica(name: &str, redis_port: u16, site: bool) -> (Proc, u16) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lab-server"));
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .args(["--token", "class", "--instructor-token", "teach"])
        .args(["--runs-per-minute", "100000", "--queue", "4000"])
        .args(["--replica", name])
        .args(["--redis", &format!("redis://127.0.0.1:{redis_port}/")]);
    if site {
        cmd.arg("--static").arg(dist());
    }
    cmd.env("RUST_LOG", "warn");
    let (proc, base) = serving(cmd);
    let port = base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {base}"));
    (proc, port)
}

impl Proxy {
    /// The proxy on 127.0.0.1:`listen` in front of `backends` (name, port),
    /// from its template in deploy/ filled in under `dir`.
    fn start(self, listen: u16, backends: &[(String, u16)], dir: &Path) -> Proc {
        let (template, name) = match self {
            Proxy::HAProxy => ("haproxy.cfg.in", "haproxy.cfg"),
            Proxy::Nginx => ("nginx.conf.in", "nginx.conf"),
        };
        let servers: String = backends
            .iter()
            .map(|(name, port)| match self {
                Proxy::HAProxy => format!("    server {name} 127.0.0.1:{port}\n"),
                Proxy::Nginx => format!("        server 127.0.0.1:{port};\n"),
            })
            .collect();
        let text =
            std::fs::read_to_string(root().join("deploy").join(template)).expect("the template");
        let file = dir.join(name);
        let text = text
            .replace("@LISTEN@", &format!("127.0.0.1:{listen}"))
            .replace("@BACKENDS@", &servers);
        std::fs::write(&file, text).expect("the config");
        let mut cmd = Command::new(self.binary());
        match self {
            Proxy::HAProxy => cmd.arg("-db").arg("-f").arg(&file),
            // As the template's header says to run it, from a directory of
            // its own; one process (`master_process off`), so that killing
            // it on drop leaves no worker behind.
            Proxy::Nginx => cmd
                .arg("-p")
                .arg(dir)
                .args(["-e", "stderr", "-c"])
                .arg(&file)
                .args(["-g", "daemon off; master_process off;"]),
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", self.binary()));
        wait_for_port(listen, self.binary());
        Proc(child)
    }
}

/// A running class: Redis, the replicas by name, the proxy.
pub(crate) struct Class {
    /// The proxy's address, `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    pub(crate) redis_port: u16,
    /// Each replica's process and port, by name (`r1`, `r2`, …).
    pub(crate) replicas: BTreeMap<String, (Proc, u16)>,
    // Dropped last: the replicas go before the state they share.
    _proxy: Proc,
    _redis: Proc,
}

impl Class {
    /// `n` replicas behind `proxy`, sharing one Redis; serving the site if
    /// `site`. `scratch` names the test's directory under target/tmp-tests.
    pub(crate) fn start(scratch: &str, n: usize, site: bool, proxy: Proxy) -> Class {
        let dir: PathBuf = root().join("target/tmp-tests").join(scratch);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let redis_port = free_port();
        let redis = redis(redis_port);
        let replicas: BTreeMap<String, (Proc, u16)> = (1..=n)
            .map(|i| {
                let name = format!("r{i}");
                let r = replica(&name, redis_port, site);
                (name, r)
            })
            .collect();
        let backends: Vec<(String, u16)> =
            replicas.iter().map(|(n, (_, p))| (n.clone(), *p)).collect();
        let listen = free_port();
        let proxy = proxy.start(listen, &backends, &dir);
        Class {
            base: format!("http://127.0.0.1:{listen}"),
            redis_port,
            replicas,
            _proxy: proxy,
            _redis: redis,
        }
    }

    /// Kills replica `name` at once (SIGKILL), as a machine lost would be.
    pub(crate) fn kill(&mut self, name: &str) {
        let (proc, _) = self.replicas.get_mut(name).expect("a replica of the class");
        proc.0.kill().expect("SIGKILL");
        let _ = proc.0.wait();
    }

    /// The replica that runs run `id` (its owner in Redis).
    pub(crate) fn owner(&self, run: &str) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.redis_port.to_string()])
            .args(["GET", &format!("tsclab:run:{run}:owner")])
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}
