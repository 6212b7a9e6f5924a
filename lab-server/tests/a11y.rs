//! Accessibility in a real browser: axe-core (pinned in tools/package.json)
//! finds no WCAG 2.0/2.1 A or AA violation on the notebook, `/embed` and
//! every book chapter, in light, dark and projector mode, before and after a
//! run has streamed and the scrubber has moved; a cell is operable by
//! keyboard alone; reduced motion is honoured; a run's state is announced.
//!
//! Skipped with a reason without chromium, chromedriver, the built site or
//! axe-core; required under CI=true.

mod web;

use serde_json::json;
use web::*;

/// The modes every page is checked in: (name, the query that selects it, the theme).
const MODES: [(&str, &str, &str); 3] = [
    ("light", "", "light"),
    ("dark", "", "dark"),
    ("projector", "&projector", "light"),
];

/// Moves the scrubber of the first output: → three times, then the first divergence.
const SCRUB: &str = "const o = document.querySelector('.lab-output'); o.focus();
    for (let i = 0; i < 3; i++) o.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
    document.querySelector('.lab-goto-divergence')?.click(); return true;";

/// The notebook and `/embed`, in every mode, once the models have run, once
/// real KVM has streamed (when this machine has it) and once the scrubber has
/// moved with a chart's table open.
#[test]
fn the_notebook_and_embed_have_no_axe_violations() {
    if !ready("the_notebook_and_embed_have_no_axe_violations") {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (_server, base) = server(&[]);
    let kvm = kvm_here();
    let mut found = Vec::new();
    runtime().block_on(async {
        let b = Browser::start().await;
        for (mode, query, theme) in MODES {
            b.goto(&format!("{base}/")).await;
            b.js(&format!("localStorage.setItem('tsclab.theme', '{theme}'); return true;")).await;

            let page = format!("/?scenario=qemu-2.0-boot-2{query}");
            b.goto(&format!("{base}{page}")).await;
            b.wait("document.querySelectorAll('.lab-verdict').length >= 4", "the verdicts").await;
            assert_eq!(b.js("return document.documentElement.dataset.theme;").await, theme);
            if kvm {
                let v = verdict("kvm");
                b.wait(&format!("(({v}) || '').match(/STABLE|UNSTABLE|failed/)"), "the real KVM run").await;
            }
            b.wait("document.querySelector('.lab-chart svg')", "the charts").await;
            found.push((format!("{page} ({mode})"), b.axe().await));
            b.js(SCRUB).await;
            b.wait("!document.querySelector('.lab-here').textContent.startsWith('before')", "the scrubber").await;
            b.click(".lab-chart-tools button").await;
            b.wait("document.querySelector('.lab-chart-table td')", "the chart's table").await;
            found.push((format!("{page} ({mode}, scrubbed, table open)"), b.axe().await));
            b.shot(&format!("a11y-notebook-{mode}")).await;

            let page = format!("/embed?scenario=qemu-2.0-boot-2{query}");
            b.goto(&format!("{base}{page}")).await;
            b.js(&format!("document.documentElement.dataset.theme = '{theme}'; return true;")).await;
            b.wait("document.querySelectorAll('.lab-verdict').length >= 4", "the embedded verdicts").await;
            found.push((format!("{page} ({mode})"), b.axe().await));
            b.js(SCRUB).await;
            found.push((format!("{page} ({mode}, scrubbed)"), b.axe().await));

            // A cell that asks first: the question, then the answer revealed.
            let page = format!(
                "/embed?scenario=u8-generation-wrap&backends=linux-3.17,linux-3.17-u8&predict=stable@linux-3.17-u8{query}"
            );
            // No answer kept from the mode before.
            b.js("localStorage.clear(); return true;").await;
            b.goto(&format!("{base}{page}")).await;
            b.js(&format!("document.documentElement.dataset.theme = '{theme}'; return true;")).await;
            b.wait("document.querySelector('.lab-predict')", "the prediction").await;
            found.push((format!("{page} ({mode}, asking)"), b.axe().await));
            b.click(".lab-choice button:nth-child(1)").await;
            b.click(".lab-reveal").await;
            b.wait("document.querySelector('.lab-verdict')", "the revealed answer").await;
            found.push((format!("{page} ({mode}, revealed)"), b.axe().await));
        }
        b.close().await;
    });
    assert_clean(&found);
}

/// Every book chapter, in mdBook's light and coal themes and in projector
/// mode, once its live cells have run.
#[test]
fn every_book_chapter_has_no_axe_violations() {
    if !ready("every_book_chapter_has_no_axe_violations") {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let chapters = book_chapters();
    let (_server, base) = server(&[]);
    let mut found = Vec::new();
    runtime().block_on(async {
        let b = Browser::start().await;
        for (mode, query, theme) in MODES {
            let mdbook_theme = if theme == "dark" { "coal" } else { "light" };
            b.goto(&format!("{base}/book/index.html")).await;
            b.js(&format!(
                "localStorage.setItem('mdbook-theme', '{mdbook_theme}'); return true;"
            ))
            .await;
            for ch in &chapters {
                let page = format!("/book/{ch}?{}", query.trim_start_matches('&'));
                b.goto(&format!("{base}{page}")).await;
                let n = b
                    .js("return document.querySelectorAll('.lab-cell').length;")
                    .await;
                if n.as_u64().unwrap_or(0) > 0 {
                    b.wait(
                        &format!("document.body.dataset.labCells == '{n}'"),
                        &format!("{ch}'s cells"),
                    )
                    .await;
                    b.wait(
                        "[...document.querySelectorAll('.lab-cell-mounted')].every(c => \
                           c.querySelector('.lab-verdict') || c.querySelector('.lab-predict'))",
                        &format!("{ch}'s cells to run"),
                    )
                    .await;
                }
                assert_eq!(
                    b.js("return document.documentElement.classList.contains('lab-projector');")
                        .await,
                    mode == "projector",
                    "{page}: projector mode"
                );
                found.push((format!("{page} ({mode})"), b.axe().await));
            }
        }
        b.close().await;
    });
    assert_clean(&found);
}

/// Every focusable thing in `scope` (a CSS selector), in document order, as
/// "tag.class" words: what Tab must visit, in this order.
const FOCUSABLE: &str = "const scope = document.querySelector(arguments[0]);
    const q = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), ' +
              'textarea:not([disabled]), [tabindex]:not([tabindex=\"-1\"])';
    return [...scope.querySelectorAll(q)].filter(e => e.getClientRects().length > 0)
      .map(e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.'));";

/// The focused element as FOCUSABLE names it, or null when focus is outside `scope`.
const FOCUSED: &str = "const scope = document.querySelector(arguments[0]);
    const e = document.activeElement;
    return scope.contains(e) ? e.tagName.toLowerCase() + '.' + [...e.classList].join('.') : null;";

/// A scenario cell by keyboard alone: Tab visits every control of the cell
/// in document order (the editor, the backends, the verdicts' step-there,
/// the scrubber, the output, the tabs, the charts' tools, the exports) and
/// leaves it; Enter, Space and the arrows operate what they reach.
#[test]
fn a_cell_is_operable_by_keyboard_alone() {
    use fantoccini::key::Key;
    if !ready("a_cell_is_operable_by_keyboard_alone") {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (_server, base) = server(&[("LAB_KVM_DEVICE", "/nonexistent/kvm")]);
    runtime().block_on(async {
        let b = Browser::start().await;
        b.goto(&format!("{base}/?scenario=qemu-2.0-boot-2")).await;
        b.wait("document.querySelector('.lab-chart svg')", "the charts").await;
        b.js("document.querySelector('.lab-source').closest('.lab-cell-frame').id = 'kbd-cell'; return true;").await;
        let cell = json!("#kbd-cell");
        let expected = b.client.execute(FOCUSABLE, vec![cell.clone()]).await.expect("focusables");
        let expected: Vec<String> = serde_json::from_value(expected).expect("names");
        let has = |tag: &str, class: &str| {
            expected.iter().any(|e| {
                let mut words = e.split('.');
                words.next() == Some(tag) && words.any(|c| c == class)
            })
        };
        for (tag, class) in [("textarea", "lab-source"), ("button", "lab-backend-toggle"), ("button", "lab-goto-divergence"),
                             ("button", "lab-step"), ("input", "lab-slider"), ("div", "lab-output"), ("button", "lab-tab")] {
            assert!(has(tag, class), "no {tag}.{class} in the cell: {expected:#?}");
        }
        // Start on the cell's first control; Tab until focus leaves the cell.
        b.js("document.querySelector('#kbd-cell').querySelector('button, textarea, input, select, [tabindex]').focus(); return true;").await;
        let mut visited = Vec::new();
        for _ in 0..expected.len() + 5 {
            let at = b.client.execute(FOCUSED, vec![cell.clone()]).await.expect("focus");
            let Some(at) = at.as_str().map(String::from) else { break };
            visited.push(at);
            let el = b.client.active_element().await.expect("the focused element");
            el.send_keys(&Key::Tab.to_string()).await.expect("Tab");
        }
        assert_eq!(visited, expected, "Tab's order through the cell");

        // Operable: Home on the output, Enter on "next write", → on the output.
        let key_on = |css: &'static str, key: String| {
            let b = &b;
            async move {
                b.js(&format!("document.querySelector('{css}').focus(); return true;")).await;
                b.client.active_element().await.expect("focus").send_keys(&key).await.expect("a key");
            }
        };
        key_on("#kbd-cell .lab-output", Key::Home.to_string()).await;
        b.wait("document.querySelector('.lab-here').textContent.startsWith('before write 1')", "Home").await;
        key_on("#kbd-cell .lab-step[title^=\"next\"]", Key::Enter.to_string()).await;
        b.wait("document.querySelector('.lab-here').textContent.startsWith('write 1 of')", "Enter on next").await;
        key_on("#kbd-cell .lab-output", Key::Right.to_string()).await;
        b.wait("document.querySelector('.lab-here').textContent.startsWith('write 2 of')", "→ on the output").await;
        let toggle = "#kbd-cell .lab-backend-toggle";
        let pressed = b.js(&format!("return document.querySelector('{toggle}').getAttribute('aria-pressed');")).await;
        b.js(&format!("document.querySelector('{toggle}').focus(); return true;")).await;
        b.client.active_element().await.expect("focus").send_keys(" ").await.expect("Space");
        b.wait(
            &format!("document.querySelector('{toggle}').getAttribute('aria-pressed') != {pressed}"),
            "Space to toggle a backend",
        )
        .await;
        b.assert_no_console_errors("the keyboard walk").await;
        b.close().await;
    });
}

/// Every element's animations and transitions, longest first, on the page as it is.
const MOTION: &str = "return [...document.querySelectorAll('*')].map(e => {
      const s = getComputedStyle(e);
      const longest = v => Math.max(...v.split(',').map(x => parseFloat(x) || 0));
      return [e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''), longest(s.transitionDuration) + longest(s.animationDuration)];
    }).filter(([, d]) => d > 0);";

/// With `prefers-reduced-motion: reduce`, nothing on the notebook or in the
/// book moves; without it, mdBook's sidebar slides (so the check can fail).
#[test]
fn reduced_motion_is_respected() {
    if !ready("reduced_motion_is_respected") {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (_server, base) = server(&[("LAB_KVM_DEVICE", "/nonexistent/kvm")]);
    runtime().block_on(async {
        let b = Browser::start().await;
        b.goto(&format!("{base}/book/04-the-bug.html")).await;
        let moving = b.js(MOTION).await;
        assert!(
            moving.as_array().is_some_and(|m| !m.is_empty()),
            "without the preference the book has some motion to turn off: {moving}"
        );
        b.close().await;

        let b = Browser::start_with(&["--force-prefers-reduced-motion"]).await;
        assert_eq!(
            b.js("return matchMedia('(prefers-reduced-motion: reduce)').matches;")
                .await,
            true
        );
        for page in [
            "/?scenario=qemu-2.0-boot-2",
            "/book/04-the-bug.html",
            "/embed?scenario=qemu-2.0-boot-2",
        ] {
            b.goto(&format!("{base}{page}")).await;
            b.wait("document.querySelector('.lab-verdict')", page).await;
            let moving = b.js(MOTION).await;
            assert_eq!(
                moving,
                json!([]),
                "{page}: motion under prefers-reduced-motion"
            );
        }
        b.close().await;
    });
}

/// A run's state is spoken, not only coloured: a polite live region holds
/// each backend's verdict and the first divergence; it changes when they
/// do (an edit) and not while scrubbing.
#[test]
fn a_runs_state_is_announced_when_it_changes() {
    if !ready("a_runs_state_is_announced_when_it_changes") {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (_server, base) = server(&[("LAB_KVM_DEVICE", "/nonexistent/kvm")]);
    runtime().block_on(async {
        let b = Browser::start().await;
        b.goto(&format!("{base}/?scenario=qemu-2.0-boot-2")).await;
        b.wait("document.querySelectorAll('.lab-verdict').length >= 4", "the verdicts").await;
        if dist().join("recorded/qemu-2.0-boot-2.json").exists() {
            // The recorded real-KVM run comes in after the models: a change of state, then quiet.
            b.wait(&format!("(({}) || '').match(/STABLE|UNSTABLE/)", verdict("kvm")), "the recorded run").await;
        }
        let region = ".lab-cell-frame .lab-announce";
        let attrs = b
            .js(&format!("const r = document.querySelector('{region}'); return [r.getAttribute('role'), r.getAttribute('aria-live')];"))
            .await;
        assert_eq!(attrs, json!(["status", "polite"]));
        let said = b.text(region).await;
        assert!(said.contains("linux-3.14 unstable") && said.contains("linux-3.17 stable"), "{said}");
        assert!(said.contains("First divergence at write 3"), "{said}");
        b.js(SCRUB).await;
        assert_eq!(b.text(region).await, said, "scrubbing is not a change of state");
        b.js("const t = document.querySelector('.lab-source'); t.value = 'create 1\\nrun *\\n'; \
              t.dispatchEvent(new Event('input', {bubbles: true})); return true;")
            .await;
        b.wait(&format!("document.querySelector('{region}').textContent != {}", json!(said)), "the new state").await;
        let now = b.text(region).await;
        assert!(now.contains("linux-3.14 stable") && !now.contains("First divergence"), "{now}");
        b.close().await;
    });
}
