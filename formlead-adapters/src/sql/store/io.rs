//! Reading and writing rows: the helpers every concern uses.

use formlead_core::domain::{WorkflowError, WorkflowId};
use formlead_core::ports::StoreError;
use sqlx::Database;

use super::super::errors::db_err;
use super::super::exec::{Sql, Stmt, stmt};
use super::super::write_path::WriteQuery;
use super::SqlStore;
use super::columns::error_cols;
use super::rows::Reader;

impl<B: Sql> SqlStore<B> {
    /// A read: the row of `query`, mapped, if any.
    pub(super) async fn fetch_optional<T>(
        &self,
        query: Stmt<'_, B>,
        map: impl FnOnce(Reader<'_, B>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err::<B>)?;
        row.as_ref().map(|r| map(Reader::new(r))).transpose()
    }

    /// A write returning a row (`UPDATE … RETURNING`), committed.
    pub(super) async fn write_optional<T>(
        &self,
        query: WriteQuery<B>,
        map: impl FnOnce(Reader<'_, B>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = self.write_row(query).await?;
        row.as_ref().map(|r| map(Reader::new(r))).transpose()
    }

    /// One write statement, committed.
    pub(super) async fn execute_write(&self, query: WriteQuery<B>) -> Result<(), StoreError> {
        self.write_row(query).await.map(|_| ())
    }

    pub(super) async fn fetch_all<T>(
        &self,
        query: Stmt<'_, B>,
        map: impl Fn(Reader<'_, B>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = query.fetch_all(&self.pool).await.map_err(db_err::<B>)?;
        rows.iter().map(|r| map(Reader::new(r))).collect()
    }

    pub(super) async fn count(&self, query: Stmt<'_, B>) -> Result<u64, StoreError> {
        let n = self.fetch_optional(query, |r| r.i("n")).await?.unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Rows of `sql` (one `$1` = `id`), mapped.
    pub(super) async fn all_by_id<T>(
        &self,
        sql: &'static str,
        id: uuid::Uuid,
        map: impl Fn(Reader<'_, B>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.fetch_all(stmt::<B>(sql).arg(id), map).await
    }

    /// The row of `sql` (one `$1` = `id`), mapped, if any.
    pub(super) async fn one_by_id<T>(
        &self,
        sql: &'static str,
        id: uuid::Uuid,
        map: impl FnOnce(Reader<'_, B>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.fetch_optional(stmt::<B>(sql).arg(id), map).await
    }

    /// Runs `query`, a write guarded by the lease on `id` (`... AND
    /// lease_owner = $2 RETURNING ...`); matching nothing is the lease lost
    /// or the workflow missing.
    pub(super) async fn write_owned(
        &self,
        id: WorkflowId,
        query: WriteQuery<B>,
    ) -> Result<(), StoreError> {
        match self.write_optional(query, |_| Ok(())).await? {
            Some(()) => Ok(()),
            None => Err(self.lease_lost_or_missing(id).await),
        }
    }

    /// Why an UPDATE guarded by the lease matched nothing.
    pub(super) async fn lease_lost_or_missing(&self, id: WorkflowId) -> StoreError {
        match self.get_workflow(id).await {
            Ok(Some(_)) => StoreError::LeaseLost(id),
            Ok(None) => StoreError::not_found("workflow", id),
            Err(e) => e,
        }
    }

    pub(super) async fn insert_error(
        &self,
        conn: &mut <B::Db as Database>::Connection,
        e: &WorkflowError,
    ) -> Result<(), StoreError> {
        stmt::<B>(concat!(
            "INSERT INTO workflow_errors (",
            error_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .arg(e.id.0)
        .arg(e.workflow_id.0)
        .arg(i64::from(e.attempt))
        .arg(e.step.map(|s| s.as_str().to_owned()))
        .arg(e.kind.as_str().to_owned())
        .arg(e.message.clone())
        .arg(e.retry_at)
        .arg(e.created_at)
        .execute_in(&mut *conn)
        .await
        .map_err(db_err::<B>)?;
        Ok(())
    }
}
