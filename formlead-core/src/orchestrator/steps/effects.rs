//! Steps 10–12: the side effects, each exactly once (see `once`): the mail
//! draft, the CRM follow-up task, the CRM note linking them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::super::checkpoint::Checkpoints;
use super::super::engine::Engine;
use super::super::failure::{StepFailure, port_failure};
use super::super::once::{Origin, exactly_once, first_stored};
use super::context::Context;
use crate::agents::{NextAction, NextStep};
use crate::domain::{
    CrmTask, DraftEmail, DraftId, DraftStatus, Prospect, StepName, TaskId, TaskPriority, TaskType,
    Workflow,
};
use crate::ports::DraftContent;
use crate::ports::{Contact, NewNote, NewTask, OutgoingMail, SendDecision, StoreWrite};

/// Checkpoint of step 10.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DraftCheckpoint {
    pub draft_id: DraftId,
    pub external_id: Option<String>,
}

/// Checkpoint of step 11.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskCheckpoint {
    pub task_id: TaskId,
    pub external_id: String,
}

/// What the note (step 12) tells about the reply.
pub(super) struct Reply<'a> {
    pub content: &'a DraftContent,
    pub plan: &'a NextStep,
    pub decision: &'a SendDecision,
    pub draft: &'a DraftCheckpoint,
    pub task: &'a TaskCheckpoint,
}

impl Engine {
    /// 10. `create_mail_draft`, in the chosen thread when there is one.
    ///
    /// `received_at`: when the submission arrived (for speed to lead).
    pub(super) async fn create_mail_draft(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        prospect: &Prospect,
        context: &Context,
        content: &DraftContent,
        received_at: DateTime<Utc>,
    ) -> Result<DraftCheckpoint, StepFailure> {
        let step = StepName::CreateMailDraft;
        let store = &self.ports.store;
        let message_id = self.message_id(wf);
        let reply_to = context.threads.chosen.as_ref().map(|t| t.reply_to());
        let mail = OutgoingMail {
            to: prospect.email.clone(),
            to_name: prospect.full_name(),
            subject: content.subject.clone(),
            body_text: content.body_text.clone(),
            body_html: content.body_html.clone(),
            message_id: message_id.clone(),
            reply_to: reply_to.clone(),
        };
        let fail = &port_failure(step);
        let (message_id, reply_to, mail) = (&message_id, &reply_to, &mail);
        self.checkpointed(wf, step, done, |attempted| async move {
            let stored = first_stored(store.drafts_for_workflow(wf.id), step, |d| {
                DraftCheckpoint {
                    draft_id: d.id,
                    external_id: d.external_id,
                }
            });
            let (checkpoint, origin) = exactly_once(
                attempted,
                stored,
                || async { self.ports.mail.find_draft(message_id).await.map_err(fail) },
                || async { self.ports.mail.create_draft(mail).await.map_err(fail) },
                |draft_ref| async move {
                    let at = self.ports.clock.now();
                    let row = DraftEmail {
                        id: DraftId::new(),
                        workflow_id: wf.id,
                        to_email: prospect.email.to_string(),
                        to_name: prospect.full_name(),
                        subject: content.subject.clone(),
                        body_text: content.body_text.clone(),
                        body_html: content.body_html.clone(),
                        message_id: message_id.clone(),
                        thread_id: draft_ref
                            .thread_id
                            .clone()
                            .or_else(|| reply_to.as_ref().map(|r| r.thread_id.clone())),
                        in_reply_to: reply_to.as_ref().map(|r| r.message_id.clone()),
                        external_id: Some(draft_ref.draft_id.clone()),
                        status: DraftStatus::PendingApproval,
                        created_at: at,
                        updated_at: at,
                        decided_by: None,
                        decided_at: None,
                        reject_reason: None,
                        sent_message_id: None,
                        sent_at: None,
                    };
                    let checkpoint = DraftCheckpoint {
                        draft_id: row.id,
                        external_id: row.external_id.clone(),
                    };
                    done.defer(StoreWrite::Draft(row));
                    Ok(checkpoint)
                },
            )
            .await?;
            if origin == Origin::Created {
                let since = (self.ports.clock.now() - received_at).to_std();
                self.observer
                    .draft_created(wf.id, since.unwrap_or_default());
            }
            let s = format!(
                "{origin} draft {}",
                checkpoint.external_id.as_deref().unwrap_or("-")
            );
            Ok((checkpoint, s))
        })
        .await
    }

    /// 11. `create_crm_task`, for the contact's owner.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn create_crm_task(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        prospect: &Prospect,
        contact: &Contact,
        plan: &NextStep,
        content: &DraftContent,
        decision: &SendDecision,
    ) -> Result<TaskCheckpoint, StepFailure> {
        let step = StepName::CreateCrmTask;
        let store = &self.ports.store;
        let key = format!("formlead:{}:task", wf.id);
        let who = prospect
            .full_name()
            .unwrap_or_else(|| prospect.email.to_string());
        // A support request is handed to support: its task goes to the
        // support owner (what the reply's promise rests on).
        let support = match (plan.action, &self.config.support_owner_id) {
            (NextAction::RouteToSupport, Some(owner)) => Some(owner.clone()),
            _ => None,
        };
        let company = prospect
            .company
            .as_ref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        let new_task = NewTask {
            idempotency_key: key.clone(),
            contact_id: contact.id.clone(),
            subject: match &support {
                Some(_) => format!("Support request from {who}{company}"),
                None => format!("Follow up with {who}{company}"),
            },
            body: format!(
                "{}Next step: {} — {}.\nDraft reply: \"{}\" ({}).\nref: {key}",
                if support.is_some() {
                    "Handed to support: the reply tells the prospect support will be in touch.\n"
                } else {
                    ""
                },
                plan.action.as_str(),
                plan.reason,
                content.subject,
                decision.mode.as_str()
            ),
            due_at: self.ports.clock.now() + self.config.task_due_after,
            priority: match plan.action {
                NextAction::ProposeMeeting | NextAction::FollowUpThread => TaskPriority::High,
                NextAction::RouteToSupport if support.is_some() => TaskPriority::High,
                NextAction::ShareAsset | NextAction::RouteToSupport => TaskPriority::Medium,
            },
            task_type: TaskType::Email,
            owner_id: support.clone().or_else(|| contact.owner_id.clone()),
        };
        let fail = &port_failure(step);
        let (key, new_task) = (&key, &new_task);
        self.checkpointed(wf, step, done, |attempted| async move {
            let stored = first_stored(store.tasks_for_workflow(wf.id), step, |t| TaskCheckpoint {
                task_id: t.id,
                external_id: t.external_id,
            });
            let (checkpoint, origin) = exactly_once(
                attempted,
                stored,
                || async {
                    self.ports
                        .crm
                        .find_task(&contact.id, key)
                        .await
                        .map_err(fail)
                },
                || async { self.ports.crm.create_task(new_task).await.map_err(fail) },
                |external_id: String| async move {
                    let row = CrmTask {
                        id: TaskId::new(),
                        workflow_id: wf.id,
                        contact_id: contact.id.clone(),
                        external_id: external_id.clone(),
                        subject: new_task.subject.clone(),
                        body: new_task.body.clone(),
                        due_at: new_task.due_at,
                        priority: new_task.priority,
                        task_type: new_task.task_type,
                        owner_id: new_task.owner_id.clone(),
                        created_at: self.ports.clock.now(),
                    };
                    let checkpoint = TaskCheckpoint {
                        task_id: row.id,
                        external_id,
                    };
                    done.defer(StoreWrite::Task(row));
                    Ok(checkpoint)
                },
            )
            .await?;
            let s = format!("{origin} task {}", checkpoint.external_id);
            Ok((checkpoint, s))
        })
        .await
    }

    /// 12. `log_crm_note` on the contact's timeline, linking draft and task.
    pub(super) async fn log_crm_note(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        contact: &Contact,
        reply: &Reply<'_>,
    ) -> Result<String, StepFailure> {
        let step = StepName::LogCrmNote;
        let key = format!("formlead:{}:note", wf.id);
        let note = NewNote {
            idempotency_key: key.clone(),
            contact_id: contact.id.clone(),
            body: format!(
                "formlead drafted a reply: \"{}\" (mail draft {}, {}).\nNext step: {} — {}.\nFollow-up task: {}.\nref: {key}",
                reply.content.subject,
                reply.draft.external_id.as_deref().unwrap_or("-"),
                reply.decision.mode.as_str(),
                reply.plan.action.as_str(),
                reply.plan.reason,
                reply.task.external_id,
            ),
            timestamp: self.ports.clock.now(),
        };
        let fail = &port_failure(step);
        let (key, note) = (&key, &note);
        self.checkpointed(wf, step, done, |attempted| async move {
            // The note is not stored here: the CRM is its record.
            let (id, origin) = exactly_once(
                attempted,
                async { Ok(None) },
                || async {
                    self.ports
                        .crm
                        .find_note(&contact.id, key)
                        .await
                        .map_err(fail)
                },
                || async { self.ports.crm.create_note(note).await.map_err(fail) },
                |id: String| async { Ok(id) },
            )
            .await?;
            let s = format!("{origin} note {id}");
            Ok((id, s))
        })
        .await
    }
}
