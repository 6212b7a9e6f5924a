//! Why real KVM could not be used: the ioctl and its errno, kept as numbers
//! until a person reads them.

use std::fmt;

use scenarios::StepError;

/// A failure to set up or drive real KVM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvmError {
    /// The KVM device (`/dev/kvm`, or `LAB_KVM_DEVICE`) cannot be opened.
    Open {
        /// The device path.
        path: String,
        /// `open(2)`'s errno.
        errno: i32,
    },
    /// An ioctl or call failed: which one, and its errno.
    Os {
        /// The ioctl (`KVM_CREATE_VM`) or call (`perf_event_open`), as the kernel names it.
        call: &'static str,
        /// The errno it failed with.
        errno: i32,
    },
    /// Something this host lacks, in a sentence.
    Unavailable(String),
}

impl KvmError {
    /// A failed kvm-ioctls call.
    pub fn ioctl(call: &'static str, e: kvm_ioctls::Error) -> Self {
        KvmError::Os {
            call,
            errno: e.errno(),
        }
    }

    /// A failed I/O call (its errno, or EIO when the error carries none).
    pub fn io(call: &'static str, e: &std::io::Error) -> Self {
        KvmError::Os {
            call,
            errno: e.raw_os_error().unwrap_or(libc::EIO),
        }
    }

    /// The errno, where there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            KvmError::Open { errno, .. } | KvmError::Os { errno, .. } => Some(*errno),
            KvmError::Unavailable(_) => None,
        }
    }
}

impl fmt::Display for KvmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvmError::Open { path, errno } => match *errno {
                libc::ENOENT => write!(
                    f,
                    "{path} does not exist: this machine has no KVM (load kvm_intel or kvm_amd, or enable nested virtualisation)"
                ),
                libc::EACCES | libc::EPERM => write!(
                    f,
                    "permission denied on {path}: add your user to the `kvm` group (`sudo usermod -aG kvm $USER`, then log in again) or grant access with `sudo setfacl -m u:$USER:rw {path}`"
                ),
                e => write!(
                    f,
                    "cannot open {path}: {}",
                    std::io::Error::from_raw_os_error(e)
                ),
            },
            KvmError::Os { call, errno } => {
                write!(f, "{call}: {}", std::io::Error::from_raw_os_error(*errno))
            }
            KvmError::Unavailable(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for KvmError {}

impl From<KvmError> for StepError {
    fn from(e: KvmError) -> StepError {
        match e {
            KvmError::Os { call, errno } => StepError::Os { call, errno },
            other => StepError::Refused(other.to_string()),
        }
    }
}
