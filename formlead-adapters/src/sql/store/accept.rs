//! Accepting submissions with group commit: concurrent accepts are queued
//! to one task that writes up to [`MAX_BATCH`] of them in a single
//! transaction (if that fails, they are committed one by one, so one bad
//! submission fails alone) and answers every caller only once the commit is
//! durable. One fsync then covers many leads, while a lone lead is
//! committed at once.

use formlead_core::domain::{FormSubmission, SubmissionId, WorkflowId};
use formlead_core::ports::{Accepted, Classify, StoreError};
use tokio::sync::mpsc;

use super::super::backend::NewLead;
use super::super::errors::{SharedError, db_err};
use super::super::exec::Sql;
use super::super::exec::stmt;
use super::super::write_path::Turn;
use super::columns::submission_cols;
use super::links::Route;
use super::{Inbox, Reply, SqlStore};

/// Most submissions committed together.
pub const MAX_BATCH: usize = 256;

impl<B: Sql> SqlStore<B> {
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
            let (subs, replies): (Vec<FormSubmission>, Vec<Reply>) = batch.into_iter().unzip();
            let refs: Vec<&FormSubmission> = subs.iter().collect();
            let results = self.accept_batch(&refs).await;
            // Answered once durable; meanwhile the writer commits the next
            // batch.
            self.answer_when_durable(Ok(()), move |lost| {
                for (reply, result) in replies.into_iter().zip(results) {
                    let result = match &lost {
                        None => result,
                        Some(e) => Err(e.error()),
                    };
                    // A caller that went away still had its lead committed.
                    let _ = reply.send(result);
                }
            });
        }
    }

    /// Commits `batch` in one transaction; one result per submission, in
    /// order. If the batch as a whole fails, its submissions are committed
    /// one by one, so a bad one fails alone; unless the database itself is
    /// unavailable (a transient error: unreachable, busy, full), which
    /// fails them all at once instead of once each, after a timeout each.
    pub(crate) async fn accept_batch(
        &self,
        batch: &[&FormSubmission],
    ) -> Vec<Result<Accepted, StoreError>> {
        match self.accept_together(batch).await {
            Ok(results) => results,
            Err(e) if batch.len() == 1 => vec![Err(e)],
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, size = batch.len(), "batched accept failed: database unavailable");
                let e = SharedError::of(&e);
                batch.iter().map(|_| Err(e.error())).collect()
            }
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

    /// One transaction for the whole batch: the backend inserts every
    /// submission, workflow and job (SQLite: three statements in one call),
    /// then one commit.
    async fn accept_together(
        &self,
        batch: &[&FormSubmission],
    ) -> Result<Vec<Result<Accepted, StoreError>>, StoreError> {
        // The first of several submissions with one formSubmissionId is
        // inserted; the others are duplicates of it.
        let mut seen = std::collections::HashSet::new();
        let leads: Vec<NewLead<'_>> = batch
            .iter()
            .copied()
            .filter(|s| seen.insert(s.form_submission_id.as_str()))
            .map(|submission| NewLead {
                submission,
                workflow_id: WorkflowId::new(),
            })
            .collect();

        let (turn, mut tx) = self.begin_write_turn(Turn::Accept).await?;
        // A repeat submission of a prospect whose reply is still open joins
        // it (decided here, under the transaction, so concurrent accepts of
        // one prospect cannot both start a reply).
        let mut starting = Vec::with_capacity(leads.len());
        let mut joining = Vec::new();
        for route in self.route_leads(&mut tx, leads).await? {
            match route {
                Route::Start(lead) => starting.push(lead),
                Route::Join(s, w) => joining.push((s, w)),
            }
        }
        let mut inserted = B::insert_leads(&mut tx, &starting)
            .await
            .map_err(db_err::<B>)?;
        // Test hooks: a crash after the inserts must leave nothing; one
        // submission can be made to fail.
        self.faults
            .check::<StoreError>("accept_submission:after_insert")
            .await?;
        let linked = self.insert_links(&mut tx, &joining).await?;
        inserted.extend(linked.iter().copied());
        let fresh: Vec<(&FormSubmission, Accepted)> = starting
            .iter()
            .filter(|l| inserted.contains(&l.submission.id.0))
            .map(|l| (l.submission, l.workflow_id, false))
            .chain(
                joining
                    .iter()
                    .filter(|(s, _)| linked.contains(&s.id.0))
                    .map(|(s, w)| (*s, *w, true)),
            )
            .map(|(s, workflow_id, linked)| {
                (
                    s,
                    Accepted {
                        submission_id: s.id,
                        workflow_id,
                        linked,
                    },
                )
            })
            .collect();
        for (s, _) in &fresh {
            self.faults
                .check_item::<StoreError>(|| {
                    format!("accept_submission:item:{}", s.form_submission_id)
                })
                .await?;
        }
        if fresh.is_empty() {
            drop(tx);
        } else {
            tx.commit().await.map_err(db_err::<B>)?;
            self.wake_workers();
        }
        // Looking up duplicates below only reads.
        drop(turn);

        let accepted: std::collections::HashMap<&str, Accepted> = fresh
            .iter()
            .map(|(s, a)| (s.form_submission_id.as_str(), *a))
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

impl<B: Sql> SqlStore<B> {
    pub(super) async fn accept_submission(
        &self,
        s: &FormSubmission,
    ) -> Result<Accepted, StoreError> {
        self.faults.check::<StoreError>("accept_submission").await?;
        // Concurrent accepts share one commit (group commit); alone, a
        // submission is committed by itself, just as fast.
        if let Some(batcher) = self.batcher() {
            let (reply, answer) = tokio::sync::oneshot::channel();
            if batcher.send((s.clone(), reply)).await.is_ok()
                && let Ok(result) = answer.await
            {
                return result;
            }
        }
        let result = self
            .accept_batch(&[s])
            .await
            .pop()
            .unwrap_or_else(|| Err(StoreError::transient("accept produced no result")));
        self.durable().await?;
        result
    }
    pub(super) async fn find_submission(
        &self,
        form_submission_id: &str,
    ) -> Result<Option<Accepted>, StoreError> {
        let q = stmt::<B>(
            "SELECT s.id AS sid, COALESCE(w.id, l.workflow_id) AS wid, l.workflow_id AS linked_to \
             FROM form_submissions s LEFT JOIN workflows w ON w.submission_id = s.id \
             LEFT JOIN linked_submissions l ON l.submission_id = s.id WHERE s.form_submission_id = $1",
        )
        .arg(form_submission_id.to_owned());
        self.fetch_optional(q, |r| {
            Ok(Accepted {
                submission_id: SubmissionId(r.uuid("sid")?),
                workflow_id: WorkflowId(r.uuid("wid")?),
                linked: r.opt_uuid("linked_to")?.is_some(),
            })
        })
        .await
    }
    pub(super) async fn get_submission(
        &self,
        id: SubmissionId,
    ) -> Result<Option<FormSubmission>, StoreError> {
        self.one_by_id(
            concat!(
                "SELECT ",
                submission_cols!(),
                " FROM form_submissions WHERE id = $1"
            ),
            id.0,
            |r| r.submission(),
        )
        .await
    }
}
