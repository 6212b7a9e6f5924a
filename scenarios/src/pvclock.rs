//! The pvclock page the guest reads: `struct pvclock_vcpu_time_info` of
//! `arch/x86/include/asm/pvclock-abi.h`, the layout shared by every kernel
//! version this lab models, and its one flag the lab cares about.

/// `PVCLOCK_TSC_STABLE_BIT`: bit 0 of `flags`. Set by `kvm_guest_time_update`
/// only while the VM uses the master clock; a guest that sees it on every vCPU
/// trusts kvmclock as a stable, monotonic clocksource.
pub const PVCLOCK_TSC_STABLE_BIT: u8 = 1 << 0;

/// Byte offset of `u32 version` (odd while the host is writing the page).
pub const VERSION_OFFSET: usize = 0;
/// Byte offset of `u64 tsc_timestamp`.
pub const TSC_TIMESTAMP_OFFSET: usize = 8;
/// Byte offset of `u64 system_time`.
pub const SYSTEM_TIME_OFFSET: usize = 16;
/// Byte offset of `u32 tsc_to_system_mul`.
pub const TSC_TO_SYSTEM_MUL_OFFSET: usize = 24;
/// Byte offset of `s8 tsc_shift`.
pub const TSC_SHIFT_OFFSET: usize = 28;
/// Byte offset of `u8 flags`.
pub const FLAGS_OFFSET: usize = 29;
/// `sizeof(struct pvclock_vcpu_time_info)`: 32 bytes, 32-byte aligned.
pub const SIZE: usize = 32;

/// Whether `flags` of a pvclock page carry [`PVCLOCK_TSC_STABLE_BIT`].
pub fn tsc_stable(flags: u8) -> bool {
    flags & PVCLOCK_TSC_STABLE_BIT != 0
}
