//! The HTTP accept loop: the axum router on hyper, like `axum::serve`, but
//! with hyper's timer set so that a connection waiting for a request head
//! (a client stalling mid-headers, an idle keep-alive) is closed after
//! `header_timeout` instead of holding a connection, a task and a file
//! descriptor for as long as it likes. `axum::serve` gives hyper no timer,
//! so there such a client is never cut off. A handler still working on a
//! request is not affected: hyper only times the reading of a head.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tracing::{debug, warn};

/// Serves `router` on `listener` until `stop` resolves, then lets open
/// requests finish for up to `drain` and closes whatever is still open.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    stop: impl Future<Output = ()>,
    drain: Duration,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather
                    // than spin, as axum::serve does.
                    warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Small responses go out at once, not after the peer's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone().map_request(
            move |req: hyper::Request<Incoming>| with_peer(req.map(Body::new), remote),
        ));
        let conn = graceful.watch(
            builder
                .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                .into_owned(),
        );
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(error = %e, %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            warn!(timeout = ?drain, "connections still open after the shutdown timeout; closing them");
        }
    }
}

/// The peer's address for handlers (`ConnectInfo<SocketAddr>`, as
/// `into_make_service_with_connect_info` would give them).
fn with_peer(mut req: axum::extract::Request, remote: SocketAddr) -> axum::extract::Request {
    req.extensions_mut().insert(ConnectInfo(remote));
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start(header_timeout: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_millis(900)).await;
                    "done"
                }),
            )
            .route(
                "/peer",
                axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    peer.ip().to_string()
                }),
            );
        tokio::spawn(serve(
            listener,
            app,
            header_timeout,
            std::future::pending(),
            Duration::from_secs(1),
        ));
        addr
    }

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn a_silent_client_is_cut_off_but_a_slow_handler_is_not() {
        let addr = start(Duration::from_millis(200)).await;
        // The handler takes 900 ms, more than four times the header timeout.
        let answer = get(addr, "/slow").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        assert!(answer.ends_with("done"), "{answer:?}");
        // Handlers see the peer's address.
        assert!(get(addr, "/peer").await.ends_with("127.0.0.1"));
        // Half a request head, then nothing: closed after about 200 ms.
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /slow HTTP/1.1\r\nHo").await.unwrap();
        let started = std::time::Instant::now();
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("closed by the server");
        let waited = started.elapsed();
        assert!(
            matches!(read, Ok(0) | Err(_))
                || String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 408"),
            "{read:?}"
        );
        assert!(waited >= Duration::from_millis(150), "{waited:?}");
    }
}
