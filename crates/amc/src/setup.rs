//! Opening the store (data dir, database URL, master key) and creating tenants.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use store::{Cipher, MasterKey, Secret, Store};

use crate::StoreArgs;

const MASTER_KEY_FILE: &str = "master.key";
const OLD_KEY_FILE: &str = "master.key.old";
const NEW_KEY_FILE: &str = "master.key.new";
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
    if let Some(key) = env_master_key()? {
        return Ok((key, None));
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

fn env_master_key() -> anyhow::Result<Option<MasterKey>> {
    match std::env::var("AMC_MASTER_KEY") {
        Ok(text) => MasterKey::from_text(&text)
            .map(Some)
            .context("AMC_MASTER_KEY"),
        Err(_) => Ok(None),
    }
}

/// Keys an unfinished rotation left beside the key file (`master.key.old`, `master.key.new`):
/// values may be under either, so the store can still read them whatever step was interrupted.
fn leftover_keys(data_dir: &Path, current: &MasterKey) -> anyhow::Result<Vec<MasterKey>> {
    let mut keys = Vec::new();
    for file in [OLD_KEY_FILE, NEW_KEY_FILE] {
        let path = data_dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = MasterKey::from_text(&text)
                    .with_context(|| format!("master key file {}", path.display()))?;
                if key.id() != current.id() {
                    tracing::warn!(path = %path.display(), key_id = %key.id(), "reading values under a key an unfinished rotation left");
                    keys.push(key);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    Ok(keys)
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

/// Creates the data dir if needed, readable by its owner only: it holds the master key, the first
/// access key and (on SQLite) every tenant's records.
fn private_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data_dir)
            .with_context(|| format!("reading data dir {}", data_dir.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making data dir {} private", data_dir.display()))?;
            tracing::warn!(data_dir = %data_dir.display(), "the data dir was readable by others; made it 0700");
        }
    }
    Ok(())
}

pub async fn open_store(args: &StoreArgs) -> anyhow::Result<Store> {
    private_data_dir(&args.data_dir)?;
    let (key, new_key_file) = master_key(&args.data_dir)?;
    let leftovers = if new_key_file.is_some() || std::env::var_os("AMC_MASTER_KEY").is_some() {
        Vec::new()
    } else {
        leftover_keys(&args.data_dir, &key)?
    };
    let mut store = Store::connect(
        &database_url(args),
        Cipher::with_previous(key.clone(), leftovers.clone()),
    )
    .await
    .context("opening the store")?;
    // A rotation interrupted after its commit leaves the store under the key of
    // master.key.new: that key is then the current one, and the key file's a previous one.
    let recorded = store
        .master_key_id()
        .await
        .context("reading the store's master key id")?;
    if let Some(position) = leftovers.iter().position(|k| Some(k.id()) == recorded) {
        let mut previous = leftovers;
        let current = previous.remove(position);
        tracing::warn!(key_id = %current.id(), "the store is under a key an unfinished rotation left; using it");
        previous.push(key.clone());
        store = store.with_cipher(Cipher::with_previous(current, previous));
    }
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

/// A new root key for `tenant_id`, after deleting its inactive root keys to make room; refused
/// while it holds two active ones (one of them must be disabled first).
pub async fn new_root_key(store: &Store, tenant_id: &str) -> anyhow::Result<TenantKeys> {
    use store::ram::{KeyOwner, Refusal};
    let keys = match store.owned_keys(tenant_id, KeyOwner::Root).await? {
        Ok(keys) => keys,
        Err(_) => anyhow::bail!("no tenant {tenant_id}"),
    };
    for key in keys.iter().filter(|k| !k.active) {
        let _ = store
            .delete_owned_key(tenant_id, KeyOwner::Root, &key.id)
            .await?;
    }
    let mut rng = rand::rngs::OsRng;
    let access_key_id = domain::ids::access_key_id(&mut rng);
    let access_key_secret = domain::ids::access_key_secret(&mut rng);
    let now = chrono::Utc::now().timestamp_millis();
    let secret = Secret::new(access_key_secret.clone());
    match store
        .create_owned_key(tenant_id, KeyOwner::Root, &access_key_id, &secret, now)
        .await?
    {
        Ok(_) => Ok(TenantKeys {
            account_id: tenant_id.to_string(),
            access_key_id,
            access_key_secret,
        }),
        Err(Refusal::KeyLimit) => anyhow::bail!(
            "tenant {tenant_id} holds two active root keys: disable one (UpdateAccessKey) first"
        ),
        Err(_) => anyhow::bail!("no tenant {tenant_id}"),
    }
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

/// Drops expired signature nonces, old request counts and temporary keys an hour past their
/// expiry (refused from their expiry on), once a minute.
pub async fn purge_nonces_forever(store: Store) {
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    loop {
        interval.tick().await;
        let now = chrono::Utc::now().timestamp_millis();
        if let Err(error) = store.purge_nonces(now).await {
            tracing::warn!(%error, "purging nonces failed");
        }
        if let Err(error) = store.purge_request_counts(now - 60_000).await {
            tracing::warn!(%error, "purging request counts failed");
        }
        if let Err(error) = store.purge_session_keys(now - 3_600_000).await {
            tracing::warn!(%error, "purging expired temporary keys failed");
        }
    }
}

/// What `amc admin rotate-master-key` did.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rotation {
    pub old_key_id: String,
    pub new_key_id: String,
    pub reencrypted: u64,
    /// Set when the key comes from `AMC_MASTER_KEY`: the operator must put this value there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_master_key: Option<String>,
}

/// Re-encrypts every stored secret under a new master key (`new_key`, or a generated one) in one
/// transaction, then replaces the key file. Run it while no server uses the store: a server still
/// holding the old key cannot read values written under the new one.
///
/// The key file is replaced last, and `master.key.old` is kept until everything succeeded; at any
/// interruption the files on disk hold every key a value may be under, and the store reads them
/// all (see [`leftover_keys`]).
pub async fn rotate_master_key(
    args: &StoreArgs,
    new_key: Option<&str>,
) -> anyhow::Result<Rotation> {
    private_data_dir(&args.data_dir)?;
    let new = match new_key {
        Some(text) => MasterKey::from_text(text).context("--new-key")?,
        None => MasterKey::generate(&mut rand::rngs::OsRng),
    };
    let from_env = env_master_key()?;
    let key_path = args.data_dir.join(MASTER_KEY_FILE);
    let old_path = args.data_dir.join(OLD_KEY_FILE);
    let new_path = args.data_dir.join(NEW_KEY_FILE);
    let old = match &from_env {
        Some(key) => key.clone(),
        None => {
            let text = std::fs::read_to_string(&key_path)
                .with_context(|| format!("reading {}", key_path.display()))?;
            MasterKey::from_text(&text)
                .with_context(|| format!("master key file {}", key_path.display()))?
        }
    };
    if old.id() == new.id() {
        anyhow::bail!("the new master key is the current one");
    }
    if from_env.is_none() {
        for leftover in [&old_path, &new_path] {
            if leftover.exists() {
                anyhow::bail!(
                    "{} exists: an earlier rotation did not finish. The server reads it as a previous key; \
                     start the server once, then remove the file after checking, and rotate again",
                    leftover.display()
                );
            }
        }
        write_private(&old_path, old.to_base64().as_bytes())?;
        write_private(&new_path, new.to_base64().as_bytes())?;
    }
    let store = Store::connect(
        &database_url(args),
        Cipher::with_previous(new.clone(), vec![old.clone()]),
    )
    .await
    .context("opening the store")?;
    let reencrypted = match store.master_key_id().await {
        Ok(Some(recorded)) if recorded != old.id() => Err(anyhow::anyhow!(
            "the store's secrets are under master key {recorded}, not under the current key {}",
            old.id()
        )),
        Ok(_) => store.reencrypt_secrets().await.map_err(anyhow::Error::from),
        Err(e) => Err(anyhow::Error::from(e)),
    };
    store.close().await;
    let reencrypted = match reencrypted {
        Ok(n) => n,
        Err(e) => {
            if from_env.is_none() {
                // Nothing was committed: the old key stays the only one in use.
                let _ = std::fs::remove_file(&new_path);
                let _ = std::fs::remove_file(&old_path);
            }
            return Err(e).context("re-encrypting stored secrets (nothing was changed)");
        }
    };
    if from_env.is_none() {
        std::fs::rename(&new_path, &key_path)
            .with_context(|| format!("replacing {}", key_path.display()))?;
        std::fs::remove_file(&old_path)
            .with_context(|| format!("removing {}", old_path.display()))?;
    }
    Ok(Rotation {
        old_key_id: old.id(),
        new_key_id: new.id(),
        reencrypted,
        new_master_key: from_env.is_some().then(|| new.to_base64()),
    })
}
