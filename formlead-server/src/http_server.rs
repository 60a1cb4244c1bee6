//! The HTTP accept loop: the axum router on hyper (HTTP/1 and HTTP/2), like
//! `axum::serve`, with the limits `axum::serve` lacks:
//!
//! - **Idle connections are closed.** A connection with no request in
//!   flight for `idle_timeout` (an idle keep-alive, a client that connected
//!   and sent nothing, an HTTP/2 connection without streams) is closed, on
//!   both protocols; an HTTP/1 client stalling mid-headers is cut off by
//!   hyper's header timer after the same time. A handler still working is
//!   never cut off.
//! - **Connections are capped.** At most `max_connections` are open. When a
//!   new one arrives at the cap, the longest-idle connection is closed to
//!   make room, so clients holding idle connections cannot starve new ones;
//!   when every connection is busy, the new one waits for the first to end.
//! - **Shutdown is bounded.** On stop, open requests may finish for `drain`;
//!   whatever is still open then is closed.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;
use tracing::{debug, warn};

/// How long an idle connection asked to close may take to do so.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A connection with nothing in flight this long is closed.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long open requests may finish after the stop.
    pub drain: Duration,
}

/// One open connection, as the accept loop sees it.
#[derive(Debug)]
struct Conn {
    /// Requests being handled now.
    in_flight: AtomicUsize,
    /// Since when nothing has been in flight (ms since the server started).
    idle_since_ms: AtomicU64,
    /// Asks the connection to close (gracefully: after its open requests).
    close: Notify,
}

/// Every open connection, by id.
#[derive(Debug)]
struct Registry {
    started: Instant,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks the connection idle the longest to close; `false` when every
    /// connection has a request in flight.
    fn close_longest_idle(&self) -> bool {
        let conns = self.lock();
        let idle = conns
            .iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|(id, c)| (c.idle_since_ms.load(Ordering::Acquire), **id));
        match idle {
            Some((_, c)) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Marks a request in flight on its connection until dropped.
struct Busy<'a> {
    conn: &'a Conn,
    registry: &'a Registry,
}

impl<'a> Busy<'a> {
    fn new(conn: &'a Conn, registry: &'a Registry) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        Self { conn, registry }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.conn
            .idle_since_ms
            .store(self.registry.now_ms(), Ordering::Release);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `router` on `listener` until `stop` resolves, then lets open
/// requests finish for up to `limits.drain` and closes whatever is still open.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let registry = Arc::new(Registry {
        started: Instant::now(),
        conns: Mutex::new(HashMap::new()),
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stopping_tx, stopping) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_id = 0u64;
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
        // Reap finished connection tasks.
        while tasks.try_join_next().is_some() {}
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if registry.close_longest_idle() {
                    debug!(%remote, "at the connection cap: closing the longest-idle connection");
                } else {
                    warn!(
                        max = limits.max_connections,
                        "at the connection cap with every connection busy; the new one waits"
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = &mut stop => break,
                }
            }
        };
        // Small responses go out at once, not after the peer's delayed ACK.
        let _ = tcp.set_nodelay(true);
        next_id += 1;
        let id = next_id;
        let conn = Arc::new(Conn {
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(registry.now_ms()),
            close: Notify::new(),
        });
        registry.lock().insert(id, conn.clone());
        tasks.spawn(serve_connection(
            ConnectionTask {
                builder: builder.clone(),
                router: router.clone(),
                registry: registry.clone(),
                conn,
                id,
                remote,
                idle_timeout: limits.idle_timeout,
                stopping: stopping.clone(),
            },
            tcp,
            slot,
        ));
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    let drained = tokio::time::timeout(limits.drain, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(timeout = ?limits.drain, "connections still open after the shutdown timeout; closing them");
        tasks.shutdown().await;
    }
}

/// What one connection's task needs.
struct ConnectionTask {
    builder: Arc<Builder<TokioExecutor>>,
    router: Router,
    registry: Arc<Registry>,
    conn: Arc<Conn>,
    id: u64,
    remote: SocketAddr,
    idle_timeout: Duration,
    stopping: watch::Receiver<bool>,
}

async fn serve_connection(
    task: ConnectionTask,
    tcp: tokio::net::TcpStream,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let ConnectionTask {
        builder,
        router,
        registry,
        conn,
        id,
        remote,
        idle_timeout,
        mut stopping,
    } = task;
    let service = {
        let (conn, registry) = (conn.clone(), registry.clone());
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let (conn, registry, router) = (conn.clone(), registry.clone(), router.clone());
            async move {
                let _busy = Busy::new(&conn, &registry);
                router.oneshot(with_peer(req.map(Body::new), remote)).await
            }
        })
    };
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    let mut closing = false;
    // An idle connection asked to close gets this long to do so; an HTTP/2
    // peer that never acknowledges the GOAWAY is then cut off.
    let mut force_at: Option<Instant> = None;
    loop {
        let forced = async {
            match force_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let idle_check = async {
            if closing {
                return std::future::pending().await;
            }
            let since = conn.idle_since_ms.load(Ordering::Acquire);
            let due_ms =
                since.saturating_add(u64::try_from(idle_timeout.as_millis()).unwrap_or(u64::MAX));
            let wait = Duration::from_millis(due_ms.saturating_sub(registry.now_ms()));
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    debug!(error = %e, %remote, "connection ended with an error");
                }
                break;
            }
            () = conn.close.notified(), if !closing => {
                closing = true;
                force_at = Some(Instant::now() + CLOSE_GRACE);
                connection.as_mut().graceful_shutdown();
            }
            () = forced => {
                debug!(%remote, "connection did not close in time; dropping it");
                break;
            }
            changed = stopping.changed(), if !closing => {
                if changed.is_err() || *stopping.borrow() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = idle_check => {
                let idle_for = registry
                    .now_ms()
                    .saturating_sub(conn.idle_since_ms.load(Ordering::Acquire));
                if conn.in_flight.load(Ordering::Acquire) == 0
                    && Duration::from_millis(idle_for) >= idle_timeout
                {
                    debug!(%remote, "closing an idle connection");
                    closing = true;
                    force_at = Some(Instant::now() + CLOSE_GRACE);
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
    registry.lock().remove(&id);
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

    async fn start(idle_timeout: Duration, max_connections: usize) -> SocketAddr {
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
        let limits = Limits {
            idle_timeout,
            max_connections,
            drain: Duration::from_secs(1),
        };
        tokio::spawn(serve(listener, app, limits, std::future::pending()));
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

    /// Whether the server closed `conn` within `limit`.
    async fn closed_within(conn: &mut TcpStream, limit: Duration) -> bool {
        let mut buf = [0u8; 256];
        matches!(
            tokio::time::timeout(limit, conn.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    #[tokio::test]
    async fn a_silent_client_is_cut_off_but_a_slow_handler_is_not() {
        let addr = start(Duration::from_millis(200), 64).await;
        // The handler takes 900 ms, more than four times the idle timeout.
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

    /// Clients holding every connection open and idle cannot keep a new
    /// client out: at the cap, the longest-idle connection is closed.
    #[tokio::test]
    async fn idle_connections_cannot_starve_new_ones() {
        let cap = 8;
        let addr = start(Duration::from_secs(60), cap).await;
        let mut idle = Vec::new();
        for _ in 0..cap {
            let mut c = TcpStream::connect(addr).await.unwrap();
            // A keep-alive connection that answered one request, then idles.
            c.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 512];
            let n = c.read(&mut buf).await.unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
            idle.push(c);
        }
        // Ten more clients, one after the other, are each served promptly.
        for _ in 0..10 {
            let answer = tokio::time::timeout(Duration::from_secs(3), get(addr, "/peer"))
                .await
                .expect("served despite the idle connections");
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }
        // The longest-idle connection was the one closed.
        assert!(closed_within(&mut idle[0], Duration::from_secs(3)).await);
        assert!(!closed_within(&mut idle[cap - 1], Duration::from_millis(100)).await);
    }

    /// An idle HTTP/2 connection is closed like an HTTP/1 one.
    #[tokio::test]
    async fn idle_http2_connections_are_closed() {
        let addr = start(Duration::from_millis(300), 64).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        // The HTTP/2 preface and an empty SETTINGS frame, then nothing.
        conn.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut buf = vec![0u8; 4096];
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {} // SETTINGS, its ACK, the GOAWAY
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the idle HTTP/2 connection stayed open");
        assert!(started.elapsed() >= Duration::from_millis(250));
    }
}
