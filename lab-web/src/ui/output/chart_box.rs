//! A chart with its tools: the drawing (or its table), the cursor at the
//! current write, SVG and PNG downloads.

use std::rc::Rc;

use yew::prelude::*;

use super::super::dom;
use crate::charts::{self, Chart};

/// The chart, or why it could not be drawn, or nothing while it is drawn.
pub(super) fn chart_box(c: &super::Drawn, k: u32) -> Html {
    match c {
        Some(Ok(c)) => html! { <ChartBox chart={c.clone()} {k} /> },
        Some(Err(e)) => html! { <p class="lab-error">{ e.clone() }</p> },
        None => html! {},
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
                <div class="lab-chart-table" tabindex="0" role="region" aria-label={format!("{} (table)", c.title)}>
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
