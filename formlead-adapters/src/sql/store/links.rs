//! One reply per prospect: which accepted submissions join an earlier
//! workflow's reply instead of starting one (decided inside the accept's
//! transaction, with the prospects locked where several writers could
//! race), and the linked submissions' life afterwards.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use formlead_core::domain::{
    EmailAddress, FormSubmission, SubmissionId, WorkflowId, WorkflowStatus,
};
use formlead_core::ports::{Accepted, LinkedSubmission, StartAttempt, StoreError, WorkflowJob};
use uuid::Uuid;

use super::super::backend::NewLead;
use super::super::errors::db_err;
use super::super::exec::{Conn, Sql, stmt};
use super::super::write_path::Turn;
use super::SqlStore;
use super::columns::{submission_cols, workflow_cols};
use super::rows::Reader;

/// An accepted lead: it starts a workflow, or joins an earlier one's reply.
pub(super) enum Route<'a> {
    Start(NewLead<'a>),
    Join(&'a FormSubmission, WorkflowId),
}

impl<B: Sql> SqlStore<B> {
    /// Where each lead of a batch goes, in order: the first lead of a
    /// prospect with no open reply starts a workflow; later ones, and
    /// leads of prospects with an open reply in the database, join it.
    /// Runs inside the accept's transaction (after `B::LOCK_PROSPECTS`).
    pub(super) async fn route_leads<'a>(
        &self,
        tx: &mut Conn<B>,
        leads: Vec<NewLead<'a>>,
    ) -> Result<Vec<Route<'a>>, StoreError> {
        if self.merge_window.is_zero() || leads.is_empty() {
            return Ok(leads.into_iter().map(Route::Start).collect());
        }
        let emails: Vec<&str> = leads
            .iter()
            .map(|l| l.submission.email())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let emails = serde_json::to_string(&emails).map_err(StoreError::permanent)?;
        if let Some(lock) = B::LOCK_PROSPECTS {
            stmt::<B>(lock)
                .arg(emails.clone())
                .fetch_all_in(&mut *tx)
                .await
                .map_err(db_err::<B>)?;
        }
        let earliest = leads
            .iter()
            .map(|l| l.submission.received_at)
            .min()
            .unwrap_or_else(Utc::now);
        let since = earliest
            - chrono::Duration::from_std(self.merge_window).unwrap_or(chrono::Duration::MAX);
        let rows = stmt::<B>(B::OPEN_REPLIES)
            .arg(emails)
            .arg(since)
            .fetch_all_in(&mut *tx)
            .await
            .map_err(db_err::<B>)?;
        let mut open: HashMap<String, WorkflowId> = HashMap::new();
        for row in &rows {
            let r = Reader::<B>::new(row);
            // Oldest first: the first reply of a prospect is the one joined.
            open.entry(r.s("prospect_email")?)
                .or_insert(WorkflowId(r.uuid("id")?));
        }
        Ok(leads
            .into_iter()
            .map(|lead| {
                let email = lead.submission.email();
                // An invalid address fails its own workflow at step 1.
                if EmailAddress::parse(email).is_err() {
                    return Route::Start(lead);
                }
                match open.get(email) {
                    Some(earlier) => Route::Join(lead.submission, *earlier),
                    None => {
                        open.insert(email.to_owned(), lead.workflow_id);
                        Route::Start(lead)
                    }
                }
            })
            .collect())
    }

    /// Stores each joining submission with its link and a job for the
    /// workflow it joins: the submissions that were new.
    pub(super) async fn insert_links(
        &self,
        tx: &mut Conn<B>,
        joins: &[(&FormSubmission, WorkflowId)],
    ) -> Result<HashSet<Uuid>, StoreError> {
        let mut inserted = HashSet::new();
        for (s, workflow) in joins {
            let fields = serde_json::to_value(&s.fields).map_err(StoreError::permanent)?;
            let new = stmt::<B>(concat!(
                "INSERT INTO form_submissions (",
                submission_cols!(),
                ", prospect_email) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ",
                "ON CONFLICT (form_submission_id) DO NOTHING RETURNING id"
            ))
            .arg(s.id.0)
            .arg(s.form_submission_id.clone())
            .arg(s.portal_id.and_then(|p| i64::try_from(p).ok()))
            .arg(s.form_id.clone())
            .arg(s.submitted_at)
            .arg(s.page_url.clone())
            .arg(fields)
            .arg(s.raw_payload.clone())
            .arg(s.source.as_str())
            .arg(s.received_at)
            .arg(s.email())
            .fetch_optional_in(&mut *tx)
            .await
            .map_err(db_err::<B>)?;
            if new.is_none() {
                continue;
            }
            stmt::<B>(
                "INSERT INTO linked_submissions (submission_id, workflow_id, linked_at) VALUES ($1, $2, $3)",
            )
            .arg(s.id.0)
            .arg(workflow.0)
            .arg(s.received_at)
            .execute_in(&mut *tx)
            .await
            .map_err(db_err::<B>)?;
            B::push_job(
                &mut *tx,
                WorkflowJob {
                    workflow_id: *workflow,
                },
                Duration::ZERO,
            )
            .await
            .map_err(db_err::<B>)?;
            inserted.insert(s.id.0);
        }
        Ok(inserted)
    }

    /// Through the prospect's workflows (indexed by email): their own
    /// submissions and those linked to them. (`body-sha256:` is
    /// `UNIDENTIFIED_PREFIX`.)
    pub(super) async fn find_unidentified(
        &self,
        form_id: &str,
        email: &str,
        submitted_at: DateTime<Utc>,
    ) -> Result<Option<Accepted>, StoreError> {
        let q = stmt::<B>(
            "SELECT s.id AS sid, w.id AS wid, CAST(0 AS BIGINT) AS linked FROM workflows w \
             JOIN form_submissions s ON s.id = w.submission_id \
             WHERE w.prospect_email = $1 AND s.form_submission_id LIKE 'body-sha256:%' \
             AND s.submitted_at = $2 AND (s.form_id = $3 OR s.form_id IS NULL) \
             UNION ALL SELECT s.id AS sid, w.id AS wid, CAST(1 AS BIGINT) AS linked FROM workflows w \
             JOIN linked_submissions l ON l.workflow_id = w.id JOIN form_submissions s ON s.id = l.submission_id \
             WHERE w.prospect_email = $1 AND s.form_submission_id LIKE 'body-sha256:%' \
             AND s.submitted_at = $2 AND (s.form_id = $3 OR s.form_id IS NULL) LIMIT 1",
        )
        .arg(email.to_owned())
        .arg(submitted_at)
        .arg(form_id.to_owned());
        self.fetch_optional(q, |r| {
            Ok(Accepted {
                submission_id: SubmissionId(r.uuid("sid")?),
                workflow_id: WorkflowId(r.uuid("wid")?),
                linked: r.i("linked")? != 0,
            })
        })
        .await
    }

    pub(super) async fn lease_reply(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<StartAttempt, StoreError> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let q = stmt::<B>(concat!(
            "UPDATE workflows SET lease_owner = $2, lease_until = $4 ",
            "WHERE id = $1 AND status IN ('awaiting_approval', 'completed') ",
            "AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $3) RETURNING ",
            workflow_cols!()
        ))
        .arg(id.0)
        .arg(owner.to_owned())
        .arg(now)
        .arg(until);
        if let Some(w) = self.write_optional(q, |r| r.workflow()).await? {
            return Ok(StartAttempt::Started(w));
        }
        let q = stmt::<B>("SELECT status, lease_until FROM workflows WHERE id = $1").arg(id.0);
        let state = self
            .fetch_optional(q, |r| {
                let status =
                    WorkflowStatus::parse(&r.s("status")?).map_err(StoreError::permanent)?;
                Ok((status, r.opt_time("lease_until")?))
            })
            .await?;
        match state {
            None => Err(StoreError::not_found("workflow", id)),
            Some((status, until)) if status.has_reply() => Ok(StartAttempt::Busy {
                until: until.unwrap_or(now),
            }),
            Some((status, _)) => Ok(StartAttempt::NotRunnable(status)),
        }
    }

    pub(super) async fn release_lease(
        &self,
        id: WorkflowId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let q = stmt::<B>(
            "UPDATE workflows SET lease_owner = NULL, lease_until = NULL, updated_at = $3 \
             WHERE id = $1 AND lease_owner = $2 RETURNING id",
        )
        .arg(id.0)
        .arg(owner.to_owned())
        .arg(now);
        self.write_owned(id, q).await
    }

    pub(super) async fn linked_submissions(
        &self,
        id: WorkflowId,
    ) -> Result<Vec<LinkedSubmission>, StoreError> {
        let q = stmt::<B>(concat!(
            "SELECT ",
            submission_cols!(),
            ", workflow_id, linked_at, applied_at, note_id FROM linked_submissions ",
            "JOIN form_submissions ON id = submission_id WHERE workflow_id = $1 ",
            "ORDER BY linked_at, received_at"
        ))
        .arg(id.0);
        self.fetch_all(q, |r| {
            Ok(LinkedSubmission {
                submission: r.submission()?,
                workflow_id: WorkflowId(r.uuid("workflow_id")?),
                linked_at: r.time("linked_at")?,
                applied_at: r.opt_time("applied_at")?,
                note_id: r.opt_s("note_id")?,
            })
        })
        .await
    }

    pub(super) async fn apply_link(
        &self,
        submission: SubmissionId,
        note_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let q = stmt::<B>(
            "UPDATE linked_submissions SET applied_at = COALESCE(applied_at, $2), note_id = $3 \
             WHERE submission_id = $1 RETURNING submission_id",
        )
        .arg(submission.0)
        .arg(now)
        .arg(note_id.to_owned());
        self.write_optional(q, |_| Ok(()))
            .await?
            .ok_or_else(|| StoreError::not_found("linked submission", submission))
    }

    pub(super) async fn unlink_submission(
        &self,
        submission: SubmissionId,
        now: DateTime<Utc>,
    ) -> Result<WorkflowId, StoreError> {
        let (turn, mut tx) = self.begin_write_turn(Turn::Other).await?;
        let gone = stmt::<B>(
            "DELETE FROM linked_submissions WHERE submission_id = $1 RETURNING submission_id",
        )
        .arg(submission.0)
        .fetch_optional_in(&mut *tx)
        .await
        .map_err(db_err::<B>)?;
        if gone.is_none() {
            return Err(StoreError::not_found("linked submission", submission));
        }
        let id = WorkflowId::new();
        stmt::<B>(
            "INSERT INTO workflows (id, submission_id, status, prospect_email, attempts, created_at, updated_at) \
             SELECT $2, id, 'triggered', prospect_email, 0, $3, $3 FROM form_submissions WHERE id = $1",
        )
        .arg(submission.0)
        .arg(id.0)
        .arg(now)
        .execute_in(&mut *tx)
        .await
        .map_err(db_err::<B>)?;
        self.commit_with_jobs(tx, turn, &[id], Duration::ZERO)
            .await?;
        Ok(id)
    }
}
