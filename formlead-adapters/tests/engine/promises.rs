//! A draft promises only what happens: support follows up only when the
//! request was handed to support (a task assigned to the support owner).

use formlead_adapters::testing::TestKit;
use formlead_core::domain::TaskPriority;
use formlead_core::orchestrator::{Engine, EngineConfig};

async fn support_request(support_owner_id: Option<&str>) -> (TestKit, String) {
    let kit = TestKit::new();
    let engine = Engine::new(
        kit.ports(),
        EngineConfig {
            worker_id: "test-worker".into(),
            support_owner_id: support_owner_id.map(str::to_owned),
            ..EngineConfig::default()
        },
    );
    let body = TestKit::body(
        "support-1",
        "ann@initech.example",
        "Ann",
        "Initech",
        "Our login is broken since this morning, we get an error on every page.",
    );
    kit.submit(&engine, &body).await.unwrap();
    kit.run_due(&engine).await.unwrap();
    let drafts = kit.mail.drafts();
    assert_eq!(drafts.len(), 1);
    let text = drafts[0].1.body_text.clone();
    (kit, text)
}

#[tokio::test]
async fn support_is_promised_only_with_a_hand_off() {
    let (kit, text) = support_request(Some("support-queue-77")).await;
    assert!(
        text.contains("our support team") && text.contains("will be in touch"),
        "{text}"
    );
    let tasks = kit.crm.tasks();
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0].1;
    assert_eq!(task.owner_id.as_deref(), Some("support-queue-77"));
    assert!(
        task.subject.starts_with("Support request from"),
        "{}",
        task.subject
    );
    assert_eq!(task.priority, TaskPriority::High);
    assert!(task.body.contains("Handed to support"), "{}", task.body);

    let (kit, text) = support_request(None).await;
    assert!(
        !text.contains("support team") && !text.contains("in touch"),
        "{text}"
    );
    let task = &kit.crm.tasks()[0].1;
    assert_ne!(task.owner_id.as_deref(), Some("support-queue-77"));
    assert!(
        task.subject.starts_with("Follow up with"),
        "{}",
        task.subject
    );
    assert!(!task.body.contains("Handed to support"));
}
