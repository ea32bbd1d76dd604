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
    /// Signature nonces: on SQLite a database file of its own, on PostgreSQL the main pool.
    nonce_pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer: taking this lock before a write transaction queues writers in
    /// process instead of letting them fail with SQLITE_BUSY on lock upgrade.
    write_lock: Arc<Mutex<()>>,
    cipher: Cipher,
    runtime_counts: Arc<runtimes::CountCache>,
    access_keys: Arc<tenants::AccessKeyCache>,
}

static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATE_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static MIGRATE_SQLITE_NONCES: sqlx::migrate::Migrator =
    sqlx::migrate!("./migrations/sqlite-nonces");

const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; \
     PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;";

async fn sqlite_pool(url: &str, max_connections: u32) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(SQLITE_PRAGMAS).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

/// `sqlite://dir/amc.db?mode=rwc` -> `sqlite://dir/amc-nonces.db?mode=rwc`.
fn sibling_sqlite_url(url: &str, suffix: &str) -> String {
    let (path, query) = url
        .split_once('?')
        .map_or((url, None), |(p, q)| (p, Some(q)));
    let path = match path.strip_suffix(".db") {
        Some(stem) => format!("{stem}-{suffix}.db"),
        None => format!("{path}-{suffix}"),
    };
    match query {
        Some(query) => format!("{path}?{query}"),
        None => path,
    }
}

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
        let (pool, nonce_pool) = match backend {
            Backend::Sqlite => {
                let pool = sqlite_pool(database_url, 8).await?;
                MIGRATE_SQLITE.run(&pool).await?;
                // One connection: nonce inserts are serialised there instead of contending.
                let nonce_pool =
                    sqlite_pool(&sibling_sqlite_url(database_url, "nonces"), 1).await?;
                MIGRATE_SQLITE_NONCES.run(&nonce_pool).await?;
                (pool, nonce_pool)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .connect(database_url)
                    .await?;
                MIGRATE_POSTGRES.run(&pool).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Store {
            pool,
            nonce_pool,
            backend,
            write_lock: Arc::new(Mutex::new(())),
            cipher,
            runtime_counts: Arc::default(),
            access_keys: Arc::default(),
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
        self.nonce_pool.close().await;
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

#[cfg(test)]
mod tests {
    #[test]
    fn nonce_database_sits_beside_the_main_one() {
        assert_eq!(
            super::sibling_sqlite_url("sqlite://d/amc.db?mode=rwc", "nonces"),
            "sqlite://d/amc-nonces.db?mode=rwc"
        );
        assert_eq!(
            super::sibling_sqlite_url("sqlite://d/store", "nonces"),
            "sqlite://d/store-nonces"
        );
    }
}
