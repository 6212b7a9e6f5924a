//! Light or dark: the user's choice, kept in localStorage, else the system's.

use yew::prelude::*;

use super::super::{Env, EnvAct, dom};
use crate::charts::Theme;
use crate::keys;

fn set_theme(env: &UseReducerHandle<Env>, name: &str) {
    if let Some(root) = dom::document().and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-theme", name);
    }
    env.dispatch(EnvAct::Theme(if name == "dark" {
        Theme::Dark
    } else {
        Theme::Light
    }));
}

/// Applies the theme chosen on an earlier visit, if any.
#[hook]
pub(super) fn use_saved_theme(env: &UseReducerHandle<Env>) {
    let env = env.clone();
    use_effect_with((), move |_| {
        if let Some(t) = dom::load(keys::THEME) {
            set_theme(&env, &t);
        }
    });
}

/// The toolbar's light / dark switch; the choice is kept.
pub(super) fn toggle(env: &UseReducerHandle<Env>) -> Html {
    let onclick = {
        let env = env.clone();
        Callback::from(move |_: MouseEvent| {
            let next = if env.theme == Theme::Dark {
                "light"
            } else {
                "dark"
            };
            let _ = dom::save(keys::THEME, next);
            set_theme(&env, next);
        })
    };
    html! {
        <button class="lab-theme" {onclick}>{ if env.theme == Theme::Dark { "Light mode" } else { "Dark mode" } }</button>
    }
}
