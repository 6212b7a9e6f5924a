//! The lab server: handlers without a socket (tower `oneshot`) and over a real
//! one (an SSE client), including the failure paths.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use lab_server::server::{Config, app};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Tests that count the process's VMs and fds take turns.
static COUNTED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn call(
    router: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, Value, axum::http::HeaderMap) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v, headers)
}

fn post(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// Sends a request that must be refused with `status`, and a body that says
/// why (`needle` in its `error`, or in its first scenario error).
async fn refused(
    router: &axum::Router,
    req: Request<Body>,
    status: StatusCode,
    needle: &str,
) -> Value {
    let (s, v, _) = call(router, req).await;
    assert_eq!(s, status, "{v}");
    let why = v["errors"][0]["message"]
        .as_str()
        .or(v["error"].as_str())
        .unwrap_or_default();
    assert!(why.contains(needle), "wanted “{needle}” in {v}");
    v
}

#[tokio::test]
async fn host_scenarios_and_parse() {
    let (router, _) = app(Config::default());
    let (s, v, _) = call(&router, get("/api/host")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["mode"] == "kvm" || v["mode"] == "model-only", "{v}");
    let (s, v, _) = call(&router, get("/api/scenarios")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "qemu-2.0-boot-4")
    );
    let (s, v, _) = call(&router, get("/api/scenarios/u8-generation-wrap")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["text"].as_str().unwrap().starts_with("title"));
    refused(
        &router,
        get("/api/scenarios/no-such"),
        StatusCode::NOT_FOUND,
        "no library scenario",
    )
    .await;
    // Parse errors carry line and column.
    let (s, v, _) = call(
        &router,
        post("/api/parse", json!({"scenario": "create 4\nwrite 5 0\n"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["errors"][0]["line"], 2);
    assert_eq!(v["errors"][0]["col"], 7);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("vCPU 5 does not exist")
    );
    let (s, v, _) = call(
        &router,
        post("/api/parse", json!({"scenario": "create 2\nwrite * 0\n"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["analysis"]["writes"], 4);
    refused(
        &router,
        post("/api/parse", json!({"text": "x"})),
        StatusCode::BAD_REQUEST,
        "bad JSON body",
    )
    .await;
    // The plain page until the web app is built.
    let resp = router.clone().oneshot(get("/")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&page).contains("/api/runs"));
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_reason() {
    let (router, state) = app(Config::default());
    // Oversize body.
    let big = "# x\n".repeat(20_000);
    let (s, _, _) = call(&router, post("/api/runs", json!({"scenario": big}))).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // Unknown backend.
    refused(
        &router,
        post(
            "/api/runs",
            json!({"scenario": "create 1", "backends": ["linux-2.6"]}),
        ),
        StatusCode::BAD_REQUEST,
        "unknown backend",
    )
    .await;
    // Too many vCPUs for real KVM (or model-only mode says so).
    let (s, v, _) = call(
        &router,
        post(
            "/api/runs",
            json!({"scenario": "create 65", "backends": ["kvm"]}),
        ),
    )
    .await;
    if state.host.kvm_usable {
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            v["error"].as_str().unwrap().contains("at most 64 vCPUs"),
            "{v}"
        );
    } else {
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert!(v["error"].as_str().unwrap().contains("model-only mode"));
    }
    // Scenario errors.
    refused(
        &router,
        post("/api/runs", json!({"scenario": "create 2\nrepeat 2\n"})),
        StatusCode::BAD_REQUEST,
        "never closed",
    )
    .await;
    // A run id that does not exist.
    let (s, _, _) = call(&router, get("/api/runs/nope")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A page of another site.
    let req = Request::post("/api/runs")
        .header(header::ORIGIN, "http://evil.example")
        .header(header::HOST, "127.0.0.1:8080")
        .body(Body::from(json!({"scenario": "create 1"}).to_string()))
        .unwrap();
    let (s, _, _) = call(&router, req).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn tokens_are_checked_on_every_api_call() {
    let config = Config {
        addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
        token: None,
        ..Config::default()
    };
    assert!(config.validate().unwrap_err().contains("give a token"));
    let config = Config {
        token: Some("s3cret".into()),
        ..config
    };
    config.validate().unwrap();
    let (router, _) = app(config);
    let (s, _, _) = call(&router, get("/api/host")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let req = Request::get("/api/host")
        .header(header::AUTHORIZATION, "Bearer wrong")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&router, req).await.0, StatusCode::UNAUTHORIZED);
    let req = Request::get("/api/host")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&router, req).await.0, StatusCode::OK);
    assert_eq!(
        call(&router, get("/api/host?token=s3cret")).await.0,
        StatusCode::OK
    );
    // A token with URL-special characters works written raw or encoded;
    // a broken escape is just a wrong token.
    let (router, _) = app(Config {
        token: Some("a+b/c=".into()),
        ..Config::default()
    });
    for (query, status) in [
        ("token=a+b/c=", StatusCode::OK),
        ("token=a%2Bb%2Fc%3D", StatusCode::OK),
        ("token=a%20b/c=", StatusCode::UNAUTHORIZED),
        ("token=a%2", StatusCode::UNAUTHORIZED),
    ] {
        let (s, _, _) = call(&router, get(&format!("/api/host?{query}"))).await;
        assert_eq!(s, status, "{query}");
    }
    // The page's probe needs no token: it says only that a lab server is here.
    let (s, body, _) = call(&router, get("/server.json")).await;
    assert_eq!((s, body["server"].clone()), (StatusCode::OK, json!(true)));
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let (router, _) = app(Config {
        runs_per_minute: 1,
        ..Config::default()
    });
    let body = json!({"scenario": "create 1", "backends": ["linux-6.18"]});
    assert_eq!(
        call(&router, post("/api/runs", body.clone())).await.0,
        StatusCode::CREATED
    );
    let (s, _, h) = call(&router, post("/api/runs", body)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = h[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
}

/// A real socket: the server on 127.0.0.1:0, reqwest as the client.
async fn start(config: Config) -> (String, std::sync::Arc<lab_server::server::AppState>) {
    let (router, state) = app(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (format!("http://{addr}"), state)
}

/// GET a JSON answer over the socket.
async fn get_json(client: &reqwest::Client, url: String) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// POST a JSON body over the socket and read the JSON answer.
async fn post_json(client: &reqwest::Client, url: String, body: Value) -> Value {
    client
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn sse_events(url: &str) -> Vec<String> {
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buf.find("\n\n") {
            let ev: String = buf.drain(..end + 2).collect();
            let done = ev.starts_with("event: done");
            out.push(ev);
            if done {
                return out;
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_stream_over_sse_and_replay() {
    let (base, _) = start(Config::default()).await;
    let client = reqwest::Client::new();
    let backends = ["linux-3.14", "linux-6.18"];
    let v: Value = post_json(
        &client,
        format!("{base}/api/runs"),
        json!({"scenario": "create 2\nwrite * 0\nrun *\n", "backends": backends}),
    )
    .await;
    let id = v["id"].as_str().unwrap().to_string();
    let events = sse_events(&format!("{base}/api/runs/{id}/events")).await;
    let data: Vec<Value> = events
        .iter()
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d.trim()).unwrap())
        .collect();
    // 4 writes + 2 runs + a summary, per backend; every object names its backend.
    assert_eq!(data.len(), 14, "{events:?}");
    let summaries: Vec<&Value> = data.iter().filter(|d| d["event"] == "summary").collect();
    assert_eq!(summaries.len(), 2);
    assert_eq!(summaries[0]["backend"], "linux-3.14");
    assert_eq!(summaries[0]["nr_matched"], 3);
    assert_eq!(summaries[1]["nr_matched"], 1);
    assert!(data.iter().all(|d| d["backend"].is_string()));
    // A late viewer gets the same stream, and the record has it all.
    let again = sse_events(&format!("{base}/api/runs/{id}/events")).await;
    assert_eq!(again, events);
    let record: Value = get_json(&client, format!("{base}/api/runs/{id}")).await;
    assert_eq!(record["done"], true);
    assert_eq!(record["events"].as_array().unwrap().len(), 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presenter_is_followed_live() {
    let (base, _) = start(Config::default()).await;
    let follow = tokio::spawn({
        let base = base.clone();
        async move {
            let resp = reqwest::get(format!("{base}/api/presenter/events"))
                .await
                .unwrap();
            let mut body = resp.bytes_stream();
            let mut buf = String::new();
            while let Some(chunk) = body.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                if buf.contains("\"event\":\"summary\"") {
                    return buf;
                }
            }
            buf
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::new();
    let stats: Value = get_json(&client, format!("{base}/api/stats")).await;
    assert_eq!(stats["followers"], 1, "the follower is counted: {stats}");
    client
        .post(format!("{base}/api/runs"))
        .json(&json!({"scenario": "create 1\nrun *\n", "backends": ["linux-3.17"], "presenter": true}))
        .send()
        .await
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), follow)
        .await
        .unwrap()
        .unwrap();
    assert!(seen.contains("\"backend\":\"linux-3.17\""), "{seen}");
    // Gone once it hangs up (the follower returned, dropping its stream).
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let stats: Value = get_json(&client, format!("{base}/api/stats")).await;
        if stats["followers"] == 0 {
            break;
        }
        assert!(
            Instant::now() < until,
            "a follower outlived its stream: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A viewer that goes away mid-run: the run is cancelled and its VM freed
/// within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_mid_stream_frees_the_vm() {
    let _turn = COUNTED.lock().await;
    let (base, state) = start(Config::default()).await;
    if !state.host.kvm_usable || !state.host.tracing {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true: this test needs KVM"
        );
        eprintln!("skipped: no usable KVM here");
        return;
    }
    let scenario = "create 4\nrepeat 80\n  wait 100ms\n  write * now\nend\nrun *\n";
    let client = reqwest::Client::new();
    let v: Value = post_json(
        &client,
        format!("{base}/api/runs"),
        json!({"scenario": scenario, "backends": ["kvm"]}),
    )
    .await;
    let id = v["id"].as_str().unwrap().to_string();
    let resp = client
        .get(format!("{base}/api/runs/{id}/events"))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    // Wait for the VM to exist, then hang up.
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("\"backend\":\"kvm\""));
    let stats: Value = get_json(&client, format!("{base}/api/stats")).await;
    assert_eq!(stats["vms"], 1, "{stats}");
    drop(body);
    let gone = Instant::now();
    loop {
        let stats: Value = get_json(&client, format!("{base}/api/stats")).await;
        if stats["vms"] == 0 && stats["running"] == 0 {
            break;
        }
        assert!(
            gone.elapsed() < Duration::from_secs(1),
            "the VM outlived its viewer: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let record: Value = get_json(&client, format!("{base}/api/runs/{id}")).await;
    let last = record["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "error");
    assert!(
        last["message"].as_str().unwrap().contains("cancelled"),
        "{last}"
    );
}

/// Model-only mode: without KVM the server still serves every model, says
/// so in /api/host, and answers `kvm` runs with 503.
#[test]
fn model_only_mode_without_kvm() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lab-server"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("LAB_KVM_DEVICE", "/nonexistent/kvm")
        .env("LAB_TRACEFS", "/nonexistent")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("TSC Lab: ")
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let host: Value = c
            .get(format!("{base}/api/host"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(host["mode"], "model-only");
        assert!(
            host["notice"]
                .as_str()
                .unwrap()
                .contains("/nonexistent/kvm does not exist")
        );
        let r = c
            .post(format!("{base}/api/runs"))
            .json(&json!({"scenario": "create 1", "backends": ["kvm"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
        let r = c
            .post(format!("{base}/api/runs"))
            .json(&json!({"scenario": "create 1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            reqwest::StatusCode::CREATED,
            "the models still run"
        );
        let page = c
            .get(format!("{base}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Model-only mode"));
    });
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The built site is served from its directory and nothing outside it.
#[tokio::test]
async fn static_files_stay_inside_their_directory() {
    let dir = std::env::temp_dir().join(format!("lab-static-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("book")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>app</h1>").unwrap();
    std::fs::write(dir.join("book/index.html"), "<h1>book</h1>").unwrap();
    std::fs::write(dir.parent().unwrap().join("secret.txt"), "no").unwrap();
    let (router, _) = app(Config {
        static_dir: Some(dir.clone()),
        ..Config::default()
    });
    let body = |r: axum::response::Response| async move {
        r.into_body().collect().await.unwrap().to_bytes()
    };
    let r = router.clone().oneshot(get("/")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&body(r).await[..], b"<h1>app</h1>");
    let r = router.clone().oneshot(get("/book/")).await.unwrap();
    assert_eq!(&body(r).await[..], b"<h1>book</h1>");
    for evil in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/book/../../secret.txt",
    ] {
        let r = router.clone().oneshot(get(evil)).await.unwrap();
        assert_ne!(r.status(), StatusCode::OK, "{evil}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Every refusal has the API's one JSON shape, including those made below the
/// handlers: the body limit's 413 and a body that is not UTF-8.
#[tokio::test]
async fn every_refusal_is_json() {
    let (router, _state) = app(Config::default());
    let big = "# x\n".repeat(20_000);
    refused(
        &router,
        post("/api/runs", json!({ "scenario": big })),
        StatusCode::PAYLOAD_TOO_LARGE,
        "larger than this server takes (65536 bytes)",
    )
    .await;
    let not_utf8 = Request::post("/api/parse")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(vec![b'{', 0xff, 0xfe, b'}']))
        .unwrap();
    refused(
        &router,
        not_utf8,
        StatusCode::BAD_REQUEST,
        "not UTF-8 (byte 1 is not)",
    )
    .await;
    refused(
        &router,
        get("/api/nothing-here"),
        StatusCode::NOT_FOUND,
        "no such API path",
    )
    .await;
    // Beside a built site too: /api/ never falls through to the files.
    let site = std::env::temp_dir().join(format!("lab-site-{}", std::process::id()));
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "<!doctype html>").unwrap();
    let (with_site, _state) = app(Config {
        static_dir: Some(site.clone()),
        ..Config::default()
    });
    let refusal = refused(
        &with_site,
        get("/api/nothing-here"),
        StatusCode::NOT_FOUND,
        "no such API path",
    )
    .await;
    std::fs::remove_dir_all(&site).unwrap();
    assert!(refusal["error"].is_string());
    // A wrong method keeps its `Allow` header, in the one JSON shape.
    let (s, v, headers) = call(&router, post("/api/host", json!({}))).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{v}");
    assert!(v["error"].is_string(), "{v}");
    assert!(headers.contains_key(header::ALLOW), "{headers:?}");
}

fn with_token(req: Request<Body>, token: &str) -> Request<Body> {
    let (mut parts, body) = req.into_parts();
    parts.headers.insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    Request::from_parts(parts, body)
}

/// The class token follows, runs and answers; every instructor action —
/// presenting, opening, closing and revealing a poll, its results and CSV —
/// is refused to it with a sentence and taken with the instructor token.
#[tokio::test]
async fn students_cannot_present_or_see_the_answers() {
    let config = Config {
        token: Some("classtoken".into()),
        instructor_token: Some("teach-3f9".into()),
        ..Config::default()
    };
    let (router, _) = app(config);
    let (s, v, _) = call(&router, with_token(get("/api/host"), "classtoken")).await;
    assert_eq!((s, v["role"].as_str()), (StatusCode::OK, Some("student")));
    let (_, v, _) = call(&router, with_token(get("/api/host"), "teach-3f9")).await;
    assert_eq!(v["role"], "instructor");
    // A near miss of the instructor token is no token at all.
    let (s, _, _) = call(&router, with_token(get("/api/host"), "teach-3f8")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let present =
        json!({"scenario": "create 1\nrun *\n", "backends": ["linux-6.18"], "presenter": true});
    refused(
        &router,
        with_token(post("/api/runs", present.clone()), "classtoken"),
        StatusCode::FORBIDDEN,
        "instructor token",
    )
    .await;
    let (s, _, _) = call(&router, with_token(post("/api/runs", present), "teach-3f9")).await;
    assert_eq!(s, StatusCode::CREATED);

    let ask = json!({"question": "Stable after write 5?", "choices": ["stable", "unstable"], "answer": "unstable"});
    refused(
        &router,
        with_token(post("/api/polls", ask.clone()), "classtoken"),
        StatusCode::FORBIDDEN,
        "opening a poll",
    )
    .await;
    let (s, poll, _) = call(&router, with_token(post("/api/polls", ask), "teach-3f9")).await;
    assert_eq!(s, StatusCode::CREATED, "{poll}");
    let id = poll["id"].as_str().unwrap().to_string();
    for (req, what) in [
        (
            post(&format!("/api/polls/{id}/close"), json!({})),
            "closing a poll",
        ),
        (
            post(&format!("/api/polls/{id}/reveal"), json!({})),
            "revealing a poll",
        ),
        (
            get(&format!("/api/polls/{id}/results")),
            "answers of a poll",
        ),
        (
            get(&format!("/api/polls/{id}/results.csv")),
            "answers of a poll",
        ),
    ] {
        refused(
            &router,
            with_token(req, "classtoken"),
            StatusCode::FORBIDDEN,
            what,
        )
        .await;
    }
    // A student sees the question, not the counts nor the answer.
    let (_, room, _) = call(&router, with_token(get("/api/polls/current"), "classtoken")).await;
    assert_eq!(room["question"], "Stable after write 5?");
    assert!(
        room.get("counts").is_none() && room.get("answer").is_none(),
        "{room}"
    );

    // 300 students answer; tab 0 changes its mind; the counts are exact.
    for i in 0..300 {
        let choice = if i % 3 == 0 { "stable" } else { "unstable" };
        let (s, v, _) = call(
            &router,
            with_token(
                post(
                    &format!("/api/polls/{id}/answers"),
                    json!({"tab": format!("tab-{i}"), "choice": choice}),
                ),
                "classtoken",
            ),
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    let (s, _, _) = call(
        &router,
        with_token(
            post(
                &format!("/api/polls/{id}/answers"),
                json!({"tab": "tab-0", "choice": "unstable"}),
            ),
            "classtoken",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    refused(
        &router,
        with_token(
            post(
                &format!("/api/polls/{id}/answers"),
                json!({"tab": "x", "choice": "maybe"}),
            ),
            "classtoken",
        ),
        StatusCode::BAD_REQUEST,
        "not one of the poll's choices",
    )
    .await;
    let (s, results, _) = call(
        &router,
        with_token(get(&format!("/api/polls/{id}/results")), "teach-3f9"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(results["counts"], json!([99, 201]), "{results}");
    let csv = router
        .clone()
        .oneshot(with_token(
            get(&format!("/api/polls/{id}/results.csv")),
            "teach-3f9",
        ))
        .await
        .unwrap();
    assert_eq!(
        csv.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let csv = csv.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&csv[..], b"choice,count\nstable,99\nunstable,201\n");

    let (_, shown, _) = call(
        &router,
        with_token(
            post(&format!("/api/polls/{id}/reveal"), json!({})),
            "teach-3f9",
        ),
    )
    .await;
    assert_eq!(shown["state"], "revealed");
    let (_, room, _) = call(&router, with_token(get("/api/polls/current"), "classtoken")).await;
    assert_eq!(
        (room["answer"].as_str(), room["counts"].clone()),
        (Some("unstable"), json!([99, 201]))
    );
    refused(
        &router,
        with_token(
            post(
                &format!("/api/polls/{id}/answers"),
                json!({"tab": "late", "choice": "stable"}),
            ),
            "classtoken",
        ),
        StatusCode::CONFLICT,
        "takes no more answers",
    )
    .await;
}

/// On loopback without tokens the local user is the instructor, as before.
#[tokio::test]
async fn the_local_user_is_the_instructor_without_tokens() {
    let (router, _) = app(Config::default());
    let (_, v, _) = call(&router, get("/api/host")).await;
    assert_eq!(v["role"], "instructor");
    let (s, v, _) = call(
        &router,
        post(
            "/api/polls",
            json!({"question": "?", "choices": ["a", "b"]}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// Behind a proxy (`behind_proxy`), runs per minute are counted per the
/// address the proxy forwards, not per the proxy.
#[tokio::test]
async fn behind_a_proxy_the_rate_limit_counts_the_forwarded_client() {
    let (router, _) = app(Config {
        runs_per_minute: 1,
        behind_proxy: true,
        ..Config::default()
    });
    let run = |from: &str| {
        let mut r = post(
            "/api/runs",
            json!({"scenario": "create 1\nrun *\n", "backends": ["linux-6.18"]}),
        );
        r.headers_mut()
            .insert("x-forwarded-for", from.parse().unwrap());
        r
    };
    let (s, _, _) = call(&router, run("10.0.0.1")).await;
    assert_eq!(s, StatusCode::CREATED);
    refused(
        &router,
        run("10.0.0.1"),
        StatusCode::TOO_MANY_REQUESTS,
        "too many runs from 10.0.0.1",
    )
    .await;
    // A client's own X-Forwarded-For entry is not trusted: the proxy's last one counts.
    let (s, _, _) = call(&router, run("10.0.0.1, 10.0.0.2")).await;
    assert_eq!(s, StatusCode::CREATED);
}
