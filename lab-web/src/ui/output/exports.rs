//! The run as a file: JSON, CSV or a self-contained HTML report.

use std::rc::Rc;

use yew::prelude::*;

use super::super::dom;
use crate::analysis::BackendRun;
use crate::charts::Chart;
use crate::export;

#[derive(Properties, PartialEq)]
pub(super) struct ExportProps {
    pub(super) runs: Rc<Vec<BackendRun>>,
    /// The scenario, and its title (it names the files).
    pub(super) text: AttrValue,
    pub(super) title: AttrValue,
    /// The `nr_vcpus_matched_tsc` chart, for the report, once drawn.
    pub(super) chart: Option<Rc<Chart>>,
}

#[function_component(Exports)]
pub(super) fn exports(p: &ExportProps) -> Html {
    let title = &p.title;
    let file = dom::file_name(title);
    let mk = |kind: &'static str| {
        let (runs, text, title, file) =
            (p.runs.clone(), p.text.clone(), title.clone(), file.clone());
        let chart = p.chart.clone();
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
                    &export::to_html_report(&title, &text, &runs, chart.as_deref()),
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
