//! Accessibility in a real browser: axe-core (pinned in tools/package.json)
//! finds no WCAG 2.0/2.1 A or AA violation on the notebook, `/embed` and
//! every book chapter, in light, dark and projector mode, before and after a
//! run has streamed and the scrubber has moved; a cell is operable by
//! keyboard alone; reduced motion is honoured; a run's state is announced.
//!
//! Skipped with a reason without chromium, chromedriver, the built site or
//! axe-core; required under CI=true.

mod web;

use web::*;

/// The modes every page is checked in: (name, the query that selects it, the theme).
const MODES: [(&str, &str, &str); 3] = [
    ("light", "", "light"),
    ("dark", "", "dark"),
    ("projector", "&projector", "light"),
];

/// Fails with every violation of every page at once, so one run shows all.
fn assert_clean(found: &[(String, Vec<String>)]) {
    let bad: Vec<String> = found
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(page, v)| format!("{page}:\n  {}", v.join("\n  ")))
        .collect();
    assert!(
        bad.is_empty(),
        "axe (WCAG 2.0/2.1 A, AA) found violations on {} of {} pages:\n{}",
        bad.len(),
        found.len(),
        bad.join("\n")
    );
}

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
