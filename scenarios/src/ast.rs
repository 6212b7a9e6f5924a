//! The parsed form of a scenario.
//!
//! A scenario is an ordered list of [`Stmt`]s, one per source line, exactly as
//! written: comments and blank lines are kept, so text → AST → text is
//! lossless and the notebook can edit a scenario through its JSON form
//! without dropping an instructor's notes. Leaf values (targets, TSC values,
//! durations) serialise as their text form, which also keeps 64-bit TSC
//! values exact in JavaScript.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::trace::BackendId;

/// A whole scenario file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// The top-level statements, in source order.
    pub stmts: Vec<Stmt>,
}

/// One line of a scenario (a `repeat` owns the lines up to its `end`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stmt {
    /// 1-based source line; 0 for statements built in code.
    #[serde(default)]
    pub line: u32,
    /// What the line says.
    #[serde(flatten)]
    pub kind: StmtKind,
    /// A `# …` comment after the statement on the same line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// What a line says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum StmtKind {
    /// An empty line.
    Blank,
    /// A line that holds only a `#` comment (the text after `#`).
    Comment {
        /// The text after `#`, leading spaces kept, trailing ones dropped.
        text: String,
    },
    /// `title TEXT` — the scenario's name in the library and the notebook.
    Title {
        /// TEXT: the rest of the line, `#` included.
        text: String,
    },
    /// `story TEXT` — one line of the story; consecutive lines form a paragraph.
    Story {
        /// TEXT: the rest of the line, `#` included; empty ends a paragraph.
        text: String,
    },
    /// `source TEXT` — the commit or VMM issue the scenario reproduces.
    Source {
        /// TEXT: the rest of the line, `#` included (`cloud-hypervisor#8383`).
        text: String,
    },
    /// `set KEY VALUE` — a host or model setting; only before the first VM statement.
    Set {
        /// KEY and VALUE: `set tsc_khz 2_600_000`, `set host_tsc unstable`.
        setting: Setting,
    },
    /// `create N` — KVM_CREATE_VCPU N times; each creation is the kernel's own TSC write of 0.
    Create {
        /// N, at least 1.
        count: u32,
    },
    /// `write T V` — host-initiated MSR_IA32_TSC write (KVM_SET_MSRS) to each vCPU of T.
    Write {
        /// T: `*`, `3`, `0,2`, `1-3`.
        targets: Targets,
        /// V: `0`, `5_000_000`, `now`, `now@0+1ms`.
        value: TscValue,
    },
    /// `guest-write T V` — the guest itself executes WRMSR IA32_TSC on each vCPU
    /// of T (entering the vCPU handles its pending requests, as `run` does).
    GuestWrite {
        /// T: `*`, `3`, `0,2`, `1-3`.
        targets: Targets,
        /// V: `0`, `now`, `now-10ms`.
        value: TscValue,
    },
    /// `tsc-khz T KHZ` — KVM_SET_TSC_KHZ on each vCPU of T.
    TscKhz {
        /// T: `*`, `3`, `0,2`, `1-3`.
        targets: Targets,
        /// KHZ, the new `virtual_tsc_khz`; 0 asks for the host's rate, as the ioctl does.
        khz: u32,
    },
    /// `set-offset T OFFSET` — KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET), Linux ≥ 5.16.
    SetOffset {
        /// T: `*`, `3`, `0,2`, `1-3`.
        targets: Targets,
        /// OFFSET: `-5000`, `0x1000`, `offset@0`, `offset@0+100`.
        offset: OffsetValue,
    },
    /// `set-clock` — KVM_SET_CLOCK: recomputes the master clock at once.
    SetClock,
    /// `wait D` — let time pass.
    Wait {
        /// D: `250ns`, `500us`, `10ms`, `1.5s`.
        duration: Duration,
    },
    /// `run T` — KVM_RUN each vCPU of T once, up to its `hlt`.
    Run {
        /// T: `*`, `3`, `0,2`, `1-3`.
        targets: Targets,
    },
    /// `repeat N` … `end`.
    Repeat {
        /// N, at least 1.
        count: u32,
        /// The lines up to the matching `end`, which is not kept.
        body: Vec<Stmt>,
    },
    /// `expect BACKENDS: [write K | vcpu K] FIELD OP VALUE`.
    Expect {
        /// The expectation, e.g. `expect linux-3.14: write 5 nr_matched = 4`.
        expect: Expect,
    },
}

/// `set KEY VALUE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "key", content = "value", rename_all = "snake_case")]
pub enum Setting {
    /// The host TSC frequency in kHz; every vCPU starts at this rate.
    TscKhz(u32),
    /// The host's current clocksource. The master clock needs a TSC-based one.
    Clocksource(Clocksource),
    /// Whether the host kernel trusts its TSC (`check_tsc_unstable()`).
    HostTsc(HostTsc),
    /// How long the host has been up when the VM is created.
    Uptime(Duration),
}

impl Setting {
    /// KEY as written: `tsc_khz`, `clocksource`, `host_tsc` or `uptime`.
    pub fn key(&self) -> &'static str {
        match self {
            Setting::TscKhz(_) => "tsc_khz",
            Setting::Clocksource(_) => "clocksource",
            Setting::HostTsc(_) => "host_tsc",
            Setting::Uptime(_) => "uptime",
        }
    }
}

/// The host clocksource, as in `/sys/devices/system/clocksource/clocksource0/current_clocksource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clocksource {
    /// `tsc`: the only clocksource 3.x's master clock accepts.
    Tsc,
    /// `hpet`: not TSC-based, so no master clock.
    Hpet,
    /// `acpi_pm`: not TSC-based, so no master clock.
    AcpiPm,
    /// `kvm-clock`, a host that is itself a KVM guest: not TSC-based, so no master clock.
    #[serde(rename = "kvm-clock")]
    KvmClock,
    /// Hyper-V's TSC page: TSC-based for KVM since Linux 4.16, not before.
    HypervClocksourceTscPage,
}

impl Clocksource {
    /// Every clocksource, in the order errors list them.
    pub const ALL: [Clocksource; 5] = [
        Clocksource::Tsc,
        Clocksource::Hpet,
        Clocksource::AcpiPm,
        Clocksource::KvmClock,
        Clocksource::HypervClocksourceTscPage,
    ];

    /// The name in `current_clocksource` and `set clocksource NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Clocksource::Tsc => "tsc",
            Clocksource::Hpet => "hpet",
            Clocksource::AcpiPm => "acpi_pm",
            Clocksource::KvmClock => "kvm-clock",
            Clocksource::HypervClocksourceTscPage => "hyperv_clocksource_tsc_page",
        }
    }
}

/// `set host_tsc stable|unstable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostTsc {
    /// `stable`: `check_tsc_unstable()` is false; matched writes reuse `cur_tsc_offset`.
    Stable,
    /// `unstable`: `mark_tsc_unstable()` was called; matched writes add the elapsed time.
    Unstable,
}

/// A set of vCPUs: `*`, `3`, `0,2`, `1-3`, or a comma-separated mix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// Every vCPU created so far.
    All,
    /// Inclusive ranges, in the order written.
    List(Vec<VcpuRange>),
}

/// The vCPUs of a [`Targets`], in order.
#[derive(Clone, Debug)]
pub struct TargetIter<'a> {
    /// The current range, half-open (`end` may be `u32::MAX as u64 + 1`).
    next: u64,
    end: u64,
    rest: &'a [VcpuRange],
}

impl Iterator for TargetIter<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        while self.next >= self.end {
            let (r, rest) = self.rest.split_first()?;
            self.next = u64::from(r.first);
            self.end = u64::from(r.last) + 1;
            self.rest = rest;
        }
        let v = self.next as u32;
        self.next += 1;
        Some(v)
    }
}

/// `first-last`, inclusive; a single vCPU has `first == last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuRange {
    /// The lowest vCPU index.
    pub first: u32,
    /// The highest vCPU index, included.
    pub last: u32,
}

impl Targets {
    /// The vCPU indices, in order, when `online` vCPUs exist.
    pub fn iter(&self, online: u32) -> TargetIter<'_> {
        match self {
            Targets::All => TargetIter {
                next: 0,
                end: u64::from(online),
                rest: &[],
            },
            Targets::List(r) => TargetIter {
                next: 0,
                end: 0,
                rest: r,
            },
        }
    }

    /// How many vCPUs a statement touches when `online` vCPUs exist.
    pub fn count(&self, online: u32) -> u64 {
        match self {
            Targets::All => u64::from(online),
            Targets::List(r) => r.iter().map(|r| u64::from(r.last - r.first) + 1).sum(),
        }
    }

    /// The highest vCPU index named, if any.
    pub fn max(&self) -> Option<u32> {
        match self {
            Targets::All => None,
            Targets::List(r) => r.iter().map(|r| r.last).max(),
        }
    }

    /// Whether the statement visits every one of `online` vCPUs, in order 0..online.
    pub fn is_every_vcpu_in_order(&self, online: u32) -> bool {
        self.iter(online).eq(0..online)
    }
}

/// The value of a TSC write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TscValue {
    /// A fixed value.
    Literal(u64),
    /// `now`, `now@K`, `now+D`, `now@K-D`: the guest TSC of the written vCPU
    /// (or of vCPU K) at the moment of the write, moved by D.
    Now {
        /// `@K`: read vCPU K's guest TSC instead of the written vCPU's.
        of: Option<u32>,
        /// `+D` or `-D`; [`Delta::ZERO`] if absent.
        delta: Delta,
    },
}

/// A signed shift of a TSC value: a duration (converted with the vCPU's
/// `virtual_tsc_khz`) or a raw number of cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delta {
    /// `-D` rather than `+D`.
    pub negative: bool,
    /// The size of D.
    pub amount: DeltaAmount,
}

/// The size of a [`Delta`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaAmount {
    /// Guest cycles, used as they are: `now+1000`, `now-0x10`.
    Cycles(u64),
    /// A duration, turned into cycles at the written vCPU's `virtual_tsc_khz`: `now+1ms`.
    Time(Duration),
}

impl Delta {
    /// No shift: a plain `now` or `now@K`.
    pub const ZERO: Delta = Delta {
        negative: false,
        amount: DeltaAmount::Cycles(0),
    };
}

/// The offset of a `set-offset`: a literal (may be negative) or `offset@K[±N]`,
/// vCPU K's current `l1_tsc_offset` moved by N cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetValue {
    /// A fixed offset, signed: `-5000`, `0x1000`.
    Literal(i64),
    /// `offset@K`, `offset@K+N`, `offset@K-N`.
    Of {
        /// K, the vCPU whose `l1_tsc_offset` is read.
        vcpu: u32,
        /// N, in cycles; 0 if absent.
        delta: i64,
    },
}

/// A length of time, exact to the nanosecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    /// Nanoseconds.
    pub ns: u64,
}

impl Duration {
    /// `ns` nanoseconds.
    pub const fn from_ns(ns: u64) -> Self {
        Duration { ns }
    }
    /// `ms` milliseconds.
    pub const fn from_ms(ms: u64) -> Self {
        Duration { ns: ms * 1_000_000 }
    }
    /// `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration {
            ns: s * 1_000_000_000,
        }
    }
}

/// `expect BACKENDS: [write K | vcpu K] FIELD OP VALUE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    /// The backends the expectation is checked against; `*` means the four models.
    pub backends: Vec<BackendId>,
    /// Whether the line said `*` (kept so the text round-trips).
    #[serde(default)]
    pub all_models: bool,
    /// `write K`, `vcpu K`, or neither (the end of the run).
    pub at: ExpectAt,
    /// FIELD: `nr_matched`, `master_clock`, ….
    pub field: Field,
    /// OP: `=`, `!=`, `<`, `<=`, `>`, `>=`.
    pub op: Op,
    /// VALUE: a number, or `yes`/`no` for a yes/no field.
    pub value: ExpectValue,
}

/// Where an expectation looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectAt {
    /// The end of the run (after the implicit `run *`, if any).
    End,
    /// Right after the K-th TSC write (1-based; vCPU creations count).
    Write(u32),
    /// vCPU K at the end of the run.
    Vcpu(u32),
}

/// A field an expectation can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `nr_matched`: `nr_vcpus_matched_tsc` of `struct kvm_arch`.
    NrMatched,
    /// `online`: `online_vcpus` of `struct kvm`.
    Online,
    /// `vcpus_matched`: `nr_vcpus_matched_tsc + 1 == online_vcpus`.
    VcpusMatched,
    /// `master_clock`: `use_master_clock` of `struct kvm_arch`.
    MasterClock,
    /// `kvmclock_stable`: every vCPU's pvclock page has PVCLOCK_TSC_STABLE_BIT.
    KvmclockStable,
    /// `cur_tsc_generation` of `struct kvm_arch`.
    CurTscGeneration,
    /// `matched`: the write joined the current generation (`matched` in `kvm_write_tsc`).
    Matched,
    /// `new_generation`: the write started a generation (`cur_tsc_generation++`).
    NewGeneration,
    /// `this_tsc_generation` of `struct kvm_vcpu_arch`.
    ThisTscGeneration,
    /// `vcpu`: the index of the vCPU written.
    Vcpu,
    /// `value`: the TSC value written (`data`).
    Value,
    /// `pvclock_stable`: PVCLOCK_TSC_STABLE_BIT in the vCPU's pvclock page.
    PvclockStable,
    /// `masterclock_update_requested`: the write raised KVM_REQ_MASTERCLOCK_UPDATE.
    MasterclockUpdateRequested,
    /// `writes`: how many TSC writes the run made, vCPU creations included.
    Writes,
}

impl Field {
    /// Every field, in the order help and errors list them.
    pub const ALL: [Field; 14] = [
        Field::NrMatched,
        Field::Online,
        Field::VcpusMatched,
        Field::MasterClock,
        Field::KvmclockStable,
        Field::CurTscGeneration,
        Field::Matched,
        Field::NewGeneration,
        Field::ThisTscGeneration,
        Field::Vcpu,
        Field::Value,
        Field::PvclockStable,
        Field::MasterclockUpdateRequested,
        Field::Writes,
    ];

    /// FIELD as `expect` writes it: `nr_matched`, `master_clock`, ….
    pub fn name(self) -> &'static str {
        match self {
            Field::NrMatched => "nr_matched",
            Field::Online => "online",
            Field::VcpusMatched => "vcpus_matched",
            Field::MasterClock => "master_clock",
            Field::KvmclockStable => "kvmclock_stable",
            Field::CurTscGeneration => "cur_tsc_generation",
            Field::Matched => "matched",
            Field::NewGeneration => "new_generation",
            Field::ThisTscGeneration => "this_tsc_generation",
            Field::Vcpu => "vcpu",
            Field::Value => "value",
            Field::PvclockStable => "pvclock_stable",
            Field::MasterclockUpdateRequested => "masterclock_update_requested",
            Field::Writes => "writes",
        }
    }

    /// The fields that make sense at each place, in the order help lists them.
    pub fn valid_at(self, at: ExpectAt) -> bool {
        use Field::*;
        match at {
            ExpectAt::End => matches!(
                self,
                NrMatched
                    | Online
                    | VcpusMatched
                    | MasterClock
                    | KvmclockStable
                    | CurTscGeneration
                    | Writes
            ),
            ExpectAt::Write(_) => matches!(
                self,
                NrMatched
                    | Online
                    | VcpusMatched
                    | MasterClock
                    | CurTscGeneration
                    | Matched
                    | NewGeneration
                    | ThisTscGeneration
                    | Vcpu
                    | Value
                    | MasterclockUpdateRequested
            ),
            ExpectAt::Vcpu(_) => matches!(self, PvclockStable | ThisTscGeneration),
        }
    }

    /// Whether the field holds a yes/no answer (else a number).
    pub fn is_bool(self) -> bool {
        use Field::*;
        matches!(
            self,
            VcpusMatched
                | MasterClock
                | KvmclockStable
                | Matched
                | NewGeneration
                | PvclockStable
                | MasterclockUpdateRequested
        )
    }
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    /// Every comparison.
    pub const ALL: [Op; 6] = [Op::Eq, Op::Ne, Op::Le, Op::Ge, Op::Lt, Op::Gt];

    /// OP as written: `=`, `!=`, `<`, `<=`, `>`, `>=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Whether `actual OP expected`.
    pub fn holds<T: Ord>(self, actual: T, expected: T) -> bool {
        match self {
            Op::Eq => actual == expected,
            Op::Ne => actual != expected,
            Op::Lt => actual < expected,
            Op::Le => actual <= expected,
            Op::Gt => actual > expected,
            Op::Ge => actual >= expected,
        }
    }
}

/// The right-hand side of an expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExpectValue {
    /// `yes` or `no` (also `true`/`false`, `on`/`off`).
    Bool(bool),
    /// An unsigned integer, decimal or `0x` hex.
    Int(u64),
}

impl fmt::Display for ExpectValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectValue::Bool(true) => f.write_str("yes"),
            ExpectValue::Bool(false) => f.write_str("no"),
            ExpectValue::Int(n) => write!(f, "{n}"),
        }
    }
}

impl StmtKind {
    /// Whether the statement does something to the VM (as opposed to text,
    /// settings and expectations). A `repeat` is not itself an action.
    pub fn is_action(&self) -> bool {
        matches!(
            self,
            StmtKind::Create { .. }
                | StmtKind::Write { .. }
                | StmtKind::GuestWrite { .. }
                | StmtKind::TscKhz { .. }
                | StmtKind::SetOffset { .. }
                | StmtKind::SetClock
                | StmtKind::Wait { .. }
                | StmtKind::Run { .. }
        )
    }
}

impl Scenario {
    /// Every statement in source order, descending into `repeat` bodies.
    pub fn walk(&self) -> impl Iterator<Item = &Stmt> {
        fn push<'a>(stmts: &'a [Stmt], out: &mut Vec<&'a Stmt>) {
            for s in stmts {
                out.push(s);
                if let StmtKind::Repeat { body, .. } = &s.kind {
                    push(body, out);
                }
            }
        }
        let mut out = Vec::new();
        push(&self.stmts, &mut out);
        out.into_iter()
    }

    /// The `title` line, if any.
    pub fn title(&self) -> Option<&str> {
        self.walk().find_map(|s| match &s.kind {
            StmtKind::Title { text } => Some(text.as_str()),
            _ => None,
        })
    }

    /// The `story` lines joined into paragraphs (an empty `story` line separates them).
    pub fn story(&self) -> String {
        let mut out = String::new();
        for s in self.walk() {
            if let StmtKind::Story { text } = &s.kind {
                if text.is_empty() {
                    out.push_str("\n\n");
                } else {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push(' ');
                    }
                    out.push_str(text);
                }
            }
        }
        out.trim().to_string()
    }

    /// The `source` lines.
    pub fn sources(&self) -> Vec<&str> {
        self.walk()
            .filter_map(|s| match &s.kind {
                StmtKind::Source { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The `expect` statements with their lines.
    pub fn expects(&self) -> impl Iterator<Item = (u32, &Expect)> {
        self.walk().filter_map(|s| match &s.kind {
            StmtKind::Expect { expect } => Some((s.line, expect)),
            _ => None,
        })
    }
}
