//! Signature nonces of a SQLite store, where one process owns the store: held in memory, and
//! appended to a log before the caller learns its nonce was new, so a replay is refused across
//! restarts (a `kill -9` loses nothing the log's `write` returned for; as with SQLite's WAL at
//! `synchronous=NORMAL`, an operating-system crash may lose the last moments).
//!
//! A database transaction per call (or per group of calls) cost more than the rest of a signed
//! call together; a `write` of one line costs a few microseconds. Nonces are kept in buckets by
//! the time until which they must be kept: one log file per bucket, so that forgetting expired
//! nonces is dropping whole buckets and removing their files, with no rewriting.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::Digest;

use crate::StoreError;

/// How much of the keeping time one bucket (and its log file) spans, in ms.
const BUCKET_MS: i64 = 5 * 60 * 1000;

/// Nonces in memory (as keyed 128-bit hashes: 16 bytes each) and, unless the store is in memory,
/// in the log files of a directory.
pub(crate) struct NonceLog {
    dir: Option<PathBuf>,
    /// Random per process: hashes an attacker cannot aim collisions at.
    salt: [u8; 16],
    buckets: Mutex<BTreeMap<i64, Bucket>>,
}

struct Bucket {
    seen: HashSet<u128>,
    file: Option<File>,
}

fn failed(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::File {
        path: path.display().to_string(),
        source,
    }
}

fn bucket_of(expires_at: i64) -> i64 {
    expires_at.div_euclid(BUCKET_MS) * BUCKET_MS
}

impl NonceLog {
    /// Opens the log in `dir` (created 0700), forgetting what expired before `now`; `None`: in
    /// memory only.
    pub(crate) fn open(dir: Option<PathBuf>, now: i64) -> Result<NonceLog, StoreError> {
        let mut log = NonceLog {
            dir,
            salt: rand::random(),
            buckets: Mutex::default(),
        };
        let Some(dir) = &log.dir else {
            return Ok(log);
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| failed(dir, e))?;
        let mut buckets = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(|e| failed(dir, e))? {
            let path = entry.map_err(|e| failed(dir, e))?.path();
            let Some(start) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            if start + BUCKET_MS <= now {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let reader = std::io::BufReader::new(File::open(&path).map_err(|e| failed(&path, e))?);
            let mut seen = HashSet::new();
            for line in reader.lines() {
                let line = line.map_err(|e| failed(&path, e))?;
                // A line cut short by a crash names no nonce anyone was told was new.
                if let Ok((access_key_id, nonce)) = serde_json::from_str::<(String, String)>(&line)
                {
                    seen.insert(log.hash(&access_key_id, &nonce));
                }
            }
            buckets.insert(start, Bucket { seen, file: None });
        }
        log.buckets = Mutex::new(buckets);
        Ok(log)
    }

    fn hash(&self, access_key_id: &str, nonce: &str) -> u128 {
        let mut hasher = sha2::Sha256::new();
        hasher.update(self.salt);
        hasher.update((access_key_id.len() as u64).to_le_bytes());
        hasher.update(access_key_id.as_bytes());
        hasher.update(nonce.as_bytes());
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        u128::from_le_bytes(bytes)
    }

    /// Records `nonce` of `access_key_id`, kept until `expires_at`; `false` when it is already
    /// there (with any time). Answers only once the nonce is in the log.
    pub(crate) fn record(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let hash = self.hash(access_key_id, nonce);
        let start = bucket_of(expires_at);
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| StoreError::Nonces("the nonce log lock is poisoned".into()))?;
        if buckets.values().any(|bucket| bucket.seen.contains(&hash)) {
            return Ok(false);
        }
        let bucket = buckets.entry(start).or_insert_with(|| Bucket {
            seen: HashSet::new(),
            file: None,
        });
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{start}.log"));
            if bucket.file.is_none() {
                let mut options = std::fs::OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                bucket.file = Some(options.open(&path).map_err(|e| failed(&path, e))?);
            }
            let mut line = serde_json::to_string(&(access_key_id, nonce))
                .map_err(|e| StoreError::Nonces(e.to_string()))?;
            line.push('\n');
            if let Some(file) = bucket.file.as_mut() {
                file.write_all(line.as_bytes())
                    .map_err(|e| failed(&path, e))?;
            }
        }
        bucket.seen.insert(hash);
        Ok(true)
    }

    /// Forgets the nonces every one of which had to be kept only until before `now`, with their
    /// log files; how many.
    pub(crate) fn purge(&self, now: i64) -> Result<u64, StoreError> {
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| StoreError::Nonces("the nonce log lock is poisoned".into()))?;
        let expired: Vec<i64> = buckets
            .keys()
            .copied()
            .filter(|start| start + BUCKET_MS <= now)
            .collect();
        let mut forgotten = 0;
        for start in expired {
            if let Some(bucket) = buckets.remove(&start) {
                forgotten += bucket.seen.len() as u64;
            }
            if let Some(dir) = &self.dir {
                let path = dir.join(format!("{start}.log"));
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(failed(&path, e));
                    }
                    _ => {}
                }
            }
        }
        Ok(forgotten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "amc-nonce-log-{}-{name}-{}",
            std::process::id(),
            rand::random::<u32>()
        ))
    }

    #[test]
    fn a_nonce_is_new_once_per_key() -> Result<(), StoreError> {
        let log = NonceLog::open(None, 0)?;
        assert!(log.record("k1", "n", 1_000)?);
        assert!(!log.record("k1", "n", 1_000)?);
        assert!(!log.record("k1", "n", 900_000)?, "whatever its time");
        assert!(log.record("k2", "n", 1_000)?);
        // Key and nonce are told apart, not concatenated.
        assert!(log.record("k1n", "", 1_000)?);
        Ok(())
    }

    #[test]
    fn nonces_survive_a_restart_until_they_expire() -> Result<(), StoreError> {
        let dir = temp_dir("restart");
        let log = NonceLog::open(Some(dir.clone()), 0)?;
        assert!(log.record("k", "early", 1_000)?);
        assert!(log.record("k", "late", 2 * BUCKET_MS + 1)?);
        drop(log);
        // A crash in the middle of a line leaves a line that names nothing.
        let path = dir.join(format!("{}.log", bucket_of(1_000)));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"[\"k\",\"cut"))
            .map_err(|e| failed(&path, e))?;

        let log = NonceLog::open(Some(dir.clone()), 10)?;
        assert!(!log.record("k", "early", 1_000)?);
        assert!(!log.record("k", "late", 2 * BUCKET_MS + 1)?);
        assert!(log.record("k", "cut", 1_000)?);
        assert_eq!(
            log.purge(BUCKET_MS + 1)?,
            2,
            "the first bucket's two nonces"
        );
        assert!(!path.exists(), "its log file goes with it");
        drop(log);

        let log = NonceLog::open(Some(dir.clone()), BUCKET_MS + 1)?;
        assert!(
            log.record("k", "early", 1_000)?,
            "forgotten: its window has closed"
        );
        assert!(!log.record("k", "late", 2 * BUCKET_MS + 1)?);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
