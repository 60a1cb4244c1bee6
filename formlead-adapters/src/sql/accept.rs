//! Accepting submissions with group commit: concurrent accepts are queued
//! to one task that writes up to [`MAX_BATCH`] of them in a single
//! transaction (each in its own savepoint, so one bad submission fails
//! alone) and answers every caller only after the commit. One fsync then
//! covers many leads, while a lone lead is committed at once.

use std::time::Duration;

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

enum Outcome {
    Inserted(Accepted),
    Duplicate,
    Failed(StoreError),
}

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

    /// Commits `batch` in one transaction; one result per submission, in order.
    pub(crate) async fn accept_batch(
        &self,
        batch: &[&FormSubmission],
    ) -> Vec<Result<Accepted, StoreError>> {
        let all_failed = |e: StoreError| -> Vec<Result<Accepted, StoreError>> {
            let message = e.to_string();
            let transient = formlead_core::ports::Classify::is_transient(&e);
            batch
                .iter()
                .map(|_| {
                    Err(if transient {
                        StoreError::transient(message.clone())
                    } else {
                        StoreError::permanent(message.clone())
                    })
                })
                .collect()
        };
        let mut tx = match B::begin_write(self.pool()).await {
            Ok(tx) => tx,
            Err(e) => return all_failed(db_err::<B>(e)),
        };
        let savepoints = batch.len() > 1;
        let mut outcomes = Vec::with_capacity(batch.len());
        for s in batch {
            if savepoints
                && let Err(e) = sqlx::query::<B::Db>("SAVEPOINT accept_item")
                    .execute(&mut *tx)
                    .await
            {
                return all_failed(db_err::<B>(e));
            }
            let outcome = match self.insert_one(&mut tx, s).await {
                Ok(Some(accepted)) => Outcome::Inserted(accepted),
                Ok(None) => Outcome::Duplicate,
                Err(e) => Outcome::Failed(e),
            };
            if savepoints {
                let end = if matches!(outcome, Outcome::Failed(_)) {
                    "ROLLBACK TO SAVEPOINT accept_item"
                } else {
                    "RELEASE SAVEPOINT accept_item"
                };
                if let Err(e) = sqlx::query::<B::Db>(end).execute(&mut *tx).await {
                    return all_failed(db_err::<B>(e));
                }
            } else if let Outcome::Failed(e) = outcome {
                drop(tx);
                return vec![Err(e)];
            }
            outcomes.push(outcome);
        }
        if outcomes.iter().any(|o| matches!(o, Outcome::Inserted(_))) {
            if let Err(e) = tx.commit().await {
                return all_failed(db_err::<B>(e));
            }
            self.wake_workers();
        } else {
            drop(tx);
        }
        let mut results = Vec::with_capacity(batch.len());
        for (s, outcome) in batch.iter().zip(outcomes) {
            results.push(match outcome {
                Outcome::Inserted(a) => Ok(a),
                Outcome::Failed(e) => Err(e),
                Outcome::Duplicate => {
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
        results
    }

    /// Submission, workflow and job for `s` on `conn`; `None` when the
    /// `formSubmissionId` exists already.
    async fn insert_one(
        &self,
        conn: &mut <B::Db as Database>::Connection,
        s: &FormSubmission,
    ) -> Result<Option<Accepted>, StoreError> {
        let workflow_id = WorkflowId::new();
        let fields = serde_json::to_value(&s.fields).map_err(StoreError::permanent)?;
        let inserted = sqlx::query::<B::Db>(B::sql(concat!(
            "INSERT INTO form_submissions (",
            submission_cols!(),
            ", prospect_email) ",
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ",
            "ON CONFLICT (form_submission_id) DO NOTHING RETURNING id"
        )))
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
        .bind(s.email().to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err::<B>)?;
        if inserted.is_none() {
            return Ok(None);
        }
        // Test hook: a crash between the inserts must leave nothing.
        self.faults()
            .before::<StoreError>("accept_submission:after_insert")
            .await?;
        sqlx::query::<B::Db>(B::sql(
            "INSERT INTO workflows (id, submission_id, status, prospect_email, attempts, created_at, updated_at) \
             VALUES ($1, $2, 'triggered', $3, 0, $4, $4)",
        ))
        .bind(B::id(workflow_id.0))
        .bind(B::id(s.id.0))
        .bind(s.email().to_owned())
        .bind(B::time(s.received_at))
        .execute(&mut *conn)
        .await
        .map_err(db_err::<B>)?;
        B::push_job(conn, WorkflowJob { workflow_id }, Duration::ZERO)
            .await
            .map_err(db_err::<B>)?;
        Ok(Some(Accepted {
            submission_id: s.id,
            workflow_id,
        }))
    }
}
