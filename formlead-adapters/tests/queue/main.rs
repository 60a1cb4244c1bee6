//! apalis queue and workers on both backends: delays, retry schedules,
//! dead letters, operator retry, a worker killed mid-workflow, and (on
//! PostgreSQL) two worker processes sharing 1,000 workflows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod db_failures;
mod harness;
#[path = "../store/helpers.rs"]
#[allow(dead_code)]
mod helpers;
mod journal;

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use formlead_adapters::sandbox::{Fault, SandboxCrm, SandboxMail};
use formlead_core::domain::{ErrorKind, StepName, WorkflowStatus};
use formlead_core::orchestrator::EngineConfig;
use formlead_core::policy::GatedPolicy;
use formlead_core::ports::WorkflowJob;
use harness::{Db, fast_engine_config, fast_worker_config, sandbox_calendar};
use journal::Journal;

enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL for `backend` (None: PostgreSQL not configured, skipped).
async fn database(backend: Backend, dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(harness::sqlite_url(dir)),
        Backend::Postgres => helpers::postgres_url().await,
    }
}

fn sandboxes() -> (Arc<SandboxCrm>, Arc<SandboxMail>) {
    (
        Arc::new(SandboxCrm::new()),
        Arc::new(SandboxMail::new(Arc::new(GatedPolicy::default()))),
    )
}

async fn delayed_job_does_not_run_early(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database(backend, dir.path()).await else {
        return;
    };
    let db = Db::open(&url).await;
    let id = db.submit(1, "delay").await[0];
    db.clear_jobs().await;
    let enqueued = Instant::now();
    db.queue()
        .enqueue(WorkflowJob { workflow_id: id }, Duration::from_secs(3))
        .await
        .unwrap();
    let (crm, mail) = sandboxes();
    let engine = db.engine(crm, mail, sandbox_calendar(), fast_engine_config("w"));
    let (stop, handle) = db.spawn_workers(engine, fast_worker_config("delay", 2));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        db.status(id).await,
        WorkflowStatus::Triggered,
        "ran before its delay"
    );
    db.wait_for(Duration::from_secs(10), "the delayed job", || async {
        db.status(id).await == WorkflowStatus::Completed
    })
    .await;
    assert!(enqueued.elapsed() >= Duration::from_secs(3));
    let _ = stop.send(());
    handle.await.unwrap();
}

async fn retries_follow_the_schedule_then_dead_letter(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database(backend, dir.path()).await else {
        return;
    };
    let db = Db::open(&url).await;
    let (crm, mail) = sandboxes();
    let calendar = sandbox_calendar();
    crm.faults().inject_n("create_task", Fault::Transient, 3);
    let engine = db.engine(crm.clone(), mail, calendar.clone(), fast_engine_config("w"));
    let (stop, handle) = db.spawn_workers(engine.clone(), fast_worker_config("retry", 2));
    let id = db.submit(1, "retry").await[0];
    db.wait_for(Duration::from_secs(20), "dead letter", || async {
        db.status(id).await == WorkflowStatus::Failed
    })
    .await;

    let store = db.store();
    let errors = store.errors_for_workflow(id).await.unwrap();
    assert_eq!(
        errors.iter().map(|e| e.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(
        errors
            .iter()
            .all(|e| e.step == Some(StepName::CreateCrmTask) && e.kind == ErrorKind::Transient)
    );
    // Retry n waits base × 2^(n-1), plus at most 20 % jitter: 1 s, then
    // 2 s; never earlier.
    let waited = |e: &formlead_core::domain::WorkflowError| {
        (e.retry_at.unwrap() - e.created_at).num_milliseconds()
    };
    assert!(
        (1000..=1200).contains(&waited(&errors[0])),
        "{}",
        waited(&errors[0])
    );
    assert!(
        (2000..=2400).contains(&waited(&errors[1])),
        "{}",
        waited(&errors[1])
    );
    assert!(
        errors[1].created_at >= errors[0].retry_at.unwrap(),
        "attempt 2 ran before its time"
    );
    assert!(
        errors[2].created_at >= errors[1].retry_at.unwrap(),
        "attempt 3 ran before its time"
    );
    assert_eq!(errors[2].retry_at, None);
    db.wait_for(
        Duration::from_secs(5),
        "the job in apalis' dead state",
        || async { db.dead_jobs().await == 1 },
    )
    .await;

    // The operator retries it; the calendar works again; it completes once.
    engine.retry_workflow(id, "alice").await.unwrap();
    db.wait_for(
        Duration::from_secs(10),
        "completion after retry",
        || async { db.status(id).await == WorkflowStatus::Completed },
    )
    .await;
    assert_eq!(crm.tasks().len(), 1);
    assert_eq!(store.drafts_for_workflow(id).await.unwrap().len(), 1);
    let _ = stop.send(());
    handle.await.unwrap();
}

/// Starts this test binary again as a worker process (see `child_worker`).
fn spawn_child(url: &str, journal: &std::path::Path, name: &str, slow_task: bool) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env("FORMLEAD_CHILD_DATABASE_URL", url)
        .env("FORMLEAD_CHILD_JOURNAL", journal)
        .env("FORMLEAD_CHILD_NAME", name)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if slow_task {
        cmd.env("FORMLEAD_CHILD_SLOW_TASK", "1");
    }
    cmd.spawn().expect("spawn child worker")
}

fn count(entries: &[journal::Entry], kind: &str, key: &str) -> usize {
    entries
        .iter()
        .filter(|e| e.kind == kind && e.key.contains(key))
        .count()
}

async fn a_killed_worker_resumes_without_duplicates(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database(backend, dir.path()).await else {
        return;
    };
    let journal_dir: PathBuf = dir.path().join("journal");
    let db = Db::open(&url).await;
    let mut child = spawn_child(&url, &journal_dir, "first", true);
    let id = db.submit(1, "crash").await[0];
    let key = id.to_string();
    // Wait until the draft exists in the "vendor" (the task step is now
    // sleeping), then kill the worker without warning.
    db.wait_for(Duration::from_secs(30), "the draft", || async {
        count(&Journal::read_all(&journal_dir), "draft", &key) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        db.status(id).await,
        WorkflowStatus::Processing,
        "killed mid-workflow"
    );

    let mut child = spawn_child(&url, &journal_dir, "second", false);
    db.wait_for(
        Duration::from_secs(30),
        "completion after restart",
        || async { db.status(id).await == WorkflowStatus::Completed },
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let entries = Journal::read_all(&journal_dir);
    assert_eq!(
        count(&entries, "draft", &key),
        1,
        "exactly one draft: {entries:?}"
    );
    assert_eq!(
        count(&entries, "task", &key),
        1,
        "exactly one task: {entries:?}"
    );
    assert_eq!(
        count(&entries, "note", &key),
        1,
        "exactly one note: {entries:?}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e.writer == "second" || e.kind == "draft"),
        "the restarted worker finished it"
    );
    assert_eq!(db.store().drafts_for_workflow(id).await.unwrap().len(), 1);
    assert_eq!(db.store().tasks_for_workflow(id).await.unwrap().len(), 1);
    let wf = db.store().get_workflow(id).await.unwrap().unwrap();
    assert_eq!(wf.attempts, 2);
}

/// apalis leaves a finished job locked by the worker that ran it and
/// acknowledges jobs through that lock's index, so without the release
/// every acknowledgement read every job its worker had ever finished: a
/// long-running worker slowed down the longer it ran.
async fn finished_jobs_release_their_lock(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database(backend, dir.path()).await else {
        return;
    };
    let db = Db::open(&url).await;
    let ids = db.submit(30, "release").await;
    let (crm, mail) = sandboxes();
    let engine = db.engine(crm, mail, sandbox_calendar(), fast_engine_config("w"));
    let (stop, handle) = db.spawn_workers(engine, fast_worker_config("release", 4));
    db.wait_for(Duration::from_secs(30), "30 acknowledged jobs", || async {
        db.finished_jobs().await.0 == 30
    })
    .await;
    for id in ids {
        assert_eq!(db.status(id).await, WorkflowStatus::Completed);
    }
    assert_eq!(
        db.finished_jobs().await,
        (30, 0),
        "finished jobs still locked by their worker"
    );
    let _ = stop.send(());
    handle.await.unwrap();
}

/// How apalis-sqlite 1.0 claims the jobs it fetched (its
/// `queries/task/lock.sql`).
macro_rules! claim_jobs {
    () => {
        "UPDATE Jobs SET status = 'Running', lock_at = strftime('%s', 'now'), lock_by = ?2 \
        WHERE id IN (SELECT value FROM json_each(?1)) \
        AND (status = 'Queued' OR status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts))"
    };
}

/// SQLite's plan for [`claim_jobs!`], one line per step.
async fn claim_plan(store: &formlead_adapters::sql::SqliteStore) -> String {
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(concat!("EXPLAIN QUERY PLAN ", claim_jobs!()))
            .bind("[]")
            .bind("w")
            .fetch_all(store.writer())
            .await
            .unwrap();
    rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
}

/// Without statistics SQLite claims fetched jobs through the status index,
/// reading the whole backlog of pending jobs for every claim. The workers
/// keep the planner's statistics fresh, after which a claim goes straight
/// to the job ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_workers_keep_the_planner_informed() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&harness::sqlite_url(dir.path())).await;
    let Db::Sqlite(store) = &db else {
        unreachable!("a sqlite URL")
    };
    db.submit(200, "stats").await;
    let plan = claim_plan(store).await;
    assert!(
        plan.contains("idx_jobs_status_run_at"),
        "without statistics (if SQLite no longer needs them, this test can go): {plan}"
    );
    sqlx::query(claim_jobs!())
        .bind("[]")
        .bind("w")
        .execute(store.writer())
        .await
        .unwrap();

    let (crm, mail) = sandboxes();
    let engine = db.engine(crm, mail, sandbox_calendar(), fast_engine_config("w"));
    let (stop, handle) = db.spawn_workers(engine, fast_worker_config("stats", 4));
    db.wait_for(
        Duration::from_secs(15),
        "statistics on the job table",
        || async {
            let n: Result<i64, _> =
                sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'Jobs'")
                    .fetch_one(store.pool())
                    .await;
            n.is_ok_and(|n| n > 0)
        },
    )
    .await;
    let plan = claim_plan(store).await;
    assert!(
        plan.contains("sqlite_autoindex_Jobs_1") && !plan.contains("idx_jobs_status_run_at"),
        "claims should look jobs up by id: {plan}"
    );
    let _ = stop.send(());
    handle.await.unwrap();
}

/// One lead whose run is under way, held up by a slow draft (`draft_takes`),
/// on workers that stop within `shutdown_timeout`; the engine's leases
/// last `lease`.
struct RunAtItsDraft {
    crm: Arc<SandboxCrm>,
    mail: Arc<SandboxMail>,
    id: formlead_core::domain::WorkflowId,
    lease: Duration,
    stop: tokio::sync::oneshot::Sender<()>,
    workers: tokio::task::JoinHandle<()>,
}

impl RunAtItsDraft {
    async fn start(
        db: &Db,
        draft_takes: Duration,
        lease: Duration,
        shutdown_timeout: Duration,
    ) -> Self {
        let (crm, mail) = sandboxes();
        mail.faults().set_latency("create_draft", draft_takes);
        let engine = db.engine(
            crm.clone(),
            mail.clone(),
            sandbox_calendar(),
            EngineConfig {
                lease,
                ..fast_engine_config("w")
            },
        );
        let id = db.submit(1, "running").await[0];
        let mut config = fast_worker_config("stopping", 2);
        config.shutdown_timeout = shutdown_timeout;
        let (stop, workers) = db.spawn_workers(engine, config);
        db.wait_for(Duration::from_secs(10), "the run at its draft", || async {
            mail.faults().calls("create_draft") == 1
        })
        .await;
        Self {
            crm,
            mail,
            id,
            lease,
            stop,
            workers,
        }
    }

    /// Stops the workers.
    async fn stop(self) -> Stopped {
        let stopping = Instant::now();
        let _ = self.stop.send(());
        self.workers.await.unwrap();
        Stopped {
            took: stopping.elapsed(),
            crm: self.crm,
            mail: self.mail,
            lease: self.lease,
        }
    }
}

/// Workers stopped by [`RunAtItsDraft::stop`].
struct Stopped {
    /// How long the stop took.
    took: Duration,
    crm: Arc<SandboxCrm>,
    mail: Arc<SandboxMail>,
    lease: Duration,
}

impl Stopped {
    /// Starts the next workers (the draft no longer slow), waits until
    /// `done` holds, and stops them.
    async fn next_workers_until<F, Fut>(self, db: &Db, what: &str, done: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        self.mail.faults().clear();
        let engine = db.engine(
            self.crm,
            self.mail,
            sandbox_calendar(),
            EngineConfig {
                lease: self.lease,
                ..fast_engine_config("w2")
            },
        );
        let (stop, handle) = db.spawn_workers(engine, fast_worker_config("next", 2));
        db.wait_for(Duration::from_secs(15), what, done).await;
        let _ = stop.send(());
        handle.await.unwrap();
    }
}

/// A stop while a run waits on a vendor and a job fetch waits for SQLite's
/// single writer connection. apalis stops a worker by no longer polling
/// its backend, and the pool hands the connection to waiters in turn: told
/// to stop now, apalis would leave the fetch holding the connection the run
/// needs for its checkpoints, and the stop would hang for the whole
/// shutdown timeout with the run half done. Instead the run finishes first,
/// leads that arrive meanwhile are put back unstarted, and the next
/// workers run them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_stop_lets_the_runs_finish_and_strands_no_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&harness::sqlite_url(dir.path())).await;
    let Db::Sqlite(store) = db.clone() else {
        unreachable!("a SQLite URL")
    };
    let run = RunAtItsDraft::start(
        &db,
        Duration::from_millis(1500),
        Duration::from_secs(2),
        Duration::from_secs(20),
    )
    .await;
    let first = run.id;

    // The free worker's next fetches wait for the writer connection.
    let held = store.writer().acquire().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = tokio::spawn(run.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(held);
    // Leads that arrive while the run finishes are not started.
    let later = db.submit(3, "later").await;
    let stopped = stopping.await.unwrap();
    let took = stopped.took;
    assert!(
        took < Duration::from_secs(8),
        "the stop took {took:?} (the shutdown timeout is 20 s)"
    );
    assert_eq!(db.status(first).await, WorkflowStatus::Completed);
    for id in &later {
        assert_eq!(db.status(*id).await, WorkflowStatus::Triggered, "{id}");
    }
    stopped
        .next_workers_until(&db, "the later leads run by the next workers", || async {
            db.count(WorkflowStatus::Completed).await == 4
        })
        .await;
}

/// A run that outlasts the shutdown timeout is cut off; its lease is given
/// up, so the next workers resume it at their first orphan sweep instead of
/// when the lease (a minute here) would have run out.
async fn a_run_cut_off_at_a_stop_gives_up_its_lease(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database(backend, dir.path()).await else {
        return;
    };
    let db = Db::open(&url).await;
    let lease = Duration::from_secs(60);
    let run =
        RunAtItsDraft::start(&db, Duration::from_secs(60), lease, Duration::from_secs(1)).await;
    let id = run.id;
    let stopped = run.stop().await;
    let took = stopped.took;
    assert!(took < Duration::from_secs(5), "the stop took {took:?}");
    assert_eq!(db.status(id).await, WorkflowStatus::Processing);
    stopped
        .next_workers_until(&db, "the cut-off run resumed", || async {
            db.status(id).await == WorkflowStatus::Completed
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_run_cut_off_at_a_stop_gives_up_its_lease() {
    a_run_cut_off_at_a_stop_gives_up_its_lease(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_run_cut_off_at_a_stop_gives_up_its_lease() {
    a_run_cut_off_at_a_stop_gives_up_its_lease(Backend::Postgres).await;
}

/// Entry point of a child worker process (a no-op in a normal test run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_worker() {
    let Ok(url) = std::env::var("FORMLEAD_CHILD_DATABASE_URL") else {
        return;
    };
    let journal_dir = PathBuf::from(std::env::var("FORMLEAD_CHILD_JOURNAL").unwrap());
    let name = std::env::var("FORMLEAD_CHILD_NAME").unwrap();
    let mut journal = Journal::open(&journal_dir, &name);
    if std::env::var("FORMLEAD_CHILD_SLOW_TASK").is_ok() {
        journal.slow_task = Some(Duration::from_secs(600));
    }
    let journal = Arc::new(journal);
    let db = Db::open(&url).await;
    let engine = db.engine(
        journal.clone(),
        journal,
        sandbox_calendar(),
        fast_engine_config(&name),
    );
    let (_stop, handle) = db.spawn_workers(engine, fast_worker_config(&name, 8));
    handle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full_disk_is_transient() {
    db_failures::sqlite_full_disk_is_transient().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_intake_and_workers_recover() {
    db_failures::sqlite_intake_and_workers_recover().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_delayed_job_does_not_run_early() {
    delayed_job_does_not_run_early(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_delayed_job_does_not_run_early() {
    delayed_job_does_not_run_early(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_retries_follow_the_schedule_then_dead_letter() {
    retries_follow_the_schedule_then_dead_letter(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_retries_follow_the_schedule_then_dead_letter() {
    retries_follow_the_schedule_then_dead_letter(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_killed_worker_resumes_without_duplicates() {
    a_killed_worker_resumes_without_duplicates(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_killed_worker_resumes_without_duplicates() {
    a_killed_worker_resumes_without_duplicates(Backend::Postgres).await;
}

/// Two worker processes on one PostgreSQL: 1,000 workflows, each completed
/// exactly once, and both processes took part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_worker_processes_share_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = helpers::postgres_url().await else {
        return;
    };
    let journal_dir = dir.path().join("journal");
    let db = Db::open(&url).await;
    let mut a = spawn_child(&url, &journal_dir, "host-a", false);
    let mut b = spawn_child(&url, &journal_dir, "host-b", false);
    let n = 1000;
    let started = Instant::now();
    let submitters: Vec<_> = (0..4)
        .map(|k| {
            let db = db.clone();
            tokio::spawn(async move { db.submit(n / 4, &format!("scale{k}")).await })
        })
        .collect();
    let mut ids = Vec::new();
    for s in submitters {
        ids.extend(s.await.unwrap());
    }
    db.wait_for(
        Duration::from_secs(240),
        "1000 completed workflows",
        || async { db.count(WorkflowStatus::Completed).await == n as u64 },
    )
    .await;
    eprintln!(
        "1000 workflows through two worker processes in {:?}",
        started.elapsed()
    );
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();

    let entries = Journal::read_all(&journal_dir);
    let drafts: Vec<_> = entries.iter().filter(|e| e.kind == "draft").collect();
    assert_eq!(drafts.len(), n, "one draft per workflow, no duplicates");
    let unique: std::collections::HashSet<_> = drafts.iter().map(|e| e.key.clone()).collect();
    assert_eq!(unique.len(), n);
    for writer in ["host-a", "host-b"] {
        let did = entries.iter().filter(|e| e.writer == writer).count();
        assert!(did > 0, "{writer} did no work");
        eprintln!("{writer}: {did} side effects");
    }
    assert_eq!(entries.iter().filter(|e| e.kind == "task").count(), n);
    assert_eq!(entries.iter().filter(|e| e.kind == "note").count(), n);
    for id in ids.iter().take(50) {
        assert_eq!(db.store().drafts_for_workflow(*id).await.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_finished_jobs_release_their_lock() {
    finished_jobs_release_their_lock(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_finished_jobs_release_their_lock() {
    finished_jobs_release_their_lock(Backend::Postgres).await;
}
