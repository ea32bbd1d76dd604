//! A request body streamed into the object store: counted against a size limit and hashed as
//! it arrives, never held whole in memory.

use std::time::Duration;

use axum::body::Body;
use futures::StreamExt;
use md5::{Digest, Md5};
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};
use sha2::Sha256;

use oss::OssError;

/// The CRC OSS reports (`x-oss-hash-crc64ecma`): CRC-64/XZ, ECMA-182's polynomial.
pub const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);

/// Bytes buffered before the store is handed a part (S3's smallest part is 5 MiB).
pub const CHUNK_BYTES: usize = 5 * 1024 * 1024;
/// Parts handed to the store and not yet written, per upload: with [`CHUNK_BYTES`], what bounds
/// an upload's memory.
pub const PARTS_IN_FLIGHT: usize = 2;

/// What a body turned out to be.
#[derive(Debug, Clone)]
pub struct Received {
    pub size: u64,
    pub md5: [u8; 16],
    pub crc64: u64,
}

/// What the request promised of its body.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub max_bytes: u64,
    pub content_length: Option<u64>,
    /// `Content-MD5`, decoded.
    pub md5: Option<Vec<u8>>,
    /// `x-oss-content-sha256` when it is a hash rather than `UNSIGNED-PAYLOAD`.
    pub sha256: Option<Vec<u8>>,
    /// How long the body may send nothing.
    pub idle: Duration,
}

/// Streams `body` to `path`. The object appears only once the whole body arrived and matched
/// what the request promised; otherwise nothing is left behind.
pub async fn receive(
    store: &dyn ObjectStore,
    path: &Path,
    body: Body,
    expect: &Expect,
) -> Result<Received, OssError> {
    if expect.content_length.is_some_and(|n| n > expect.max_bytes) {
        return Err(OssError::entity_too_large(expect.max_bytes));
    }
    let upload = store.put_multipart(path).await.map_err(store_failure)?;
    let mut sink = WriteMultipart::new_with_chunk_size(upload, CHUNK_BYTES);
    match stream_into(&mut sink, body, expect).await {
        Ok(received) => {
            sink.finish().await.map_err(store_failure)?;
            Ok(received)
        }
        Err(e) => {
            let _ = sink.abort().await;
            Err(e)
        }
    }
}

async fn stream_into(
    sink: &mut WriteMultipart,
    body: Body,
    expect: &Expect,
) -> Result<Received, OssError> {
    let mut stream = body.into_data_stream();
    let mut md5 = Md5::new();
    let mut sha256 = expect.sha256.as_ref().map(|_| Sha256::new());
    let mut crc = CRC64.digest();
    let mut size: u64 = 0;
    loop {
        let chunk = match tokio::time::timeout(expect.idle, stream.next()).await {
            Err(_) => return Err(OssError::request_timeout()),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(OssError::incomplete_body()),
            Ok(Some(Ok(chunk))) => chunk,
        };
        size += chunk.len() as u64;
        if size > expect.max_bytes {
            return Err(OssError::entity_too_large(expect.max_bytes));
        }
        md5.update(&chunk);
        crc.update(&chunk);
        if let Some(h) = sha256.as_mut() {
            h.update(&chunk);
        }
        sink.put(chunk);
        sink.wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(store_failure)?;
    }
    if expect.content_length.is_some_and(|n| n != size) {
        return Err(OssError::incomplete_body());
    }
    let md5: [u8; 16] = md5.finalize().into();
    if expect.md5.as_ref().is_some_and(|m| m[..] != md5[..]) {
        return Err(OssError::invalid_digest("Content-MD5"));
    }
    if let (Some(want), Some(h)) = (expect.sha256.as_ref(), sha256)
        && want[..] != h.finalize()[..]
    {
        return Err(OssError::invalid_digest("x-oss-content-sha256"));
    }
    Ok(Received {
        size,
        md5,
        crc64: crc.finalize(),
    })
}

pub fn store_failure(e: object_store::Error) -> OssError {
    tracing::error!(error = %e, "object store");
    OssError::internal_error()
}
