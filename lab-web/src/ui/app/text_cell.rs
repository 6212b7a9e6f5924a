//! A notebook's text cell.

use yew::prelude::*;

use crate::markdown;

#[derive(Properties, PartialEq)]
pub(super) struct MarkdownProps {
    pub(super) text: AttrValue,
    pub(super) on_text: Callback<String>,
}

/// A text cell: its markdown drawn, the source behind "Edit text".
#[function_component(MarkdownCell)]
pub(super) fn markdown_cell(p: &MarkdownProps) -> Html {
    let editing = use_state(|| false);
    let toggle = {
        let editing = editing.clone();
        Callback::from(move |_: MouseEvent| editing.set(!*editing))
    };
    let oninput = {
        let cb = p.on_text.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(t) = e.target_dyn_into::<web_sys::HtmlTextAreaElement>() {
                cb.emit(t.value());
            }
        })
    };
    let html = use_memo(p.text.clone(), |t| AttrValue::from(markdown::to_html(t)));
    html! {
        <div class="lab-markdown-cell">
            <button class="lab-linkish lab-edit" onclick={toggle}>{ if *editing { "Done" } else { "Edit text" } }</button>
            if *editing {
                <textarea class="lab-md-source" aria-label="text (markdown)" value={p.text.clone()}
                    rows={(p.text.lines().count() + 2).clamp(4, 30).to_string()} {oninput} />
            }
            <div class="lab-markdown">{ Html::from_html_unchecked((*html).clone()) }</div>
        </div>
    }
}
