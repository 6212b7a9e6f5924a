//! What the tests that start processes share: a child bounded in time.

use std::io::Read;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// Waits for `child` at most `limit`, then kills it; its output either way.
pub(crate) fn bounded(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    // Read the pipes on threads, so a chatty child cannot block on them.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let so = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let se = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let s = child.wait().expect("wait after kill");
            panic!(
                "a child ran past {limit:?} and was killed ({s}); stderr: {}",
                String::from_utf8_lossy(&se.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: so.join().unwrap_or_default(),
        stderr: se.join().unwrap_or_default(),
    }
}
