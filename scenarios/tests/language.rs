//! The scenario language: what parses, what does not and where, and round trips.

use proptest::prelude::*;
use scenarios::ast::*;
use scenarios::{BackendId, Scenario, parse};

/// Parses, expecting failure; returns "line:col: message" of the first error.
fn err(text: &str) -> String {
    match parse(text) {
        Ok(s) => panic!("expected an error for {text:?}, got {s:?}"),
        Err(e) => e.0[0].to_string(),
    }
}

fn starts(text: &str, prefix: &str, needle: &str) {
    let e = err(text);
    assert!(e.starts_with(prefix), "{text:?}: wanted {prefix}…, got {e}");
    assert!(e.contains(needle), "{text:?}: wanted “{needle}” in {e}");
}

#[test]
fn every_statement_parses() {
    let text = "\
title Everything
story One line.
story
story Another paragraph.
source Linux 0d3da0d26e3c, cloud-hypervisor #8383
set tsc_khz 2_600_000
set clocksource tsc
set host_tsc stable
set uptime 1.5s
# a comment
create 4   # trailing comment
write * 0
write 0,2-3 0x1_0000
guest-write 1 now+10ms
write 2 now@1-500
tsc-khz 3 5200000
set-offset * offset@0+7
set-offset 1 -42
set-clock
wait 250us
run 0-3
repeat 3
  repeat 2
    write 1 now
  end
  wait 1ms
end
expect linux-3.14, linux-6.18: write 5 nr_matched >= 3
expect *: kvmclock_stable = yes
expect *, kvm: vcpu 2 pvclock_stable != no
";
    let s = parse(text).unwrap();
    assert_eq!(s.title(), Some("Everything"));
    assert_eq!(s.story(), "One line.\n\nAnother paragraph.");
    assert_eq!(s.sources(), ["Linux 0d3da0d26e3c, cloud-hypervisor #8383"]);
    let host = s.host();
    assert_eq!(host.tsc_khz, 2_600_000);
    assert_eq!(host.uptime_ns, 1_500_000_000);
    let a = scenarios::check(&s, Some(text)).unwrap();
    assert_eq!(a.vcpus, 4);
    // 4 creations + 4 + 3 + 1 + 1 + 4 + 1 + 3 × 2 writes
    assert_eq!(a.writes, 24);
    assert_eq!(a.wait_ns, 250_000 + 3 * 1_000_000);
    let (_, e) = s.expects().last().unwrap();
    assert!(e.all_models && e.backends.contains(&BackendId::Kvm));
    assert_eq!(e.at, ExpectAt::Vcpu(2));
}

#[test]
fn leaf_syntaxes() {
    use scenarios::text::{parse_duration, parse_targets, parse_tsc_value, parse_u64};
    assert_eq!(parse_u64("0xFFFF_FFFF").unwrap(), 0xffff_ffff);
    assert_eq!(parse_u64("18446744073709551615").unwrap(), u64::MAX);
    assert!(
        parse_u64("18446744073709551616")
            .unwrap_err()
            .contains("does not fit in 64 bits")
    );
    assert!(parse_u64("1__").is_err() && parse_u64("_1").is_err() && parse_u64("0x").is_err());
    assert_eq!(parse_duration("1.5s").unwrap().ns, 1_500_000_000);
    assert_eq!(parse_duration("500us").unwrap().ns, 500_000);
    assert_eq!(parse_duration("2µs").unwrap().ns, 2_000);
    assert_eq!(parse_duration("0.000000001s").unwrap().ns, 1);
    assert!(
        parse_duration("0.0000000001s")
            .unwrap_err()
            .contains("finer than a nanosecond")
    );
    assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
    assert!(
        parse_duration("3min")
            .unwrap_err()
            .contains("unknown time unit")
    );
    assert!(
        parse_duration("99999999999s")
            .unwrap_err()
            .contains("too long")
    );
    assert_eq!(
        parse_targets("0,2-3").unwrap().iter(9).collect::<Vec<_>>(),
        [0, 2, 3]
    );
    assert_eq!(
        parse_targets("*").unwrap().iter(3).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(parse_targets("3-1").unwrap_err().contains("runs backwards"));
    assert!(
        parse_targets("1,,2").is_err()
            && parse_targets("a").is_err()
            && parse_targets("-1").is_err()
    );
    assert_eq!(
        parse_tsc_value("now@3-1ms").unwrap(),
        TscValue::Now {
            of: Some(3),
            delta: Delta {
                negative: true,
                amount: DeltaAmount::Time(Duration::from_ms(1))
            }
        }
    );
    assert!(parse_tsc_value("now*2").is_err());
}

#[test]
fn syntax_errors_say_where_and_why() {
    starts("create 2\nwrte * 0\n", "2:1:", "did you mean `write`");
    starts(
        "create 2\nwrite *\n",
        "2:8:",
        "usage is `write TARGETS VALUE`",
    );
    starts("create 2\nwrite * 0 extra\n", "2:11:", "unexpected `extra`");
    starts(
        "create 2\nwrite 0 99999999999999999999\n",
        "2:9:",
        "does not fit in 64 bits",
    );
    starts("create 2\n  write 1-0 0\n", "2:9:", "runs backwards");
    starts("create 2\nwait 10\n", "2:6:", "needs a unit");
    starts("create 0\n", "1:8:", "creates nothing");
    starts(
        "create 2\nrepeat 3\n  write * 0\n",
        "2:1:",
        "never closed: add a line `end`",
    );
    starts("create 2\nend\n", "2:1:", "`end` without a `repeat`");
    starts("set foo 1\ncreate 1\n", "1:5:", "unknown setting `foo`");
    starts(
        "set clocksource jiffies\ncreate 1\n",
        "1:17:",
        "unknown clocksource",
    );
    starts(
        "create 1\nexpect linux-9.9: nr_matched = 1\n",
        "2:8:",
        "unknown backend `linux-9.9`",
    );
    starts(
        "create 1\nexpect linux-3.14 nr_matched = 1\n",
        "2:7:",
        "missing `:`",
    );
    starts(
        "create 1\nexpect *: nr_matchd = 1\n",
        "2:11:",
        "unknown field `nr_matchd`",
    );
    starts(
        "create 1\nexpect *: matched = yes\n",
        "2:11:",
        "cannot be checked at the end of a run",
    );
    starts(
        "create 1\nexpect *: master_clock = 3\n",
        "2:26:",
        "is yes or no",
    );
    starts(
        "create 1\nexpect *: master_clock < yes\n",
        "2:24:",
        "compare it with = or !=",
    );
    starts(
        "create 1\nexpect *: nr_matched == 1\n",
        "2:22:",
        "expected one of = !=",
    );
}

#[test]
fn meaning_errors_say_where_and_why() {
    starts(
        "create 4\nwrite 5 0\n",
        "2:7:",
        "vCPU 5 does not exist here: the VM has 4 vCPUs (0–3)",
    );
    starts("create 1\nrun 0-1\n", "2:5:", "vCPU 1 does not exist");
    starts("write * 0\ncreate 1\n", "1:1:", "no vCPU yet");
    starts("create 2\nwrite 0 now@2\n", "2:9:", "`now@2` names vCPU 2");
    starts(
        "create 2\nset tsc_khz 1000\n",
        "2:1:",
        "move `set` above line 1",
    );
    starts(
        "set uptime 1s\nset uptime 2s\ncreate 1\n",
        "2:5:",
        "already set on line 1",
    );
    starts("title a\ntitle b\ncreate 1\n", "2:1:", "a second title");
    starts("create 1000\ncreate 25\n", "2:8:", "a VM has at most 1024");
    starts(
        "create 1\nrepeat 1000\n  repeat 1000\n    write * 0\n  end\nend\n",
        "2:1:",
        "past 1000000 steps",
    );
    starts(
        "create 1\nrepeat 2\n  title x\nend\n",
        "3:3:",
        "cannot be inside a `repeat`",
    );
    starts(
        "create 2\nwrite * 0\nexpect *: write 5 nr_matched = 1\n",
        "3:11:",
        "there is no write 5",
    );
    starts(
        "create 2\nexpect *: vcpu 2 pvclock_stable = yes\n",
        "2:11:",
        "there is no vCPU 2",
    );
    starts("# only a comment\n", "1:1:", "creates no vCPU");
    starts(
        "set host_tsc unstable\nset clocksource tsc\ncreate 1\n",
        "2:17:",
        "no longer uses it as clocksource",
    );
    starts(
        "create 1\nrepeat 1000\n  wait 100000000s\nend\n",
        "2:1:",
        "ten years",
    );
}

#[test]
fn an_unstable_host_tsc_is_not_the_clocksource() {
    let host = parse("set host_tsc unstable\ncreate 1\n").unwrap().host();
    assert!(!host.tsc_stable);
    assert_eq!(host.clocksource, Clocksource::Hpet);
}

/// Fuzz crash 7e2564ff (10 M-input run, 3.2 M in): a `repeat` whose body
/// crosses the step bound after the scenario already had overflowed it made
/// the checker subtract below zero — a panic in debug builds.
#[test]
fn fuzz_7e2564ff_nested_repeat_past_the_step_bound() {
    let text = "create 1\nrepeat 2000000\n  write * 0\nend\nwrite * 0\nrepeat 2\n  repeat 2000000\n    write * 0\n  end\nend\n";
    let e = parse(text).unwrap_err();
    assert!(
        e.0.iter()
            .any(|e| e.line == 2 && e.message.contains("past 1000000 steps")),
        "{e}"
    );
    let crash = include_bytes!("fuzz/crash-7e2564ff");
    assert!(parse(&String::from_utf8_lossy(crash)).is_err());
}

#[test]
fn all_errors_are_reported_not_just_the_first() {
    let e = parse("create 2\nwrte 0 0\nwait 5\nrun 7\n").unwrap_err();
    let lines: Vec<u32> = e.0.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 3], "syntax errors first, all of them: {e}");
    let e = parse("create 2\nwrite 3 0\nrun 9\n").unwrap_err();
    assert_eq!(e.0.len(), 2, "{e}");
}

#[test]
fn crlf_and_indentation_are_accepted() {
    let s = parse("create 2\r\n\trepeat 2\r\n\t\twrite * 0\r\n\tend\r\n").unwrap();
    assert_eq!(scenarios::check(&s, None).unwrap().writes, 6);
}

#[test]
fn every_library_scenario_round_trips_through_text_and_json() {
    for entry in scenarios::library::LIBRARY {
        let s = entry.scenario().unwrap();
        // Text: the library files are written in canonical form.
        assert_eq!(
            s.to_string(),
            entry.text,
            "{} is not in canonical form",
            entry.name
        );
        assert_eq!(parse(&s.to_string()).unwrap(), s, "{}", entry.name);
        // JSON, both ways, and JSON → text.
        let json = serde_json::to_string(&s).unwrap();
        let back: Scenario = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s, "{}", entry.name);
        assert_eq!(
            Scenario::from_json_value(back).unwrap().to_string(),
            entry.text
        );
    }
}

#[test]
fn json_without_line_numbers_gets_errors_not_panics() {
    let json = r#"{"stmts":[{"op":"create","count":1},{"op":"expect","expect":{"backends":["linux-3.14"],"at":{"write":9},"field":"online","op":"=","value":1}},{"op":"run","targets":"4"}]}"#;
    let s: Scenario = serde_json::from_str(json).unwrap();
    let e = Scenario::from_json_value(s).unwrap_err();
    assert_eq!(e.0.len(), 2, "{e}");
    assert!(e.0.iter().all(|e| e.line == 0 && e.col == 1), "{e}");
}

#[test]
fn json_is_checked_like_text() {
    let mut s = parse("create 2\nwrite 1 0\n").unwrap();
    let StmtKind::Write { targets, .. } = &mut s.stmts[1].kind else {
        panic!()
    };
    *targets = scenarios::text::parse_targets("5").unwrap();
    let json = serde_json::to_string(&s).unwrap();
    let back: Scenario = serde_json::from_str(&json).unwrap();
    let e = Scenario::from_json_value(back).unwrap_err();
    assert_eq!(e.0[0].line, 2);
    assert!(e.0[0].message.contains("vCPU 5 does not exist"), "{e}");
    let bad = r#"{"stmts":[{"line":1,"op":"write","targets":"1-","value":"0"}]}"#;
    let msg = serde_json::from_str::<Scenario>(bad)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not a vCPU number or range"), "{msg}");
}

// ------------------------------------------------------------ properties

fn arb_targets() -> impl Strategy<Value = Targets> {
    prop_oneof![
        Just(Targets::All),
        prop::collection::vec((0u32..4, 0u32..3), 1..3).prop_map(|v| Targets::List(
            v.into_iter()
                .map(|(a, d)| VcpuRange {
                    first: a,
                    last: a + d
                })
                .collect()
        )),
    ]
}

fn arb_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![0u64..5_000, (1u64..3_000).prop_map(|m| m * 1_000_000)].prop_map(Duration::from_ns)
}

fn arb_value() -> impl Strategy<Value = TscValue> {
    prop_oneof![
        any::<u64>().prop_map(TscValue::Literal),
        (
            prop::option::of(0u32..2),
            any::<bool>(),
            prop_oneof![
                (0u64..1 << 40).prop_map(DeltaAmount::Cycles),
                arb_duration().prop_map(DeltaAmount::Time)
            ]
        )
            .prop_map(|(of, negative, amount)| TscValue::Now {
                of,
                delta: Delta { negative, amount }
            }),
    ]
}

fn arb_action() -> impl Strategy<Value = StmtKind> {
    prop_oneof![
        (arb_targets(), arb_value())
            .prop_map(|(targets, value)| StmtKind::Write { targets, value }),
        (arb_targets(), arb_value())
            .prop_map(|(targets, value)| StmtKind::GuestWrite { targets, value }),
        arb_targets().prop_map(|targets| StmtKind::Run { targets }),
        arb_duration().prop_map(|duration| StmtKind::Wait { duration }),
        (arb_targets(), 1u32..9_000_000)
            .prop_map(|(targets, khz)| StmtKind::TscKhz { targets, khz }),
        (arb_targets(), any::<i64>()).prop_map(|(targets, o)| StmtKind::SetOffset {
            targets,
            offset: OffsetValue::Literal(o)
        }),
        Just(StmtKind::SetClock),
        Just(StmtKind::Blank),
        "[a-z ,.#]{0,12}".prop_map(|t| StmtKind::Comment {
            text: t.trim_end().to_string()
        }),
    ]
}

/// A valid scenario: 8 vCPUs first (so every target in 0..7 exists), then actions.
fn arb_scenario() -> impl Strategy<Value = Scenario> {
    let action = arb_action().prop_recursive(2, 12, 4, |inner| {
        (1u32..4, prop::collection::vec(inner, 1..4)).prop_map(|(count, body)| StmtKind::Repeat {
            count,
            body: body
                .into_iter()
                .map(|kind| Stmt {
                    line: 0,
                    kind,
                    comment: None,
                })
                .collect(),
        })
    });
    (
        prop::collection::vec(action, 0..12),
        prop::option::of("[a-z]{1,8}"),
    )
        .prop_map(|(actions, comment)| {
            let mut stmts = vec![Stmt {
                line: 0,
                kind: StmtKind::Title {
                    text: "generated".into(),
                },
                comment: None,
            }];
            stmts.push(Stmt {
                line: 0,
                kind: StmtKind::Create { count: 8 },
                comment,
            });
            stmts.extend(actions.into_iter().map(|kind| Stmt {
                line: 0,
                kind,
                comment: None,
            }));
            Scenario { stmts }
        })
}

fn without_lines(s: &Scenario) -> Scenario {
    fn strip(stmts: &[Stmt]) -> Vec<Stmt> {
        stmts
            .iter()
            .map(|s| Stmt {
                line: 0,
                kind: match &s.kind {
                    StmtKind::Repeat { count, body } => StmtKind::Repeat {
                        count: *count,
                        body: strip(body),
                    },
                    k => k.clone(),
                },
                comment: s.comment.clone(),
            })
            .collect()
    }
    Scenario {
        stmts: strip(&s.stmts),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text: the parser answers, never panics, and errors carry real positions.
    #[test]
    fn parser_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = parse(&text) {
            let lines = text.split('\n').count() as u32;
            for err in e.iter() {
                prop_assert!(err.line >= 1 && err.line <= lines && err.col >= 1, "{err}");
            }
        }
    }

    /// Line-shaped noise built from the language's own words finds deeper paths.
    #[test]
    fn parser_never_panics_on_near_misses(lines in prop::collection::vec(
        "(create|write|run|wait|repeat|end|set|expect|tsc-khz|set-offset|guest-write) ?[-*0-9a-z@+.,:=<>!# ]{0,24}", 0..12)) {
        let text = lines.join("\n");
        let _ = parse(&text);
    }

    /// AST → text → AST, and AST → JSON → AST; a built AST checks like text.
    #[test]
    fn round_trips(s in arb_scenario()) {
        prop_assert!(Scenario::from_json_value(s.clone()).is_ok());
        let text = s.to_string();
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(without_lines(&parsed), without_lines(&s));
        prop_assert_eq!(parsed.to_string(), text);
        let json = serde_json::to_string(&parsed).unwrap();
        let back: Scenario = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, parsed);
    }

    /// Whatever the checker accepts, every model runs without panicking, and
    /// the summary agrees with the last write.
    #[test]
    fn models_run_anything_valid(s in arb_scenario()) {
        for id in BackendId::MODELS {
            match scenarios::run_model(&s, id) {
                Ok(events) => {
                    let last_write = events.iter().rev().find_map(|e| match e {
                        scenarios::Event::Write(w) => Some(*w),
                        _ => None,
                    });
                    let Some(scenarios::Event::Summary(end)) = events.last() else { panic!("no summary") };
                    if let Some(w) = last_write {
                        prop_assert_eq!(w.nr_matched, end.nr_matched);
                        prop_assert_eq!(w.cur_tsc_generation, end.cur_tsc_generation);
                        prop_assert_eq!(w.write, end.writes);
                    }
                }
                // Only what that kernel lacks may fail.
                Err(e) => prop_assert!(
                    e.to_string().contains("does not exist in") || e.to_string().contains("out of range"),
                    "{}: {}", id, e
                ),
            }
        }
    }
}
