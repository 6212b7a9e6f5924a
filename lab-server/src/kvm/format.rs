//! KVM's TSC tracepoints as binary records, decoded with the kernel's own
//! description of them.
//!
//! Every tracepoint has a `format` file (`events/kvm/<event>/format`) that
//! lists its fields with their offsets and sizes:
//!
//! ```text
//! name: kvm_write_tsc_offset
//! ID: 83
//! format:
//!     field:unsigned short common_type;    offset:0;    size:2;    signed:0;
//!     …
//!     field:unsigned int vcpu_id;    offset:8;    size:4;    signed:0;
//!     field:__u64 previous_tsc_offset;    offset:16;    size:8;    signed:0;
//!     field:__u64 next_tsc_offset;    offset:24;    size:8;    signed:0;
//! ```
//!
//! The lab reads those files once, at start-up, and decodes each record with
//! them: no offset is hard-coded, so a kernel that moves a field is still read
//! right, and one that drops a field the lab needs is refused with its name.
//! Decoding is pure and total: a truncated or garbage record is an error, never
//! a panic (the property tests below feed it arbitrary bytes).

use std::fmt;

/// The events the lab reads, in the order their records are kept.
pub const EVENTS: [&str; 4] = [
    "kvm_write_tsc_offset",
    "kvm_track_tsc",
    "kvm_update_master_clock",
    "kvm_pvclock_update",
];

/// The event a record decodes to: one definition, shared with the trace
/// importer and the kernel view ([`scenarios::kernel`]).
pub use scenarios::kernel::Record;

/// Why a format file or a record could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The format file has no `ID:` line, or it is not a number.
    NoId {
        /// The event.
        event: String,
    },
    /// A field the lab needs is missing from the event's format.
    MissingField {
        /// The event.
        event: String,
        /// The field.
        field: &'static str,
    },
    /// A field has a size the lab cannot read it as.
    BadSize {
        /// The event.
        event: String,
        /// The field.
        field: &'static str,
        /// Its size in the format file.
        size: usize,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::NoId { event } => write!(f, "events/kvm/{event}/format has no ID"),
            FormatError::MissingField { event, field } => {
                write!(f, "events/kvm/{event}/format has no field `{field}`")
            }
            FormatError::BadSize { event, field, size } => write!(
                f,
                "events/kvm/{event}/format: field `{field}` has size {size}, which the lab cannot read"
            ),
        }
    }
}

impl std::error::Error for FormatError {}

/// Why one binary record could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than its format says: `len` bytes where `needed` are read.
    Truncated {
        /// The record's length.
        len: usize,
        /// The end of the last field read.
        needed: usize,
    },
    /// `common_type` names no event the lab reads.
    UnknownType(u16),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { len, needed } => {
                write!(
                    f,
                    "a record of {len} bytes, where its format needs {needed}"
                )
            }
            DecodeError::UnknownType(t) => write!(f, "a record of event type {t}, not a TSC event"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// One `field:` line of a format file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's name (`vcpu_id`).
    pub name: String,
    /// Its byte offset in the record.
    pub offset: usize,
    /// Its size in bytes.
    pub size: usize,
    /// `signed:1`.
    pub signed: bool,
}

/// An event's `format` file, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFormat {
    /// `name:`.
    pub name: String,
    /// `ID:`, the tracepoint's id (`perf_event_attr.config`, and the
    /// record's `common_type`).
    pub id: u32,
    /// Every `field:` line, common fields included.
    pub fields: Vec<Field>,
}

impl EventFormat {
    /// Parses a format file. Lines it does not know (`print fmt:`) are skipped.
    pub fn parse(event: &str, text: &str) -> Result<EventFormat, FormatError> {
        let mut id = None;
        let mut name = event.to_string();
        let mut fields = Vec::new();
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("ID:") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("name:") {
                name = v.trim().to_string();
            } else if let Some(f) = parse_field(line) {
                fields.push(f);
            }
        }
        Ok(EventFormat {
            id: id.ok_or_else(|| FormatError::NoId {
                event: event.to_string(),
            })?,
            name,
            fields,
        })
    }

    /// Where a field the lab reads is, checked to be one of `sizes`.
    fn slot(&self, field: &'static str, sizes: &[usize]) -> Result<Slot, FormatError> {
        let f = self
            .fields
            .iter()
            .find(|f| f.name == field)
            .ok_or_else(|| FormatError::MissingField {
                event: self.name.clone(),
                field,
            })?;
        if !sizes.contains(&f.size) {
            return Err(FormatError::BadSize {
                event: self.name.clone(),
                field,
                size: f.size,
            });
        }
        Ok(Slot {
            offset: f.offset,
            size: f.size,
        })
    }
}

/// `field:unsigned int vcpu_id; offset:8; size:4; signed:0;`
fn parse_field(line: &str) -> Option<Field> {
    let decl = line.strip_prefix("field:")?;
    let mut parts = decl.split(';').map(str::trim);
    let declaration = parts.next()?;
    // The name is the declaration's last word, without an array suffix.
    let name = declaration
        .rsplit(|c: char| c.is_whitespace() || c == '*')
        .next()?
        .split('[')
        .next()?
        .to_string();
    let mut offset = None;
    let mut size = None;
    let mut signed = false;
    for p in parts {
        if let Some(v) = p.strip_prefix("offset:") {
            offset = v.parse().ok();
        } else if let Some(v) = p.strip_prefix("size:") {
            size = v.parse().ok();
        } else if let Some(v) = p.strip_prefix("signed:") {
            signed = v == "1";
        }
    }
    Some(Field {
        name,
        offset: offset?,
        size: size?,
        signed,
    })
}

/// A field's place in a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    offset: usize,
    size: usize,
}

impl Slot {
    /// The field, zero-extended (x86 is little-endian), or how short the record is.
    fn read(self, raw: &[u8]) -> Result<u64, DecodeError> {
        let end = self.offset.saturating_add(self.size);
        let bytes = raw.get(self.offset..end).ok_or(DecodeError::Truncated {
            len: raw.len(),
            needed: end,
        })?;
        let mut b = [0u8; 8];
        b[..bytes.len()].copy_from_slice(bytes);
        Ok(u64::from_le_bytes(b))
    }

    fn read_u32(self, raw: &[u8]) -> Result<u32, DecodeError> {
        // Fields are checked to be at most 4 bytes where this is used.
        self.read(raw).map(|v| v as u32)
    }

    fn read_bool(self, raw: &[u8]) -> Result<bool, DecodeError> {
        self.read(raw).map(|v| v != 0)
    }
}

/// The layout of one event, as the lab reads it.
#[derive(Clone, Copy, Debug)]
enum Layout {
    WriteTscOffset {
        vcpu: Slot,
        prev: Slot,
        next: Slot,
    },
    TrackTsc {
        vcpu: Slot,
        matched: Slot,
        online: Slot,
        master: Slot,
        host_clock: Slot,
    },
    UpdateMasterClock {
        master: Slot,
        host_clock: Slot,
        matched: Slot,
    },
    PvclockUpdate {
        vcpu: Slot,
        version: Slot,
        flags: Slot,
    },
}

/// Decodes the binary records of [`EVENTS`], with offsets from their format files.
#[derive(Clone, Debug)]
pub struct Decoder {
    common_type: Slot,
    /// (event name, tracepoint id, layout), one per event of [`EVENTS`].
    layouts: Vec<(&'static str, u32, Layout)>,
}

/// The sizes an `unsigned int` (or smaller) field may have.
const INT: &[usize] = &[1, 2, 4];
/// The sizes a `bool` may have.
const BOOL: &[usize] = &[1, 2, 4];
/// The size of a `__u64`.
const U64: &[usize] = &[8];

impl Decoder {
    /// A decoder for these formats (one per event of [`EVENTS`], in any order).
    pub fn new(formats: &[EventFormat]) -> Result<Decoder, FormatError> {
        let first = formats.first().ok_or_else(|| FormatError::NoId {
            event: EVENTS[0].to_string(),
        })?;
        let mut layouts = Vec::with_capacity(formats.len());
        for f in formats {
            let Some(name) = EVENTS.iter().copied().find(|e| *e == f.name) else {
                continue;
            };
            let layout = match name {
                "kvm_write_tsc_offset" => Layout::WriteTscOffset {
                    vcpu: f.slot("vcpu_id", INT)?,
                    prev: f.slot("previous_tsc_offset", U64)?,
                    next: f.slot("next_tsc_offset", U64)?,
                },
                "kvm_track_tsc" => Layout::TrackTsc {
                    vcpu: f.slot("vcpu_id", INT)?,
                    matched: f.slot("nr_vcpus_matched_tsc", INT)?,
                    online: f.slot("online_vcpus", INT)?,
                    master: f.slot("use_master_clock", BOOL)?,
                    host_clock: f.slot("host_clock", INT)?,
                },
                "kvm_update_master_clock" => Layout::UpdateMasterClock {
                    master: f.slot("use_master_clock", BOOL)?,
                    host_clock: f.slot("host_clock", INT)?,
                    matched: f.slot("offset_matched", BOOL)?,
                },
                "kvm_pvclock_update" => Layout::PvclockUpdate {
                    vcpu: f.slot("vcpu_id", INT)?,
                    version: f.slot("version", INT)?,
                    flags: f.slot("flags", &[1])?,
                },
                _ => continue,
            };
            layouts.push((name, f.id, layout));
        }
        Ok(Decoder {
            common_type: first.slot("common_type", &[2])?,
            layouts,
        })
    }

    /// The tracepoint ids, in the order of the formats given.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.layouts.iter().map(|(_, id, _)| *id)
    }

    /// The events decoded, with their tracepoint ids.
    pub fn events(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        self.layouts.iter().map(|(name, id, _)| (*name, *id))
    }

    /// Decodes one raw tracepoint record (`PERF_SAMPLE_RAW`'s data).
    pub fn decode(&self, raw: &[u8]) -> Result<Record, DecodeError> {
        let ty = self.common_type.read(raw)? as u16;
        let layout = self
            .layouts
            .iter()
            .find(|(_, id, _)| *id == u32::from(ty))
            .map(|(_, _, l)| *l)
            .ok_or(DecodeError::UnknownType(ty))?;
        Ok(match layout {
            Layout::WriteTscOffset { vcpu, prev, next } => Record::WriteTscOffset {
                vcpu: vcpu.read_u32(raw)?,
                prev: prev.read(raw)?,
                next: next.read(raw)?,
            },
            Layout::TrackTsc {
                vcpu,
                matched,
                online,
                master,
                host_clock,
            } => Record::TrackTsc {
                vcpu: vcpu.read_u32(raw)?,
                masterclock: master.read_bool(raw)?,
                offsetmatched: matched.read_u32(raw)?,
                nr_online: online.read_u32(raw)?,
                hostclock: host_clock.read_u32(raw)?,
            },
            Layout::UpdateMasterClock {
                master,
                host_clock,
                matched,
            } => Record::UpdateMasterClock {
                masterclock: master.read_bool(raw)?,
                hostclock: host_clock.read_u32(raw)?,
                vcpus_matched: matched.read_bool(raw)?,
            },
            Layout::PvclockUpdate {
                vcpu,
                version,
                flags,
            } => Record::PvclockUpdate {
                vcpu: vcpu.read_u32(raw)?,
                version: version.read_u32(raw)?,
                flags: flags.read(raw)? as u8,
            },
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The format files of Linux 6.18.44, as this lab's host prints them.
    pub(crate) const FORMATS_6_18: [(&str, &str); 4] = [
        (
            "kvm_write_tsc_offset",
            "name: kvm_write_tsc_offset\nID: 83\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:__u64 previous_tsc_offset;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:__u64 next_tsc_offset;\toffset:24;\tsize:8;\tsigned:0;\n\nprint fmt: \"vcpu=%u prev=%llu next=%llu\", REC->vcpu_id, REC->previous_tsc_offset, REC->next_tsc_offset\n",
        ),
        (
            "kvm_track_tsc",
            "name: kvm_track_tsc\nID: 81\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:unsigned int nr_vcpus_matched_tsc;\toffset:12;\tsize:4;\tsigned:0;\n\tfield:unsigned int online_vcpus;\toffset:16;\tsize:4;\tsigned:0;\n\tfield:bool use_master_clock;\toffset:20;\tsize:1;\tsigned:0;\n\tfield:unsigned int host_clock;\toffset:24;\tsize:4;\tsigned:0;\n",
        ),
        (
            "kvm_update_master_clock",
            "name: kvm_update_master_clock\nID: 82\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:bool use_master_clock;\toffset:8;\tsize:1;\tsigned:0;\n\tfield:unsigned int host_clock;\toffset:12;\tsize:4;\tsigned:0;\n\tfield:bool offset_matched;\toffset:16;\tsize:1;\tsigned:0;\n",
        ),
        (
            "kvm_pvclock_update",
            "name: kvm_pvclock_update\nID: 78\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:__u32 version;\toffset:12;\tsize:4;\tsigned:0;\n\tfield:__u64 tsc_timestamp;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:__u64 system_time;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:__u32 tsc_to_system_mul;\toffset:32;\tsize:4;\tsigned:0;\n\tfield:__s8 tsc_shift;\toffset:36;\tsize:1;\tsigned:1;\n\tfield:__u8 flags;\toffset:37;\tsize:1;\tsigned:0;\n",
        ),
    ];

    fn decoder() -> Decoder {
        let formats: Vec<EventFormat> = FORMATS_6_18
            .iter()
            .map(|(e, t)| EventFormat::parse(e, t).unwrap())
            .collect();
        Decoder::new(&formats).unwrap()
    }

    fn record(ty: u16, pid: i32, len: usize, fields: &[(usize, &[u8])]) -> Vec<u8> {
        let mut r = vec![0u8; len];
        r[0..2].copy_from_slice(&ty.to_le_bytes());
        r[4..8].copy_from_slice(&pid.to_le_bytes());
        for (at, bytes) in fields {
            r[*at..*at + bytes.len()].copy_from_slice(bytes);
        }
        r
    }

    #[test]
    fn a_format_file_gives_its_id_and_fields() {
        let f = EventFormat::parse(FORMATS_6_18[1].0, FORMATS_6_18[1].1).unwrap();
        assert_eq!(f.id, 81);
        assert_eq!(f.fields.len(), 9);
        let matched = f
            .fields
            .iter()
            .find(|f| f.name == "nr_vcpus_matched_tsc")
            .unwrap();
        assert_eq!(
            (matched.offset, matched.size, matched.signed),
            (12, 4, false)
        );
        assert!(f.fields.iter().any(|f| f.name == "common_pid" && f.signed));
    }

    #[test]
    fn records_decode_with_the_formats_offsets() {
        let d = decoder();
        let offset = (-1_000_i64) as u64;
        let w = record(
            83,
            4242,
            32,
            &[
                (8, &3u32.to_le_bytes()),
                (16, &7u64.to_le_bytes()),
                (24, &offset.to_le_bytes()),
            ],
        );
        assert_eq!(
            d.decode(&w),
            Ok(Record::WriteTscOffset {
                vcpu: 3,
                prev: 7,
                next: offset
            })
        );
        let t = record(
            81,
            1,
            28,
            &[
                (8, &1u32.to_le_bytes()),
                (12, &3u32.to_le_bytes()),
                (16, &4u32.to_le_bytes()),
                (20, &[1]),
                (24, &1u32.to_le_bytes()),
            ],
        );
        assert_eq!(
            d.decode(&t),
            Ok(Record::TrackTsc {
                vcpu: 1,
                masterclock: true,
                offsetmatched: 3,
                nr_online: 4,
                hostclock: 1
            })
        );
        let p = record(
            78,
            1,
            40,
            &[
                (8, &2u32.to_le_bytes()),
                (12, &6u32.to_le_bytes()),
                (37, &[1]),
            ],
        );
        assert_eq!(
            d.decode(&p),
            Ok(Record::PvclockUpdate {
                vcpu: 2,
                version: 6,
                flags: 1
            })
        );
    }

    #[test]
    fn a_moved_field_is_read_where_the_format_says() {
        // A kernel that put vcpu_id after the offsets: the lab follows the file.
        let text = FORMATS_6_18[0]
            .1
            .replace("vcpu_id;\toffset:8;", "vcpu_id;\toffset:32;");
        let mut formats: Vec<EventFormat> = FORMATS_6_18
            .iter()
            .map(|(e, t)| EventFormat::parse(e, t).unwrap())
            .collect();
        formats[0] = EventFormat::parse("kvm_write_tsc_offset", &text).unwrap();
        let d = Decoder::new(&formats).unwrap();
        let w = record(83, 1, 36, &[(32, &9u32.to_le_bytes())]);
        assert!(matches!(
            d.decode(&w),
            Ok(Record::WriteTscOffset { vcpu: 9, .. })
        ));
    }

    #[test]
    fn a_missing_field_is_named() {
        let text = FORMATS_6_18[1]
            .1
            .replace("nr_vcpus_matched_tsc", "something_else");
        let mut formats: Vec<EventFormat> = FORMATS_6_18
            .iter()
            .map(|(e, t)| EventFormat::parse(e, t).unwrap())
            .collect();
        formats[1] = EventFormat::parse("kvm_track_tsc", &text).unwrap();
        let e = Decoder::new(&formats).unwrap_err();
        assert_eq!(
            e.to_string(),
            "events/kvm/kvm_track_tsc/format has no field `nr_vcpus_matched_tsc`"
        );
    }

    proptest::proptest! {
        /// Any bytes at all: a record or an error, never a panic.
        #[test]
        fn garbage_never_panics(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96)) {
            let _ = decoder().decode(&raw);
        }

        /// A real record cut short is an error that says how short.
        #[test]
        fn truncated_records_are_errors(ty in 0usize..4, cut in 0usize..40) {
            let (id, len) = [(83u16, 32usize), (81, 28), (82, 17), (78, 38)][ty];
            let full = record(id, 1, len, &[]);
            let short = &full[..cut.min(len)];
            let decoded = decoder().decode(short);
            if cut >= len {
                proptest::prop_assert!(decoded.is_ok());
            } else {
                let is_truncated = matches!(decoded, Err(DecodeError::Truncated { .. }));
                proptest::prop_assert!(is_truncated);
            }
        }

        /// Any text as a format file: parsed or refused, never a panic.
        #[test]
        fn garbage_formats_never_panic(text in "(ID: [0-9]{0,3}\n|field:[a-z ]{0,12};\toffset:[0-9]{0,3};\tsize:[0-9]{0,2};\n|.{0,30}\n){0,12}") {
            if let Ok(f) = EventFormat::parse("kvm_track_tsc", &text) {
                let _ = Decoder::new(&[f]);
            }
        }
    }

    #[test]
    fn short_and_foreign_records_are_errors() {
        let d = decoder();
        assert_eq!(
            d.decode(&[83, 0, 0, 0, 1, 0, 0, 0, 5]),
            Err(DecodeError::Truncated { len: 9, needed: 12 })
        );
        assert_eq!(
            d.decode(&[]),
            Err(DecodeError::Truncated { len: 0, needed: 2 })
        );
        assert_eq!(
            d.decode(&record(5, 1, 40, &[])),
            Err(DecodeError::UnknownType(5))
        );
    }
}
