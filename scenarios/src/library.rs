//! The scenario library, embedded in the binary (files in `scenarios/library/`).

use crate::ast::Scenario;

/// One library scenario.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The file name without `.tsc`: what `lab-server run NAME` takes.
    pub name: &'static str,
    /// The scenario text, as in the file.
    pub text: &'static str,
}

macro_rules! library {
    ($($name:literal),* $(,)?) => {
        /// Every library scenario, in teaching order.
        pub static LIBRARY: &[Entry] = &[
            $(Entry { name: $name, text: include_str!(concat!("../library/", $name, ".tsc")) },)*
        ];
    };
}

library![
    "qemu-2.0-boot-1",
    "qemu-2.0-boot-2",
    "qemu-2.0-boot-4",
    "qemu-2.0-boot-8",
    "qemu-2.0-slow-reset",
    "qemu-7.2-boot-4-traced",
    "skewed-write",
    "hotplug-after-boot",
    "qemu-reboot-writes-1",
    "snapshot-restore-double-write",
    "snapshot-restore-skewed",
    "u8-generation-wrap",
    "window-0.9s",
    "window-1.2s",
    "zero-writes-after-gap",
    "tsc-offset-attr",
    "khz-mismatch",
    "unstable-host-tsc",
    "qemu-reboot-parked-vcpu-before-3f2a05b31ee9",
    "qemu-reboot-parked-vcpu-after-3f2a05b31ee9",
    "qemu-reset-slow-callbacks",
    "cloud-hypervisor-restore-8383",
    "cloud-hypervisor-restore-8437",
    "firecracker-restore-khz-change",
    "crosvm-restore-in-place",
    "gvisor-write-until-stable",
];

/// Finds a library scenario by name.
pub fn get(name: &str) -> Option<&'static Entry> {
    LIBRARY.iter().find(|e| e.name == name)
}

impl Entry {
    /// Parses the scenario (library scenarios always parse: a test checks it).
    pub fn scenario(&self) -> Result<Scenario, crate::Errors> {
        crate::parse(self.text)
    }
}
