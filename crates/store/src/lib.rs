//! amc's persistence. One code path over SQLite (embedded default) and PostgreSQL: queries are
//! written once in the SQL both engines speak, each engine has its own migrations folder.
//!
//! No SQL lives outside this crate. Secrets are encrypted here, on their way in, by [`Cipher`].

mod crypto;
mod error;
pub mod nonces;
mod query;
pub mod runtimes;
mod settings;
pub mod tenants;

use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use tokio::sync::{Mutex, MutexGuard};

pub use crypto::{Cipher, CryptoError, MasterKey, Secret};
pub use error::StoreError;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The handle every repository hangs off. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer: taking this lock before a write transaction queues writers in
    /// process instead of letting them fail with SQLITE_BUSY on lock upgrade.
    write_lock: Arc<Mutex<()>>,
    cipher: Cipher,
    runtime_counts: Arc<runtimes::CountCache>,
}

static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATE_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects to `database_url` (`sqlite://…` or `postgres://…`) and brings the schema up to date.
    pub async fn connect(database_url: &str, cipher: Cipher) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = if database_url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let options = AnyPoolOptions::new();
        let pool = match backend {
            Backend::Sqlite => {
                options
                    .max_connections(8)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; \
                                 PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(database_url)
                    .await?
            }
            Backend::Postgres => options.max_connections(16).connect(database_url).await?,
        };
        match backend {
            Backend::Sqlite => MIGRATE_SQLITE.run(&pool).await?,
            Backend::Postgres => MIGRATE_POSTGRES.run(&pool).await?,
        }
        Ok(Store {
            pool,
            backend,
            write_lock: Arc::new(Mutex::new(())),
            cipher,
            runtime_counts: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a write transaction, queued behind other writers on SQLite.
    async fn write(&self) -> Result<WriteTx<'_>, StoreError> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        };
        let tx = self.pool.begin().await?;
        Ok(WriteTx { tx, _guard: guard })
    }
}

/// A transaction that holds the SQLite writer slot until it ends.
struct WriteTx<'a> {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _guard: Option<MutexGuard<'a, ()>>,
}

impl WriteTx<'_> {
    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
