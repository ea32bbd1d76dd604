//! The model gateway (amc's "Wuying proxy"): `POST /v1/chat/completions` (OpenAI),
//! `POST /v1/messages` (Anthropic), `GET /v1/models`. A call is authenticated by its runtime's
//! gateway key, routed to a model of the runtime's effective model group that amc proxies,
//! metered — reserved before it goes upstream, settled to the upstream's token counts after —
//! and forwarded with the provider's own key, which never leaves the server. Streams pass
//! through as they arrive. Its own router and error dialect; it imports no other surface.

mod address;
mod error;
mod meter;
mod routes;
mod stream;
mod usage;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};
use store::Store;
use web::body::BodyLimits;

pub use address::AddressPolicy;
pub use error::{GatewayDialect, GatewayError};
pub use meter::Meter;
pub use routes::CreditUpstream;
pub use usage::Protocol;

use crate::meter::{Charge, Hold, RateLimits};
use crate::routes::{Caller, Directory, Route};
use crate::stream::Metered;
use crate::usage::Counter;

/// The path prefix the gateway serves.
pub const PREFIX: &str = "/v1";
/// The largest request body read (prompts with images are large).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// The largest whole (non-streamed) answer read from an upstream.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;
/// The Anthropic API version sent when the caller names none.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// How the gateway behaves; `amc serve` sets it from its flags.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub addresses: AddressPolicy,
    /// How long an upstream may take to connect, to answer, and between two pieces of a stream.
    pub upstream_timeout: Duration,
    pub credit_upstream: CreditUpstream,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            addresses: AddressPolicy::default(),
            upstream_timeout: Duration::from_secs(120),
            credit_upstream: CreditUpstream::default(),
        }
    }
}

#[derive(Clone)]
pub struct GatewayState {
    store: Store,
    directory: Arc<Directory>,
    meter: Arc<Meter>,
    client: reqwest::Client,
    addresses: Arc<AddressPolicy>,
    timeout: Duration,
}

impl GatewayState {
    /// The state, with its metering task spawned.
    pub fn start(store: Store, config: GatewayConfig) -> Result<GatewayState, GatewayError> {
        let addresses = Arc::new(config.addresses);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(address::PolicyResolver(addresses.clone())))
            .connect_timeout(config.upstream_timeout.min(Duration::from_secs(10)))
            .read_timeout(config.upstream_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            // Redirects would carry the provider's key to wherever they point.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GatewayError::Upstream(format!("HTTP client: {e}")))?;
        let meter = Meter::new(store.clone());
        tokio::spawn(meter.clone().run());
        Ok(GatewayState {
            store: store.clone(),
            directory: Arc::new(Directory::new(store, config.credit_upstream)),
            meter,
            client,
            addresses,
            timeout: config.upstream_timeout,
        })
    }

    /// The meter, to write what it holds when the server stops.
    pub fn meter(&self) -> Arc<Meter> {
        self.meter.clone()
    }
}

/// The gateway's router, mounted under [`PREFIX`].
pub fn router(state: GatewayState) -> Router {
    let router = Router::new()
        .route(
            &format!("{PREFIX}/chat/completions"),
            post(chat_completions),
        )
        .route(&format!("{PREFIX}/messages"), post(messages))
        .route(&format!("{PREFIX}/models"), get(models))
        .route(
            &format!("{PREFIX}/{{*rest}}"),
            axum::routing::any(unknown_path),
        )
        .layer(axum::middleware::from_fn_with_state(state.clone(), audited))
        .with_state(state);
    web::surface(router, Arc::new(GatewayDialect))
}

/// Records every refused call that names a key (unknown, revoked, over its quota, its rate or
/// the organisation's credits). Calls that go through are metered call by call in the usage
/// records (`DescribeRunIdDeductions`), which are their trail.
async fn audited(
    State(state): State<GatewayState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let action = match request.uri().path().rsplit('/').next() {
        Some("completions") => "ChatCompletions",
        Some("messages") => "Messages",
        Some("models") => "ListModels",
        _ => "Unknown",
    };
    // The key's id only (`gk-…`), never its secret.
    let key = presented_key(request.headers()).map(str::to_string);
    let source_ip = web::client_ip(&request)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let request_id = web::RequestId::of(&request).as_str().to_string();
    let response = next.run(request).await;
    let refused = matches!(
        response.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
    );
    let Some(key) = key.filter(|_| refused) else {
        return response;
    };
    let Some((id, _)) = domain::secrets::split(key.trim(), domain::secrets::GATEWAY_KEY_PREFIX)
    else {
        return response;
    };
    let caller = state.directory.authenticate(&key).await.ok();
    let code = response
        .extensions()
        .get::<error::Refused>()
        .map_or("Refused", |r| r.0);
    let entry = store::audit::AuditEntry {
        at: now_ms(),
        tenant_id: caller.as_ref().map(|c| c.tenant_id.clone()),
        principal: id.to_string(),
        source_ip,
        product: "gateway".into(),
        action: action.into(),
        resources: caller.map(|c| c.runtime_id).into_iter().collect(),
        code: code.into(),
        request_id,
    };
    state.store.keep_audit(&entry).await;
    response
}

async fn unknown_path() -> Response {
    GatewayError::NotFound.respond(Protocol::OpenAi)
}

async fn chat_completions(State(state): State<GatewayState>, request: Request) -> Response {
    proxy(&state, Protocol::OpenAi, request)
        .await
        .unwrap_or_else(|e| e.respond(Protocol::OpenAi))
}

async fn messages(State(state): State<GatewayState>, request: Request) -> Response {
    proxy(&state, Protocol::Anthropic, request)
        .await
        .unwrap_or_else(|e| e.respond(Protocol::Anthropic))
}

/// The key a call carries: `Authorization: Bearer …` (OpenAI) or `x-api-key` (Anthropic).
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
}

async fn caller(state: &GatewayState, headers: &HeaderMap) -> Result<Caller, GatewayError> {
    let key = presented_key(headers).ok_or(GatewayError::Unauthorized)?;
    state.directory.authenticate(key).await
}

async fn models(State(state): State<GatewayState>, headers: HeaderMap) -> Response {
    let anthropic = headers.contains_key("anthropic-version");
    let protocol = if anthropic {
        Protocol::Anthropic
    } else {
        Protocol::OpenAi
    };
    let listed = async {
        let caller = caller(&state, &headers).await?;
        let routes = state.directory.routes(&caller).await?;
        let body = if anthropic {
            let data: Vec<Value> = routes
                .routes
                .iter()
                .map(|r| json!({"type": "model", "id": r.llm_code, "display_name": r.model_ref, "created_at": "1970-01-01T00:00:00Z"}))
                .collect();
            json!({"data": data, "has_more": false,
                   "first_id": routes.routes.first().map(|r| &r.llm_code),
                   "last_id": routes.routes.last().map(|r| &r.llm_code)})
        } else {
            let data: Vec<Value> = routes
                .routes
                .iter()
                .map(|r| json!({"id": r.llm_code, "object": "model", "created": 0, "owned_by": r.provider_name}))
                .collect();
            json!({"object": "list", "data": data})
        };
        Ok::<_, GatewayError>(axum::Json(body).into_response())
    };
    listed.await.unwrap_or_else(|e| e.respond(protocol))
}

/// What a call asks, read from its body.
struct Ask {
    body: serde_json::Map<String, Value>,
    body_len: usize,
    stream: bool,
    max_output: Option<u64>,
    prompt_chars: usize,
    model: String,
}

fn read_ask(bytes: &[u8]) -> Result<Ask, GatewayError> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(bytes) else {
        return Err(GatewayError::InvalidRequest(
            "the body must be a JSON object".into(),
        ));
    };
    let model = match body.get("model") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(m)) => m.clone(),
        Some(_) => {
            return Err(GatewayError::InvalidRequest(
                "model must be a string".into(),
            ));
        }
    };
    let max_output = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64));
    let prompt_chars = usage::prompt_chars(&body);
    Ok(Ask {
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        body_len: bytes.len(),
        max_output,
        prompt_chars,
        model,
        body,
    })
}

/// The id a call's deduction carries: the caller's `X-Run-Id` or `X-Request-Id`, else new.
fn run_id(headers: &HeaderMap) -> String {
    ["x-run-id", "x-request-id"]
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .find(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(
            || format!("run-{}", uuid::Uuid::new_v4().simple()),
            str::to_string,
        )
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn proxy(
    state: &GatewayState,
    protocol: Protocol,
    request: Request,
) -> Result<Response, GatewayError> {
    let limits = BodyLimits::of(&request);
    let (parts, body) = request.into_parts();
    let caller = caller(state, &parts.headers).await?;
    let bytes = web::body::read(body, &limits, MAX_BODY_BYTES).await?;
    let ask = read_ask(&bytes)?;
    drop(bytes);
    let routes = state.directory.routes(&caller).await?;
    let first = routes
        .find(&ask.model)
        .ok_or_else(|| GatewayError::ModelNotFound(ask.model.clone()))?;
    if routes.routes[first].protocol != protocol {
        let (api, path) = match routes.routes[first].protocol {
            Protocol::Anthropic => ("Anthropic's Messages API", "/v1/messages"),
            Protocol::OpenAi => ("OpenAI's Chat Completions API", "/v1/chat/completions"),
        };
        return Err(GatewayError::WrongProtocol {
            model: ask.model,
            api: api.into(),
            path,
        });
    }
    state.meter.admit(
        &caller,
        RateLimits {
            rpm: routes.rpm,
            tpm: routes.tpm,
        },
    )?;
    let run_id = run_id(&parts.headers);
    let started_at = now_ms();
    let mut failure = GatewayError::Upstream("no model of the group could be called".into());
    for index in routes.attempts(first) {
        let route = &routes.routes[index];
        if route.protocol != protocol {
            continue;
        }
        // The model's own bound caps what a call may ask for (the upstream caps it too).
        let max_output = match (ask.max_output, route.max_output) {
            (Some(asked), Some(bound)) => Some(asked.min(bound)),
            (asked, bound) => asked.or(bound),
        };
        let units = domain::credits::reservation(&route.rate, ask.body_len, max_output);
        let hold = state.meter.reserve(&caller, units).await?;
        match send(state, route, &ask, &parts.headers).await {
            Ok(answer) if !answer.status().is_server_error() => {
                let charge = Charge {
                    agent_type: routes.agent_type,
                    run_id: run_id.clone(),
                    model: route.model_ref.clone(),
                    started_at,
                };
                return answer_with(state, route, &ask, answer, hold, charge, protocol).await;
            }
            Ok(answer) => {
                tracing::warn!(model = %route.model_ref, status = %answer.status(), "gateway: upstream failed");
                failure = GatewayError::Upstream(format!(
                    "{} answered {}",
                    route.model_ref,
                    answer.status()
                ));
            }
            Err(error) => {
                tracing::warn!(model = %route.model_ref, %error, "gateway: upstream unreachable");
                failure = error;
            }
        }
        // Nothing is charged for a failed call.
        drop(hold);
    }
    Err(failure)
}

async fn send(
    state: &GatewayState,
    route: &Route,
    ask: &Ask,
    headers: &HeaderMap,
) -> Result<reqwest::Response, GatewayError> {
    let url = route.url.clone().ok_or_else(|| {
        GatewayError::Upstream(format!("{} has no valid base URL", route.model_ref))
    })?;
    // Names are checked as they resolve (see `address`); literal addresses here.
    let host = url.host_str().unwrap_or_default();
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>()
        && !state.addresses.permits(ip)
    {
        return Err(refused(route));
    }
    let mut body = ask.body.clone();
    body.insert("model".into(), Value::String(route.llm_code.clone()));
    if ask.stream && route.protocol == Protocol::OpenAi {
        // Token counts arrive only when asked for.
        let options = body.entry("stream_options").or_insert_with(|| json!({}));
        if let Value::Object(options) = options {
            options.insert("include_usage".into(), Value::Bool(true));
        } else {
            *options = json!({"include_usage": true});
        }
    }
    let bytes = serde_json::to_vec(&Value::Object(body)).map_err(|_| GatewayError::Internal)?;
    let mut upstream = state
        .client
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(bytes);
    match route.protocol {
        Protocol::OpenAi => {
            if let Some(key) = &route.api_key {
                upstream = upstream.bearer_auth(key);
            }
        }
        Protocol::Anthropic => {
            let version = headers
                .get("anthropic-version")
                .cloned()
                .unwrap_or(HeaderValue::from_static(ANTHROPIC_VERSION));
            upstream = upstream.header("anthropic-version", version);
            if let Some(beta) = headers.get("anthropic-beta") {
                upstream = upstream.header("anthropic-beta", beta.clone());
            }
            if let Some(key) = &route.api_key {
                upstream = upstream.header("x-api-key", key);
            }
        }
    }
    match tokio::time::timeout(state.timeout, upstream.send()).await {
        Err(_) => Err(GatewayError::UpstreamTimeout),
        Ok(Err(error)) if error.is_timeout() => Err(GatewayError::UpstreamTimeout),
        // The error names the URL, never the key.
        Ok(Err(error)) => Err(GatewayError::Upstream(format!(
            "{}: {}",
            route.model_ref,
            error_chain(&error)
        ))),
        Ok(Ok(answer)) => Ok(answer),
    }
}

fn refused(route: &Route) -> GatewayError {
    GatewayError::Upstream(format!(
        "{}'s address is one the gateway may not reach (link-local and metadata addresses are refused)",
        route.model_ref
    ))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Answers the caller with what the upstream answered: a refusal passed on (uncharged, the
/// provider's key scrubbed from it), a whole answer metered, or a stream metered as it passes.
async fn answer_with(
    state: &GatewayState,
    route: &Route,
    ask: &Ask,
    answer: reqwest::Response,
    hold: Hold,
    charge: Charge,
    protocol: Protocol,
) -> Result<Response, GatewayError> {
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        // The provider refused amc's key for it: the agent's own key is fine.
        return Err(GatewayError::Upstream(format!(
            "the provider of {} refused the credentials amc holds for it",
            route.model_ref
        )));
    }
    let content_type = answer
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        .unwrap_or(HeaderValue::from_static("application/json"));
    let event_stream = content_type
        .to_str()
        .is_ok_and(|c| c.starts_with("text/event-stream"));
    if !status.is_success() {
        drop(hold);
        let body = read_whole(state, answer).await?;
        let body = scrub(&body, route.api_key.as_deref());
        return Ok((status, [(header::CONTENT_TYPE, content_type)], body).into_response());
    }
    let counter = Counter::new(protocol, ask.prompt_chars);
    let run_header = HeaderValue::from_str(&charge.run_id).ok();
    let mut response = if ask.stream && event_stream {
        let metered = Metered::new(answer.bytes_stream(), counter, hold, charge, route.rate);
        let mut response = Response::new(Body::from_stream(metered));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    } else {
        // Nothing arrived whole: the hold is given back, nothing charged.
        let body = read_whole(state, answer).await?;
        let mut counter = counter;
        if event_stream {
            counter.stream(&body);
        } else {
            counter.whole(&body);
        }
        stream::settle(hold, charge, &counter, &route.rate);
        (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    if let Some(run) = run_header {
        response.headers_mut().insert("x-amc-run-id", run);
    }
    Ok(response)
}

async fn read_whole(
    state: &GatewayState,
    answer: reqwest::Response,
) -> Result<Bytes, GatewayError> {
    use futures_util::StreamExt;
    let mut stream = answer.bytes_stream();
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(state.timeout, stream.next()).await {
            Err(_) => return Err(GatewayError::UpstreamTimeout),
            Ok(None) => return Ok(Bytes::from(body)),
            Ok(Some(Err(error))) => {
                return Err(GatewayError::Upstream(error_chain(&error)));
            }
            Ok(Some(Ok(piece))) => {
                if body.len() + piece.len() > MAX_ANSWER_BYTES {
                    return Err(GatewayError::Upstream(format!(
                        "the answer exceeds {MAX_ANSWER_BYTES} bytes"
                    )));
                }
                body.extend_from_slice(&piece);
            }
        }
    }
}

/// `body` with every occurrence of `key` masked.
fn scrub(body: &[u8], key: Option<&str>) -> Bytes {
    match key.filter(|k| k.len() >= 4) {
        Some(key) => {
            let text = String::from_utf8_lossy(body);
            if text.contains(key) {
                return Bytes::from(text.replace(key, "****"));
            }
            Bytes::copy_from_slice(body)
        }
        None => Bytes::copy_from_slice(body),
    }
}
