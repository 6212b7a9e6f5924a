//! Scenario text: the parser, the printer, and the leaf syntaxes.
//!
//! One statement a line; `#` starts a comment (except in `title`, `story` and
//! `source`, whose text runs to the end of the line, so `#8383` survives).
//! Parsing never panics and reports every problem it finds with its line and
//! column; [`crate::check()`] then checks meaning (vCPU numbers, bounds,
//! expectations).

use std::fmt::{self, Write as _};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ast::*;
use crate::error::{Error, Errors};
use crate::lex::{Tok, col_of_token, tokens};
use crate::trace::BackendId;

/// The deepest `repeat` nesting accepted.
pub const MAX_NESTING: usize = 16;

/// Parses and checks a scenario.
///
/// ```
/// use scenarios::ast::{StmtKind, Targets, TscValue};
/// use scenarios::parse;
///
/// let s = parse("create 2\nwrite * now@0+1ms\n").unwrap();
/// assert!(matches!(s.stmts[0].kind, StmtKind::Create { count: 2 }));
/// assert!(matches!(
///     s.stmts[1].kind,
///     StmtKind::Write { targets: Targets::All, value: TscValue::Now { of: Some(0), .. } }
/// ));
///
/// // Every error says `line:col: message`.
/// let err = parse("create 2\nwrite * soon\n").unwrap_err();
/// assert_eq!((err.0[0].line, err.0[0].col), (2, 9));
/// assert!(err.to_string().starts_with("2:9: "));
/// ```
pub fn parse(text: &str) -> Result<Scenario, Errors> {
    let scenario = parse_syntax(text)?;
    crate::check::check(&scenario, Some(text))?;
    Ok(scenario)
}

/// Parses the syntax only: every statement well-formed, every `repeat` closed.
pub fn parse_syntax(text: &str) -> Result<Scenario, Errors> {
    struct Open {
        line: u32,
        count: u32,
        comment: Option<String>,
        body: Vec<Stmt>,
    }
    let mut errors = Vec::new();
    let mut top = Vec::new();
    let mut open: Vec<Open> = Vec::new();

    for (idx, raw) in text.split('\n').enumerate() {
        let line = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let parsed = match parse_line(raw, line) {
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let stmt = match parsed {
            Line::Stmt(kind, comment) => Stmt {
                line,
                kind,
                comment,
            },
            Line::Repeat(count, comment) => {
                if open.len() >= MAX_NESTING {
                    errors.push(Error::new(
                        line,
                        col_of_token(raw, 0),
                        format!("`repeat` nested more than {MAX_NESTING} deep"),
                    ));
                }
                open.push(Open {
                    line,
                    count,
                    comment,
                    body: Vec::new(),
                });
                continue;
            }
            Line::End => match open.pop() {
                Some(o) => Stmt {
                    line: o.line,
                    kind: StmtKind::Repeat {
                        count: o.count,
                        body: o.body,
                    },
                    comment: o.comment,
                },
                None => {
                    errors.push(Error::new(
                        line,
                        col_of_token(raw, 0),
                        "`end` without a `repeat` to close",
                    ));
                    continue;
                }
            },
        };
        match open.last_mut() {
            Some(o) => o.body.push(stmt),
            None => top.push(stmt),
        }
    }
    // A trailing newline leaves one empty last "line"; it is not a statement.
    if text.ends_with('\n')
        && open.is_empty()
        && matches!(
            top.last(),
            Some(Stmt {
                kind: StmtKind::Blank,
                ..
            })
        )
    {
        top.pop();
    }
    for o in open.iter().rev() {
        errors.push(Error::new(
            o.line,
            1,
            format!("`repeat {}` is never closed: add a line `end`", o.count),
        ));
    }
    if errors.is_empty() {
        Ok(Scenario { stmts: top })
    } else {
        errors.sort_by_key(|e| (e.line, e.col));
        Err(Errors(errors))
    }
}

enum Line {
    Stmt(StmtKind, Option<String>),
    Repeat(u32, Option<String>),
    End,
}

const KEYWORDS: &str = "create, write, guest-write, wait, run, repeat, end, set, set-clock, set-offset, tsc-khz, expect, title, story, source";

fn parse_line(raw: &str, line: u32) -> Result<Line, Error> {
    let trimmed = raw.trim_start();
    if trimmed.is_empty() {
        return Ok(Line::Stmt(StmtKind::Blank, None));
    }
    if let Some(text) = trimmed.strip_prefix('#') {
        return Ok(Line::Stmt(
            StmtKind::Comment {
                text: text.trim_end().to_string(),
            },
            None,
        ));
    }
    let indent = raw.chars().count() - trimmed.chars().count();
    let keyword = trimmed.split_whitespace().next().unwrap_or("");
    // Text statements: the rest of the line is the text, `#` included.
    let rest_text = || trimmed[keyword.len()..].trim().to_string();
    match keyword {
        "title" => return Ok(Line::Stmt(StmtKind::Title { text: rest_text() }, None)),
        "story" => return Ok(Line::Stmt(StmtKind::Story { text: rest_text() }, None)),
        "source" => return Ok(Line::Stmt(StmtKind::Source { text: rest_text() }, None)),
        _ => {}
    }
    let (code, comment) = match raw.find('#') {
        Some(i) => (&raw[..i], Some(raw[i + 1..].trim_end().to_string())),
        None => (raw, None),
    };
    let toks = tokens(code);
    let at = |t: &Tok<'_>, msg: String| Error::new(line, t.col, msg);
    let kw = toks[0];
    let args = &toks[1..];
    let want = |n: usize, usage: &str| -> Result<(), Error> {
        if args.len() == n {
            return Ok(());
        }
        if args.len() > n {
            let extra = args[n];
            Err(at(
                &extra,
                format!("unexpected `{}`: usage is `{usage}`", extra.text),
            ))
        } else {
            let end_col = u32::try_from(code.trim_end().chars().count() + 1).unwrap_or(u32::MAX);
            Err(Error::new(
                line,
                end_col,
                format!("`{}` needs more: usage is `{usage}`", kw.text),
            ))
        }
    };
    let kind = match kw.text {
        "create" => {
            want(1, "create N")?;
            let n = parse_u32(args[0].text).map_err(|m| at(&args[0], m))?;
            if n == 0 {
                return Err(at(&args[0], "`create 0` creates nothing: use N ≥ 1".into()));
            }
            StmtKind::Create { count: n }
        }
        "write" | "guest-write" => {
            want(2, &format!("{} TARGETS VALUE", kw.text))?;
            let targets = parse_targets(args[0].text).map_err(|m| at(&args[0], m))?;
            let value = parse_tsc_value(args[1].text).map_err(|m| at(&args[1], m))?;
            if kw.text == "write" {
                StmtKind::Write { targets, value }
            } else {
                StmtKind::GuestWrite { targets, value }
            }
        }
        "tsc-khz" => {
            want(2, "tsc-khz TARGETS KHZ")?;
            let targets = parse_targets(args[0].text).map_err(|m| at(&args[0], m))?;
            // 0 asks for the host's rate, as KVM_SET_TSC_KHZ does.
            let khz = parse_u32(args[1].text).map_err(|m| at(&args[1], m))?;
            StmtKind::TscKhz { targets, khz }
        }
        "set-offset" => {
            want(2, "set-offset TARGETS OFFSET")?;
            let targets = parse_targets(args[0].text).map_err(|m| at(&args[0], m))?;
            let offset = parse_offset(args[1].text).map_err(|m| at(&args[1], m))?;
            StmtKind::SetOffset { targets, offset }
        }
        "set-clock" => {
            want(0, "set-clock")?;
            StmtKind::SetClock
        }
        "wait" => {
            want(1, "wait DURATION")?;
            let duration = parse_duration(args[0].text).map_err(|m| at(&args[0], m))?;
            StmtKind::Wait { duration }
        }
        "run" => {
            want(1, "run TARGETS")?;
            let targets = parse_targets(args[0].text).map_err(|m| at(&args[0], m))?;
            StmtKind::Run { targets }
        }
        "repeat" => {
            want(1, "repeat N")?;
            let n = parse_u32(args[0].text).map_err(|m| at(&args[0], m))?;
            if n == 0 {
                return Err(at(
                    &args[0],
                    "`repeat 0` runs nothing: use N ≥ 1 or remove the block".into(),
                ));
            }
            return Ok(Line::Repeat(n, comment));
        }
        "end" => {
            want(0, "end")?;
            return Ok(Line::End);
        }
        "set" => {
            want(2, "set KEY VALUE")?;
            let setting = parse_setting(args[0].text, args[1].text)
                .map_err(|(which, m)| at(&args[which], m))?;
            StmtKind::Set { setting }
        }
        "expect" => {
            let rest = &code[code.find("expect").unwrap_or(0) + "expect".len()..];
            let rest_col = u32::try_from(indent + "expect".len()).unwrap_or(0);
            let expect = parse_expect(rest, rest_col, line)?;
            StmtKind::Expect { expect }
        }
        other => {
            let hint = suggest(other)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(at(
                &kw,
                format!("unknown statement `{other}`{hint}; expected one of: {KEYWORDS}"),
            ));
        }
    };
    Ok(Line::Stmt(kind, comment))
}

fn suggest(word: &str) -> Option<&'static str> {
    // Only a near miss of a keyword gets a suggestion; long words are not typos.
    if word.chars().count() > 14 {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let len = lower.chars().count();
    KEYWORDS
        .split(", ")
        // The distance is at least the difference in length.
        .filter(|k| k.len().abs_diff(len) <= 2)
        .map(|k| (k, edit_distance(&lower, k)))
        .filter(|&(_, d)| d <= 2)
        .min_by_key(|&(_, d)| d)
        .map(|(k, _)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn parse_setting(key: &str, value: &str) -> Result<Setting, (usize, String)> {
    let v = |m: String| (1usize, m);
    match key {
        "tsc_khz" => {
            let khz = parse_u32(value).map_err(v)?;
            if khz == 0 {
                return Err(v("a TSC frequency of 0 kHz is not valid".into()));
            }
            Ok(Setting::TscKhz(khz))
        }
        "clocksource" => Clocksource::ALL
            .into_iter()
            .find(|c| c.name() == value)
            .map(Setting::Clocksource)
            .ok_or_else(|| {
                v(format!(
                    "unknown clocksource `{value}`; expected one of {}",
                    Clocksource::ALL.map(|c| c.name()).join(", ")
                ))
            }),
        "host_tsc" => match value {
            "stable" => Ok(Setting::HostTsc(HostTsc::Stable)),
            "unstable" => Ok(Setting::HostTsc(HostTsc::Unstable)),
            _ => Err(v(format!(
                "expected `stable` or `unstable`, found `{value}`"
            ))),
        },
        "uptime" => Ok(Setting::Uptime(parse_duration(value).map_err(v)?)),
        _ => Err((
            0,
            format!("unknown setting `{key}`; expected tsc_khz, clocksource, host_tsc or uptime"),
        )),
    }
}

/// Parses an unsigned integer: decimal or `0x` hex, `_` allowed between digits.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (s, 10),
    };
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    let well_formed = !clean.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && clean.chars().all(|c| c.is_digit(radix));
    if !well_formed {
        return Err(format!(
            "expected an unsigned integer (decimal or 0x-hex, `_` allowed), found `{s}`"
        ));
    }
    u64::from_str_radix(&clean, radix)
        .map_err(|_| format!("`{s}` does not fit in 64 bits (the largest is 18446744073709551615)"))
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let n = parse_u64(s)?;
    u32::try_from(n).map_err(|_| format!("`{s}` is too large (at most {})", u32::MAX))
}

/// Parses `*`, `3`, `0,2`, `1-3` or a comma-separated mix.
pub fn parse_targets(s: &str) -> Result<Targets, String> {
    if s == "*" {
        return Ok(Targets::All);
    }
    let usage = "vCPU targets look like `*`, `3`, `0,2`, `1-3` or `0,2-5`";
    if s.is_empty() {
        return Err(format!("expected vCPU targets; {usage}"));
    }
    let mut ranges = Vec::new();
    for part in s.split(',') {
        if part.is_empty() {
            return Err(format!("empty item in `{s}`; {usage}"));
        }
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let num = |x: &str| -> Result<u32, String> {
            if x.is_empty() || !x.chars().all(|c| c.is_ascii_digit() || c == '_') {
                return Err(format!("`{part}` is not a vCPU number or range; {usage}"));
            }
            parse_u32(x)
        };
        let (first, last) = (num(a)?, num(b)?);
        if first > last {
            return Err(format!(
                "range `{part}` runs backwards: write `{last}-{first}`"
            ));
        }
        ranges.push(VcpuRange { first, last });
    }
    Ok(Targets::List(ranges))
}

/// Parses a duration: `500us`, `10ms`, `1.5s`, `250ns` (also `µs`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let unit_at = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(unit_at);
    let scale: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "" => {
            return Err(format!(
                "`{s}` needs a unit: write e.g. `500us`, `10ms` or `1.5s`"
            ));
        }
        _ => {
            return Err(format!(
                "unknown time unit `{unit}` in `{s}`; use ns, us, ms or s"
            ));
        }
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() || (num.contains('.') && frac.is_empty()) {
        return Err(format!("expected a duration like `1.5s`, found `{s}`"));
    }
    let whole = parse_u64(int)?;
    let mut ns = whole
        .checked_mul(scale)
        .ok_or_else(|| format!("`{s}` is too long a time"))?;
    if !frac.is_empty() {
        if !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("expected a duration like `1.5s`, found `{s}`"));
        }
        // frac digits × scale must land on whole nanoseconds.
        let mut part: u64 = 0;
        let mut unit_ns = scale;
        for c in frac.chars() {
            if !unit_ns.is_multiple_of(10) {
                let decimals = scale.to_string().len() - 1;
                return Err(format!(
                    "`{s}` is finer than a nanosecond: at most {decimals} decimals with `{unit}`"
                ));
            }
            unit_ns /= 10;
            part += u64::from(c.to_digit(10).unwrap_or(0)) * unit_ns;
        }
        ns = ns
            .checked_add(part)
            .ok_or_else(|| format!("`{s}` is too long a time"))?;
    }
    Ok(Duration::from_ns(ns))
}

/// Parses a TSC value: an integer, or `now`, `now@K`, `now+D`, `now@K-D`
/// where D is a duration (`10ms`) or a number of cycles.
pub fn parse_tsc_value(s: &str) -> Result<TscValue, String> {
    let Some(rest) = s.strip_prefix("now") else {
        return parse_u64(s).map(TscValue::Literal).map_err(|m| {
            format!("{m}; a TSC value is an integer, `now`, `now+D`, `now-D` or `now@K`")
        });
    };
    let (of, rest) = match rest.strip_prefix('@') {
        Some(r) => {
            let end = r.find(['+', '-']).unwrap_or(r.len());
            let k = parse_u32(&r[..end]).map_err(|m| format!("after `now@`: {m}"))?;
            (Some(k), &r[end..])
        }
        None => (None, rest),
    };
    let delta = if rest.is_empty() {
        Delta::ZERO
    } else {
        let (negative, d) = match rest.as_bytes()[0] {
            b'+' => (false, &rest[1..]),
            b'-' => (true, &rest[1..]),
            _ => {
                return Err(format!(
                    "expected `+D` or `-D` after `now` in `{s}` (D: `10ms` or cycles)"
                ));
            }
        };
        let amount = if d.chars().all(|c| c.is_ascii_digit() || c == '_') || d.starts_with("0x") {
            DeltaAmount::Cycles(parse_u64(d)?)
        } else {
            DeltaAmount::Time(parse_duration(d)?)
        };
        Delta { negative, amount }
    };
    Ok(TscValue::Now { of, delta })
}

/// Parses a `set-offset` value: a signed integer (decimal or hex) or `offset@K[±N]`.
pub fn parse_offset(s: &str) -> Result<OffsetValue, String> {
    if let Some(r) = s.strip_prefix("offset@") {
        let end = r.find(['+', '-']).unwrap_or(r.len());
        let vcpu = parse_u32(&r[..end]).map_err(|m| format!("after `offset@`: {m}"))?;
        let delta = if end == r.len() {
            0
        } else {
            parse_i64(&r[end..])?
        };
        return Ok(OffsetValue::Of { vcpu, delta });
    }
    parse_i64(s)
        .map(OffsetValue::Literal)
        .map_err(|m| format!("{m}; an offset is a signed integer or `offset@K` (vCPU K's offset)"))
}

fn parse_i64(s: &str) -> Result<i64, String> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mag = parse_u64(body)?;
    let v = if neg {
        0i64.checked_sub_unsigned(mag)
    } else {
        i64::try_from(mag).ok()
    };
    v.ok_or_else(|| format!("`{s}` does not fit in a signed 64-bit offset"))
}

fn parse_expect(rest: &str, rest_col: u32, line: u32) -> Result<Expect, Error> {
    let usage = "usage is `expect BACKENDS: [write K | vcpu K] FIELD OP VALUE`, e.g. `expect linux-3.14: write 5 nr_matched = 4`";
    let Some(colon) = rest.find(':') else {
        return Err(Error::new(
            line,
            rest_col + 1,
            format!("missing `:` after the backends; {usage}"),
        ));
    };
    let chars_before = |i: usize| u32::try_from(rest[..i].chars().count()).unwrap_or(0);
    let mut backends = Vec::new();
    let mut all_models = false;
    let mut offset = 0usize;
    for item in rest[..colon].split(',') {
        let name = item.trim();
        let col = rest_col + 1 + chars_before(offset + item.len() - item.trim_start().len());
        offset += item.len() + 1;
        if name == "*" {
            all_models = true;
            backends.extend(BackendId::MODELS);
        } else if name.is_empty() {
            return Err(Error::new(
                line,
                col,
                format!("expected a backend name; {usage}"),
            ));
        } else {
            let b: BackendId = name.parse().map_err(|m| Error::new(line, col, m))?;
            backends.push(b);
        }
    }
    backends.sort();
    backends.dedup();
    let after = &rest[colon + 1..];
    let after_col = rest_col + 1 + chars_before(colon + 1);
    let toks: Vec<Tok<'_>> = tokens(after)
        .into_iter()
        .map(|t| Tok {
            text: t.text,
            col: t.col + after_col - 1,
        })
        .collect();
    let at = |t: &Tok<'_>, m: String| Error::new(line, t.col, m);
    let mut i = 0;
    let where_ = match toks.first().map(|t| t.text) {
        Some(w @ ("write" | "vcpu")) => {
            let Some(k) = toks.get(1) else {
                return Err(at(&toks[0], format!("`{w}` needs a number; {usage}")));
            };
            let n = parse_u32(k.text).map_err(|m| at(k, m))?;
            i = 2;
            if w == "write" {
                if n == 0 {
                    return Err(at(k, "writes are numbered from 1".into()));
                }
                ExpectAt::Write(n)
            } else {
                ExpectAt::Vcpu(n)
            }
        }
        _ => ExpectAt::End,
    };
    let [f, o, v] = [toks.get(i), toks.get(i + 1), toks.get(i + 2)];
    let (Some(f), Some(o), Some(v)) = (f, o, v) else {
        let col = toks.last().map_or(after_col, |t| t.col + 1);
        return Err(Error::new(
            line,
            col,
            format!("incomplete expectation; {usage}"),
        ));
    };
    if let Some(extra) = toks.get(i + 3) {
        return Err(at(extra, format!("unexpected `{}`; {usage}", extra.text)));
    }
    let valid_here = || {
        Field::ALL
            .into_iter()
            .filter(|x| x.valid_at(where_))
            .map(Field::name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let field = Field::ALL
        .into_iter()
        .find(|x| x.name() == f.text)
        .ok_or_else(|| {
            at(
                f,
                format!(
                    "unknown field `{}`; expected one of {}",
                    f.text,
                    valid_here()
                ),
            )
        })?;
    if !field.valid_at(where_) {
        let place = match where_ {
            ExpectAt::End => "at the end of a run",
            ExpectAt::Write(_) => "after a write",
            ExpectAt::Vcpu(_) => "for one vCPU",
        };
        return Err(at(
            f,
            format!(
                "`{}` cannot be checked {place}; there: {}",
                f.text,
                valid_here()
            ),
        ));
    }
    let op = Op::ALL
        .into_iter()
        .find(|x| x.symbol() == o.text)
        .ok_or_else(|| {
            at(
                o,
                format!("expected one of = != < <= > >=, found `{}`", o.text),
            )
        })?;
    let value = if field.is_bool() {
        let b = match v.text {
            "yes" | "true" | "on" => true,
            "no" | "false" | "off" => false,
            _ => {
                return Err(at(
                    v,
                    format!(
                        "`{}` is yes or no (also true/false, on/off), not `{}`",
                        field.name(),
                        v.text
                    ),
                ));
            }
        };
        if !matches!(op, Op::Eq | Op::Ne) {
            return Err(at(
                o,
                format!("`{}` is yes or no: compare it with = or !=", field.name()),
            ));
        }
        ExpectValue::Bool(b)
    } else {
        ExpectValue::Int(parse_u64(v.text).map_err(|m| at(v, m))?)
    };
    Ok(Expect {
        backends,
        all_models,
        at: where_,
        field,
        op,
        value,
    })
}

// ---------------------------------------------------------------- printing

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn print(stmts: &[Stmt], depth: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for s in stmts {
                let mut line = String::new();
                if !matches!(s.kind, StmtKind::Blank) {
                    line.push_str(&"  ".repeat(depth));
                }
                write!(line, "{}", StmtHead(&s.kind))?;
                if let Some(c) = &s.comment {
                    if line.trim().is_empty() {
                        write!(line, "#{c}")?;
                    } else {
                        write!(line, " #{c}")?;
                    }
                }
                writeln!(f, "{}", line.trim_end())?;
                if let StmtKind::Repeat { body, .. } = &s.kind {
                    print(body, depth + 1, f)?;
                    writeln!(f, "{}end", "  ".repeat(depth))?;
                }
            }
            Ok(())
        }
        print(&self.stmts, 0, f)
    }
}

/// The first line of a statement (for `repeat`, without its body).
struct StmtHead<'a>(&'a StmtKind);

impl fmt::Display for StmtHead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            StmtKind::Blank => Ok(()),
            StmtKind::Comment { text } => write!(f, "#{text}"),
            StmtKind::Title { text } => write!(f, "title {text}"),
            StmtKind::Story { text } => write!(f, "story {text}"),
            StmtKind::Source { text } => write!(f, "source {text}"),
            StmtKind::Set { setting } => match setting {
                Setting::TscKhz(k) => write!(f, "set tsc_khz {}", Grouped(u64::from(*k))),
                Setting::Clocksource(c) => write!(f, "set clocksource {}", c.name()),
                Setting::HostTsc(HostTsc::Stable) => f.write_str("set host_tsc stable"),
                Setting::HostTsc(HostTsc::Unstable) => f.write_str("set host_tsc unstable"),
                Setting::Uptime(d) => write!(f, "set uptime {d}"),
            },
            StmtKind::Create { count } => write!(f, "create {count}"),
            StmtKind::Write { targets, value } => write!(f, "write {targets} {value}"),
            StmtKind::GuestWrite { targets, value } => write!(f, "guest-write {targets} {value}"),
            StmtKind::TscKhz { targets, khz } => {
                write!(f, "tsc-khz {targets} {}", Grouped(u64::from(*khz)))
            }
            StmtKind::SetOffset { targets, offset } => write!(f, "set-offset {targets} {offset}"),
            StmtKind::SetClock => f.write_str("set-clock"),
            StmtKind::Wait { duration } => write!(f, "wait {duration}"),
            StmtKind::Run { targets } => write!(f, "run {targets}"),
            StmtKind::Repeat { count, .. } => write!(f, "repeat {count}"),
            StmtKind::Expect { expect } => write!(f, "{expect}"),
        }
    }
}

/// A number as scenarios write big ones: `_` between groups of three digits
/// from 100 000 up (`5_000_000_000_000`), plain below.
pub(crate) struct Grouped(pub(crate) u64);

impl fmt::Display for Grouped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        if self.0 < 100_000 {
            return f.write_str(&digits);
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                f.write_char('_')?;
            }
            f.write_char(c)?;
        }
        Ok(())
    }
}

fn sign(v: i64) -> &'static str {
    if v < 0 { "-" } else { "" }
}

impl fmt::Display for Targets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Targets::All => f.write_str("*"),
            Targets::List(ranges) => {
                for (i, r) in ranges.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    if r.first == r.last {
                        write!(f, "{}", r.first)?;
                    } else {
                        write!(f, "{}-{}", r.first, r.last)?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.ns;
        for (unit, scale) in [("s", 1_000_000_000u64), ("ms", 1_000_000), ("us", 1_000)] {
            if ns != 0 && ns.is_multiple_of(scale) {
                return write!(f, "{}{unit}", ns / scale);
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for TscValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TscValue::Literal(v) => write!(f, "{}", Grouped(*v)),
            TscValue::Now { of, delta } => {
                f.write_str("now")?;
                if let Some(k) = of {
                    write!(f, "@{k}")?;
                }
                if *delta != Delta::ZERO {
                    f.write_str(if delta.negative { "-" } else { "+" })?;
                    match delta.amount {
                        DeltaAmount::Cycles(c) => write!(f, "{}", Grouped(c))?,
                        DeltaAmount::Time(d) => write!(f, "{d}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for OffsetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OffsetValue::Literal(v) => write!(f, "{}{}", sign(v), Grouped(v.unsigned_abs())),
            OffsetValue::Of { vcpu, delta: 0 } => write!(f, "offset@{vcpu}"),
            OffsetValue::Of { vcpu, delta } => {
                let plus = if delta >= 0 { "+" } else { "-" };
                write!(f, "offset@{vcpu}{plus}{}", Grouped(delta.unsigned_abs()))
            }
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expect ")?;
        if self.all_models {
            f.write_str("*")?;
            for b in self.backends.iter().filter(|b| !b.is_model()) {
                write!(f, ", {b}")?;
            }
        } else {
            let names: Vec<&str> = self.backends.iter().map(|b| b.name()).collect();
            f.write_str(&names.join(", "))?;
        }
        f.write_str(": ")?;
        match self.at {
            ExpectAt::End => {}
            ExpectAt::Write(k) => write!(f, "write {k} ")?,
            ExpectAt::Vcpu(k) => write!(f, "vcpu {k} ")?,
        }
        write!(
            f,
            "{} {} {}",
            self.field.name(),
            self.op.symbol(),
            self.value
        )
    }
}

// ------------------------------------------------- serde as text for leaves

macro_rules! serde_as_text {
    ($ty:ty, $parse:path) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_text!(Targets, parse_targets);
serde_as_text!(TscValue, parse_tsc_value);
serde_as_text!(Duration, parse_duration);
serde_as_text!(OffsetValue, parse_offset);
