//! The 13 steps of contract §1, in order; steps 3–6 run concurrently.

use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoints, StepResult, permanent, port_failure, store_failure};
use super::engine::{Engine, StepFailure};
use crate::agents::{
    AssetHunter, DraftContent, DraftInput, LongMemory, MeetingSlot, MeetingSlotFinder,
    MemoryRecall, NextAction, NextStep, NextStepPlanner, RankedAsset, ThreadInsight, ThreadReader,
};
use crate::domain::{
    AuditEvent, CrmTask, DraftEmail, DraftId, DraftStatus, FormSubmission, Prospect, StepName,
    TaskId, TaskPriority, TaskType, Workflow, WorkflowStatus,
};
use crate::ports::{Approval, Contact, NewNote, NewTask, OutgoingMail, SendDecision, SendMode};

/// Checkpoint of step 10.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DraftCheckpoint {
    draft_id: DraftId,
    external_id: Option<String>,
}

/// Checkpoint of step 11.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TaskCheckpoint {
    task_id: TaskId,
    external_id: String,
}

impl Engine {
    /// The `Message-ID` of a workflow's reply: stable, so draft creation and
    /// sending can be checked for earlier success.
    pub fn message_id(&self, workflow: &Workflow) -> String {
        format!(
            "<formlead-{}@{}>",
            workflow.id, self.config.message_id_domain
        )
    }

    pub(crate) async fn run_steps(
        &self,
        wf: &Workflow,
        lease: &super::checkpoint::Lease,
    ) -> Result<WorkflowStatus, StepFailure> {
        let store = &self.ports.store;
        let submission: FormSubmission = store
            .get_submission(wf.submission_id)
            .await
            .map_err(store_failure(None))?
            .ok_or_else(|| {
                permanent(
                    StepName::ValidateSubmission,
                    "the workflow's submission is missing",
                )
            })?;
        let done: Checkpoints = store
            .list_steps(wf.id)
            .await
            .map_err(store_failure(None))?
            .into_iter()
            .map(|r| (r.step, r))
            .collect();
        let now = || self.ports.clock.now();

        // 1. validate_submission
        self.renew_lease(wf, lease).await?;
        let prospect: Prospect = self
            .checkpointed(wf, StepName::ValidateSubmission, &done, |_| async {
                let p = Prospect::from_submission(&submission).map_err(|e| {
                    permanent(
                        StepName::ValidateSubmission,
                        format!("{e} (\"{}\")", submission.email()),
                    )
                })?;
                let summary = format!(
                    "{}{}",
                    p.email,
                    p.company
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default()
                );
                Ok((p, summary))
            })
            .await?;

        // 2. upsert_contact
        self.renew_lease(wf, lease).await?;
        let contact: Contact = self
            .checkpointed(wf, StepName::UpsertContact, &done, |_| async {
                let fail = port_failure(StepName::UpsertContact);
                match self
                    .ports
                    .crm
                    .find_contact(&prospect.email)
                    .await
                    .map_err(&fail)?
                {
                    Some(c) => {
                        let s = format!("found contact {}", c.id);
                        Ok((c, s))
                    }
                    None => {
                        let c = self
                            .ports
                            .crm
                            .create_contact(&prospect)
                            .await
                            .map_err(&fail)?;
                        let s = format!("created contact {}", c.id);
                        Ok((c, s))
                    }
                }
            })
            .await?;

        // 3–6 only read: run them concurrently.
        self.renew_lease(wf, lease).await?;
        let (threads, memory, assets, slots) = futures_util::join!(
            self.enrichment(wf, StepName::ReadThreads, &done, |_| async {
                let found = self
                    .ports
                    .mail
                    .threads_with(&prospect.email, self.config.thread_lookup_limit)
                    .await
                    .map_err(port_failure(StepName::ReadThreads))?;
                let insight = ThreadReader::default().read(&found, now());
                let s = insight.summary.clone();
                StepResult::<ThreadInsight>::Ok((insight, s))
            }),
            self.enrichment(wf, StepName::RecallHistory, &done, |_| async {
                let history = store
                    .prospect_history(prospect.email.as_str(), wf.id)
                    .await
                    .map_err(store_failure(Some(StepName::RecallHistory)))?;
                // A contact created in step 2 has no notes yet: no call.
                let notes = if contact.created {
                    Vec::new()
                } else {
                    self.ports
                        .crm
                        .recent_notes(&contact.id, self.config.note_lookup_limit)
                        .await
                        .map_err(port_failure(StepName::RecallHistory))?
                };
                let recall = LongMemory.recall(&history, &notes, now());
                let s = recall.summary.clone();
                StepResult::<MemoryRecall>::Ok((recall, s))
            }),
            self.enrichment(wf, StepName::FindAssets, &done, |_| async {
                let hunter = AssetHunter::default();
                let terms = hunter.search_terms(&prospect);
                let candidates = self
                    .ports
                    .assets
                    .search(&terms, 50)
                    .await
                    .map_err(port_failure(StepName::FindAssets))?;
                let ranked = hunter.rank(&prospect, &candidates);
                let s = match ranked.first() {
                    Some(a) => format!(
                        "{} match(es); best \"{}\" (score {})",
                        ranked.len(),
                        a.asset.title,
                        a.score
                    ),
                    None => format!("no matching asset among {}", candidates.len()),
                };
                StepResult::<Vec<RankedAsset>>::Ok((ranked, s))
            }),
            self.enrichment(wf, StepName::FindMeetingSlots, &done, |_| async {
                let hours = &self.config.business_hours;
                let at = now();
                let (from, to) = hours.window(at);
                let busy = self
                    .ports
                    .calendar
                    .busy(from, to)
                    .await
                    .map_err(port_failure(StepName::FindMeetingSlots))?;
                let slots = MeetingSlotFinder {
                    hours: hours.clone(),
                }
                .propose(at, &busy);
                let s = if slots.is_empty() {
                    "no free slot in business hours".to_owned()
                } else {
                    slots
                        .iter()
                        .map(|s| s.display(hours.time_zone))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                StepResult::<Vec<MeetingSlot>>::Ok((slots, s))
            }),
        );
        // Report the most serious failure: permanent before transient.
        let results = [
            threads.as_ref().err(),
            memory.as_ref().err(),
            assets.as_ref().err(),
            slots.as_ref().err(),
        ];
        if let Some(f) = results
            .iter()
            .flatten()
            .max_by_key(|f| matches!(f.kind, super::engine::FailureKind::Permanent))
        {
            return Err((*f).clone());
        }
        let (threads, memory, assets, slots) = (threads?, memory?, assets?, slots?);

        // 7. plan_next_step
        self.renew_lease(wf, lease).await?;
        let plan: NextStep = self
            .checkpointed(wf, StepName::PlanNextStep, &done, |_| async {
                let plan = NextStepPlanner.plan(&prospect, &threads, &memory, &assets, &slots);
                let s = format!("{}: {}", plan.action.as_str(), plan.reason);
                Ok((plan, s))
            })
            .await?;

        // 8. write_draft
        self.renew_lease(wf, lease).await?;
        let content: DraftContent = self
            .checkpointed(wf, StepName::WriteDraft, &done, |_| async {
                let input = DraftInput {
                    prospect: prospect.clone(),
                    plan: plan.clone(),
                    thread: threads.chosen.clone(),
                    memory: memory.clone(),
                    time_zone: self.config.business_hours.time_zone,
                };
                let content = self
                    .ports
                    .writer
                    .write(&input)
                    .await
                    .map_err(port_failure(StepName::WriteDraft))?;
                if content.subject.trim().is_empty() || content.body_text.trim().is_empty() {
                    return Err(permanent(
                        StepName::WriteDraft,
                        "the writer produced an empty subject or body",
                    ));
                }
                let words = content.body_text.split_whitespace().count();
                let s = format!("\"{}\" ({words} words)", content.subject);
                Ok((content, s))
            })
            .await?;

        // 9. check_send_policy
        self.renew_lease(wf, lease).await?;
        let decision: SendDecision = self
            .checkpointed(wf, StepName::CheckSendPolicy, &done, |_| async {
                let decision = self.ports.policy.decide(&prospect.email).await;
                let event = AuditEvent::new(
                    Some(wf.id),
                    "system",
                    "send_policy.decision",
                    serde_json::json!({"mode": decision.mode.as_str(), "reason": decision.reason, "recipient": prospect.email.as_str()}),
                    now(),
                );
                store.record_audit(&event).await.map_err(store_failure(Some(StepName::CheckSendPolicy)))?;
                let s = format!("{}: {}", decision.mode.as_str(), decision.reason);
                Ok((decision, s))
            })
            .await?;

        // The side-effect steps below use `async move` closures; they move
        // these references, not the values.
        let (prospect, contact, threads, plan, content, decision) =
            (&prospect, &contact, &threads, &plan, &content, &decision);

        // 10. create_mail_draft
        self.renew_lease(wf, lease).await?;
        let draft: DraftCheckpoint = self
            .checkpointed(
                wf,
                StepName::CreateMailDraft,
                &done,
                |attempted| async move {
                    let step = StepName::CreateMailDraft;
                    let existing = store
                        .drafts_for_workflow(wf.id)
                        .await
                        .map_err(store_failure(Some(step)))?;
                    if let Some(d) = existing.into_iter().next() {
                        let s = format!("draft {} already stored", d.id);
                        return Ok((
                            DraftCheckpoint {
                                draft_id: d.id,
                                external_id: d.external_id,
                            },
                            s,
                        ));
                    }
                    let message_id = self.message_id(wf);
                    let reply_to = threads.chosen.as_ref().map(|t| t.reply_to());
                    let mail = OutgoingMail {
                        to: prospect.email.clone(),
                        to_name: prospect.full_name(),
                        subject: content.subject.clone(),
                        body_text: content.body_text.clone(),
                        body_html: content.body_html.clone(),
                        message_id: message_id.clone(),
                        reply_to: reply_to.clone(),
                    };
                    let fail = port_failure(step);
                    // An earlier attempt may have created it before failing.
                    let found = if attempted {
                        self.ports
                            .mail
                            .find_draft(&message_id)
                            .await
                            .map_err(&fail)?
                    } else {
                        None
                    };
                    let recovered = found.is_some();
                    let draft_ref = match found {
                        Some(r) => r,
                        None => self.ports.mail.create_draft(&mail).await.map_err(&fail)?,
                    };
                    let at = now();
                    let row = DraftEmail {
                        id: DraftId::new(),
                        workflow_id: wf.id,
                        to_email: prospect.email.to_string(),
                        to_name: prospect.full_name(),
                        subject: content.subject.clone(),
                        body_text: content.body_text.clone(),
                        body_html: content.body_html.clone(),
                        message_id,
                        thread_id: draft_ref
                            .thread_id
                            .clone()
                            .or_else(|| reply_to.as_ref().map(|r| r.thread_id.clone())),
                        in_reply_to: reply_to.map(|r| r.message_id),
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
                    store
                        .insert_draft(&row)
                        .await
                        .map_err(store_failure(Some(step)))?;
                    let s = format!(
                        "{} draft {}{}",
                        if recovered { "recovered" } else { "created" },
                        draft_ref.draft_id,
                        row.thread_id
                            .as_deref()
                            .map(|t| format!(" in thread {t}"))
                            .unwrap_or_default()
                    );
                    Ok((
                        DraftCheckpoint {
                            draft_id: row.id,
                            external_id: row.external_id.clone(),
                        },
                        s,
                    ))
                },
            )
            .await?;

        // 11. create_crm_task
        self.renew_lease(wf, lease).await?;
        let task: TaskCheckpoint = self
            .checkpointed(wf, StepName::CreateCrmTask, &done, |attempted| async move {
                let step = StepName::CreateCrmTask;
                let existing = store
                    .tasks_for_workflow(wf.id)
                    .await
                    .map_err(store_failure(Some(step)))?;
                if let Some(t) = existing.into_iter().next() {
                    let s = format!("task {} already stored", t.external_id);
                    return Ok((
                        TaskCheckpoint {
                            task_id: t.id,
                            external_id: t.external_id,
                        },
                        s,
                    ));
                }
                let at = now();
                let key = format!("formlead:{}:task", wf.id);
                let who = prospect
                    .full_name()
                    .unwrap_or_else(|| prospect.email.to_string());
                let new_task = NewTask {
                    idempotency_key: key.clone(),
                    contact_id: contact.id.clone(),
                    subject: match &prospect.company {
                        Some(c) => format!("Follow up with {who} ({c})"),
                        None => format!("Follow up with {who}"),
                    },
                    body: format!(
                        "Next step: {} — {}.\nDraft reply: \"{}\" ({}).\nref: {key}",
                        plan.action.as_str(),
                        plan.reason,
                        content.subject,
                        decision.mode.as_str()
                    ),
                    due_at: at + self.config.task_due_after,
                    priority: match plan.action {
                        NextAction::ProposeMeeting | NextAction::FollowUpThread => {
                            TaskPriority::High
                        }
                        NextAction::ShareAsset | NextAction::RouteToSupport => TaskPriority::Medium,
                    },
                    task_type: TaskType::Email,
                    owner_id: contact.owner_id.clone(),
                };
                let fail = port_failure(step);
                let found = if attempted {
                    self.ports
                        .crm
                        .find_task(&contact.id, &key)
                        .await
                        .map_err(&fail)?
                } else {
                    None
                };
                let recovered = found.is_some();
                let external_id = match found {
                    Some(id) => id,
                    None => self.ports.crm.create_task(&new_task).await.map_err(&fail)?,
                };
                let row = CrmTask {
                    id: TaskId::new(),
                    workflow_id: wf.id,
                    contact_id: contact.id.clone(),
                    external_id: external_id.clone(),
                    subject: new_task.subject,
                    body: new_task.body,
                    due_at: new_task.due_at,
                    priority: new_task.priority,
                    task_type: new_task.task_type,
                    owner_id: new_task.owner_id,
                    created_at: at,
                };
                store
                    .insert_task(&row)
                    .await
                    .map_err(store_failure(Some(step)))?;
                let s = format!(
                    "{} task {external_id}",
                    if recovered { "recovered" } else { "created" }
                );
                Ok((
                    TaskCheckpoint {
                        task_id: row.id,
                        external_id,
                    },
                    s,
                ))
            })
            .await?;

        // 12. log_crm_note
        self.renew_lease(wf, lease).await?;
        let _note: String = self
            .checkpointed(wf, StepName::LogCrmNote, &done, |attempted| async move {
                let step = StepName::LogCrmNote;
                let key = format!("formlead:{}:note", wf.id);
                let fail = port_failure(step);
                if attempted
                    && let Some(id) = self.ports.crm.find_note(&contact.id, &key).await.map_err(&fail)? {
                        let s = format!("recovered note {id}");
                        return Ok((id, s));
                    }
                let note = NewNote {
                    idempotency_key: key.clone(),
                    contact_id: contact.id.clone(),
                    body: format!(
                        "formlead drafted a reply: \"{}\" (mail draft {}, {}).\nNext step: {} — {}.\nFollow-up task: {}.\nref: {key}",
                        content.subject,
                        draft.external_id.as_deref().unwrap_or("-"),
                        decision.mode.as_str(),
                        plan.action.as_str(),
                        plan.reason,
                        task.external_id,
                    ),
                    timestamp: now(),
                };
                let id = self.ports.crm.create_note(&note).await.map_err(&fail)?;
                let s = format!("created note {id}");
                Ok((id, s))
            })
            .await?;

        // 13. finalize
        self.renew_lease(wf, lease).await?;
        self.checkpointed(wf, StepName::Finalize, &done, |_| async {
            let step = StepName::Finalize;
            let (status, summary) = match decision.mode {
                SendMode::DraftOnly => (
                    WorkflowStatus::Completed,
                    "draft ready in the mailbox (draft-only)".to_owned(),
                ),
                SendMode::NeedsApproval => {
                    // An operator may have decided while the workflow ran.
                    let stored = store
                        .get_draft(draft.draft_id)
                        .await
                        .map_err(store_failure(Some(step)))?;
                    match stored.map(|d| d.status) {
                        Some(DraftStatus::PendingApproval) | None => (
                            WorkflowStatus::AwaitingApproval,
                            "draft awaits an operator's approval".to_owned(),
                        ),
                        Some(decided) => (
                            WorkflowStatus::Completed,
                            format!(
                                "the draft was {decided} by an operator while the workflow ran"
                            ),
                        ),
                    }
                }
                SendMode::AutoSend => {
                    let stored = store
                        .get_draft(draft.draft_id)
                        .await
                        .map_err(store_failure(Some(step)))?
                        .ok_or_else(|| permanent(step, "the workflow's draft is missing"))?;
                    match self
                        .send_draft(stored, &Approval::Automatic, "system")
                        .await
                    {
                        Ok(sent) => (
                            WorkflowStatus::Completed,
                            format!(
                                "sent automatically ({})",
                                sent.sent_message_id.unwrap_or_default()
                            ),
                        ),
                        Err(super::actions::SendFailure::Refused(r)) => (
                            WorkflowStatus::AwaitingApproval,
                            format!("auto-send refused ({r}); awaiting approval"),
                        ),
                        Err(super::actions::SendFailure::NotSendable(status)) => (
                            WorkflowStatus::Completed,
                            format!("not sent: an operator {status} the draft first"),
                        ),
                        Err(super::actions::SendFailure::Failed(f)) => {
                            return Err(f.with_step(step));
                        }
                    }
                }
            };
            let event = AuditEvent::new(
                Some(wf.id),
                "system",
                "workflow.finalized",
                serde_json::json!({"status": status.as_str(), "send_mode": decision.mode.as_str()}),
                now(),
            );
            store
                .record_audit(&event)
                .await
                .map_err(store_failure(Some(step)))?;
            Ok((status, summary))
        })
        .await
    }
}

impl StepFailure {
    pub(crate) fn with_step(mut self, step: StepName) -> Self {
        self.step = Some(step);
        self
    }
}
