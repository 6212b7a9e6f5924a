//! What the lab reads from tracefs: the TSC events' `format` files (their
//! ids and field offsets), at first use, once per process. The events
//! themselves come through perf (the `perf` module); no trace option, filter or
//! instance is set, so nothing global changes and nothing is left behind.
//!
//! Earlier versions of the lab read text from a private instance
//! (`kvmlab_<pid>`); one left by a process that died is still removed here.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::format::{Decoder, EVENTS, EventFormat};

/// Where tracefs is (or gets) mounted.
pub(crate) const TRACEFS: &str = "/sys/kernel/tracing";

/// tracefs's path: `LAB_TRACEFS` if set (tests use it to take tracing away).
fn tracefs_path() -> PathBuf {
    std::env::var_os("LAB_TRACEFS").map_or_else(|| PathBuf::from(TRACEFS), PathBuf::from)
}

/// The prefix of the instances earlier versions made.
const PREFIX: &str = "kvmlab_";

/// Why tracing is unavailable, in a sentence.
#[derive(Clone, Debug)]
pub(crate) struct Unavailable(pub(crate) String);

static DECODER: OnceLock<Result<Decoder, Unavailable>> = OnceLock::new();

/// The decoder of the TSC events, from this kernel's format files (read once).
pub(crate) fn decoder() -> Result<&'static Decoder, Unavailable> {
    DECODER
        .get_or_init(|| {
            let root = mounted_root()?;
            remove_stale_instances(&root);
            let formats = EVENTS
                .iter()
                .map(|ev| read_format(&root, ev))
                .collect::<Result<Vec<_>, _>>()?;
            Decoder::new(&formats).map_err(|e| Unavailable(e.to_string()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One event's format file, parsed.
fn read_format(root: &Path, event: &str) -> Result<EventFormat, Unavailable> {
    let path = root.join("events/kvm").join(event).join("format");
    let text = fs::read_to_string(&path).map_err(|e| {
        Unavailable(if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "the kernel has no kvm:{event} tracepoint ({} is missing)",
                path.display()
            )
        } else {
            format!("{}: {e}", path.display())
        })
    })?;
    EventFormat::parse(event, &text).map_err(|e| Unavailable(e.to_string()))
}

/// The events read, with their tracepoint ids: `kvm_write_tsc_offset (83)`, …
pub fn events_read() -> Vec<String> {
    match decoder() {
        Ok(d) => d.events().map(|(e, id)| format!("{e} ({id})")).collect(),
        Err(_) => Vec::new(),
    }
}

/// tracefs's root, mounting it when this process may.
fn mounted_root() -> Result<PathBuf, Unavailable> {
    let root = tracefs_path();
    match fs::metadata(root.join("available_events")) {
        Ok(_) => return Ok(root),
        // Mounted, but not for us: mounting again will not help.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(Unavailable(format!(
                "{} is not readable by this user ({e}): run as root (or with CAP_PERFMON and read access to tracefs)",
                root.display()
            )));
        }
        Err(_) => {}
    }
    if root != Path::new(TRACEFS) {
        return Err(Unavailable(format!("no tracefs at {}", root.display())));
    }
    // Mounting needs CAP_SYS_ADMIN: as root, try once; otherwise say how.
    let status = std::process::Command::new("mount")
        .args(["-t", "tracefs", "nodev", TRACEFS])
        .stderr(std::process::Stdio::null())
        .status();
    if root.join("available_events").exists() {
        return Ok(root);
    }
    Err(Unavailable(match status {
        Ok(_) => format!(
            "tracefs is not mounted at {TRACEFS} and could not be mounted (as root: `mount -t tracefs nodev {TRACEFS}`)"
        ),
        Err(e) => format!("tracefs is not mounted at {TRACEFS} and `mount` failed to start: {e}"),
    }))
}

/// Removes `kvmlab_<pid>` instances whose process is gone; nothing else.
fn remove_stale_instances(root: &Path) {
    let Ok(entries) = fs::read_dir(root.join("instances")) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir(e.path());
        }
    }
}

/// How many `kvmlab_` instances exist (for leak checks).
pub fn instance_count() -> usize {
    fs::read_dir(tracefs_path().join("instances"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
                .count()
        })
        .unwrap_or(0)
}
