//! Database failures on SQLite: a full disk is a transient error, and intake
//! and the workers come back by themselves once the database works again
//! (no restart of the process).

use std::time::Duration;

use formlead_adapters::testing::TestKit;
use formlead_core::domain::{FormSubmission, WorkflowStatus};
use formlead_core::ports::{Classify, Store, StoreError};

use crate::harness::{Db, fast_engine_config, fast_worker_config, sandbox_calendar};

fn submission(key: &str) -> FormSubmission {
    let body = TestKit::body(
        key,
        &format!("{key}@acme.example"),
        "Ann",
        "Acme",
        "A demo please",
    );
    FormSubmission::from_webhook_body(body.as_bytes(), chrono::Utc::now()).unwrap()
}

async fn sql(db: &Db, statement: &str) {
    let Db::Sqlite(store) = db else {
        unreachable!()
    };
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(store.writer())
        .await
        .unwrap();
}

/// A trigger that makes `event` fail with `RAISE(<raise>, …)` while the
/// `failing` table holds `switch`.
async fn fail_while(db: &Db, switch: &str, event: &str, raise: &str) {
    sql(
        db,
        &format!(
            "CREATE TRIGGER fail_{switch} BEFORE {event} \
             WHEN EXISTS (SELECT 1 FROM failing WHERE what = '{switch}') \
             BEGIN SELECT RAISE({raise}, 'simulated: database or disk is full'); END"
        ),
    )
    .await;
}

/// "database or disk is full" (reproduced with `max_page_count` on the
/// single writer connection) is worth retrying, and accepts work again once
/// there is room.
pub async fn sqlite_full_disk_is_transient() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&crate::harness::sqlite_url(dir.path())).await;
    let Db::Sqlite(store) = &db else {
        unreachable!()
    };
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(store.writer())
        .await
        .unwrap();
    sql(&db, &format!("PRAGMA max_page_count = {pages}")).await;
    let mut refused = None;
    for i in 0..2_000 {
        if let Err(e) = store
            .accept_submission(&submission(&format!("full-{i}")))
            .await
        {
            refused = Some(e);
            break;
        }
    }
    let e: StoreError = refused.expect("a capped database fills up");
    assert!(e.is_transient(), "a full disk is worth retrying: {e}");
    assert!(e.to_string().contains("full"), "{e}");
    sql(&db, "PRAGMA max_page_count = 1073741823").await;
    store
        .accept_submission(&submission("room-again"))
        .await
        .expect("accepts once there is room");
}

/// Two failures that a full disk causes, made deterministic with triggers:
/// a write whose transaction SQLite rolled back by itself (as it does when
/// a commit cannot be written), and a worker whose job poll fails. Neither
/// may leave intake or the workers broken after the database recovers.
pub async fn sqlite_intake_and_workers_recover() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&crate::harness::sqlite_url(dir.path())).await;
    let Db::Sqlite(store) = &db else {
        unreachable!()
    };
    let (crm, mail) = crate::sandboxes();
    let engine = db.engine(crm, mail, sandbox_calendar(), fast_engine_config("fail"));
    let (stop, handle) = db.spawn_workers(engine, fast_worker_config("fail", 2));
    db.submit(2, "before").await;
    db.wait_for(Duration::from_secs(20), "the first leads", || async {
        db.count(WorkflowStatus::Completed).await == 2
    })
    .await;

    sql(&db, "CREATE TABLE failing (what TEXT PRIMARY KEY)").await;
    // apalis' poll claims jobs with an UPDATE; the ROLLBACK undoes the
    // whole transaction, as SQLite does itself when a commit cannot be written.
    fail_while(&db, "poll", "UPDATE ON Jobs", "ABORT").await;
    fail_while(&db, "accept", "INSERT ON form_submissions", "ROLLBACK").await;

    // The workers' job polls fail for a while (a queued lead makes them poll).
    sql(&db, "INSERT INTO failing VALUES ('poll')").await;
    let during = db.submit(2, "during").await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    // An accept whose transaction SQLite rolled back on its own fails...
    sql(&db, "INSERT INTO failing VALUES ('accept')").await;
    assert!(
        store
            .accept_submission(&submission("refused"))
            .await
            .is_err()
    );
    // ...and the next one, once the database works, is accepted.
    sql(&db, "DELETE FROM failing WHERE what = 'accept'").await;
    let next = store
        .accept_submission(&submission("next"))
        .await
        .expect("intake works again after a rolled-back transaction");

    // The workers pick up again and finish every lead.
    sql(&db, "DELETE FROM failing").await;
    let mut all = during;
    all.push(next.workflow_id);
    db.wait_for(
        Duration::from_secs(30),
        "every lead after recovery",
        || async {
            let mut done = 0;
            for id in &all {
                done += usize::from(db.status(*id).await == WorkflowStatus::Completed);
            }
            done == all.len()
        },
    )
    .await;
    let _ = stop.send(());
    handle.await.unwrap();
}
