//! A run's output: verdicts side by side, the first divergence, the
//! step-through over every write, the kernel's reasoning per backend, the
//! aligned timeline, the VM and vCPU state, the charts and the exports.

use std::rc::Rc;

use scenarios::BackendId;
use yew::prelude::*;

use super::{Env, dom};
use crate::analysis::{self, BackendRun, Source, Status, Verdict};
use crate::charts::{self, Chart, Theme};
use crate::export;

#[derive(Properties, PartialEq)]
pub(crate) struct OutputProps {
    pub runs: Rc<Vec<BackendRun>>,
    /// Changes whenever `runs` does (cheap to compare).
    pub version: u64,
    pub start: Option<u32>,
    /// The scenario, for the exports.
    pub text: AttrValue,
}

/// How many timeline rows show on each side of the current write.
const TIMELINE_SPAN: u32 = 6;

/// How many vCPU rows show at once when there are more (around the write).
const VCPU_WINDOW: usize = 16;

#[function_component(Output)]
pub(crate) fn output(p: &OutputProps) -> Html {
    let theme = use_context::<Env>().map_or(Theme::Light, |e| e.theme);
    let max = p
        .runs
        .iter()
        .map(BackendRun::write_count)
        .max()
        .unwrap_or(0);
    // None: follow the end of the run (live runs grow).
    let pos = use_state(|| p.start);
    let k = pos.unwrap_or(max).min(max);
    let selected = use_state(|| None::<BackendId>);
    let sel = selected
        .filter(|b| p.runs.iter().any(|r| r.backend == *b))
        .or_else(|| p.runs.first().map(|r| r.backend));

    let matched = {
        let runs = p.runs.clone();
        use_memo((p.version, theme), move |_| {
            charts::matched_chart(&runs, theme).map(Rc::new)
        })
    };
    let per_vcpu = {
        let runs = p.runs.clone();
        use_memo((p.version, theme, sel), move |(_, _, sel)| {
            runs.iter().find(|r| Some(r.backend) == *sel).map(|r| {
                (
                    charts::generations_chart(r, theme).map(Rc::new),
                    charts::offsets_chart(r, theme).map(Rc::new),
                )
            })
        })
    };
    let divergence = {
        let runs = p.runs.clone();
        use_memo(p.version, move |_| analysis::first_divergence(&runs))
    };

    // When the first results are on screen: the "interactive" budget's mark.
    use_effect_with(p.runs.is_empty(), |empty| {
        if !*empty
            && let Some(b) = dom::document().and_then(|d| d.body())
            && !b.has_attribute("data-lab-interactive")
        {
            let _ = b.set_attribute("data-lab-interactive", &format!("{:.1}", dom::now_ms()));
        }
    });

    let go = {
        let pos = pos.clone();
        move |to: u32| pos.set(Some(to.min(max)))
    };
    let onkeydown = {
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
            go(to);
        })
    };
    let button = |label: &'static str, title: &'static str, to: u32, disabled: bool| {
        let go = go.clone();
        html! {
            <button class="lab-step" {title} aria-label={title} {disabled}
                onclick={Callback::from(move |_: MouseEvent| go(to))}>{ label }</button>
        }
    };
    let oninput = {
        let go = go.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(i) = e.target_dyn_into::<web_sys::HtmlInputElement>()
                && let Ok(v) = i.value().parse::<u32>()
            {
                go(v);
            }
        })
    };

    let first = p.runs.iter().find_map(|r| r.write(k));
    let here = match first {
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
    };

    html! {
        <div class="lab-output" tabindex="0" {onkeydown}
            aria-label="run output: ← → step through the writes, Home and End jump">
            <Verdicts runs={p.runs.clone()} />
            if let Some(d) = (*divergence).clone() {
                <p class="lab-divergence" data-write={d.write.to_string()}>
                    <strong>{ format!("◆ First divergence at write {}", d.write) }</strong>
                    { format!(": {}. ", d.what) }
                    <button class="lab-linkish lab-goto-divergence" onclick={let go = go.clone(); Callback::from(move |_: MouseEvent| go(d.write))}>
                        { "step there" }
                    </button>
                </p>
            } else if p.runs.len() > 1 && max > 0 {
                <p class="lab-divergence lab-agree">{ "The backends agree on every write." }</p>
            }
            <div class="lab-scrubber" role="group" aria-label="step through the TSC writes">
                { button("|◀", "first (Home)", 0, k == 0) }
                { button("◀", "previous write (←)", k.saturating_sub(1), k == 0) }
                <input type="range" class="lab-slider" min="0" max={max.to_string()} value={k.to_string()}
                    aria-label="write" aria-valuetext={here.clone()} {oninput} />
                { button("▶", "next write (→)", (k + 1).min(max), k >= max) }
                { button("▶|", "last (End)", max, k >= max) }
                <span class="lab-here" aria-live="polite">{ here }</span>
            </div>
            <Logic runs={p.runs.clone()} {k} />
            <Timeline runs={p.runs.clone()} {k} divergence={divergence.as_ref().as_ref().map(|d| d.write)}
                on_go={Callback::from(go.clone())} />
            <VmStates runs={p.runs.clone()} {k} />
            <div class="lab-tabs" role="tablist" aria-label="backend for the vCPU table and per-vCPU charts">
                { for p.runs.iter().map(|r| {
                    let b = r.backend;
                    let selected = selected.clone();
                    let on = Some(b) == sel;
                    html! {
                        <button role="tab" aria-selected={on.to_string()} class={classes!("lab-tab", on.then_some("lab-tab-on"))}
                            style={format!("--c:{}", charts::css(charts::backend_colour(b)))}
                            onclick={Callback::from(move |_: MouseEvent| selected.set(Some(b)))}>
                            { b.name() }
                        </button>
                    }
                }) }
            </div>
            if let Some(index) = p.runs.iter().position(|r| Some(r.backend) == sel) {
                <VcpuTable runs={p.runs.clone()} {index} {k} />
            }
            <div class="lab-charts">
                { chart_box(&matched, k) }
                if let Some((g, o)) = per_vcpu.as_ref() {
                    { chart_box(g, k) }
                    { chart_box(o, k) }
                }
            </div>
            <Exports runs={p.runs.clone()} text={p.text.clone()} />
        </div>
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

fn chart_box(c: &Result<Rc<Chart>, String>, k: u32) -> Html {
    match c {
        Ok(c) => html! { <ChartBox chart={c.clone()} {k} /> },
        Err(e) => html! { <p class="lab-error">{ e.clone() }</p> },
    }
}

#[derive(Properties, PartialEq)]
struct RunsProps {
    runs: Rc<Vec<BackendRun>>,
}

/// STABLE / UNSTABLE per backend, at a glance; words and symbols, not
/// colour alone.
#[function_component(Verdicts)]
fn verdicts(p: &RunsProps) -> Html {
    html! {
        <div class="lab-verdicts">
            { for p.runs.iter().map(|r| {
                let v = r.verdict();
                let s = r.summary();
                let (icon, class) = match v {
                    Verdict::Stable => ("✔", "lab-stable"),
                    Verdict::Unstable => ("✘", "lab-unstable"),
                    Verdict::Pending => ("…", "lab-pending"),
                    Verdict::Failed => ("!", "lab-failed"),
                };
                let source = match &r.source {
                    Source::Model => "model",
                    Source::Live => "real KVM",
                    Source::Recorded { .. } => "real KVM, recorded",
                };
                let detail = match (s, &r.status) {
                    (Some(s), _) => format!(
                        "nr_vcpus_matched_tsc {} · online {} · master clock {}",
                        s.nr_matched.map_or("?".into(), |n| n.to_string()),
                        s.online,
                        if s.master_clock { "on" } else { "off" }
                    ),
                    (None, Status::Failed(m)) => m.clone(),
                    (None, _) => format!("{} writes so far", r.write_count()),
                };
                html! {
                    <div class={classes!("lab-verdict", class)} data-backend={r.backend.name()} data-verdict={v.label()}
                        style={format!("--c:{}", charts::css(charts::backend_colour(r.backend)))} title={r.backend.describe()}>
                        <div class="lab-verdict-backend">{ r.backend.name() }<span class="lab-source-tag">{ source }</span></div>
                        <div class="lab-verdict-word">{ format!("{icon} {}", v.label()) }</div>
                        <div class="lab-verdict-detail">{ detail }</div>
                    </div>
                }
            }) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct AtProps {
    runs: Rc<Vec<BackendRun>>,
    k: u32,
}

/// What each kernel's logic did at this write.
#[function_component(Logic)]
fn logic(p: &AtProps) -> Html {
    if p.k == 0 {
        return html! {};
    }
    html! {
        <ul class="lab-logic" aria-label={format!("the kernel logic at write {}", p.k)}>
            { for p.runs.iter().map(|r| {
                let line = r.write(p.k).map_or_else(|| "— (no such write)".to_string(), |w| w.why());
                let mark = r.write(p.k).map_or("", analysis::count_mark);
                html! {
                    <li data-backend={r.backend.name()} style={format!("--c:{}", charts::css(charts::backend_colour(r.backend)))}>
                        <span class="lab-logic-backend">{ r.backend.name() }</span>
                        <span class={classes!("lab-mark", mark_class(mark))}>{ mark }</span>
                        <span class="lab-why">{ line }</span>
                    </li>
                }
            }) }
        </ul>
    }
}

fn mark_class(mark: &str) -> &'static str {
    match mark {
        "+1 again" | "stale gen" => "lab-mark-bug",
        "new gen" => "lab-mark-new",
        "+1" => "lab-mark-count",
        _ => "lab-mark-plain",
    }
}

#[derive(Properties, PartialEq)]
struct TimelineProps {
    runs: Rc<Vec<BackendRun>>,
    k: u32,
    divergence: Option<u32>,
    on_go: Callback<u32>,
}

/// The backends' writes aligned by write number: a window around the
/// current write (a 1,000-write trace stays cheap to scrub).
#[function_component(Timeline)]
fn timeline(p: &TimelineProps) -> Html {
    let max = p
        .runs
        .iter()
        .map(BackendRun::write_count)
        .max()
        .unwrap_or(0);
    if max == 0 {
        return html! {};
    }
    let centre = p.k.max(1);
    let lo = centre.saturating_sub(TIMELINE_SPAN).max(1);
    let hi = (lo + 2 * TIMELINE_SPAN).min(max);
    let lo = hi.saturating_sub(2 * TIMELINE_SPAN).max(1);
    html! {
        <div class="lab-timeline-wrap">
            <table class="lab-timeline">
                <caption>{ format!("writes {lo}–{hi} of {max}, aligned: nr_vcpus_matched_tsc after each") }</caption>
                <thead><tr>
                    <th scope="col">{ "write" }</th><th scope="col">{ "vCPU" }</th><th scope="col">{ "value" }</th>
                    { for p.runs.iter().map(|r| html! {
                        <th scope="col" style={format!("--c:{}", charts::css(charts::backend_colour(r.backend)))}>{ r.backend.name() }</th>
                    }) }
                </tr></thead>
                <tbody>
                    { for (lo..=hi).map(|w| {
                        let any = p.runs.iter().find_map(|r| r.write(w));
                        let on_go = p.on_go.clone();
                        let row_class = classes!(
                            (w == p.k).then_some("lab-row-now"),
                            (Some(w) == p.divergence).then_some("lab-row-diverge"),
                        );
                        html! {
                            <tr class={row_class} data-write={w.to_string()}
                                onclick={Callback::from(move |_: MouseEvent| on_go.emit(w))}>
                                <td>
                                    { w }
                                    if Some(w) == p.divergence { <span class="lab-diverge-mark" title="first divergence">{ " ◆" }</span> }
                                </td>
                                <td>{ any.map_or(String::new(), |x| x.vcpu.to_string()) }</td>
                                <td>{ any.map_or(String::new(), |x| x.value.to_string()) }</td>
                                { for p.runs.iter().map(|r| match r.write(w) {
                                    Some(x) => {
                                        let mark = analysis::count_mark(x);
                                        html! { <td data-backend={r.backend.name()} class={mark_class(mark)}>
                                            <b>{ x.nr_matched.map_or("?".into(), |n| n.to_string()) }</b>
                                            { format!(" {mark}") }
                                        </td> }
                                    }
                                    None => html! { <td>{ "–" }</td> },
                                }) }
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        </div>
    }
}

/// A table's header row.
fn head(cols: &[&str]) -> Html {
    html! {
        <thead><tr>{ for cols.iter().map(|c| html! { <th scope="col">{ *c }</th> }) }</tr></thead>
    }
}

/// The VM-wide state of every backend at this write.
#[function_component(VmStates)]
fn vm_states(p: &AtProps) -> Html {
    let yes = |b: Option<bool>| match b {
        Some(true) => "✔ yes",
        Some(false) => "✘ no",
        None => "?",
    };
    html! {
        <table class="lab-vm">
            <caption>{ if p.k == 0 { "The VM before any write".to_string() } else { format!("The VM right after write {}", p.k) } }</caption>
            { head(&["backend", "cur_tsc_generation", "nr_vcpus_matched_tsc", "online_vcpus", "nr + 1 == online", "master clock"]) }
            <tbody>
                { for p.runs.iter().map(|r| {
                    let s = r.snapshot(p.k);
                    html! {
                        <tr data-backend={r.backend.name()}>
                            <th scope="row" style={format!("--c:{}", charts::css(charts::backend_colour(r.backend)))}>{ r.backend.name() }</th>
                            <td>{ s.vm.cur_tsc_generation.map_or("?".into(), |g| g.to_string()) }</td>
                            <td class="lab-nr">{ s.vm.nr_vcpus_matched_tsc.map_or("?".into(), |n| n.to_string()) }</td>
                            <td>{ s.vm.online_vcpus }</td>
                            <td>{ yes(s.vm.vcpus_matched) }</td>
                            <td>{ if s.vm.master_clock { "on" } else { "off" } }</td>
                        </tr>
                    }
                }) }
            </tbody>
        </table>
    }
}

#[derive(Properties, PartialEq)]
struct VcpuProps {
    runs: Rc<Vec<BackendRun>>,
    index: usize,
    k: u32,
}

/// Every vCPU of one backend at this write, coloured by generation (the
/// number is always written too).
#[function_component(VcpuTable)]
fn vcpu_table(p: &VcpuProps) -> Html {
    let all = use_state(|| false);
    let run = &p.runs[p.index];
    let snap = run.snapshot(p.k);
    let writing = run.write(p.k).map(|w| w.vcpu);
    let n = snap.vcpus.len();
    // Many vCPUs: the rows around the one written, unless asked for all.
    // (A step then redraws VCPU_WINDOW rows, not 64.)
    let (lo, hi) = if *all || n <= VCPU_WINDOW {
        (0, n)
    } else {
        let centre = writing.map_or(0, |v| v as usize);
        let lo = centre.saturating_sub(VCPU_WINDOW / 2).min(n - VCPU_WINDOW);
        (lo, lo + VCPU_WINDOW)
    };
    let toggle = {
        let all = all.clone();
        Callback::from(move |_: MouseEvent| all.set(!*all))
    };
    html! {
        <div class="lab-vcpus-wrap">
        <table class="lab-vcpus" data-backend={run.backend.name()}>
            <caption>
                { format!("vCPUs on {} right after write {}", run.backend, p.k) }
                if n > VCPU_WINDOW {
                    { if *all { format!(" — all {n}. ") } else { format!(" — vCPUs {lo}–{} of {n}, around the one written. ", hi - 1) } }
                    <button class="lab-linkish lab-vcpus-all" onclick={toggle}>
                        { if *all { "Show the ones around the write" } else { "Show all" } }
                    </button>
                }
            </caption>
            { head(&["vCPU", "this_tsc_generation", "matched set", "TSC offset", "pvclock stable bit", "writes", "last value"]) }
            <tbody>
                { for snap.vcpus.into_iter().skip(lo).take(hi - lo).map(|v| {
                    let (now, key) = (Some(v.vcpu) == writing, v.vcpu);
                    html! { <VcpuRowView {key} row={v} {now} /> }
                }) }
            </tbody>
        </table>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct VcpuRowProps {
    row: analysis::VcpuRow,
    now: bool,
}

/// One vCPU's row: a component of its own, so a step redraws only the rows
/// that changed (two, usually), not all 64.
#[function_component(VcpuRowView)]
fn vcpu_row(p: &VcpuRowProps) -> Html {
    let v = &p.row;
    // Colour by class, not inline style: cheaper for the browser to restyle.
    let generation = match v.generation {
        Some(g) => html! { <span class={format!("lab-gen lab-g{}", g % 7)}>{ g }</span> },
        None => html! { "?" },
    };
    html! {
        <tr class={classes!(p.now.then_some("lab-row-now"))}>
            <th scope="row">{ v.vcpu }</th>
            <td>{ generation }</td>
            <td class={match v.matched_set { Some(true) => "lab-yes", Some(false) => "lab-no", None => "" }}>
                { match v.matched_set { Some(true) => "in", Some(false) => "out", None => "?" } }
            </td>
            <td class="lab-num">{ v.offset.map_or("?".into(), |o| o.to_string()) }</td>
            <td class={match v.pvclock_stable { Some(true) => "lab-yes", Some(false) => "lab-no", None => "" }}>
                { match v.pvclock_stable { Some(true) => "set", Some(false) => "clear", None => "not run yet" } }
            </td>
            <td class="lab-num">{ v.writes }</td>
            <td class="lab-num">{ v.last_value.map_or(String::new(), |x| x.to_string()) }</td>
        </tr>
    }
}

#[derive(Properties, PartialEq)]
struct SvgProps {
    svg: AttrValue,
}

/// The drawn chart: its props only change with the chart, so scrubbing
/// never re-parses the SVG.
#[function_component(Svg)]
fn svg(p: &SvgProps) -> Html {
    Html::from_html_unchecked(p.svg.clone())
}

#[derive(Properties)]
struct ChartProps {
    chart: Rc<Chart>,
    k: u32,
}

/// A chart is drawn once per run: the same `Rc` is the same chart, and
/// comparing by pointer keeps scrubbing from comparing SVG text.
impl PartialEq for ChartProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.chart, &other.chart) && self.k == other.k
    }
}

#[function_component(ChartBox)]
fn chart_box_view(p: &ChartProps) -> Html {
    let table = use_state(|| false);
    let c = &p.chart;
    // The chart keeps its SVG in an `Rc<str>`: this is a pointer copy.
    let svg = AttrValue::from(c.svg.clone());
    let file = dom::file_name(&c.title);
    let toggle = {
        let table = table.clone();
        Callback::from(move |_: MouseEvent| table.set(!*table))
    };
    let save_svg = {
        let (c, file, k) = (c.clone(), file.clone(), p.k);
        Callback::from(move |_: MouseEvent| {
            let _ = dom::download(
                &format!("{file}.svg"),
                "image/svg+xml",
                &charts::with_cursor(&c, k),
            );
        })
    };
    let save_png = {
        let (c, file, k) = (c.clone(), file.clone(), p.k);
        Callback::from(move |_: MouseEvent| {
            let _ = dom::download_png(
                &format!("{file}.png"),
                &charts::with_cursor(&c, k),
                c.width,
                c.height,
            );
        })
    };
    let left = c.cursor_x(p.k.max(1)) * 100.0;
    html! {
        <figure class="lab-chart">
            <div class="lab-chart-tools">
                <button aria-pressed={table.to_string()} onclick={toggle}>{ if *table { "Chart" } else { "Table" } }</button>
                <button onclick={save_svg}>{ "SVG" }</button>
                <button onclick={save_png}>{ "PNG" }</button>
            </div>
            if *table {
                <div class="lab-chart-table">
                    <table>
                        <caption>{ c.title.clone() }</caption>
                        <thead><tr>{ for c.table.headers.iter().map(|h| html! { <th scope="col">{ h }</th> }) }</tr></thead>
                        <tbody>
                            { for c.table.rows.iter().enumerate().map(|(i, row)| html! {
                                <tr class={classes!((i as u32 + 1 == p.k).then_some("lab-row-now"))}>
                                    { for row.iter().map(|x| html! { <td>{ x }</td> }) }
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
            } else {
                <div class="lab-chart-svg" role="img" aria-label={c.title.clone()}>
                    <Svg {svg} />
                    if p.k > 0 {
                        <div class="lab-cursor" style={format!("transform:translateX({left:.3}%)")} aria-hidden="true"></div>
                    }
                </div>
            }
        </figure>
    }
}

#[derive(Properties, PartialEq)]
struct ExportProps {
    runs: Rc<Vec<BackendRun>>,
    text: AttrValue,
}

#[function_component(Exports)]
fn exports(p: &ExportProps) -> Html {
    let title = scenarios::parse(&p.text)
        .ok()
        .and_then(|s| s.title().map(str::to_string))
        .unwrap_or_else(|| "TSC Lab run".into());
    let file = dom::file_name(&title);
    let mk = |kind: &'static str| {
        let (runs, text, title, file) =
            (p.runs.clone(), p.text.clone(), title.clone(), file.clone());
        Callback::from(move |_: MouseEvent| {
            let _ = match kind {
                "json" => dom::download(
                    &format!("{file}.json"),
                    "application/json",
                    &export::to_json(&text, &runs),
                ),
                "csv" => dom::download(&format!("{file}.csv"), "text/csv", &export::to_csv(&runs)),
                _ => dom::download(
                    &format!("{file}.html"),
                    "text/html",
                    &export::to_html_report(&title, &text, &runs),
                ),
            };
        })
    };
    html! {
        <div class="lab-exports">
            <span>{ "Export this run: " }</span>
            <button onclick={mk("json")}>{ "JSON" }</button>
            <button onclick={mk("csv")}>{ "CSV" }</button>
            <button onclick={mk("html")}>{ "HTML report" }</button>
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
