//! `amc-bench`: seeds a server with runtimes through the API, then measures one signed action
//! under concurrent load (requests/s, p50, p99). Each request is signed with a fresh nonce, as an
//! SDK would send it, so the server's whole pipeline is measured. For the model gateway it also
//! has a mock LLM upstream (`mock-upstream`) and an HTTP load generator (`load`), which need no
//! access key.

mod fleet;
mod load;
mod mock;
mod ram_user;
mod skillscan;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use pop::FlatParams;
use pop::signature::{SigningInput, sign_v3};

#[derive(Parser)]
struct Cli {
    #[arg(long, env = "AMC_ENDPOINT", default_value = "http://127.0.0.1:8080")]
    endpoint: String,
    /// Required by the commands that call the amc API (all but `mock-upstream`, `load`,
    /// `skill-scan` and `skill-parse`).
    #[arg(long, env = "AMC_ACCESS_KEY_ID")]
    access_key_id: Option<String>,
    #[arg(long, env = "AMC_ACCESS_KEY_SECRET", hide_env_values = true)]
    access_key_secret: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create `count` runtimes (100 per CreateDesktops call), a mix of images, bundles and users.
    Seed {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Drive `ListDesktopAgentRuntime` (AgentProvider=OpenClaw, DesktopStatuses=Running, page of 20).
    List {
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Time model-group delivery: seeds `count` OpenClaw runtimes in one resource group bound to
    /// a model group, then times ConfigRuntimeModelTemplate / RemoveRuntimeModelTemplate of
    /// `batch` runtimes and UpdateModelTemplate of the group every runtime inherits.
    Delivery {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Contention: `clients` callers at once, for `seconds`, change the model groups of
    /// overlapping runtimes (ConfigRuntimeModelTemplate / RemoveRuntimeModelTemplate of random
    /// `batch`es of `runtimes` runtimes), update the `groups` model groups they use
    /// (UpdateModelTemplate) and stop and start a few of them (the lifecycle loop then writes
    /// too, when the server runs with a step delay). Counts the answers by status and code.
    Contention {
        #[arg(long, default_value_t = 4)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 200)]
        runtimes: usize,
        #[arg(long, default_value_t = 50)]
        batch: usize,
        #[arg(long, default_value_t = 4)]
        groups: usize,
    },
    /// Write a wrk script that sends `count` distinct requests of an action, each signed ahead
    /// with a nonce of its own (ListDesktopAgentRuntime as `list` sends it, unless `--action`):
    /// `wrk -t 2 -s FILE` (wrk counts answers other than 200 as "Non-2xx"). The load generator
    /// then spends nothing on signing; the timestamps hold for the 15 minutes after the script
    /// is written. A request is sent once; after the last, each thread starts over (its
    /// nonces are then refused), so give a count above the requests a run sends.
    WrkScript {
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long, default_value_t = 400_000)]
        count: usize,
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        version: Option<String>,
        #[arg(long = "param")]
        params: Vec<String>,
    },
    /// A simulated fleet of `daemons` node daemons (in this process, each over a directory of
    /// its own under `dir`), enrolled with a tenant enrolment secret (`amc admin enroll-token
    /// --new-hosts`): time from `UpdateModelTemplate` until every daemon applied it, report
    /// ingestion, and (with `--server-pid`) the server's CPU and memory. Raise the open-file
    /// limit first (`ulimit -n 65536`) and the server's `--max-connections`.
    Fleet {
        #[arg(long, default_value_t = 10_000)]
        daemons: usize,
        #[arg(long)]
        dir: std::path::PathBuf,
        #[arg(long, env = "AMC_ENROLL_SECRET", hide_env_values = true)]
        enroll_secret: String,
        #[arg(long)]
        server_pid: Option<u32>,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Create a RAM user holding `policies` custom policies of `statements` statements each
    /// (only the last statement of the last one allows `ecd:Describe*` and
    /// `appstreaming:ListDesktopAgentRuntime`) and print its key as `AMC_ACCESS_KEY_ID=…` and
    /// `AMC_ACCESS_KEY_SECRET=…` lines: its calls measure the cost of authorisation.
    RamUser {
        #[arg(long, default_value = "bench")]
        name: String,
        #[arg(long, default_value_t = 20)]
        policies: usize,
        #[arg(long, default_value_t = 10)]
        statements: usize,
    },
    /// Drive any action: `--action X --version V --param Name=Value ...`.
    Call {
        #[arg(long)]
        action: String,
        #[arg(long)]
        version: String,
        #[arg(long = "param")]
        params: Vec<String>,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Send each call once (timing a single heavy call).
        #[arg(long)]
        once: bool,
    },
    /// A mock LLM upstream: OpenAI `/v1/chat/completions`, Anthropic `/v1/messages` and
    /// `/v1/models`, streamed or not, with deterministic usage; models named `fail-*` get a 500.
    /// `/mock/config?chunk_delay_ms=D&stream_chunks=N` reshapes streams while it runs and
    /// `/mock/stats` counts what it served.
    MockUpstream {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// Content events in each stream.
        #[arg(long, default_value_t = 16)]
        stream_chunks: u64,
        /// Wait before each content event of a stream.
        #[arg(long, default_value_t = 0)]
        chunk_delay_ms: u64,
        /// Runtime worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Check and scan each `*.zip` in `dir` (sorted) as the server does: one JSON line per
    /// package, `{"package","ok","error","risk","score","findings","micros"}`.
    SkillScan { dir: std::path::PathBuf },
    /// Time the package check (every rule, every file scanned) on one generated package of
    /// `files` text files of about `file_bytes` each and a SKILL.md, `iterations` times: MB/s
    /// of uncompressed text (10^6 bytes) and files/s.
    SkillParse {
        #[arg(long, default_value_t = 5000)]
        files: usize,
        #[arg(long, default_value_t = 4096)]
        file_bytes: usize,
        #[arg(long, default_value_t = 10)]
        iterations: usize,
    },
    /// HTTP/1.1 load over keep-alive connections: `--concurrency C` (closed loop) or `--rate R`
    /// (open loop, latency from each request's due time). Prints a `load key=value ...` line
    /// and a JSON line.
    Load {
        #[arg(long)]
        url: String,
        /// Default: POST with a body, GET without.
        #[arg(long)]
        method: Option<String>,
        /// `Name: value`, repeatable.
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        #[arg(long, conflicts_with = "body_file")]
        body: Option<String>,
        #[arg(long)]
        body_file: Option<std::path::PathBuf>,
        /// Open loop: requests per second.
        #[arg(long, conflicts_with = "concurrency")]
        rate: Option<f64>,
        #[arg(long, value_enum, default_value = "poisson")]
        arrival: load::Arrival,
        /// Closed loop: callers, each on a connection of its own.
        #[arg(long)]
        concurrency: Option<usize>,
        /// Measured seconds (after the warmup).
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 0.0)]
        warmup: f64,
        /// Open loop: most connections (and requests under way) at once.
        #[arg(long, default_value_t = 1024)]
        connections: usize,
        /// Seconds a request may take from its due time (waiting for a connection and the
        /// whole body included).
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
        /// A 2xx whose body lacks this text counts as an error (`[DONE]`, `message_stop`).
        #[arg(long)]
        expect: Option<String>,
        /// Sample the RSS of this process and its descendants during the run; repeatable.
        #[arg(long = "watch-pid")]
        watch_pids: Vec<u32>,
        /// A name for the run in its output.
        #[arg(long)]
        label: Option<String>,
        /// Runtime worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
    },
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    host: String,
    key_id: String,
    secret: String,
}

impl Client {
    fn new(cli: &Cli) -> anyhow::Result<Client> {
        let key_id = cli
            .access_key_id
            .clone()
            .context("--access-key-id (or AMC_ACCESS_KEY_ID) is required")?;
        let secret = cli
            .access_key_secret
            .clone()
            .context("--access-key-secret (or AMC_ACCESS_KEY_SECRET) is required")?;
        let base = cli.endpoint.trim_end_matches('/').to_string();
        let host = base
            .split_once("://")
            .map_or(base.as_str(), |(_, rest)| rest)
            .to_string();
        Ok(Client {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .unwrap_or_default(),
            base,
            host,
            key_id,
            secret,
        })
    }

    async fn call(
        &self,
        action: &str,
        version: &str,
        query: &FlatParams,
    ) -> anyhow::Result<bytes::Bytes> {
        let (status, body) = self.answer(action, version, query).await?;
        if !status.is_success() {
            bail!(
                "{action} failed: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(body)
    }

    /// One signed call and whatever the server answered, error statuses included.
    async fn answer(
        &self,
        action: &str,
        version: &str,
        query: &FlatParams,
    ) -> anyhow::Result<(reqwest::StatusCode, bytes::Bytes)> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let empty = FlatParams::new();
        let signed = sign_v3(&SigningInput {
            method: "POST",
            host: &self.host,
            action,
            version,
            query,
            form: &empty,
            access_key_id: &self.key_id,
            access_key_secret: &self.secret,
            security_token: None,
            nonce: &nonce,
            timestamp: chrono::Utc::now(),
        });
        let mut request = self
            .http
            .post(format!("{}{}", self.base, signed.path_and_query))
            .body(signed.body);
        for (name, value) in &signed.headers {
            if name != "host" {
                request = request.header(name, value);
            }
        }
        let response = request.send().await?;
        let status = response.status();
        // Like any load generator, read the body but leave parsing it to the seed, which
        // needs it: the measured side is the server.
        let body = response.bytes().await?;
        Ok((status, body))
    }
}

/// What `list` asks for: the OpenClaw runtimes that run, a page of 20.
fn list_params() -> FlatParams {
    params(&[
        ("AgentProvider", "OpenClaw".into()),
        ("DesktopStatuses.1", "Running".into()),
        ("PageSize", "20".into()),
    ])
}

fn parse_params(raw: &[String]) -> anyhow::Result<FlatParams> {
    let mut query = FlatParams::new();
    for pair in raw {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("--param {pair}: expected Name=Value"))?;
        query.insert(name, value);
    }
    Ok(query)
}

/// A Lua string literal of `bytes`.
fn lua_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 16);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

/// The wrk script: every request whole (head and body), each thread taking its own share.
fn write_wrk_script(
    client: &Client,
    out: &std::path::Path,
    count: usize,
    action: &str,
    version: &str,
    query: &FlatParams,
) -> anyhow::Result<()> {
    use std::io::Write;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut lua = std::io::BufWriter::new(file);
    writeln!(lua, "local requests = {{")?;
    let empty = FlatParams::new();
    let timestamp = chrono::Utc::now();
    for _ in 0..count {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let signed = sign_v3(&SigningInput {
            method: "POST",
            host: &client.host,
            action,
            version,
            query,
            form: &empty,
            access_key_id: &client.key_id,
            access_key_secret: &client.secret,
            security_token: None,
            nonce: &nonce,
            timestamp,
        });
        let mut raw = format!("POST {} HTTP/1.1\r\n", signed.path_and_query).into_bytes();
        for (name, value) in &signed.headers {
            raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        raw.extend_from_slice(format!("content-length: {}\r\n\r\n", signed.body.len()).as_bytes());
        raw.extend_from_slice(&signed.body);
        writeln!(lua, "{},", lua_string(&raw))?;
    }
    writeln!(
        lua,
        "}}\n\
         local threads = 0\n\
         function setup(thread) thread:set(\"first\", threads); threads = threads + 1 end\n\
         function init(args) step = {WRK_THREADS}; next = first + 1 end\n\
         function request()\n\
           local r = requests[next]\n\
           if r == nil then next = first + 1; r = requests[next] end\n\
           next = next + step\n\
           return r\n\
         end"
    )?;
    lua.flush()?;
    Ok(())
}

/// Threads the wrk script is written for (`wrk -t`).
const WRK_THREADS: usize = 2;

fn params(pairs: &[(&str, String)]) -> FlatParams {
    let mut params = FlatParams::new();
    for (name, value) in pairs {
        params.insert(*name, value.clone());
    }
    params
}

async fn seed(client: Client, count: usize, concurrency: usize) -> anyhow::Result<()> {
    seed_with(client, count, concurrency, None).await
}

/// Seeds runtimes; with `group`, all are JVS Claw (OpenClaw) runtimes in that resource group.
async fn seed_with(
    client: Client,
    count: usize,
    concurrency: usize,
    group: Option<String>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let calls = count.div_ceil(100);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, group) = (client.clone(), next.clone(), group.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= calls {
                    return Ok::<(), anyhow::Error>(());
                }
                let amount = (count - i * 100).min(100);
                let mut pairs = vec![
                    ("RegionId", "cn-hangzhou".to_string()),
                    ("Amount", amount.to_string()),
                ];
                if let Some(group) = &group {
                    pairs.push(("ResourceGroupId", group.clone()));
                    pairs.push(("BundleId", "b-openclaw-linux".into()));
                } else {
                    match i % 4 {
                        0 => pairs.push(("BundleId", "b-openclaw-linux".into())),
                        1 => pairs.push(("BundleId", "b-hermes-linux".into())),
                        2 => pairs.push((
                            "DesktopAttachment",
                            r#"{"ImageId":"imgc-0aae4rxv3pz7idcot"}"#.into(),
                        )),
                        _ => pairs.push((
                            "DesktopAttachment",
                            r#"{"ImageId":"imgc-0ae8jvkn4tzatayay"}"#.into(),
                        )),
                    }
                }
                if i % 3 == 0 {
                    pairs.push(("EndUserId.1", format!("user-{}", i % 50)));
                }
                pairs.push(("DesktopName", format!("bench-{i}")));
                client
                    .call("CreateDesktops", "2020-09-30", &params(&pairs))
                    .await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    println!(
        "seeded {count} runtimes in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn json(body: &[u8]) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_slice(body)?)
}

async fn timed(
    client: &Client,
    action: &str,
    version: &str,
    query: &FlatParams,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    client.call(action, version, query).await?;
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

fn summary(what: &str, times: &[f64]) {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let max = sorted.last().copied().unwrap_or(0.0);
    println!(
        "{what}: median {median:.1} ms, max {max:.1} ms over {} calls",
        times.len()
    );
}

/// A new resource group named after `prefix`, with `count` OpenClaw runtimes seeded into it.
async fn seeded_group(client: &Client, prefix: &str, count: usize) -> anyhow::Result<String> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let group = json(
        &client
            .call(
                "CreateResourceGroup",
                "2020-03-31",
                &params(&[
                    ("Name", format!("{prefix}-{tag}")),
                    ("DisplayName", prefix.into()),
                ]),
            )
            .await?,
    )?;
    let group_id = group["ResourceGroup"]["Id"]
        .as_str()
        .context("CreateResourceGroup: no Id")?
        .to_string();
    seed_with(client.clone(), count, 4, Some(group_id.clone())).await?;
    Ok(group_id)
}

/// A new OpenClaw model group named `name`; its id.
async fn model_group(client: &Client, name: &str) -> anyhow::Result<String> {
    let created = json(
        &client
            .call(
                "CreateModelTemplate",
                "2021-09-01",
                &params(&[
                    ("AgentProvider", "OpenClaw".into()),
                    ("BizType", "1".into()),
                    ("Name", name.into()),
                ]),
            )
            .await?,
    )?;
    Ok(created["Data"]["ModelTemplateId"]
        .as_str()
        .context("CreateModelTemplate: no id")?
        .to_string())
}

async fn delivery(client: Client, count: usize, batch: usize, rounds: usize) -> anyhow::Result<()> {
    let group_id = seeded_group(&client, "bench", count).await?;
    let inherited = model_group(&client, "bench-inherited").await?;
    let direct = model_group(&client, "bench-direct").await?;
    let bind = params(&[
        ("ModelTemplateId", inherited.clone()),
        ("ResourceGroupId", group_id.clone()),
    ]);
    let bind_ms = timed(
        &client,
        "ConfigResourceGroupModelTemplate",
        "2021-09-01",
        &bind,
    )
    .await?;
    println!("ConfigResourceGroupModelTemplate (group of {count} runtimes): {bind_ms:.1} ms");

    let mut ids = runtimes_in(&client, &group_id, batch).await?;
    ids.truncate(batch);
    let mut pairs = vec![
        ("ModelTemplateId", direct.clone()),
        ("RuntimeType", "CloudDesktop".into()),
    ];
    let names: Vec<String> = (1..=ids.len()).map(|i| format!("RuntimeIds.{i}")).collect();
    for (name, id) in names.iter().zip(&ids) {
        pairs.push((name.as_str(), id.clone()));
    }
    let batch_params = params(&pairs);
    let (mut assign, mut remove, mut update) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        assign.push(
            timed(
                &client,
                "ConfigRuntimeModelTemplate",
                "2021-09-01",
                &batch_params,
            )
            .await?,
        );
        remove.push(
            timed(
                &client,
                "RemoveRuntimeModelTemplate",
                "2021-09-01",
                &batch_params,
            )
            .await?,
        );
        let patch = params(&[
            ("ModelTemplateId", inherited.clone()),
            ("Description", format!("round {round}")),
        ]);
        update.push(timed(&client, "UpdateModelTemplate", "2021-09-01", &patch).await?);
    }
    summary(
        &format!("ConfigRuntimeModelTemplate ({} runtime ids)", ids.len()),
        &assign,
    );
    summary(
        &format!("RemoveRuntimeModelTemplate ({} runtime ids)", ids.len()),
        &remove,
    );
    summary(
        &format!("UpdateModelTemplate (group inherited by {count} runtimes)"),
        &update,
    );
    Ok(())
}

/// A small xorshift generator: the load only needs to be spread, not unpredictable.
struct Spread(u64);

impl Spread {
    fn new() -> Spread {
        Spread(uuid::Uuid::new_v4().as_u64_pair().0 | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// The ids of the runtimes in resource group `group`, through ListDesktopAgentRuntime.
async fn runtimes_in(client: &Client, group: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    for page in 1..=count.div_ceil(100) {
        let query = params(&[
            ("AgentProvider", "OpenClaw".into()),
            ("ResourceGroupId", group.to_string()),
            ("PageSize", "100".into()),
            ("PageNumber", page.to_string()),
        ]);
        let body = json(
            &client
                .call("ListDesktopAgentRuntime", "2021-09-01", &query)
                .await?,
        )?;
        ids.extend(
            body["Data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["DesktopId"].as_str().map(str::to_string)),
        );
    }
    Ok(ids)
}

/// What the contention load saw: answers per (action, HTTP status, code), and latencies.
#[derive(Default)]
struct Tally {
    answers: std::collections::BTreeMap<(&'static str, u16, String), usize>,
    latencies_us: Vec<u64>,
}

async fn contention(
    client: Client,
    clients: usize,
    seconds: u64,
    runtimes: usize,
    batch: usize,
    groups: usize,
) -> anyhow::Result<()> {
    let group_id = seeded_group(&client, "contention", runtimes).await?;
    let mut templates = Vec::with_capacity(groups);
    for i in 0..groups.max(1) {
        templates.push(model_group(&client, &format!("contention-{i}")).await?);
    }
    // The runtimes without a group of their own inherit the first one: its updates sweep them.
    client
        .call(
            "ConfigResourceGroupModelTemplate",
            "2021-09-01",
            &params(&[
                ("ModelTemplateId", templates[0].clone()),
                ("ResourceGroupId", group_id.clone()),
            ]),
        )
        .await?;
    let ids = Arc::new(runtimes_in(&client, &group_id, runtimes).await?);
    let templates = Arc::new(templates);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, stop, ids, templates) =
            (client.clone(), stop.clone(), ids.clone(), templates.clone());
        tasks.push(tokio::spawn(async move {
            let mut spread = Spread::new();
            let mut tally = Tally::default();
            while !stop.load(Ordering::Relaxed) {
                let template = templates[spread.below(templates.len())].clone();
                // A run of runtimes from a random start, stepping by 7: batches overlap, and
                // each names its runtimes in its own order.
                let pick = |spread: &mut Spread, n: usize| -> Vec<String> {
                    let start = spread.below(ids.len());
                    (0..n.min(ids.len()))
                        .map(|i| ids[(start + i * 7) % ids.len()].clone())
                        .collect()
                };
                let (action, version, query): (&'static str, &str, FlatParams) =
                    match spread.below(4) {
                        op @ (0 | 1) => {
                            let mut query = FlatParams::new();
                            query.insert("ModelTemplateId", template);
                            query.insert("RuntimeType", "CloudDesktop");
                            for (i, id) in pick(&mut spread, batch).into_iter().enumerate() {
                                query.insert(format!("RuntimeIds.{}", i + 1), id);
                            }
                            let action = if op == 0 {
                                "ConfigRuntimeModelTemplate"
                            } else {
                                "RemoveRuntimeModelTemplate"
                            };
                            (action, "2021-09-01", query)
                        }
                        2 => {
                            let mut query = FlatParams::new();
                            query.insert("ModelTemplateId", template);
                            query.insert("Description", format!("d{}", spread.below(1000)));
                            ("UpdateModelTemplate", "2021-09-01", query)
                        }
                        _ => {
                            let mut query = FlatParams::new();
                            query.insert("RegionId", "cn-hangzhou");
                            for (i, id) in pick(&mut spread, 5).into_iter().enumerate() {
                                query.insert(format!("DesktopId.{}", i + 1), id);
                            }
                            let action = if spread.below(2) == 0 {
                                "StopDesktops"
                            } else {
                                "StartDesktops"
                            };
                            (action, "2020-09-30", query)
                        }
                    };
                let t = Instant::now();
                let (status, code) = match client.answer(action, version, &query).await {
                    Ok((status, _)) if status.is_success() => (status.as_u16(), String::new()),
                    Ok((status, body)) => {
                        let code = serde_json::from_slice::<serde_json::Value>(&body)
                            .ok()
                            .and_then(|v| v["Code"].as_str().map(str::to_string))
                            .unwrap_or_default();
                        (status.as_u16(), code)
                    }
                    Err(e) => (0, e.to_string()),
                };
                tally.latencies_us.push(t.elapsed().as_micros() as u64);
                *tally.answers.entry((action, status, code)).or_default() += 1;
            }
            tally
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await?;
        for (key, n) in tally.answers {
            *all.answers.entry(key).or_default() += n;
        }
        all.latencies_us.extend(tally.latencies_us);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let pct = |p: f64| {
        let idx = ((all.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        all.latencies_us.get(idx).copied().unwrap_or(0) as f64 / 1000.0
    };
    let calls: usize = all.answers.values().sum();
    let server_errors: usize = all
        .answers
        .iter()
        .filter(|((_, status, _), _)| *status >= 500 || *status == 0)
        .map(|(_, n)| n)
        .sum();
    println!(
        "contention x{clients} over {} runtimes: {calls} calls in {elapsed:.1}s = {:.0} calls/s; \
         {server_errors} answered 5xx ({:.1} %); latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ids.len(),
        calls as f64 / elapsed,
        100.0 * server_errors as f64 / calls.max(1) as f64,
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
    for ((action, status, code), n) in &all.answers {
        println!("  {action} {status} {code}: {n}");
    }
    Ok(())
}

struct Report {
    ok: usize,
    failed: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Report {
    fn print(mut self, what: &str) {
        self.latencies_us.sort_unstable();
        let pct = |p: f64| {
            let idx = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
            self.latencies_us.get(idx).copied().unwrap_or(0) as f64 / 1000.0
        };
        println!(
            "{what}: {} ok, {} failed in {:.1}s = {:.0} requests/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.ok,
            self.failed,
            self.elapsed.as_secs_f64(),
            self.ok as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            pct(1.0),
        );
    }
}

async fn load(
    client: Client,
    action: &str,
    version: &str,
    query: FlatParams,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<Report> {
    // Check once that the call succeeds before measuring.
    client
        .call(action, version, &query)
        .await
        .context("warm-up call")?;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, stop, query, action, version) = (
            client.clone(),
            stop.clone(),
            query.clone(),
            action.to_string(),
            version.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut latencies) = (0usize, 0usize, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match client.call(&action, &version, &query).await {
                    Ok(_) => {
                        ok += 1;
                        latencies.push(t.elapsed().as_micros() as u64);
                    }
                    Err(_) => failed += 1,
                }
            }
            (ok, failed, latencies)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut report = Report {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for task in tasks {
        let (ok, failed, latencies) = task.await?;
        report.ok += ok;
        report.failed += failed;
        report.latencies_us.extend(latencies);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let threads = match &cli.command {
        Command::MockUpstream { threads, .. } | Command::Load { threads, .. } => *threads,
        _ => None,
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = threads {
        runtime.worker_threads(threads.max(1));
    }
    runtime.build()?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let client = Client::new(&cli);
    let command = match cli.command {
        Command::MockUpstream {
            listen,
            stream_chunks,
            chunk_delay_ms,
            threads: _,
        } => {
            return mock::serve(mock::MockOptions {
                listen,
                stream_chunks,
                chunk_delay_ms,
            })
            .await;
        }
        Command::Load {
            url,
            method,
            headers,
            body,
            body_file,
            rate,
            arrival,
            concurrency,
            duration,
            warmup,
            connections,
            timeout,
            expect,
            watch_pids,
            label,
            threads: _,
        } => {
            let body = match (body, body_file) {
                (Some(body), _) => Some(bytes::Bytes::from(body)),
                (None, Some(path)) => Some(bytes::Bytes::from(
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
                )),
                (None, None) => None,
            };
            return load::load(load::LoadOptions {
                url,
                method,
                headers,
                body,
                rate,
                arrival,
                concurrency,
                duration,
                warmup,
                connections,
                timeout,
                expect,
                watch_pids,
                label,
            })
            .await;
        }
        Command::SkillScan { dir } => return skillscan::scan_dir(&dir),
        Command::SkillParse {
            files,
            file_bytes,
            iterations,
        } => return skillscan::parse_bench(files, file_bytes, iterations),
        command => command,
    };
    let client = client?;
    match command {
        Command::Seed { count, concurrency } => seed(client, count, concurrency).await,
        Command::RamUser {
            name,
            policies,
            statements,
        } => ram_user::create(client, &name, policies, statements).await,
        Command::List {
            concurrency,
            seconds,
        } => {
            let report = load(
                client,
                "ListDesktopAgentRuntime",
                "2021-09-01",
                list_params(),
                concurrency,
                seconds,
            )
            .await?;
            report.print(&format!("ListDesktopAgentRuntime x{concurrency}"));
            Ok(())
        }
        Command::Delivery {
            count,
            batch,
            rounds,
        } => delivery(client, count, batch, rounds).await,
        Command::Contention {
            clients,
            seconds,
            runtimes,
            batch,
            groups,
        } => contention(client, clients, seconds, runtimes, batch, groups).await,
        Command::WrkScript {
            out,
            count,
            action,
            version,
            params: raw,
        } => {
            let (action, version, query) = match action {
                Some(action) => {
                    let version = version.context("--action needs --version")?;
                    (action, version, parse_params(&raw)?)
                }
                None => (
                    "ListDesktopAgentRuntime".to_string(),
                    "2021-09-01".to_string(),
                    list_params(),
                ),
            };
            write_wrk_script(&client, &out, count, &action, &version, &query)?;
            println!("{count} signed {action} requests in {}", out.display());
            Ok(())
        }
        Command::Fleet {
            daemons,
            dir,
            enroll_secret,
            server_pid,
            concurrency,
            rounds,
        } => {
            fleet::fleet(
                client,
                fleet::FleetOptions {
                    daemons,
                    dir,
                    enroll_secret,
                    server_pid,
                    concurrency,
                    rounds,
                },
            )
            .await
        }
        Command::Call {
            action,
            version,
            params: raw,
            concurrency,
            seconds,
            once,
        } => {
            let query = parse_params(&raw)?;
            if once {
                let started = Instant::now();
                client.call(&action, &version, &query).await?;
                println!(
                    "{action}: one call in {:.1} ms",
                    started.elapsed().as_secs_f64() * 1000.0
                );
                return Ok(());
            }
            let report = load(client, &action, &version, query, concurrency, seconds).await?;
            report.print(&format!("{action} x{concurrency}"));
            Ok(())
        }
        Command::MockUpstream { .. }
        | Command::Load { .. }
        | Command::SkillScan { .. }
        | Command::SkillParse { .. } => Ok(()),
    }
}
