//! `lab-server load` against a live server, in a test binary of its own so
//! that the server's fd count is not shared with other tests.

use std::net::SocketAddr;

use lab_server::server::{Config, app};

/// `lab-server load` against a live server: every client answered, nothing
/// left behind (the figures for 300 and 1,000 clients are in README.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_command_drives_a_live_server() {
    let (router, state) = app(Config::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let backends = if state.host.kvm_usable {
        vec!["kvm".to_string()]
    } else {
        vec!["linux-6.18".to_string()]
    };
    let plan = lab_server::load::Plan {
        url: base,
        clients: 40,
        scenario: scenarios::library::get("qemu-2.0-boot-8")
            .unwrap()
            .text
            .to_string(),
        backends,
        token: None,
    };
    let o = lab_server::load::run(plan).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(o.completed + o.rejected, 40);
    assert!(o.completed > 0);
    let (before, after) = (
        o.before.expect("stats before"),
        o.after.expect("stats after"),
    );
    assert_eq!(after.vms, 0);
    assert_eq!(after.fds, before.fds, "fds back to baseline");
}
