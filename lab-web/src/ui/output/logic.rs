//! What each kernel's logic did at the write the view is at, with the
//! count mark the timeline uses too.

use scenarios::trace::{Count, Tone};
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
                let w = r.write(p.k);
                let mark = w.map_or("", analysis::count_mark);
                html! {
                    <li data-backend={r.backend.name()} style={format!("--c:{}", charts::css(charts::backend_colour(r.backend)))}>
                        <span class="lab-logic-backend">{ r.backend.name() }</span>
                        <span class={classes!("lab-mark", mark_class(w.and_then(|w| w.count)))}>{ mark }</span>
                        <span class="lab-why">{ line }</span>
                    </li>
                }
            }) }
        </ul>
    }
}

/// The CSS class of a count's mark, from its `Count::tone`.
pub(super) fn mark_class(count: Option<Count>) -> &'static str {
    match count.map(Count::tone) {
        Some(Tone::Miscounted) => "lab-mark-bug",
        Some(Tone::New) => "lab-mark-new",
        Some(Tone::Counted) => "lab-mark-count",
        Some(Tone::Plain) | None => "lab-mark-plain",
    }
}
