//! Orchestrator behaviour on the in-memory adapters (and one mockall test).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Duration as Span;

use formlead_adapters::testing::Fault;
use formlead_adapters::testing::TestKit;

use crate::send_mode;
use formlead_core::domain::{DraftStatus, ErrorKind, StepName, StepStatus, WorkflowStatus};
use formlead_core::orchestrator::*;
use formlead_core::policy::Allowlist;
use formlead_core::ports::{
    Classify, Clock, FailedAt, MailThread, Queue, Store, WorkflowFilter, WorkflowJob,
};

/// Exactly one draft, task and note exist, in the vendors and in the store.
async fn assert_exactly_one_of_each(kit: &TestKit, wf: formlead_core::domain::WorkflowId) {
    assert_eq!(kit.mail.drafts().len(), 1, "mail drafts");
    assert_eq!(kit.crm.tasks().len(), 1, "CRM tasks");
    assert_eq!(kit.crm.notes().len(), 1, "CRM notes");
    assert_eq!(
        kit.store.drafts_for_workflow(wf).await.unwrap().len(),
        1,
        "stored drafts"
    );
    assert_eq!(
        kit.store.tasks_for_workflow(wf).await.unwrap().len(),
        1,
        "stored tasks"
    );
}

/// The delay the engine schedules after failed attempt `attempt` of
/// workflow `id` (the back-off plus that workflow's jitter).
fn retry_delay(
    id: formlead_core::domain::WorkflowId,
    attempt: u32,
    retry_after: Option<Duration>,
) -> Span {
    let d = RetryPolicy::default().delay_after(attempt, retry_after, id.0.as_u64_pair().1);
    Span::from_std(d).unwrap()
}

async fn assert_all_steps_completed(kit: &TestKit, wf: formlead_core::domain::WorkflowId) {
    let steps = kit.store.list_steps(wf).await.unwrap();
    assert_eq!(steps.len(), 13);
    for (record, expected) in steps.iter().zip(StepName::ALL) {
        assert_eq!(record.step, *expected);
        assert_eq!(record.status, StepStatus::Completed, "{}", record.step);
        assert!(record.summary.is_some() && record.finished_at.is_some());
    }
}

#[tokio::test]
async fn happy_path_makes_one_draft_one_task_one_note() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    let outcomes = kit.run_due(&engine).await.unwrap();
    assert_eq!(
        outcomes,
        vec![ProcessOutcome::Finished(WorkflowStatus::Completed)]
    );

    assert_exactly_one_of_each(&kit, ids.workflow_id).await;
    assert_all_steps_completed(&kit, ids.workflow_id).await;
    let wf = kit
        .store
        .get_workflow(ids.workflow_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(wf.status, WorkflowStatus::Completed);
    assert_eq!(wf.attempts, 1);
    assert!(wf.completed_at.is_some());

    let draft = &kit
        .store
        .drafts_for_workflow(ids.workflow_id)
        .await
        .unwrap()[0];
    assert_eq!(draft.status, DraftStatus::PendingApproval);
    assert_eq!(draft.to_email, "john.doe@acme.example");
    assert_eq!(
        draft.message_id,
        format!("<formlead-{}@formlead.local>", ids.workflow_id)
    );
    assert!(draft.body_text.starts_with("Hi John,"));
    assert!(kit.mail.sent().is_empty(), "draft-only never sends");

    let audit = kit.store.audit_for_workflow(ids.workflow_id).await.unwrap();
    let decision = audit
        .iter()
        .find(|e| e.action == "send_policy.decision")
        .expect("decision audited");
    assert_eq!(decision.detail["mode"], "draft_only");
    assert!(audit.iter().any(|e| e.action == "workflow.finalized"));
}

/// The checkpoint write after step k fails (the step's work is done but not
/// recorded): the retry must resume and never repeat a side effect. A
/// completed step is recorded with the run's next durable write (the next
/// side effect's intent, or the end of the run), so that is where it fails.
#[tokio::test]
async fn failure_after_each_step_resumes_without_duplicates() {
    for &step in StepName::ALL {
        let kit = TestKit::new();
        let engine = kit.engine();
        kit.store
            .faults()
            .inject(&format!("save_step:{step}:completed"), Fault::Transient);
        let ids = kit.submit_lead(&engine, "f-1").await.unwrap();

        let first = kit.run_due(&engine).await.unwrap();
        assert!(
            matches!(
                first[..],
                [ProcessOutcome::RetryScheduled { attempt: 1, .. }]
            ),
            "{step}: {first:?}"
        );
        let wf = kit
            .store
            .get_workflow(ids.workflow_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(wf.status, WorkflowStatus::Retrying, "{step}");
        let at = wf.next_retry_at.unwrap();
        assert!(
            at >= kit.clock.now() + Span::seconds(60) && at <= kit.clock.now() + Span::seconds(72),
            "{step}: the minute's back-off plus at most 20 % jitter"
        );

        kit.clock.advance(Span::seconds(73));
        let second = kit.run_due(&engine).await.unwrap();
        assert_eq!(
            second,
            vec![ProcessOutcome::Finished(WorkflowStatus::Completed)],
            "{step}"
        );
        assert_exactly_one_of_each(&kit, ids.workflow_id).await;
        assert_all_steps_completed(&kit, ids.workflow_id).await;
        let errors = kit
            .store
            .errors_for_workflow(ids.workflow_id)
            .await
            .unwrap();
        assert_eq!(errors.len(), 1, "{step}");
        // The steps that store their intent before their side effect (the
        // contact is found or made by email, and a draft-only finalize
        // reaches nothing outside).
        let intents = [
            StepName::CreateMailDraft,
            StepName::CreateCrmTask,
            StepName::LogCrmNote,
        ];
        let written_at = intents
            .into_iter()
            .find(|s| s.number() > step.number())
            .unwrap_or(StepName::Finalize);
        assert_eq!(errors[0].step, Some(written_at), "{step}");
        assert_eq!(errors[0].kind, ErrorKind::Transient);
    }
}

/// A crash after the read-only steps, before the first side effect's intent
/// is stored: their records were never written, so the retry reads again
/// (threads, calendar) and repeats no side effect.
#[tokio::test]
async fn a_crash_after_the_read_steps_redoes_the_reads_and_no_side_effect() {
    let kit = TestKit::new();
    let engine = kit.engine();
    kit.store.faults().inject(
        &format!("save_step:{}:running", StepName::CreateMailDraft),
        Fault::Transient,
    );
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    let first = kit.run_due(&engine).await.unwrap();
    assert!(
        matches!(
            first[..],
            [ProcessOutcome::RetryScheduled { attempt: 1, .. }]
        ),
        "{first:?}"
    );
    // Nothing was stored: the records of steps 1-9 went with the failed
    // write (the contact, found or made by email, needs no intent record).
    let stored: Vec<(StepName, StepStatus)> = kit
        .store
        .list_steps(ids.workflow_id)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.step, r.status))
        .collect();
    assert_eq!(stored, vec![]);
    assert_eq!(kit.mail.faults().calls("threads_with"), 1);
    assert!(
        kit.mail.drafts().is_empty(),
        "no side effect of step 10 yet"
    );

    kit.clock.advance(Span::minutes(2));
    assert_eq!(
        kit.run_due(&engine).await.unwrap(),
        vec![ProcessOutcome::Finished(WorkflowStatus::Completed)]
    );
    assert_eq!(
        kit.mail.faults().calls("threads_with"),
        2,
        "threads read again"
    );
    assert_eq!(
        kit.calendar.faults().calls("busy"),
        2,
        "calendar read again"
    );
    assert_eq!(
        kit.crm.faults().calls("create_contact"),
        1,
        "contact made once, found again by the retry"
    );
    assert_eq!(kit.crm.faults().calls("find_contact"), 2);
    assert_exactly_one_of_each(&kit, ids.workflow_id).await;
    assert_all_steps_completed(&kit, ids.workflow_id).await;
}

/// The vendor did the work but the response was lost: the retry looks the
/// side effect up instead of repeating it.
#[tokio::test]
async fn lost_vendor_responses_do_not_duplicate_side_effects() {
    for (faults, op) in [
        ("crm", "create_contact"),
        ("mail", "create_draft"),
        ("crm", "create_task"),
        ("crm", "create_note"),
    ] {
        let kit = TestKit::new();
        let engine = kit.engine();
        match faults {
            "crm" => kit.crm.faults().inject(op, Fault::AfterEffect),
            _ => kit.mail.faults().inject(op, Fault::AfterEffect),
        }
        let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
        let first = kit.run_due(&engine).await.unwrap();
        assert!(
            matches!(first[..], [ProcessOutcome::RetryScheduled { .. }]),
            "{op}: {first:?}"
        );
        kit.clock.advance(Span::minutes(2));
        assert_eq!(
            kit.run_due(&engine).await.unwrap(),
            vec![ProcessOutcome::Finished(WorkflowStatus::Completed)],
            "{op}"
        );
        assert_exactly_one_of_each(&kit, ids.workflow_id).await;
        assert_eq!(kit.crm.contacts().len(), 1, "{op}");
    }
}

#[tokio::test]
async fn a_failure_in_each_vendor_call_is_retried_to_completion() {
    // (Steps 3-6 only add context: their failures degrade, see
    // `tests_degraded`.)
    for (port, op) in [
        ("crm", "find_contact"),
        ("mail", "create_draft"),
        ("crm", "create_task"),
        ("crm", "create_note"),
    ] {
        let kit = TestKit::new();
        let engine = kit.engine();
        let faults = match port {
            "crm" => kit.crm.faults(),
            "mail" => kit.mail.faults(),
            "assets" => kit.assets.faults(),
            _ => kit.calendar.faults(),
        };
        faults.inject(op, Fault::TransientAfter(Duration::from_secs(300)));
        let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
        let first = kit.run_due(&engine).await.unwrap();
        // The vendor's retry-after (300 s) beats the 60 s backoff.
        let delay = retry_delay(ids.workflow_id, 1, Some(Duration::from_secs(300)));
        assert!(delay >= Span::seconds(300), "{op}");
        match &first[..] {
            [ProcessOutcome::RetryScheduled { at, .. }] => {
                assert_eq!(*at, kit.clock.now() + delay, "{op}")
            }
            other => panic!("{op}: {other:?}"),
        }
        kit.clock.advance(delay - Span::seconds(1));
        assert!(
            kit.run_due(&engine).await.unwrap().is_empty(),
            "{op}: not before the retry time"
        );
        kit.clock.advance(Span::seconds(1));
        assert_eq!(
            kit.run_due(&engine).await.unwrap(),
            vec![ProcessOutcome::Finished(WorkflowStatus::Completed)],
            "{op}"
        );
        assert_exactly_one_of_each(&kit, ids.workflow_id).await;
    }
}

#[tokio::test]
async fn resumed_runs_skip_completed_steps() {
    let kit = TestKit::new();
    let engine = kit.engine();
    kit.crm.faults().inject("create_task", Fault::Transient);
    kit.submit_lead(&engine, "f-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    kit.clock.advance(Span::minutes(5));
    kit.run_due(&engine).await.unwrap();
    assert_eq!(kit.crm.faults().calls("find_contact"), 1);
    assert_eq!(kit.mail.faults().calls("threads_with"), 1);
    assert_eq!(kit.mail.faults().calls("create_draft"), 1);
    assert_eq!(kit.crm.faults().calls("create_task"), 2);
    assert_eq!(
        kit.crm.faults().calls("find_task"),
        1,
        "a retried side effect is looked up first"
    );
}

#[tokio::test]
async fn permanent_errors_dead_letter_with_the_error_stored() {
    let kit = TestKit::new();
    let engine = kit.engine();
    kit.crm.faults().inject("create_task", Fault::Permanent);
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    let out = kit.run_due(&engine).await.unwrap();
    assert!(
        matches!(&out[..], [ProcessOutcome::DeadLettered { attempt: 1, error }] if error.contains("injected permanent fault")),
        "{out:?}"
    );
    let wf = kit
        .store
        .get_workflow(ids.workflow_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(wf.status, WorkflowStatus::Failed);
    assert!(wf.last_error.unwrap().contains("create_task"));
    let errors = kit
        .store
        .errors_for_workflow(ids.workflow_id)
        .await
        .unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind, ErrorKind::Permanent);
    assert_eq!(errors[0].step, Some(StepName::CreateCrmTask));
    assert!(
        kit.queue.pending().is_empty(),
        "no retry for a permanent error"
    );
}

#[tokio::test]
async fn an_invalid_email_fails_step_one_permanently() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let body = TestKit::body("f-bad", "not-an-email", "X", "Y", "hi");
    let AcceptOutcome::Accepted(ids) = kit.submit(&engine, &body).await.unwrap() else {
        panic!()
    };
    let out = kit.run_due(&engine).await.unwrap();
    assert!(
        matches!(&out[..], [ProcessOutcome::DeadLettered { .. }]),
        "{out:?}"
    );
    let errors = kit
        .store
        .errors_for_workflow(ids.workflow_id)
        .await
        .unwrap();
    assert_eq!(errors[0].step, Some(StepName::ValidateSubmission));
    assert!(
        errors[0].message.contains("invalid email"),
        "{}",
        errors[0].message
    );
    assert!(kit.crm.contacts().is_empty());
    // The store counts it under step 1 and lists it there (what the
    // dashboard's failures by step show and link to).
    let since = kit.clock.now() - Span::hours(1);
    let stats = kit.store.stats(since).await.unwrap();
    assert_eq!(
        (
            stats.failures_by_step[0].step,
            stats.failures_by_step[0].dead_lettered
        ),
        (Some(StepName::ValidateSubmission), 1)
    );
    let at = |step| WorkflowFilter {
        failed_at: Some(FailedAt { step, since }),
        ..WorkflowFilter::default()
    };
    let page = kit
        .store
        .list_workflows(&at(StepName::ValidateSubmission))
        .await
        .unwrap();
    assert_eq!(page.items[0].id, ids.workflow_id);
    let none = kit
        .store
        .list_workflows(&at(StepName::WriteDraft))
        .await
        .unwrap();
    assert_eq!(none.total, 0);
}

#[tokio::test]
async fn transient_failures_exhaust_retries_then_dead_letter() {
    let kit = TestKit::new();
    let engine = kit.engine();
    kit.crm
        .faults()
        .inject_n("create_task", Fault::Transient, 3);
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    let mut outcomes = kit.run_due(&engine).await.unwrap();
    kit.clock.advance(retry_delay(ids.workflow_id, 1, None));
    outcomes.extend(kit.run_due(&engine).await.unwrap());
    let second = retry_delay(ids.workflow_id, 2, None);
    assert!(second >= Span::seconds(120), "second retry waits 2 × base");
    kit.clock.advance(second - Span::seconds(1));
    assert!(kit.run_due(&engine).await.unwrap().is_empty());
    kit.clock.advance(Span::seconds(1));
    outcomes.extend(kit.run_due(&engine).await.unwrap());
    assert!(
        matches!(
            outcomes[..],
            [
                ProcessOutcome::RetryScheduled { attempt: 1, .. },
                ProcessOutcome::RetryScheduled { attempt: 2, .. },
                ProcessOutcome::DeadLettered { attempt: 3, .. },
            ]
        ),
        "{outcomes:?}"
    );
    let errors = kit
        .store
        .errors_for_workflow(ids.workflow_id)
        .await
        .unwrap();
    assert_eq!(
        errors.iter().map(|e| e.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(errors[2].message.contains("retries exhausted"));
    assert_eq!(
        kit.store
            .get_workflow(ids.workflow_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        WorkflowStatus::Failed
    );

    // An operator retry resumes it to completion with a fresh budget.
    let wf = engine
        .retry_workflow(ids.workflow_id, "alice")
        .await
        .unwrap();
    assert_eq!(wf.status, WorkflowStatus::Retrying);
    assert_eq!(
        kit.run_due(&engine).await.unwrap(),
        vec![ProcessOutcome::Finished(WorkflowStatus::Completed)]
    );
    assert_exactly_one_of_each(&kit, ids.workflow_id).await;
    let audit = kit.store.audit_for_workflow(ids.workflow_id).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "workflow.retried" && e.actor == "operator:alice")
    );
    assert!(
        matches!(
            engine.retry_workflow(ids.workflow_id, "alice").await,
            Err(ActionError::Conflict(
                formlead_core::ports::Conflict::NotRetryable {
                    status: WorkflowStatus::Completed,
                    ..
                }
            ))
        ),
        "only failed workflows"
    );
}

#[tokio::test]
async fn retry_failed_requeues_every_failed_workflow_once() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let mut failed = Vec::new();
    for n in 0..3 {
        let body = TestKit::body(&format!("f-bad-{n}"), "not-an-email", "X", "Y", "hi");
        let AcceptOutcome::Accepted(ids) = kit.submit(&engine, &body).await.unwrap() else {
            panic!()
        };
        failed.push(ids.workflow_id);
    }
    let good = kit.submit_lead(&engine, "f-good").await.unwrap();
    kit.run_due(&engine).await.unwrap();

    assert_eq!(engine.retry_failed("alice").await.unwrap(), 3);
    // Released gradually, not in one instant: 20 ms apart.
    let mut due: Vec<_> = Vec::new();
    for id in &failed {
        let wf = kit.store.get_workflow(*id).await.unwrap().unwrap();
        due.push(wf.next_retry_at.unwrap());
    }
    due.sort();
    assert_eq!(due[0], kit.clock.now());
    assert_eq!(due[2] - due[0], Span::milliseconds(40));
    assert_eq!(
        kit.queue.take_due().len(),
        1,
        "one due now, the others shortly"
    );
    kit.clock.advance(Span::milliseconds(40));
    assert_eq!(kit.queue.take_due().len(), 2);
    for id in &failed {
        kit.queue
            .enqueue(WorkflowJob { workflow_id: *id }, Duration::ZERO)
            .await
            .unwrap();
        let wf = kit.store.get_workflow(*id).await.unwrap().unwrap();
        assert_eq!(wf.status, WorkflowStatus::Retrying);
        let audit = kit.store.audit_for_workflow(*id).await.unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|e| e.action == "workflow.retried" && e.actor == "operator:alice")
                .count(),
            1
        );
    }
    let done = kit
        .store
        .get_workflow(good.workflow_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, WorkflowStatus::Completed, "left alone");
    assert_eq!(
        engine.retry_failed("alice").await.unwrap(),
        0,
        "nothing failed any more"
    );

    // They fail again (the email is still invalid) and can be retried again.
    kit.run_due(&engine).await.unwrap();
    assert_eq!(engine.retry_failed("bob").await.unwrap(), 3);
}

#[tokio::test]
async fn read_steps_run_concurrently() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let delay = Duration::from_millis(100);
    kit.mail.faults().set_latency("threads_with", delay);
    kit.crm.faults().set_latency("recent_notes", delay);
    kit.assets.faults().set_latency("search", delay);
    kit.calendar.faults().set_latency("busy", delay);
    kit.submit_lead(&engine, "f-1").await.unwrap();
    let started = Instant::now();
    kit.run_due(&engine).await.unwrap();
    let elapsed = started.elapsed();
    // Sequential would be ≥ 400 ms; concurrent is ~100 ms plus overhead.
    assert!(elapsed >= delay, "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(300),
        "steps 3–6 did not overlap: {elapsed:?}"
    );
}

#[tokio::test]
async fn replies_in_the_chosen_thread() {
    let kit = TestKit::new();
    let engine = kit.engine();
    kit.mail.seed_thread(
        "john.doe@acme.example",
        MailThread {
            thread_id: "thread-7".into(),
            subject: "Demo follow-up".into(),
            last_message_id: Some("<orig@acme.example>".into()),
            last_message_at: kit.clock.now() - Span::days(3),
            message_count: 2,
            snippet: "…".into(),
            last_from_prospect: true,
        },
    );
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let (_, mail) = &kit.mail.drafts()[0];
    assert_eq!(mail.subject, "Re: Demo follow-up");
    let reply = mail.reply_to.as_ref().unwrap();
    assert_eq!(
        (reply.thread_id.as_str(), reply.message_id.as_str()),
        ("thread-7", "<orig@acme.example>")
    );
    let draft = &kit
        .store
        .drafts_for_workflow(ids.workflow_id)
        .await
        .unwrap()[0];
    assert_eq!(draft.thread_id.as_deref(), Some("thread-7"));
    assert_eq!(draft.in_reply_to.as_deref(), Some("<orig@acme.example>"));
}

#[tokio::test]
async fn auto_send_sends_exactly_once() {
    let kit = TestKit::with_policy(send_mode(true));
    let engine = kit.engine();
    kit.store
        .faults()
        .inject("save_step:finalize:completed", Fault::Transient);
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    kit.clock.advance(Span::minutes(2));
    assert_eq!(
        kit.run_due(&engine).await.unwrap(),
        vec![ProcessOutcome::Finished(WorkflowStatus::Completed)]
    );
    assert_eq!(
        kit.mail.sent().len(),
        1,
        "the re-run finalize did not send again"
    );
    let draft = &kit
        .store
        .drafts_for_workflow(ids.workflow_id)
        .await
        .unwrap()[0];
    assert_eq!(draft.status, DraftStatus::Sent);
    assert_eq!(draft.decided_by.as_deref(), Some("system"));
}

#[tokio::test]
async fn a_failed_send_keeps_the_mail_error_and_approving_again_sends() {
    let kit = TestKit::with_policy(send_mode(false));
    let engine = kit.engine();
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let draft_id = kit
        .store
        .drafts_for_workflow(ids.workflow_id)
        .await
        .unwrap()[0]
        .id;
    kit.mail.faults().inject("send_draft", Fault::Transient);
    let failed = engine.approve_draft(draft_id, "alice").await;
    let Err(ActionError::SendFailed(SendError::Mail(e))) = &failed else {
        panic!("expected the mail error, got {failed:?}");
    };
    assert!(e.is_transient(), "{e}");
    let cause = std::error::Error::source(failed.as_ref().unwrap_err())
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        cause.contains("injected transient fault in send_draft"),
        "{cause}"
    );
    assert!(kit.mail.sent().is_empty());
    let sent = engine.approve_draft(draft_id, "alice").await.unwrap();
    assert_eq!(sent.status, DraftStatus::Sent);
    assert_eq!(kit.mail.sent().len(), 1);
}

#[tokio::test]
async fn approval_flow_in_send_mode() {
    let kit = TestKit::with_policy(send_mode(false));
    let engine = kit.engine();
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    assert_eq!(
        kit.run_due(&engine).await.unwrap(),
        vec![ProcessOutcome::Finished(WorkflowStatus::AwaitingApproval)]
    );
    assert!(kit.mail.sent().is_empty());
    let draft_id = kit
        .store
        .drafts_for_workflow(ids.workflow_id)
        .await
        .unwrap()[0]
        .id;

    let sent = engine.approve_draft(draft_id, "alice").await.unwrap();
    assert_eq!(sent.status, DraftStatus::Sent);
    assert_eq!(sent.decided_by.as_deref(), Some("operator:alice"));
    let again = engine.approve_draft(draft_id, "bob").await.unwrap();
    assert_eq!(again.status, DraftStatus::Sent);
    assert_eq!(kit.mail.sent().len(), 1, "approve twice sends once");
    assert!(matches!(
        engine.reject_draft(draft_id, "bob", "no").await,
        Err(ActionError::Conflict(
            formlead_core::ports::Conflict::AlreadyDecided {
                status: DraftStatus::Sent,
                ..
            }
        ))
    ));
    assert_eq!(
        kit.store
            .get_workflow(ids.workflow_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        WorkflowStatus::Completed
    );
    let audit = kit.store.audit_for_workflow(ids.workflow_id).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "draft.approved" && e.actor == "operator:alice")
    );
    assert!(audit.iter().any(|e| e.action == "draft.sent"));
}

#[tokio::test]
async fn approval_flow_in_draft_only_mode_and_rejection() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let a = kit.submit_lead(&engine, "f-1").await.unwrap();
    let body = TestKit::body("f-2", "ann@initech.example", "Ann", "Initech", "Pricing?");
    let AcceptOutcome::Accepted(b) = kit.submit(&engine, &body).await.unwrap() else {
        panic!()
    };
    kit.run_due(&engine).await.unwrap();
    let draft_a = kit.store.drafts_for_workflow(a.workflow_id).await.unwrap()[0].id;
    let draft_b = kit.store.drafts_for_workflow(b.workflow_id).await.unwrap()[0].id;

    let approved = engine.approve_draft(draft_a, "alice").await.unwrap();
    assert_eq!(
        approved.status,
        DraftStatus::Approved,
        "draft-only: approved, not sent"
    );
    assert_eq!(
        engine.approve_draft(draft_a, "alice").await.unwrap().status,
        DraftStatus::Approved
    );
    assert!(kit.mail.sent().is_empty());

    let rejected = engine
        .reject_draft(draft_b, "bob", "  wrong\0tone  ")
        .await
        .unwrap();
    assert_eq!(rejected.status, DraftStatus::Rejected);
    assert_eq!(
        rejected.reject_reason.as_deref(),
        Some("wrong\u{FFFD}tone"),
        "trimmed, and a NUL replaced (PostgreSQL cannot store one)"
    );
    assert_eq!(
        engine
            .reject_draft(draft_b, "bob", "x")
            .await
            .unwrap()
            .status,
        DraftStatus::Rejected,
        "idempotent"
    );
    assert!(
        matches!(
            engine.approve_draft(draft_b, "alice").await,
            Err(ActionError::Conflict(
                formlead_core::ports::Conflict::DraftRejected(id)
            )) if id == draft_b
        ),
        "approve after reject"
    );
    assert!(matches!(
        engine
            .approve_draft(formlead_core::domain::DraftId::new(), "alice")
            .await,
        Err(ActionError::NotFound { .. })
    ));
}

/// A policy whose step-9 answer can be made wrong ("send"), while the final
/// check before a send stays the real gates'.
struct WrongDecide {
    gates: Arc<formlead_core::policy::GatedPolicy>,
    lie: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl formlead_core::ports::FlagPolicy for WrongDecide {
    async fn decide(
        &self,
        recipient: &formlead_core::domain::EmailAddress,
    ) -> formlead_core::ports::SendDecision {
        if self.lie.load(std::sync::atomic::Ordering::SeqCst) {
            return formlead_core::ports::SendDecision {
                mode: formlead_core::ports::SendMode::NeedsApproval,
                reason: "wrong on purpose".into(),
            };
        }
        self.gates.decide(recipient).await
    }

    async fn authorize_send(
        &self,
        recipient: &formlead_core::domain::EmailAddress,
        approval: &formlead_core::ports::Approval,
    ) -> Result<(), formlead_core::ports::SendRefusal> {
        self.gates.authorize_send(recipient, approval).await
    }

    fn describe(&self) -> serde_json::Value {
        self.gates.describe()
    }
}

#[tokio::test]
async fn sends_outside_the_allowlist_are_refused_and_audited() {
    let mut config = send_mode(false);
    config.allowlist = Allowlist::parse("someone@else.example").unwrap();
    let kit = TestKit::with_policy(config);
    let policy = Arc::new(WrongDecide {
        gates: kit.policy.clone(),
        lie: false.into(),
    });
    let mut ports = kit.ports();
    ports.policy = policy.clone();
    let engine = Engine::new(
        ports,
        EngineConfig {
            worker_id: "test-worker".into(),
            ..EngineConfig::default()
        },
    );
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    // Not allowlisted: step 9 decides draft-only, so the workflow completes.
    assert_eq!(
        kit.run_due(&engine).await.unwrap(),
        vec![ProcessOutcome::Finished(WorkflowStatus::Completed)]
    );
    let draft = kit
        .store
        .drafts_for_workflow(ids.workflow_id)
        .await
        .unwrap()[0]
        .clone();
    // Even if the step-9 answer were wrong, the send itself is refused by
    // the final policy check, and the mail adapter is never asked.
    policy.lie.store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = engine.approve_draft(draft.id, "eve").await;
    assert!(
        matches!(refused, Err(ActionError::Refused(ref r)) if r.reason.contains("not in SEND_EMAIL_ALLOWLIST")),
        "{refused:?}"
    );
    assert!(kit.mail.sent().is_empty());
    let audit = kit.store.audit_for_workflow(ids.workflow_id).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "send.refused" && e.actor == "operator:eve")
    );
}

#[tokio::test]
async fn duplicates_never_create_a_second_workflow() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let first = kit.submit_lead(&engine, "same").await.unwrap();
    let body = TestKit::body("same", "other@x.example", "Other", "X", "hi");
    assert_eq!(
        kit.submit(&engine, &body).await.unwrap(),
        AcceptOutcome::Duplicate(first)
    );
    assert_eq!(kit.store.submission_count(), 1);
    assert_eq!(kit.queue.pending().len(), 1);
}

#[tokio::test]
async fn a_held_lease_makes_other_workers_wait_and_orphans_are_recovered() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    let job = WorkflowJob {
        workflow_id: ids.workflow_id,
    };
    let _ = kit.queue.take_due();
    // Another worker took it and died (never renews, never finishes).
    let now = kit.clock.now();
    kit.store
        .start_attempt(
            ids.workflow_id,
            "dead-worker",
            now,
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    let out = engine.process(job).await.unwrap();
    assert_eq!(
        out,
        ProcessOutcome::Busy {
            until: now + Span::seconds(300)
        }
    );
    assert_eq!(
        kit.queue.pending().len(),
        1,
        "re-queued for when the lease ends"
    );

    assert!(
        engine.recover_orphans().await.unwrap().is_empty(),
        "lease still valid"
    );
    kit.clock.advance(Span::seconds(301));
    assert_eq!(
        engine.recover_orphans().await.unwrap(),
        vec![ids.workflow_id]
    );
    let outcomes = kit.run_due(&engine).await.unwrap();
    assert!(
        outcomes.contains(&ProcessOutcome::Finished(WorkflowStatus::Completed)),
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ProcessOutcome::Finished(_) | ProcessOutcome::Skipped(_)))
    );
    assert_exactly_one_of_each(&kit, ids.workflow_id).await;
    let wf = kit
        .store
        .get_workflow(ids.workflow_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(wf.attempts, 2);
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_stops_without_touching_the_workflow() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    let job = kit.queue.take_due()[0];
    // Steps 3–6 take a while; meanwhile the lease expires and a second
    // worker takes the workflow over.
    kit.mail
        .faults()
        .set_latency("threads_with", Duration::from_millis(200));
    let slow = tokio::spawn({
        let engine = engine.clone();
        async move { engine.process(job).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    kit.clock.advance(Span::seconds(301));
    let stolen = kit
        .store
        .start_attempt(
            ids.workflow_id,
            "worker-2",
            kit.clock.now(),
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    assert!(matches!(
        stolen,
        formlead_core::ports::StartAttempt::Started(_)
    ));
    assert_eq!(slow.await.unwrap().unwrap(), ProcessOutcome::LeaseLost);
    let wf = kit
        .store
        .get_workflow(ids.workflow_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(wf.status, WorkflowStatus::Processing, "left to worker-2");
    assert!(
        kit.store
            .errors_for_workflow(ids.workflow_id)
            .await
            .unwrap()
            .is_empty(),
        "no error recorded"
    );
    assert!(
        kit.mail.drafts().is_empty(),
        "the slow worker created nothing after losing the lease"
    );
}

#[tokio::test]
async fn store_outages_while_renewing_are_transient() {
    let kit = TestKit::new();
    // A zero-length lease is renewed before every step.
    let engine = Engine::new(
        kit.ports(),
        EngineConfig {
            lease: Duration::ZERO,
            worker_id: "w".into(),
            ..EngineConfig::default()
        },
    );
    kit.submit_lead(&engine, "f-1").await.unwrap();
    kit.store.faults().inject("renew_lease", Fault::Transient);
    let out = kit.run_due(&engine).await.unwrap();
    assert!(
        matches!(out[..], [ProcessOutcome::RetryScheduled { .. }]),
        "{out:?}"
    );
}

#[tokio::test]
async fn an_early_job_waits_for_the_scheduled_retry() {
    let kit = TestKit::new();
    let engine = kit.engine();
    kit.crm.faults().inject("create_task", Fault::Transient);
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let _ = kit.queue.take_due();
    let early = engine
        .process(WorkflowJob {
            workflow_id: ids.workflow_id,
        })
        .await
        .unwrap();
    let delay = retry_delay(ids.workflow_id, 1, None);
    assert_eq!(
        early,
        ProcessOutcome::NotDue {
            at: kit.clock.now() + delay
        }
    );
    assert_eq!(kit.crm.faults().calls("create_task"), 1, "nothing ran");
    kit.clock.advance(delay);
    let outcomes = kit.run_due(&engine).await.unwrap();
    assert!(
        outcomes.contains(&ProcessOutcome::Finished(WorkflowStatus::Completed)),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn jobs_for_finished_or_missing_workflows_are_skipped() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let job = WorkflowJob {
        workflow_id: ids.workflow_id,
    };
    assert_eq!(
        engine.process(job).await.unwrap(),
        ProcessOutcome::Skipped(WorkflowStatus::Completed)
    );
    let ghost = WorkflowJob {
        workflow_id: formlead_core::domain::WorkflowId::new(),
    };
    assert_eq!(
        engine.process(ghost).await.unwrap(),
        ProcessOutcome::Missing
    );
}

#[tokio::test]
async fn workflow_detail_has_everything() {
    let kit = TestKit::new();
    let engine = kit.engine();
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let d = engine
        .workflow_detail(ids.workflow_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.steps.len(), 13);
    assert_eq!(d.drafts.len(), 1);
    assert_eq!(d.tasks.len(), 1);
    assert_eq!(d.submission.unwrap().form_submission_id, "f-1");
    assert!(!d.audit.is_empty());
    assert!(
        engine
            .workflow_detail(formlead_core::domain::WorkflowId::new())
            .await
            .unwrap()
            .is_none()
    );
}

/// The same engine over mockall mocks: a CRM that has no contact gets one
/// created; a writer that fails permanently dead-letters the workflow.
#[tokio::test]
async fn works_with_mockall_mocks() {
    use formlead_adapters::testing::MockDraftWriter;
    use formlead_core::ports::{Contact, CrmError, MockCrmPort};

    let kit = TestKit::new();
    let mut crm = MockCrmPort::new();
    crm.expect_find_contact().times(1).returning(|_| Ok(None));
    crm.expect_create_contact().times(1).returning(|p| {
        Ok(Contact {
            id: "c-42".into(),
            email: p.email.to_string(),
            owner_id: Some("owner-1".into()),
            created: false,
        })
    });
    crm.expect_recent_notes().returning(|_, _| Ok(vec![]));
    crm.expect_create_task().never();
    let mut writer = MockDraftWriter::new();
    writer.expect_write().times(1).returning(|_| {
        Err(formlead_core::ports::WriterError::permanent(
            "model refused",
        ))
    });
    let mut ports = kit.ports();
    ports.crm = Arc::new(crm);
    ports.writer = Arc::new(writer);
    let engine = Engine::new(
        ports,
        EngineConfig {
            worker_id: "w".into(),
            ..EngineConfig::default()
        },
    );
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    let out = kit.run_due(&engine).await.unwrap();
    assert!(
        matches!(&out[..], [ProcessOutcome::DeadLettered { error, .. }] if error.contains("model refused")),
        "{out:?}"
    );
    let steps = kit.store.list_steps(ids.workflow_id).await.unwrap();
    let contact: Contact = serde_json::from_value(steps[1].output.clone().unwrap()).unwrap();
    assert_eq!(contact.id, "c-42");
    let _ = CrmError::transient("unused");
}

/// Counts the drafts the engine reports as created, with their speed to lead.
#[derive(Default)]
struct DraftsSeen(std::sync::Mutex<Vec<Duration>>);

impl EngineObserver for DraftsSeen {
    fn draft_created(&self, _workflow: formlead_core::domain::WorkflowId, since: Duration) {
        self.0.lock().unwrap().push(since);
    }
}

/// Speed to lead is reported once per draft, from the submission's arrival:
/// not again when a retry finds the draft an earlier attempt made.
#[tokio::test]
async fn a_draft_is_reported_once_with_its_time_since_the_submission() {
    let kit = TestKit::new();
    let seen = Arc::new(DraftsSeen::default());
    let engine = kit.engine().with_observer(seen.clone());
    // The draft is made, then the write that records it fails.
    kit.store.faults().inject(
        &format!("save_step:{}:running", StepName::CreateCrmTask),
        Fault::Transient,
    );
    let ids = kit.submit_lead(&engine, "f-1").await.unwrap();
    kit.clock.advance(Span::seconds(3));
    kit.run_due(&engine).await.unwrap();
    kit.clock.advance(Span::minutes(2));
    assert_eq!(
        kit.run_due(&engine).await.unwrap(),
        vec![ProcessOutcome::Finished(WorkflowStatus::Completed)]
    );
    assert_exactly_one_of_each(&kit, ids.workflow_id).await;
    assert_eq!(*seen.0.lock().unwrap(), vec![Duration::from_secs(3)]);
}
