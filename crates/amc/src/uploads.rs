//! The object store amc keeps uploads in, and the upload surface's view of the grants
//! `GetOssStsToken` records.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use futures::future::BoxFuture;
use object_store::ObjectStore;
use store::Store;
use upload::{Grant, Grants, GrantsError};

/// The local object directory (created if missing).
pub fn local_objects(dir: &Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the object directory {}", dir.display()))?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
        .with_context(|| format!("opening the object directory {}", dir.display()))?
        .with_automatic_cleanup(true);
    Ok(Arc::new(store))
}

pub struct StoreGrants {
    pub store: Store,
}

impl Grants for StoreGrants {
    fn grant<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<Grant>, GrantsError>> {
        Box::pin(async move {
            let found = self
                .store
                .upload_grant(key_id)
                .await
                .map_err(|e| GrantsError(e.to_string()))?;
            Ok(found.map(|(grant, secret)| Grant {
                tenant_id: grant.tenant_id,
                secret: secret.expose().to_string(),
                token_hash: grant.token_hash,
                bucket: grant.bucket,
                prefix: grant.prefix,
                max_bytes: u64::try_from(grant.max_bytes).unwrap_or(0),
                expires_at: grant.expires_at,
            }))
        })
    }
}
