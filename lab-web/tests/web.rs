//! wasm-bindgen-test, in headless chromium: the kernel models compiled to
//! WebAssembly give the worked answers, and the components render them.
//!
//! `cargo xtask test` runs these with `wasm-bindgen-test-runner` (from
//! `wasm-bindgen-cli` 0.2.130, which it installs when missing):
//! `cargo test -p lab-web --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use lab_web::analysis::{self, Verdict};
use lab_web::notebook::{Answer, Notebook, parse_predictions};
use scenarios::BackendId;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn qemu(n: u32) -> scenarios::Scenario {
    scenarios::parse(&format!("create {n}\nwrite * 0\nwrite * 0\nrun *\n")).unwrap()
}

/// The worked example of the 2014 bug, in WASM: N = 1, 2, 4, 8.
#[wasm_bindgen_test]
fn the_wasm_models_give_the_worked_answers() {
    for n in [1u32, 2, 4, 8] {
        let runs = analysis::run_models(&qemu(n), &BackendId::MODELS);
        // 3.14 counts every matched write: 3N − 1 after 3N writes.
        let old = runs[0].summary().unwrap();
        assert_eq!(old.nr_matched, Some(3 * n - 1), "3.14, N = {n}");
        assert!(!old.kvmclock_stable, "3.14, N = {n}");
        // The fix, u64 or u8, and today: N − 1, stable.
        for run in &runs[1..] {
            let end = run.summary().unwrap();
            assert_eq!(end.nr_matched, Some(n - 1), "{}, N = {n}", run.backend);
            assert!(end.kvmclock_stable, "{}, N = {n}", run.backend);
        }
    }
}

/// The u8 wrap: 256 generations later a stale vCPU looks already counted,
/// and kvmclock goes unstable where the u64 counters keep it stable.
#[wasm_bindgen_test]
fn the_wasm_models_show_the_u8_wrap() {
    let s = scenarios::library::get("u8-generation-wrap")
        .unwrap()
        .scenario()
        .unwrap();
    let runs = analysis::run_models(&s, &[BackendId::Linux317, BackendId::Linux317U8]);
    assert_eq!(runs[0].verdict(), Verdict::Stable);
    assert_eq!(runs[1].verdict(), Verdict::Unstable);
    assert_eq!(
        runs[1].write(261).unwrap().count,
        Some(scenarios::trace::Count::StaleGeneration)
    );
    assert_eq!(runs[0].write(260).unwrap().cur_tsc_generation, Some(257));
    assert_eq!(runs[1].write(260).unwrap().cur_tsc_generation, Some(1));
}

/// Predictions are judged against the WASM run.
#[wasm_bindgen_test]
fn predictions_are_judged_against_the_run() {
    let runs = analysis::run_models(&qemu(2), &[BackendId::Linux314]);
    let p = parse_predictions("nr_matched@linux-3.14:4;stable@linux-3.14").unwrap();
    assert_eq!(p[0].answer(&runs[0]), Some(Answer::Count(3)));
    assert_eq!(p[1].answer(&runs[0]), Some(Answer::Stable(false)));
    let nb = Notebook::welcome();
    assert_eq!(
        Notebook::from_fragment(&nb.to_fragment()).unwrap(),
        Some(nb)
    );
}

/// The text of the first element matching `css` inside `root`.
fn text_of(root: &web_sys::Element, css: &str) -> String {
    root.query_selector(css)
        .unwrap()
        .unwrap_or_else(|| panic!("no `{css}`"))
        .text_content()
        .unwrap_or_default()
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

async fn settle() {
    yew::platform::time::sleep(Duration::from_millis(60)).await;
}

/// A live cell mounted into a div renders the verdicts, steps with the
/// keyboard, and shows each kernel's reasoning.
#[wasm_bindgen_test]
async fn a_mounted_cell_renders_and_steps() {
    let doc = document();
    let host = doc.create_element("div").unwrap();
    host.set_class_name("lab-cell");
    host.set_attribute("data-scenario", "qemu-2.0-boot-2")
        .unwrap();
    host.set_attribute("data-backends", "linux-3.14,linux-3.17")
        .unwrap();
    host.set_attribute("data-step", "3").unwrap();
    doc.body().unwrap().append_child(&host).unwrap();
    // No server behind the test page: the cell runs in model-only mode.
    lab_web::ui::mount_cells("./".into());
    let mut html = String::new();
    for _ in 0..50 {
        settle().await;
        html = host.inner_html();
        if html.contains("lab-verdict") && html.contains("lab-logic") {
            break;
        }
    }
    assert!(html.contains("data-verdict=\"UNSTABLE\""), "{html}");
    assert!(html.contains("data-verdict=\"STABLE\""), "{html}");
    let here = text_of(&host, ".lab-here");
    assert!(here.starts_with("write 3 of 6"), "{here}");
    let logic = text_of(&host, ".lab-logic");
    assert!(logic.contains("counted again (the 2014 bug)"), "{logic}");

    let out: web_sys::HtmlElement = host
        .query_selector(".lab-output")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("ArrowRight");
    init.set_bubbles(true);
    let ev = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    out.dispatch_event(&ev).unwrap();
    settle().await;
    let here = text_of(&host, ".lab-here");
    assert!(here.starts_with("write 4 of 6"), "{here}");
    let nr = text_of(&host, ".lab-vm tr[data-backend=\"linux-3.14\"] .lab-nr");
    assert_eq!(nr, "3");
    host.remove();
}

/// A bad attribute shows in the cell's place; the page goes on.
#[wasm_bindgen_test]
async fn a_bad_cell_says_why() {
    let doc = document();
    let host = doc.create_element("div").unwrap();
    host.set_class_name("lab-cell");
    host.set_attribute("data-scenario", "no-such-scenario")
        .unwrap();
    doc.body().unwrap().append_child(&host).unwrap();
    lab_web::ui::mount_cells("./".into());
    settle().await;
    let text = host.text_content().unwrap();
    assert!(
        text.contains("no library scenario `no-such-scenario`"),
        "{text}"
    );
    host.remove();
}

/// The editor lists errors at line:col.
#[wasm_bindgen_test]
async fn inline_cells_report_errors_at_line_and_column() {
    let doc = document();
    let script = doc.create_element("script").unwrap();
    script.set_attribute("type", "text/x-tsc").unwrap();
    script.set_class_name("lab-cell");
    script.set_text_content(Some("create 2\nwrite 7 0\n"));
    doc.body().unwrap().append_child(&script).unwrap();
    lab_web::ui::mount_cells("./".into());
    let mut errors = String::new();
    for _ in 0..30 {
        settle().await;
        if let Some(e) = doc.query_selector(".lab-errors").unwrap() {
            errors = e.text_content().unwrap();
            break;
        }
    }
    assert!(errors.starts_with("2:7:"), "{errors}");
}

/// The page reads a poll (with the browser's `JSON.parse`, not serde's
/// reader, which would weigh on the first load) exactly as serde writes it:
/// every state, with and without counts, answer and cell.
#[wasm_bindgen_test]
fn the_page_reads_polls_as_the_server_writes_them() {
    use scenarios::protocol::{Poll, PollState};
    for (state, counts, answer, cell) in [
        (PollState::Open, None, None, None),
        (
            PollState::Closed,
            Some(vec![0, 3]),
            Some("unstable"),
            Some("nb#2"),
        ),
        (PollState::Revealed, Some(vec![7, 0]), Some("stable"), None),
    ] {
        let p = Poll {
            id: "p-1".into(),
            question: "On linux-3.14, will kvmclock be \"stable\"?".into(),
            choices: vec!["stable".into(), "unstable".into()],
            state,
            cell: cell.map(str::to_string),
            answer: answer.map(str::to_string),
            counts,
        };
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(lab_web::ui::read_poll(&text), Some(p), "{text}");
    }
    assert_eq!(lab_web::ui::read_poll("{}"), None);
    assert_eq!(lab_web::ui::read_poll("not JSON"), None);
}
