//! The commands, one module each; what they share: [`Fail`] and its exit
//! status, and the scenario argument ([`arg`]).
//!
//! Exit status: 0 success; 1 an expectation failed ([`Fail::Expect`]);
//! 2 bad input ([`Fail::Input`], and clap's own usage errors); 3 real KVM
//! or the kernel's tracing is not available here ([`Fail::Unavailable`]).

pub(crate) mod arg;
pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod conform;
pub(crate) mod fmt;
pub(crate) mod generate;
pub(crate) mod host;
pub(crate) mod import;
pub(crate) mod imported;
pub(crate) mod list;
pub(crate) mod load;
pub(crate) mod notebook;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod show;
pub(crate) mod trace;

use std::io::{self, Write};
use std::process::ExitCode;

use lab_server::kvm::KvmError;

use crate::render::style;

/// Why the command stopped early.
#[derive(Debug)]
pub(crate) enum Fail {
    /// Bad input: exit 2.
    Input(String),
    /// Expectations failed: exit 1.
    Expect,
    /// Real KVM or the kernel's tracing cannot be used on this machine
    /// (no /dev/kvm, no permission, no tracefs): exit 3. Nothing the input
    /// could change; the message says what to do about the machine.
    Unavailable(String),
    /// stdout closed (`| head`): stop quietly.
    Pipe,
}

impl Fail {
    /// Real KVM could not be set up: `what: why`. Every [`KvmError`] of
    /// setting up (opening the device, creating the VM) means this machine's
    /// KVM is not usable here.
    pub(crate) fn kvm(what: &str, e: &KvmError) -> Fail {
        Fail::Unavailable(format!("{what}: {e}"))
    }
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Fail::Pipe
        } else {
            Fail::Input(format!("lab-server: {e}"))
        }
    }
}

/// The exit status of a command's result; the message of bad input or of
/// what is unavailable goes to stderr, its `file:line:col:` coloured as
/// `color` says.
pub(crate) fn exit_code(result: Result<(), Fail>, color: anstream::ColorChoice) -> ExitCode {
    let (msg, code) = match result {
        Ok(()) | Err(Fail::Pipe) => return ExitCode::SUCCESS,
        Err(Fail::Expect) => return ExitCode::from(1),
        Err(Fail::Input(msg)) => (msg, 2),
        Err(Fail::Unavailable(msg)) => (msg, 3),
    };
    let mut err = anstream::AutoStream::new(io::stderr().lock(), color);
    let newline = if msg.ends_with('\n') { "" } else { "\n" };
    // Nothing is left to tell if stderr is gone too.
    let _ = write!(err, "{}{newline}", style::error(&msg));
    ExitCode::from(code)
}

/// The runtime of `serve` and `load`.
fn runtime() -> Result<tokio::runtime::Runtime, Fail> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail::Input(format!("tokio: {e}")))
}
