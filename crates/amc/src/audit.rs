//! `amc admin audit`: the audit trail, filtered, as JSON lines (one entry a line, oldest first).

use std::io::Write;

use anyhow::Context;
use clap::Args;
use store::audit::AuditQuery;

use crate::StoreArgs;
use crate::setup::open_store;

#[derive(Args)]
pub struct AuditArgs {
    /// From this time on: RFC 3339 (`2026-12-01T00:00:00Z`) or epoch milliseconds.
    #[arg(long)]
    since: Option<String>,
    /// Before this time.
    #[arg(long)]
    until: Option<String>,
    /// Calls signed with this access key id.
    #[arg(long)]
    principal: Option<String>,
    /// Calls of this action (`DeleteDesktops`).
    #[arg(long)]
    action: Option<String>,
    /// Calls naming this resource id.
    #[arg(long)]
    resource: Option<String>,
    /// Calls of this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Most entries printed.
    #[arg(long, default_value_t = 10_000)]
    limit: i64,
    #[command(flatten)]
    store: StoreArgs,
}

fn time(flag: &str, value: Option<&str>) -> anyhow::Result<Option<i64>> {
    let Some(value) = value else {
        return Ok(None);
    };
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(Some(ms));
    }
    let at = chrono::DateTime::parse_from_rfc3339(value)
        .with_context(|| format!("{flag} {value:?}: not RFC 3339 nor epoch milliseconds"))?;
    Ok(Some(at.timestamp_millis()))
}

pub async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let query = AuditQuery {
        since: time("--since", args.since.as_deref())?,
        until: time("--until", args.until.as_deref())?,
        tenant_id: args.tenant,
        principal: args.principal,
        action: args.action,
        resource: args.resource,
        limit: args.limit.max(1),
    };
    let entries = store.audit(&query).await?;
    let mut out = std::io::stdout().lock();
    for entry in entries {
        serde_json::to_writer(&mut out, &entry)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Records an operator's command in the audit trail, as the API records calls: the principal
/// is `admin:<the OS user who ran it>`, the product `admin`. A command that did its work but
/// could not write its row says so and still succeeds.
pub async fn record_admin(
    store: &store::Store,
    tenant_id: Option<&str>,
    action: &str,
    resources: Vec<String>,
) {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let entry = store::audit::AuditEntry {
        at: chrono::Utc::now().timestamp_millis(),
        tenant_id: tenant_id.map(str::to_string),
        principal: format!("admin:{user}"),
        source_ip: String::new(),
        product: "admin".into(),
        action: action.into(),
        resources,
        code: "OK".into(),
        request_id: uuid::Uuid::new_v4().to_string().to_uppercase(),
    };
    if let Err(error) = store.record_audit(&entry).await {
        eprintln!("warning: the audit trail could not be written: {error}");
    }
}
