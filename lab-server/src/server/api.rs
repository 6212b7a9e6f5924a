//! The HTTP handlers. Errors become responses with a status and a sentence.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, StreamExt};
use scenarios::protocol::{
    self, Created, Health, HostAnswer, HostMode, LibraryEntry, ParseAnswer, ParseRequest, Poll,
    PollAnswer, PollRequest, PollState, Role, RunRequest, ServerProbe, Stats,
};
use scenarios::{BackendId, Errors, Limits};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;

use super::AppState;
use super::polls::{PollLimits, PollRefusal};
use super::runs::{Message, Rejected};

type St = State<Arc<AppState>>;

/// Bounds of a run of any backend on the server: the language's, with at
/// most 50,000 steps (real KVM has its own, `Config::limits`).
pub(crate) const SERVER_LIMITS: Limits = Limits::LANGUAGE.with_max_steps(50_000);

/// Why the API refused a request. Every refusal is answered with one JSON
/// shape, [`protocol::ApiError`], whatever its status.
#[derive(Debug)]
pub(super) enum ApiError {
    /// 400: the request is malformed, in a sentence.
    BadRequest(String),
    /// 400: the scenario does not parse or check.
    BadScenario(Errors),
    /// 401: no valid token (with `WWW-Authenticate: Bearer`).
    Unauthorized,
    /// 403: not from here, or not allowed.
    Forbidden(String),
    /// 404: no such thing.
    NotFound(String),
    /// 409: not now (a poll that is closed or full).
    Conflict(String),
    /// 413: the body is larger than the server takes.
    TooLarge(usize),
    /// 429: too many runs; come back after this long (`Retry-After`).
    TooMany(String, Duration),
    /// 503: the server cannot do it now (model-only, shutting down).
    Unavailable(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::BadScenario(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooMany(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn body(self) -> protocol::ApiError {
        match self {
            ApiError::BadScenario(errors) => protocol::ApiError {
                error: "the scenario has errors".into(),
                errors,
            },
            ApiError::Unauthorized => protocol::ApiError::new(
                "a valid token is needed (Authorization: Bearer …, or ?token=)",
            ),
            ApiError::TooLarge(limit) => protocol::ApiError::new(format!(
                "the request body is larger than this server takes ({limit} bytes)"
            )),
            ApiError::BadRequest(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::TooMany(m, _)
            | ApiError::Unavailable(m) => protocol::ApiError::new(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            ApiError::TooMany(_, d) => Some(*d),
            _ => None,
        };
        let www_authenticate = matches!(self, ApiError::Unauthorized);
        let mut r = (status, Json(self.body())).into_response();
        if www_authenticate {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(d) = retry_after {
            let secs = d.as_secs().max(1).to_string();
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&secs).expect("digits"),
            );
        }
        r
    }
}

/// Refusals made below the handlers (the body limit's 413, axum's own
/// rejections) come as plain text: they are given the API's one JSON shape.
async fn json_refusals(State(st): St, r: Response) -> Response {
    let plain = r.status().is_client_error() || r.status().is_server_error();
    let json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !plain || json {
        return r;
    }
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::TooLarge(st.config.body_limit).into_response();
    }
    // Keep the status and every header (a 405's `Allow`); only the body
    // and its type change.
    let (mut parts, body) = r.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("the request was refused")
            .to_string()
    } else {
        text
    };
    let json = serde_json::to_vec(&protocol::ApiError::new(message)).expect("errors serialise");
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(json))
}

/// The client's address (127.0.0.1 when served without a socket, in tests).
/// Behind a reverse proxy (`--behind-proxy`) every connection comes from the
/// proxy: the client is then the address the proxy appended last to
/// `X-Forwarded-For` (earlier entries are the client's own word, not trusted).
pub(super) struct ClientIp(IpAddr);

impl FromRequestParts<Arc<AppState>> for ClientIp {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, st: &Arc<AppState>) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        let forwarded = st
            .config
            .behind_proxy
            .then(|| {
                parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .next_back()
                    .and_then(|a| a.trim().parse::<IpAddr>().ok())
            })
            .flatten();
        Ok(ClientIp(forwarded.unwrap_or(peer)))
    }
}

/// Runs per client per minute: a token bucket per address.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The bucket a client draws from: its IPv4 address, or its IPv6 /64
    /// (one machine can hold a whole /64).
    fn key(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(a) => {
                let s = a.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        }
    }

    /// Gives a token back (the run was not accepted after all).
    fn refund(&self, ip: IpAddr) {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((tokens, _)) = b.get_mut(&Self::key(ip)) {
            *tokens = (*tokens + 1.0).min(self.per_minute);
        }
    }

    /// Takes a token, or says how long until one is back.
    fn take(&self, ip: IpAddr) -> Result<(), Duration> {
        let ip = Self::key(ip);
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.len() > 100_000 {
            b.retain(|_, (_, t)| now.duration_since(*t) < Duration::from_secs(120));
            if b.len() > 100_000 {
                // Still full of fresh clients: start over rather than grow.
                b.clear();
            }
        }
        let (tokens, last) = b.entry(ip).or_insert((self.per_minute, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_minute / 60.0)
            .min(self.per_minute);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - *tokens) * 60.0 / self.per_minute,
            ))
        }
    }
}

pub(super) fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/host", get(host))
        .route("/api/stats", get(stats))
        .route("/api/scenarios", get(scenarios_list))
        .route("/api/scenarios/{name}", get(scenario_one))
        .route("/api/parse", post(parse))
        .route("/api/runs", post(create_run))
        .route("/api/runs/{id}", get(run_record))
        .route("/api/runs/{id}/events", get(run_events))
        .route("/api/presenter/events", get(presenter_events))
        .route("/api/polls", post(poll_open))
        .route("/api/polls/current", get(poll_current))
        .route("/api/polls/{id}/answers", post(poll_answer))
        .route("/api/polls/{id}/close", post(poll_close))
        .route("/api/polls/{id}/reveal", post(poll_reveal))
        .route("/api/polls/{id}/results", get(poll_results))
        .route("/api/polls/{id}/results.csv", get(poll_csv))
        // Under /api/ an unknown path is the API's 404, even beside a built site.
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { ApiError::NotFound("no such API path".into()) }),
        )
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(RequestBodyLimitLayer::new(state.config.body_limit))
        .layer(middleware::map_response_with_state(
            state.clone(),
            json_refusals,
        ));
    // The page asks `server.json` before it calls the API: the built site
    // ships one saying `false`, so on a plain static host the page learns it
    // is alone without a failed request in the browser's console.
    let probe = Router::new()
        .route(
            "/server.json",
            get(|| async {
                Json(ServerProbe {
                    server: true,
                    api: Some("api/".into()),
                })
            }),
        )
        // For probes and proxies: no token. 503 while its Redis is unreachable.
        .route("/api/health", get(health));
    let site = match &state.config.static_dir {
        Some(dir) if dir.join("index.html").exists() => probe.fallback_service(ServeDir::new(dir)),
        _ => probe
            .route("/", get(plain_page))
            .route("/book/", get(plain_page))
            .fallback(|| async { ApiError::NotFound("no such page".into()) }),
    };
    api.merge(site).with_state(state)
}

/// Whether `offered` is `token`, in time that does not depend on where they
/// differ (`subtle`); only a difference in length shows.
fn same_token(offered: &str, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    offered.as_bytes().ct_eq(token.as_bytes()).into()
}

/// The caller's role, as the guard found it from the token (see [`Role`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Caller(pub(super) Role);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .copied()
            .unwrap_or(Caller(Role::Student)))
    }
}

impl Caller {
    /// Refuses a student what only the instructor may do.
    pub(super) fn instructor(self, what: &str) -> Result<(), ApiError> {
        match self.0 {
            Role::Instructor => Ok(()),
            Role::Student => Err(ApiError::Forbidden(format!(
                "{what} is the instructor's: it needs the instructor token (--instructor-token), not the class token"
            ))),
        }
    }
}

/// The tokens (when they are set), the caller's role, and the Origin of
/// browser requests.
async fn guard(
    State(st): St,
    headers: HeaderMap,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let set = |t: &Option<String>| t.clone().filter(|t| !t.is_empty());
    let (class, instructor) = (set(&st.config.token), set(&st.config.instructor_token));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    // `?token=` as sent, or URL-decoded (a token with `+`, `/` or `=`
    // arrives either way, depending on how the link was written).
    let query = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")))
        .map(str::to_string);
    let offered: Vec<String> = bearer
        .into_iter()
        .chain(query.iter().cloned())
        .chain(query.as_deref().and_then(percent_decode))
        .collect();
    let is = |token: &Option<String>| {
        token
            .as_deref()
            .is_some_and(|t| offered.iter().any(|o| same_token(o, t)))
    };
    let role = if is(&instructor) {
        Role::Instructor
    } else if is(&class) {
        Role::Student
    } else if class.is_some() {
        return Err(ApiError::Unauthorized);
    } else {
        if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
            // Without a token only loopback names may reach the API: a page whose
            // name was rebound to 127.0.0.1 must not drive a student's server.
            let name = match host.rsplit_once(':') {
                Some((n, port)) if port.chars().all(|c| c.is_ascii_digit()) => n,
                _ => host,
            };
            if !matches!(name, "localhost" | "127.0.0.1" | "[::1]") {
                return Err(ApiError::Forbidden(format!(
                    "`{name}` is not a loopback name; serve with --token to be reached by name"
                )));
            }
        }
        // On loopback without tokens the local user is the instructor; with
        // only an instructor token, the others are students.
        if instructor.is_some() {
            Role::Student
        } else {
            Role::Instructor
        }
    };
    req.extensions_mut().insert(Caller(role));
    // A page of another site may not drive a student's local server.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let own = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let same = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            == Some(own);
        if !same && !st.config.origins.iter().any(|o| o == origin) {
            return Err(ApiError::Forbidden(format!(
                "requests from {origin} are not allowed"
            )));
        }
    }
    Ok(next.run(req).await)
}

/// `%XX` escapes decoded (no `+` → space: a token is not form data);
/// `None` when the result is not UTF-8 or an escape is broken.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn host(State(st): St, Caller(role): Caller) -> Json<HostAnswer> {
    let model_only = !st.host.kvm_usable;
    let mode = HostMode {
        mode: if model_only {
            HostMode::MODEL_ONLY
        } else {
            HostMode::KVM
        }
        .into(),
        notice: model_only.then(|| {
            format!(
                "Model-only mode: real KVM is not available here ({}). Every kernel model runs; the `kvm` backend does not.",
                st.host.kvm_problem.as_deref().unwrap_or("unknown reason")
            )
        }),
        role,
    };
    Json(HostAnswer {
        report: st.host.clone(),
        mode,
    })
}

async fn stats(State(st): St) -> Json<Stats> {
    let rss_kb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .map(|v| v.trim().trim_end_matches(" kB").trim().to_string())
            })
        })
        .and_then(|v| v.parse::<u64>().ok());
    let (vms, vcpus) = crate::kvm::kvm_fds();
    use std::sync::atomic::Ordering::SeqCst;
    Json(Stats {
        queued: st.runs.queued.load(SeqCst) as u64,
        running: st.runs.running.load(SeqCst) as u64,
        rss_kb,
        fds: crate::kvm::open_fds() as u64,
        vms: vms as u64,
        vcpus: vcpus as u64,
        followers: st.followers.load(SeqCst),
    })
}

async fn scenarios_list() -> Json<Vec<LibraryEntry>> {
    Json(
        scenarios::library::LIBRARY
            .iter()
            .map(LibraryEntry::of)
            .collect(),
    )
}

async fn scenario_one(Path(name): Path<String>) -> Result<Json<LibraryEntry>, ApiError> {
    scenarios::library::get(&name)
        .map(|e| Json(LibraryEntry::of(e)))
        .ok_or_else(|| ApiError::NotFound(format!("no library scenario `{name}`")))
}

fn parse_scenario(text: &str) -> Result<(scenarios::Scenario, scenarios::Analysis), ApiError> {
    let s = scenarios::parse(text).map_err(ApiError::BadScenario)?;
    let a = scenarios::check(&s, None).map_err(ApiError::BadScenario)?;
    Ok((s, a))
}

/// A JSON body of type `T`, or a sentence on why not (not UTF-8, not that JSON).
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not UTF-8 (byte {} is not)",
            e.valid_up_to()
        ))
    })?;
    serde_json::from_str(text).map_err(|e| ApiError::BadRequest(format!("bad JSON body: {e}")))
}

async fn parse(body: Bytes) -> Result<Json<ParseAnswer>, ApiError> {
    let req: ParseRequest = json_body(&body)?;
    let (scenario, analysis) = parse_scenario(&req.scenario)?;
    Ok(Json(ParseAnswer { scenario, analysis }))
}

async fn create_run(
    State(st): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: RunRequest = json_body(&body)?;
    if req.presenter {
        caller.instructor("presenting a run to the class")?;
    }
    let (scenario, analysis) = parse_scenario(&req.scenario)?;
    let backends: Vec<BackendId> = match req.backends {
        None => {
            let mut all = BackendId::MODELS.to_vec();
            if st.host.kvm_usable {
                all.push(BackendId::Kvm);
            }
            all
        }
        Some(names) => names
            .iter()
            .map(|n| n.parse::<BackendId>().map_err(ApiError::BadRequest))
            .collect::<Result<_, _>>()?,
    };
    if backends.is_empty() {
        return Err(ApiError::BadRequest("name at least one backend".into()));
    }
    SERVER_LIMITS
        .admit(&analysis)
        .map_err(|e| ApiError::BadRequest(e.sentence("this server")))?;
    if backends.contains(&BackendId::Kvm) {
        if !st.host.kvm_usable {
            return Err(ApiError::Unavailable(format!(
                "model-only mode: real KVM is not available here ({})",
                st.host.kvm_problem.as_deref().unwrap_or("unknown reason")
            )));
        }
        crate::kvm::admit(&st.config.limits, &scenario).map_err(ApiError::BadRequest)?;
    }
    if let Err(wait) = st.rate.take(ip) {
        return Err(ApiError::TooMany(
            format!("too many runs from {ip}; try again shortly"),
            wait,
        ));
    }
    match st
        .runs
        .submit(req.scenario, scenario, backends, req.presenter)
    {
        Ok(run) => {
            if let Some(sh) = &st.shared {
                sh.claim(&run.info()).await.map_err(ApiError::Unavailable)?;
            }
            Ok((StatusCode::CREATED, Json(Created { id: run.id.clone() })).into_response())
        }
        Err(Rejected::Busy(wait)) => {
            st.rate.refund(ip);
            Err(ApiError::TooMany(
                "the lab is busy: every runner and queue slot is taken".into(),
                wait,
            ))
        }
        Err(Rejected::ShuttingDown) => {
            Err(ApiError::Unavailable("the server is shutting down".into()))
        }
    }
}

async fn run_record(State(st): St, Path(id): Path<String>) -> Result<Response, ApiError> {
    let record = match (st.runs.get(&id), &st.shared) {
        (Some(run), _) => Some(run.record_json()),
        (None, Some(sh)) => sh.record(&id).await.map_err(ApiError::Unavailable)?,
        (None, None) => None,
    };
    let record = record.ok_or_else(|| ApiError::NotFound(format!("no run `{id}`")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], record).into_response())
}

/// Resolves when the server starts shutting down.
async fn stopping(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|&stop| stop).await;
}

/// A stream message as its SSE event (names from [`protocol::StreamEvent`]).
fn sse(m: &Message) -> SseEvent {
    use protocol::StreamEvent;
    match m {
        Message::Event(s) => SseEvent::default().data(s.as_ref()),
        Message::Error(s) => SseEvent::default()
            .event(StreamEvent::ERROR)
            .data(s.as_ref()),
        Message::Done => SseEvent::default()
            .event(StreamEvent::DONE)
            .data(StreamEvent::DONE_DATA),
        Message::Poll(s) => SseEvent::default()
            .event(StreamEvent::POLL)
            .data(s.as_ref()),
    }
}

/// The `Last-Event-ID` a reconnecting EventSource sends.
fn last_event_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|id| !id.is_empty() && id.len() <= 64)
}

/// A stream of `(id, message)` from the shared state, as SSE with ids;
/// `follower` (a presenter stream's) counted while the stream lives.
fn shared_sse(
    st: &AppState,
    rx: tokio::sync::mpsc::Receiver<(String, Message)>,
    follower: Option<Follower>,
) -> Response {
    let events = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) })
        .map(move |(id, m)| {
            let _counted = &follower;
            let e = sse(&m);
            Ok::<_, Infallible>(if id.is_empty() { e } else { e.id(id) })
        })
        .take_until(stopping(st.shutdown.subscribe()));
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn run_events(
    State(st): St,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(sh) = &st.shared {
        // Whichever replica runs it: its stream is in Redis.
        let owner = sh
            .owner(&id)
            .await
            .ok_or_else(|| ApiError::NotFound(format!("no run `{id}`")))?;
        let from = last_event_id(&headers).unwrap_or_else(|| "0-0".into());
        return Ok(shared_sse(&st, sh.run_stream(id, owner, from), None));
    }
    let run = st
        .runs
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no run `{id}`")))?;
    // The viewer goes when the client does; a run nobody watches any more is
    // cancelled at its next step.
    let viewer = run.subscribe();
    let batches = stream::unfold(viewer, |mut v| async move {
        let batch = v.next_batch().await;
        (!batch.is_empty()).then_some((stream::iter(batch), v))
    });
    let events = batches
        .flatten()
        .map(|m| Ok::<_, Infallible>(sse(&m)))
        .take_until(stopping(st.shutdown.subscribe()));
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// One open presenter stream, counted in [`AppState::followers`] while it lives.
struct Follower(Arc<AtomicU64>);

impl Follower {
    fn new(count: &Arc<AtomicU64>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Follower(count.clone())
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn presenter_events(State(st): St, headers: HeaderMap) -> Response {
    let follower = Follower::new(&st.followers);
    if let Some(sh) = &st.shared {
        let rx = sh.presenter_stream(last_event_id(&headers));
        return shared_sse(&st, rx, Some(follower));
    }
    let (recorded, rx) = st.runs.presenter();
    // A follower who comes late sees the poll of the moment first.
    let poll = st.polls.current().map(|p| poll_message(&p.for_the_room()));
    let replay = stream::iter(poll.into_iter().chain(recorded));
    let live = stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(m) => return Some((m, rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let events = replay
        .chain(live)
        .map(move |m| {
            let _counted = &follower;
            Ok::<_, Infallible>(sse(&m))
        })
        .take_until(stopping(st.shutdown.subscribe()));
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn health(State(st): St) -> Response {
    let redis = match &st.shared {
        Some(sh) => Some(sh.ping().await),
        None => None,
    };
    let ok = redis != Some(false);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            ok,
            replica: st.config.replica.clone(),
            redis: redis == Some(true),
        }),
    )
        .into_response()
}

async fn plain_page(State(st): St) -> Html<String> {
    let mode = if st.host.kvm_usable {
        format!(
            "Real KVM is available ({}, Linux {}).",
            st.host.flavour, st.host.kernel
        )
    } else {
        format!(
            "Model-only mode: {}",
            st.host
                .kvm_problem
                .as_deref()
                .unwrap_or("real KVM is not available")
        )
    };
    Html(format!(
        r#"<!doctype html><html lang="en"><meta charset="utf-8"><title>TSC Lab</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}code{{background:#eee;padding:0 .2em}}@media(prefers-color-scheme:dark){{body{{background:#111;color:#ddd}}code{{background:#333}}}}</style>
<h1>TSC Lab</h1>
<p>See how KVM keeps guest clocks in sync — and how it once failed to: the 2014 fix
"KVM: x86: fix TSC matching" (0d3da0d26e3c), QEMU 2.0's three TSC writes per vCPU,
and today's kernel, run side by side on kernel models and on this machine's KVM.</p>
<p>{mode}</p>
<p>The notebook and the book are not built on this server yet. The API is:</p>
<ul>
<li><code>GET /api/host</code> — this machine's KVM</li>
<li><code>GET /api/scenarios</code>, <code>GET /api/scenarios/{{name}}</code> — the library</li>
<li><code>POST /api/parse</code> <code>{{"scenario": "create 2\nwrite * 0"}}</code> — the parsed scenario, or errors with line and column</li>
<li><code>POST /api/runs</code> <code>{{"scenario": "…", "backends": ["linux-3.14", "kvm"]}}</code> → <code>{{"id": "…"}}</code></li>
<li><code>GET /api/runs/{{id}}/events</code> — Server-Sent Events, one TSC write at a time</li>
<li><code>GET /api/runs/{{id}}</code> — the whole run; <code>GET /api/presenter/events</code> — follow the presenter</li>
</ul>"#
    ))
}

/// A poll as the presenter stream carries it.
fn poll_message(p: &Poll) -> Message {
    Message::Poll(serde_json::to_string(p).expect("polls serialise").into())
}

fn refused(r: PollRefusal) -> ApiError {
    let m = r.to_string();
    match r {
        PollRefusal::Unknown(_) => ApiError::NotFound(m),
        PollRefusal::BadChoice(_) => ApiError::BadRequest(m),
        PollRefusal::Closed(_) | PollRefusal::Full(_) => ApiError::Conflict(m),
    }
}

/// The class's polls, wherever they live.
impl AppState {
    async fn poll_open(&self, req: PollRequest) -> Result<Poll, ApiError> {
        let id = format!("p{}", super::runs::random_hex());
        match &self.shared {
            Some(sh) => sh.open(id, req).await.map_err(ApiError::Unavailable),
            None => Ok(self.polls.open(id, req)),
        }
    }

    async fn poll_current(&self) -> Result<Option<Poll>, ApiError> {
        match &self.shared {
            Some(sh) => sh.current().await.map_err(ApiError::Unavailable),
            None => Ok(self.polls.current()),
        }
    }

    async fn poll_get(&self, id: &str) -> Result<Poll, ApiError> {
        let found = match &self.shared {
            Some(sh) => sh.get(id).await.map_err(ApiError::Unavailable)?,
            None => self.polls.get(id),
        };
        found.ok_or_else(|| refused(PollRefusal::Unknown(id.into())))
    }

    async fn poll_answer(&self, id: &str, a: &PollAnswer) -> Result<(), ApiError> {
        match &self.shared {
            Some(sh) => sh.answer(id, a).await.map_err(ApiError::Unavailable)?,
            None => self.polls.answer(id, a),
        }
        .map_err(refused)
    }

    async fn poll_state(&self, id: &str, to: PollState) -> Result<Poll, ApiError> {
        match &self.shared {
            Some(sh) => sh.set_state(id, to).await.map_err(ApiError::Unavailable)?,
            None => self.polls.set_state(id, to),
        }
        .map_err(refused)
    }

    /// A poll's news to everyone following the presenter, as the room sees it.
    async fn poll_news(&self, poll: &Poll) {
        let m = poll_message(&poll.clone().for_the_room());
        match &self.shared {
            Some(sh) => sh.announce(&m).await,
            None => self.runs.announce(m),
        }
    }
}

async fn poll_open(State(st): St, caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    caller.instructor("opening a poll")?;
    let req: PollRequest = json_body(&body)?;
    PollLimits::SERVER
        .admit(&req)
        .map_err(ApiError::BadRequest)?;
    let poll = st.poll_open(req).await?;
    st.poll_news(&poll).await;
    Ok((StatusCode::CREATED, Json(poll)).into_response())
}

async fn poll_current(State(st): St, Caller(role): Caller) -> Result<Json<Poll>, ApiError> {
    let poll = st
        .poll_current()
        .await?
        .ok_or_else(|| ApiError::NotFound("no poll yet".into()))?;
    Ok(Json(match role {
        Role::Instructor => poll,
        Role::Student => poll.for_the_room(),
    }))
}

async fn poll_answer(
    State(st): St,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let a: PollAnswer = json_body(&body)?;
    PollLimits::SERVER
        .admit_answer(&a)
        .map_err(ApiError::BadRequest)?;
    st.poll_answer(&id, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn poll_move(
    st: &AppState,
    caller: Caller,
    id: &str,
    to: PollState,
) -> Result<Json<Poll>, ApiError> {
    caller.instructor(match to {
        PollState::Revealed => "revealing a poll",
        _ => "closing a poll",
    })?;
    let poll = st.poll_state(id, to).await?;
    st.poll_news(&poll).await;
    Ok(Json(poll))
}

async fn poll_close(
    State(st): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Poll>, ApiError> {
    poll_move(&st, caller, &id, PollState::Closed).await
}

async fn poll_reveal(
    State(st): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Poll>, ApiError> {
    poll_move(&st, caller, &id, PollState::Revealed).await
}

async fn poll_results(
    State(st): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Poll>, ApiError> {
    caller.instructor("the answers of a poll are")?;
    st.poll_get(&id).await.map(Json)
}

async fn poll_csv(
    State(st): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.instructor("the answers of a poll are")?;
    let poll = st.poll_get(&id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"poll-{id}.csv\""),
            ),
        ],
        poll.csv(),
    )
        .into_response())
}
