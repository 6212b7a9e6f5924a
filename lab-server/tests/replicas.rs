//! A class larger than one process, on loopback: one Redis, three
//! `lab-server serve --redis` replicas and one reverse proxy, all started
//! and stopped by the test (`tests/class`). The same class runs behind each
//! of the two templates the README offers: HAProxy (deploy/haproxy.cfg.in:
//! active health checks) and nginx (deploy/nginx.conf.in: passive ones).
//!
//! - 300 clients start runs and stream them through the proxy (the stream
//!   mostly from another replica than the one that runs it) and answer a
//!   poll: 0 errors, every run done, the counts exact.
//! - One replica is killed (SIGKILL) while it runs: its in-flight runs end
//!   with an error event saying so, every other run completes, the presenter
//!   stream goes on (its follower resumes with `Last-Event-ID`) and the poll
//!   loses no answer.
//!
//! Skipped with a reason without redis-server, haproxy or nginx (`cargo
//! xtask test` installs them with apt as root); required under CI=true.

mod class;
mod web;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use class::{Class, Proxy};

/// What one SSE stream delivered: its messages' event names, and whether it ended with `done`.
#[derive(Debug, Default, Clone)]
struct Streamed {
    events: Vec<(String, String)>,
    done: bool,
    reconnects: u32,
}

/// Every (event name, data) a stream delivered, shared with whoever watches it.
type Log = Arc<Mutex<Vec<(String, String)>>>;

/// Reads an SSE stream to its `done` (or `until`), reconnecting with
/// `Last-Event-ID` when the connection drops, as EventSource does.
async fn follow(
    client: &reqwest::Client,
    url: &str,
    until: Instant,
    stop_at_done: bool,
    sink: Option<Log>,
) -> Streamed {
    let mut got = Streamed::default();
    let mut last: Option<String> = None;
    while Instant::now() < until {
        let mut req = client.get(url).bearer_auth("class");
        if let Some(id) = &last {
            req = req.header("Last-Event-ID", id);
        }
        let Ok(resp) = req.send().await else {
            got.reconnects += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if !resp.status().is_success() {
            got.reconnects += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let mut body = resp.bytes_stream();
        let mut buf = String::new();
        let (mut event, mut data, mut id) = (String::new(), String::new(), None::<String>);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let chunk = match tokio::time::timeout(left, body.next()).await {
                Ok(Some(Ok(c))) => c,
                Ok(_) => break,
                Err(_) => return got,
            };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(nl) = buf.find('\n') {
                let line = buf[..nl].trim_end_matches('\r').to_string();
                buf.drain(..=nl);
                if line.is_empty() {
                    if !data.is_empty() || !event.is_empty() {
                        if id.is_some() {
                            last = id.take();
                        }
                        let name = if event.is_empty() {
                            "message".to_string()
                        } else {
                            std::mem::take(&mut event)
                        };
                        let done = name == "done";
                        if let Some(sink) = &sink {
                            sink.lock().unwrap().push((name.clone(), data.clone()));
                        }
                        got.events.push((name, std::mem::take(&mut data)));
                        if done {
                            got.done = true;
                            if stop_at_done {
                                return got;
                            }
                        }
                    }
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_string());
                }
            }
        }
        got.reconnects += 1;
    }
    got
}

/// POSTs JSON through the proxy with a token, retrying what a dead replica
/// dropped before it was answered (the proxy re-sends only connection failures).
async fn post(client: &reqwest::Client, url: &str, token: &str, body: &Value) -> (u16, Value) {
    for attempt in 0..20 {
        match client.post(url).bearer_auth(token).json(body).send().await {
            Ok(r) if r.status().as_u16() != 502 && r.status().as_u16() != 503 => {
                let status = r.status().as_u16();
                let v = r.json().await.unwrap_or(Value::Null);
                return (status, v);
            }
            _ => tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await,
        }
    }
    panic!("{url}: no replica answered");
}

/// One class at a time: each is three replicas and 300 students on two cores.
static ONE_CLASS: Mutex<()> = Mutex::new(());

#[test]
fn a_class_over_three_replicas_behind_haproxy_survives_losing_one() {
    let test = "a_class_over_three_replicas_behind_haproxy_survives_losing_one";
    if class::ready(test, Proxy::HAProxy) {
        class_survives_losing_a_replica(Proxy::HAProxy);
    }
}

#[test]
fn a_class_over_three_replicas_behind_nginx_survives_losing_one() {
    let test = "a_class_over_three_replicas_behind_nginx_survives_losing_one";
    if class::ready(test, Proxy::Nginx) {
        class_survives_losing_a_replica(Proxy::Nginx);
    }
}

fn class_survives_losing_a_replica(proxy: Proxy) {
    let _one = ONE_CLASS.lock().unwrap_or_else(|p| p.into_inner());
    let mut class = Class::start(&format!("replicas-{proxy:?}"), 3, false, proxy);
    let base = class.base.clone();
    let kvm = lab_server::kvm::host::report().kvm_usable;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("a client");
        let deadline = Instant::now() + Duration::from_secs(240);
        // Every replica answers, through the proxy.
        let until = Instant::now() + Duration::from_secs(15);
        let mut seen = std::collections::HashSet::new();
        while seen.len() < 3 {
            assert!(Instant::now() < until, "not every replica answered: {seen:?}");
            if let Ok(r) = client.get(format!("{base}/api/health")).send().await
                && let Ok(v) = r.json::<Value>().await
            {
                assert_eq!(v["redis"], true, "{v}");
                seen.insert(v["replica"].as_str().unwrap_or("?").to_string());
            }
        }

        // The presenter's follower, through the proxy, for the whole class.
        let seen_by_follower: Log = Arc::new(Mutex::new(Vec::new()));
        let follower = {
            let (client, url, sink) = (client.clone(), format!("{base}/api/presenter/events"), seen_by_follower.clone());
            tokio::spawn(async move { follow(&client, &url, deadline, false, Some(sink)).await })
        };
        let (s, poll) = post(
            &client,
            &format!("{base}/api/polls"),
            "teach",
            &json!({"question": "Stable at the end on linux-3.14?", "choices": ["stable", "unstable"], "answer": "unstable"}),
        )
        .await;
        assert_eq!(s, 201, "{poll}");
        let poll = poll["id"].as_str().expect("a poll id").to_string();
        let (s, v) = post(
            &client,
            &format!("{base}/api/runs"),
            "teach",
            &json!({"scenario": "create 2\nwrite * 0\nwrite * 0\nrun *\n", "backends": ["linux-3.14", "linux-3.17"], "presenter": true}),
        )
        .await;
        assert_eq!(s, 201, "{v}");

        // 300 students: a run each, streamed through the proxy, and an answer.
        let errors = Arc::new(Mutex::new(Vec::<String>::new()));
        let mut students = Vec::new();
        for i in 0..300 {
            let (client, base, errors, poll) = (client.clone(), base.clone(), errors.clone(), poll.clone());
            students.push(tokio::spawn(async move {
                let (s, v) = post(
                    &client,
                    &format!("{base}/api/runs"),
                    "class",
                    &json!({"scenario": "create 2\nwrite * 0\nwrite * 0\nrun *\n", "backends": ["linux-3.14", "linux-6.18"]}),
                )
                .await;
                if s != 201 {
                    errors.lock().unwrap().push(format!("student {i}: POST /api/runs {s} {v}"));
                    return;
                }
                let id = v["id"].as_str().unwrap_or_default().to_string();
                let got = follow(&client, &format!("{base}/api/runs/{id}/events"), deadline, true, None).await;
                let bad: Vec<_> = got.events.iter().filter(|(e, _)| e == "error").collect();
                if !got.done || !bad.is_empty() || got.events.len() < 10 {
                    errors.lock().unwrap().push(format!("student {i}: run {id}: done {} errors {bad:?}, {} events", got.done, got.events.len()));
                }
                let choice = if i % 3 == 0 { "stable" } else { "unstable" };
                let (s, v) = post(&client, &format!("{base}/api/polls/{poll}/answers"), "class", &json!({"tab": format!("tab-{i}"), "choice": choice})).await;
                if s != 204 {
                    errors.lock().unwrap().push(format!("student {i}: answer {s} {v}"));
                }
            }));
        }
        let started = Instant::now();
        for c in students {
            c.await.expect("a student");
        }
        let class_s = started.elapsed().as_secs_f64();
        let errs = errors.lock().unwrap().clone();
        assert!(errs.is_empty(), "{} errors in a class of 300:\n{}", errs.len(), errs.join("\n"));
        println!("300 students over 3 replicas behind {proxy:?}: every run streamed to its end in {class_s:.1} s, 0 errors");
        // A run's record, from each replica in turn (round robin).
        let (s, v) = post(
            &client,
            &format!("{base}/api/runs"),
            "class",
            &json!({"scenario": "create 2\nwrite * 0\nrun *\n", "backends": ["linux-3.17"]}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().expect("an id").to_string();
        let streamed = follow(&client, &format!("{base}/api/runs/{id}/events"), deadline, true, None).await;
        assert!(streamed.done, "{streamed:?}");
        for _ in 0..3 {
            let r = client.get(format!("{base}/api/runs/{id}")).bearer_auth("class").send().await.expect("the record");
            assert_eq!(r.status().as_u16(), 200);
            let record: Value = r.json().await.expect("JSON");
            assert_eq!(record["done"], true, "{record}");
            assert_eq!(record["events"].as_array().map(Vec::len), Some(streamed.events.len() - 1), "{record}");
        }

        // Slow runs, then one replica killed while it runs some of them.
        let slow = if kvm {
            json!({"scenario": "create 1\nwrite * 0\nwait 4s\nwrite * 0\nrun *\n", "backends": ["kvm"]})
        } else {
            json!({"scenario": "create 1\nwrite * 0\nrun *\n", "backends": ["linux-6.18"]})
        };
        let mut ids = Vec::new();
        for _ in 0..24 {
            let (s, v) = post(&client, &format!("{base}/api/runs"), "class", &slow).await;
            assert_eq!(s, 201, "{v}");
            ids.push(v["id"].as_str().expect("an id").to_string());
        }
        let viewers: Vec<_> = ids
            .iter()
            .map(|id| {
                let (client, url) = (client.clone(), format!("{base}/api/runs/{id}/events"));
                tokio::spawn(async move { follow(&client, &url, deadline, true, None).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let victim = "r2";
        let owners: Vec<String> = ids.iter().map(|id| class.owner(id)).collect();
        assert!(owners.iter().any(|o| o == victim), "no run on {victim}: {owners:?}");
        class.kill(victim);
        // While it is gone: 100 more answers, and another presented run.
        let mut late = Vec::new();
        for i in 300..400 {
            let (client, base, poll) = (client.clone(), base.clone(), poll.clone());
            late.push(tokio::spawn(async move {
                let (s, v) = post(&client, &format!("{base}/api/polls/{poll}/answers"), "class", &json!({"tab": format!("tab-{i}"), "choice": "unstable"})).await;
                assert_eq!(s, 204, "late answer {i}: {v}");
            }));
        }
        for l in late {
            l.await.expect("a late answer");
        }
        let (s, v) = post(
            &client,
            &format!("{base}/api/runs"),
            "teach",
            &json!({"scenario": "create 1\nwrite * 0\nrun *\n", "backends": ["linux-6.18"], "presenter": true}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        for (i, v) in viewers.into_iter().enumerate() {
            let got = v.await.expect("a viewer");
            let errors: Vec<&String> = got.events.iter().filter(|(e, _)| e == "error").map(|(_, d)| d).collect();
            assert!(got.done, "run {} (on {}) never ended: {got:?}", ids[i], owners[i]);
            if owners[i] == victim && kvm {
                assert!(
                    errors.iter().any(|e| e.contains("stopped")),
                    "run {} was on the killed replica and ended without saying so: {got:?}",
                    ids[i]
                );
            } else if owners[i] != victim {
                assert!(errors.is_empty(), "run {} on {} (alive) got errors: {errors:?}", ids[i], owners[i]);
            }
        }

        // The poll lost nothing: 300 + 100 answers, revealed to the room.
        let (s, shown) = post(&client, &format!("{base}/api/polls/{poll}/reveal"), "teach", &json!({})).await;
        assert_eq!(s, 200, "{shown}");
        assert_eq!(shown["counts"], json!([100, 300]), "{shown}");
        // The follower saw both presented runs end and the reveal, across the loss.
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = seen_by_follower.lock().unwrap().clone();
            let dones = seen.iter().filter(|(e, _)| e == "done").count();
            let revealed = seen.iter().any(|(e, d)| e == "poll" && d.contains("\"revealed\""));
            if dones >= 2 && revealed {
                break;
            }
            assert!(Instant::now() < until, "the presenter's follower saw {dones} runs end, revealed {revealed}: {seen:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        follower.abort();
        let _ = follower.await;
    });
}
