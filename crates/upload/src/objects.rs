//! Where uploads live in the object store, and what amc records beside each object.
//!
//! An object `<key>` of bucket `<bucket>` is stored at `<bucket>/<key>`; beside it, at
//! `<bucket>/.amc/meta/<key>`, its [`ObjectInfo`] (the ETag OSS would give it, its size and
//! CRC-64) — object stores do not all keep an MD5. A multipart upload keeps its record and its
//! parts under `<bucket>/.amc/uploads/<upload id>/` until completed or aborted. Upload keys must
//! start with a tenant's prefix (`tenants/…`), so no credential can write under `.amc/`.

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};

/// What amc knows of a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Quoted, as OSS returns it: `"<MD5>"` for an object put whole, `"<MD5 of the parts'
    /// MD5s>-<parts>"` for one completed from parts.
    pub etag: String,
    pub size: u64,
    pub crc64: u64,
    pub content_type: String,
    /// The tenant whose credentials uploaded it.
    pub tenant_id: String,
    /// Milliseconds since the epoch.
    pub uploaded_at: i64,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub bucket: String,
    pub key: String,
    pub tenant_id: String,
    pub content_type: String,
    pub created_at: i64,
}

/// A part received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Uppercase hex MD5, unquoted.
    pub md5: String,
    pub size: u64,
    pub crc64: u64,
}

pub fn object_path(bucket: &str, key: &str) -> Result<Path, object_store::path::Error> {
    Path::parse(format!("{bucket}/{key}"))
}

pub fn info_path(bucket: &str, key: &str) -> Result<Path, object_store::path::Error> {
    Path::parse(format!("{bucket}/.amc/meta/{key}"))
}

pub fn upload_dir(bucket: &str, upload_id: &str) -> Result<Path, object_store::path::Error> {
    Path::parse(format!("{bucket}/.amc/uploads/{upload_id}"))
}

pub fn upload_record_path(dir: &Path) -> Path {
    dir.child("upload.json")
}

pub fn part_path(dir: &Path, number: u32) -> Path {
    dir.child(format!("{number:05}"))
}

pub fn part_info_path(dir: &Path, number: u32) -> Path {
    dir.child(format!("{number:05}.json"))
}

/// Reads a JSON record; `None` when absent.
pub async fn read_json<T: for<'de> Deserialize<'de>>(
    store: &dyn ObjectStore,
    path: &Path,
) -> Result<Option<T>, StoreIoError> {
    match store.get(path).await {
        Ok(got) => {
            let bytes = got.bytes().await?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreIoError::Corrupt(format!("{path}: {e}")))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn write_json<T: Serialize>(
    store: &dyn ObjectStore,
    path: &Path,
    value: &T,
) -> Result<(), StoreIoError> {
    let bytes = serde_json::to_vec(value).map_err(|e| StoreIoError::Corrupt(e.to_string()))?;
    store
        .put(path, PutPayload::from(Bytes::from(bytes)))
        .await?;
    Ok(())
}

/// What amc recorded of object `key` of `bucket`, if it holds one.
pub async fn object_info(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectInfo>, StoreIoError> {
    let path = info_path(bucket, key).map_err(|e| StoreIoError::Corrupt(e.to_string()))?;
    read_json(store, &path).await
}

/// Deletes `path`; one already gone is no error.
pub async fn delete_if_present(store: &dyn ObjectStore, path: &Path) -> object_store::Result<()> {
    match store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes everything under `dir` (an upload's parts), ignoring what is already gone.
pub async fn delete_under(store: &dyn ObjectStore, dir: &Path) -> Result<(), StoreIoError> {
    let mut listing = store.list(Some(dir));
    while let Some(meta) = listing.next().await {
        delete_if_present(store, &meta?.location).await?;
    }
    Ok(())
}

/// Removes the multipart uploads of `bucket` started before `before` (ms since the epoch) and
/// never completed or aborted, with their parts; answers how many.
pub async fn sweep_abandoned_uploads(
    store: &dyn ObjectStore,
    bucket: &str,
    before: i64,
) -> Result<usize, StoreIoError> {
    let root = Path::parse(format!("{bucket}/.amc/uploads"))
        .map_err(|e| StoreIoError::Corrupt(e.to_string()))?;
    let listing = store.list_with_delimiter(Some(&root)).await?;
    let mut removed = 0;
    for dir in listing.common_prefixes {
        let record: Option<UploadRecord> = read_json(store, &upload_record_path(&dir)).await?;
        // A folder without a record is an upload whose record was never written, or is one
        // being swept: its parts go too.
        if record.is_none_or(|r| r.created_at < before) {
            delete_under(store, &dir).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreIoError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("object store record: {0}")]
    Corrupt(String),
}
