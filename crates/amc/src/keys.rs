//! Operator commands for API access keys: the calls per second one key may sign, when it is
//! not the server's `--api-rate-limit`.

use anyhow::bail;
use clap::Args;

use crate::StoreArgs;
use crate::audit::record_admin;
use crate::setup::open_store;

#[derive(Args)]
pub struct KeyRateLimitArgs {
    #[arg(long)]
    access_key_id: String,
    /// Calls per second the key may sign (0: no limit).
    #[arg(long, required_unless_present = "default")]
    per_second: Option<u32>,
    /// Back to the server's default.
    #[arg(long, conflicts_with = "per_second")]
    default: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn key_rate_limit(args: KeyRateLimitArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let limit = if args.default { None } else { args.per_second };
    if !store.set_key_rate_limit(&args.access_key_id, limit).await? {
        bail!("no access key {}", args.access_key_id);
    }
    let tenant = store
        .access_key(&args.access_key_id)
        .await?
        .map(|k| k.tenant_id);
    record_admin(
        &store,
        tenant.as_deref(),
        "SetKeyRateLimit",
        vec![args.access_key_id.clone()],
    )
    .await;
    match limit {
        None => println!("{}: the server's default rate limit", args.access_key_id),
        Some(0) => println!("{}: no rate limit", args.access_key_id),
        Some(n) => println!("{}: {n} calls per second", args.access_key_id),
    }
    Ok(())
}
