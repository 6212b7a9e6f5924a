//! The real-KVM line of a cell: where its run comes from, and the button
//! that (re-)runs it on the lab server.

use yew::prelude::*;

use super::super::Host;
use super::kvm::UseKvm;
use crate::analysis::{BackendRun, Source, Status};

/// What the line says: the run shown (`current`, of the text on screen), or
/// why there is none.
fn note(host: &Host, current: Option<&BackendRun>, stale: bool) -> String {
    let running = current.is_some_and(|k| k.status == Status::Running);
    match (host, current.map(|k| &k.source)) {
        (Host::Checking, _) => "Real KVM: asking the lab server…".to_string(),
        (_, Some(Source::Recorded { host })) => format!(
            "Real KVM: a run recorded on {host}, shipped with this site (no lab server here)."
        ),
        (_, Some(Source::Live)) if running => "Real KVM: running on this machine…".into(),
        (_, Some(Source::Live)) => match &current.map(|k| &k.status) {
            Some(Status::Failed(m)) => format!("Real KVM failed: {m}"),
            _ => "Real KVM: run on the lab server's KVM.".into(),
        },
        (_, _) if stale => "Real KVM: the run shown before was of an earlier text.".into(),
        (Host::Locked, _) => "Real KVM: the lab server needs the token from your link.".into(),
        (Host::NoServer, _) => {
            "Real KVM: no lab server here — the kernel models run in your browser.".into()
        }
        (Host::Server { notice, .. }, _) if !host.kvm_live() => format!(
            "Real KVM: not on this server. {}",
            notice.clone().unwrap_or_default()
        ),
        _ => "Real KVM: not run yet.".into(),
    }
}

/// The line for the text on screen; `sets_host`: the text has host lines,
/// `can_run`: it parses.
pub(super) fn kvm_bar(
    host: &Host,
    kvm: &UseKvm,
    text: &str,
    sets_host: bool,
    can_run: bool,
) -> Html {
    let current = kvm.of(text);
    let stale = kvm.state.run.is_some() && current.is_none();
    let running = current.is_some_and(|k| k.status == Status::Running);
    let onclick = {
        let start = kvm.start.clone();
        Callback::from(move |_: MouseEvent| start.emit(()))
    };
    html! {
        <div class="lab-kvm-bar">
            <span>{ note(host, current, stale) }</span>
            // `set host_tsc` / `set clocksource` shape the models; a real run
            // happens on this machine's host, whatever the text says.
            if sets_host && current.is_some() {
                <span class="lab-host-warning">{ "Its host settings (set host_tsc / clocksource) apply to the models only: real KVM ran on this machine's own host." }</span>
            }
            if host.kvm_live() {
                <button class="lab-run-kvm" disabled={running || !can_run} {onclick}>
                    { if current.is_some() { "Re-run on real KVM" } else { "Run on real KVM" } }
                </button>
            }
        </div>
    }
}
