//! The kernel's view of a VM, as its own TSC tracepoints show it.
//!
//! Real KVM tells the lab what it did through four tracepoints ([`Record`]):
//! the offset it computed for a written vCPU (`kvm_write_tsc_offset`), the
//! matching counter after the write (`kvm_track_tsc`), the master clock it
//! decided (`kvm_update_master_clock`) and each vCPU's rewritten pvclock page
//! (`kvm_pvclock_update`). None of them says whether a write *matched*, or
//! which generation it joined: [`KernelView`] infers that, write by write,
//! from the offsets and the counter. The `kvm` backend (records read live
//! through perf) and the trace importer (records read from text) share this
//! one inference, so a live run and an imported trace are told the same way.
//!
//! The rule, for a host with a stable TSC: a matched write takes the
//! generation's offset exactly (`offset = kvm->arch.cur_tsc_offset`); an
//! unmatched one starts a generation, and the counter goes back to 0. With the
//! counter at 0 before and after, only a vCPU already in the generation can
//! have matched. A write at a rate other than the last synchronising write's
//! (`virtual_tsc_khz != last_tsc_khz`) never matches.
//!
//! ```
//! use scenarios::kernel::{KernelView, Track};
//! use scenarios::trace::{Count, Origin};
//!
//! let mut view = KernelView::new();
//! // Two vCPUs created: the first starts generation 1, the second joins it.
//! let off = 0u64.wrapping_sub(5_000_000);
//! let (a, b) = (view.add_vcpu(2_600_000), view.add_vcpu(2_600_000));
//! let track = |nr, online| Some(Track { masterclock: false, offsetmatched: nr, nr_online: online });
//! let first = view.write(a, Origin::Create, Some(off), track(0, 1)).unwrap();
//! assert_eq!(first.count, Count::Reset);
//! let second = view.write(b, Origin::Create, Some(off), track(1, 2)).unwrap();
//! assert_eq!((second.matched, second.count), (true, Count::Counted));
//! assert_eq!(second.cur_tsc_generation, 1);
//! ```

use crate::trace::{Count, Origin};

/// One of KVM's TSC events, as the lab reads it (from binary records, or from
/// a text trace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// `kvm_write_tsc_offset`: the offset KVM computed for a vCPU (`next`),
    /// printed unsigned by the kernel, a two's-complement s64 in fact.
    WriteTscOffset {
        /// `vcpu_id`.
        vcpu: u32,
        /// `previous_tsc_offset`.
        prev: u64,
        /// `next_tsc_offset`.
        next: u64,
    },
    /// `kvm_track_tsc`, raised by `kvm_track_tsc_matching` after a write.
    TrackTsc {
        /// `vcpu_id`.
        vcpu: u32,
        /// `use_master_clock` as stored *before* any update this write asks for.
        masterclock: bool,
        /// `nr_vcpus_matched_tsc` (`offsetmatched` in the text).
        offsetmatched: u32,
        /// `online_vcpus`.
        nr_online: u32,
        /// `host_clock`: the host's vDSO clock mode (1 = TSC).
        hostclock: u32,
    },
    /// `kvm_update_master_clock`: the master clock decided.
    UpdateMasterClock {
        /// `use_master_clock`.
        masterclock: bool,
        /// `host_clock`.
        hostclock: u32,
        /// `offset_matched`: `vcpus_matched` at the decision.
        vcpus_matched: bool,
    },
    /// `kvm_pvclock_update`: a vCPU's pvclock page was rewritten.
    PvclockUpdate {
        /// `vcpu_id`.
        vcpu: u32,
        /// The page's `version`.
        version: u32,
        /// The page's `flags` (PVCLOCK_TSC_STABLE_BIT is bit 0).
        flags: u8,
    },
}

/// What `kvm_track_tsc` printed after a write: the counter the inference reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Track {
    /// `use_master_clock` before the write's request is handled.
    pub masterclock: bool,
    /// `nr_vcpus_matched_tsc` after the write.
    pub offsetmatched: u32,
    /// `online_vcpus`.
    pub nr_online: u32,
}

impl Track {
    /// The counter part of a `kvm_track_tsc` record for vCPU `v`, if `r` is one.
    pub fn of(r: &Record, v: u32) -> Option<Track> {
        match *r {
            Record::TrackTsc {
                vcpu,
                masterclock,
                offsetmatched,
                nr_online,
                ..
            } if vcpu == v => Some(Track {
                masterclock,
                offsetmatched,
                nr_online,
            }),
            _ => None,
        }
    }
}

/// What the trace of one write says the kernel did, as [`KernelView::write`]
/// infers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inferred {
    /// The write joined the current generation.
    pub matched: bool,
    /// The write started a generation (`cur_tsc_generation++`).
    pub new_generation: bool,
    /// What the write did to `nr_vcpus_matched_tsc`.
    pub count: Count,
    /// `nr_vcpus_matched_tsc` after the write: `kvm_track_tsc`'s, or for a
    /// guest write (which prints none) the last one traced, if any.
    pub nr_matched: Option<u32>,
    /// `cur_tsc_generation` after the write.
    pub cur_tsc_generation: u64,
    /// The written vCPU's `this_tsc_generation` after the write.
    pub this_tsc_generation: u64,
}

impl Inferred {
    /// `nr_vcpus_matched_tsc + 1 == online_vcpus`, where the counter is known.
    pub fn vcpus_matched(&self, online: u32) -> Option<bool> {
        self.nr_matched.map(|n| n + 1 == online)
    }
}

/// The kernel's matching state of one VM, inferred from its trace.
///
/// Generations are numbered as the lab sees them: 1 for the first one the
/// trace shows, whatever the kernel's own counter was.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelView {
    /// The offset of the current generation (`cur_tsc_offset`).
    cur_offset: Option<u64>,
    /// `nr_vcpus_matched_tsc` as last traced.
    nr: Option<u32>,
    /// `cur_tsc_generation`.
    generation: u64,
    /// Each vCPU's `this_tsc_generation`.
    this_generation: Vec<u64>,
    /// The offset KVM computed for each vCPU (`kvm_write_tsc_offset.next`).
    offsets: Vec<Option<u64>>,
    /// Each vCPU's `virtual_tsc_khz`.
    khz: Vec<u32>,
    /// The rate of the last synchronising write (`last_tsc_khz`): a write at
    /// another rate never matches. 0 in a new VM, as in the kernel.
    last_khz: u32,
    /// `use_master_clock` as the last event said it (`kvm_track_tsc` prints
    /// the stored value, `kvm_update_master_clock` the new one).
    master: Option<bool>,
}

impl KernelView {
    /// The view of a VM with no vCPU yet.
    pub fn new() -> KernelView {
        KernelView::default()
    }

    /// A vCPU created at `khz` (its `virtual_tsc_khz`); returns its index.
    pub fn add_vcpu(&mut self, khz: u32) -> usize {
        self.offsets.push(None);
        self.khz.push(khz);
        self.this_generation.push(0);
        self.offsets.len() - 1
    }

    /// How many vCPUs the view holds.
    pub fn vcpus(&self) -> usize {
        self.offsets.len()
    }

    /// KVM_SET_TSC_KHZ took effect on vCPU `v`: its `virtual_tsc_khz` is now `khz`.
    pub fn set_khz(&mut self, v: usize, khz: u32) {
        if let Some(k) = self.khz.get_mut(v) {
            *k = khz;
        }
    }

    /// Reads `use_master_clock` from every record that prints it.
    pub fn observe(&mut self, records: &[Record]) {
        for r in records {
            match r {
                Record::TrackTsc { masterclock, .. }
                | Record::UpdateMasterClock { masterclock, .. } => self.master = Some(*masterclock),
                _ => {}
            }
        }
    }

    /// `use_master_clock` as the last record said it, if any did.
    pub fn master(&self) -> Option<bool> {
        self.master
    }

    /// `nr_vcpus_matched_tsc` as last traced.
    pub fn nr_matched(&self) -> Option<u32> {
        self.nr
    }

    /// `cur_tsc_generation` as the lab numbers it (0 before any write).
    pub fn cur_tsc_generation(&self) -> u64 {
        self.generation
    }

    /// Each vCPU's `this_tsc_generation`, by index.
    pub fn this_tsc_generation(&self) -> &[u64] {
        &self.this_generation
    }

    /// The offset KVM last computed for vCPU `v`, if the trace showed one.
    pub fn offset(&self, v: usize) -> Option<u64> {
        self.offsets.get(v).copied().flatten()
    }

    /// The offset of the current generation, if a write started one.
    pub fn cur_offset(&self) -> Option<u64> {
        self.cur_offset
    }

    /// One write to vCPU `v` (an index from [`KernelView::add_vcpu`]), with
    /// what the trace showed of it: `next` from `kvm_write_tsc_offset`,
    /// `track` from the `kvm_track_tsc` that followed.
    ///
    /// A guest write (since Linux 5.10 it only moves the offset, and prints
    /// no `kvm_track_tsc`) leaves the matching state as it is. Any other
    /// write needs both records; without them it returns `None` and the view
    /// is unchanged but for the offset, if one was traced.
    pub fn write(
        &mut self,
        v: usize,
        origin: Origin,
        next: Option<u64>,
        track: Option<Track>,
    ) -> Option<Inferred> {
        if v >= self.vcpus() {
            return None;
        }
        if let Some(n) = next {
            self.offsets[v] = Some(n);
        }
        if origin == Origin::Guest {
            return Some(Inferred {
                matched: false,
                new_generation: false,
                count: Count::Untouched,
                nr_matched: self.nr,
                cur_tsc_generation: self.generation,
                this_tsc_generation: self.this_generation[v],
            });
        }
        let (next, nr) = (next?, track?.offsetmatched);
        let before = self.nr.unwrap_or(0);
        let same_rate = self.khz[v] == self.last_khz;
        self.last_khz = self.khz[v];
        let matched = same_rate
            && Some(next) == self.cur_offset
            && (nr > before
                || (nr == before && (nr > 0 || self.this_generation[v] == self.generation)));
        let count = if !matched {
            self.generation += 1;
            self.cur_offset = Some(next);
            Count::Reset
        } else if nr > before {
            Count::Counted
        } else {
            Count::AlreadyCounted
        };
        self.this_generation[v] = self.generation;
        self.nr = Some(nr);
        Some(Inferred {
            matched,
            new_generation: !matched,
            count,
            nr_matched: Some(nr),
            cur_tsc_generation: self.generation,
            this_tsc_generation: self.generation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(nr: u32, online: u32) -> Option<Track> {
        Some(Track {
            masterclock: false,
            offsetmatched: nr,
            nr_online: online,
        })
    }

    #[test]
    fn qemu_boot_three_writes_per_vcpu() {
        let mut view = KernelView::new();
        let off = 0u64.wrapping_sub(4_000_000_000);
        let mut counts = Vec::new();
        for n in 0..4 {
            let v = view.add_vcpu(2_600_000);
            counts.push(view.write(v, Origin::Create, Some(off), track(n, n + 1)));
        }
        for _ in 0..2 {
            for v in 0..4 {
                counts.push(view.write(v, Origin::Write, Some(off), track(3, 4)));
            }
        }
        let counts: Vec<Count> = counts.into_iter().map(|i| i.unwrap().count).collect();
        assert_eq!(counts[0], Count::Reset);
        assert!(counts[1..4].iter().all(|&c| c == Count::Counted));
        assert!(counts[4..].iter().all(|&c| c == Count::AlreadyCounted));
        assert_eq!(view.cur_tsc_generation(), 1);
    }

    #[test]
    fn a_write_at_another_rate_never_matches() {
        let mut view = KernelView::new();
        let (a, b) = (view.add_vcpu(1000), view.add_vcpu(1000));
        view.write(a, Origin::Create, Some(7), track(0, 2));
        view.set_khz(b, 2000);
        let i = view.write(b, Origin::Write, Some(7), track(0, 2)).unwrap();
        assert_eq!(i.count, Count::Reset);
    }

    #[test]
    fn a_guest_write_moves_only_the_offset() {
        let mut view = KernelView::new();
        let a = view.add_vcpu(1000);
        view.write(a, Origin::Create, Some(7), track(0, 1));
        let i = view.write(a, Origin::Guest, Some(9), None).unwrap();
        assert_eq!((i.count, i.nr_matched), (Count::Untouched, Some(0)));
        assert_eq!(view.offset(a), Some(9));
        assert_eq!(view.write(a, Origin::Write, Some(9), None), None);
    }

    #[test]
    fn master_follows_the_last_record_that_prints_it() {
        let mut view = KernelView::new();
        assert_eq!(view.master(), None);
        view.observe(&[Record::UpdateMasterClock {
            masterclock: true,
            hostclock: 1,
            vcpus_matched: true,
        }]);
        assert_eq!(view.master(), Some(true));
    }
}
