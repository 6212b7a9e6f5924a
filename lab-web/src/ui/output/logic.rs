//! What each kernel's logic did at the write the view is at, with the
//! count mark the timeline uses too.

use yew::prelude::*;

use super::AtProps;
use crate::analysis;
use crate::charts;

/// What each kernel's logic did at this write.
#[function_component(Logic)]
pub(super) fn logic(p: &AtProps) -> Html {
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

/// The CSS class of a count mark (`analysis::count_mark`).
pub(super) fn mark_class(mark: &str) -> &'static str {
    match mark {
        "+1 again" | "stale gen" => "lab-mark-bug",
        "new gen" => "lab-mark-new",
        "+1" => "lab-mark-count",
        _ => "lab-mark-plain",
    }
}
