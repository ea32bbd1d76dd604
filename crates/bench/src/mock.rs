//! `amc-bench mock-upstream`: a mock LLM provider for gateway benchmarks, fast enough never to
//! be the bottleneck. It answers OpenAI Chat Completions (`/v1/chat/completions`), Anthropic
//! Messages (`/v1/messages`) and `/v1/models`, streamed or not, with a deterministic usage:
//! prompt tokens are the characters of the messages over 4 (at least 1), completion tokens the
//! request's `max_tokens` (or `max_completion_tokens`) capped at 16, 16 when absent.
//!
//! A model whose name starts with `fail-` gets an HTTP 500 with an error JSON, for fallback
//! tests. `GET|POST /mock/config?chunk_delay_ms=D&stream_chunks=N` changes the stream shape of
//! the running mock (so one upstream serves fast and slow phases of a run), `GET /mock/stats`
//! counts the completions it served (its own routes aside), the streams open now and the most
//! open at once, and `POST /mock/reset` sets those counts back to zero.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::Value;

/// Largest request body the mock reads.
const MAX_BODY: usize = 16 << 20;
/// Completion tokens when the request sets no limit, and their cap.
const COMPLETION_TOKENS: u64 = 16;
/// The whole answer of a non-streamed completion.
const ANSWER: &str = "This is a mock completion from amc-bench.";
/// The pieces a stream is made of, in turn.
const WORDS: [&str; 8] = [
    "This ",
    "is ",
    "a ",
    "mock ",
    "stream ",
    "from ",
    "amc-bench",
    ". ",
];

pub struct MockOptions {
    pub listen: SocketAddr,
    pub stream_chunks: u64,
    pub chunk_delay_ms: u64,
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    chat: AtomicU64,
    messages: AtomicU64,
    streams: AtomicU64,
    failures: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    open_streams: AtomicI64,
    peak_open_streams: AtomicI64,
}

struct State {
    stream_chunks: AtomicU64,
    chunk_delay_ms: AtomicU64,
    next_id: AtomicU64,
    stats: Stats,
}

pub async fn serve(options: MockOptions) -> anyhow::Result<()> {
    let socket = if options.listen.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket
        .bind(options.listen)
        .with_context(|| format!("binding {}", options.listen))?;
    // A deep backlog: a thousand streams connect at once.
    let listener = socket.listen(4096)?;
    let state = Arc::new(State {
        stream_chunks: AtomicU64::new(options.stream_chunks.max(1)),
        chunk_delay_ms: AtomicU64::new(options.chunk_delay_ms),
        next_id: AtomicU64::new(1),
        stats: Stats::default(),
    });
    println!(
        "mock-upstream listening on http://{} (stream_chunks={} chunk_delay_ms={})",
        listener.local_addr()?,
        options.stream_chunks.max(1),
        options.chunk_delay_ms
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, say: wait a little rather than spin.
                eprintln!("mock-upstream: accept: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, request).await) }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A response body: whole, or server-sent events produced one by one.
pub enum MockBody {
    Whole(Option<Bytes>),
    Events(EventStream),
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            MockBody::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            MockBody::Events(events) => events.poll_event(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            MockBody::Whole(bytes) => bytes.is_none(),
            MockBody::Events(events) => events.next >= events.events.len(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Whole(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            MockBody::Whole(None) => SizeHint::with_exact(0),
            MockBody::Events(_) => SizeHint::default(),
        }
    }
}

/// The events of one stream, each sent when it is due: those marked `delayed` wait the chunk
/// delay first. Without a delay the events go out as one frame.
pub struct EventStream {
    events: Vec<(Bytes, bool)>,
    next: usize,
    delay: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    waited: bool,
    state: Arc<State>,
}

impl EventStream {
    fn new(events: Vec<(Bytes, bool)>, delay: Duration, state: Arc<State>) -> EventStream {
        let events = if delay.is_zero() {
            let mut whole = BytesMut::with_capacity(events.iter().map(|(e, _)| e.len()).sum());
            for (event, _) in &events {
                whole.extend_from_slice(event);
            }
            vec![(whole.freeze(), false)]
        } else {
            events
        };
        let stats = &state.stats;
        let open = stats.open_streams.fetch_add(1, Ordering::Relaxed) + 1;
        stats.peak_open_streams.fetch_max(open, Ordering::Relaxed);
        EventStream {
            events,
            next: 0,
            delay,
            sleep: None,
            waited: false,
            state,
        }
    }

    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        loop {
            if let Some(sleep) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
                self.waited = true;
            }
            let Some((event, delayed)) = self.events.get(self.next) else {
                return Poll::Ready(None);
            };
            if *delayed && !self.waited && !self.delay.is_zero() {
                self.sleep = Some(Box::pin(tokio::time::sleep(self.delay)));
                continue;
            }
            self.waited = false;
            self.next += 1;
            return Poll::Ready(Some(Ok(Frame::data(event.clone()))));
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.state
            .stats
            .open_streams
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Deserialize)]
struct CompletionRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    system: Option<Value>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Value,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Characters of a message content: a string, or the `text` of its parts.
fn content_chars(content: &Value) -> u64 {
    match content {
        Value::String(text) => text.chars().count() as u64,
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part {
                Value::String(text) => text.chars().count() as u64,
                Value::Object(fields) => fields.get("text").map_or(0, content_chars),
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}

impl CompletionRequest {
    fn prompt_tokens(&self) -> u64 {
        let chars: u64 = self
            .messages
            .iter()
            .map(|message| content_chars(&message.content))
            .sum::<u64>()
            + self.system.as_ref().map_or(0, content_chars);
        (chars / 4).max(1)
    }

    fn completion_tokens(&self) -> u64 {
        self.max_tokens
            .or(self.max_completion_tokens)
            .unwrap_or(COMPLETION_TOKENS)
            .clamp(1, COMPLETION_TOKENS)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Api {
    OpenAi,
    Anthropic,
}

enum Route {
    Chat,
    Messages,
    Models,
    Config,
    Stats,
    Reset,
    Health,
    NotFound,
}

async fn handle(state: &Arc<State>, request: Request<Incoming>) -> Response<MockBody> {
    let path = request.uri().path();
    let path = path.strip_prefix("/v1").unwrap_or(path);
    let route = match (request.method(), path) {
        (&Method::POST, "/chat/completions") => Route::Chat,
        (&Method::POST, "/messages") => Route::Messages,
        (&Method::GET, "/models") => Route::Models,
        (&Method::GET | &Method::POST, "/mock/config") => Route::Config,
        (&Method::GET, "/mock/stats") => Route::Stats,
        (&Method::POST, "/mock/reset") => Route::Reset,
        (&Method::GET, "/health" | "/") => Route::Health,
        _ => Route::NotFound,
    };
    match route {
        Route::Chat => {
            state.stats.requests.fetch_add(1, Ordering::Relaxed);
            state.stats.chat.fetch_add(1, Ordering::Relaxed);
            completion(state, request, Api::OpenAi).await
        }
        Route::Messages => {
            state.stats.requests.fetch_add(1, Ordering::Relaxed);
            state.stats.messages.fetch_add(1, Ordering::Relaxed);
            completion(state, request, Api::Anthropic).await
        }
        Route::Models => json(StatusCode::OK, models()),
        Route::Config => configure(state, request.uri().query().unwrap_or("")),
        Route::Stats => json(StatusCode::OK, stats(state)),
        Route::Reset => {
            reset(state);
            json(StatusCode::OK, stats(state))
        }
        Route::Health => json(StatusCode::OK, r#"{"status":"ok"}"#.into()),
        Route::NotFound => json(
            StatusCode::NOT_FOUND,
            openai_error(
                "no such route on the mock upstream",
                "invalid_request_error",
            ),
        ),
    }
}

async fn completion(
    state: &Arc<State>,
    request: Request<Incoming>,
    api: Api,
) -> Response<MockBody> {
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return json(
                StatusCode::BAD_REQUEST,
                openai_error("unreadable request body", "invalid_request_error"),
            );
        }
    };
    let parsed: CompletionRequest = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(error) => {
            return json(
                StatusCode::BAD_REQUEST,
                openai_error(&format!("invalid JSON: {error}"), "invalid_request_error"),
            );
        }
    };
    let model = parsed.model.as_deref().unwrap_or("mock-model");
    if model.starts_with("fail-") {
        state.stats.failures.fetch_add(1, Ordering::Relaxed);
        let message = format!("mock upstream failure for model {model}");
        let error = match api {
            Api::OpenAi => openai_error(&message, "server_error"),
            Api::Anthropic => anthropic_error(&message),
        };
        return json(StatusCode::INTERNAL_SERVER_ERROR, error);
    }
    let usage = Usage {
        prompt: parsed.prompt_tokens(),
        completion: parsed.completion_tokens(),
    };
    let stats = &state.stats;
    stats
        .prompt_tokens
        .fetch_add(usage.prompt, Ordering::Relaxed);
    stats
        .completion_tokens
        .fetch_add(usage.completion, Ordering::Relaxed);
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let model = json_string(model);
    let streamed = parsed.stream.unwrap_or(false);
    if !streamed {
        let body = match api {
            Api::OpenAi => chat_completion(id, &model, usage),
            Api::Anthropic => anthropic_message(id, &model, usage),
        };
        return json(StatusCode::OK, body);
    }
    stats.streams.fetch_add(1, Ordering::Relaxed);
    let chunks = state.stream_chunks.load(Ordering::Relaxed).max(1);
    let delay = Duration::from_millis(state.chunk_delay_ms.load(Ordering::Relaxed));
    let events = match api {
        Api::OpenAi => {
            let include_usage = parsed
                .stream_options
                .as_ref()
                .and_then(|options| options.include_usage)
                .unwrap_or(false);
            chat_stream(id, &model, usage, chunks, include_usage)
        }
        Api::Anthropic => anthropic_stream(id, &model, usage, chunks),
    };
    let mut response = Response::new(MockBody::Events(EventStream::new(
        events,
        delay,
        state.clone(),
    )));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[derive(Clone, Copy)]
struct Usage {
    prompt: u64,
    completion: u64,
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `text` as a JSON string literal, quotes included.
fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn chat_completion(id: u64, model: &str, usage: Usage) -> String {
    format!(
        concat!(
            r#"{{"id":"chatcmpl-mock-{id}","object":"chat.completion","created":{created},"#,
            r#""model":{model},"choices":[{{"index":0,"message":{{"role":"assistant","#,
            r#""content":"{answer}","refusal":null}},"logprobs":null,"finish_reason":"stop"}}],"#,
            r#""usage":{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{t}}},"#,
            r#""system_fingerprint":null}}"#
        ),
        id = id,
        created = now_s(),
        model = model,
        answer = ANSWER,
        p = usage.prompt,
        c = usage.completion,
        t = usage.prompt + usage.completion,
    )
}

fn chat_stream(
    id: u64,
    model: &str,
    usage: Usage,
    chunks: u64,
    include_usage: bool,
) -> Vec<(Bytes, bool)> {
    let created = now_s();
    let mut events = Vec::with_capacity(chunks as usize + 2);
    for i in 0..chunks {
        let word = WORDS[i as usize % WORDS.len()];
        let role = if i == 0 { r#""role":"assistant","# } else { "" };
        let finish = if i + 1 == chunks { r#""stop""# } else { "null" };
        events.push((
            Bytes::from(format!(
                concat!(
                    r#"data: {{"id":"chatcmpl-mock-{id}","object":"chat.completion.chunk","#,
                    r#""created":{created},"model":{model},"choices":[{{"index":0,"#,
                    r#""delta":{{{role}"content":"{word}"}},"logprobs":null,"#,
                    r#""finish_reason":{finish}}}]}}"#,
                    "\n\n"
                ),
                id = id,
                created = created,
                model = model,
                role = role,
                word = word,
                finish = finish,
            )),
            true,
        ));
    }
    if include_usage {
        events.push((
            Bytes::from(format!(
                concat!(
                    r#"data: {{"id":"chatcmpl-mock-{id}","object":"chat.completion.chunk","#,
                    r#""created":{created},"model":{model},"choices":[],"#,
                    r#""usage":{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{t}}}}}"#,
                    "\n\n"
                ),
                id = id,
                created = created,
                model = model,
                p = usage.prompt,
                c = usage.completion,
                t = usage.prompt + usage.completion,
            )),
            false,
        ));
    }
    events.push((Bytes::from_static(b"data: [DONE]\n\n"), false));
    events
}

fn anthropic_message(id: u64, model: &str, usage: Usage) -> String {
    format!(
        concat!(
            r#"{{"id":"msg_mock_{id}","type":"message","role":"assistant","model":{model},"#,
            r#""content":[{{"type":"text","text":"{answer}"}}],"stop_reason":"end_turn","#,
            r#""stop_sequence":null,"usage":{{"input_tokens":{p},"output_tokens":{c}}}}}"#
        ),
        id = id,
        model = model,
        answer = ANSWER,
        p = usage.prompt,
        c = usage.completion,
    )
}

fn sse(event: &str, data: String) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

fn anthropic_stream(id: u64, model: &str, usage: Usage, chunks: u64) -> Vec<(Bytes, bool)> {
    let mut events = Vec::with_capacity(chunks as usize + 5);
    events.push((
        sse(
            "message_start",
            format!(
                concat!(
                    r#"{{"type":"message_start","message":{{"id":"msg_mock_{id}","type":"message","#,
                    r#""role":"assistant","model":{model},"content":[],"stop_reason":null,"#,
                    r#""stop_sequence":null,"usage":{{"input_tokens":{p},"output_tokens":1}}}}}}"#
                ),
                id = id,
                model = model,
                p = usage.prompt,
            ),
        ),
        false,
    ));
    events.push((
        sse(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
                .into(),
        ),
        false,
    ));
    for i in 0..chunks {
        let word = WORDS[i as usize % WORDS.len()];
        events.push((
            sse(
                "content_block_delta",
                format!(
                    r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{word}"}}}}"#
                ),
            ),
            true,
        ));
    }
    events.push((
        sse(
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#.into(),
        ),
        false,
    ));
    events.push((
        sse(
            "message_delta",
            format!(
                concat!(
                    r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn","#,
                    r#""stop_sequence":null}},"usage":{{"output_tokens":{c}}}}}"#
                ),
                c = usage.completion,
            ),
        ),
        false,
    ));
    events.push((
        sse("message_stop", r#"{"type":"message_stop"}"#.into()),
        false,
    ));
    events
}

fn models() -> String {
    let created = now_s();
    let entries: Vec<String> = ["mock-model", "mock-model-2", "fail-model"]
        .iter()
        .map(|id| {
            format!(
                r#"{{"id":"{id}","object":"model","created":{created},"owned_by":"amc-bench"}}"#
            )
        })
        .collect();
    format!(r#"{{"object":"list","data":[{}]}}"#, entries.join(","))
}

fn openai_error(message: &str, kind: &str) -> String {
    format!(
        r#"{{"error":{{"message":{},"type":"{kind}","param":null,"code":"mock_failure"}}}}"#,
        json_string(message)
    )
}

/// Anthropic's error shape, which also carries OpenAI's `error.message`, `param` and `code`.
fn anthropic_error(message: &str) -> String {
    format!(
        r#"{{"type":"error","error":{{"type":"api_error","message":{},"param":null,"code":"mock_failure"}}}}"#,
        json_string(message)
    )
}

fn configure(state: &State, query: &str) -> Response<MockBody> {
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Ok(value) = value.parse::<u64>() else {
            return json(
                StatusCode::BAD_REQUEST,
                openai_error(&format!("{name}: not a number"), "invalid_request_error"),
            );
        };
        match name {
            "chunk_delay_ms" => state.chunk_delay_ms.store(value, Ordering::Relaxed),
            "stream_chunks" => state.stream_chunks.store(value.max(1), Ordering::Relaxed),
            _ => {
                return json(
                    StatusCode::BAD_REQUEST,
                    openai_error(&format!("unknown setting {name}"), "invalid_request_error"),
                );
            }
        }
    }
    json(
        StatusCode::OK,
        format!(
            r#"{{"stream_chunks":{},"chunk_delay_ms":{}}}"#,
            state.stream_chunks.load(Ordering::Relaxed),
            state.chunk_delay_ms.load(Ordering::Relaxed)
        ),
    )
}

fn stats(state: &State) -> String {
    let s = &state.stats;
    let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    format!(
        concat!(
            r#"{{"requests":{},"chat_completions":{},"messages":{},"streams":{},"failures":{},"#,
            r#""prompt_tokens":{},"completion_tokens":{},"open_streams":{},"peak_open_streams":{}}}"#
        ),
        get(&s.requests),
        get(&s.chat),
        get(&s.messages),
        get(&s.streams),
        get(&s.failures),
        get(&s.prompt_tokens),
        get(&s.completion_tokens),
        s.open_streams.load(Ordering::Relaxed),
        s.peak_open_streams.load(Ordering::Relaxed),
    )
}

/// Counts back to zero; the peak of open streams restarts from those open now.
fn reset(state: &State) {
    let s = &state.stats;
    for counter in [
        &s.requests,
        &s.chat,
        &s.messages,
        &s.streams,
        &s.failures,
        &s.prompt_tokens,
        &s.completion_tokens,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    s.peak_open_streams
        .store(s.open_streams.load(Ordering::Relaxed), Ordering::Relaxed);
}

fn json(status: StatusCode, body: String) -> Response<MockBody> {
    let mut response = Response::new(MockBody::Whole(Some(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
