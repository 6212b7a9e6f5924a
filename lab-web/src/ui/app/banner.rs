//! The host banner: what the lab server says about real KVM here, or why
//! the page runs the models only.

use yew::prelude::*;

use super::super::Host;

#[derive(Properties, PartialEq)]
pub(super) struct HostProps {
    pub(super) host: Host,
}

/// What the server says about real KVM here, or model-only mode.
#[function_component(HostBanner)]
pub(super) fn host_banner(p: &HostProps) -> Html {
    match &p.host {
        Host::Checking => {
            html! { <div class="lab-host lab-host-checking" role="status">{ "Looking for a lab server…" }</div> }
        }
        Host::NoServer => html! {
            <div class="lab-host lab-host-models" role="status" data-mode="no-server">
                <strong>{ "Model-only mode" }</strong>
                { ": no lab server answers here. The four kernel models run in your browser; real-KVM columns show runs recorded on a lab machine where the site ships one. Run " }
                <code>{ "cargo xtask lab" }</code>{ " for live KVM." }
            </div>
        },
        Host::Locked => html! {
            <div class="lab-host lab-host-models" role="status" data-mode="locked">
                <strong>{ "This lab server needs a token" }</strong>
                { ": open the link you were given (it ends in ?token=…). Until then the four kernel models run in your browser." }
            </div>
        },
        Host::Server {
            report,
            mode,
            notice,
            ..
        } => {
            let honoured = match report.offsets_honoured {
                Some(true) => "yes",
                Some(false) => "no — the kernel's own view (tracepoints) is read instead",
                None => "not probed",
            };
            html! {
                <div class={classes!("lab-host", if mode == "kvm" { "lab-host-kvm" } else { "lab-host-models" })} role="status" data-mode={mode.clone()}>
                    <strong>{ if mode == "kvm" { "Real KVM available" } else { "Model-only mode" } }</strong>
                    <span>{ format!(" · kernel {} · KVM {} · clocksource {}", report.kernel, report.flavour, report.clocksource) }</span>
                    <span>{ format!(" · TSC offsets honoured: {honoured}") }</span>
                    <span>{ format!(" · tracing: {}", if report.tracing { "on" } else { "off" }) }</span>
                    if let Some(n) = notice { <div class="lab-host-notice">{ n.clone() }</div> }
                    if report.flavour == "kvm-pvm" {
                        <div class="lab-host-notice">{ "This host is kvm-pvm (software nested KVM): the kernel's matching and master-clock code runs for real, but the TSC offset does not reach what the guest reads. The lab shows the kernel's own view." }</div>
                    }
                    if let Some(pr) = &report.tracing_problem { <div class="lab-host-notice">{ pr.clone() }</div> }
                </div>
            }
        }
    }
}
