//! The seam where the generic store meets a backend's write path.
//!
//! The store asks a [`WritePath`] for three things: a turn on the writer
//! (held while it runs a transaction of its own), one write statement
//! committed (`write_row`), and how commits become durable. PostgreSQL, with
//! many writer connections, writes directly ([`DirectWrites`]); SQLite has
//! a single writer connection that gives turns to webhook accepts first and
//! group-commits single-statement writes (`sqlite::SingleWriter`). Nothing
//! else in the store knows which one it has.

use async_trait::async_trait;
use formlead_core::ports::StoreError;
use sqlx::Pool;

use super::backend::{Backend, UnitCall, UnitRows};
use super::durability::Durability;
use super::errors::db_err;
use super::exec::{DbRow, Sql, Stmt, stmt};

/// Who is asking for the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// A webhook accept batch.
    Accept,
    /// Everything else (workers, the dashboard's actions).
    Other,
}

/// A write statement that owns its parameters.
pub(crate) type WriteQuery<B> = Stmt<'static, B>;

/// One unit of a run's records (`Store::write_all`): its statements, or,
/// where the backend writes a unit in one call (`Backend::UNIT_CALL`),
/// its rows, which a writer may merge with other units' rows into one call.
pub(crate) enum UnitWrite<B: Backend> {
    /// Statements run in order.
    Statements(Vec<WriteQuery<B>>),
    /// Rows for [`Backend::unit_call`].
    Rows(UnitRows),
}

/// The one statement writing the rows of `units` ([`Backend::unit_call`]).
pub(crate) fn rows_query<B: Sql>(units: &[&UnitRows]) -> Result<WriteQuery<B>, StoreError> {
    let (sql, params) = B::unit_call(units)
        .ok_or_else(|| StoreError::permanent(format!("{} writes no unit in one call", B::NAME)))?
        .map_err(StoreError::permanent)?;
    Ok(params.into_iter().fold(stmt::<B>(sql), |q, p| q.arg(p)))
}

/// Undoes a failed [`rows_query`] inside a larger transaction.
pub(crate) const UNDO_UNIT: &str = "ROLLBACK TO unit; RELEASE unit";

/// Holds a turn on the writer until dropped.
pub(crate) struct WriteTurn<'a>(#[allow(dead_code)] Option<Box<dyn Send + 'a>>);

impl<'a> WriteTurn<'a> {
    /// A turn that holds nothing: writers do not take turns.
    pub(crate) fn free() -> Self {
        Self(None)
    }

    /// A turn held by `guard` (released when it drops).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn held(guard: impl Send + 'a) -> Self {
        Self(Some(Box::new(guard)))
    }
}

/// How a backend's writes reach its database.
#[async_trait]
pub(crate) trait WritePath<B: Backend>: Send + Sync + 'static {
    /// The pool writes go through.
    fn pool(&self) -> &Pool<B::Db>;

    /// How commits become durable.
    fn durability(&self) -> &Durability;

    /// Waits for a turn on the writer.
    async fn turn(&self, turn: Turn) -> WriteTurn<'_>;

    /// Runs `query` and commits it, durably; its `RETURNING` row, if any.
    async fn write_row(&self, query: WriteQuery<B>) -> Result<Option<DbRow<B>>, StoreError>;

    /// Commits `unit`, durably: all or none.
    async fn write_all(&self, unit: UnitWrite<B>) -> Result<(), StoreError>;
}

/// Writes straight to a pool of writer connections, each in its own
/// transaction; no turns.
pub(crate) struct DirectWrites<B: Sql> {
    pool: Pool<B::Db>,
    durability: Durability,
}

impl<B: Sql> DirectWrites<B> {
    pub(crate) fn new(pool: Pool<B::Db>) -> Self {
        Self {
            pool,
            durability: Durability::default(),
        }
    }
}

#[async_trait]
impl<B: Sql> WritePath<B> for DirectWrites<B> {
    fn pool(&self) -> &Pool<B::Db> {
        &self.pool
    }

    fn durability(&self) -> &Durability {
        &self.durability
    }

    async fn turn(&self, _turn: Turn) -> WriteTurn<'_> {
        WriteTurn::free()
    }

    async fn write_row(&self, query: WriteQuery<B>) -> Result<Option<DbRow<B>>, StoreError> {
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err::<B>)?;
        self.durability.durable().await?;
        Ok(row)
    }

    async fn write_all(&self, unit: UnitWrite<B>) -> Result<(), StoreError> {
        let queries = match unit {
            UnitWrite::Statements(queries) => queries,
            UnitWrite::Rows(rows) if B::UNIT_CALL == UnitCall::OneStatement => {
                // Atomic by itself: no transaction needed.
                rows_query::<B>(&[&rows])?
                    .execute(&self.pool)
                    .await
                    .map_err(db_err::<B>)?;
                return self.durability.durable().await;
            }
            UnitWrite::Rows(rows) => vec![rows_query::<B>(&[&rows])?],
        };
        let mut tx = B::begin_write(&self.pool).await.map_err(db_err::<B>)?;
        for query in queries {
            query.execute_in(&mut *tx).await.map_err(db_err::<B>)?;
        }
        tx.commit().await.map_err(db_err::<B>)?;
        self.durability.durable().await
    }
}
