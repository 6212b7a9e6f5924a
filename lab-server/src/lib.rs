//! TSC Lab's server side: real KVM as a scenario backend, the host report,
//! and the conformance check of the `linux-6.18` model against this machine's
//! kernel. The `lab-server` binary is the command line over it.

pub mod bench;
pub mod conform;
pub mod kvm;
pub mod load;
pub mod random;
pub mod server;
pub mod traced;
