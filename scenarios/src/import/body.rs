//! The bodies of the four TSC events, as `arch/x86/kvm/trace.h` prints them:
//!
//! ```text
//! kvm_write_tsc_offset:    vcpu=%u prev=%llu next=%llu
//! kvm_track_tsc:           vcpu_id %u masterclock %u offsetmatched %u nr_online %u hostclock %s
//! kvm_update_master_clock: masterclock %d hostclock %s offsetmatched %u
//! kvm_pvclock_update:      vcpu_id %u, pvclock { version %u, tsc_timestamp 0x%llx, … flags 0x%x }
//! ```
//!
//! A body is read as `key=value` and `key value` pairs (commas and braces
//! dropped), so spacing, field order and fields the lab does not read do not
//! matter. Offsets are printed unsigned but are s64: both forms are read.

use crate::kernel::Record;

/// The four events, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TscEvent {
    WriteTscOffset,
    TrackTsc,
    UpdateMasterClock,
    PvclockUpdate,
}

impl TscEvent {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TscEvent::WriteTscOffset => "kvm_write_tsc_offset",
            TscEvent::TrackTsc => "kvm_track_tsc",
            TscEvent::UpdateMasterClock => "kvm_update_master_clock",
            TscEvent::PvclockUpdate => "kvm_pvclock_update",
        }
    }
}

/// A decimal number that fits a u64, the whole of `s`.
pub(crate) fn decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// Which TSC event `name` is, if it is one.
pub(crate) fn tsc_event(name: &[u8]) -> Option<TscEvent> {
    match name {
        b"kvm_write_tsc_offset" => Some(TscEvent::WriteTscOffset),
        b"kvm_track_tsc" => Some(TscEvent::TrackTsc),
        b"kvm_update_master_clock" => Some(TscEvent::UpdateMasterClock),
        b"kvm_pvclock_update" => Some(TscEvent::PvclockUpdate),
        _ => None,
    }
}

/// Whether `name` is one of the four.
pub(crate) fn is_tsc_event(name: &[u8]) -> bool {
    tsc_event(name).is_some()
}

/// Why a body could not be read: the field, and what is wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BodyError {
    pub(crate) field: &'static str,
    pub(crate) problem: &'static str,
}

/// The `key=value` / `key value` pairs of a body.
fn pairs(body: &[u8], mut f: impl FnMut(&[u8], &[u8])) {
    let mut key: Option<&[u8]> = None;
    for tok in body.split(|&b| b == b' ' || b == b'\t') {
        let tok = tok.strip_suffix(b",").unwrap_or(tok);
        if tok.is_empty() {
            continue;
        }
        if tok == b"{" || tok == b"}" {
            key = None;
            continue;
        }
        if let Some(eq) = tok.iter().position(|&b| b == b'=') {
            f(&tok[..eq], &tok[eq + 1..]);
            key = None;
        } else if let Some(k) = key.take() {
            f(k, tok);
        } else {
            key = Some(tok);
        }
    }
}

/// A decimal or `0x` hexadecimal u64; a leading `-` wraps (an s64 printed signed).
fn number(v: &[u8]) -> Option<u64> {
    if let Some(n) = v.strip_prefix(b"-") {
        return number(n).map(|x| 0u64.wrapping_sub(x));
    }
    if let Some(h) = v.strip_prefix(b"0x").or_else(|| v.strip_prefix(b"0X")) {
        if h.is_empty() || h.len() > 16 {
            return None;
        }
        let mut x: u64 = 0;
        for &b in h {
            x = (x << 4) | u64::from(char::from(b).to_digit(16)?);
        }
        return Some(x);
    }
    decimal(v)
}

/// `hostclock`: `none` = 0, `tsc` = 1 (`vdso_clock_mode`), older kernels'
/// `hpet` = 2, or the number the kernel prints for a mode it has no name for.
fn hostclock(v: &[u8]) -> Option<u32> {
    match v {
        b"none" => Some(0),
        b"tsc" => Some(1),
        b"hpet" => Some(2),
        _ => number(v).and_then(|x| u32::try_from(x).ok()),
    }
}

/// A field's value, checked.
#[derive(Clone, Copy, Debug, Default)]
struct Slot<T>(Option<Result<T, &'static str>>);

impl<T: Copy> Slot<T> {
    fn set(&mut self, v: Option<T>, why: &'static str) {
        self.0 = Some(v.ok_or(why));
    }
    fn get(self, field: &'static str) -> Result<T, BodyError> {
        match self.0 {
            None => Err(BodyError {
                field,
                problem: "is missing",
            }),
            Some(Err(problem)) => Err(BodyError { field, problem }),
            Some(Ok(v)) => Ok(v),
        }
    }
}

const NOT_A_NUMBER: &str = "is not a number";
const TOO_BIG: &str = "is out of range";

fn u32_of(v: &[u8]) -> Option<u32> {
    number(v).and_then(|x| u32::try_from(x).ok())
}

fn bool_of(v: &[u8]) -> Option<bool> {
    number(v).map(|x| x != 0)
}

/// Reads the body of event `e`.
pub(crate) fn parse(e: TscEvent, body: &[u8]) -> Result<Record, BodyError> {
    match e {
        TscEvent::WriteTscOffset => {
            let (mut vcpu, mut prev, mut next) = (Slot(None), Slot(None), Slot(None));
            pairs(body, |k, v| match k {
                b"vcpu" | b"vcpu_id" => vcpu.set(u32_of(v), NOT_A_NUMBER),
                b"prev" => prev.set(number(v), NOT_A_NUMBER),
                b"next" => next.set(number(v), NOT_A_NUMBER),
                _ => {}
            });
            Ok(Record::WriteTscOffset {
                vcpu: vcpu.get("vcpu")?,
                prev: prev.get("prev")?,
                next: next.get("next")?,
            })
        }
        TscEvent::TrackTsc => {
            let (mut vcpu, mut master, mut matched, mut online, mut clock) =
                (Slot(None), Slot(None), Slot(None), Slot(None), Slot(None));
            pairs(body, |k, v| match k {
                b"vcpu_id" | b"vcpu" => vcpu.set(u32_of(v), NOT_A_NUMBER),
                b"masterclock" => master.set(bool_of(v), NOT_A_NUMBER),
                b"offsetmatched" => matched.set(u32_of(v), NOT_A_NUMBER),
                b"nr_online" => online.set(u32_of(v), NOT_A_NUMBER),
                b"hostclock" => clock.set(hostclock(v), "is not none, tsc, hpet or a number"),
                _ => {}
            });
            Ok(Record::TrackTsc {
                vcpu: vcpu.get("vcpu_id")?,
                masterclock: master.get("masterclock")?,
                offsetmatched: matched.get("offsetmatched")?,
                nr_online: online.get("nr_online")?,
                hostclock: clock.get("hostclock")?,
            })
        }
        TscEvent::UpdateMasterClock => {
            let (mut master, mut clock, mut matched) = (Slot(None), Slot(None), Slot(None));
            pairs(body, |k, v| match k {
                b"masterclock" => master.set(bool_of(v), NOT_A_NUMBER),
                b"hostclock" => clock.set(hostclock(v), "is not none, tsc, hpet or a number"),
                b"offsetmatched" => matched.set(bool_of(v), NOT_A_NUMBER),
                _ => {}
            });
            Ok(Record::UpdateMasterClock {
                masterclock: master.get("masterclock")?,
                hostclock: clock.get("hostclock")?,
                vcpus_matched: matched.get("offsetmatched")?,
            })
        }
        TscEvent::PvclockUpdate => {
            let (mut vcpu, mut version, mut flags) = (Slot(None), Slot(None), Slot(None));
            pairs(body, |k, v| match k {
                b"vcpu_id" | b"vcpu" => vcpu.set(u32_of(v), NOT_A_NUMBER),
                b"version" => version.set(u32_of(v), NOT_A_NUMBER),
                b"flags" => flags.set(number(v).and_then(|x| u8::try_from(x).ok()), TOO_BIG),
                _ => {}
            });
            Ok(Record::PvclockUpdate {
                vcpu: vcpu.get("vcpu_id")?,
                version: version.get("version")?,
                flags: flags.get("flags")?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_bodies() {
        assert_eq!(
            parse(
                TscEvent::WriteTscOffset,
                b"vcpu=2 prev=0 next=18446744069414584320"
            ),
            Ok(Record::WriteTscOffset {
                vcpu: 2,
                prev: 0,
                next: 18_446_744_069_414_584_320
            })
        );
        assert_eq!(
            parse(
                TscEvent::WriteTscOffset,
                b"vcpu=2   prev=-5 next=-4294967296"
            ),
            Ok(Record::WriteTscOffset {
                vcpu: 2,
                prev: 0u64.wrapping_sub(5),
                next: 18_446_744_069_414_584_320
            })
        );
        assert_eq!(
            parse(
                TscEvent::TrackTsc,
                b"vcpu_id 3 masterclock 0 offsetmatched 2 nr_online 4 hostclock tsc"
            ),
            Ok(Record::TrackTsc {
                vcpu: 3,
                masterclock: false,
                offsetmatched: 2,
                nr_online: 4,
                hostclock: 1
            })
        );
        assert_eq!(
            parse(
                TscEvent::UpdateMasterClock,
                b"masterclock 1 hostclock 0x0 offsetmatched 1"
            ),
            Ok(Record::UpdateMasterClock {
                masterclock: true,
                hostclock: 0,
                vcpus_matched: true
            })
        );
        assert_eq!(
            parse(
                TscEvent::PvclockUpdate,
                b"vcpu_id 1, pvclock { version 4, tsc_timestamp 0x1a2b, system_time 0x3c, tsc_to_system_mul 0x9ab1c, tsc_shift -1, flags 0x1 }"
            ),
            Ok(Record::PvclockUpdate {
                vcpu: 1,
                version: 4,
                flags: 1
            })
        );
    }

    #[test]
    fn a_bad_body_names_its_field() {
        assert_eq!(
            parse(
                TscEvent::TrackTsc,
                b"vcpu_id 3 masterclock 0 offsetmatched 2"
            ),
            Err(BodyError {
                field: "nr_online",
                problem: "is missing"
            })
        );
        assert_eq!(
            parse(TscEvent::WriteTscOffset, b"vcpu=x prev=0 next=1").unwrap_err(),
            BodyError {
                field: "vcpu",
                problem: NOT_A_NUMBER
            }
        );
        assert_eq!(
            parse(
                TscEvent::TrackTsc,
                b"vcpu_id 0 masterclock 0 offsetmatched 0 nr_online 1 hostclock kvmclock"
            )
            .unwrap_err()
            .field,
            "hostclock"
        );
    }
}
