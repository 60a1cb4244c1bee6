//! Fresh stores for the suite: a SQLite file in a temp dir, and a new
//! database on the PostgreSQL server named by `FORMLEAD_TEST_POSTGRES_URL`.

use std::sync::Arc;

use formlead_adapters::sandbox::Faults;
use formlead_adapters::sql::{PgStore, SqliteDurability, SqliteStore};
use formlead_core::ports::{Store, StoreError};

/// What the suite needs beyond [`Store`]: fault hooks and the queue depth.
#[async_trait::async_trait]
pub trait Subject: Store {
    fn faults(&self) -> &Faults;
    async fn jobs(&self) -> Result<u64, StoreError>;
    /// Whether `start_run` reads the run's inputs with the lease.
    fn starts_with_inputs(&self) -> bool;
}

#[async_trait::async_trait]
impl<B: formlead_adapters::sql::Sql> Subject for formlead_adapters::sql::SqlStore<B>
where
    formlead_adapters::sql::SqlStore<B>: Store,
{
    fn faults(&self) -> &Faults {
        formlead_adapters::sql::SqlStore::faults(self)
    }

    fn starts_with_inputs(&self) -> bool {
        <B as formlead_adapters::sql::Backend>::START_RUN.is_some()
    }

    async fn jobs(&self) -> Result<u64, StoreError> {
        use formlead_core::ports::Queue;
        self.queue()
            .depth()
            .await
            .map_err(|e| StoreError::transient(e.to_string()))
    }
}

pub struct SqliteFixture {
    pub store: Arc<SqliteStore>,
    /// The database file.
    #[allow(dead_code)]
    pub path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

pub async fn sqlite() -> SqliteFixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("formlead.db");
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect_sqlite(&url, SqliteDurability::Full, 4)
        .await
        .expect("open sqlite");
    SqliteFixture {
        store: Arc::new(store),
        path,
        _dir: dir,
    }
}

/// A store on a brand-new database, or `None` (with a note on stderr) when
/// no server is configured. With `FORMLEAD_REQUIRE_POSTGRES=1` (CI) a
/// missing server is a failure, not a skip.
pub async fn postgres() -> Option<Arc<PgStore>> {
    let url = postgres_url().await?;
    Some(Arc::new(
        PgStore::connect_postgres(&url, 8)
            .await
            .expect("open postgres"),
    ))
}

/// The URL of a brand-new, empty database (see [`postgres`]).
#[allow(dead_code)]
pub async fn postgres_url() -> Option<String> {
    let Ok(admin_url) = std::env::var("FORMLEAD_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("FORMLEAD_REQUIRE_POSTGRES").is_err(),
            "FORMLEAD_REQUIRE_POSTGRES is set but FORMLEAD_TEST_POSTGRES_URL is not"
        );
        eprintln!(
            "SKIPPED (PostgreSQL): set FORMLEAD_TEST_POSTGRES_URL=postgres://user@host:port/postgres to run"
        );
        return None;
    };
    let db = format!(
        "{TEST_DB_PREFIX}{}_{}",
        unix_secs(),
        uuid::Uuid::new_v4().simple()
    );
    let admin = sqlx::PgPool::connect(&admin_url)
        .await
        .expect("connect to FORMLEAD_TEST_POSTGRES_URL");
    if !SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
        drop_stale_databases(&admin).await;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{db}\"")))
        .execute(&admin)
        .await
        .expect("create test database");
    admin.close().await;
    Some(with_database(&admin_url, &db))
}

/// Every test database is named `formlead_test_<unix seconds>_<uuid>`.
const TEST_DB_PREFIX: &str = "formlead_test_";
/// Older than this, a test database belongs to a finished run.
const STALE_AFTER_SECS: u64 = 3600;
/// One sweep per test process.
static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Tests leave their databases behind (a failing test's data is worth a
/// look); runs against a long-lived server would pile them up, so each run
/// drops those an hour old or more. Databases of runs still going are
/// younger and never touched.
async fn drop_stale_databases(admin: &sqlx::PgPool) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(TEST_DB_PREFIX)
            .fetch_all(admin)
            .await
            .expect("list test databases");
    let now = unix_secs();
    for name in names {
        if created_secs(&name).is_some_and(|t| now.saturating_sub(t) >= STALE_AFTER_SECS) {
            // Best effort: another run may be dropping the same one.
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(admin)
            .await;
        }
    }
}

/// The creation time in a test database's name; `None` for other names
/// (including the older `formlead_test_<uuid>` form, left alone).
pub fn created_secs(name: &str) -> Option<u64> {
    let rest = name.strip_prefix(TEST_DB_PREFIX)?;
    let (secs, _uuid) = rest.split_once('_')?;
    secs.parse().ok()
}

/// `admin_url` with its database name replaced by `db`.
pub fn with_database(admin_url: &str, db: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}
