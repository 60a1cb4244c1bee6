//! The engine on a SQL store: checkpoints survive and a failed run resumes
//! without repeating side effects.

use std::sync::Arc;

use formlead_adapters::memory::RecordingQueue;
use formlead_adapters::sandbox::{Fault, SandboxCalendar, SandboxCrm, SandboxMail, StaticAssets};
use formlead_adapters::testing::{ManualClock, TestKit, default_now};
use formlead_core::agents::TemplateWriter;
use formlead_core::domain::{StepName, StepStatus, WorkflowStatus};
use formlead_core::orchestrator::{Engine, EngineConfig, Ports, ProcessOutcome};
use formlead_core::policy::GatedPolicy;
use formlead_core::ports::WorkflowJob;

use crate::helpers::Subject;

/// An engine on `store` with sandbox vendors.
struct Rig {
    engine: Engine,
    clock: Arc<ManualClock>,
    crm: Arc<SandboxCrm>,
    mail: Arc<SandboxMail>,
}

fn rig(store: Arc<impl Subject + 'static>, worker_id: String) -> Rig {
    let clock = Arc::new(ManualClock::new(default_now()));
    let policy = Arc::new(GatedPolicy::default());
    let crm = Arc::new(SandboxCrm::new());
    let mail = Arc::new(SandboxMail::new(policy.clone()));
    let engine = Engine::new(
        Ports {
            store,
            queue: Arc::new(RecordingQueue::new(clock.clone())),
            crm: crm.clone(),
            mail: mail.clone(),
            calendar: Arc::new(SandboxCalendar::new()),
            assets: Arc::new(StaticAssets::sample()),
            policy,
            writer: Arc::new(TemplateWriter::default()),
            clock: clock.clone(),
        },
        EngineConfig {
            worker_id,
            ..EngineConfig::default()
        },
    );
    Rig {
        engine,
        clock,
        crm,
        mail,
    }
}

async fn accept(store: &impl Subject, id: &str, email: &str) -> WorkflowJob {
    let body = TestKit::body(id, email, "Ann", "Acme", "Demo please");
    let sub =
        formlead_core::domain::FormSubmission::from_webhook_body(body.as_bytes(), default_now())
            .unwrap();
    let ids = store.accept_submission(&sub).await.unwrap();
    WorkflowJob {
        workflow_id: ids.workflow_id,
    }
}

async fn resumes_after_a_failure_at_every_step(store: Arc<impl Subject + 'static>) {
    for (i, step) in StepName::ALL.iter().enumerate() {
        let Rig {
            engine,
            clock,
            crm,
            mail,
        } = rig(store.clone(), format!("w-{i}"));
        let job = accept(
            &*store,
            &format!("resume-{i}"),
            &format!("lead{i}@acme.example"),
        )
        .await;
        let ids = job;
        store
            .faults()
            .inject(&format!("save_step:{step}:completed"), Fault::Transient);
        let first = engine.process(job).await.unwrap();
        assert!(
            matches!(first, ProcessOutcome::RetryScheduled { .. }),
            "{step}: {first:?}"
        );
        clock.advance(chrono::Duration::minutes(2));
        assert_eq!(
            engine.process(job).await.unwrap(),
            ProcessOutcome::Finished(WorkflowStatus::Completed),
            "{step}"
        );
        assert_eq!(mail.drafts().len(), 1, "{step}");
        assert_eq!(crm.tasks().len(), 1, "{step}");
        assert_eq!(crm.notes().len(), 1, "{step}");
        assert_eq!(
            store
                .drafts_for_workflow(ids.workflow_id)
                .await
                .unwrap()
                .len(),
            1
        );
        let steps = store.list_steps(ids.workflow_id).await.unwrap();
        assert_eq!(steps.len(), 13);
        assert!(
            steps.iter().all(|s| s.status == StepStatus::Completed),
            "{step}"
        );
        assert_eq!(
            store
                .errors_for_workflow(ids.workflow_id)
                .await
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_engine_resumes_after_a_failure_at_every_step() {
    let f = crate::helpers::sqlite().await;
    resumes_after_a_failure_at_every_step(f.store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_engine_resumes_after_a_failure_at_every_step() {
    let Some(store) = crate::helpers::postgres().await else {
        return;
    };
    resumes_after_a_failure_at_every_step(store).await;
}

/// A new prospect's history is not read (the start said there is none);
/// a returning prospect's is.
async fn a_returning_prospect_is_recalled(store: Arc<impl Subject + 'static>) {
    let Rig { engine, .. } = rig(store.clone(), "w-history".into());
    let recall = |job: WorkflowJob| {
        let store = store.clone();
        async move {
            store
                .list_steps(job.workflow_id)
                .await
                .unwrap()
                .into_iter()
                .find(|s| s.step == StepName::RecallHistory)
                .and_then(|s| s.summary)
                .unwrap_or_default()
        }
    };
    let first = accept(&*store, "history-1", "back@acme.example").await;
    let other = accept(&*store, "history-2", "other@acme.example").await;
    for job in [first, other] {
        engine.process(job).await.unwrap();
        assert_eq!(recall(job).await, "first contact");
    }
    // The first reply was sent: a new submission starts a reply of its own.
    let mut sent = store.drafts_for_workflow(first.workflow_id).await.unwrap()[0].clone();
    sent.status = formlead_core::domain::DraftStatus::Sent;
    assert!(
        store
            .update_draft(&sent, formlead_core::domain::DraftStatus::PendingApproval)
            .await
            .unwrap()
    );
    let again = accept(&*store, "history-3", "back@acme.example").await;
    engine.process(again).await.unwrap();
    let summary = recall(again).await;
    assert!(
        summary.contains("1 earlier submission") && summary.contains("1 earlier draft(s)"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_returning_prospect_is_recalled() {
    let f = crate::helpers::sqlite().await;
    a_returning_prospect_is_recalled(f.store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_returning_prospect_is_recalled() {
    let Some(store) = crate::helpers::postgres().await else {
        return;
    };
    a_returning_prospect_is_recalled(store).await;
}

/// Three submissions from one prospect within a minute: one draft that
/// answers all three asks (rewritten in place in the mailbox), one task,
/// three notes. The first is drafted before the others arrive; the other
/// two join its reply.
async fn three_asks_make_one_reply(store: Arc<impl Subject + 'static>) {
    let Rig {
        engine,
        clock,
        crm,
        mail,
    } = rig(store.clone(), "w-three".into());
    let asks = [
        "We need a demo of the onboarding automation.",
        "Do you integrate with Salesforce and HubSpot?",
        "What would pricing look like for 40 seats?",
    ];
    let mut jobs = Vec::new();
    for (i, ask) in asks.iter().enumerate() {
        let body = TestKit::body(
            &format!("three-{i}"),
            "carol@acme.example",
            "Carol",
            "Acme",
            ask,
        );
        let sub = formlead_core::domain::FormSubmission::from_webhook_body(
            body.as_bytes(),
            formlead_core::ports::Clock::now(&*clock),
        )
        .unwrap();
        let a = store.accept_submission(&sub).await.unwrap();
        assert_eq!(a.linked, i > 0, "{ask}");
        jobs.push(WorkflowJob {
            workflow_id: a.workflow_id,
        });
        if i == 0 {
            assert_eq!(
                engine.process(jobs[0]).await.unwrap(),
                ProcessOutcome::Finished(WorkflowStatus::Completed)
            );
        }
        clock.advance(chrono::Duration::seconds(20));
    }
    let id = jobs[0].workflow_id;
    assert!(jobs.iter().all(|j| j.workflow_id == id));
    assert_eq!(
        engine.process(jobs[1]).await.unwrap(),
        ProcessOutcome::Amended { linked: 2 }
    );
    assert_eq!(
        engine.process(jobs[2]).await.unwrap(),
        ProcessOutcome::Skipped(WorkflowStatus::Completed),
        "nothing left to fold in"
    );

    let drafts = mail.drafts();
    assert_eq!(drafts.len(), 1, "one draft");
    let text = &drafts[0].1.body_text;
    for topic in [
        "demo of the onboarding automation",
        "Salesforce and HubSpot",
        "40 seats",
    ] {
        assert!(text.contains(topic), "{topic} not answered in:\n{text}");
    }
    let stored = store.drafts_for_workflow(id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        &stored[0].body_text, text,
        "the stored draft is the mailbox's"
    );
    assert_eq!(crm.tasks().len(), 1, "one task");
    assert!(crm.tasks()[0].1.body.contains("Salesforce"));
    assert_eq!(
        store.tasks_for_workflow(id).await.unwrap()[0].body,
        crm.tasks()[0].1.body
    );
    assert_eq!(crm.notes().len(), 3, "a note per submission");
    let links = store.linked_submissions(id).await.unwrap();
    assert!(
        links
            .iter()
            .all(|l| l.applied_at.is_some() && l.note_id.is_some())
    );
    let audit = store.audit_for_workflow(id).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "draft.updated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_three_asks_make_one_reply() {
    let f = crate::helpers::sqlite().await;
    three_asks_make_one_reply(f.store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_three_asks_make_one_reply() {
    let Some(store) = crate::helpers::postgres().await else {
        return;
    };
    three_asks_make_one_reply(store).await;
}
