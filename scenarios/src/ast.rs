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
    pub stmts: Vec<Stmt>,
}

/// One line of a scenario (a `repeat` owns the lines up to its `end`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stmt {
    /// 1-based source line; 0 for statements built in code.
    #[serde(default)]
    pub line: u32,
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
    Comment { text: String },
    /// `title TEXT` — the scenario's name in the library and the notebook.
    Title { text: String },
    /// `story TEXT` — one line of the story; consecutive lines form a paragraph.
    Story { text: String },
    /// `source TEXT` — the commit or VMM issue the scenario reproduces.
    Source { text: String },
    /// `set KEY VALUE` — a host or model setting; only before the first VM statement.
    Set { setting: Setting },
    /// `create N` — KVM_CREATE_VCPU N times; each creation is the kernel's own TSC write of 0.
    Create { count: u32 },
    /// `write T V` — host-initiated MSR_IA32_TSC write (KVM_SET_MSRS) to each vCPU of T.
    Write { targets: Targets, value: TscValue },
    /// `guest-write T V` — the guest itself executes WRMSR IA32_TSC on each vCPU
    /// of T (entering the vCPU handles its pending requests, as `run` does).
    GuestWrite { targets: Targets, value: TscValue },
    /// `tsc-khz T KHZ` — KVM_SET_TSC_KHZ on each vCPU of T.
    TscKhz { targets: Targets, khz: u32 },
    /// `set-offset T OFFSET` — KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_OFFSET), Linux ≥ 5.16.
    SetOffset {
        targets: Targets,
        offset: OffsetValue,
    },
    /// `set-clock` — KVM_SET_CLOCK: recomputes the master clock at once.
    SetClock,
    /// `wait D` — let time pass.
    Wait { duration: Duration },
    /// `run T` — KVM_RUN each vCPU of T once, up to its `hlt`.
    Run { targets: Targets },
    /// `repeat N` … `end`.
    Repeat { count: u32, body: Vec<Stmt> },
    /// `expect BACKENDS: [write K | vcpu K] FIELD OP VALUE`.
    Expect { expect: Expect },
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
    Tsc,
    Hpet,
    AcpiPm,
    #[serde(rename = "kvm-clock")]
    KvmClock,
    /// Hyper-V's TSC page: TSC-based for KVM since Linux 4.16, not before.
    HypervClocksourceTscPage,
}

impl Clocksource {
    pub const ALL: [Clocksource; 5] = [
        Clocksource::Tsc,
        Clocksource::Hpet,
        Clocksource::AcpiPm,
        Clocksource::KvmClock,
        Clocksource::HypervClocksourceTscPage,
    ];

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
    Stable,
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
    pub first: u32,
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
    Now { of: Option<u32>, delta: Delta },
}

/// A signed shift of a TSC value: a duration (converted with the vCPU's
/// `virtual_tsc_khz`) or a raw number of cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delta {
    pub negative: bool,
    pub amount: DeltaAmount,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaAmount {
    Cycles(u64),
    Time(Duration),
}

impl Delta {
    pub const ZERO: Delta = Delta {
        negative: false,
        amount: DeltaAmount::Cycles(0),
    };
}

/// The offset of a `set-offset`: a literal (may be negative) or `offset@K[±N]`,
/// vCPU K's current `l1_tsc_offset` moved by N cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetValue {
    Literal(i64),
    Of { vcpu: u32, delta: i64 },
}

/// A length of time, exact to the nanosecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    pub ns: u64,
}

impl Duration {
    pub const fn from_ns(ns: u64) -> Self {
        Duration { ns }
    }
    pub const fn from_ms(ms: u64) -> Self {
        Duration { ns: ms * 1_000_000 }
    }
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
    pub at: ExpectAt,
    pub field: Field,
    pub op: Op,
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
    NrMatched,
    Online,
    VcpusMatched,
    MasterClock,
    KvmclockStable,
    CurTscGeneration,
    Matched,
    NewGeneration,
    ThisTscGeneration,
    Vcpu,
    Value,
    PvclockStable,
    MasterclockUpdateRequested,
    Writes,
}

impl Field {
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
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    pub const ALL: [Op; 6] = [Op::Eq, Op::Ne, Op::Le, Op::Ge, Op::Lt, Op::Gt];

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
    Bool(bool),
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

    /// The host settings, defaults filled in. A host that marked its TSC
    /// unstable has stopped using it as clocksource (`mark_tsc_unstable`), so
    /// `set host_tsc unstable` alone means clocksource `hpet`.
    pub fn host(&self) -> crate::models::HostConfig {
        let mut host = crate::models::HostConfig::default();
        let clocksource_set = self.walk().any(|s| {
            matches!(
                s.kind,
                StmtKind::Set {
                    setting: Setting::Clocksource(_)
                }
            )
        });
        for s in self.walk() {
            if let StmtKind::Set { setting } = &s.kind {
                match *setting {
                    Setting::TscKhz(khz) => host.tsc_khz = khz,
                    Setting::Clocksource(c) => host.clocksource = c,
                    Setting::HostTsc(t) => host.tsc_stable = t == HostTsc::Stable,
                    Setting::Uptime(d) => host.uptime_ns = d.ns,
                }
            }
        }
        if !host.tsc_stable && !clocksource_set {
            host.clocksource = Clocksource::Hpet;
        }
        host
    }
}
