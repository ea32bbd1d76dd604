//! `amc-bench load`: an HTTP/1.1 load generator over raw keep-alive connections, in a closed
//! loop (`--concurrency C`: C callers, each sending its next request when the last one's body
//! has been read to the end) or an open loop (`--rate R`: requests are due at fixed intervals or
//! Poisson arrivals whatever the server does; each one's latency runs from the time it was due,
//! so a server that falls behind is charged for the wait: no coordinated omission).
//!
//! Every body is read to its end (a stream to its last event); the time to its first byte is the
//! TTFB. Only requests due within the measured window (after `--warmup`) count, and all of them
//! are waited for: `rps` is those requests over the window (the offered rate in an open loop),
//! `ok_rps` the 2xx answers over the time they took to come. Latencies and TTFB are those of the
//! 2xx answers. With `--watch-pid`, the resident memory of those processes and their descendants
//! is sampled throughout the run.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Arrival {
    /// Exponential gaps between requests (a Poisson process).
    Poisson,
    /// The same gap between every two requests.
    Fixed,
}

pub struct LoadOptions {
    pub url: String,
    pub method: Option<String>,
    pub headers: Vec<String>,
    pub body: Option<Bytes>,
    pub rate: Option<f64>,
    pub arrival: Arrival,
    pub concurrency: Option<usize>,
    pub duration: f64,
    pub warmup: f64,
    pub connections: usize,
    pub timeout: f64,
    pub expect: Option<String>,
    pub watch_pids: Vec<u32>,
    pub label: Option<String>,
}

/// What every request is made of.
struct Target {
    addr: SocketAddr,
    method: Method,
    path: Uri,
    headers: HeaderMap,
    body: Bytes,
    expect: Option<Vec<u8>>,
    timeout: Duration,
}

type Sender = SendRequest<Full<Bytes>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Status(u16),
    /// Refused, reset or closed before the body's end.
    Io,
    Timeout,
    /// A 2xx whose body lacks the `--expect` text.
    Unexpected,
}

struct Sample {
    due: Instant,
    done: Instant,
    first_byte: Option<Instant>,
    outcome: Outcome,
    bytes: u64,
}

/// Requests under way, and the most there were at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl InFlight {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
    }
}

fn target(options: &LoadOptions) -> anyhow::Result<Target> {
    let uri: Uri = options
        .url
        .parse()
        .with_context(|| format!("--url {}: not a URL", options.url))?;
    if uri.scheme_str() != Some("http") {
        bail!("--url {}: only http:// is supported", options.url);
    }
    let authority = uri
        .authority()
        .with_context(|| format!("--url {}: no host", options.url))?
        .clone();
    let port = authority.port_u16().unwrap_or(80);
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host}: no address"))?;
    let path: Uri = uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .parse()
        .context("--url: path")?;
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_str(authority.as_str())?);
    for raw in &options.headers {
        let (name, value) = raw
            .split_once(':')
            .with_context(|| format!("--header {raw}: expected 'Name: value'"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .with_context(|| format!("--header {raw}: bad name"))?;
        let value = HeaderValue::from_str(value.trim())
            .with_context(|| format!("--header {raw}: bad value"))?;
        headers.append(name, value);
    }
    let body = options.body.clone().unwrap_or_default();
    if !body.is_empty() && !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let method = match &options.method {
        Some(method) => Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .with_context(|| format!("--method {method}"))?,
        None if options.body.is_some() => Method::POST,
        None => Method::GET,
    };
    Ok(Target {
        addr,
        method,
        path,
        headers,
        body,
        expect: options.expect.as_ref().map(|e| e.as_bytes().to_vec()),
        timeout: Duration::from_secs_f64(options.timeout.max(0.001)),
    })
}

async fn connect(target: &Target) -> Option<Sender> {
    let stream = tokio::net::TcpStream::connect(target.addr).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    Some(sender)
}

fn request(target: &Target) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(target.body.clone()));
    *request.method_mut() = target.method.clone();
    *request.uri_mut() = target.path.clone();
    *request.headers_mut() = target.headers.clone();
    request
}

/// One request on `conn` (a new connection when there is none or it closed), due at `due`,
/// given up at `due` + the timeout. A request the connection closed under before sending it
/// goes once more on a new one.
async fn exchange(target: &Target, conn: &mut Option<Sender>, due: Instant) -> Sample {
    let deadline = due + target.timeout;
    let outcome = tokio::time::timeout_at(deadline.into(), attempt(target, conn)).await;
    let (outcome, first_byte, bytes) = match outcome {
        Ok(result) => result,
        Err(_) => {
            *conn = None;
            (Outcome::Timeout, None, 0)
        }
    };
    Sample {
        due,
        done: Instant::now(),
        first_byte,
        outcome,
        bytes,
    }
}

fn timed_out(due: Instant) -> Sample {
    Sample {
        due,
        done: Instant::now(),
        first_byte: None,
        outcome: Outcome::Timeout,
        bytes: 0,
    }
}

async fn attempt(target: &Target, conn: &mut Option<Sender>) -> (Outcome, Option<Instant>, u64) {
    let mut response = None;
    for _ in 0..2 {
        let sender = match conn {
            Some(sender) if !sender.is_closed() => sender,
            _ => match connect(target).await {
                Some(sender) => conn.insert(sender),
                None => {
                    *conn = None;
                    return (Outcome::Io, None, 0);
                }
            },
        };
        if sender.ready().await.is_err() {
            *conn = None;
            continue;
        }
        match sender.try_send_request(request(target)).await {
            Ok(answer) => {
                response = Some(answer);
                break;
            }
            Err(mut error) => {
                *conn = None;
                if error.take_message().is_none() {
                    // Sent, then the connection failed: the server's doing.
                    return (Outcome::Io, None, 0);
                }
            }
        }
    }
    let Some(response) = response else {
        return (Outcome::Io, None, 0);
    };
    let status = response.status();
    let mut body = response.into_body();
    let mut first_byte = None;
    let mut bytes = 0u64;
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    if first_byte.is_none() && !data.is_empty() {
                        first_byte = Some(Instant::now());
                    }
                    bytes += data.len() as u64;
                    if target.expect.is_some() {
                        kept.extend_from_slice(data);
                    }
                }
            }
            Err(_) => {
                *conn = None;
                return (Outcome::Io, first_byte, bytes);
            }
        }
    }
    let outcome = if !status.is_success() {
        Outcome::Status(status.as_u16())
    } else if let Some(expect) = &target.expect
        && !contains(&kept, expect)
    {
        Outcome::Unexpected
    } else {
        Outcome::Ok
    };
    (outcome, first_byte, bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The resident memory of some processes and all their descendants, sampled every 100 ms.
struct MemoryWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<MemoryReport>,
}

#[derive(Default, Clone, Copy)]
struct MemoryReport {
    start_kb: u64,
    peak_kb: u64,
    hwm_kb: u64,
    processes: usize,
}

impl MemoryWatch {
    fn start(roots: Vec<u32>) -> MemoryWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut report = MemoryReport::default();
            let mut first = true;
            loop {
                let pids = process_tree(&roots);
                let rss: u64 = pids.iter().filter_map(|&p| status_kb(p, "VmRSS:")).sum();
                if first {
                    report.start_kb = rss;
                    first = false;
                }
                report.peak_kb = report.peak_kb.max(rss);
                report.processes = report.processes.max(pids.len());
                if flag.load(Ordering::Relaxed) {
                    report.hwm_kb = pids.iter().filter_map(|&p| status_kb(p, "VmHWM:")).sum();
                    return report;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        MemoryWatch { stop, thread }
    }

    fn finish(self) -> MemoryReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// `roots` and every live process descending from them.
fn process_tree(roots: &[u32]) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // `pid (comm) state ppid ...`: the name may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree: Vec<u32> = roots
        .iter()
        .copied()
        .filter(|&pid| parents.iter().any(|&(p, _)| p == pid))
        .collect();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for &(pid, ppid) in &parents {
            if ppid == parent && !tree.contains(&pid) {
                tree.push(pid);
            }
        }
        i += 1;
    }
    tree
}

fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

struct Tally {
    latency: Histogram<u64>,
    ttfb: Histogram<u64>,
    requests: u64,
    ok: u64,
    bytes: u64,
    errors: std::collections::BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> anyhow::Result<Tally> {
        Ok(Tally {
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 3)?,
            ttfb: Histogram::new_with_bounds(1, 3_600_000_000, 3)?,
            requests: 0,
            ok: 0,
            bytes: 0,
            errors: Default::default(),
        })
    }

    fn record(&mut self, sample: &Sample) {
        self.requests += 1;
        self.bytes += sample.bytes;
        let micros =
            |at: Instant| (at.saturating_duration_since(sample.due).as_micros() as u64).max(1);
        match sample.outcome {
            Outcome::Ok => {
                self.ok += 1;
                self.latency.saturating_record(micros(sample.done));
                if let Some(first) = sample.first_byte {
                    self.ttfb.saturating_record(micros(first));
                }
            }
            Outcome::Status(code) => *self.errors.entry(code.to_string()).or_default() += 1,
            Outcome::Io => *self.errors.entry("io".into()).or_default() += 1,
            Outcome::Timeout => *self.errors.entry("timeout".into()).or_default() += 1,
            Outcome::Unexpected => *self.errors.entry("unexpected".into()).or_default() += 1,
        }
    }
}

pub async fn load(options: LoadOptions) -> anyhow::Result<()> {
    let target = Arc::new(target(&options)?);
    if options.duration <= 0.0 {
        bail!("--duration must be positive");
    }
    let mode = match (options.rate, options.concurrency) {
        (Some(_), Some(_)) => {
            bail!("give --rate (open loop) or --concurrency (closed loop), not both")
        }
        (Some(rate), None) if rate > 0.0 => Mode::Open(rate),
        (Some(_), None) => bail!("--rate must be positive"),
        (None, Some(c)) if c > 0 => Mode::Closed(c),
        (None, Some(_)) => bail!("--concurrency must be positive"),
        (None, None) => bail!("give --rate R (open loop) or --concurrency C (closed loop)"),
    };
    let watch =
        (!options.watch_pids.is_empty()).then(|| MemoryWatch::start(options.watch_pids.clone()));
    let start = Instant::now();
    let measured_from = start + Duration::from_secs_f64(options.warmup.max(0.0));
    let end = measured_from + Duration::from_secs_f64(options.duration);
    let in_flight = Arc::new(InFlight::default());
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();

    match mode {
        Mode::Closed(concurrency) => {
            for _ in 0..concurrency {
                let (target, tx, in_flight) = (target.clone(), tx.clone(), in_flight.clone());
                tokio::spawn(async move {
                    let mut conn = None;
                    loop {
                        let due = Instant::now();
                        if due >= end {
                            break;
                        }
                        in_flight.enter();
                        let sample = exchange(&target, &mut conn, due).await;
                        in_flight.leave();
                        let failed = matches!(sample.outcome, Outcome::Io);
                        if tx.send(sample).is_err() {
                            break;
                        }
                        if failed {
                            // A server that refuses connections: don't spin.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                });
            }
        }
        Mode::Open(rate) => {
            // The schedule runs on a thread of its own: its sleeps are precise to some tens of
            // microseconds where the runtime's timer wakes to the millisecond, which would add
            // up to a millisecond to every latency.
            let (target, tx, in_flight) = (target.clone(), tx.clone(), in_flight.clone());
            let connections = options.connections.max(1);
            let arrival = options.arrival;
            let runtime = tokio::runtime::Handle::current();
            std::thread::Builder::new()
                .name("schedule".into())
                .spawn(move || {
                    let permits = Arc::new(Semaphore::new(connections));
                    let idle: Arc<Mutex<Vec<Sender>>> = Arc::new(Mutex::new(Vec::new()));
                    let mut rng = rand::rngs::StdRng::from_entropy();
                    let mut due = start;
                    while due < end {
                        let wait = due.saturating_duration_since(Instant::now());
                        if wait > Duration::from_micros(20) {
                            std::thread::sleep(wait);
                        }
                        let (target, tx, in_flight) =
                            (target.clone(), tx.clone(), in_flight.clone());
                        let (permits, idle) = (permits.clone(), idle.clone());
                        runtime.spawn(async move {
                            // Waiting for a free connection counts against the timeout.
                            let permit = tokio::time::timeout_at(
                                (due + target.timeout).into(),
                                permits.acquire(),
                            )
                            .await;
                            let _permit = match permit {
                                Ok(Ok(permit)) => permit,
                                Ok(Err(_)) => return,
                                Err(_) => {
                                    let _ = tx.send(timed_out(due));
                                    return;
                                }
                            };
                            let mut conn = take_idle(&idle);
                            in_flight.enter();
                            let sample = exchange(&target, &mut conn, due).await;
                            in_flight.leave();
                            if let Some(conn) = conn
                                && let Ok(mut idle) = idle.lock()
                            {
                                idle.push(conn);
                            }
                            let _ = tx.send(sample);
                        });
                        let gap = match arrival {
                            Arrival::Fixed => 1.0 / rate,
                            Arrival::Poisson => {
                                let u: f64 = rng.r#gen::<f64>();
                                -(1.0 - u).ln() / rate
                            }
                        };
                        due += Duration::from_secs_f64(gap);
                    }
                })
                .context("starting the schedule thread")?;
        }
    }
    drop(tx);

    // Everything due by `end` is waited for, each request until its timeout; the margin is
    // for a runtime too loaded to have noticed.
    let hard_stop = end + target.timeout + Duration::from_secs(10);
    let mut tally = Tally::new()?;
    let mut last_done = measured_from;
    let mut unfinished = false;
    loop {
        match tokio::time::timeout_at(hard_stop.into(), rx.recv()).await {
            Ok(Some(sample)) => {
                if sample.due >= measured_from && sample.due < end {
                    last_done = last_done.max(sample.done);
                    tally.record(&sample);
                }
            }
            Ok(None) => break,
            Err(_) => {
                unfinished = true;
                break;
            }
        }
    }
    let memory = watch.map(MemoryWatch::finish);
    report(
        &options,
        mode,
        &tally,
        &in_flight,
        memory,
        unfinished,
        last_done - measured_from,
    );
    Ok(())
}

#[derive(Clone, Copy)]
enum Mode {
    Open(f64),
    Closed(usize),
}

fn take_idle(idle: &Mutex<Vec<Sender>>) -> Option<Sender> {
    let mut idle = idle.lock().ok()?;
    while let Some(conn) = idle.pop() {
        if !conn.is_closed() {
            return Some(conn);
        }
    }
    None
}

fn report(
    options: &LoadOptions,
    mode: Mode,
    tally: &Tally,
    in_flight: &InFlight,
    memory: Option<MemoryReport>,
    unfinished: bool,
    drained: Duration,
) {
    let errors = tally.requests - tally.ok;
    let rps = tally.requests as f64 / options.duration;
    // Answers per second while they came: past the window too, for a server that fell behind.
    let ok_rps = tally.ok as f64 / options.duration.max(drained.as_secs_f64());
    let q = |h: &Histogram<u64>, q: f64| {
        if h.is_empty() {
            0
        } else {
            h.value_at_quantile(q)
        }
    };
    let (mode_name, rate, concurrency) = match mode {
        Mode::Open(rate) => ("open", rate, 0),
        Mode::Closed(c) => ("closed", 0.0, c),
    };
    let errors_by = if tally.errors.is_empty() {
        "-".to_string()
    } else {
        tally
            .errors
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let label = options.label.clone().unwrap_or_else(|| "-".into());
    let memory = memory.unwrap_or_default();
    let peak = in_flight.peak.load(Ordering::Relaxed);
    // Printing to a closed pipe (`| head -1`) is no failure of the run.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "load label={label} mode={mode_name} rate={rate} concurrency={concurrency} \
         duration_s={} requests={} ok={} errors={errors} errors_by={errors_by} rps={rps:.1} ok_rps={ok_rps:.1} \
         p50_us={} p90_us={} p99_us={} p999_us={} max_us={} ttfb_p50_us={} ttfb_p99_us={} \
         inflight_peak={peak} rss_start_kb={} rss_peak_kb={} hwm_kb={} processes={} \
         unfinished={unfinished}",
        options.duration,
        tally.requests,
        tally.ok,
        q(&tally.latency, 0.5),
        q(&tally.latency, 0.9),
        q(&tally.latency, 0.99),
        q(&tally.latency, 0.999),
        tally.latency.max(),
        q(&tally.ttfb, 0.5),
        q(&tally.ttfb, 0.99),
        memory.start_kb,
        memory.peak_kb,
        memory.hwm_kb,
        memory.processes,
    );
    let line = json!({
        "label": options.label,
        "url": options.url,
        "mode": mode_name,
        "rate": if rate > 0.0 { json!(rate) } else { json!(null) },
        "concurrency": if concurrency > 0 { json!(concurrency) } else { json!(null) },
        "duration_s": options.duration,
        "warmup_s": options.warmup,
        "requests": tally.requests,
        "ok": tally.ok,
        "errors": errors,
        "errors_by_status": tally.errors,
        "rps": (rps * 10.0).round() / 10.0,
        "ok_rps": (ok_rps * 10.0).round() / 10.0,
        "drained_s": drained.as_secs_f64(),
        "bytes": tally.bytes,
        "latency_us": {
            "p50": q(&tally.latency, 0.5),
            "p90": q(&tally.latency, 0.9),
            "p99": q(&tally.latency, 0.99),
            "p99_9": q(&tally.latency, 0.999),
            "max": tally.latency.max(),
            "mean": tally.latency.mean().round(),
        },
        "ttfb_us": {
            "p50": q(&tally.ttfb, 0.5),
            "p99": q(&tally.ttfb, 0.99),
        },
        "inflight_peak": peak,
        "memory_kb": {
            "rss_start": memory.start_kb,
            "rss_peak": memory.peak_kb,
            "hwm": memory.hwm_kb,
            "processes": memory.processes,
        },
        "unfinished": unfinished,
    });
    let _ = writeln!(out, "{line}");
}
