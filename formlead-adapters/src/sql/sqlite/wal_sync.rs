//! Durability of SQLite commits without an fsync on the writer.
//!
//! With `synchronous=FULL`, every commit fsyncs the WAL on the single
//! writer connection, and the writer then sits idle for that fsync instead
//! of committing the next batch. Here connections commit with
//! `synchronous=NORMAL` (SQLite writes the WAL, and still syncs it at
//! checkpoints), and a commit whose caller must not move on before it is
//! durable asks [`WalSync::durable`], which waits for an fsync of the WAL
//! that *started after* the commit. One thread does these fsyncs, one at a
//! time; every caller that arrives during one shares the next. The WAL is
//! written in commit order, so one fsync covers every commit before it.
//!
//! The WAL file is opened for each fsync (it may be removed when the last
//! connection closes; its content is then in the database file, synced by
//! that checkpoint). The first time a WAL file is seen, its directory is
//! synced too, so the file itself survives a power loss.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use formlead_core::ports::StoreError;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::sql::durability::CommitSync;

/// fsyncs of one SQLite database's WAL, shared by concurrent commits.
#[derive(Debug)]
pub struct WalSync {
    shared: Arc<Shared>,
    /// Generations finished, and whether the latest failed.
    finished: watch::Receiver<Finished>,
}

#[derive(Debug, Clone, Default)]
struct Finished {
    generation: u64,
    error: Option<String>,
}

#[derive(Debug)]
struct Shared {
    db: PathBuf,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The generation of the fsync running or last run.
    started: u64,
    /// The generation someone waits for.
    wanted: u64,
    stop: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl WalSync {
    /// Starts the fsync thread for the database file at `db`.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(db: &Path) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            db: db.to_owned(),
            state: Mutex::default(),
            wake: Condvar::new(),
        });
        let (done, finished) = watch::channel(Finished::default());
        let for_thread = shared.clone();
        std::thread::Builder::new()
            .name("formlead-wal-sync".into())
            .spawn(move || run(&for_thread, &done))?;
        Ok(Self { shared, finished })
    }

    /// Resolves once every commit made before this call is on disk. The
    /// fsync is asked for at once; the future may be awaited anywhere.
    ///
    /// # Errors
    /// [`StoreError::Transient`] when the fsync failed (the commit is
    /// visible but may not survive a power loss).
    pub fn durable(&self) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let wanted = {
            let mut state = self.shared.state();
            // The fsync running now may have started before our commit.
            state.wanted = state.started + 1;
            state.wanted
        };
        self.shared.wake.notify_one();
        let mut finished = self.finished.clone();
        async move {
            let result = finished
                .wait_for(|f| f.generation >= wanted)
                .await
                .map(|f| f.error.clone());
            match result {
                Ok(None) => Ok(()),
                Ok(Some(e)) => Err(StoreError::transient(format!(
                    "committed, but the fsync of the SQLite WAL failed: {e}"
                ))),
                Err(_) => Err(StoreError::transient("the WAL fsync thread stopped")),
            }
        }
    }
}

impl CommitSync for WalSync {
    fn durable(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(WalSync::durable(self))
    }

    #[cfg(test)]
    fn syncs(&self) -> u64 {
        self.finished.borrow().generation
    }
}

impl Drop for WalSync {
    fn drop(&mut self) {
        self.shared.state().stop = true;
        self.shared.wake.notify_one();
    }
}

fn run(shared: &Shared, done: &watch::Sender<Finished>) {
    let wal = wal_path(&shared.db);
    let mut seen_wal = None;
    loop {
        let generation = {
            let mut state = shared.state();
            while state.wanted <= state.started && !state.stop {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.wanted <= state.started {
                return;
            }
            state.started += 1;
            state.started
        };
        let error = sync_wal(&wal, &shared.db, &mut seen_wal).err().map(|e| {
            tracing::error!(error = %e, wal = %wal.display(), "fsync of the SQLite WAL failed");
            e.to_string()
        });
        done.send_replace(Finished { generation, error });
    }
}

/// `<db>-wal`, as SQLite names it.
fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// fsyncs the WAL (or, when there is none, the database file: its content
/// was checkpointed there); the directory too for a WAL not seen before.
fn sync_wal(wal: &Path, db: &Path, seen_wal: &mut Option<u64>) -> std::io::Result<()> {
    match File::open(wal) {
        Ok(file) => {
            file.sync_data()?;
            let id = file_id(&file)?;
            if *seen_wal != Some(id) {
                sync_dir(wal)?;
                *seen_wal = Some(id);
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::open(db)?.sync_data(),
        Err(e) => Err(e),
    }
}

/// Which file this is (its inode), to notice a new WAL.
#[cfg(unix)]
fn file_id(file: &File) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.ino())
}

#[cfg(not(unix))]
fn file_id(_: &File) -> std::io::Result<u64> {
    Ok(0)
}

#[cfg(unix)]
fn sync_dir(file: &Path) -> std::io::Result<()> {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened (and need no sync) there.
#[cfg(not(unix))]
fn sync_dir(_: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_is_named_like_sqlite_names_it() {
        assert_eq!(
            wal_path(Path::new("/data/formlead.db")),
            Path::new("/data/formlead.db-wal")
        );
    }

    #[tokio::test]
    async fn durable_waits_for_an_fsync_and_shares_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("f.db");
        std::fs::write(&db, b"db").unwrap();
        std::fs::write(wal_path(&db), b"wal").unwrap();
        let sync = WalSync::start(&db).unwrap();
        let waits: Vec<_> = (0..20).map(|_| sync.durable()).collect();
        for r in futures_util::future::join_all(waits).await {
            r.unwrap();
        }
        // 20 callers at once shared fsyncs.
        assert!(sync.syncs() < 20);
        sync.durable().await.unwrap();
        // No WAL: the database file is synced instead.
        std::fs::remove_file(wal_path(&db)).unwrap();
        sync.durable().await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_fsync_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // Neither the WAL nor the database exists.
        let sync = WalSync::start(&dir.path().join("missing.db")).unwrap();
        let e = sync.durable().await.unwrap_err();
        assert!(matches!(e, StoreError::Transient { .. }), "{e}");
        assert!(e.to_string().contains("fsync of the SQLite WAL failed"));
    }

    /// Every write path of a SQLite store answers only after an fsync.
    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn sqlite_writes_answer_after_an_fsync() {
        use formlead_core::domain::{AuditEvent, FormSubmission, WorkflowId};
        use formlead_core::ports::{Queue, Store, WorkflowJob};

        use crate::sql::{SqliteDurability, SqliteStore};

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("f.db").display());
        let store = SqliteStore::connect_sqlite(&url, SqliteDurability::Full, 2)
            .await
            .unwrap();
        let syncs = || store.wal_syncs().unwrap();

        let before = syncs();
        let body =
            r#"{"formSubmissionId":"s-1","fields":[{"name":"email","value":"a@b.example"}]}"#;
        let s = FormSubmission::from_webhook_body(body.as_bytes(), chrono::Utc::now()).unwrap();
        store.accept_submission(&s).await.unwrap();
        assert!(syncs() > before, "accept answered before an fsync");

        let before = syncs();
        let e = AuditEvent::new(
            None,
            "system",
            "test",
            serde_json::json!({}),
            chrono::Utc::now(),
        );
        store.record_audit(&e).await.unwrap();
        assert!(syncs() > before, "a write answered before an fsync");

        let before = syncs();
        let job = WorkflowJob {
            workflow_id: WorkflowId::new(),
        };
        store
            .queue()
            .enqueue(job, std::time::Duration::ZERO)
            .await
            .unwrap();
        assert!(syncs() > before, "a push answered before an fsync");

        // Normal durability: no fsync thread at all.
        let url = format!("sqlite://{}", dir.path().join("n.db").display());
        let normal = SqliteStore::connect_sqlite(&url, SqliteDurability::Normal, 2)
            .await
            .unwrap();
        assert!(normal.wal_syncs().is_none());
    }
}
