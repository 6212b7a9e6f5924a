//! The deployment files (issue 12): what can be checked of them on a machine
//! with no container runtime and no cluster.
//!
//! - Every manifest in deploy/k8s validates with `kubernetes-validate`
//!   (strict: no unknown fields; against the schemas of Kubernetes
//!   [`KUBERNETES`], which it bundles, so nothing is fetched).
//! - The Containerfile is multi-stage (a `build` stage, then a runtime stage
//!   that copies the binary and the site from it) and runs as a non-root user
//!   in the `kvm` group.
//! - The manifests keep the server's contract: replicas sharing Redis, the
//!   tokens from the Secret, probes on /api/health, /dev/kvm from a device
//!   plugin and nothing privileged, no session affinity anywhere.
//! - The proxy templates (deploy/haproxy.cfg.in, deploy/nginx.conf.in),
//!   filled in, pass `haproxy -c` and `nginx -t`.
//!
//! kubernetes-validate and PyYAML live in `target/venv` (`cargo xtask test`
//! makes it from tools/requirements.txt); haproxy and nginx are Debian's.
//! Without them these tests say so and pass as skipped, except under CI=true.
//! The image build and the Kubernetes objects themselves are only validated
//! here, never built or applied.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The Kubernetes version the manifests are validated against: a release
/// that managed clusters offer today. They use only APIs that are GA since
/// 1.21 (apps/v1, policy/v1, networking.k8s.io/v1).
const KUBERNETES: &str = "1.35.0";

/// The namespace, the Secret and the device plugin's resource the manifests name.
const NAMESPACE: &str = "tsc-lab";
const SECRET: &str = "tsc-lab-tokens";
const KVM_RESOURCE: &str = "devices.kubevirt.io/kvm";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn venv(bin: &str) -> PathBuf {
    root().join("target/venv/bin").join(bin)
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Says why `test` cannot run, and skips it; under CI=true fails it instead.
fn skip(test: &str, why: &str) -> bool {
    if under_ci() {
        panic!("{test}: cannot run under CI=true: {why}");
    }
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// Whether the venv has kubernetes-validate and PyYAML; skips (or, under
/// CI=true, fails) when it has not.
fn ready(test: &str) -> bool {
    let ok = venv("kubernetes-validate").exists()
        && Command::new(venv("python"))
            .args(["-c", "import kubernetes_validate, yaml"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    ok || skip(
        test,
        "no target/venv with kubernetes-validate and PyYAML (cargo xtask test makes it)",
    )
}

/// A command, bounded in time, and its output, whatever its exit.
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?} does not start: {e}"));
    common::bounded(child, limit)
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file in deploy/k8s, in name order (the order `kubectl apply -f` takes).
fn manifest_files() -> Vec<PathBuf> {
    let dir = root().join("deploy/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The version pinned in tools/requirements.txt for `package`.
fn pinned(package: &str) -> String {
    let wanted = format!("{package}==");
    read(&root().join("tools/requirements.txt"))
        .lines()
        .find_map(|l| l.strip_prefix(&wanted).map(str::to_string))
        .unwrap_or_else(|| panic!("{package} is not pinned in tools/requirements.txt"))
}

/// kubernetes-validate, strict, over every manifest: any ERROR, FATAL or
/// WARN (an object whose schema it does not know would only be warned
/// about, and so never checked) fails, with its output.
#[test]
fn the_manifests_validate_strictly() {
    if !ready("the_manifests_validate_strictly") {
        return;
    }
    let tool = venv("kubernetes-validate");
    let version = run(
        Command::new(&tool).arg("--version"),
        Duration::from_secs(60),
    );
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        pinned("kubernetes-validate"),
        "target/venv's kubernetes-validate is not the pinned one"
    );
    let files = manifest_files();
    let out = run(
        Command::new(tool)
            .args(["--strict", "--kubernetes-version", KUBERNETES])
            .args(&files),
        Duration::from_secs(120),
    );
    let text = said(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bad: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("INFO ") && !l.trim().is_empty())
        .collect();
    assert!(
        out.status.success() && bad.is_empty(),
        "kubernetes-validate --strict -k {KUBERNETES} ({}):\n{text}",
        out.status
    );
    for file in &files {
        let name = file.to_string_lossy();
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("INFO {name} passed"))),
            "{name}: no object in it was validated:\n{text}"
        );
    }
}

/// The Containerfile's instructions in the order written: continuation
/// lines joined, comments and blank lines left out; (KEYWORD, the rest).
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut line = String::new();
    for raw in text.lines() {
        let t = raw.trim();
        // As the builders do: comments and blank lines are dropped, also
        // inside a continued instruction.
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                line.push_str(part);
                line.push(' ');
            }
            None => {
                line.push_str(t);
                let whole = std::mem::take(&mut line);
                let (word, rest) = whole
                    .split_once(char::is_whitespace)
                    .unwrap_or((whole.as_str(), ""));
                out.push((word.to_ascii_uppercase(), rest.trim().to_string()));
            }
        }
    }
    out
}

/// The workspace's `rust-version` (Cargo.toml), which the build stage's
/// image must match.
fn rust_version() -> String {
    read(&root().join("Cargo.toml"))
        .lines()
        .find_map(|l| {
            let v = l.strip_prefix("rust-version")?.trim().strip_prefix('=')?;
            Some(v.trim().trim_matches('"').to_string())
        })
        .expect("rust-version in Cargo.toml")
}

/// A JSON array instruction (`ENTRYPOINT ["lab-server"]`) as its words.
fn exec_form(rest: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(rest)
        .unwrap_or_else(|e| panic!("`{rest}` is not the exec (JSON) form: {e}"));
    v.as_array()
        .expect("an array")
        .iter()
        .map(|w| w.as_str().expect("a string").to_string())
        .collect()
}

#[test]
fn the_containerfile_is_multi_stage_and_runs_as_non_root() {
    let file = read(&root().join("Containerfile"));
    let all = instructions(&file);
    let froms: Vec<usize> = (0..all.len()).filter(|&i| all[i].0 == "FROM").collect();
    assert!(froms.len() >= 2, "one FROM: not multi-stage");

    // The build stage: the workspace's Rust on bookworm, named `build`.
    let first = &all[froms[0]].1;
    let words: Vec<&str> = first.split_whitespace().collect();
    assert!(
        words.len() == 3 && words[1].eq_ignore_ascii_case("AS") && words[2] == "build",
        "the first stage is not `FROM … AS build`: FROM {first}"
    );
    let rust = format!("rust:{}-bookworm", rust_version());
    assert!(
        words[0].ends_with(&rust),
        "the build stage is not {rust} (the workspace's rust-version): FROM {first}"
    );
    let build = &all[froms[0]..froms[froms.len() - 1]];
    let runs: Vec<&str> = build
        .iter()
        .filter(|(w, _)| w == "RUN")
        .map(|(_, r)| r.as_str())
        .collect();
    for step in [
        "cargo xtask dist",
        "cargo build --release --locked -p lab-server",
    ] {
        assert!(
            runs.iter().any(|r| r.contains(step)),
            "the build stage does not run `{step}`"
        );
    }

    // The runtime stage.
    let last = &all[froms[froms.len() - 1]..];
    assert!(
        last[0].1.contains("debian:bookworm-slim"),
        "the runtime stage is not debian:bookworm-slim: FROM {}",
        last[0].1
    );
    let copies: Vec<Vec<&str>> = last
        .iter()
        .filter(|(w, r)| w == "COPY" && r.starts_with("--from=build "))
        .map(|(_, r)| r.split_whitespace().collect())
        .collect();
    for dest in ["/usr/local/bin/lab-server", "/usr/share/tsc-lab/site"] {
        assert!(
            copies.iter().any(|c| c.last() == Some(&dest)),
            "no `COPY --from=build … {dest}` in the runtime stage"
        );
    }
    let user = last
        .iter()
        .rev()
        .find(|(w, _)| w == "USER")
        .map(|(_, r)| r.clone())
        .expect("the runtime stage sets no USER: it would run as root");
    let name = user.split(':').next().unwrap_or("");
    assert!(
        !name.is_empty() && name != "root" && name.parse::<u32>() != Ok(0),
        "the image runs as root: USER {user}"
    );
    assert!(
        name.parse::<u32>().is_ok(),
        "USER {user}: a numeric uid lets Kubernetes' runAsNonRoot check it"
    );
    let made = last.iter().any(|(w, r)| {
        w == "RUN"
            && r.contains("useradd")
            && r.contains(&format!("--uid {name}"))
            && r.contains("--groups kvm")
    });
    assert!(
        made,
        "the runtime stage does not create uid {name} in the kvm group"
    );
    assert!(
        last.iter()
            .any(|(w, r)| w == "ARG" && r.starts_with("KVM_GID=")),
        "the kvm group's id is not a build ARG (KVM_GID) with a default"
    );

    assert!(
        last.iter().any(|(w, r)| w == "EXPOSE" && r == "8080"),
        "no EXPOSE 8080"
    );
    assert!(
        !all.iter().any(|(w, _)| w == "HEALTHCHECK"),
        "a HEALTHCHECK: the probes do that"
    );
    let entry = last
        .iter()
        .rev()
        .find(|(w, _)| w == "ENTRYPOINT")
        .expect("an ENTRYPOINT");
    assert_eq!(exec_form(&entry.1), ["lab-server"]);
    let cmd = last.iter().rev().find(|(w, _)| w == "CMD").expect("a CMD");
    assert_eq!(
        exec_form(&cmd.1),
        [
            "serve",
            "--addr",
            "0.0.0.0:8080",
            "--static",
            "/usr/share/tsc-lab/site"
        ]
    );

    let ignore = read(&root().join(".containerignore"));
    let ignored: Vec<&str> = ignore
        .lines()
        .map(|l| l.trim().trim_end_matches('/'))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for path in [
        "target",
        "tools/node_modules",
        "scenarios/fuzz/corpus",
        ".git",
    ] {
        assert!(
            ignored.contains(&path),
            ".containerignore does not leave out {path}"
        );
    }
}

/// Every object of every manifest, as JSON, read by PyYAML from the venv:
/// (file name, object).
fn objects() -> Vec<(String, Value)> {
    let dump = "import json, sys, yaml
out = []
for f in sys.argv[1:]:
    with open(f) as fh:
        out += [{'file': f.rsplit('/', 1)[-1], 'object': d} for d in yaml.safe_load_all(fh) if d]
print(json.dumps(out, default=str))";
    let out = run(
        Command::new(venv("python"))
            .args(["-c", dump])
            .args(manifest_files()),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "PyYAML:\n{}", said(&out));
    let all: Value = serde_json::from_slice(&out.stdout).expect("JSON from PyYAML");
    all.as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            (
                e["file"].as_str().expect("a file").to_string(),
                e["object"].clone(),
            )
        })
        .collect()
}

fn find<'a>(objects: &'a [(String, Value)], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .map(|(_, o)| o)
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in deploy/k8s"))
}

/// Whether every label of `selector` is in `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// Every (path, value) under `v`, for looking through a whole object.
fn pairs<'a>(v: &'a Value, at: &str, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let here = format!("{at}.{k}");
                out.push((here.clone(), x));
                pairs(x, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                pairs(x, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// An env entry of `container` by name.
fn env<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .and_then(|e| e.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("the lab-server container has no {name}"))
}

/// The container port a probe or a Service names (a number or a port's name).
fn port_number(container: &Value, port: &Value) -> Option<u64> {
    port.as_u64().or_else(|| {
        container["ports"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == *port)?["containerPort"]
            .as_u64()
    })
}

#[test]
fn the_manifests_keep_the_servers_contract() {
    if !ready("the_manifests_keep_the_servers_contract") {
        return;
    }
    let all = objects();

    // One namespace, and everything in it.
    find(&all, "Namespace", NAMESPACE);
    for (file, o) in &all {
        if o["kind"] != "Namespace" {
            assert_eq!(
                o["metadata"]["namespace"], NAMESPACE,
                "{file}: {} {} is not in {NAMESPACE}",
                o["kind"], o["metadata"]["name"]
            );
        }
    }

    // Nothing privileged, no host paths or namespaces, anywhere.
    for (file, o) in &all {
        let mut every = Vec::new();
        pairs(o, "", &mut every);
        for (path, v) in every {
            let key = path.rsplit('.').next().unwrap_or("");
            assert!(
                !(key == "privileged" && *v == Value::Bool(true)),
                "{file}: {path} is true"
            );
            assert!(key != "hostPath", "{file}: {path}: a hostPath volume");
            assert!(
                !(matches!(key, "hostNetwork" | "hostPID" | "hostIPC") && *v == Value::Bool(true)),
                "{file}: {path} is true"
            );
        }
    }

    // The lab server: replicas, probes, env, /dev/kvm, a locked-down container.
    let deployment = find(&all, "Deployment", "lab-server");
    let spec = &deployment["spec"];
    let replicas = spec["replicas"].as_u64().unwrap_or(1);
    assert!(
        replicas >= 2,
        "lab-server has {replicas} replica(s): one class needs several"
    );
    let pod = &spec["template"]["spec"];
    let pod_labels = &spec["template"]["metadata"]["labels"];
    assert!(
        selects(&spec["selector"]["matchLabels"], pod_labels),
        "the Deployment's selector does not match its pods"
    );
    let container = pod["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "lab-server"))
        .expect("a lab-server container");
    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], "/api/health", "{probe}");
        assert_eq!(
            port_number(container, &get["port"]),
            Some(8080),
            "{probe}: not on the server's port 8080"
        );
    }
    let redis_url = env(container, "LAB_REDIS_URL")["value"]
        .as_str()
        .expect("LAB_REDIS_URL has a value");
    let host_port = redis_url
        .strip_prefix("redis://")
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("LAB_REDIS_URL {redis_url} is not redis://HOST:PORT/DB"));
    let (redis_host, redis_port) = host_port.split_once(':').unwrap_or((host_port, "6379"));
    let redis_service = find(&all, "Service", redis_host);
    assert!(
        redis_service["spec"]["ports"].as_array().is_some_and(|p| p
            .iter()
            .any(|p| p["port"].as_u64() == redis_port.parse().ok())),
        "Service {redis_host} does not serve port {redis_port} of LAB_REDIS_URL"
    );
    let redis_pods = all
        .iter()
        .map(|(_, o)| o)
        .filter(|o| o["kind"] == "Deployment" || o["kind"] == "StatefulSet")
        .find(|o| {
            selects(
                &redis_service["spec"]["selector"],
                &o["spec"]["template"]["metadata"]["labels"],
            )
        })
        .unwrap_or_else(|| panic!("Service {redis_host} selects no Deployment or StatefulSet"));
    let redis_image = redis_pods["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or("");
    assert!(
        redis_image.starts_with("redis:7") || redis_image.contains("/redis:7"),
        "Redis is {redis_image}, not redis:7"
    );

    let secret = find(&all, "Secret", SECRET);
    let mut keys = Vec::new();
    for var in ["LAB_TOKEN", "LAB_INSTRUCTOR_TOKEN"] {
        let from = &env(container, var)["valueFrom"]["secretKeyRef"];
        assert_eq!(from["name"], SECRET, "{var} is not from the Secret");
        let key = from["key"].as_str().expect("a key").to_string();
        assert!(
            !secret["stringData"][&key].is_null() || !secret["data"][&key].is_null(),
            "{var}: the Secret has no {key}"
        );
        keys.push(key);
    }
    assert_ne!(
        keys[0], keys[1],
        "the class and the instructor share one token"
    );
    assert_eq!(
        env(container, "LAB_REPLICA")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name",
        "LAB_REPLICA is not the pod's name"
    );

    let resources = &container["resources"];
    assert_eq!(
        resources["limits"][KVM_RESOURCE], "1",
        "/dev/kvm is not asked of the device plugin ({KVM_RESOURCE})"
    );
    for (kind, what) in [
        ("requests", "cpu"),
        ("requests", "memory"),
        ("limits", "cpu"),
        ("limits", "memory"),
    ] {
        assert!(
            !resources[kind][what].is_null(),
            "no {kind}.{what} for lab-server"
        );
    }
    let sc = &container["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert!(
        sc["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|c| c == "ALL")),
        "capabilities are not all dropped"
    );
    assert!(
        sc["runAsNonRoot"] == true || pod["securityContext"]["runAsNonRoot"] == true,
        "runAsNonRoot is not set"
    );
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    assert!(
        grace > 30,
        "terminationGracePeriodSeconds {grace}: not past the server's 30 s per-run deadline"
    );
    let spread =
        &pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"];
    assert!(
        spread.as_array().is_some_and(|terms| terms.iter().any(|t| {
            t["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
                && selects(
                    &t["podAffinityTerm"]["labelSelector"]["matchLabels"],
                    pod_labels,
                )
        })),
        "the replicas are not spread across nodes (preferred pod anti-affinity)"
    );

    // The Service: ClusterIP, 80 → 8080, no affinity.
    let service = find(&all, "Service", "lab-server");
    let sspec = &service["spec"];
    assert!(
        sspec["type"].is_null() || sspec["type"] == "ClusterIP",
        "{}",
        sspec["type"]
    );
    assert_ne!(
        sspec["sessionAffinity"], "ClientIP",
        "the Service is sticky"
    );
    assert!(
        selects(&sspec["selector"], pod_labels),
        "the Service selects no lab-server pod"
    );
    let port = sspec["ports"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["port"] == 80))
        .expect("the Service has no port 80");
    assert_eq!(
        port_number(container, &port["targetPort"]),
        Some(8080),
        "port 80 does not reach the server's 8080"
    );

    // The Ingress: nginx, SSE-safe, no affinity.
    let ingress = find(&all, "Ingress", "lab-server");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    let notes = ingress["metadata"]["annotations"]
        .as_object()
        .expect("the Ingress's annotations");
    for key in notes.keys() {
        assert!(
            !["affinity", "session-cookie", "upstream-hash-by"]
                .iter()
                .any(|w| key.contains(w)),
            "the Ingress is sticky: {key}"
        );
    }
    assert_eq!(
        notes.get("nginx.ingress.kubernetes.io/proxy-buffering"),
        Some(&Value::from("off")),
        "the Ingress buffers the event streams"
    );
    let read_timeout = notes
        .get("nginx.ingress.kubernetes.io/proxy-read-timeout")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    assert!(
        read_timeout >= 3600,
        "proxy-read-timeout {read_timeout} s cuts a quiet event stream"
    );
    let mut every = Vec::new();
    pairs(&ingress["spec"], "", &mut every);
    let backends: Vec<&Value> = every
        .iter()
        .filter(|(p, _)| p.ends_with(".backend.service"))
        .map(|(_, v)| *v)
        .collect();
    assert!(!backends.is_empty(), "the Ingress has no backend");
    for b in backends {
        assert_eq!(b["name"], "lab-server", "an Ingress backend: {b}");
        assert!(
            b["port"]["number"] == 80 || b["port"]["name"] == port["name"],
            "an Ingress backend's port is not the Service's: {b}"
        );
    }

    // The disruption budget: covers the replicas and lets a drain proceed.
    let pdb = find(&all, "PodDisruptionBudget", "lab-server");
    assert!(
        selects(&pdb["spec"]["selector"]["matchLabels"], pod_labels),
        "the PodDisruptionBudget selects no lab-server pod"
    );
    let allows = match (
        pdb["spec"]["maxUnavailable"].as_u64(),
        pdb["spec"]["minAvailable"].as_u64(),
    ) {
        (Some(n), _) => n >= 1,
        (None, Some(n)) => n < replicas,
        _ => false,
    };
    assert!(
        allows,
        "the PodDisruptionBudget would block every drain: {}",
        pdb["spec"]
    );
}

/// `name` on PATH or in the sbin directories (Debian puts nginx and haproxy
/// in /usr/sbin, which a non-root PATH may lack).
fn binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A template's directives: comments and blank lines left out.
fn directives(template: &str) -> Vec<String> {
    template
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// A template with its placeholders filled in, as the loopback test fills
/// them (three replicas), written to a scratch directory of its own.
fn filled(template: &str, backends: &[&str], dir: &str, name: &str) -> PathBuf {
    let text = read(&root().join("deploy").join(template));
    // Once each, and not in a comment: the fill is a plain replacement, and
    // lines put into a comment would land half outside it.
    for placeholder in ["@LISTEN@", "@BACKENDS@"] {
        assert_eq!(
            text.matches(placeholder).count(),
            1,
            "{template}: {placeholder} is not there once"
        );
        assert!(
            directives(&text).iter().any(|l| l.contains(placeholder)),
            "{template}: {placeholder} is in a comment"
        );
    }
    let text = text
        .replace("@LISTEN@", "127.0.0.1:18080")
        .replace("@BACKENDS@", &backends.join("\n"));
    let dir = root().join("target/tmp-tests").join(dir);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let file = dir.join(name);
    std::fs::write(&file, text).expect("the filled-in template");
    file
}

#[test]
fn the_haproxy_template_passes_haproxy_c() {
    let text = read(&root().join("deploy/haproxy.cfg.in"));
    let lines = directives(&text);
    let has = |d: &str| lines.iter().any(|l| l.starts_with(d));
    for d in [
        "balance roundrobin",
        "option httpchk",
        "option http-no-delay",
        "timeout server 1h",
        "timeout tunnel 1h",
        "timeout client 1h",
        "http-request disable-l7-retry unless idempotent",
    ] {
        assert!(has(d), "haproxy.cfg.in: no `{d}`");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("http-check send") && l.contains("uri /api/health")),
        "haproxy.cfg.in: the health check is not on /api/health"
    );
    for sticky in ["cookie", "stick", "balance source", "hash-type"] {
        assert!(!has(sticky), "haproxy.cfg.in is sticky: `{sticky}`");
    }

    let Some(haproxy) = binary("haproxy") else {
        skip(
            "the_haproxy_template_passes_haproxy_c",
            "no haproxy (apt-get install haproxy)",
        );
        return;
    };
    let cfg = filled(
        "haproxy.cfg.in",
        &[
            "    server r1 127.0.0.1:18081",
            "    server r2 127.0.0.1:18082",
            "    server r3 127.0.0.1:18083",
        ],
        "deploy-haproxy",
        "haproxy.cfg",
    );
    let out = run(
        Command::new(haproxy).arg("-c").arg("-f").arg(&cfg),
        Duration::from_secs(30),
    );
    let text = said(&out);
    assert!(
        out.status.success() && !text.contains("[WARNING]") && !text.contains("[ALERT]"),
        "haproxy -c -f {} ({}):\n{text}",
        cfg.display(),
        out.status
    );
}

#[test]
fn the_nginx_template_passes_nginx_t() {
    let text = read(&root().join("deploy/nginx.conf.in"));
    let lines = directives(&text);
    let has = |d: &str| lines.iter().any(|l| l.starts_with(d));
    for d in [
        "proxy_buffering off;",
        "proxy_read_timeout 1h;",
        "proxy_http_version 1.1;",
        "proxy_set_header Connection \"\";",
        "keepalive ",
        "proxy_next_upstream error timeout;",
    ] {
        assert!(has(d), "nginx.conf.in: no `{d}`");
    }
    for sticky in ["ip_hash", "hash ", "sticky"] {
        assert!(!has(sticky), "nginx.conf.in is sticky: `{sticky}`");
    }
    assert!(
        !lines.iter().any(|l| l.contains("non_idempotent")),
        "nginx.conf.in retries POSTs (non_idempotent)"
    );

    let Some(nginx) = binary("nginx") else {
        skip(
            "the_nginx_template_passes_nginx_t",
            "no nginx (apt-get install nginx)",
        );
        return;
    };
    let conf = filled(
        "nginx.conf.in",
        &[
            "        server 127.0.0.1:18081;",
            "        server 127.0.0.1:18082;",
            "        server 127.0.0.1:18083;",
        ],
        "deploy-nginx",
        "nginx.conf",
    );
    let prefix = conf.parent().expect("its directory");
    // -p: the template's relative paths (pid, temporary files) land in the
    // scratch directory; -e stderr: nothing is opened under /var/log.
    let out = run(
        Command::new(nginx)
            .arg("-p")
            .arg(prefix)
            .args(["-e", "stderr", "-c"])
            .arg(&conf)
            .arg("-t"),
        Duration::from_secs(30),
    );
    let text = said(&out);
    assert!(
        out.status.success() && text.contains("test is successful") && !text.contains("[warn]"),
        "nginx -t -c {} ({}):\n{text}",
        conf.display(),
        out.status
    );
}
