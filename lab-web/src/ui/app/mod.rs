//! The notebook page: the toolbar, the host banner and the cells.
//!
//! [`doc::use_doc`] holds the notebook (opened, edited, saved); the header
//! ([`toolbar`], [`files`], [`theme`]), the banner, the import panel
//! ([`import`]: a trace read in the page becomes a cell), the class's
//! panels (the instructor's poll, a follower's question and presenter cell:
//! `ui::class`) and the cells ([`cells`]) are drawn from it.

mod banner;
mod cells;
mod doc;
mod files;
mod import;
mod text_cell;
mod theme;
mod toolbar;

use scenarios::BackendId;
use yew::prelude::*;

use super::class;
use super::live::Endpoints;
use super::{Env, dom, use_env};
use banner::HostBanner;
use doc::{Doc, Notice};

#[derive(Properties, PartialEq)]
pub(crate) struct AppProps {
    pub endpoints: Endpoints,
}

/// What the header acts on.
struct Page {
    doc: UseReducerHandle<Doc>,
    env: UseReducerHandle<Env>,
    notice: Notice,
    /// The last share link made, shown under the header.
    share: UseStateHandle<Option<String>>,
    projector: UseStateHandle<bool>,
    /// "Import trace…", paste and drop.
    import: import::UseImport,
    /// Polls, presenting, following.
    class: class::UseClass,
}

#[function_component(NotebookApp)]
pub(crate) fn notebook_app(p: &AppProps) -> Html {
    let env = use_env(&p.endpoints);
    let (doc, notice) = doc::use_doc();
    let projector = use_state(|| {
        dom::query("projector").is_some() || dom::location_hash().contains("projector")
    });
    let share = use_state(|| None::<String>);
    let import = import::use_import(&env, &doc);
    let class = class::use_class(&env);
    theme::use_saved_theme(&env);
    // Mark the page ready for the browser tests and the budget bench.
    use_effect_with((), |_| {
        if let Some(b) = dom::document().and_then(|d| d.body()) {
            let _ = b.set_attribute("data-lab-ready", &format!("{:.1}", dom::now_ms()));
        }
    });

    let page = Page {
        doc,
        env,
        notice,
        share,
        projector,
        import,
        class,
    };
    let dismiss = {
        let notice = page.notice.clone();
        Callback::from(move |_: MouseEvent| notice.set(None))
    };
    html! {
        <ContextProvider<Env> context={(*page.env).clone()}>
        <div class={classes!("tsclab", "lab-app", page.projector.then_some("lab-projector"))}>
            { toolbar::header(&page) }
            <HostBanner host={page.env.host.clone()} />
            if let Some(n) = (*page.notice).clone() {
                <p class="lab-notice" role="status">{ n }
                    <button class="lab-linkish" aria-label="dismiss" onclick={dismiss}>{ " ✕" }</button>
                </p>
            }
            if let Some(url) = (*page.share).clone() {
                <p class="lab-share-link" role="status">
                    { "Link copied (it holds the whole notebook): " }
                    <input readonly=true value={url} aria-label="share link" class="lab-share-url" />
                </p>
            }
            { page.class.panels() }
            { import::panel(&page.import) }
            { cells::cells(&page.doc) }
            <footer class="lab-footer">
                { "TSC Lab · models of kvm_write_tsc() (Linux 3.14, 3.17) and kvm_synchronize_tsc() (Linux 6.18) · " }
                { format!("{} backends: ", BackendId::ALL.len()) }
                { BackendId::ALL.map(|b| b.name()).join(", ") }
            </footer>
        </div>
        </ContextProvider<Env>>
    }
}
