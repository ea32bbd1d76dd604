//! Opening the store (data dir, database URL, master key) and creating tenants.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use store::{Cipher, MasterKey, Secret, Store};

use crate::StoreArgs;

const MASTER_KEY_FILE: &str = "master.key";
const ROOT_KEY_FILE: &str = "root-access-key.json";

/// Writes `contents` to a new file readable by its owner only.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// The master key: `AMC_MASTER_KEY`, else the key file in the data dir. A missing file yields a
/// new key and the path to save it to, once the store accepts it.
fn master_key(data_dir: &Path) -> anyhow::Result<(MasterKey, Option<PathBuf>)> {
    if let Ok(text) = std::env::var("AMC_MASTER_KEY") {
        return Ok((MasterKey::from_text(&text).context("AMC_MASTER_KEY")?, None));
    }
    let path = data_dir.join(MASTER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = MasterKey::from_text(&text)
                .with_context(|| format!("master key file {}", path.display()))?;
            Ok((key, None))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((MasterKey::generate(&mut rand::rngs::OsRng), Some(path)))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

pub fn database_url(args: &StoreArgs) -> String {
    match &args.database_url {
        Some(url) => url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            args.data_dir.join("amc.db").display()
        ),
    }
}

pub async fn open_store(args: &StoreArgs) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data dir {}", args.data_dir.display()))?;
    let (key, new_key_file) = master_key(&args.data_dir)?;
    let store = Store::connect(&database_url(args), Cipher::new(key.clone()))
        .await
        .context("opening the store")?;
    // Save a new key before the store records it, and take it back if the store refuses it
    // (the store already belongs to another key): a key is never lost, nor left lying about.
    if let Some(path) = &new_key_file {
        write_private(path, key.to_base64().as_bytes())?;
    }
    if let Err(error) = store.claim_master_key().await {
        if let Some(path) = &new_key_file {
            let _ = std::fs::remove_file(path);
        }
        return Err(error).context("checking the master key");
    }
    if let Some(path) = &new_key_file {
        tracing::info!(path = %path.display(), key_id = %key.id(), "created master key");
    }
    Ok(store)
}

/// A tenant's identity and root key as printed for the operator.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TenantKeys {
    pub account_id: String,
    pub access_key_id: String,
    pub access_key_secret: String,
}

pub async fn create_tenant(
    store: &Store,
    name: &str,
    key: Option<(String, String)>,
) -> anyhow::Result<TenantKeys> {
    let mut rng = rand::rngs::OsRng;
    let (access_key_id, access_key_secret) = key.unwrap_or_else(|| {
        (
            domain::ids::access_key_id(&mut rng),
            domain::ids::access_key_secret(&mut rng),
        )
    });
    let tenant = store::tenants::NewTenant {
        account_id: domain::ids::account_id(&mut rng),
        name: name.to_string(),
        access_key_id: access_key_id.clone(),
        access_key_secret: Secret::new(access_key_secret.clone()),
        created_at: chrono::Utc::now().timestamp_millis(),
    };
    store
        .create_tenant(&tenant)
        .await
        .context("creating tenant")?;
    Ok(TenantKeys {
        account_id: tenant.account_id,
        access_key_id,
        access_key_secret,
    })
}

/// On a new store, creates the first tenant with the root key from the environment, or a
/// generated one that is printed once and written to a 0600 file in the data dir.
pub async fn ensure_first_tenant(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    if store.tenant_count().await? > 0 {
        return Ok(());
    }
    let from_env = match (
        std::env::var("AMC_ROOT_ACCESS_KEY_ID"),
        std::env::var("AMC_ROOT_ACCESS_KEY_SECRET"),
    ) {
        (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => Some((id, secret)),
        _ => None,
    };
    let generated = from_env.is_none();
    let keys = create_tenant(store, "default", from_env).await?;
    tracing::info!(account_id = %keys.account_id, access_key_id = %keys.access_key_id, "created the first tenant");
    if generated {
        let path: PathBuf = data_dir.join(ROOT_KEY_FILE);
        write_private(&path, serde_json::to_string_pretty(&keys)?.as_bytes())?;
        // Printed once, on purpose: the operator needs the secret to make the first call.
        println!(
            "First tenant {} created.\nAccessKeyId:     {}\nAccessKeySecret: {}\n(also saved to {}, mode 0600)",
            keys.account_id,
            keys.access_key_id,
            keys.access_key_secret,
            path.display()
        );
    }
    Ok(())
}

/// Drops expired signature nonces once a minute.
pub async fn purge_nonces_forever(store: Store) {
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    loop {
        interval.tick().await;
        if let Err(error) = store
            .purge_nonces(chrono::Utc::now().timestamp_millis())
            .await
        {
            tracing::warn!(%error, "purging nonces failed");
        }
    }
}
