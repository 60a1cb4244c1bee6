//! Group commit for single-statement writes on a single writer (SQLite).
//!
//! Every workflow step record, checkpoint, draft, task and audit event is
//! one statement. Committed one by one, each cost an fsync and a turn on
//! the writer, and the writer — not the workers — set the pace of the
//! whole engine. Here, writes that arrive while the writer is busy are
//! queued to one task that runs them in a single transaction and answers
//! each caller only once that commit is durable (see `wal_sync.rs`), so a
//! caller still never moves on before its write is on disk. A write that
//! finds the queue empty runs at once in its own (autocommit) transaction.
//!
//! A statement that fails (a constraint) fails alone: SQLite undoes just
//! that statement and the transaction goes on. If the transaction itself
//! is lost (I/O error, disk full), its commit fails and every caller in it
//! gets that error.
//!
//! PostgreSQL, with many writer connections and a transaction that is
//! aborted by any failing statement, writes directly instead.

use tokio::sync::{mpsc, oneshot};

use formlead_core::ports::StoreError;

use super::exec::{DbRow, Sql, Stmt};
use super::store::{SharedError, SqlStore, db_err};
use super::write_gate::Turn;

/// Most writes committed together.
pub(crate) const MAX_GROUP: usize = 64;

/// A write statement that owns its parameters.
pub(crate) type WriteQuery<B> = Stmt<'static, B>;

/// What a queued write gets back: its `RETURNING` row, if any.
type Answer<B> = oneshot::Sender<Result<Option<DbRow<B>>, StoreError>>;

/// A write waiting in the queue, with where its outcome goes.
type Queued<B> = (WriteQuery<B>, Answer<B>);

/// The write queue task's inbox.
pub(crate) type WriteInbox<B> = mpsc::Sender<Queued<B>>;

impl<B: Sql> SqlStore<B> {
    /// Runs `query` on the writer and commits it; its `RETURNING` row, if
    /// any. On a single writer it may share its commit with other writes.
    pub(crate) async fn write_row(
        &self,
        query: WriteQuery<B>,
    ) -> Result<Option<DbRow<B>>, StoreError> {
        let query = match self.write_queue() {
            Some(inbox) => {
                let (answer, answered) = oneshot::channel();
                match inbox.send((query, answer)).await {
                    Ok(()) => {
                        return answered.await.unwrap_or_else(|_| {
                            Err(StoreError::transient("the write queue stopped"))
                        });
                    }
                    // The task is gone (runtime shutting down): write here.
                    Err(mpsc::error::SendError((query, _))) => query,
                }
            }
            None => query,
        };
        self.write_alone(query).await
    }

    /// Runs `query` in its own (autocommit) transaction, in its turn.
    async fn write_alone(&self, query: WriteQuery<B>) -> Result<Option<DbRow<B>>, StoreError> {
        let turn = self.write_turn(Turn::Other).await;
        let row = query
            .fetch_optional(self.writer())
            .await
            .map_err(db_err::<B>)?;
        drop(turn);
        self.durable().await?;
        Ok(row)
    }

    /// The queue's inbox, starting its task on first use; `None` with
    /// several writer connections or outside a tokio runtime.
    fn write_queue(&self) -> Option<&WriteInbox<B>> {
        if !self.single_writer() {
            return None;
        }
        self.write_queue_cell()
            .get_or_init(|| {
                let handle = tokio::runtime::Handle::try_current().ok()?;
                let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
                handle.spawn(self.detached().run_write_queue(rx));
                Some(tx)
            })
            .as_ref()
    }

    async fn run_write_queue(self, mut rx: mpsc::Receiver<Queued<B>>) {
        while let Some(first) = rx.recv().await {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            self.commit_group(group).await;
        }
    }

    /// Runs `group` in one transaction (one write: on its own) and answers
    /// each caller after the commit.
    async fn commit_group(&self, mut group: Vec<Queued<B>>) {
        if group.len() == 1
            && let Some((query, answer)) = group.pop()
        {
            let _ = answer.send(self.write_alone(query).await);
            return;
        }
        let (turn, mut tx) = match self.begin_write_turn(Turn::Other).await {
            Ok(begun) => begun,
            Err(e) => {
                let e = SharedError::of(&e);
                for (_, answer) in group {
                    let _ = answer.send(Err(e.error()));
                }
                return;
            }
        };
        let mut done = Vec::with_capacity(group.len());
        for (query, answer) in group {
            let result = query.fetch_optional_in(&mut *tx).await.map_err(db_err::<B>);
            done.push((result, answer));
        }
        let committed = tx.commit().await.map_err(db_err::<B>);
        drop(turn);
        // Answered once durable; meanwhile the queue runs its next group.
        self.answer_when_durable(committed, move |lost| {
            for (result, answer) in done {
                let result = match (&lost, result) {
                    (Some(lost), Ok(_)) => Err(lost.error()),
                    (_, result) => result,
                };
                let _ = answer.send(result);
            }
        });
    }
}
