//! The single writer of a SQLite database: one connection, with turns
//! that go to webhook accepts first, and group commit for single-statement
//! writes.
//!
//! **Turns** (see `turns.rs`): when an accept and another writer both
//! wait, the accept batch goes next, unless the others are overdue.
//!
//! **Group commit.** Every workflow step record, checkpoint, draft, task and
//! audit event is one statement. Committed one by one, each cost an fsync
//! and a turn on the writer, and the writer — not the workers — set the pace
//! of the whole engine. Here, writes that arrive while the writer is busy
//! are queued to one task that runs them in a single transaction and
//! answers each caller only once that commit is durable (see
//! `wal_sync.rs`), so a caller still never moves on before its write is on
//! disk. A write that finds the queue empty runs at once in its own
//! (autocommit) transaction. A statement that fails (a constraint) fails
//! alone: SQLite undoes just that statement and the transaction goes on. If
//! the transaction itself is lost (I/O error, disk full), its commit fails
//! and every caller in it gets that error.
//!
//! **Units as rows.** A workflow's checkpoint unit (its step records,
//! audit events, draft and task rows: `Store::write_all`) comes as rows,
//! not statements. A group writes the rows of all its units in one call
//! (one statement text over one JSON parameter, under a savepoint), so a
//! group of fifty workflows' checkpoints costs one round trip to SQLite's
//! thread instead of fifty. If that call fails, it is undone and each unit
//! is written again on its own, so only the failing unit fails.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use formlead_core::ports::StoreError;
use sqlx::Pool;
use tokio::sync::{mpsc, oneshot};

use super::turns::Gate;
use crate::sql::backend::UnitRows;
use crate::sql::durability::Durability;
use crate::sql::errors::{SharedError, db_err};
use crate::sql::exec::{DbRow, Sql, stmt};
use crate::sql::write_path::{
    Turn, UNDO_UNIT, UnitWrite, WritePath, WriteQuery, WriteTurn, rows_query,
};

/// Most writes committed together.
pub(crate) const MAX_GROUP: usize = 128;

/// What one write gets back: the row a `RETURNING` query gave, if any.
type Written<B> = Result<Option<DbRow<B>>, StoreError>;
type Answer<B> = oneshot::Sender<Written<B>>;

/// A queued write: one statement (answered with its `RETURNING` row), or
/// several that commit as a unit (all or none), or a unit's rows (all or
/// none), which a group writes together with the other units' rows in one
/// call.
enum Unit<B: Sql> {
    One(WriteQuery<B>),
    All(Vec<WriteQuery<B>>),
    Rows(UnitRows),
}

/// A write waiting in the queue, with where its outcome goes.
type Queued<B> = (Unit<B>, Answer<B>);

/// The single writer: its connection, turns, durability and write queue.
pub(crate) struct SingleWriter<B: Sql> {
    shared: Arc<Shared<B>>,
    /// The write queue task's inbox (started on first use).
    inbox: OnceLock<Option<mpsc::Sender<Queued<B>>>>,
}

/// What the write queue task shares with the writer (not the inbox: the
/// task must not keep its own inbox alive).
struct Shared<B: Sql> {
    pool: Pool<B::Db>,
    gate: Gate,
    durability: Durability,
}

impl<B: Sql> SingleWriter<B> {
    /// The writer over `pool` (one connection), whose commits become
    /// durable as `durability` says.
    pub(crate) fn new(pool: Pool<B::Db>, durability: Durability) -> Self {
        Self {
            shared: Arc::new(Shared {
                pool,
                gate: Gate::default(),
                durability,
            }),
            inbox: OnceLock::new(),
        }
    }

    /// The queue's inbox, starting its task on first use; `None` outside a
    /// tokio runtime.
    fn queue(&self) -> Option<&mpsc::Sender<Queued<B>>> {
        self.inbox
            .get_or_init(|| {
                let handle = tokio::runtime::Handle::try_current().ok()?;
                let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
                handle.spawn(run_queue(self.shared.clone(), rx));
                Some(tx)
            })
            .as_ref()
    }
}

#[async_trait]
impl<B: Sql> WritePath<B> for SingleWriter<B> {
    fn pool(&self) -> &Pool<B::Db> {
        &self.shared.pool
    }

    fn durability(&self) -> &Durability {
        &self.shared.durability
    }

    async fn turn(&self, turn: Turn) -> WriteTurn<'_> {
        WriteTurn::held(self.shared.gate.turn(turn).await)
    }

    /// On a busy writer, the write may share its commit with others.
    async fn write_row(&self, query: WriteQuery<B>) -> Result<Option<DbRow<B>>, StoreError> {
        self.write(Unit::One(query)).await
    }

    /// On a busy writer, the unit may share its commit with others.
    async fn write_all(&self, unit: UnitWrite<B>) -> Result<(), StoreError> {
        let unit = match unit {
            UnitWrite::Statements(queries) => Unit::All(queries),
            UnitWrite::Rows(rows) => Unit::Rows(rows),
        };
        self.write(unit).await.map(drop)
    }
}

impl<B: Sql> SingleWriter<B> {
    async fn write(&self, unit: Unit<B>) -> Result<Option<DbRow<B>>, StoreError> {
        let unit = match self.queue() {
            Some(inbox) => {
                let (answer, answered) = oneshot::channel();
                match inbox.send((unit, answer)).await {
                    Ok(()) => {
                        return answered.await.unwrap_or_else(|_| {
                            Err(StoreError::transient("the write queue stopped"))
                        });
                    }
                    // The task is gone (runtime shutting down): write here.
                    Err(mpsc::error::SendError((unit, _))) => unit,
                }
            }
            None => unit,
        };
        self.shared.write_alone(unit).await
    }
}

/// Runs `queries` inside `tx` under a savepoint, so a failing one undoes
/// the unit alone. `Ok(Err(_))`: the unit failed and was undone; `Err(_)`:
/// it could not be undone, and the transaction must not commit.
async fn all_or_none<B: Sql>(
    tx: &mut sqlx::Transaction<'static, B::Db>,
    queries: Vec<WriteQuery<B>>,
) -> Result<Result<(), StoreError>, StoreError> {
    let run = |sql: &'static str| stmt::<B>(sql);
    if let Err(e) = run("SAVEPOINT unit").execute_in(&mut **tx).await {
        return Ok(Err(db_err::<B>(e)));
    }
    for query in queries {
        if let Err(e) = query.execute_in(&mut **tx).await {
            run("ROLLBACK TO unit")
                .execute_in(&mut **tx)
                .await
                .map_err(db_err::<B>)?;
            run("RELEASE unit")
                .execute_in(&mut **tx)
                .await
                .map_err(db_err::<B>)?;
            return Ok(Err(db_err::<B>(e)));
        }
    }
    run("RELEASE unit")
        .execute_in(&mut **tx)
        .await
        .map_err(db_err::<B>)?;
    Ok(Ok(()))
}

async fn run_queue<B: Sql>(shared: Arc<Shared<B>>, mut rx: mpsc::Receiver<Queued<B>>) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        shared.commit_group(group).await;
    }
}

impl<B: Sql> Shared<B> {
    /// Runs `unit` in its own transaction, in its turn.
    async fn write_alone(&self, unit: Unit<B>) -> Written<B> {
        let turn = self.gate.turn(Turn::Other).await;
        let row = match unit {
            Unit::One(query) => query
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err::<B>)?,
            Unit::Rows(rows) => {
                let query = rows_query::<B>(&[&rows])?;
                let mut tx = B::begin_write(&self.pool).await.map_err(db_err::<B>)?;
                query.execute_in(&mut *tx).await.map_err(db_err::<B>)?;
                tx.commit().await.map_err(db_err::<B>)?;
                None
            }
            Unit::All(queries) => {
                let mut tx = B::begin_write(&self.pool).await.map_err(db_err::<B>)?;
                for query in queries {
                    query.execute_in(&mut *tx).await.map_err(db_err::<B>)?;
                }
                tx.commit().await.map_err(db_err::<B>)?;
                None
            }
        };
        drop(turn);
        self.durability.durable().await?;
        Ok(row)
    }

    /// Runs `group` in one transaction (one write: on its own) and answers
    /// each caller after the commit. The units given as rows are written
    /// last, all in one call; if that call fails, each is written again on
    /// its own, so only the failing one fails.
    async fn commit_group(&self, mut group: Vec<Queued<B>>) {
        if group.len() == 1
            && let Some((unit, answer)) = group.pop()
        {
            let _ = answer.send(self.write_alone(unit).await);
            return;
        }
        let turn = self.gate.turn(Turn::Other).await;
        let mut tx = match B::begin_write(&self.pool).await {
            Ok(tx) => tx,
            Err(e) => {
                let e = SharedError::of(&db_err::<B>(e));
                for (_, answer) in group {
                    let _ = answer.send(Err(e.error()));
                }
                return;
            }
        };
        let mut done: Vec<(Written<B>, Answer<B>)> = Vec::with_capacity(group.len());
        let mut rows: Vec<(UnitRows, Answer<B>)> = Vec::new();
        let mut broken = None;
        for (unit, answer) in group {
            if broken.is_some() {
                done.push((Ok(None), answer));
                continue;
            }
            let result = match unit {
                Unit::One(query) => query.fetch_optional_in(&mut *tx).await.map_err(db_err::<B>),
                Unit::All(queries) => match all_or_none(&mut tx, queries).await {
                    Ok(result) => result.map(|()| None),
                    Err(e) => {
                        broken = Some(e);
                        Ok(None)
                    }
                },
                Unit::Rows(unit) => {
                    rows.push((unit, answer));
                    continue;
                }
            };
            done.push((result, answer));
        }
        if broken.is_none() {
            match write_rows::<B>(&mut tx, rows).await {
                Ok(written) => done.extend(written),
                Err((e, answers)) => {
                    broken = Some(e);
                    done.extend(answers.into_iter().map(|a| (Ok(None), a)));
                }
            }
        } else {
            done.extend(rows.into_iter().map(|(_, a)| (Ok(None), a)));
        }
        if let Some(broken) = broken {
            // The transaction cannot go on: nothing of it commits.
            drop(tx);
            drop(turn);
            let e = SharedError::of(&broken);
            for (_, answer) in done {
                let _ = answer.send(Err(e.error()));
            }
            return;
        }
        let committed = tx.commit().await.map_err(db_err::<B>);
        drop(turn);
        // Answered once durable; meanwhile the queue runs its next group.
        self.durability.answer_when_durable(committed, move |lost| {
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

/// A group's units given as rows, written inside `tx`: all in one call,
/// or, if that fails, one call each (the failing ones undone alone). Each
/// unit's outcome with its answer; `Err`: the transaction could not be
/// brought back to before a failed call and must not commit.
async fn write_rows<B: Sql>(
    tx: &mut sqlx::Transaction<'static, B::Db>,
    units: Vec<(UnitRows, Answer<B>)>,
) -> Result<Vec<(Written<B>, Answer<B>)>, (StoreError, Vec<Answer<B>>)> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    if units.len() > 1 {
        let all: Vec<&UnitRows> = units.iter().map(|(u, _)| u).collect();
        match rows_call::<B>(tx, &all).await {
            Ok(Ok(())) => return Ok(units.into_iter().map(|(_, a)| (Ok(None), a)).collect()),
            Ok(Err(_)) => {} // one of them failed: find which, below
            Err(e) => return Err((e, units.into_iter().map(|(_, a)| a).collect())),
        }
    }
    let mut written = Vec::with_capacity(units.len());
    let mut units = units.into_iter();
    while let Some((unit, answer)) = units.next() {
        match rows_call::<B>(tx, &[&unit]).await {
            Ok(result) => written.push((result.map(|()| None), answer)),
            Err(e) => {
                let answers = written
                    .into_iter()
                    .map(|(_, a)| a)
                    .chain(std::iter::once(answer))
                    .chain(units.map(|(_, a)| a))
                    .collect();
                return Err((e, answers));
            }
        }
    }
    Ok(written)
}

/// Writes `rows` in one call inside `tx`. `Ok(Err(_))`: the call failed
/// and was undone; `Err(_)`: it could not be undone.
async fn rows_call<B: Sql>(
    tx: &mut sqlx::Transaction<'static, B::Db>,
    units: &[&UnitRows],
) -> Result<Result<(), StoreError>, StoreError> {
    let query = match rows_query::<B>(units) {
        Ok(query) => query,
        Err(e) => return Ok(Err(e)),
    };
    match query.execute_in(&mut **tx).await {
        Ok(()) => Ok(Ok(())),
        Err(e) => {
            stmt::<B>(UNDO_UNIT)
                .execute_in(&mut **tx)
                .await
                .map_err(db_err::<B>)?;
            Ok(Err(db_err::<B>(e)))
        }
    }
}
