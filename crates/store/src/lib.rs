//! amc's persistence. One code path over SQLite (embedded default) and PostgreSQL: queries are
//! written once in the SQL both engines speak, each engine has its own migrations folder.
//!
//! No SQL lives outside this crate. Secrets are encrypted here, on their way in, by [`Cipher`].

pub mod agents;
pub mod audit;
pub mod channels;
pub mod credits;
mod crypto;
pub mod delivery;
mod error;
mod locks;
pub mod models;
mod nonce_log;
pub mod nonces;
pub mod office_sites;
mod query;
pub mod ram;
mod rates;
pub mod resource_groups;
pub mod runtimes;
mod secrets;
mod settings;
pub mod skills;
pub mod tenants;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};
use tokio::sync::{Mutex, MutexGuard};

use crate::query::Sql;

pub use crypto::{Cipher, CryptoError, MasterKey, Secret};
pub use error::StoreError;
pub use secrets::SECRET_COLUMNS;

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
    /// Signature nonces: on PostgreSQL a table every replica shares; on SQLite, whose store one
    /// process owns, a log beside the database.
    nonces: nonces::Nonces,
    backend: Backend,
    /// SQLite has one writer: taking this lock before a write transaction queues writers in
    /// process instead of letting them fail with SQLITE_BUSY on lock upgrade.
    write_lock: Arc<Mutex<()>>,
    cipher: Cipher,
    runtime_counts: Arc<runtimes::CountCache>,
    runtime_pages: Arc<runtimes::PageCache>,
    /// On SQLite, which no other process writes (but for `amc admin`, which adds tenants and
    /// keys), the count of each tenant's committed write transactions; on PostgreSQL the count
    /// lives in `tenant_changes`, where every replica bumps it (see [`Store::tenant_version`]).
    changes: Arc<std::sync::Mutex<HashMap<String, u64>>>,
    /// Request counts of this process's rate windows (SQLite; PostgreSQL counts in a table).
    request_counts: Arc<rates::LocalCounts>,
    access_keys: Arc<tenants::AccessKeyCache>,
    /// Bumped by every RAM write of this process (see [`Store::ram_generation`]).
    ram_changes: Arc<std::sync::atomic::AtomicU64>,
}

static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATE_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; \
     PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;";

/// The file of a `sqlite://path?query` URL; `None` for an in-memory database.
pub(crate) fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    (!path.is_empty() && path != ":memory:").then(|| path.into())
}

/// The database file and its WAL and shared-memory files, readable by their owner only: they
/// hold every tenant's records. SQLite gives the WAL and shm files the mode of the database
/// file, so creating that one 0600 before SQLite does covers all three; existing files are
/// tightened too.
fn make_private(url: &str) -> Result<(), StoreError> {
    #[cfg(unix)]
    if let Some(path) = sqlite_path(url) {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let failed = |path: &std::path::Path, source| StoreError::File {
            path: path.display().to_string(),
            source,
        };
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| failed(&path, e))?;
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(&file, e)),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = url;
    Ok(())
}

pub(crate) async fn sqlite_pool(url: &str, max_connections: u32) -> Result<AnyPool, StoreError> {
    make_private(url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(SQLITE_PRAGMAS).await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    Ok(pool)
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
        let (pool, nonces) = match backend {
            Backend::Sqlite => {
                let pool = sqlite_pool(database_url, 8).await?;
                MIGRATE_SQLITE.run(&pool).await?;
                let nonces = nonces::Nonces::sqlite_log(database_url).await?;
                (pool, nonces)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .connect(database_url)
                    .await?;
                MIGRATE_POSTGRES.run(&pool).await?;
                let nonces = nonces::Nonces::database(pool.clone());
                (pool, nonces)
            }
        };

        Ok(Store {
            pool,
            nonces,
            backend,
            write_lock: Arc::new(Mutex::new(())),
            cipher,
            runtime_counts: Arc::default(),
            runtime_pages: Arc::default(),
            changes: Arc::default(),
            request_counts: Arc::default(),
            access_keys: Arc::default(),
            ram_changes: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    /// The same store under another cipher (recovering from an interrupted key rotation);
    /// caches of decrypted values start empty.
    pub fn with_cipher(self, cipher: Cipher) -> Store {
        Store {
            cipher,
            access_keys: Arc::default(),
            ..self
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// How many write transactions of `tenant_id` have committed, or a number that grows with
    /// them: what was read while it is `v` is current while it is still `v`. On PostgreSQL one
    /// indexed read, the same whichever replica wrote.
    pub async fn tenant_version(&self, tenant_id: &str) -> Result<u64, StoreError> {
        match self.backend {
            Backend::Sqlite => Ok(self
                .changes
                .lock()
                .map_err(|_| StoreError::Corrupt("the change counters' lock is poisoned".into()))?
                .get(tenant_id)
                .copied()
                .unwrap_or(0)),
            Backend::Postgres => {
                let seq: Option<i64> =
                    sqlx::query("SELECT seq FROM tenant_changes WHERE tenant_id = $1")
                        .bind(tenant_id)
                        .fetch_optional(&self.pool)
                        .await?
                        .map(|row| row.try_get(0))
                        .transpose()?;
                Ok(u64::try_from(seq.unwrap_or(0)).unwrap_or(0))
            }
        }
    }

    /// Begins a write transaction, queued behind other writers on SQLite.
    ///
    /// The transaction changes what `tenants` see: it bumps their versions (see
    /// [`Store::tenant_version`]) as it commits.
    async fn write(&self, tenants: &[&str]) -> Result<WriteTx<'_>, StoreError> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        };
        let tx = self.pool.begin().await?;
        let mut touched: Vec<String> = tenants.iter().map(|t| t.to_string()).collect();
        // In one order: two transactions bumping the same tenants never wait for each other
        // the wrong way round.
        touched.sort_unstable();
        touched.dedup();
        Ok(WriteTx {
            tx,
            backend: self.backend,
            changes: &self.changes,
            touched,
            _guard: guard,
        })
    }
}

/// Runs `$body` — an expression of type `Result<T, E>` (`E: From<StoreError> + Contention`)
/// that sees the transaction as `$tx: &mut WriteTx` — in one write transaction of `$store`, and
/// commits it; an `Err` rolls everything back. Every write transaction of the store but the
/// nonce batches (which rerun the same way) goes through here. When the database aborts the
/// transaction for contention (see [`Contention`]), the whole of it is rolled back and run again
/// (see [`Attempts`]): `$body` must do nothing but work in the transaction. A macro rather than a function taking a closure: the body borrows the
/// transaction, and futures of such closures cannot yet be proven `Send`.
macro_rules! transact {
    ($store:expr, $tenants:expr, |$tx:ident| $body:expr) => {{
        let mut attempts = $crate::Attempts::default();
        loop {
            let attempt = async {
                let mut tx = $store.write($tenants).await?;
                let result = async {
                    let $tx = &mut tx;
                    $body
                }
                .await;
                tx.finish(result).await
            }
            .await;
            match attempt {
                Err(error) if $crate::Contention::is_contention(&error) => {
                    if !attempts.pause().await {
                        break Err(
                            $crate::StoreError::Contended($crate::CONTENTION_ATTEMPTS).into()
                        );
                    }
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use transact;

/// How many times an attempt aborted for contention runs in all, and the pause after the first
/// abort (doubled after each further one, with jitter): at most about 150 ms of waiting in all.
pub(crate) const CONTENTION_ATTEMPTS: u32 = 5;
const CONTENTION_PAUSE: Duration = Duration::from_millis(10);

/// An error that may say the database gave up on a transaction because concurrent ones got in
/// its way, so that running it again may well succeed.
pub(crate) trait Contention {
    fn is_contention(&self) -> bool;
}

/// SQLSTATEs of contention: PostgreSQL's serialization_failure and deadlock_detected, and
/// SQLite's BUSY and BUSY_SNAPSHOT (another process holding the database).
const CONTENTION_CODES: &[&str] = &["40001", "40P01", "5", "517"];

impl Contention for StoreError {
    fn is_contention(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(error)) => error
                .code()
                .is_some_and(|code| CONTENTION_CODES.contains(&code.as_ref())),
            _ => false,
        }
    }
}

/// The reruns of one transaction aborted for contention: a short pause, a little longer each
/// time, and after [`CONTENTION_ATTEMPTS`] attempts in all, no more (the caller then fails with
/// [`StoreError::Contended`], which is answered as a conflict rather than a failure).
pub(crate) struct Attempts {
    made: u32,
    pause: Duration,
}

impl Default for Attempts {
    fn default() -> Attempts {
        Attempts {
            made: 1,
            pause: CONTENTION_PAUSE,
        }
    }
}

impl Attempts {
    /// After an attempt aborted for contention: waits before the next one and returns `true`,
    /// or returns `false` when that was the last attempt.
    pub(crate) async fn pause(&mut self) -> bool {
        if self.made >= CONTENTION_ATTEMPTS {
            tracing::warn!(
                attempts = self.made,
                "transaction aborted for contention every time; giving up"
            );
            return false;
        }
        tracing::debug!(
            attempt = self.made,
            "transaction aborted for contention; running it again"
        );
        // Jitter keeps transactions that collided from colliding again in step.
        let half = self.pause / 2;
        let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), Duration::ZERO..=half);
        tokio::time::sleep(half + jitter).await;
        self.pause *= 2;
        self.made += 1;
        true
    }
}

/// A write transaction; on SQLite it holds the writer slot until it ends.
pub(crate) struct WriteTx<'a> {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    changes: &'a std::sync::Mutex<HashMap<String, u64>>,
    /// The tenants whose version the transaction bumps, sorted.
    touched: Vec<String>,
    _guard: Option<MutexGuard<'a, ()>>,
}

impl WriteTx<'_> {
    /// Commits after `result` succeeded, rolls back after it failed. The rollback is awaited so
    /// that the locks are gone before any rerun; a connection too broken to roll back is
    /// dropped by the pool anyway.
    async fn finish<T, E: From<StoreError>>(self, result: Result<T, E>) -> Result<T, E> {
        match result {
            Ok(value) => {
                let WriteTx {
                    mut tx,
                    backend,
                    changes,
                    touched,
                    ..
                } = self;
                if backend == Backend::Postgres && !touched.is_empty() {
                    // Last, just before the commit: the tenants' rows are locked for no longer
                    // than the commit takes, and nothing is locked after them.
                    let mut bump = Sql::new("INSERT INTO tenant_changes (tenant_id, seq) VALUES ");
                    for (i, tenant) in touched.iter().enumerate() {
                        if i > 0 {
                            bump.push(", ");
                        }
                        bump.push("(").bind_text(tenant.clone()).push(", 1)");
                    }
                    bump.push(
                        " ON CONFLICT (tenant_id) DO UPDATE SET seq = tenant_changes.seq + 1",
                    );
                    let bumped = match bump.query() {
                        Ok(query) => query.execute(&mut *tx).await.map(|_| ()),
                        Err(error) => Err(error),
                    };
                    if let Err(error) = bumped {
                        let _ = tx.rollback().await;
                        return Err(StoreError::from(error).into());
                    }
                }
                tx.commit().await.map_err(StoreError::from)?;
                if backend == Backend::Sqlite {
                    // After the commit, never before: a read that saw the old version also saw
                    // the old data.
                    if let Ok(mut changes) = changes.lock() {
                        for tenant in touched {
                            *changes.entry(tenant).or_default() += 1;
                        }
                    }
                }
                Ok(value)
            }
            Err(error) => {
                let _ = self.tx.rollback().await;
                Err(error)
            }
        }
    }

    /// ` FOR {strength}` on PostgreSQL, which takes row locks; nothing on SQLite, where a write
    /// transaction excludes every other writer anyway.
    pub(crate) fn locking(&self, strength: &str) -> String {
        match self.backend {
            Backend::Postgres => format!(" FOR {strength}"),
            Backend::Sqlite => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::test_support::test_store;

    /// A database error carrying `sqlstate`, as a driver reports one.
    #[derive(Debug)]
    struct Refused(&'static str);

    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "refused with SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Refused {}

    impl sqlx::error::DatabaseError for Refused {
        fn message(&self) -> &str {
            "refused"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn refused(sqlstate: &'static str) -> StoreError {
        StoreError::Database(sqlx::Error::Database(Box::new(Refused(sqlstate))))
    }

    /// Runs a transaction whose body fails with `sqlstate` the first `failures` times.
    async fn run_failing(
        store: &Store,
        sqlstate: &'static str,
        failures: u32,
    ) -> (Result<u32, StoreError>, u32) {
        let runs = AtomicU32::new(0);
        let result = transact!(store, &[], |tx| {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            sqlx::query("INSERT INTO store_settings (name, value) VALUES ($1, 'x')")
                .bind(format!("run-{sqlstate}-{run}"))
                .execute(&mut *tx.tx)
                .await?;
            if run <= failures {
                return Err(refused(sqlstate));
            }
            Ok(run)
        });
        (result, runs.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn deadlocked_transactions_run_again_and_keep_only_the_last_run() -> Result<(), StoreError>
    {
        // issue: contention
        let (store, _tenant, _dir) = test_store("rerun").await?;
        for sqlstate in ["40P01", "40001"] {
            let (result, runs) = run_failing(&store, sqlstate, 2).await;
            assert_eq!((result?, runs), (3, 3));
            let kept: Vec<String> =
                sqlx::query_scalar("SELECT name FROM store_settings WHERE name LIKE $1")
                    .bind(format!("run-{sqlstate}-%"))
                    .fetch_all(&store.pool)
                    .await?;
            assert_eq!(
                kept,
                [format!("run-{sqlstate}-3")],
                "aborted runs are rolled back"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn contention_that_outlasts_the_reruns_is_a_conflict() -> Result<(), StoreError> {
        // issue: contention
        let (store, _tenant, _dir) = test_store("conflict").await?;
        let (result, runs) = run_failing(&store, "40P01", u32::MAX).await;
        assert!(
            matches!(result, Err(StoreError::Contended(CONTENTION_ATTEMPTS))),
            "{result:?}"
        );
        assert_eq!(runs, CONTENTION_ATTEMPTS);
        // Other failures are not rerun.
        let (result, runs) = run_failing(&store, "23505", u32::MAX).await;
        assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
        assert_eq!(runs, 1);
        Ok(())
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            super::sqlite_path("sqlite://d/amc.db?mode=rwc"),
            Some("d/amc.db".into())
        );
        assert_eq!(
            super::sqlite_path("sqlite:///abs/amc.db"),
            Some("/abs/amc.db".into())
        );
        assert_eq!(super::sqlite_path("sqlite::memory:"), None);
        assert_eq!(super::sqlite_path("postgres://h/db"), None);
    }
}

/// Throwaway stores for the repositories' own tests: a fresh SQLite file each.
#[cfg(test)]
pub(crate) mod test_support {
    use domain::runtime::{AgentStatus, DesktopStatus};

    use crate::runtimes::Runtime;
    use crate::tenants::NewTenant;
    use crate::{Cipher, MasterKey, Secret, Store, StoreError};

    /// The directory of a test store, removed when the test ends.
    pub(crate) struct TestDir(std::path::PathBuf);

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A new store holding one tenant; returns the tenant id and the directory guard too.
    pub(crate) async fn test_store(name: &str) -> Result<(Store, String, TestDir), StoreError> {
        let dir = TestDir(std::env::temp_dir().join(format!(
            "amc-store-test-{}-{name}-{}",
            std::process::id(),
            rand::random::<u32>()
        )));
        std::fs::create_dir_all(&dir.0).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let url = format!("sqlite://{}/amc.db?mode=rwc", dir.0.display());
        let cipher = Cipher::new(MasterKey::generate(&mut rand::thread_rng()));
        let store = Store::connect(&url, cipher).await?;
        let tenant = add_tenant(&store, "t1").await?;
        Ok((store, tenant, dir))
    }

    pub(crate) async fn add_tenant(store: &Store, id: &str) -> Result<String, StoreError> {
        store
            .create_tenant(&NewTenant {
                account_id: id.into(),
                name: id.into(),
                access_key_id: format!("LTAI{id}"),
                access_key_secret: Secret::new("x"),
                created_at: 0,
            })
            .await?;
        Ok(id.to_string())
    }

    pub(crate) fn runtime(tenant: &str, id: &str, group: Option<&str>) -> Runtime {
        Runtime {
            id: id.into(),
            tenant_id: tenant.into(),
            name: id.into(),
            region_id: "cn-hangzhou".into(),
            office_site_id: None,
            bundle_id: None,
            image_id: None,
            template_name: "t".into(),
            os_type: "Linux".into(),
            platform: "Ubuntu".into(),
            desktop_type: "d".into(),
            cpu: 2,
            memory_mib: 4096,
            system_disk_gib: 40,
            data_disk_gib: 0,
            charge_type: "PostPaid".into(),
            hostname: None,
            policy_group_id: None,
            agent_platform: "ENTERPRISE".into(),
            agent_provider: "OpenClaw".into(),
            agent_version: "1".into(),
            agent_status: AgentStatus::Running,
            deployment_source: "Admin".into(),
            desktop_status: DesktopStatus::Running,
            resource_group_id: group.map(str::to_string),
            model_template_id: None,
            biz_type: 1,
            auth_users: vec![],
            tags: vec![],
            progress: None,
            next_step_at: None,
            generation: 1,
            created_at: 0,
            updated_at: 0,
        }
    }
}
