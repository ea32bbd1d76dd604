//! Operator commands for node daemons: enrolment tokens, revocation, drift policy.

use anyhow::{Context, bail};
use clap::{ArgGroup, Args};
use store::agents::{DriftScope, Enrolment};

use crate::StoreArgs;
use crate::audit::record_admin;
use crate::setup::open_store;

#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["runtime", "new_hosts"])))]
pub struct EnrollTokenArgs {
    /// The runtime the token binds (one use).
    #[arg(long)]
    runtime: Option<String>,
    /// A tenant enrolment secret instead: each host presenting it is registered as a new runtime.
    #[arg(long)]
    new_hosts: bool,
    /// The tenant of `--new-hosts` (default: the first tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// Hours until the token expires (default: 24 for a runtime's token, never for a secret).
    #[arg(long)]
    ttl_hours: Option<u64>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
#[command(group(ArgGroup::new("what").required(true).args(["runtime", "token", "upload_credential"])))]
pub struct RevokeArgs {
    /// Revoke the daemon credential of this runtime.
    #[arg(long)]
    runtime: Option<String>,
    /// Revoke this enrolment token or secret (its id, the part before the dot).
    #[arg(long)]
    token: Option<String>,
    /// Revoke these upload credentials of `GetOssStsToken` before they expire (their `STS.` id).
    #[arg(long)]
    upload_credential: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
#[command(group(ArgGroup::new("scope").required(true).args(["runtime", "resource_group"])))]
#[command(group(ArgGroup::new("policy").required(true).args(["repair", "report", "inherit"])))]
pub struct DriftPolicyArgs {
    #[arg(long)]
    runtime: Option<String>,
    #[arg(long)]
    resource_group: Option<String>,
    /// Repair drift at once.
    #[arg(long)]
    repair: bool,
    /// Report drift and leave it in place (the default).
    #[arg(long)]
    report: bool,
    /// Clear the setting: a runtime follows its resource group, a group the default.
    #[arg(long)]
    inherit: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub async fn runtime_tenant(store: &store::Store, runtime: &str) -> anyhow::Result<String> {
    store
        .runtime_tenant(runtime)
        .await?
        .with_context(|| format!("no runtime {runtime}"))
}

pub async fn enroll_token(args: EnrollTokenArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let now = now_ms();
    let (tenant_id, runtime_id, default_ttl) = match &args.runtime {
        Some(runtime) => (
            runtime_tenant(&store, runtime).await?,
            Some(runtime.clone()),
            Some(24),
        ),
        None => {
            let tenant = match &args.tenant {
                Some(tenant) => tenant.clone(),
                None => store
                    .first_tenant()
                    .await?
                    .context("the store has no tenant")?,
            };
            (tenant, None, None)
        }
    };
    let expires_at = args.ttl_hours.or(default_ttl).map(|hours| {
        now + i64::try_from(hours)
            .unwrap_or(i64::MAX / 4)
            .saturating_mul(3_600_000)
    });
    let issued = domain::secrets::issue(domain::secrets::ENROLMENT_PREFIX, &mut rand::rngs::OsRng);
    store
        .create_enrolment(&Enrolment {
            id: issued.id.clone(),
            tenant_id: tenant_id.clone(),
            runtime_id: runtime_id.clone(),
            secret_hash: issued.secret_hash,
            expires_at,
            used_at: None,
            revoked_at: None,
            created_at: now,
        })
        .await?;
    // Recorded once the token exists: a failed command leaves no row.
    let mut named = vec![issued.id.clone()];
    named.extend(runtime_id.clone());
    record_admin(&store, Some(&tenant_id), "CreateEnrollToken", named).await;
    match &runtime_id {
        Some(runtime) => eprintln!("One-time enrolment token for {runtime} (id {}):", issued.id),
        None => eprintln!("Enrolment secret for new hosts (id {}):", issued.id),
    }
    // The token on the last line, alone: scripts take it from there.
    println!("{}", issued.text);
    Ok(())
}

pub async fn revoke(args: RevokeArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let now = now_ms();
    if let Some(runtime) = &args.runtime {
        let tenant = runtime_tenant(&store, runtime).await?;
        let revoked = store
            .revoke_agent_credentials(&tenant, runtime, now)
            .await?;
        record_admin(
            &store,
            Some(&tenant),
            "RevokeAgentCredentials",
            vec![runtime.clone()],
        )
        .await;
        println!("revoked {revoked} credential(s) of {runtime}");
    }
    if let Some(token) = &args.token {
        let id = token.split('.').next().unwrap_or(token);
        let enrolment = store
            .enrolment(id)
            .await?
            .with_context(|| format!("no enrolment token {id}"))?;
        if !store
            .revoke_enrolment(&enrolment.tenant_id, id, now)
            .await?
        {
            bail!("enrolment token {id} is already revoked");
        }
        record_admin(
            &store,
            Some(&enrolment.tenant_id),
            "RevokeEnrollToken",
            vec![id.to_string()],
        )
        .await;
        println!("revoked enrolment token {id}");
    }
    if let Some(id) = &args.upload_credential {
        let tenant = store
            .revoke_upload_grant(id)
            .await?
            .with_context(|| format!("no upload credentials {id}"))?;
        record_admin(
            &store,
            Some(&tenant),
            "RevokeUploadCredential",
            vec![id.clone()],
        )
        .await;
        println!("revoked upload credentials {id}");
    }
    Ok(())
}

pub async fn drift_policy(args: DriftPolicyArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let (tenant, scope) = match (&args.runtime, &args.resource_group) {
        (Some(runtime), _) => (
            runtime_tenant(&store, runtime).await?,
            DriftScope::Runtime(runtime.clone()),
        ),
        (None, Some(group)) => (
            store
                .resource_group_tenant(group)
                .await?
                .with_context(|| format!("no resource group {group}"))?,
            DriftScope::ResourceGroup(group.clone()),
        ),
        (None, None) => bail!("name --runtime or --resource-group"),
    };
    let repair = if args.inherit {
        None
    } else {
        Some(args.repair)
    };
    if !store
        .set_repair_drift(&tenant, &scope, repair, now_ms())
        .await?
    {
        bail!("not found");
    }
    println!(
        "drift is {}",
        match repair {
            Some(true) => "repaired at once",
            Some(false) => "reported and left in place",
            None => "handled as inherited",
        }
    );
    Ok(())
}
