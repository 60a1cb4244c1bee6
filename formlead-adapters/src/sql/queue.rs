//! `ApalisQueue`: core's [`Queue`] over the apalis job table in the store's
//! database. (Accepts, retries and re-queues push inside the store's own
//! transactions; this is for everything else.)

use std::time::Duration;

use async_trait::async_trait;
use formlead_core::ports::{Queue, QueueError, WorkflowJob};
use sqlx::Pool;

use super::backend::Backend;
use super::durability::Durability;

/// Enqueues workflow jobs on apalis' queue in the store's database.
pub struct ApalisQueue<B: Backend> {
    pool: Pool<B::Db>,
    /// Makes a push durable where its commit does not sync (SQLite).
    durability: Durability,
}

impl<B: Backend> std::fmt::Debug for ApalisQueue<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApalisQueue")
            .field("backend", &B::NAME)
            .finish()
    }
}

impl<B: Backend> ApalisQueue<B> {
    /// A queue on `pool`. Prefer `SqlStore::queue`,
    /// which also makes pushes durable on SQLite.
    pub fn new(pool: Pool<B::Db>) -> Self {
        Self {
            pool,
            durability: Durability::default(),
        }
    }

    pub(crate) fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

fn queue_err(e: sqlx::Error) -> QueueError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => QueueError::transient(e),
        sqlx::Error::Database(ref d) if d.code().is_some() => QueueError::transient(e),
        other => QueueError::permanent(other),
    }
}

#[async_trait]
impl<B: Backend> Queue for ApalisQueue<B> {
    async fn enqueue(&self, job: WorkflowJob, delay: Duration) -> Result<(), QueueError> {
        let mut conn = self.pool.acquire().await.map_err(queue_err)?;
        B::push_job(&mut conn, job, delay)
            .await
            .map_err(queue_err)?;
        drop(conn);
        self.durability
            .durable()
            .await
            .map_err(QueueError::transient)
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        B::count_jobs(&self.pool, &["Pending", "Queued"])
            .await
            .map_err(queue_err)
    }

    /// Jobs in apalis' dead state (`Killed`).
    async fn dead(&self) -> Result<Option<u64>, QueueError> {
        B::count_jobs(&self.pool, &["Killed"])
            .await
            .map(Some)
            .map_err(queue_err)
    }
}
