//! Durable accepts per second: store a submission, create its workflow and
//! enqueue its job in one committed transaction — the work behind every
//! 202 — with 1 and 32 concurrent writers, on SQLite (`synchronous=FULL`,
//! fsync per commit) and PostgreSQL (`FORMLEAD_BENCH_POSTGRES_URL`).
//!
//! `cargo bench --bench accept` (FORMLEAD_BENCH_N: submissions per run)

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use formlead::adapters::sql::{PgStore, SqliteDurability, SqliteStore};
use formlead::core::ports::Store;

async fn run(store: Arc<dyn Store>, writers: usize, n: usize, label: &str) {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    let per = n / writers;
    let mut handles = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let tag = format!("{tag}-{w}");
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let s = common::submission(&tag, i);
                let t = Instant::now();
                store.accept_submission(&s).await.expect("accept");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("writer"));
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "{label:<34} {writers:>3} writers  {:>8.0} accepts/s   p50 {:>9}  p99 {:>9}",
        lat.len() as f64 / secs,
        common::ms(common::percentile(&lat, 0.5)),
        common::ms(common::percentile(&lat, 0.99))
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("FORMLEAD_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let dir = tempfile::tempdir().expect("tempdir");
    for (durability, name) in [
        (SqliteDurability::Full, "sqlite synchronous=full"),
        (SqliteDurability::Normal, "sqlite synchronous=normal"),
    ] {
        let url = format!(
            "sqlite://{}",
            dir.path()
                .join(format!("{name}.db").replace(['=', ' '], "_"))
                .display()
        );
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::connect_sqlite(&url, durability, 40)
                .await
                .expect("sqlite"),
        );
        for writers in [1, 32] {
            run(store.clone(), writers, n, name).await;
        }
    }
    match common::postgres_url() {
        Some(url) => {
            let store: Arc<dyn Store> =
                Arc::new(PgStore::connect_postgres(&url, 40).await.expect("postgres"));
            for writers in [1, 32] {
                run(store.clone(), writers, n, "postgres").await;
            }
        }
        None => println!("postgres: skipped (set FORMLEAD_BENCH_POSTGRES_URL)"),
    }
}
