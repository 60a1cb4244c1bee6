//! Accepting submissions with group commit: concurrent accepts are queued
//! to one task that writes up to [`MAX_BATCH`] of them in a single
//! transaction (each in its own savepoint, so one bad submission fails
//! alone) and answers every caller only after the commit. One fsync then
//! covers many leads, while a lone lead is committed at once.

use formlead_core::domain::{FormSubmission, WorkflowId};
use formlead_core::ports::{Accepted, StoreError, WorkflowJob};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};
use tokio::sync::{mpsc, oneshot};

use super::backend::Backend;
use super::columns::submission_cols;
use super::store::{SqlStore, db_err};

/// Most submissions committed together.
pub const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Accepted, StoreError>>;
/// The group-commit task's inbox.
pub type Inbox = mpsc::Sender<(FormSubmission, Reply)>;

impl<B: Backend> SqlStore<B>
where
    <B::Db as Database>::Arguments: IntoArguments<B::Db>,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'e> String: Encode<'e, B::Db> + Decode<'e, B::Db> + Type<B::Db>,
    for<'e> i64: Encode<'e, B::Db> + Decode<'e, B::Db> + Type<B::Db>,
    for<'e> Option<String>: Encode<'e, B::Db>,
    for<'e> Option<i64>: Encode<'e, B::Db>,
    for<'e> Option<B::Id>: Encode<'e, B::Db>,
    for<'e> Option<B::Time>: Encode<'e, B::Db>,
    for<'e> Option<B::Json>: Encode<'e, B::Db>,
    for<'a> &'a str: ColumnIndex<<B::Db as Database>::Row>,
{
    /// The batcher's inbox, starting the task on first use (`None` outside
    /// a tokio runtime: accepts then commit one by one).
    pub(crate) fn batcher(&self) -> Option<&Inbox> {
        self.batcher_cell()
            .get_or_init(|| {
                let handle = tokio::runtime::Handle::try_current().ok()?;
                let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
                handle.spawn(self.detached().run_batcher(rx));
                Some(tx)
            })
            .as_ref()
    }

    async fn run_batcher(self, mut rx: mpsc::Receiver<(FormSubmission, Reply)>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let subs: Vec<&FormSubmission> = batch.iter().map(|(s, _)| s).collect();
            let results = self.accept_batch(&subs).await;
            for ((_, reply), result) in batch.into_iter().zip(results) {
                // A caller that went away still had its lead committed.
                let _ = reply.send(result);
            }
        }
    }

    /// Commits `batch` in one transaction; one result per submission, in
    /// order. If the batch as a whole fails, its submissions are committed
    /// one by one, so a bad one fails alone.
    pub(crate) async fn accept_batch(
        &self,
        batch: &[&FormSubmission],
    ) -> Vec<Result<Accepted, StoreError>> {
        match self.accept_together(batch).await {
            Ok(results) => results,
            Err(e) if batch.len() == 1 => vec![Err(e)],
            Err(e) => {
                tracing::warn!(error = %e, size = batch.len(), "batched accept failed; committing one by one");
                let mut results = Vec::with_capacity(batch.len());
                for s in batch {
                    results.push(self.accept_together(&[s]).await.and_then(|mut r| {
                        r.pop()
                            .unwrap_or_else(|| Err(StoreError::transient("no result")))
                    }));
                }
                results
            }
        }
    }

    /// One transaction for the whole batch: a few multi-row inserts per
    /// table (chunks of 128, 32, 8, 2 and 1 rows, so few statement shapes),
    /// then the jobs, then one commit.
    async fn accept_together(
        &self,
        batch: &[&FormSubmission],
    ) -> Result<Vec<Result<Accepted, StoreError>>, StoreError> {
        // The first of several submissions with one formSubmissionId is
        // inserted; the others are duplicates of it.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&FormSubmission> = batch
            .iter()
            .copied()
            .filter(|s| seen.insert(s.form_submission_id.as_str()))
            .collect();

        let mut tx = B::begin_write(self.writer()).await.map_err(db_err::<B>)?;
        let mut inserted: std::collections::HashSet<uuid::Uuid> = std::collections::HashSet::new();
        for chunk in chunks(&unique) {
            let q = sqlx::query::<B::Db>(B::sql_dyn(multi_row(
                concat!(
                    "INSERT INTO form_submissions (",
                    submission_cols!(),
                    ", prospect_email) VALUES "
                ),
                11,
                chunk.len(),
                " ON CONFLICT (form_submission_id) DO NOTHING RETURNING id",
            )));
            let mut q = q;
            for s in chunk {
                let fields = serde_json::to_value(&s.fields).map_err(StoreError::permanent)?;
                q = q
                    .bind(B::id(s.id.0))
                    .bind(s.form_submission_id.clone())
                    .bind(s.portal_id.and_then(|p| i64::try_from(p).ok()))
                    .bind(s.form_id.clone())
                    .bind(s.submitted_at.map(B::time))
                    .bind(s.page_url.clone())
                    .bind(B::json(&fields))
                    .bind(s.raw_payload.clone())
                    .bind(s.source.as_str().to_owned())
                    .bind(B::time(s.received_at))
                    .bind(s.email().to_owned());
            }
            let rows = q.fetch_all(&mut *tx).await.map_err(db_err::<B>)?;
            for row in &rows {
                inserted.insert(super::rows::Reader::<B>::new(row).uuid("id")?);
            }
        }
        // Test hooks: a crash between the inserts must leave nothing; one
        // submission can be made to fail.
        self.faults()
            .before::<StoreError>("accept_submission:after_insert")
            .await?;
        let fresh: Vec<(&FormSubmission, WorkflowId)> = unique
            .iter()
            .filter(|s| inserted.contains(&s.id.0))
            .map(|s| (*s, WorkflowId::new()))
            .collect();
        for (s, _) in &fresh {
            self.faults()
                .before::<StoreError>(&format!("accept_submission:item:{}", s.form_submission_id))
                .await?;
        }
        for chunk in chunks(&fresh) {
            let mut sql = String::from(
                "INSERT INTO workflows (id, submission_id, status, prospect_email, attempts, created_at, updated_at) VALUES ",
            );
            for r in 0..chunk.len() {
                let b = r * 4;
                sql.push_str(&format!(
                    "{}(${}, ${}, 'triggered', ${}, 0, ${}, ${})",
                    if r > 0 { ", " } else { "" },
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 4
                ));
            }
            let mut q = sqlx::query::<B::Db>(B::sql_dyn(sql));
            for (s, workflow_id) in chunk {
                q = q
                    .bind(B::id(workflow_id.0))
                    .bind(B::id(s.id.0))
                    .bind(s.email().to_owned())
                    .bind(B::time(s.received_at));
            }
            q.execute(&mut *tx).await.map_err(db_err::<B>)?;
        }
        let jobs: Vec<WorkflowJob> = fresh
            .iter()
            .map(|(_, w)| WorkflowJob { workflow_id: *w })
            .collect();
        B::push_jobs(&mut tx, jobs).await.map_err(db_err::<B>)?;
        if fresh.is_empty() {
            drop(tx);
        } else {
            tx.commit().await.map_err(db_err::<B>)?;
            self.wake_workers();
        }

        let accepted: std::collections::HashMap<&str, Accepted> = fresh
            .iter()
            .map(|(s, w)| {
                (
                    s.form_submission_id.as_str(),
                    Accepted {
                        submission_id: s.id,
                        workflow_id: *w,
                    },
                )
            })
            .collect();
        let mut results = Vec::with_capacity(batch.len());
        for s in batch {
            results.push(match accepted.get(s.form_submission_id.as_str()) {
                Some(a) if a.submission_id == s.id => Ok(*a),
                _ => {
                    match formlead_core::ports::Store::find_submission(self, &s.form_submission_id)
                        .await
                    {
                        Ok(Some(existing)) => Err(StoreError::Duplicate { existing }),
                        Ok(None) => Err(StoreError::transient(
                            "duplicate submission vanished; try again",
                        )),
                        Err(e) => Err(e),
                    }
                }
            });
        }
        Ok(results)
    }
}

/// `prefix` + `rows` groups of `width` placeholders + `suffix`.
fn multi_row(prefix: &str, width: usize, rows: usize, suffix: &str) -> String {
    let mut sql = String::with_capacity(prefix.len() + rows * width * 5 + suffix.len());
    sql.push_str(prefix);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * width + c + 1).to_string());
        }
        sql.push(')');
    }
    sql.push_str(suffix);
    sql
}

/// Splits into chunks of 128, 32, 8, 2 and 1 (greedy), so only five statement
/// shapes per table reach the prepared-statement cache.
fn chunks<T>(items: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let size = [128, 32, 8, 2, 1]
            .into_iter()
            .find(|s| *s <= rest.len())
            .unwrap_or(1);
        let (head, tail) = rest.split_at(size);
        out.push(head);
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_and_placeholders() {
        let v: Vec<u32> = (0..101).collect();
        let sizes: Vec<usize> = chunks(&v).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![32, 32, 32, 2, 2, 1], "101 = 3 × 32 + 2 × 2 + 1");
        assert_eq!(
            multi_row("INSERT INTO t VALUES ", 2, 2, " X"),
            "INSERT INTO t VALUES ($1, $2), ($3, $4) X"
        );
    }
}
