//! The amc binary: `serve` runs the control plane, `admin` does operator tasks on its store,
//! `call` invokes any API action from the shell, signed like the SDKs sign.

mod agent;
mod audit;
mod call;
mod credits;
mod enrolment;
mod keys;
mod packages;
mod setup;
mod sim_fleet;
mod skill_jobs;
mod uploads;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

// glibc's allocator spends a large share of the server's time under many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "amc",
    version,
    about = "Agent Management Center: a self-hosted, wire-compatible control plane for AI-agent runtimes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Operator tasks on the store (safe while the server runs).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Call an API action: `amc call DescribeDesktops --Version 2020-09-30 --RegionId cn-hangzhou`.
    Call(call::CallArgs),
    /// The node daemon on an agent host: `enroll` once, then `run`.
    Agent {
        #[command(subcommand)]
        command: agent::AgentCommand,
    },
}

/// Where the store lives; shared by every command that opens it.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// Directory for the embedded database, the master key and the first access key.
    #[arg(long, env = "AMC_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// `postgres://…` to run on PostgreSQL instead of the embedded SQLite file.
    #[arg(long, env = "AMC_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "AMC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve HTTPS: the certificate chain, PEM, leaf first (with `--tls-key`).
    #[arg(long, env = "AMC_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key, PEM.
    #[arg(long, env = "AMC_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Delay of each simulated provisioning step, in milliseconds (0: operations complete at once).
    #[arg(long, env = "AMC_SIM_STEP_DELAY_MS", default_value_t = 2000)]
    sim_step_delay_ms: u64,
    /// A JSON catalogue of images and bundles replacing the built-in one.
    #[arg(long, env = "AMC_CATALOGUE")]
    catalogue: Option<PathBuf>,
    /// Connections served at once (lowered to what the file-descriptor limit allows).
    #[arg(long, env = "AMC_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// A proxy or load balancer whose `X-Forwarded-For` names the client (an address or a CIDR;
    /// repeatable, or comma-separated in the environment): `acs:SourceIp` and the audit trail
    /// see the client behind it.
    #[arg(long = "trusted-proxy", env = "AMC_TRUSTED_PROXIES", value_delimiter = ',', value_parser = network)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Seconds for a request head to arrive; also how long a keep-alive connection may idle.
    #[arg(long, env = "AMC_HEADER_TIMEOUT_SECS", default_value_t = 15)]
    header_timeout_secs: u64,
    /// Seconds for a request body to arrive once its head has.
    #[arg(long, env = "AMC_BODY_TIMEOUT_SECS", default_value_t = 30)]
    body_timeout_secs: u64,
    /// Seconds a response write may make no progress before the connection is dropped.
    #[arg(long, env = "AMC_WRITE_TIMEOUT_SECS", default_value_t = 30)]
    write_timeout_secs: u64,
    /// MiB of request bodies buffered at once, across all connections.
    #[arg(long, env = "AMC_BODY_BUDGET_MIB", default_value_t = 256)]
    body_budget_mib: usize,
    /// Seconds between a node daemon's reports when nothing changes.
    #[arg(long, env = "AMC_AGENT_REPORT_INTERVAL_SECS", default_value_t = 30)]
    agent_report_interval_secs: u64,
    /// Give every running runtime a node daemon in this process, over a directory of its own
    /// under this one (a simulated fleet).
    #[arg(long, env = "AMC_SIM_DAEMONS")]
    sim_daemons: Option<PathBuf>,
    /// Seconds without a report after which a runtime's agent turns Unavailable.
    #[arg(long, env = "AMC_AGENT_GRACE_SECS", default_value_t = 90)]
    agent_grace_secs: u64,
    /// Where agents reach the model gateway, `http://host:port` (it serves under `/v1`); by
    /// default the address each node daemon reaches this server at.
    #[arg(long, env = "AMC_GATEWAY_URL")]
    gateway_url: Option<String>,
    /// Upstream addresses (CIDR blocks or addresses, comma-separated) the gateway may reach
    /// although refused by default (link-local, cloud metadata).
    #[arg(long, env = "AMC_GATEWAY_ALLOW", value_delimiter = ',')]
    gateway_allow: Vec<String>,
    /// Upstream addresses the gateway must never reach (loopback and private ones are allowed
    /// by default, for local models).
    #[arg(long, env = "AMC_GATEWAY_DENY", value_delimiter = ',')]
    gateway_deny: Vec<String>,
    /// Seconds an upstream may take to connect, to answer, or between two pieces of a stream,
    /// before the call fails over to the group's next model.
    #[arg(long, env = "AMC_GATEWAY_UPSTREAM_TIMEOUT_SECS", default_value_t = 120)]
    gateway_upstream_timeout_secs: u64,
    /// The OpenAI-compatible upstream of WuyingCredit providers that name no base URL.
    #[arg(long, env = "AMC_CREDIT_UPSTREAM_URL")]
    credit_upstream_url: Option<String>,
    /// The API key sent to the credit upstream.
    #[arg(long, env = "AMC_CREDIT_UPSTREAM_KEY", hide_env_values = true)]
    credit_upstream_key: Option<String>,
    /// The object directory: skill packages, under `<dir>/<bucket>/<key>` (default
    /// `<data dir>/objects`).
    #[arg(long, env = "AMC_OBJECTS_DIR")]
    objects_dir: Option<PathBuf>,
    /// An object store instead of the directory: `s3://<bucket>[/<prefix>]`, configured by the
    /// usual `AWS_*` variables (`AWS_ENDPOINT` for any S3-compatible store). Replicas must share
    /// one object store.
    #[arg(long, env = "AMC_OBJECTS_URL", conflicts_with = "objects_dir")]
    objects_url: Option<String>,
    /// Calls one access key may sign per second (0: no limit); more get `Throttling.User`. On
    /// PostgreSQL the count is shared by every replica.
    #[arg(long, env = "AMC_API_RATE_LIMIT", default_value_t = 200)]
    api_rate_limit: u32,
    /// Seconds the upload credentials of `GetOssStsToken` last.
    #[arg(long, env = "AMC_UPLOAD_TTL_SECS", default_value_t = 3600)]
    upload_ttl_secs: u64,
    /// Largest object an upload may leave, in MiB (enforced while the body streams).
    #[arg(long, env = "AMC_UPLOAD_MAX_MIB", default_value_t = 512)]
    upload_max_mib: u64,
    /// Upload bodies streamed at once (each holds up to about 10 MiB); more get
    /// `503 ServiceUnavailable`.
    #[arg(long, env = "AMC_UPLOAD_CONCURRENCY", default_value_t = 32)]
    upload_concurrency: usize,
    /// Seconds an upload body may send nothing before it is dropped.
    #[arg(long, env = "AMC_UPLOAD_IDLE_SECS", default_value_t = 30)]
    upload_idle_secs: u64,
    /// Skill packages this replica parses at once (0: it leaves parsing to other replicas).
    #[arg(long, env = "AMC_SKILL_PARSE_WORKERS", default_value_t = 1)]
    skill_parse_workers: usize,
    /// Most files a skill package may hold.
    #[arg(long, env = "AMC_SKILL_MAX_FILES", default_value_t = 10_000)]
    skill_max_files: usize,
    /// Most bytes a skill package may unpack to, in MiB.
    #[arg(long, env = "AMC_SKILL_MAX_UNPACKED_MIB", default_value_t = 256)]
    skill_max_unpacked_mib: u64,
}

impl ServeArgs {
    fn limits(&self) -> web::Limits {
        web::Limits {
            max_connections: self.max_connections.max(1),
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(self.body_timeout_secs.max(1)),
            write_timeout: Duration::from_secs(self.write_timeout_secs.max(1)),
            body_budget: self.body_budget_mib.max(1).saturating_mul(1024 * 1024),
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }
}

/// An address (`10.0.0.5`, one host) or a network (`10.0.0.0/8`).
fn network(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR"))
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Tenants (accounts).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Make a node-daemon enrolment token: one-time for a runtime (`--runtime`), or a tenant's
    /// secret that registers each new host presenting it (`--new-hosts`). Prints it last.
    EnrollToken(enrolment::EnrollTokenArgs),
    /// Revoke a runtime's daemon credential, an enrolment token or secret, or upload credentials.
    Revoke(enrolment::RevokeArgs),
    /// Whether drift on a runtime (or the runtimes of a resource group) is repaired at once or
    /// reported and left in place.
    DriftPolicy(enrolment::DriftPolicyArgs),
    /// The audit trail: every call that changed state and every refused call, as JSON lines.
    Audit(audit::AuditArgs),
    /// Model credit packs.
    Credits {
        #[command(subcommand)]
        command: credits::CreditsCommand,
    },
    /// Issue a new model gateway key for a runtime (revoking its earlier ones; its node daemon
    /// receives it) and print it last, or revoke them all with `--revoke`.
    GatewayKey(credits::GatewayKeyArgs),
    /// The calls per second one access key may sign, instead of the server's
    /// `--api-rate-limit` (servers see it within 10 s).
    KeyRateLimit(keys::KeyRateLimitArgs),
    /// The gateway's per-minute request and token limits of a runtime (each call sets both).
    RateLimit(credits::RateLimitArgs),
    /// Re-encrypt every stored secret under a new master key and replace the key file. Stop
    /// every server using the store first. With `AMC_MASTER_KEY` set, prints the new key to put
    /// there instead.
    RotateMasterKey {
        /// The new key (64 hex digits or base64 of 32 bytes); generated when omitted.
        #[arg(long, env = "AMC_NEW_MASTER_KEY", hide_env_values = true)]
        new_key: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant and its root access key; prints them as one JSON object.
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// A new root access key for a tenant that lost or disabled its own (its inactive root keys
    /// are deleted to make room); prints it as one JSON object.
    RootKey {
        /// The tenant's account id.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AMC_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Admin {
                command:
                    AdminCommand::Tenant {
                        command: TenantCommand::Create { name, store },
                    },
            } => {
                let store = setup::open_store(&store).await?;
                let tenant = setup::create_tenant(&store, &name, None).await?;
                audit::record_admin(
                    &store,
                    Some(&tenant.account_id),
                    "CreateTenant",
                    vec![tenant.access_key_id.clone()],
                )
                .await;
                println!("{}", serde_json::to_string(&tenant)?);
                Ok(())
            }
            Command::Admin {
                command:
                    AdminCommand::Tenant {
                        command: TenantCommand::RootKey { tenant, store },
                    },
            } => {
                let store = setup::open_store(&store).await?;
                let key = setup::new_root_key(&store, &tenant).await?;
                audit::record_admin(
                    &store,
                    Some(&tenant),
                    "CreateRootAccessKey",
                    vec![key.access_key_id.clone()],
                )
                .await;
                println!("{}", serde_json::to_string(&key)?);
                Ok(())
            }
            Command::Admin {
                command: AdminCommand::RotateMasterKey { new_key, store },
            } => {
                let rotation = setup::rotate_master_key(&store, new_key.as_deref()).await?;
                println!("{}", serde_json::to_string(&rotation)?);
                if rotation.new_master_key.is_some() {
                    eprintln!(
                        "The master key comes from AMC_MASTER_KEY: set it to NewMasterKey before starting the server."
                    );
                }
                Ok(())
            }
            Command::Admin {
                command: AdminCommand::EnrollToken(args),
            } => enrolment::enroll_token(args).await,
            Command::Admin {
                command: AdminCommand::Revoke(args),
            } => enrolment::revoke(args).await,
            Command::Admin {
                command: AdminCommand::DriftPolicy(args),
            } => enrolment::drift_policy(args).await,
            Command::Admin {
                command: AdminCommand::Audit(args),
            } => audit::audit(args).await,
            Command::Admin {
                command: AdminCommand::Credits { command },
            } => credits::credits(command).await,
            Command::Admin {
                command: AdminCommand::GatewayKey(args),
            } => credits::gateway_key(args).await,
            Command::Admin {
                command: AdminCommand::RateLimit(args),
            } => credits::rate_limit(args).await,
            Command::Admin {
                command: AdminCommand::KeyRateLimit(args),
            } => keys::key_rate_limit(args).await,
            Command::Call(args) => call::run(args).await,
            Command::Agent { command } => agent::run(command).await,
        }
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Everything the server creates — the store, uploaded objects, scratch copies — is the
    // service account's alone, whichever library creates it.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let store = setup::open_store(&args.store).await?;
    setup::ensure_first_tenant(&store, &args.store.data_dir).await?;
    let catalogue = match &args.catalogue {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading catalogue {}", path.display()))?;
            domain::catalogue::Catalogue::from_json(&text)
                .with_context(|| format!("catalogue {}", path.display()))?
        }
        None => domain::catalogue::Catalogue::default(),
    };
    let driver = Arc::new(provision::SimDriver {
        step_delay: Duration::from_millis(args.sim_step_delay_ms),
    });
    let lifecycle = Arc::new(provision::Wakeup::default());
    tokio::spawn(provision::run(
        store.clone(),
        driver.clone(),
        lifecycle.clone(),
    ));
    tokio::spawn(setup::purge_nonces_forever(store.clone()));
    let mut state = api::AppState::new(store.clone(), catalogue, driver, lifecycle);
    state.rate_limit = args.api_rate_limit;
    state.skills.grant_ttl_ms = i64::try_from(args.upload_ttl_secs.max(1))
        .unwrap_or(3600)
        .saturating_mul(1000);
    state.skills.max_object_bytes = i64::try_from(args.upload_max_mib.max(1))
        .unwrap_or(512)
        .saturating_mul(1024 * 1024);

    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(web::Tls::from_pem_files(cert, key)?),
        (None, None) => None,
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "amc listening");
    if let Some(dir) = &args.sim_daemons {
        tokio::spawn(sim_fleet::run(
            store.clone(),
            dir.clone(),
            format!("http://{address}"),
        ));
    }
    let objects_dir = args
        .objects_dir
        .clone()
        .unwrap_or_else(|| args.store.data_dir.join("objects"));
    let objects = match &args.objects_url {
        Some(url) => uploads::objects_at(url)?,
        None => uploads::local_objects(&objects_dir)?,
    };
    tokio::spawn(uploads::sweep_abandoned_forever(objects.clone()));
    let parse_worker = Arc::new(skill_jobs::ParseWorker {
        store: store.clone(),
        objects: objects.clone(),
        limits: skills::Limits {
            max_files: args.skill_max_files.max(1),
            max_total_bytes: args
                .skill_max_unpacked_mib
                .max(1)
                .saturating_mul(1024 * 1024),
            ..skills::Limits::default()
        },
        scratch: args.store.data_dir.join("tmp").join("skill-parse"),
        wakeup: state.parse_jobs.clone(),
    });
    for _ in 0..args.skill_parse_workers {
        tokio::spawn(parse_worker.clone().run());
    }
    let uploads = upload::UploadState::new(
        Arc::new(uploads::StoreGrants {
            store: store.clone(),
        }),
        objects.clone(),
        upload::UploadConfig {
            buckets: vec![domain::skills::BUCKET.to_string()],
            idle_timeout: Duration::from_secs(args.upload_idle_secs.max(1)),
            max_concurrent_bodies: args.upload_concurrency.max(1),
        },
    );
    let agents = agent_endpoint::AgentState::start(
        store.clone(),
        Arc::new(packages::ObjectPackages {
            objects: objects.clone(),
        }),
        agent_endpoint::AgentConfig {
            report_interval: Duration::from_secs(args.agent_report_interval_secs.max(1)),
            grace: Duration::from_secs(args.agent_grace_secs.max(1)),
            gateway_url: args.gateway_url.clone(),
            ..agent_endpoint::AgentConfig::default()
        },
    );
    let addresses = gateway::AddressPolicy::new(
        gateway::AddressPolicy::parse_list(&args.gateway_allow)
            .map_err(|e| anyhow::anyhow!("--gateway-allow: {e}"))?,
        gateway::AddressPolicy::parse_list(&args.gateway_deny)
            .map_err(|e| anyhow::anyhow!("--gateway-deny: {e}"))?,
    );
    let models = gateway::GatewayState::start(
        store.clone(),
        gateway::GatewayConfig {
            addresses,
            upstream_timeout: Duration::from_secs(args.gateway_upstream_timeout_secs.max(1)),
            credit_upstream: gateway::CreditUpstream {
                base_url: args.credit_upstream_url.clone(),
                api_key: args.credit_upstream_key.clone(),
            },
        },
    )?;
    let meter = models.meter();
    // The POP API answers every path no other surface claims.
    let app = agent_endpoint::router(agents)
        .merge(gateway::router(models))
        .merge(upload::router(uploads))
        .merge(api::router(state));
    web::serve(
        listener,
        app,
        args.limits(),
        tls,
        Arc::new(api::PopDialect),
        shutdown_signal(),
    )
    .await?;
    // What the gateway metered and not yet wrote, and the leases it holds.
    meter.flush(true).await;
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
