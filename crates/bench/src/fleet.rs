//! `amc-bench fleet`: a simulated fleet of node daemons (the daemon library itself, each over a
//! directory of its own) against one server: enrols them with a tenant enrolment secret, gives
//! them a model group, and measures the time until every daemon has applied a new generation
//! after one `UpdateModelTemplate`, the report ingestion rate, and the server's CPU and memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_proto::Product;
use anyhow::Context;

use crate::{Client, json, model_group, params};

pub struct FleetOptions {
    pub daemons: usize,
    pub dir: PathBuf,
    pub enroll_secret: String,
    pub server_pid: Option<u32>,
    pub concurrency: usize,
    pub rounds: usize,
}

/// CPU seconds (user + system) and resident KiB of a process, from /proc.
fn usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((ticks / 100.0, rss))
}

struct Counters {
    applied: Vec<AtomicI64>,
    reports: AtomicU64,
}

impl Counters {
    fn at_least(&self, generation: i64) -> usize {
        self.applied
            .iter()
            .filter(|g| g.load(Ordering::Relaxed) >= generation)
            .count()
    }
}

async fn enrol_all(client: &Client, options: &FleetOptions) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); options.daemons]));
    let mut tasks = Vec::new();
    for _ in 0..options.concurrency {
        let (next, ids, dir) = (next.clone(), ids.clone(), options.dir.clone());
        let (server, secret, count) = (
            client.base.clone(),
            options.enroll_secret.clone(),
            options.daemons,
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<(), anyhow::Error>(());
                }
                let root = dir.join(format!("d{i:05}"));
                let home = root.join("home");
                std::fs::create_dir_all(home.join(".openclaw"))?;
                std::fs::write(
                    home.join(".openclaw/openclaw.json"),
                    "{\"gateway\": {\"mode\": \"local\"}}\n",
                )?;
                let credentials = daemon::enroll(daemon::EnrollOptions {
                    server: server.clone(),
                    token: secret.clone(),
                    product: Some(Product::OpenClaw),
                    dir: root.join("amc-agent"),
                    home,
                    hostname: format!("fleet-{i:05}"),
                    env: Arc::new(|_| None),
                    ca_cert: None,
                })
                .await?;
                if let Ok(mut ids) = ids.lock()
                    && let Some(slot) = ids.get_mut(i)
                {
                    *slot = credentials.runtime_id;
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let ids = ids.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    Ok(ids)
}

fn root_of(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("d{i:05}"))
}

pub async fn fleet(client: Client, options: FleetOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let ids = enrol_all(&client, &options).await?;
    println!(
        "enrolled {} daemons in {:.1}s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );

    let group = model_group(&client, "fleet").await?;
    let provider = json(
        &client
            .call(
                "CreateModelProviderTemplate",
                "2021-09-01",
                &params(&[
                    ("ModelTemplateId", group.clone()),
                    ("ProviderName", "provider-fleet".into()),
                    ("AgentProvider", "OpenClaw".into()),
                    ("BizType", "1".into()),
                    (
                        "Config",
                        r#"{"baseUrl":"http://127.0.0.1:9/v1","apiKey":"sk-fleet"}"#.into(),
                    ),
                ]),
            )
            .await?,
    )?;
    let provider = provider["Data"]["ProviderTemplateId"]
        .as_str()
        .context("CreateModelProviderTemplate: no id")?
        .to_string();
    client
        .call(
            "BatchCreateLlmTemplates",
            "2021-09-01",
            &params(&[
                ("ProviderTemplateId", provider),
                ("LlmTemplateItems.1.LlmCode", "fleet-model".into()),
                ("LlmTemplateItems.1.IsDefaultModel", "true".into()),
            ]),
        )
        .await?;
    for chunk in ids.chunks(100) {
        let mut pairs = vec![
            ("ModelTemplateId", group.clone()),
            ("RuntimeType", "CloudDesktop".to_string()),
        ];
        let names: Vec<String> = (1..=chunk.len())
            .map(|i| format!("RuntimeIds.{i}"))
            .collect();
        for (name, id) in names.iter().zip(chunk) {
            pairs.push((name.as_str(), id.clone()));
        }
        client
            .call("ConfigRuntimeModelTemplate", "2021-09-01", &params(&pairs))
            .await?;
    }

    let counters = Arc::new(Counters {
        applied: (0..ids.len()).map(|_| AtomicI64::new(0)).collect(),
        reports: AtomicU64::new(0),
    });
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(ids.len());
    // One pool for all: each waiting poll holds a connection, reports share the idle ones.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .context("HTTP client")?;
    for i in 0..ids.len() {
        let counters = counters.clone();
        let observer: daemon::Observer = Arc::new(move |event| match event {
            daemon::Event::Applied { generation } => {
                if let Some(slot) = counters.applied.get(i) {
                    slot.fetch_max(generation, Ordering::Relaxed);
                }
            }
            daemon::Event::Reported => {
                counters.reports.fetch_add(1, Ordering::Relaxed);
            }
        });
        let root = root_of(&options.dir, i);
        let run = daemon::run(daemon::RunOptions {
            dir: root.join("amc-agent"),
            home: root.join("home"),
            env: Arc::new(|_| None),
            check_interval: Duration::from_secs(15),
            until_generation: None,
            observer: Some(observer),
            http: Some(http.clone()),
        });
        tasks.push(tokio::spawn(async move {
            if let Err(error) = run.await {
                eprintln!("daemon {i} stopped: {error}");
            }
        }));
        // Hosts do not all boot in the same millisecond: 10,000 start over about two seconds.
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let wait_all = |generation: i64, since: Instant| {
        let counters = counters.clone();
        async move {
            loop {
                let done = counters.at_least(generation);
                if done == counters.applied.len() {
                    return Ok::<f64, anyhow::Error>(since.elapsed().as_secs_f64());
                }
                if since.elapsed() > Duration::from_secs(300) {
                    anyhow::bail!(
                        "only {done} of {} daemons converged",
                        counters.applied.len()
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // Every daemon's first generation is its runtime's own; wait for all to have applied one.
    let first = match wait_all(1, started).await {
        Ok(took) => took,
        Err(error) => {
            for task in tasks.iter().filter(|t| t.is_finished()).take(5) {
                task.abort();
            }
            let stopped = tasks.iter().filter(|t| t.is_finished()).count();
            anyhow::bail!("{error} ({stopped} daemons stopped)");
        }
    };
    println!(
        "all {} daemons applied their first desired state in {first:.2}s",
        ids.len()
    );
    // Let the start-up reports settle, then measure steady ingestion.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let steady_from = (counters.reports.load(Ordering::Relaxed), Instant::now());
    let cpu_from = options.server_pid.and_then(usage);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let reports = counters.reports.load(Ordering::Relaxed) - steady_from.0;
    let seconds = steady_from.1.elapsed().as_secs_f64();
    println!("steady state: {:.0} reports/s", reports as f64 / seconds);
    if let (Some(pid), Some((cpu0, _))) = (options.server_pid, cpu_from)
        && let Some((cpu1, rss)) = usage(pid)
    {
        println!(
            "server idle with {} daemons long-polling: {:.1}% of one core, {} MiB resident",
            ids.len(),
            (cpu1 - cpu0) / seconds * 100.0,
            rss / 1024
        );
    }

    let mut generation = counters
        .applied
        .iter()
        .map(|g| g.load(Ordering::Relaxed))
        .min()
        .unwrap_or(1);
    for round in 0..options.rounds {
        let cpu_from = options.server_pid.and_then(usage);
        let reports_from = counters.reports.load(Ordering::Relaxed);
        let since = Instant::now();
        let update = params(&[
            ("ModelTemplateId", group.clone()),
            ("Description", format!("round {round}")),
        ]);
        // A pooled connection the server closed as idle fails once; the call did not land.
        let mut attempt = 0;
        while let Err(error) = client
            .call("UpdateModelTemplate", "2021-09-01", &update)
            .await
        {
            attempt += 1;
            if attempt == 3 {
                return Err(error);
            }
        }
        generation += 1;
        let took = wait_all(generation, since).await?;
        let reports = counters.reports.load(Ordering::Relaxed) - reports_from;
        let cpu = match (options.server_pid, cpu_from) {
            (Some(pid), Some((cpu0, _))) => usage(pid).map(|(cpu1, rss)| {
                format!(
                    ", server CPU {:.2}s ({:.0}% of one core), {} MiB resident",
                    cpu1 - cpu0,
                    (cpu1 - cpu0) / took * 100.0,
                    rss / 1024
                )
            }),
            _ => None,
        }
        .unwrap_or_default();
        println!(
            "UpdateModelTemplate -> all {} daemons applied generation {generation} in {took:.2}s \
             ({reports} reports, {:.0} reports/s{cpu})",
            ids.len(),
            reports as f64 / took,
        );
    }
    for task in tasks {
        task.abort();
    }
    Ok(())
}
