//! The store's error type. Detail stays in logs; callers answer `InternalError` for most of it.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL must start with sqlite:// or postgres://")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Crypto(#[from] crate::CryptoError),
    #[error(
        "the store's secrets are encrypted under master key {recorded}, but the key given is {given}: \
         use the data dir that holds the store's master.key, or set AMC_MASTER_KEY"
    )]
    WrongMasterKey { recorded: String, given: String },
    #[error("recording the signature nonce failed: {0}")]
    Nonces(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("preparing the database file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    /// Concurrent transactions kept getting in the way (deadlocks, serialisation failures), run
    /// after run: the request conflicts with others and may be sent again.
    #[error("the transaction was aborted for contention in each of {0} attempts")]
    Contended(u32),
}
