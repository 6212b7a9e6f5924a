//! The scenario editor: a textarea with line numbers, and the parser's
//! errors at their line and column — marked in the gutter, listed below,
//! each a button that puts the caret where the problem is.

use std::rc::Rc;

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub(crate) struct EditorProps {
    pub text: AttrValue,
    pub errors: Rc<Vec<scenarios::Error>>,
    pub on_input: Callback<String>,
    #[prop_or_default]
    pub label: AttrValue,
}

/// The character offset of 1-based `line`:`col` in `text`.
fn offset_of(text: &str, line: u32, col: u32) -> u32 {
    let mut off = 0u32;
    for (i, l) in text.split('\n').enumerate() {
        if i + 1 == line as usize {
            let n = l.chars().count() as u32;
            return off + col.saturating_sub(1).min(n);
        }
        off += l.chars().count() as u32 + 1;
    }
    // Past the last line: the end of the text.
    text.chars().count() as u32
}

#[function_component(Editor)]
pub(crate) fn editor(p: &EditorProps) -> Html {
    let area = use_node_ref();
    let gutter = use_node_ref();
    let lines = p.text.split('\n').count().max(1);
    let bad: std::collections::HashSet<u32> = p.errors.iter().map(|e| e.line).collect();

    let oninput = {
        let cb = p.on_input.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(t) = e.target_dyn_into::<web_sys::HtmlTextAreaElement>() {
                cb.emit(t.value());
            }
        })
    };
    let onscroll = {
        let (area, gutter) = (area.clone(), gutter.clone());
        Callback::from(move |_: Event| {
            if let (Some(a), Some(g)) = (
                area.cast::<web_sys::HtmlTextAreaElement>(),
                gutter.cast::<web_sys::HtmlElement>(),
            ) {
                g.set_scroll_top(a.scroll_top());
            }
        })
    };
    // Tab keeps its meaning (leave the editor): keyboard users must get out.
    let goto = |e: &scenarios::Error| {
        let area = area.clone();
        let text = p.text.to_string();
        let (line, col) = (e.line, e.col);
        Callback::from(move |_: MouseEvent| {
            if let Some(a) = area.cast::<web_sys::HtmlTextAreaElement>() {
                let at = offset_of(&text, line, col);
                let _ = a.focus();
                let _ = a.set_selection_range(at, at + 1);
            }
        })
    };
    let rows = lines.clamp(3, 24);
    html! {
        <div class="lab-editor">
            <div class="lab-editor-body">
                <div class="lab-gutter" ref={gutter} aria-hidden="true">
                    { for (1..=lines as u32).map(|n| html! {
                        <div class={classes!("lab-ln", bad.contains(&n).then_some("lab-ln-bad"))}>
                            { if bad.contains(&n) { format!("✖ {n}") } else { n.to_string() } }
                        </div>
                    }) }
                </div>
                <textarea
                    ref={area.clone()}
                    class="lab-source"
                    spellcheck="false"
                    autocomplete="off"
                    wrap="off"
                    rows={rows.to_string()}
                    aria-label={if p.label.is_empty() { AttrValue::from("scenario") } else { p.label.clone() }}
                    aria-invalid={(!p.errors.is_empty()).to_string()}
                    value={p.text.clone()}
                    {oninput}
                    {onscroll}
                />
            </div>
            if !p.errors.is_empty() {
                <ul class="lab-errors" role="alert">
                    { for p.errors.iter().map(|e| html! {
                        <li>
                            <button class="lab-linkish" onclick={goto(e)} title="put the caret there">
                                { format!("{}:{}", e.line, e.col) }
                            </button>
                            { format!(": {}", e.message) }
                        </li>
                    }) }
                </ul>
            }
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets_count_characters_per_line() {
        let t = "create 2\nwrité * 0\n";
        assert_eq!(super::offset_of(t, 1, 1), 0);
        assert_eq!(super::offset_of(t, 2, 1), 9);
        assert_eq!(super::offset_of(t, 2, 7), 15);
        assert_eq!(super::offset_of(t, 2, 99), 18);
        assert_eq!(super::offset_of(t, 9, 1), 19);
    }
}
