//! The scenario library: complete, documented, and every stated outcome true.

use std::collections::BTreeSet;

use scenarios::library::LIBRARY;
use scenarios::{BackendId, Event, verify_models};

#[test]
fn every_file_is_listed_and_every_entry_has_a_file() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/library");
    let files: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tsc"))
        .map(|n| n.trim_end_matches(".tsc").to_string())
        .collect();
    let listed: BTreeSet<String> = LIBRARY.iter().map(|e| e.name.to_string()).collect();
    assert_eq!(files, listed);
}

#[test]
fn every_scenario_tells_its_story() {
    for e in LIBRARY {
        let s = e
            .scenario()
            .unwrap_or_else(|err| panic!("{}: {err}", e.name));
        assert!(
            s.title().is_some_and(|t| !t.is_empty()),
            "{}: no title",
            e.name
        );
        assert!(s.story().len() > 80, "{}: the story is a paragraph", e.name);
        assert!(!s.sources().is_empty(), "{}: no source", e.name);
        assert!(s.expects().count() >= 3, "{}: state the outcome", e.name);
    }
}

/// "Each states its expected outcome per model, and the tests check it."
#[test]
fn every_expectation_holds_and_every_model_is_covered() {
    for e in LIBRARY {
        let s = e.scenario().unwrap();
        let outcomes = verify_models(&s);
        for o in &outcomes {
            assert_eq!(
                o.passed,
                Some(true),
                "{}:{} [{}] {} — {}",
                e.name,
                o.line,
                o.backend,
                o.expect,
                o.note
            );
        }
        let covered: BTreeSet<BackendId> = outcomes.iter().map(|o| o.backend).collect();
        for id in BackendId::MODELS {
            let runs = scenarios::run_model(&s, id);
            match runs {
                Ok(_) => assert!(
                    covered.contains(&id),
                    "{}: nothing is expected of {id}",
                    e.name
                ),
                // Only a kernel without the ioctl may refuse, and it must say so.
                Err(err) => assert!(
                    err.to_string().contains("does not exist in"),
                    "{}: {id}: {err}",
                    e.name
                ),
            }
        }
    }
}

/// The verdict at a glance for the QEMU 2.0 boots: 3.14 unstable, the rest
/// (with 0d3da0d26e3c, "KVM: x86: fix TSC matching") stable.
#[test]
fn fix_0d3da0d26e3c_qemu_2_0_boots_unstable_on_3_14_only() {
    for n in [1, 2, 4, 8] {
        let s = scenarios::library::get(&format!("qemu-2.0-boot-{n}"))
            .unwrap()
            .scenario()
            .unwrap();
        for id in BackendId::MODELS {
            let events = scenarios::run_model(&s, id).unwrap();
            let Some(Event::Summary(end)) = events.last() else {
                panic!()
            };
            assert_eq!(end.kvmclock_stable, id != BackendId::Linux314, "N={n} {id}");
            assert!(!end.implicit_run, "N={n}: the scenario ends with run *");
        }
    }
}

#[test]
fn the_offset_attribute_is_refused_by_3x_kernels() {
    let entry = scenarios::library::get("tsc-offset-attr").unwrap();
    let s = entry.scenario().unwrap();
    let line = entry
        .text
        .lines()
        .position(|l| l.starts_with("set-offset"))
        .unwrap() as u32
        + 1;
    for id in [
        BackendId::Linux314,
        BackendId::Linux317,
        BackendId::Linux317U8,
    ] {
        let err = scenarios::run_model(&s, id).unwrap_err();
        assert!(
            err.to_string()
                .contains("KVM_VCPU_TSC_OFFSET does not exist in"),
            "{id}: {err}"
        );
        assert_eq!(
            err.line(),
            Some(line),
            "{id}: the error points at the set-offset line: {err}"
        );
    }
}
