//! The step-through: buttons, a slider and the keyboard over every write,
//! and a line on the write the view is at.

use yew::prelude::*;

use crate::analysis::BackendRun;

/// ← → step, Home and End jump; `go` moves the view to a write.
pub(super) fn on_key(go: &Callback<u32>, k: u32, max: u32) -> Callback<KeyboardEvent> {
    let go = go.clone();
    Callback::from(move |e: KeyboardEvent| {
        let to = match e.key().as_str() {
            "ArrowLeft" => k.saturating_sub(1),
            "ArrowRight" => (k + 1).min(max),
            "Home" => 0,
            "End" => max,
            _ => return,
        };
        e.prevent_default();
        go.emit(to);
    })
}

/// Write `k` of `max`: who wrote what, from where, when.
fn here(runs: &[BackendRun], k: u32, max: u32) -> String {
    match runs.iter().find_map(|r| r.write(k)) {
        Some(w) => format!(
            "write {k} of {max}: vCPU {} ← {} ({}, line {}, t = {})",
            w.vcpu,
            w.value,
            w.origin.name(),
            w.line,
            fmt_ns(w.t_ns)
        ),
        None if max == 0 => "no TSC writes yet".into(),
        None => format!("before write 1 of {max}"),
    }
}

fn fmt_ns(ns: u64) -> String {
    if ns >= 1_000_000_000 {
        format!("{:.3} s", ns as f64 / 1e9)
    } else if ns >= 1_000_000 {
        format!("{:.3} ms", ns as f64 / 1e6)
    } else {
        format!("{:.1} µs", ns as f64 / 1e3)
    }
}

pub(super) fn scrubber(runs: &[BackendRun], k: u32, max: u32, go: &Callback<u32>) -> Html {
    let button = |label: &'static str, title: &'static str, to: u32, disabled: bool| {
        let go = go.clone();
        let onclick = Callback::from(move |_: MouseEvent| go.emit(to));
        html! {
            <button class="lab-step" {title} aria-label={title} {disabled} {onclick}>{ label }</button>
        }
    };
    let oninput = {
        let go = go.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(i) = e.target_dyn_into::<web_sys::HtmlInputElement>()
                && let Ok(v) = i.value().parse::<u32>()
            {
                go.emit(v);
            }
        })
    };
    let here = here(runs, k, max);
    html! {
        <div class="lab-scrubber" role="group" aria-label="step through the TSC writes">
            { button("|◀", "first (Home)", 0, k == 0) }
            { button("◀", "previous write (←)", k.saturating_sub(1), k == 0) }
            <input type="range" class="lab-slider" min="0" max={max.to_string()} value={k.to_string()}
                aria-label="write" aria-valuetext={here.clone()} {oninput} />
            { button("▶", "next write (→)", (k + 1).min(max), k >= max) }
            { button("▶|", "last (End)", max, k >= max) }
            <span class="lab-here" aria-live="polite">{ here }</span>
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_naturally() {
        assert_eq!(super::fmt_ns(12_300), "12.3 µs");
        assert_eq!(super::fmt_ns(4_000_000), "4.000 ms");
        assert_eq!(super::fmt_ns(1_200_000_000), "1.200 s");
    }
}
