//! One store suite, every backend: `sqlite::*` always runs; `postgres::*`
//! runs when `FORMLEAD_TEST_POSTGRES_URL` names a server (and must, when
//! `FORMLEAD_REQUIRE_POSTGRES=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod engine;
mod helpers;
mod suite;

/// Every case on every backend: `borrowed` cases take `&impl Subject`,
/// `shared` ones (which spawn tasks) an `Arc` of it.
macro_rules! for_each_backend {
    (
        borrowed: [$($name:ident),+ $(,)?],
        shared: [$($shared:ident),+ $(,)?] $(,)?
    ) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let f = crate::helpers::sqlite().await;
                    crate::suite::$name(&*f.store).await;
                }
            )+
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $shared() {
                    let f = crate::helpers::sqlite().await;
                    crate::suite::$shared(f.store.clone()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(store) = crate::helpers::postgres().await else { return };
                    crate::suite::$name(&*store).await;
                }
            )+
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $shared() {
                    let Some(store) = crate::helpers::postgres().await else { return };
                    crate::suite::$shared(store).await;
                }
            )+
        }
    };
}

for_each_backend!(
    borrowed: [
        accept_round_trips_and_enqueues,
        a_nul_in_a_field_is_stored,
        the_largest_values_the_parser_allows_are_stored,
        duplicates_are_detected,
        accept_is_atomic,
        foreign_keys_are_enforced,
        steps_checkpoint_and_upsert,
        drafts_round_trip_with_compare_and_set,
        tasks_errors_and_audit_round_trip,
        leases_guard_workflows,
        a_run_starts_with_its_inputs,
        repeat_submissions_join_the_open_reply,
        a_reply_is_leased_and_revised_in_place,
        drafts_go_cold_once,
        unidentified_submissions_are_found_by_form_email_and_time,
        retries_dead_letters_and_requeue,
        orphans_are_recovered,
        lists_filter_and_page,
        history_and_stats,
        units_write_every_kind,
        an_attempt_ends_with_its_last_records,
    ],
    shared: [
        concurrent_duplicates_make_one_workflow,
        concurrent_repeat_submissions_start_one_reply,
        concurrent_accepts_are_batched_correctly,
        an_unavailable_database_fails_the_batch_at_once,
        queued_writes_fail_alone,
        a_failing_unit_leaves_nothing,
    ],
);

#[test]
fn test_database_urls() {
    assert_eq!(
        helpers::with_database("postgres://u:p@h:5432/postgres", "x"),
        "postgres://u:p@h:5432/x"
    );
    assert_eq!(
        helpers::with_database("postgres://u@h/postgres?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
    assert_eq!(
        helpers::with_database("postgres://h:1", "x"),
        "postgres://h:1/x"
    );
}

#[test]
fn test_database_names_carry_their_creation_time() {
    assert_eq!(
        helpers::created_secs("formlead_test_1764143064_0f9c2b7d9a6e4c1f8d3b2a1c0e9f8d7c"),
        Some(1_764_143_064)
    );
    // Older runs' names, and other databases, are never taken for stale.
    assert_eq!(
        helpers::created_secs("formlead_test_0f9c2b7d9a6e4c1f8d3b2a1c0e9f8d7c"),
        None
    );
    assert_eq!(helpers::created_secs("formlead_test_x_y"), None);
    assert_eq!(helpers::created_secs("postgres"), None);
}

/// The SQLite file holds personal data: it and its WAL and shm files are
/// the owner's alone (0600), whatever the umask.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_files_are_private() {
    use formlead_core::domain::FormSubmission;
    use formlead_core::ports::Store;
    use std::os::unix::fs::PermissionsExt;
    let f = helpers::sqlite().await;
    let body = r#"{"formSubmissionId":"private-1","email":"a@b.co"}"#;
    let sub = FormSubmission::from_webhook_body(body.as_bytes(), chrono::Utc::now()).unwrap();
    f.store.accept_submission(&sub).await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let path = f.path.with_file_name(format!("formlead.db{suffix}"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

/// Two processes (two stores, each with its own accept batcher and pool)
/// on one PostgreSQL database: concurrent submissions of one prospect
/// still start exactly one reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_processes_start_one_reply_per_prospect() {
    use formlead_adapters::sql::PgStore;
    use formlead_core::ports::Store;
    use std::sync::Arc;

    let Some(url) = helpers::postgres_url().await else {
        return;
    };
    let a = Arc::new(PgStore::connect_postgres(&url, 8).await.unwrap());
    let b = Arc::new(PgStore::connect_postgres(&url, 8).await.unwrap());
    let now = chrono::Utc::now();
    for round in 0..8 {
        let email = format!("p{round}@acme.example");
        let mut handles = Vec::new();
        for i in 0..16 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let body = formlead_adapters::testing::TestKit::body(
                &format!("two-{round}-{i}"),
                &email,
                "Ann",
                "Acme",
                "Demo please",
            );
            let sub =
                formlead_core::domain::FormSubmission::from_webhook_body(body.as_bytes(), now)
                    .unwrap();
            handles.push(tokio::spawn(
                async move { store.accept_submission(&sub).await },
            ));
        }
        let mut started = 0;
        for h in handles {
            if !h.await.unwrap().unwrap().linked {
                started += 1;
            }
        }
        assert_eq!(started, 1, "{email}: one reply");
    }
}

/// A migrated PostgreSQL test database filled by `fill` (then analysed),
/// and a connection to it; `None` when PostgreSQL is not configured.
async fn postgres_with(fill: &str) -> Option<(String, sqlx::PgConnection)> {
    use sqlx::{Connection, Executor};
    let url = helpers::postgres_url().await?;
    drop(
        formlead_adapters::sql::PgStore::connect_postgres(&url, 2)
            .await
            .unwrap(),
    ); // migrates
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("{fill}; ANALYZE")))
        .await
        .unwrap();
    Some((url, conn))
}

/// PostgreSQL's plan for `sql` (a statement with parameters of `types`)
/// run with `args`, under `plan_cache_mode = mode` (`force_generic_plan`:
/// what a kept statement runs with after a few runs), one line per node.
async fn postgres_plan(
    conn: &mut sqlx::PgConnection,
    mode: &str,
    (name, sql, types): (&str, &str, &str),
    args: &str,
) -> String {
    use sqlx::{Executor, Row};
    conn.execute(sqlx::AssertSqlSafe(format!(
        "SET plan_cache_mode = {mode}; PREPARE {name}({types}) AS {sql}"
    )))
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN EXECUTE {name}({args})"
    )))
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect::<Vec<_>>()
    .join("\n")
}

/// An accept batch's open-reply lookup reads only its prospects' rows on
/// PostgreSQL, in the prepared statement's generic plan too (which is what
/// runs after a few executions), however many workflows the window holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_open_reply_lookup_uses_the_email_index() {
    use formlead_adapters::sql::{Backend, PgBackend};

    let Some((_, mut conn)) = postgres_with(
        "INSERT INTO form_submissions (id, form_submission_id, fields, raw_body, source, prospect_email, received_at) \
         SELECT gen_random_uuid(), 'fs-' || g, '{}', '{}', 'webhook', 'p' || g || '@x.example', now() FROM generate_series(1, 20000) g; \
         INSERT INTO workflows (id, submission_id, status, prospect_email, created_at, updated_at) \
         SELECT gen_random_uuid(), id, 'completed', prospect_email, now(), now() FROM form_submissions",
    )
    .await
    else {
        return;
    };
    let plan = postgres_plan(
        &mut conn,
        "force_generic_plan",
        ("open_replies", PgBackend::OPEN_REPLIES, "text, timestamptz"),
        "'[\"p1@x.example\", \"p2@x.example\"]', now() - interval '1 day'",
    )
    .await;
    assert!(
        plan.contains("idx_workflows_prospect_email") && !plan.contains("idx_workflows_created_at"),
        "{plan}"
    );
}

/// The dashboard's failures by step, and the workflows of one of its rows,
/// read only the period's errors on PostgreSQL (by the `created_at` index)
/// and the workflows those name (by id), however long the history of
/// workflows and errors: the failures in their kept statement's generic
/// plan too; the row's workflows in the plan made for their arguments,
/// which is the one they run with (they are planned each time: a generic
/// plan walks every workflow, newest first, looking for today's errors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_failures_by_step_read_only_the_period() {
    use formlead_adapters::sql::{PgStore, plans};

    // A year of history: 40,000 workflows, each with a failed attempt.
    let Some((url, mut conn)) = postgres_with(
        "INSERT INTO form_submissions (id, form_submission_id, fields, raw_body, source, prospect_email, received_at) \
         SELECT gen_random_uuid(), 'fs-' || g, '{}', '{}', 'webhook', 'p' || g || '@x.example', now() - g * interval '13 minutes' FROM generate_series(1, 40000) g; \
         INSERT INTO workflows (id, submission_id, status, prospect_email, created_at, updated_at) \
         SELECT gen_random_uuid(), id, 'failed', prospect_email, received_at, received_at FROM form_submissions; \
         INSERT INTO workflow_errors (id, workflow_id, attempt, step, kind, message, created_at) \
         SELECT gen_random_uuid(), id, 1, 'write_draft', 'permanent', 'x', created_at FROM workflows",
    )
    .await
    else {
        return;
    };
    let since = "date_trunc('day', now())";
    let failures = postgres_plan(
        &mut conn,
        "force_generic_plan",
        ("failures", plans::FAILURES_BY_STEP, "timestamptz"),
        since,
    )
    .await;
    assert!(
        failures.contains("Index Scan using idx_workflow_errors_created_at")
            && !failures.contains("Seq Scan"),
        "{failures}"
    );
    let failed_at = postgres_plan(
        &mut conn,
        "force_custom_plan",
        (
            "failed_at",
            plans::WORKFLOWS_FAILED_AT,
            "text, text, text, timestamptz, bigint, bigint",
        ),
        &format!("NULL, NULL, 'write_draft', {since}, 50, 0"),
    )
    .await;
    assert!(
        failed_at.contains("Index Scan using idx_workflow_errors_created_at")
            && failed_at.contains("Index Scan using workflows_pkey")
            && !failed_at.contains("idx_workflows_created_at")
            && !failed_at.contains("Seq Scan"),
        "{failed_at}"
    );

    // The store runs the row's list unprepared, so no generic plan is ever
    // made for it, however often an operator opens it.
    use formlead_core::ports::{FailedAt, Store, WorkflowFilter};
    let store = PgStore::connect_postgres(&url, 2).await.unwrap();
    let today = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let expected: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM workflow_errors WHERE created_at >= $1")
            .bind(today)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    for _ in 0..8 {
        let page = store
            .list_workflows(&WorkflowFilter {
                failed_at: Some(FailedAt {
                    step: formlead_core::domain::StepName::WriteDraft,
                    since: today,
                }),
                limit: 10,
                ..WorkflowFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(i64::try_from(page.total).unwrap(), expected);
    }
    // Every connection of the pool (both held at once, so both are seen).
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(store.pool().acquire().await.unwrap());
    }
    for c in &mut held {
        let kept: Vec<String> = sqlx::query_scalar("SELECT statement FROM pg_prepared_statements")
            .fetch_all(&mut **c)
            .await
            .unwrap();
        assert!(
            !kept
                .iter()
                .any(|s| s.contains("FROM workflow_errors WHERE step")),
            "{kept:?}"
        );
    }
}
