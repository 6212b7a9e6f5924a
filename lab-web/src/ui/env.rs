//! What every component of one mounted root shares: where the server is,
//! what it says about real KVM, and the colour scheme.

use std::rc::Rc;

use yew::prelude::*;

use super::dom;
use super::live::{self, Endpoints, Host};
use crate::charts::Theme;

/// What every component of one mounted root shares.
#[derive(Clone, Debug, PartialEq)]
pub struct Env {
    pub endpoints: Endpoints,
    pub host: Host,
    pub theme: Theme,
}

/// A change to the environment. A reducer, not a state: the host report
/// arrives later from a callback, and must not undo a theme chosen meanwhile.
#[derive(Debug)]
pub enum EnvAct {
    Host(Host),
    Theme(Theme),
}

impl Reducible for Env {
    type Action = EnvAct;
    fn reduce(self: Rc<Self>, act: EnvAct) -> Rc<Self> {
        let mut env = (*self).clone();
        match act {
            EnvAct::Host(h) => env.host = h,
            EnvAct::Theme(t) => env.theme = t,
        }
        Rc::new(env)
    }
}

fn theme_now() -> Theme {
    let forced = dom::document()
        .and_then(|d| d.document_element())
        .and_then(|e| e.get_attribute("data-theme"));
    match forced.as_deref() {
        Some("dark") => Theme::Dark,
        Some("light") => Theme::Light,
        _ if dom::prefers_dark() => Theme::Dark,
        _ => Theme::Light,
    }
}

/// The shared environment of a root: asks for the host report once and
/// follows the page's colour scheme.
#[hook]
pub(crate) fn use_env(endpoints: &Endpoints) -> UseReducerHandle<Env> {
    let env = use_reducer(|| Env {
        endpoints: endpoints.clone(),
        host: Host::Checking,
        theme: theme_now(),
    });
    {
        let d = env.dispatcher();
        let endpoints = endpoints.clone();
        use_effect_with((), move |_| {
            live::host(&endpoints, move |host| d.dispatch(EnvAct::Host(host)));
        });
    }
    env
}
