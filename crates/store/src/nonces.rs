//! Signature nonces seen within the timestamp window. On PostgreSQL they are shared by every
//! replica through a table; on SQLite, whose store one process owns, they live in a log beside
//! the database (`nonce_log`).
//!
//! Every signed call records one nonce, so on PostgreSQL nonces are written in batches:
//! concurrent calls join one statement (group commit: one round trip and one commit for the
//! batch) and each still learns, before it is answered, whether its nonce was new. A nonce is
//! never trusted before it is recorded.

use std::collections::HashMap;
use std::fmt::Write;

use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use std::sync::Arc;

use crate::nonce_log::NonceLog;
use crate::{Contention, Store, StoreError};

/// Most nonces written in one transaction.
const BATCH: usize = 256;

struct Pending {
    access_key_id: String,
    nonce: String,
    expires_at: i64,
    reply: oneshot::Sender<Result<bool, Failed>>,
}

/// Why a batch was not recorded, as every call of the batch learns it.
#[derive(Clone)]
enum Failed {
    /// Contention outlasted the reruns.
    Contended,
    Other(String),
}

/// Where a store's nonces are recorded.
#[derive(Clone)]
pub(crate) enum Nonces {
    Database {
        writer: NonceWriter,
        pool: sqlx::AnyPool,
    },
    Log(Arc<NonceLog>),
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Nonces {
    pub(crate) fn database(pool: sqlx::AnyPool) -> Nonces {
        Nonces::Database {
            writer: NonceWriter::start(pool.clone()),
            pool,
        }
    }

    /// The log of the SQLite store at `url`: the directory `<db>-nonces` beside `<db>.db`
    /// (nothing on disk for an in-memory store). Nonces an earlier release kept in the database
    /// `<db>-nonces.db` are taken over, and that file removed.
    pub(crate) async fn sqlite_log(url: &str) -> Result<Nonces, StoreError> {
        let now = now_ms();
        // `<db>` is the database file's path without its `.db`.
        let stem = crate::sqlite_path(url).map(|db| {
            let db = db.display().to_string();
            db.strip_suffix(".db").unwrap_or(&db).to_string()
        });
        let log = NonceLog::open(stem.as_ref().map(|s| format!("{s}-nonces").into()), now)?;
        if let Some(stem) = stem {
            let old = format!("{stem}-nonces.db");
            if std::path::Path::new(&old).exists() {
                take_over(&old, &log, now).await?;
            }
        }
        Ok(Nonces::Log(Arc::new(log)))
    }
}

/// Moves the nonces still in force from an earlier release's nonce database into `log`, then
/// removes that database.
async fn take_over(path: &str, log: &NonceLog, now: i64) -> Result<(), StoreError> {
    let pool = crate::sqlite_pool(&format!("sqlite://{path}?mode=rw"), 1).await?;
    let rows = sqlx::query(
        "SELECT access_key_id, nonce, expires_at FROM signature_nonces WHERE expires_at >= $1",
    )
    .bind(now)
    .fetch_all(&pool)
    .await;
    pool.close().await;
    // A database without the table held no nonces.
    for row in rows.unwrap_or_default() {
        let access_key_id: String = row.try_get(0)?;
        let nonce: String = row.try_get(1)?;
        let expires_at: i64 = row.try_get(2)?;
        log.record(&access_key_id, &nonce, expires_at)?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{path}{suffix}");
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StoreError::File {
                    path: file,
                    source: e,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The queue of nonces waiting for the writer task.
#[derive(Clone)]
pub(crate) struct NonceWriter(mpsc::Sender<Pending>);

impl NonceWriter {
    /// Starts the writer task on `pool`; it ends when the last sender is dropped.
    pub(crate) fn start(pool: sqlx::AnyPool) -> NonceWriter {
        let (sender, mut receiver) = mpsc::channel::<Pending>(4 * BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                let mut attempts = crate::Attempts::default();
                let written = loop {
                    match write_batch(&pool, &batch).await {
                        Err(error) if error.is_contention() => {
                            if !attempts.pause().await {
                                break Err(Failed::Contended);
                            }
                        }
                        other => break other.map_err(|e| Failed::Other(e.to_string())),
                    }
                };
                match written {
                    Ok(fresh) => {
                        for (pending, fresh) in batch.drain(..).zip(fresh) {
                            let _ = pending.reply.send(Ok(fresh));
                        }
                    }
                    Err(failed) => {
                        for pending in batch.drain(..) {
                            let _ = pending.reply.send(Err(failed.clone()));
                        }
                    }
                }
            }
        });
        NonceWriter(sender)
    }
}

/// Records a batch in one statement and says, per nonce, whether it was new. A nonce that comes
/// twice in one batch (a replay sent at the same moment) is new at most once. Rows go in key
/// order, so that replicas recording the same nonces at once (a client retrying on another
/// replica) wait for each other instead of deadlocking.
async fn write_batch(pool: &sqlx::AnyPool, batch: &[Pending]) -> Result<Vec<bool>, StoreError> {
    let mut first_of: HashMap<(&str, &str), usize> = HashMap::with_capacity(batch.len());
    let mut candidates: Vec<usize> = Vec::with_capacity(batch.len());
    for (index, pending) in batch.iter().enumerate() {
        let key = (pending.access_key_id.as_str(), pending.nonce.as_str());
        if let std::collections::hash_map::Entry::Vacant(slot) = first_of.entry(key) {
            slot.insert(index);
            candidates.push(index);
        }
    }
    candidates.sort_by(|&a, &b| {
        (&batch[a].access_key_id, &batch[a].nonce).cmp(&(&batch[b].access_key_id, &batch[b].nonce))
    });
    let mut sql =
        String::from("INSERT INTO signature_nonces (access_key_id, nonce, expires_at) VALUES ");
    for (n, _) in candidates.iter().enumerate() {
        if n > 0 {
            sql.push_str(", ");
        }
        let base = n * 3;
        let _ = write!(sql, "(${}, ${}, ${})", base + 1, base + 2, base + 3);
    }
    sql.push_str(" ON CONFLICT (access_key_id, nonce) DO NOTHING RETURNING access_key_id, nonce");
    let mut query = sqlx::query(&sql);
    for &index in &candidates {
        let pending = &batch[index];
        query = query
            .bind(&pending.access_key_id)
            .bind(&pending.nonce)
            .bind(pending.expires_at);
    }
    let inserted = query.fetch_all(pool).await?;
    let mut fresh = vec![false; batch.len()];
    for row in &inserted {
        let access_key_id: String = row.try_get(0)?;
        let nonce: String = row.try_get(1)?;
        if let Some(&index) = first_of.get(&(access_key_id.as_str(), nonce.as_str())) {
            fresh[index] = true;
        }
    }
    Ok(fresh)
}

impl Store {
    /// Records `nonce` for `access_key_id` until `expires_at` (ms); `false` when it was already used.
    pub async fn record_nonce(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let writer = match &self.nonces {
            Nonces::Log(log) => return log.record(access_key_id, nonce, expires_at),
            Nonces::Database { writer, .. } => writer,
        };
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            access_key_id: access_key_id.to_string(),
            nonce: nonce.to_string(),
            expires_at,
            reply,
        };
        let stopped = || StoreError::Corrupt("the nonce writer has stopped".into());
        writer.0.send(pending).await.map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(|failed| match failed {
                Failed::Contended => StoreError::Contended(crate::CONTENTION_ATTEMPTS),
                Failed::Other(message) => StoreError::Nonces(message),
            })
    }

    /// Forgets nonces whose window has passed (a replay then fails the timestamp check anyway).
    pub async fn purge_nonces(&self, now: i64) -> Result<u64, StoreError> {
        match &self.nonces {
            Nonces::Log(log) => log.purge(now),
            Nonces::Database { pool, .. } => {
                let result = sqlx::query("DELETE FROM signature_nonces WHERE expires_at < $1")
                    .bind(now)
                    .execute(pool)
                    .await?;
                Ok(result.rows_affected())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upgrade keeps refusing the replays the nonce database of an earlier release knew of.
    #[tokio::test]
    async fn the_log_takes_over_an_earlier_nonce_database() -> Result<(), StoreError> {
        sqlx::any::install_default_drivers();
        let dir = std::env::temp_dir().join(format!(
            "amc-nonce-takeover-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let old = dir.join("amc-nonces.db");
        let pool = crate::sqlite_pool(&format!("sqlite://{}?mode=rwc", old.display()), 1).await?;
        sqlx::query(
            "CREATE TABLE signature_nonces (access_key_id TEXT, nonce TEXT, expires_at BIGINT)",
        )
        .execute(&pool)
        .await?;
        sqlx::query("INSERT INTO signature_nonces VALUES ('k', 'live', $1), ('k', 'gone', 0)")
            .bind(now_ms() + 60_000)
            .execute(&pool)
            .await?;
        pool.close().await;

        let url = format!("sqlite://{}?mode=rwc", dir.join("amc.db").display());
        let Nonces::Log(log) = Nonces::sqlite_log(&url).await? else {
            return Err(StoreError::Corrupt("not a log".into()));
        };
        assert!(!log.record("k", "live", now_ms() + 60_000)?);
        assert!(log.record("k", "gone", now_ms() + 60_000)?);
        assert!(!old.exists());
        assert!(dir.join("amc-nonces").is_dir());
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
