//! `amc agent`: the node daemon's commands.

use std::path::PathBuf;
use std::time::Duration;

use agent_proto::Product;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand)]
pub enum AgentCommand {
    /// Bind this host to a runtime with an enrolment token (`amc admin enroll-token`).
    Enroll(EnrollArgs),
    /// Apply the runtime's desired state and report, until stopped (foreground; logs to stderr).
    Run(RunArgs),
}

#[derive(Args)]
pub struct DirArgs {
    /// The daemon's directory (credentials, state) [default: ~/.amc-agent].
    #[arg(long, env = "AMC_AGENT_DIR")]
    dir: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProductArg {
    Openclaw,
    Hermes,
}

#[derive(Args)]
pub struct EnrollArgs {
    /// The amc server, e.g. http://amc.corp:8080.
    #[arg(long, env = "AMC_SERVER")]
    server: String,
    /// The enrolment token or tenant enrolment secret.
    #[arg(long, env = "AMC_ENROLL_TOKEN", hide_env_values = true)]
    token: String,
    /// The agent this host runs [default: the one found installed].
    #[arg(long, value_enum)]
    product: Option<ProductArg>,
    /// The name a newly registered runtime gets [default: the host name].
    #[arg(long)]
    hostname: Option<String>,
    /// PEM certificates an `https://` server's certificate chains to, when not a public CA's
    /// (kept in the daemon's directory for `run`).
    #[arg(long, env = "AMC_CA_CERT")]
    ca_cert: Option<PathBuf>,
    #[command(flatten)]
    dir: DirArgs,
}

#[derive(Args)]
pub struct RunArgs {
    /// Milliseconds between comparisons of the agent's files when nothing else happens.
    #[arg(long, default_value_t = 2000)]
    check_interval_ms: u64,
    /// Stop once this generation is applied and reported (scripts, demos).
    #[arg(long)]
    until_generation: Option<i64>,
    #[command(flatten)]
    dir: DirArgs,
}

fn home() -> anyhow::Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .context("HOME is not set: the daemon manages the agents of a home directory")
}

fn dir(args: &DirArgs, home: &std::path::Path) -> PathBuf {
    args.dir
        .clone()
        .unwrap_or_else(|| daemon::default_dir(home, &|_| None))
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into())
}

pub async fn run(command: AgentCommand) -> anyhow::Result<()> {
    let home = home()?;
    match command {
        AgentCommand::Enroll(args) => {
            let dir = dir(&args.dir, &home);
            let credentials = daemon::enroll(daemon::EnrollOptions {
                server: args.server,
                token: args.token,
                product: args.product.map(|p| match p {
                    ProductArg::Openclaw => Product::OpenClaw,
                    ProductArg::Hermes => Product::Hermes,
                }),
                dir: dir.clone(),
                home,
                hostname: args.hostname.unwrap_or_else(hostname),
                env: daemon::process_env(),
                ca_cert: args.ca_cert,
            })
            .await?;
            eprintln!(
                "Enrolled as {} ({:?}); credentials in {}",
                credentials.runtime_id,
                credentials.product,
                daemon::Credentials::path(&dir).display()
            );
            println!("{}", credentials.runtime_id);
            Ok(())
        }
        AgentCommand::Run(args) => {
            let dir = dir(&args.dir, &home);
            daemon::run(daemon::RunOptions {
                dir,
                home,
                env: daemon::process_env(),
                check_interval: Duration::from_millis(args.check_interval_ms.max(100)),
                until_generation: args.until_generation,
                observer: None,
                http: None,
            })
            .await?;
            Ok(())
        }
    }
}
