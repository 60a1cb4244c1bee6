//! Clients that stall mid-request: they get 408 and nothing is stored, and
//! they cannot keep a graceful shutdown from finishing.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{PATH, spawn_app};

/// Headers and half of a 100-byte body, then nothing.
async fn stall(base: &str) -> TcpStream {
    let mut conn = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"email\":"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_gets_408_and_stores_nothing() {
    let app = spawn_app(&[("FORMLEAD_REQUEST_TIMEOUT_MS", "300")]).await;
    let mut conn = stall(&app.base).await;
    let started = Instant::now();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("an answer, not a connection held open")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"request body not received within 300 ms"}"#),
        "{answer}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(app.workflow_count().await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_cannot_hold_up_shutdown() {
    let app = spawn_app(&[
        ("FORMLEAD_REQUEST_TIMEOUT_MS", "60000"),
        ("FORMLEAD_SHUTDOWN_TIMEOUT_MS", "500"),
    ])
    .await;
    let _conn = stall(&app.base).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("shutdown finished despite the stalled request");
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stalling_mid_headers_is_disconnected() {
    let app = spawn_app(&[("FORMLEAD_REQUEST_TIMEOUT_MS", "200")]).await;
    let mut conn = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    conn.write_all(format!("POST {PATH} HTTP/1.1\r\nHo").as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("the server closed the connection");
    // Closed without a response (EOF or a reset), after twice the request timeout.
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() >= Duration::from_millis(350));
    // A well-behaved client is still served.
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

/// Operator and login bodies are read within the request timeout too: a
/// client trickling a login form cannot hold a handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_login_body_gets_408() {
    let app = spawn_app(&[
        ("FORMLEAD_REQUEST_TIMEOUT_MS", "300"),
        ("FORMLEAD_OPERATOR_TOKEN", "stalled-token-0123456789"),
    ])
    .await;
    let mut conn = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    conn.write_all(
        b"POST /dashboard/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken=",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("an answer, not a handler held open")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    app.stop().await;
}
