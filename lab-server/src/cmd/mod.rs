//! The commands, one module each; what they share: [`Fail`] and its exit
//! status, and the scenario argument ([`arg`]).

pub(crate) mod arg;
pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod conform;
pub(crate) mod fmt;
pub(crate) mod host;
pub(crate) mod import;
pub(crate) mod imported;
pub(crate) mod list;
pub(crate) mod load;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod show;
pub(crate) mod trace;

use std::io;
use std::process::ExitCode;

/// Why the command stopped early.
pub(crate) enum Fail {
    /// Bad input: exit 2.
    Input(String),
    /// Expectations failed: exit 1.
    Expect,
    /// stdout closed (`| head`): stop quietly.
    Pipe,
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

/// The exit status of a command's result; bad input's message goes to stderr.
pub(crate) fn exit_code(result: Result<(), Fail>) -> ExitCode {
    match result {
        Ok(()) | Err(Fail::Pipe) => ExitCode::SUCCESS,
        Err(Fail::Expect) => ExitCode::from(1),
        Err(Fail::Input(msg)) => {
            eprint!("{msg}");
            if !msg.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(2)
        }
    }
}

/// The runtime of `serve` and `load`.
fn runtime() -> Result<tokio::runtime::Runtime, Fail> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail::Input(format!("tokio: {e}")))
}
