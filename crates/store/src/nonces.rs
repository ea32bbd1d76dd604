//! Signature nonces seen within the timestamp window, shared by every replica through the database.
//!
//! Every signed call records one nonce, so nonces are written in batches: concurrent calls join
//! one statement (group commit: one round trip and one commit for the batch) and each still
//! learns, before it is answered, whether its nonce was new. A nonce is never trusted before it
//! is durably recorded.

use std::collections::HashMap;
use std::fmt::Write;

use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

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
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            access_key_id: access_key_id.to_string(),
            nonce: nonce.to_string(),
            expires_at,
            reply,
        };
        let stopped = || StoreError::Corrupt("the nonce writer has stopped".into());
        self.nonce_writer
            .0
            .send(pending)
            .await
            .map_err(|_| stopped())?;
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
        let result = sqlx::query("DELETE FROM signature_nonces WHERE expires_at < $1")
            .bind(now)
            .execute(&self.nonce_pool)
            .await?;
        Ok(result.rows_affected())
    }
}
