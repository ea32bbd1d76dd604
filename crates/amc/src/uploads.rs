//! The object store amc keeps uploads in, and the upload surface's view of the grants
//! `GetOssStsToken` records.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use futures::future::BoxFuture;
use object_store::ObjectStore;
use store::Store;
use store::audit::AuditEntry;
use upload::{AuditedCall, Grant, Grants, GrantsError};

/// The object store `--objects-url` names: `s3://<bucket>[/<prefix>]` (credentials, region and
/// endpoint from the usual `AWS_*` variables: `AWS_ENDPOINT` for an S3-compatible store,
/// `AWS_ALLOW_HTTP=true` for one without TLS), or `file:///<dir>`.
pub fn objects_at(url: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("--objects-url {url:?} is not a URL"))?;
    match scheme {
        "s3" | "s3a" => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .with_context(|| format!("--objects-url {url}"))?;
            let prefix = prefix.trim_matches('/');
            if prefix.is_empty() {
                Ok(Arc::new(store))
            } else {
                let prefix = object_store::path::Path::parse(prefix)
                    .with_context(|| format!("--objects-url {url}: the prefix"))?;
                Ok(Arc::new(object_store::prefix::PrefixStore::new(
                    store, prefix,
                )))
            }
        }
        "file" => local_objects(Path::new(rest)),
        other => anyhow::bail!("--objects-url: unsupported scheme {other:?} (s3:// or file://)"),
    }
}

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

    fn record(&self, call: AuditedCall) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let entry = AuditEntry {
                at: call.at,
                tenant_id: call.tenant_id,
                principal: call.principal,
                source_ip: call.source_ip,
                product: "oss".into(),
                action: call.action.into(),
                resources: vec![call.object],
                code: call.code,
                request_id: call.request_id,
            };
            self.store.keep_audit(&entry).await;
        })
    }
}

/// Multipart uploads left unfinished this long are removed with their parts.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Every hour, removes the multipart uploads abandoned for a week (any replica may; removing
/// twice is harmless).
pub async fn sweep_abandoned_forever(objects: Arc<dyn ObjectStore>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let before = chrono::Utc::now().timestamp_millis()
            - i64::try_from(ABANDONED_AFTER.as_millis()).unwrap_or(i64::MAX);
        match upload::objects::sweep_abandoned_uploads(
            objects.as_ref(),
            domain::skills::BUCKET,
            before,
        )
        .await
        {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "abandoned multipart uploads removed"),
            Err(error) => tracing::warn!(%error, "sweeping abandoned multipart uploads"),
        }
    }
}
