//! Operator commands for model credits and the gateway: credit packs (bought outside amc),
//! gateway keys, per-runtime rate limits.

use anyhow::{Context, bail};
use clap::{ArgGroup, Args, Subcommand};
use store::credits::CreditPack;

use crate::StoreArgs;
use crate::audit::record_admin;
use crate::enrolment::{now_ms, runtime_tenant};
use crate::setup::open_store;

#[derive(Subcommand)]
pub enum CreditsCommand {
    /// Add a credit pack to a tenant; prints the pack's id (`cp-inst-…`) on the last line.
    Add(AddArgs),
}

#[derive(Args)]
pub struct AddArgs {
    /// Credits in the pack.
    #[arg(long)]
    amount: i64,
    /// When the pack expires (RFC 3339); never when omitted.
    #[arg(long)]
    expires: Option<String>,
    /// When the pack becomes usable (RFC 3339); now when omitted.
    #[arg(long)]
    starts: Option<String>,
    /// The tenant (default: the first tenant).
    #[arg(long)]
    tenant: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
pub struct GatewayKeyArgs {
    /// The runtime whose agent uses the key.
    #[arg(long)]
    runtime: String,
    /// Revoke the runtime's keys instead of issuing a new one.
    #[arg(long)]
    revoke: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
#[command(group(ArgGroup::new("limit").required(true).multiple(true).args(["rpm", "tpm", "unlimited"])))]
pub struct RateLimitArgs {
    #[arg(long)]
    runtime: String,
    /// Requests per minute the gateway lets the runtime's agent make.
    #[arg(long)]
    rpm: Option<u32>,
    /// Tokens (input and output) per minute.
    #[arg(long)]
    tpm: Option<u32>,
    /// Remove both limits.
    #[arg(long, conflicts_with_all = ["rpm", "tpm"])]
    unlimited: bool,
    #[command(flatten)]
    store: StoreArgs,
}

fn instant(flag: &str, text: &str) -> anyhow::Result<i64> {
    Ok(chrono::DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("--{flag} {text:?} is not an RFC 3339 time"))?
        .timestamp_millis())
}

pub async fn credits(command: CreditsCommand) -> anyhow::Result<()> {
    match command {
        CreditsCommand::Add(args) => add(args).await,
    }
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    if args.amount <= 0 {
        bail!("--amount must be a positive number of credits");
    }
    let amount = domain::credits::units_of_credits(args.amount).context("--amount is too large")?;
    let now = now_ms();
    let starts_at = args
        .starts
        .as_deref()
        .map(|t| instant("starts", t))
        .transpose()?
        .unwrap_or(now);
    let expires_at = args
        .expires
        .as_deref()
        .map(|t| instant("expires", t))
        .transpose()?;
    if expires_at.is_some_and(|e| e <= starts_at) {
        bail!("--expires must be after the pack starts");
    }
    let store = open_store(&args.store).await?;
    let tenant_id = match args.tenant {
        Some(tenant) => tenant,
        None => store
            .first_tenant()
            .await?
            .context("no tenant yet: start `amc serve` once or run `amc admin tenant create`")?,
    };
    let pack = CreditPack {
        id: domain::ids::resource_id("cp-inst", &mut rand::rngs::OsRng),
        tenant_id,
        amount,
        used: 0,
        starts_at,
        expires_at,
        created_at: now,
    };
    store.add_credit_pack(&pack).await?;
    println!("{}", pack.id);
    Ok(())
}

pub async fn gateway_key(args: GatewayKeyArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let tenant_id = runtime_tenant(&store, &args.runtime).await?;
    if args.revoke {
        let revoked = store
            .revoke_gateway_keys(&tenant_id, &args.runtime, now_ms())
            .await?;
        record_admin(
            &store,
            Some(&tenant_id),
            "RevokeGatewayKeys",
            vec![args.runtime.clone()],
        )
        .await;
        println!("revoked {revoked} gateway key(s) of {}", args.runtime);
        return Ok(());
    }
    let key = store
        .issue_gateway_key(&tenant_id, &args.runtime, true, now_ms())
        .await?;
    let key_id = key.split('.').next().unwrap_or_default().to_string();
    record_admin(
        &store,
        Some(&tenant_id),
        "IssueGatewayKey",
        vec![args.runtime.clone(), key_id],
    )
    .await;
    eprintln!(
        "Earlier keys of {} are revoked; its node daemon receives the new one.",
        args.runtime
    );
    println!("{key}");
    Ok(())
}

pub async fn rate_limit(args: RateLimitArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let tenant_id = runtime_tenant(&store, &args.runtime).await?;
    let provider = store
        .agent_runtime(&tenant_id, &args.runtime)
        .await?
        .map(|r| r.agent_provider)
        .unwrap_or_default();
    let agent_type = domain::credits::agent_type(&provider, &args.runtime);
    store
        .set_agent_rate_limits(
            &tenant_id,
            (&args.runtime, agent_type),
            args.rpm.map(i64::from),
            args.tpm.map(i64::from),
            now_ms(),
        )
        .await?;
    println!(
        "{}: {} requests and {} tokens per minute",
        args.runtime,
        args.rpm.map_or("unlimited".into(), |v| v.to_string()),
        args.tpm.map_or("unlimited".into(), |v| v.to_string())
    );
    Ok(())
}
