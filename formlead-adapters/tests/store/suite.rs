//! The store contract, written once, run against every backend.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use formlead_adapters::sandbox::Fault;
use formlead_core::domain::{
    AuditEvent, CrmTask, DraftEmail, DraftId, DraftStatus, ErrorId, ErrorKind, FormSubmission,
    StepName, StepRecord, StepStatus, TaskId, TaskPriority, TaskType, WorkflowError, WorkflowId,
    WorkflowStatus,
};
use formlead_core::ports::{
    Accepted, FailedAt, StartAttempt, StepFailures, StoreError, StoreWrite, WorkflowFilter,
};

use crate::helpers::Subject;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

fn submission(id: &str, email: &str, at: DateTime<Utc>) -> FormSubmission {
    let body = format!(
        r#"{{"portalId": 62515, "formId": "f-1", "formSubmissionId": "{id}", "submittedAt": 1769162400000,
  "pageUrl": "https://example.com/contact?a=1",
  "fields": [{{"name": "email", "value": "{email}"}}, {{"name": "firstname", "value": "Zoë"}},
             {{"name": "message", "value": "We need 50% off_now \" quoted"}}]}}"#
    );
    FormSubmission::from_webhook_body(body.as_bytes(), at).unwrap()
}

async fn accept(s: &impl Subject, id: &str, email: &str) -> Accepted {
    s.accept_submission(&submission(id, email, t0()))
        .await
        .unwrap()
}

fn draft(workflow_id: WorkflowId, n: u32) -> DraftEmail {
    DraftEmail {
        id: DraftId::new(),
        workflow_id,
        to_email: "a@b.co".into(),
        to_name: Some("Zoë Ångström".into()),
        subject: format!("Subject {n}"),
        body_text: "text".into(),
        body_html: "<p>text</p>".into(),
        message_id: format!("<formlead-{workflow_id}-{n}@x.io>"),
        thread_id: Some("t-1".into()),
        in_reply_to: None,
        external_id: Some(format!("draft-{n}")),
        status: DraftStatus::PendingApproval,
        created_at: t0() + Span::seconds(i64::from(n)),
        updated_at: t0(),
        decided_by: None,
        decided_at: None,
        reject_reason: None,
        sent_message_id: None,
        sent_at: None,
    }
}

fn error(workflow_id: WorkflowId, attempt: u32, kind: ErrorKind) -> WorkflowError {
    WorkflowError {
        id: ErrorId::new(),
        workflow_id,
        attempt,
        step: Some(StepName::CreateCrmTask),
        kind,
        message: format!("boom {attempt}"),
        retry_at: Some(t0() + Span::minutes(1)),
        created_at: t0() + Span::seconds(i64::from(attempt)),
    }
}

pub async fn accept_round_trips_and_enqueues(s: &impl Subject) {
    let sub = submission("sub-1", "Prospect@Example.com", t0());
    let ids = s.accept_submission(&sub).await.unwrap();
    assert_eq!(ids.submission_id, sub.id);
    let stored = s.get_submission(sub.id).await.unwrap().unwrap();
    assert_eq!(stored, sub, "every field, the raw body verbatim");
    let wf = s.get_workflow(ids.workflow_id).await.unwrap().unwrap();
    assert_eq!(wf.status, WorkflowStatus::Triggered);
    assert_eq!(wf.prospect_email, "prospect@example.com");
    assert_eq!(wf.submission_id, sub.id);
    assert_eq!((wf.attempts, wf.created_at), (0, t0()));
    assert_eq!(s.find_submission("sub-1").await.unwrap(), Some(ids));
    assert_eq!(s.find_submission("nope").await.unwrap(), None);
    assert_eq!(
        s.jobs().await.unwrap(),
        1,
        "the job was enqueued with the workflow"
    );
}

/// A NUL pasted into a form field (PostgreSQL's text and JSONB cannot
/// hold one) does not keep the lead from being stored.
pub async fn a_nul_in_a_field_is_stored(s: &impl Subject) {
    let body = r#"{"formSubmissionId": "nul-1", "email": "nul@acme.example",
        "message": "hi\u0000there", "we\u0000ird": "x",
        "dup": {"\u0000": 1}, "dup": 2}"#;
    let sub = FormSubmission::from_webhook_body(body.as_bytes(), t0()).unwrap();
    let ids = s.accept_submission(&sub).await.unwrap();
    let stored = s.get_submission(ids.submission_id).await.unwrap().unwrap();
    assert_eq!(stored, sub);
    assert_eq!(stored.field("message"), Some("hi\u{FFFD}there"));
}

/// Every value the webhook parser lets through is one the database stores:
/// the largest of each kind is accepted and round-trips, and the next one
/// up is refused by the parser (a 400 naming the field, never a 500).
pub async fn the_largest_values_the_parser_allows_are_stored(s: &impl Subject) {
    let email = format!("{}@example.com", "a".repeat(254 - "@example.com".len()));
    let checkboxes: Vec<String> = (0..40)
        .map(|i| format!(r#"{{"name":"interests","value":"{i}{}"}}"#, "é".repeat(600)))
        .collect();
    let body = format!(
        r#"{{"formSubmissionId":"edge-1","portalId":9223372036854775807,"submittedAt":253402300799999,
            "fields":[{{"name":"email","value":"{email}"}},{{"name":"tiny","value":1e-16383}},
                      {{"name":"huge","value":1e308}},{}],
            "budget":-1.5e-16000}}"#,
        checkboxes.join(",")
    );
    let sub = FormSubmission::from_webhook_body(body.as_bytes(), t0()).unwrap();
    let ids = s.accept_submission(&sub).await.unwrap();
    let stored = s.get_submission(ids.submission_id).await.unwrap().unwrap();
    assert_eq!(stored, sub);
    assert_eq!(stored.email().len(), 254);

    for (bad, field) in [
        (format!(r#"{{"email":"a{email}"}}"#), "email"),
        (r#"{"email":"a@b.co","x":1e-16384}"#.to_owned(), "x"),
        (
            format!(r#"{{"email":"a@b.co","x":0.{}}}"#, "1".repeat(16_384)),
            "x",
        ),
        (
            r#"{"email":"a@b.co","submittedAt":253402300800000}"#.to_owned(),
            "submittedAt",
        ),
        (
            r#"{"email":"a@b.co","portalId":9223372036854775808}"#.to_owned(),
            "portalId",
        ),
    ] {
        let e = FormSubmission::from_webhook_body(bad.as_bytes(), t0()).unwrap_err();
        assert_eq!(e.field(), Some(field), "{bad}: {e}");
    }
}

pub async fn duplicates_are_detected(s: &impl Subject) {
    let first = accept(s, "dup", "a@b.co").await;
    let again = s
        .accept_submission(&submission("dup", "other@b.co", t0()))
        .await;
    match again {
        Err(StoreError::Duplicate { existing }) => assert_eq!(existing, first),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    let page = s.list_workflows(&WorkflowFilter::default()).await.unwrap();
    assert_eq!(page.total, 1, "no second workflow");
    assert_eq!(s.jobs().await.unwrap(), 1, "no second job");

    // The very same submission again (its id too), as a caller retrying
    // after a lost answer would send it.
    let same = submission("dup-same", "c@d.co", t0());
    let first = s.accept_submission(&same).await.unwrap();
    match s.accept_submission(&same).await {
        Err(StoreError::Duplicate { existing }) => assert_eq!(existing, first),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    let page = s.list_workflows(&WorkflowFilter::default()).await.unwrap();
    assert_eq!(page.total, 2, "one workflow for it");
    assert_eq!(s.jobs().await.unwrap(), 2, "one job for it");
}

/// A repeat submission of a prospect whose reply is open (not sent or
/// approved, within the merge window) is stored and linked to that
/// workflow, with a job for it; everything else starts a workflow.
pub async fn repeat_submissions_join_the_open_reply(s: &impl Subject) {
    let first = accept(s, "r-1", "ann@acme.example").await;
    assert!(!first.linked);
    let mut second = submission("r-2", "ann@acme.example", t0() + Span::seconds(20));
    second
        .fields
        .insert("message".into(), "And pricing for 40 seats?".into());
    let second = s.accept_submission(&second).await.unwrap();
    assert_eq!(
        (second.workflow_id, second.linked),
        (first.workflow_id, true)
    );
    let third = s
        .accept_submission(&submission(
            "r-3",
            "ann@acme.example",
            t0() + Span::seconds(40),
        ))
        .await
        .unwrap();
    assert_eq!(third.workflow_id, first.workflow_id);
    let other = accept(s, "r-4", "bob@acme.example").await;
    assert!(!other.linked);
    let page = s.list_workflows(&WorkflowFilter::default()).await.unwrap();
    assert_eq!(page.total, 2, "one workflow per prospect");
    assert_eq!(s.jobs().await.unwrap(), 4, "a job per submission");
    // A duplicate of a linked submission names the workflow it joined.
    match s
        .accept_submission(&submission("r-2", "ann@acme.example", t0()))
        .await
    {
        Err(StoreError::Duplicate { existing }) => assert_eq!(existing, second),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert_eq!(s.find_submission("r-3").await.unwrap(), Some(third));

    let links = s.linked_submissions(first.workflow_id).await.unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(links[0].submission.form_submission_id, "r-2");
    assert_eq!(
        links[0].submission.field("message"),
        Some("And pricing for 40 seats?")
    );
    assert_eq!(links[0].linked_at, t0() + Span::seconds(20));
    assert!(
        links
            .iter()
            .all(|l| l.applied_at.is_none() && l.note_id.is_none())
    );
    s.apply_link(second.submission_id, "note-7", t0() + Span::minutes(1))
        .await
        .unwrap();
    let links = s.linked_submissions(first.workflow_id).await.unwrap();
    assert_eq!(links[0].applied_at, Some(t0() + Span::minutes(1)));
    assert_eq!(links[0].note_id.as_deref(), Some("note-7"));

    // A link whose reply was decided first gets a workflow of its own.
    let own = s
        .unlink_submission(third.submission_id, t0() + Span::minutes(2))
        .await
        .unwrap();
    let wf = s.get_workflow(own).await.unwrap().unwrap();
    assert_eq!(
        (wf.submission_id, wf.status),
        (third.submission_id, WorkflowStatus::Triggered)
    );
    assert_eq!(
        s.linked_submissions(first.workflow_id).await.unwrap().len(),
        1
    );
    assert_eq!(s.jobs().await.unwrap(), 5);

    // A reply that is no longer open is not joined: a new workflow.
    let lease = Duration::from_secs(60);
    let StartAttempt::Started(_) = s
        .start_attempt(other.workflow_id, "w", t0(), lease)
        .await
        .unwrap()
    else {
        panic!("not started")
    };
    s.finish_workflow(other.workflow_id, "w", WorkflowStatus::Completed, t0())
        .await
        .unwrap();
    let again = accept(s, "r-5", "bob@acme.example").await;
    assert!(!again.linked);
    assert_ne!(again.workflow_id, other.workflow_id);
    // Nor is one older than the merge window (24 h by default).
    let late = s
        .accept_submission(&submission(
            "r-6",
            "ann@acme.example",
            t0() + Span::hours(25),
        ))
        .await
        .unwrap();
    assert!(!late.linked);
    // An address that is not valid never joins anything.
    let bad1 = accept(s, "r-7", "not-an-email").await;
    let bad2 = accept(s, "r-8", "not-an-email").await;
    assert!(!bad1.linked && !bad2.linked);
}

/// A submission without a `formSubmissionId` is found again by form,
/// email and time (as `reconcile` sees it in the forms API), also when it
/// joined an earlier reply.
pub async fn unidentified_submissions_are_found_by_form_email_and_time(s: &impl Subject) {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 9, 59, 0).unwrap();
    let body = |msg: &str| {
        json_body(
            &serde_json::json!({"formId": "f-1", "submittedAt": at.timestamp_millis(),
            "email": "nia@acme.example", "message": msg}),
        )
    };
    let first = s.accept_submission(&body("first")).await.unwrap();
    let again = s.accept_submission(&body("second")).await.unwrap();
    assert!(again.linked);
    let found = s
        .find_unidentified("f-1", "nia@acme.example", at)
        .await
        .unwrap();
    assert!(found == Some(first) || found == Some(again), "{found:?}");
    for (form, email, t) in [
        ("f-2", "nia@acme.example", at),
        ("f-1", "other@acme.example", at),
        ("f-1", "nia@acme.example", at + Span::seconds(1)),
    ] {
        assert_eq!(s.find_unidentified(form, email, t).await.unwrap(), None);
    }
    // A submission with its own id is never taken for one.
    let mut named = submission("named", "zed@acme.example", t0());
    named.submitted_at = Some(at);
    named.form_id = Some("f-1".into());
    s.accept_submission(&named).await.unwrap();
    assert_eq!(
        s.find_unidentified("f-1", "zed@acme.example", at)
            .await
            .unwrap(),
        None
    );
}

fn json_body(v: &serde_json::Value) -> FormSubmission {
    FormSubmission::from_webhook_body(v.to_string().as_bytes(), t0()).unwrap()
}

/// Drafts awaiting approval since before a time are found cold, oldest
/// first; marking one is once; drafts of workflows not awaiting an
/// operator never are.
pub async fn drafts_go_cold_once(s: &impl Subject) {
    let lease = Duration::from_secs(60);
    let mut ids = Vec::new();
    for (i, status) in [
        WorkflowStatus::AwaitingApproval,
        WorkflowStatus::AwaitingApproval,
        WorkflowStatus::Completed,
    ]
    .into_iter()
    .enumerate()
    {
        let a = accept(s, &format!("cold-{i}"), &format!("p{i}@acme.example")).await;
        let StartAttempt::Started(_) = s
            .start_attempt(a.workflow_id, "w", t0(), lease)
            .await
            .unwrap()
        else {
            panic!("not started")
        };
        let mut d = draft(a.workflow_id, i as u32);
        d.created_at = t0() + Span::minutes(i as i64);
        s.insert_draft(&d).await.unwrap();
        s.finish_workflow(a.workflow_id, "w", status, t0())
            .await
            .unwrap();
        ids.push(d.id);
    }
    let since = t0() + Span::minutes(5);
    let cold = s.cold_drafts(since, 10, true).await.unwrap();
    assert_eq!(
        cold.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![ids[0], ids[1]]
    );
    assert_eq!(
        s.cold_drafts(t0(), 10, true).await.unwrap().len(),
        0,
        "none older than t0"
    );
    assert_eq!(s.cold_drafts(since, 1, true).await.unwrap().len(), 1);
    assert!(s.mark_cold(ids[0], since).await.unwrap());
    assert!(!s.mark_cold(ids[0], since).await.unwrap(), "once");
    let unmarked = s.cold_drafts(since, 10, true).await.unwrap();
    assert_eq!(
        unmarked.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
    assert_eq!(s.cold_drafts(since, 10, false).await.unwrap().len(), 2);
}

/// A reply awaiting approval is leased for an update without leaving
/// `awaiting_approval`; its draft and task are revised in place.
pub async fn a_reply_is_leased_and_revised_in_place(s: &impl Subject) {
    let ids = accept(s, "rev", "ann@acme.example").await;
    let id = ids.workflow_id;
    let lease = Duration::from_secs(60);
    assert_eq!(
        s.lease_reply(id, "w1", t0(), lease).await.unwrap(),
        StartAttempt::NotRunnable(WorkflowStatus::Triggered)
    );
    let StartAttempt::Started(_) = s.start_attempt(id, "w1", t0(), lease).await.unwrap() else {
        panic!("not started")
    };
    let d = draft(id, 1);
    s.insert_draft(&d).await.unwrap();
    let task = CrmTask {
        id: TaskId::new(),
        workflow_id: id,
        contact_id: "c-1".into(),
        external_id: "t-1".into(),
        subject: "Follow up".into(),
        body: "old body".into(),
        due_at: t0(),
        priority: TaskPriority::High,
        task_type: TaskType::Email,
        owner_id: None,
        created_at: t0(),
    };
    s.insert_task(&task).await.unwrap();
    s.finish_workflow(id, "w1", WorkflowStatus::AwaitingApproval, t0())
        .await
        .unwrap();

    let StartAttempt::Started(w) = s.lease_reply(id, "w2", t0(), lease).await.unwrap() else {
        panic!("not leased")
    };
    assert_eq!(w.status, WorkflowStatus::AwaitingApproval);
    assert_eq!(
        s.lease_reply(id, "w3", t0() + Span::seconds(1), lease)
            .await
            .unwrap(),
        StartAttempt::Busy {
            until: t0() + Span::seconds(60)
        }
    );
    assert!(
        s.revise_draft(
            d.id,
            "New subject",
            "new text",
            "<p>new</p>",
            DraftStatus::PendingApproval,
            t0() + Span::seconds(2)
        )
        .await
        .unwrap()
    );
    s.revise_task(
        task.id,
        &formlead_core::ports::TaskUpdate {
            body: Some("new body".into()),
            priority: None,
        },
    )
    .await
    .unwrap();
    s.revise_task(
        task.id,
        &formlead_core::ports::TaskUpdate {
            body: None,
            priority: Some(TaskPriority::Low),
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        s.release_lease(id, "w3", t0()).await,
        Err(StoreError::LeaseLost(_))
    ));
    s.release_lease(id, "w2", t0() + Span::seconds(3))
        .await
        .unwrap();
    let w = s.get_workflow(id).await.unwrap().unwrap();
    assert_eq!(w.status, WorkflowStatus::AwaitingApproval);
    let stored = s.get_draft(d.id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.subject.as_str(),
            stored.body_text.as_str(),
            stored.body_html.as_str()
        ),
        ("New subject", "new text", "<p>new</p>")
    );
    assert_eq!(stored.updated_at, t0() + Span::seconds(2));
    let task_row = &s.tasks_for_workflow(id).await.unwrap()[0];
    assert_eq!(
        (task_row.body.as_str(), task_row.priority),
        ("new body", TaskPriority::Low)
    );

    // A decided draft is not revised.
    let mut approved = stored.clone();
    approved.status = DraftStatus::Approved;
    assert!(
        s.update_draft(&approved, DraftStatus::PendingApproval)
            .await
            .unwrap()
    );
    assert!(
        !s.revise_draft(d.id, "x", "y", "z", DraftStatus::PendingApproval, t0())
            .await
            .unwrap()
    );
    // An approved draft not sent yet is revised as approved.
    assert!(
        s.revise_draft(d.id, "x", "y", "z", DraftStatus::Approved, t0())
            .await
            .unwrap()
    );
}

/// Concurrent submissions of one prospect start exactly one reply; the
/// others join it.
pub async fn concurrent_repeat_submissions_start_one_reply(s: Arc<impl Subject + 'static>) {
    let mut handles = Vec::new();
    for i in 0..24 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.accept_submission(&submission(&format!("c-{i}"), "same@acme.example", t0()))
                .await
                .unwrap()
        }));
    }
    let mut accepted = Vec::new();
    for h in handles {
        accepted.push(h.await.unwrap());
    }
    let started: Vec<&Accepted> = accepted.iter().filter(|a| !a.linked).collect();
    assert_eq!(started.len(), 1, "one reply");
    assert!(
        accepted
            .iter()
            .all(|a| a.workflow_id == started[0].workflow_id)
    );
    assert_eq!(
        s.list_workflows(&WorkflowFilter::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.linked_submissions(started[0].workflow_id)
            .await
            .unwrap()
            .len(),
        23
    );
}

pub async fn concurrent_duplicates_make_one_workflow(s: Arc<impl Subject + 'static>) {
    let mut handles = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.accept_submission(&submission("race", "a@b.co", t0()))
                .await
        }));
    }
    let mut accepted = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(StoreError::Duplicate { .. }) => {}
            Err(e) if formlead_core::ports::Classify::is_transient(&e) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(accepted, 1);
    assert_eq!(
        s.list_workflows(&WorkflowFilter::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(s.jobs().await.unwrap(), 1);
}

pub async fn accept_is_atomic(s: &impl Subject) {
    s.faults()
        .inject("accept_submission:after_insert", Fault::Transient);
    let err = s
        .accept_submission(&submission("atomic", "a@b.co", t0()))
        .await
        .unwrap_err();
    assert!(formlead_core::ports::Classify::is_transient(&err));
    assert_eq!(
        s.find_submission("atomic").await.unwrap(),
        None,
        "the submission insert was rolled back"
    );
    assert_eq!(
        s.list_workflows(&WorkflowFilter::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(s.jobs().await.unwrap(), 0);
    // And it can be accepted once the fault is gone.
    accept(s, "atomic", "a@b.co").await;
    assert_eq!(s.jobs().await.unwrap(), 1);
}

pub async fn foreign_keys_are_enforced(s: &impl Subject) {
    let ghost = WorkflowId::new();
    assert!(
        s.insert_draft(&draft(ghost, 1)).await.is_err(),
        "draft for a missing workflow"
    );
    let step = StepRecord {
        workflow_id: ghost,
        step: StepName::WriteDraft,
        status: StepStatus::Running,
        attempt: 1,
        started_at: t0(),
        finished_at: None,
        summary: None,
        output: None,
        error: None,
    };
    assert!(
        s.save_step(&step).await.is_err(),
        "step for a missing workflow"
    );
    let task = CrmTask {
        id: TaskId::new(),
        workflow_id: ghost,
        contact_id: "c".into(),
        external_id: "t".into(),
        subject: "s".into(),
        body: "b".into(),
        due_at: t0(),
        priority: TaskPriority::High,
        task_type: TaskType::Email,
        owner_id: None,
        created_at: t0(),
    };
    assert!(
        s.insert_task(&task).await.is_err(),
        "task for a missing workflow"
    );
    let audit = AuditEvent::new(Some(ghost), "system", "x", serde_json::json!({}), t0());
    assert!(
        s.record_audit(&audit).await.is_err(),
        "audit for a missing workflow"
    );
    let free = AuditEvent::new(
        None,
        "system",
        "startup.send_mode",
        serde_json::json!({"mode": "draft_only"}),
        t0(),
    );
    s.record_audit(&free).await.unwrap();
}

pub async fn steps_checkpoint_and_upsert(s: &impl Subject) {
    let ids = accept(s, "steps", "a@b.co").await;
    let mut rec = StepRecord {
        workflow_id: ids.workflow_id,
        step: StepName::CreateMailDraft,
        status: StepStatus::Running,
        attempt: 1,
        started_at: t0(),
        finished_at: None,
        summary: None,
        output: None,
        error: None,
    };
    s.save_step(&rec).await.unwrap();
    let first = StepRecord {
        step: StepName::ValidateSubmission,
        ..rec.clone()
    };
    s.save_step(&first).await.unwrap();
    rec.status = StepStatus::Completed;
    rec.attempt = 2;
    rec.finished_at = Some(t0() + Span::milliseconds(1234));
    rec.summary = Some("created draft r-1 ✓".into());
    rec.output = Some(serde_json::json!({"draft_id": "x", "n": [1, 2], "ü": null}));
    s.save_step(&rec).await.unwrap();
    let steps = s.list_steps(ids.workflow_id).await.unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0], first, "in step order");
    assert_eq!(steps[1], rec, "the upsert replaced the running record");
    assert_eq!(steps[1].duration_ms(), Some(1234));

    // An enrichment step that failed and was skipped.
    let degraded = StepRecord {
        step: StepName::FindMeetingSlots,
        status: StepStatus::Degraded,
        summary: Some("degraded: continuing without this context".into()),
        error: Some("Google Calendar 404: Not Found".into()),
        output: Some(serde_json::json!([])),
        ..rec.clone()
    };
    s.save_step(&degraded).await.unwrap();
    let steps = s.list_steps(ids.workflow_id).await.unwrap();
    assert_eq!(
        steps.iter().find(|r| r.step == StepName::FindMeetingSlots),
        Some(&degraded)
    );
}

pub async fn drafts_round_trip_with_compare_and_set(s: &impl Subject) {
    let ids = accept(s, "drafts", "a@b.co").await;
    let d1 = draft(ids.workflow_id, 1);
    let d2 = draft(ids.workflow_id, 2);
    s.insert_draft(&d1).await.unwrap();
    s.insert_draft(&d2).await.unwrap();
    assert!(s.insert_draft(&d1).await.is_err(), "same id twice");
    assert_eq!(s.get_draft(d1.id).await.unwrap().unwrap(), d1);
    assert_eq!(
        s.drafts_for_workflow(ids.workflow_id).await.unwrap(),
        vec![d1.clone(), d2.clone()]
    );

    let mut approved = d1.clone();
    approved.status = DraftStatus::Approved;
    approved.decided_by = Some("operator:alice".into());
    approved.decided_at = Some(t0() + Span::minutes(5));
    assert!(
        s.update_draft(&approved, DraftStatus::PendingApproval)
            .await
            .unwrap()
    );
    assert!(
        !s.update_draft(&approved, DraftStatus::PendingApproval)
            .await
            .unwrap(),
        "status moved on"
    );
    assert_eq!(s.get_draft(d1.id).await.unwrap().unwrap(), approved);
    assert!(matches!(
        s.update_draft(&draft(ids.workflow_id, 9), DraftStatus::PendingApproval)
            .await,
        Err(StoreError::NotFound { .. })
    ));

    let pending = s
        .list_drafts(Some(DraftStatus::PendingApproval), 50, 0)
        .await
        .unwrap();
    assert_eq!((pending.total, pending.items.len()), (1, 1));
    assert_eq!(pending.items[0].id, d2.id);
    let all = s.list_drafts(None, 1, 1).await.unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(all.items[0].id, d1.id, "newest first, then paged");
}

pub async fn tasks_errors_and_audit_round_trip(s: &impl Subject) {
    let ids = accept(s, "misc", "a@b.co").await;
    let task = CrmTask {
        id: TaskId::new(),
        workflow_id: ids.workflow_id,
        contact_id: "c-1".into(),
        external_id: "t-1".into(),
        subject: "Follow up".into(),
        body: "ref: formlead:x:task".into(),
        due_at: t0() + Span::hours(24),
        priority: TaskPriority::High,
        task_type: TaskType::Email,
        owner_id: Some("o-1".into()),
        created_at: t0(),
    };
    s.insert_task(&task).await.unwrap();
    assert_eq!(
        s.tasks_for_workflow(ids.workflow_id).await.unwrap(),
        vec![task]
    );
    let event = AuditEvent::new(
        Some(ids.workflow_id),
        "operator:bob",
        "draft.approved",
        serde_json::json!({"k": [1, "two"]}),
        t0(),
    );
    s.record_audit(&event).await.unwrap();
    assert_eq!(
        s.audit_for_workflow(ids.workflow_id).await.unwrap(),
        vec![event]
    );
    s.ping().await.unwrap();
}

pub async fn leases_guard_workflows(s: &impl Subject) {
    let ids = accept(s, "lease", "a@b.co").await;
    let id = ids.workflow_id;
    let lease = Duration::from_secs(60);
    let StartAttempt::Started(w) = s.start_attempt(id, "w1", t0(), lease).await.unwrap() else {
        panic!("not started")
    };
    assert_eq!(
        (w.status, w.attempts, w.started_at),
        (WorkflowStatus::Processing, 1, Some(t0()))
    );
    assert_eq!(
        s.start_attempt(id, "w2", t0() + Span::seconds(10), lease)
            .await
            .unwrap(),
        StartAttempt::Busy {
            until: t0() + Span::seconds(60)
        }
    );
    assert!(matches!(
        s.renew_lease(id, "w2", t0()).await,
        Err(StoreError::LeaseLost(_))
    ));
    s.renew_lease(id, "w1", t0() + Span::seconds(120))
        .await
        .unwrap();
    assert!(matches!(
        s.finish_workflow(id, "w2", WorkflowStatus::Completed, t0())
            .await,
        Err(StoreError::LeaseLost(_))
    ));
    s.finish_workflow(
        id,
        "w1",
        WorkflowStatus::AwaitingApproval,
        t0() + Span::seconds(30),
    )
    .await
    .unwrap();
    let w = s.get_workflow(id).await.unwrap().unwrap();
    assert_eq!(
        (w.status, w.completed_at),
        (
            WorkflowStatus::AwaitingApproval,
            Some(t0() + Span::seconds(30))
        )
    );
    assert_eq!(
        s.start_attempt(id, "w1", t0(), lease).await.unwrap(),
        StartAttempt::NotRunnable(WorkflowStatus::AwaitingApproval)
    );
    assert!(
        s.transition_workflow(
            id,
            WorkflowStatus::AwaitingApproval,
            WorkflowStatus::Completed,
            t0()
        )
        .await
        .unwrap()
    );
    assert!(
        !s.transition_workflow(
            id,
            WorkflowStatus::AwaitingApproval,
            WorkflowStatus::Completed,
            t0()
        )
        .await
        .unwrap()
    );
    assert!(matches!(
        s.start_attempt(WorkflowId::new(), "w1", t0(), lease).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// `start_run` is `start_attempt` plus, where the store reads them with
/// the lease (PostgreSQL: one statement), exactly what `get_submission` and
/// `list_steps` return.
pub async fn a_run_starts_with_its_inputs(s: &impl Subject) {
    let ids = accept(s, "start-run", "a@b.co").await;
    let id = ids.workflow_id;
    let lease = Duration::from_secs(60);
    let step = |step, status, output| StepRecord {
        workflow_id: id,
        step,
        status,
        attempt: 1,
        started_at: t0() + Span::microseconds(1_234_567),
        finished_at: Some(t0() + Span::microseconds(2_345_678)),
        summary: Some("found 2 slots ✓ \"quoted\"".into()),
        output,
        error: None,
    };
    // Saved out of order; read back in step order.
    let later = step(
        StepName::FindMeetingSlots,
        StepStatus::Degraded,
        Some(serde_json::json!([{"start": "2026-11-26T10:00:00Z"}, null, "ü"])),
    );
    let first = step(StepName::ValidateSubmission, StepStatus::Completed, None);
    s.save_step(&later).await.unwrap();
    s.save_step(&first).await.unwrap();

    let StartAttempt::Started(start) = s.start_run(id, "w1", t0(), lease).await.unwrap() else {
        panic!("not started")
    };
    assert_eq!(
        (start.workflow.status, start.workflow.attempts),
        (WorkflowStatus::Processing, 1)
    );
    assert_eq!(start.inputs.is_some(), s.starts_with_inputs());
    if let Some(inputs) = start.inputs {
        assert_eq!(
            inputs.submission,
            s.get_submission(ids.submission_id).await.unwrap()
        );
        assert!(inputs.submission.is_some());
        assert_eq!(inputs.steps, vec![first, later]);
        assert_eq!(inputs.steps, s.list_steps(id).await.unwrap());
        assert!(!inputs.earlier_workflows, "the prospect's first workflow");
    }
    // The other outcomes are start_attempt's.
    assert_eq!(
        s.start_run(id, "w2", t0() + Span::seconds(1), lease)
            .await
            .unwrap(),
        StartAttempt::Busy {
            until: t0() + Span::seconds(60)
        }
    );
    s.finish_workflow(id, "w1", WorkflowStatus::Completed, t0())
        .await
        .unwrap();
    assert_eq!(
        s.start_run(id, "w1", t0(), lease).await.unwrap(),
        StartAttempt::NotRunnable(WorkflowStatus::Completed)
    );
    assert!(matches!(
        s.start_run(WorkflowId::new(), "w1", t0(), lease).await,
        Err(StoreError::NotFound { .. })
    ));

    // A new workflow has no checkpoints yet.
    let fresh = accept(s, "start-run-2", "c@d.co").await;
    let StartAttempt::Started(start) = s
        .start_run(fresh.workflow_id, "w1", t0(), lease)
        .await
        .unwrap()
    else {
        panic!("not started")
    };
    if let Some(inputs) = start.inputs {
        assert!(inputs.steps.is_empty());
        assert_eq!(
            inputs.submission.map(|s| s.form_submission_id),
            Some("start-run-2".to_owned())
        );
        assert!(!inputs.earlier_workflows);
    }
    // A returning prospect's run has history to read.
    let again = accept(s, "start-run-3", "a@b.co").await;
    let StartAttempt::Started(start) = s
        .start_run(again.workflow_id, "w1", t0(), lease)
        .await
        .unwrap()
    else {
        panic!("not started")
    };
    if let Some(inputs) = start.inputs {
        assert!(inputs.earlier_workflows);
    }
}

pub async fn retries_dead_letters_and_requeue(s: &impl Subject) {
    let ids = accept(s, "retry", "a@b.co").await;
    let id = ids.workflow_id;
    let lease = Duration::from_secs(60);
    let jobs_before = s.jobs().await.unwrap();
    s.start_attempt(id, "w1", t0(), lease).await.unwrap();
    let e1 = error(id, 1, ErrorKind::Transient);
    s.schedule_retry(id, "w1", &e1, t0() + Span::minutes(1))
        .await
        .unwrap();
    let w = s.get_workflow(id).await.unwrap().unwrap();
    assert_eq!(
        (w.status, w.next_retry_at),
        (WorkflowStatus::Retrying, Some(t0() + Span::minutes(1)))
    );
    assert_eq!(w.last_error.as_deref(), Some("boom 1"));
    assert_eq!(
        s.jobs().await.unwrap(),
        jobs_before + 1,
        "the retry job is in the queue"
    );
    assert!(matches!(
        s.schedule_retry(id, "w1", &error(id, 9, ErrorKind::Transient), t0())
            .await,
        Err(StoreError::LeaseLost(_))
    ));

    assert_eq!(
        s.start_attempt(id, "w1", t0() + Span::seconds(30), lease)
            .await
            .unwrap(),
        StartAttempt::NotDue {
            at: t0() + Span::minutes(1)
        },
        "the schedule in the database wins over an early job"
    );
    s.start_attempt(id, "w1", t0() + Span::minutes(1), lease)
        .await
        .unwrap();
    let e2 = WorkflowError {
        retry_at: None,
        ..error(id, 2, ErrorKind::Permanent)
    };

    s.fail_workflow(id, "w1", &e2).await.unwrap();
    let w = s.get_workflow(id).await.unwrap().unwrap();
    assert_eq!(
        (w.status, w.attempts, w.next_retry_at),
        (WorkflowStatus::Failed, 2, None)
    );
    assert_eq!(
        s.errors_for_workflow(id).await.unwrap(),
        vec![e1, e2],
        "an error row per attempt, the rejected one not kept"
    );
    // The dashboard's failures by step: e1 was retried, e2 ended the
    // workflow; `since` bounds them.
    let by_step = |since| async move { s.stats(since).await.unwrap().failures_by_step };
    assert_eq!(
        by_step(t0()).await,
        vec![StepFailures {
            step: Some(StepName::CreateCrmTask),
            retried: 1,
            dead_lettered: 1,
            last_at: t0() + Span::seconds(2),
        }]
    );
    assert_eq!(
        by_step(t0() + Span::seconds(2)).await,
        vec![StepFailures {
            step: Some(StepName::CreateCrmTask),
            retried: 0,
            dead_lettered: 1,
            last_at: t0() + Span::seconds(2),
        }]
    );
    assert!(by_step(t0() + Span::seconds(3)).await.is_empty());
    // And a row of them lists the workflows that failed there.
    let failed_at = |step, since, status, email: Option<&str>| WorkflowFilter {
        status,
        email: email.map(str::to_owned),
        failed_at: Some(FailedAt { step, since }),
        ..WorkflowFilter::default()
    };
    let list = |f: WorkflowFilter| async move {
        let page = s.list_workflows(&f).await.unwrap();
        (
            page.total,
            page.items.iter().map(|w| w.id).collect::<Vec<_>>(),
        )
    };
    let task = StepName::CreateCrmTask;
    assert_eq!(list(failed_at(task, t0(), None, None)).await, (1, vec![id]));
    assert_eq!(
        list(failed_at(
            task,
            t0(),
            Some(WorkflowStatus::Failed),
            Some("A@B")
        ))
        .await,
        (1, vec![id])
    );
    for other in [
        failed_at(StepName::UpsertContact, t0(), None, None),
        failed_at(task, t0() + Span::seconds(3), None, None),
        failed_at(task, t0(), Some(WorkflowStatus::Completed), None),
        failed_at(task, t0(), None, Some("nobody")),
    ] {
        assert_eq!(list(other.clone()).await, (0, vec![]), "{other:?}");
    }

    let now = t0() + Span::hours(1);
    let requeued = s
        .requeue_workflow(id, now, now + Span::seconds(3))
        .await
        .unwrap();
    assert_eq!(
        (requeued.status, requeued.attempts, requeued.next_retry_at),
        (WorkflowStatus::Retrying, 0, Some(now + Span::seconds(3))),
        "released later when many are retried together"
    );
    assert_eq!(s.jobs().await.unwrap(), jobs_before + 2);
    assert!(matches!(
        s.requeue_workflow(id, t0(), t0()).await,
        Err(StoreError::Conflict(
            formlead_core::ports::Conflict::NotRetryable { .. }
        ))
    ));
    assert!(matches!(
        s.requeue_workflow(WorkflowId::new(), t0(), t0()).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn orphans_are_recovered(s: &impl Subject) {
    let a = accept(s, "orphan-a", "a@b.co").await.workflow_id;
    let b = accept(s, "orphan-b", "b@b.co").await.workflow_id;
    s.start_attempt(a, "dead", t0(), Duration::from_secs(30))
        .await
        .unwrap();
    s.start_attempt(b, "alive", t0(), Duration::from_secs(300))
        .await
        .unwrap();
    let jobs = s.jobs().await.unwrap();
    assert!(
        s.recover_orphans(t0() + Span::seconds(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.recover_orphans(t0() + Span::seconds(31)).await.unwrap(),
        vec![a]
    );
    assert_eq!(
        s.get_workflow(a).await.unwrap().unwrap().status,
        WorkflowStatus::Retrying
    );
    assert_eq!(
        s.get_workflow(b).await.unwrap().unwrap().status,
        WorkflowStatus::Processing
    );
    assert_eq!(s.jobs().await.unwrap(), jobs + 1);
    let StartAttempt::Started(w) = s
        .start_attempt(a, "new", t0() + Span::seconds(32), Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(w.attempts, 2);
}

pub async fn lists_filter_and_page(s: &impl Subject) {
    for (i, email) in [
        "ann@acme.com",
        "bob@acme.com",
        "cy@other.org",
        "dee_x@acme.com",
        "e%f@acme.com",
    ]
    .iter()
    .enumerate()
    {
        let sub = submission(&format!("list-{i}"), email, t0() + Span::seconds(i as i64));
        s.accept_submission(&sub).await.unwrap();
    }
    let all = s.list_workflows(&WorkflowFilter::default()).await.unwrap();
    assert_eq!(all.total, 5);
    assert_eq!(all.items[0].prospect_email, "e%f@acme.com", "newest first");
    let acme = s
        .list_workflows(&WorkflowFilter {
            email: Some(" ACME.com ".into()),
            ..WorkflowFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(acme.total, 4);
    let pct = s
        .list_workflows(&WorkflowFilter {
            email: Some("%".into()),
            ..WorkflowFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(pct.total, 1, "% is literal");
    let us = s
        .list_workflows(&WorkflowFilter {
            email: Some("_x".into()),
            ..WorkflowFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(us.total, 1, "_ is literal");
    let page = s
        .list_workflows(&WorkflowFilter {
            limit: 2,
            offset: 2,
            ..WorkflowFilter::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (5, 2));
    assert_eq!(page.items[0].prospect_email, "cy@other.org");
    let none = s
        .list_workflows(&WorkflowFilter {
            status: Some(WorkflowStatus::Failed),
            ..WorkflowFilter::default()
        })
        .await
        .unwrap();
    assert_eq!((none.total, none.items.len()), (0, 0));
    let trig = s
        .list_workflows(&WorkflowFilter {
            status: Some(WorkflowStatus::Triggered),
            limit: 0,
            ..WorkflowFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (trig.total, trig.items.len()),
        (5, 1),
        "limit 0 is clamped to 1"
    );
}

pub async fn history_and_stats(s: &impl Subject) {
    let old = s
        .accept_submission(&submission("h-1", "ann@acme.com", t0()))
        .await
        .unwrap();
    let new = s
        .accept_submission(&submission("h-2", "ann@acme.com", t0() + Span::days(2)))
        .await
        .unwrap();
    s.accept_submission(&submission("h-3", "zed@acme.com", t0()))
        .await
        .unwrap();
    let mut d = draft(old.workflow_id, 1);
    d.created_at = t0() + Span::seconds(7);
    s.insert_draft(&d).await.unwrap();
    let h = s
        .prospect_history("ann@acme.com", new.workflow_id)
        .await
        .unwrap();
    assert_eq!(h.submissions.len(), 1);
    assert_eq!(h.submissions[0].workflow_id, old.workflow_id);
    assert_eq!(
        h.submissions[0].message.as_deref(),
        Some("We need 50% off_now \" quoted")
    );
    assert_eq!(h.drafts, vec![d]);
    assert!(h.tasks.is_empty());

    let stats = s.stats(t0() + Span::hours(1)).await.unwrap();
    assert_eq!(stats.created_since, 1);
    assert_eq!(stats.by_status, vec![(WorkflowStatus::Triggered, 3)]);
    assert_eq!(s.workflow_counts().await.unwrap(), stats.by_status);
    assert_eq!(stats.drafts_pending, 1);
    let stats = s.stats(t0()).await.unwrap();
    assert_eq!(stats.draft_latencies_ms, vec![7000]);

    // The chart's data: arrivals since a time, newest first, with the
    // draft's creation once drafted.
    let activity = s.activity(t0()).await.unwrap();
    assert_eq!(activity.len(), 3, "{activity:?}");
    assert_eq!(activity[0], (t0() + Span::days(2), None));
    assert!(activity.contains(&(t0(), Some(t0() + Span::seconds(7)))));
    assert_eq!(s.activity(t0() + Span::days(1)).await.unwrap().len(), 1);
}

/// Many concurrent accepts (committed together in batches): each answer is
/// right, duplicates inside a batch are recognised, and a failure inside a
/// batch fails that submission alone.
pub async fn concurrent_accepts_are_batched_correctly(s: Arc<impl Subject + 'static>) {
    // batch-5 fails wherever it lands: alone, or in a batch (which then
    // falls back to one-by-one commits, where it fails again).
    s.faults()
        .inject_n("accept_submission:item:batch-5", Fault::Permanent, 2);
    let mut handles = Vec::new();
    for i in 0..120 {
        let s = s.clone();
        // Every tenth is a duplicate of an earlier one.
        let id = if i % 10 == 9 {
            format!("batch-{}", i - 1)
        } else {
            format!("batch-{i}")
        };
        handles.push(tokio::spawn(async move {
            (
                id.clone(),
                s.accept_submission(&submission(&id, &format!("{id}@acme.example"), t0()))
                    .await,
            )
        }));
    }
    let (mut ok, mut dup, mut failed) = (Vec::new(), 0, 0);
    for h in handles {
        match h.await.unwrap() {
            (id, Ok(a)) => ok.push((id, a)),
            (_, Err(StoreError::Duplicate { .. })) => dup += 1,
            (_, Err(e)) => {
                assert!(!formlead_core::ports::Classify::is_transient(&e), "{e}");
                failed += 1;
            }
        }
    }
    assert_eq!(failed, 1, "exactly the injected failure");
    assert_eq!(ok.len() + dup + failed, 120);
    let distinct: std::collections::HashSet<&String> = ok.iter().map(|(id, _)| id).collect();
    assert_eq!(
        distinct.len(),
        ok.len(),
        "no formSubmissionId accepted twice"
    );
    assert_eq!(
        s.list_workflows(&WorkflowFilter::default())
            .await
            .unwrap()
            .total,
        ok.len() as u64
    );
    assert_eq!(
        s.jobs().await.unwrap(),
        ok.len() as u64,
        "one job per accepted submission"
    );
    for (id, a) in &ok {
        assert_eq!(s.find_submission(id).await.unwrap(), Some(*a), "{id}");
        assert_eq!(
            s.get_workflow(a.workflow_id)
                .await
                .unwrap()
                .unwrap()
                .submission_id,
            a.submission_id
        );
    }
}

/// Starts an accept of `id` that holds the writer (inside its transaction)
/// for 300 ms, so accepts and writes made meanwhile queue up behind it.
fn hold_the_writer(
    s: &Arc<impl Subject + 'static>,
    id: &str,
    email: &str,
) -> tokio::task::JoinHandle<Result<Accepted, StoreError>> {
    s.faults()
        .set_latency("accept_submission:after_insert", Duration::from_millis(300));
    let s = s.clone();
    let sub = submission(id, email, t0());
    tokio::spawn(async move { s.accept_submission(&sub).await })
}

/// A batch that fails because the database is unavailable (a transient
/// error) fails every submission in it at once, with that transient error
/// and nothing stored, instead of trying each again on its own (each
/// waiting out its own connection timeout while the webhooks queue up).
pub async fn an_unavailable_database_fails_the_batch_at_once(s: Arc<impl Subject + 'static>) {
    // The accepts below queue up behind it and are committed as one batch.
    let holder = hold_the_writer(&s, "down-0", "d@acme.example");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The batch fails transiently (as when the connection is lost).
    s.faults()
        .inject("accept_submission:item:down-3", Fault::Transient);
    let mut handles = Vec::new();
    for i in 1..=8 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.accept_submission(&submission(&format!("down-{i}"), "d@acme.example", t0()))
                .await
        }));
    }
    holder.await.unwrap().expect("the holding accept commits");
    for h in handles {
        let e = h.await.unwrap().expect_err("the whole batch fails");
        assert!(formlead_core::ports::Classify::is_transient(&e), "{e}");
    }
    assert_eq!(
        s.faults().calls("accept_submission:after_insert"),
        2,
        "one attempt for the holder, one for the batch: none one by one"
    );
    for i in 1..=8 {
        assert_eq!(s.find_submission(&format!("down-{i}")).await.unwrap(), None);
    }
    assert_eq!(s.jobs().await.unwrap(), 1, "only the holder's job");
    s.faults().clear();
}

/// Writes that pile up behind a busy writer are committed together on
/// SQLite (its write queue); each caller still gets its own outcome: a
/// failing statement fails alone and every other write is stored.
pub async fn queued_writes_fail_alone(s: Arc<impl Subject + 'static>) {
    let w = accept(&*s, "queued-1", "q@acme.example").await.workflow_id;
    let first = draft(w, 1);
    s.insert_draft(&first).await.unwrap();

    // The writes below queue up behind it.
    let holder = hold_the_writer(&s, "queued-2", "q@acme.example");
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut audits = Vec::new();
    for n in 0..30 {
        let s = s.clone();
        audits.push(tokio::spawn(async move {
            let e = AuditEvent::new(
                Some(w),
                "system",
                "queued",
                serde_json::json!({ "n": n }),
                t0(),
            );
            s.record_audit(&e).await
        }));
    }
    let again = {
        let s = s.clone();
        // The same draft id again: a primary-key violation.
        tokio::spawn(async move { s.insert_draft(&first).await })
    };
    for a in audits {
        a.await.unwrap().expect("every audit event is stored");
    }
    assert!(again.await.unwrap().is_err(), "the duplicate draft fails");
    s.faults().clear();
    holder.await.unwrap().expect("the holding accept commits");

    assert_eq!(s.audit_for_workflow(w).await.unwrap().len(), 30);
    assert_eq!(s.drafts_for_workflow(w).await.unwrap().len(), 1);
}

fn step(workflow_id: WorkflowId, step: StepName, status: StepStatus) -> StepRecord {
    StepRecord {
        workflow_id,
        step,
        status,
        attempt: 1,
        started_at: t0(),
        finished_at: (status != StepStatus::Running).then(|| t0() + Span::milliseconds(7)),
        summary: Some(format!("{step} {status} — ✓ \"quoted\"")),
        output: Some(serde_json::json!({"step": step.as_str(), "n": [1, null, "ü"]})),
        error: None,
    }
}

/// A run's records written as one unit: every kind lands as its own
/// method would write it, and a step written twice keeps its last record.
pub async fn units_write_every_kind(s: &impl Subject) {
    let w = accept(s, "unit", "u@acme.example").await.workflow_id;
    let d = draft(w, 1);
    let task = CrmTask {
        id: TaskId::new(),
        workflow_id: w,
        contact_id: "c-1".into(),
        external_id: "t-1".into(),
        subject: "Follow up".into(),
        body: "ref".into(),
        due_at: t0() + Span::hours(24),
        priority: TaskPriority::Medium,
        task_type: TaskType::Call,
        owner_id: None,
        created_at: t0(),
    };
    let event = AuditEvent::new(Some(w), "system", "unit", serde_json::json!({"k": 1}), t0());
    let failed = StepRecord {
        error: Some("Google Calendar 503".into()),
        ..step(w, StepName::FindMeetingSlots, StepStatus::Failed)
    };
    let degraded = step(w, StepName::FindMeetingSlots, StepStatus::Degraded);
    let done = step(w, StepName::ValidateSubmission, StepStatus::Completed);
    let marker = step(w, StepName::CreateMailDraft, StepStatus::Running);
    s.write_all(&[
        StoreWrite::Step(done.clone()),
        StoreWrite::Step(failed),
        StoreWrite::Step(degraded.clone()),
        StoreWrite::Audit(event.clone()),
        StoreWrite::Draft(d.clone()),
        StoreWrite::Task(task.clone()),
        StoreWrite::Step(marker.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(
        s.list_steps(w).await.unwrap(),
        vec![done, degraded, marker],
        "in step order, the last record of a step kept"
    );
    assert_eq!(s.drafts_for_workflow(w).await.unwrap(), vec![d]);
    assert_eq!(s.tasks_for_workflow(w).await.unwrap(), vec![task]);
    assert_eq!(s.audit_for_workflow(w).await.unwrap(), vec![event.clone()]);
    // Units with rows for some tables only (PostgreSQL writes each such
    // shape with a statement of its own), and none.
    let later = AuditEvent::new(Some(w), "system", "alone", serde_json::json!({}), t0());
    s.write_all(&[StoreWrite::Audit(later.clone())])
        .await
        .unwrap();
    let completed = step(w, StepName::CreateMailDraft, StepStatus::Completed);
    s.write_all(&[StoreWrite::Step(completed.clone())])
        .await
        .unwrap();
    assert_eq!(s.audit_for_workflow(w).await.unwrap(), vec![event, later]);
    assert_eq!(s.list_steps(w).await.unwrap().last(), Some(&completed));
    s.write_all(&[]).await.unwrap();
}

/// A unit is all or nothing: one that fails (a draft stored before) leaves
/// none of its records, while units queued beside it commit.
pub async fn a_failing_unit_leaves_nothing(s: Arc<impl Subject + 'static>) {
    let w = accept(&*s, "unit-fail", "u@acme.example").await.workflow_id;
    let first = draft(w, 1);
    s.insert_draft(&first).await.unwrap();

    let holder = hold_the_writer(&s, "unit-fail-2", "u@acme.example");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut neighbours = Vec::new();
    for n in 0..10 {
        let s = s.clone();
        neighbours.push(tokio::spawn(async move {
            let e = AuditEvent::new(
                Some(w),
                "system",
                "neighbour",
                serde_json::json!({"n": n}),
                t0(),
            );
            s.write_all(&[StoreWrite::Audit(e)]).await
        }));
    }
    let failing = {
        let s = s.clone();
        let unit = vec![
            StoreWrite::Audit(AuditEvent::new(
                Some(w),
                "system",
                "lost",
                serde_json::json!({}),
                t0(),
            )),
            StoreWrite::Draft(first.clone()),
            StoreWrite::Step(step(w, StepName::CreateMailDraft, StepStatus::Completed)),
        ];
        tokio::spawn(async move { s.write_all(&unit).await })
    };
    for n in neighbours {
        n.await.unwrap().expect("a neighbouring unit commits");
    }
    assert!(
        failing.await.unwrap().is_err(),
        "the duplicate draft fails its unit"
    );
    s.faults().clear();
    holder.await.unwrap().expect("the holding accept commits");

    let audit = s.audit_for_workflow(w).await.unwrap();
    assert_eq!(
        audit.len(),
        10,
        "the neighbours' events, not the failed unit's"
    );
    assert!(audit.iter().all(|e| e.action == "neighbour"));
    assert!(s.list_steps(w).await.unwrap().is_empty());
    assert_eq!(s.drafts_for_workflow(w).await.unwrap(), vec![first]);
}

/// The attempt's last write: the run's remaining records and the end of
/// the attempt, refused to another lease owner.
pub async fn an_attempt_ends_with_its_last_records(s: &impl Subject) {
    let w = accept(s, "finish", "f@acme.example").await.workflow_id;
    let lease = Duration::from_secs(60);
    assert!(matches!(
        s.start_attempt(w, "w1", t0(), lease).await.unwrap(),
        StartAttempt::Started(_)
    ));
    let last = step(w, StepName::Finalize, StepStatus::Completed);
    let event = AuditEvent::new(
        Some(w),
        "system",
        "workflow.finalized",
        serde_json::json!({}),
        t0(),
    );
    let writes = [
        StoreWrite::Step(last.clone()),
        StoreWrite::Audit(event.clone()),
    ];
    assert!(matches!(
        s.finish_attempt(&writes, w, "w2", WorkflowStatus::Completed, t0())
            .await,
        Err(StoreError::LeaseLost(_))
    ));
    // (PostgreSQL wrote none of them; other stores may have written them
    // first.) The owner's call, with records of its own:
    let event = AuditEvent::new(
        Some(w),
        "system",
        "workflow.finalized",
        serde_json::json!({"n": 2}),
        t0(),
    );
    let writes = [
        StoreWrite::Step(last.clone()),
        StoreWrite::Audit(event.clone()),
    ];
    let at = t0() + Span::seconds(5);
    s.finish_attempt(&writes, w, "w1", WorkflowStatus::AwaitingApproval, at)
        .await
        .unwrap();
    let wf = s.get_workflow(w).await.unwrap().unwrap();
    assert_eq!(
        (wf.status, wf.completed_at),
        (WorkflowStatus::AwaitingApproval, Some(at))
    );
    assert_eq!(s.list_steps(w).await.unwrap(), vec![last]);
    assert!(s.audit_for_workflow(w).await.unwrap().contains(&event));
    // Nothing left to write: the end alone.
    let w2 = accept(s, "finish-2", "g@acme.example").await.workflow_id;
    s.start_attempt(w2, "w1", t0(), lease).await.unwrap();
    s.finish_attempt(&[], w2, "w1", WorkflowStatus::Completed, at)
        .await
        .unwrap();
    assert_eq!(
        s.get_workflow(w2).await.unwrap().unwrap().status,
        WorkflowStatus::Completed
    );
}
