//! The one HTTP server of every daemon: the public APIs (`alertdb-server`, `registry-proxy`) and
//! the `/metrics`, `/healthz`, `/readyz` listeners all serve through [`serve`] (or [`Server`]).
//!
//! It is hyper 1's HTTP/1.1 connection driver with the limits a public service needs, which
//! `axum::serve` does not have:
//!
//! - **header timeout** (default 10 s): a request head (request line and headers) must be
//!   complete this long after it began: after the connection was accepted, or after the first
//!   byte that follows the previous response. Slow-header clients ("slowloris") are closed then.
//! - **idle timeout** (default 60 s): a connection on which no byte moved for this long is
//!   closed: a keep-alive connection between requests, or a client that stopped reading its
//!   response. Never shorter than the request timeout, so a slow handler is not cut off by it.
//! - **request timeout** (default 30 s): a handler that has not produced its response head by
//!   then is dropped and the client gets `503 Service Unavailable` (the server was too slow, not
//!   the client: a slow client is the header timeout's business, which closes the connection).
//! - **connection limit** (default 10,000): at the limit the server **stops accepting** until a
//!   connection closes; new connections wait in the kernel's accept backlog (and their clients'
//!   connect times out if none frees up). Nothing already accepted is dropped, and since every
//!   connection is bounded by the timeouts above, slots free up. A warning is logged (at most
//!   every 10 s) while the limit holds.
//! - **graceful shutdown**: when the shutdown future resolves the listener is closed at once,
//!   idle connections are closed, requests in flight finish and their connections close after
//!   the response; connections still open after the **shutdown timeout** (default 20 s, below
//!   Kubernetes' 30-s grace period) are dropped, and [`serve`] returns.
//!
//! hyper's own `header_read_timeout` is not used: it starts when a connection goes idle, so it
//! would also close keep-alive connections after the header timeout and leave no room for a
//! longer idle timeout. Here one watchdog per connection enforces both, from timestamps the
//! connection's reads, writes and requests leave (no timer per request; the watchdog wakes at
//! most every header timeout).
//!
//! Connections are served either on the caller's runtime (one task each, [`serve`]) or on N
//! single-threaded runtimes of their own ([`Server::threads`], `alertdb-server`): there each
//! accepted connection is handed, whole, to the runtime thread with the fewest open
//! connections and lives there until it closes, so an event on it wakes only that thread.
//! Accepted sockets get `TCP_NODELAY`: hyper writes a response's head and body together.
//!
//! Limits come from [`HttpSettings`] (settings file and environment, `[http]` section) and
//! [`HttpArgs`] (the `--http-*` flags every HTTP daemon flattens into its command line).

pub mod testing;

use crate::settings::DurationSetting;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// The limits of one server (see the [module](self) documentation for what each does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

/// The limits as an operator writes them: the `[http]` section of a daemon's settings
/// (`header_timeout = "10s"`, or `<PREFIX>_HTTP__HEADER_TIMEOUT=10s` in the environment).
/// Durations take `ms`, `s`, `m`, `h` or bare seconds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    pub header_timeout: DurationSetting,
    pub idle_timeout: DurationSetting,
    pub request_timeout: DurationSetting,
    pub max_connections: usize,
    pub shutdown_timeout: DurationSetting,
}

impl Default for HttpSettings {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            header_timeout: DurationSetting(limits.header_timeout),
            idle_timeout: DurationSetting(limits.idle_timeout),
            request_timeout: DurationSetting(limits.request_timeout),
            max_connections: limits.max_connections,
            shutdown_timeout: DurationSetting(limits.shutdown_timeout),
        }
    }
}

/// A limit that cannot work; the message names the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--http-{0} must be more than zero")]
pub struct LimitError(&'static str);

impl HttpSettings {
    /// Checks that no limit is zero (zero would refuse every request or connection).
    pub fn validate(&self) -> Result<Limits, LimitError> {
        for (value, name) in [
            (self.header_timeout.0, "header-timeout"),
            (self.idle_timeout.0, "idle-timeout"),
            (self.request_timeout.0, "request-timeout"),
            (self.shutdown_timeout.0, "shutdown-timeout"),
        ] {
            if value.is_zero() {
                return Err(LimitError(name));
            }
        }
        if self.max_connections == 0 {
            return Err(LimitError("max-connections"));
        }
        Ok(Limits {
            header_timeout: self.header_timeout.0,
            idle_timeout: self.idle_timeout.0,
            request_timeout: self.request_timeout.0,
            max_connections: self.max_connections,
            shutdown_timeout: self.shutdown_timeout.0,
        })
    }
}

/// The `--http-*` flags, flattened into a daemon's command line (`#[command(flatten)]`) and
/// serialized as its `http` section. An absent flag leaves the settings file and environment
/// in force.
#[derive(Debug, Clone, Default, clap::Args, Serialize)]
pub struct HttpArgs {
    /// Close a connection whose request head is not complete this long after it began
    /// (slow-header clients) [default: 10s].
    #[arg(long, value_name = "DURATION")]
    #[serde(rename = "header_timeout", skip_serializing_if = "Option::is_none")]
    pub http_header_timeout: Option<DurationSetting>,
    /// Close a connection on which no byte moved for this long (idle keep-alive, or a client
    /// that stopped reading); never less than the request timeout [default: 60s].
    #[arg(long, value_name = "DURATION")]
    #[serde(rename = "idle_timeout", skip_serializing_if = "Option::is_none")]
    pub http_idle_timeout: Option<DurationSetting>,
    /// Answer 503 when a request's response is not ready after this long [default: 30s].
    #[arg(long, value_name = "DURATION")]
    #[serde(rename = "request_timeout", skip_serializing_if = "Option::is_none")]
    pub http_request_timeout: Option<DurationSetting>,
    /// Most connections open at once; at the limit new ones wait to be accepted
    /// [default: 10000].
    #[arg(long, value_name = "N")]
    #[serde(rename = "max_connections", skip_serializing_if = "Option::is_none")]
    pub http_max_connections: Option<usize>,
    /// On shutdown, how long requests in flight may take before their connections are
    /// dropped [default: 20s].
    #[arg(long, value_name = "DURATION")]
    #[serde(rename = "shutdown_timeout", skip_serializing_if = "Option::is_none")]
    pub http_shutdown_timeout: Option<DurationSetting>,
}

/// Serves `router` on `listener`, one task per connection on the caller's runtime, until
/// `shutdown` resolves; then shuts down gracefully (see the [module](self) documentation) and
/// returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    Server::new(limits).serve(listener, router, shutdown).await
}

/// [`serve`] with options.
#[derive(Debug, Clone)]
pub struct Server {
    limits: Limits,
    threads: Option<(usize, String)>,
}

impl Server {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            threads: None,
        }
    }

    /// Serves connections on `threads` single-threaded runtimes of their own, named
    /// `{name}-{index}`, instead of the caller's runtime, which then only accepts.
    ///
    /// Under load the multi-threaded scheduler spends much of a server's CPU switching threads
    /// (every socket event wakes a worker, idle workers are woken to steal work, connections
    /// move between threads); here a connection's events wake only its own thread.
    pub fn threads(mut self, threads: usize, name: &str) -> Self {
        self.threads = Some((threads.max(1), name.to_owned()));
        self
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully.
    pub async fn serve(
        self,
        listener: TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let stop = CancellationToken::new();
        let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
        let shared = Arc::new(Shared {
            router,
            limits: self.limits,
            stop: stop.clone(),
            open: open_tx,
        });
        let mut workers = match &self.threads {
            None => Vec::new(),
            Some((threads, name)) => (0..*threads)
                .map(|index| Worker::start(index, name, Arc::clone(&shared)))
                .collect::<io::Result<Vec<_>>>()?,
        };
        accept(&listener, &shared, &workers, shutdown).await;
        drop(listener);
        // Closing the hand-over channels lets each worker runtime end once its connections did.
        let threads: Vec<_> = workers
            .drain(..)
            .map(|worker| (worker.index, worker.thread))
            .collect();
        stop.cancel();
        drop(shared);
        // Every connection holds a sender: `None` once the last one is closed.
        let _ = open_rx.recv().await;
        join(threads).await
    }
}

/// What every connection of one server shares.
#[derive(Debug)]
struct Shared {
    router: Router,
    limits: Limits,
    /// Cancelled when the server stops accepting: connections shut down gracefully.
    stop: CancellationToken,
    /// Cloned into every connection; dropped with it.
    open: mpsc::Sender<()>,
}

async fn accept(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    workers: &[Worker],
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = pin!(shutdown);
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
    let mut warned: Option<Instant> = None;
    loop {
        // The permit first (mini-redis's model): at the limit, nothing more is accepted and
        // new connections wait in the kernel's backlog until one closes.
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(
                        limit = shared.limits.max_connections,
                        "connection limit reached: new connections wait until one closes"
                    );
                    warned = Some(Instant::now());
                }
                tokio::select! {
                    () = &mut shutdown => return,
                    permit = Arc::clone(&slots).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => return, // never closed
                    },
                }
            }
        };
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                accept_failed(error).await;
                continue;
            }
        };
        // Responses are written whole (head and body in one writev): nothing to coalesce,
        // and Nagle would hold a response's last segment until the previous one is acked.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY");
        }
        if workers.is_empty() {
            tokio::spawn(connection(stream, Arc::clone(shared), permit, None));
        } else {
            hand_over(workers, stream, peer, permit);
        }
    }
}

/// As axum's own listener: a connection that failed before it was accepted is not an error
/// of the server; anything else (out of file descriptors) is, and retrying at once would spin.
async fn accept_failed(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One connection, from accept to close.
async fn connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
    worker_open: Option<Arc<AtomicUsize>>,
) {
    let _open = shared.open.clone();
    let _slot = permit;
    let _counted = worker_open.map(Counted);
    let limits = shared.limits;
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: Arc::clone(&activity),
    });
    let handler = Handler {
        router: shared.router.clone(),
        activity: Arc::clone(&activity),
        timeout: limits.request_timeout,
    };
    let mut builder = http1::Builder::new();
    // The watchdog's job, see the module documentation.
    builder.header_read_timeout(None);
    let mut conn = pin!(builder.serve_connection(io, handler));
    let mut watchdog = pin!(activity.watch(limits));
    // A token of this connection's own: polling it takes an uncontended lock.
    let stop = shared.stop.child_token();
    drop(shared);
    let mut stopping = pin!(stop.cancelled());
    let mut deadline = pin!(tokio::time::sleep(Duration::MAX));
    let mut draining = false;
    loop {
        tokio::select! {
            biased;
            served = conn.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = &mut watchdog => {
                tracing::debug!("closing a connection past its header or idle timeout");
                return;
            }
            () = &mut stopping, if !draining => {
                // Closes at once when idle, else after the response in flight.
                conn.as_mut().graceful_shutdown();
                deadline.as_mut().reset(tokio::time::Instant::now() + limits.shutdown_timeout);
                draining = true;
            }
            () = &mut deadline, if draining => {
                tracing::warn!("dropping a connection still busy after the shutdown timeout");
                return;
            }
        }
    }
}

/// The router behind hyper, with the request timeout.
#[derive(Debug)]
struct Handler {
    router: Router,
    activity: Arc<Activity>,
    timeout: Duration,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Handler {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.activity.head_complete();
        let response = tower::Service::call(&mut self.router.clone(), request);
        let timeout = self.timeout;
        Box::pin(async move {
            let mut response = pin!(response);
            // Most handlers answer on their first poll (alertdb-server reads local files
            // inline): no timer for them.
            let first = std::future::poll_fn(|cx| Poll::Ready(response.as_mut().poll(cx))).await;
            let answered = match first {
                Poll::Ready(answered) => answered,
                Poll::Pending => match tokio::time::timeout(timeout, response).await {
                    Ok(answered) => answered,
                    Err(_) => return Ok(timed_out()),
                },
            };
            Ok(match answered {
                Ok(response) => response,
                Err(never) => match never {},
            })
        })
    }
}

fn timed_out() -> axum::response::Response {
    use axum::response::IntoResponse as _;
    tracing::warn!("a request timed out");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "the request timed out\n",
    )
        .into_response()
}

/// Milliseconds since the first call (a process-wide monotonic clock; 0 never occurs after
/// the `+ 1` in [`now`], so 0 can mean "unset").
fn now() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

/// What a connection did last, left by its reads, writes and requests for its watchdog.
#[derive(Debug)]
struct Activity {
    /// When a byte last moved either way.
    last_io: AtomicU64,
    /// When the request head being read began; 0 while none is (a request is being served,
    /// or the connection is idle after a response).
    head_since: AtomicU64,
    /// A response was written since the last read: the next byte read begins a request head.
    wrote: AtomicBool,
}

impl Activity {
    /// A fresh connection: its first request head is due within the header timeout.
    fn new() -> Self {
        let now = now();
        Self {
            last_io: AtomicU64::new(now),
            head_since: AtomicU64::new(now),
            wrote: AtomicBool::new(false),
        }
    }

    fn read(&self) {
        let now = now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.wrote.load(Ordering::Relaxed) {
            self.wrote.store(false, Ordering::Relaxed);
            self.head_since.store(now, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_io.store(now(), Ordering::Relaxed);
        if !self.wrote.load(Ordering::Relaxed) {
            self.wrote.store(true, Ordering::Relaxed);
        }
    }

    fn head_complete(&self) {
        self.head_since.store(0, Ordering::Relaxed);
    }

    /// Resolves when the connection is past its header or idle timeout.
    async fn watch(&self, limits: Limits) {
        let header = millis(limits.header_timeout);
        // A handler may take the whole request timeout without moving a byte; its 503 then
        // goes out before the connection counts as idle.
        let idle = millis(
            limits
                .idle_timeout
                .max(limits.request_timeout + Duration::from_secs(1)),
        );
        let mut sleep = pin!(tokio::time::sleep(limits.header_timeout));
        loop {
            sleep.as_mut().await;
            let now = now();
            let mut due = self.last_io.load(Ordering::Relaxed).saturating_add(idle);
            let head = self.head_since.load(Ordering::Relaxed);
            if head != 0 {
                due = due.min(head.saturating_add(header));
            }
            if now >= due {
                return;
            }
            // Look again at the deadline, and at least every header timeout: a head that
            // begins meanwhile is then caught on time.
            let wait = (due - now).min(header);
            sleep
                .as_mut()
                .reset(tokio::time::Instant::now() + Duration::from_millis(wait));
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX / 2)
}

/// A connection's socket, leaving its reads and writes in its [`Activity`].
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

// Every method forwards, the vectored ones too: hyper writes head and body with one writev
// only when the stream says it can.
impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

type Handed = (std::net::TcpStream, OwnedSemaphorePermit);

/// One runtime thread of [`Server::threads`].
#[derive(Debug)]
struct Worker {
    index: usize,
    streams: mpsc::UnboundedSender<Handed>,
    open: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl Worker {
    fn start(index: usize, name: &str, shared: Arc<Shared>) -> io::Result<Self> {
        let (streams, mut received) = mpsc::unbounded_channel::<Handed>();
        let open = Arc::new(AtomicUsize::new(0));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let counted = Arc::clone(&open);
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    // This worker's connections hold a sender each, as the server's do.
                    let (mine, mut closed) = mpsc::channel::<()>(1);
                    while let Some((stream, permit)) = received.recv().await {
                        // Registers the socket with this thread's reactor.
                        match TcpStream::from_std(stream) {
                            Ok(stream) => {
                                let mine = mine.clone();
                                let shared = Arc::clone(&shared);
                                let counted = Arc::clone(&counted);
                                tokio::spawn(async move {
                                    connection(stream, shared, permit, Some(counted)).await;
                                    drop(mine);
                                });
                            }
                            Err(error) => {
                                counted.fetch_sub(1, Ordering::Relaxed);
                                tracing::warn!(%error, "cannot serve an accepted connection");
                            }
                        }
                    }
                    // The acceptor stopped: let this thread's connections finish.
                    drop((mine, shared));
                    let _ = closed.recv().await;
                });
            })?;
        Ok(Self {
            index,
            streams,
            open,
            thread,
        })
    }
}

/// Hands an accepted connection to the worker with the fewest open connections.
fn hand_over(
    workers: &[Worker],
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    let stream = match stream.into_std() {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!(%error, %peer, "cannot hand over an accepted connection");
            return;
        }
    };
    let Some(worker) = workers
        .iter()
        .min_by_key(|worker| worker.open.load(Ordering::Relaxed))
    else {
        return;
    };
    // Counted here, not when the worker takes it: a burst of accepts must spread out.
    worker.open.fetch_add(1, Ordering::Relaxed);
    if worker.streams.send((stream, permit)).is_err() {
        worker.open.fetch_sub(1, Ordering::Relaxed);
        tracing::error!(worker = worker.index, "HTTP worker thread is gone");
    }
}

/// Takes a connection off its worker's count when the connection ends.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn join(threads: Vec<(usize, std::thread::JoinHandle<()>)>) -> io::Result<()> {
    let panicked = tokio::task::spawn_blocking(move || {
        let joined: Vec<_> = threads
            .into_iter()
            .map(|(index, thread)| (index, thread.join().is_err()))
            .collect();
        joined
            .into_iter()
            .find(|(_, panicked)| *panicked)
            .map(|(index, _)| index)
    })
    .await
    .map_err(io::Error::other)?;
    match panicked {
        Some(index) => Err(io::Error::other(format!(
            "HTTP worker thread {index} panicked"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{load, Layers};
    use axum::routing::get;
    use clap::Parser;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn limits(header_ms: u64, idle_ms: u64, request_ms: u64) -> Limits {
        Limits {
            header_timeout: Duration::from_millis(header_ms),
            idle_timeout: Duration::from_millis(idle_ms),
            request_timeout: Duration::from_millis(request_ms),
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(5),
        }
    }

    fn router() -> Router {
        Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(600)).await;
                    "slow"
                }),
            )
            .route(
                "/forever",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "never"
                }),
            )
    }

    struct Running {
        addr: SocketAddr,
        stop: CancellationToken,
        task: tokio::task::JoinHandle<io::Result<()>>,
    }

    async fn start(server: Server) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(server.serve(listener, router(), stop.clone().cancelled_owned()));
        Running { addr, stop, task }
    }

    /// Reads one response (status line to the end of a `Content-Length` body).
    async fn response(stream: &mut TcpStream) -> io::Result<String> {
        let mut got = Vec::new();
        let mut buf = [0_u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if got.len() >= end + 4 + length {
                    return Ok(text);
                }
            }
        }
    }

    /// Waits until the server closes `stream`; how long that took.
    async fn closed_within(stream: &mut TcpStream, bound: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut buf = [0_u8; 1024];
        tokio::time::timeout(bound, async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .ok()
        .map(|()| started.elapsed())
    }

    async fn slow_headers_check(server: Server) {
        let running = start(server).await;
        let report = testing::slow_headers(running.addr, 300, "/", Duration::from_secs(5)).await;
        match report.check(Duration::from_secs(1)) {
            Ok(summary) => eprintln!("{summary}"),
            Err(failed) => panic!("{failed}"),
        }
        running.stop.cancel();
        running.task.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_headers_are_closed_on_time_while_requests_are_answered() {
        slow_headers_check(Server::new(limits(1000, 5000, 5000))).await;
    }

    #[tokio::test]
    async fn the_same_on_worker_threads() {
        slow_headers_check(Server::new(limits(1000, 5000, 5000)).threads(2, "test-http")).await;
    }

    #[tokio::test]
    async fn idle_keep_alive_connections_outlive_the_header_timeout_until_the_idle_timeout() {
        let running = start(Server::new(limits(300, 1200, 100))).await;
        let mut stream = TcpStream::connect(running.addr).await.unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        stream.write_all(request).await.unwrap();
        assert!(response(&mut stream)
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200"));
        // Idle for longer than the header timeout: still open.
        tokio::time::sleep(Duration::from_millis(700)).await;
        stream.write_all(request).await.unwrap();
        assert!(response(&mut stream)
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200"));
        // Then closed by the idle timeout, not before.
        let closed = closed_within(&mut stream, Duration::from_secs(3))
            .await
            .unwrap();
        assert!(
            closed >= Duration::from_millis(1100) && closed < Duration::from_millis(2200),
            "{closed:?}"
        );
        // A head begun after a response is held to the header timeout too.
        let mut stream = TcpStream::connect(running.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        response(&mut stream).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let closed = closed_within(&mut stream, Duration::from_secs(3))
            .await
            .unwrap();
        assert!(closed < Duration::from_millis(1000), "{closed:?}");
        running.stop.cancel();
        running.task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_slow_handler_gets_503_after_the_request_timeout() {
        let running = start(Server::new(limits(1000, 1000, 300))).await;
        let started = Instant::now();
        let status = testing::get(running.addr, "/forever").await.unwrap();
        let took = started.elapsed();
        assert_eq!(status, 503);
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_secs(1),
            "{took:?}"
        );
        assert_eq!(testing::get(running.addr, "/").await.unwrap(), 200);
        running.stop.cancel();
        running.task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn at_the_connection_limit_new_connections_wait_for_a_free_slot() {
        let mut limits = limits(5000, 5000, 5000);
        limits.max_connections = 2;
        let running = start(Server::new(limits)).await;
        let mut first = TcpStream::connect(running.addr).await.unwrap();
        let _second = TcpStream::connect(running.addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The third connects (the kernel's backlog) but is not served while two are open.
        let third = tokio::spawn(testing::get(running.addr, "/"));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!third.is_finished(), "served beyond the limit");
        // One closes: the third is accepted and answered.
        first.shutdown().await.unwrap();
        drop(first);
        let status = tokio::time::timeout(Duration::from_secs(2), third)
            .await
            .expect("answered once a slot freed")
            .unwrap()
            .unwrap();
        assert_eq!(status, 200);
        running.stop.cancel();
        running.task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_and_lets_requests_in_flight_finish() {
        for server in [
            Server::new(limits(1000, 5000, 5000)),
            Server::new(limits(1000, 5000, 5000)).threads(2, "test-http"),
        ] {
            let running = start(server).await;
            let mut idle = TcpStream::connect(running.addr).await.unwrap();
            idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            response(&mut idle).await.unwrap();
            let in_flight = tokio::spawn(testing::get(running.addr, "/slow"));
            tokio::time::sleep(Duration::from_millis(200)).await;
            let stopped = Instant::now();
            running.stop.cancel();
            // The idle keep-alive connection is closed at once.
            let closed = closed_within(&mut idle, Duration::from_secs(1)).await;
            assert!(closed.is_some(), "idle connection left open");
            // New connections are refused while the request in flight finishes.
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(TcpStream::connect(running.addr).await.is_err());
            assert_eq!(in_flight.await.unwrap().unwrap(), 200);
            running.task.await.unwrap().unwrap();
            assert!(
                stopped.elapsed() < Duration::from_secs(2),
                "{:?}",
                stopped.elapsed()
            );
        }
    }

    #[tokio::test]
    async fn shutdown_drops_requests_still_running_after_the_shutdown_timeout() {
        let mut limits = limits(1000, 5000, 5000);
        limits.shutdown_timeout = Duration::from_millis(300);
        let running = start(Server::new(limits)).await;
        let in_flight = tokio::spawn(testing::get(running.addr, "/forever"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stopped = Instant::now();
        running.stop.cancel();
        running.task.await.unwrap().unwrap();
        let took = stopped.elapsed();
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_secs(1),
            "{took:?}"
        );
        assert!(
            in_flight.await.unwrap().is_err(),
            "the connection was dropped"
        );
    }

    #[derive(Debug, Parser, Serialize)]
    struct Cli {
        #[command(flatten)]
        http: HttpArgs,
    }

    #[derive(Debug, Default, Deserialize, Serialize)]
    struct Settings {
        http: HttpSettings,
    }

    #[test]
    fn flags_environment_and_defaults_make_the_limits() {
        let defaults: Settings = load(
            Layers {
                file: None,
                env_prefix: "SKTEST_HTTP_NONE",
                list_keys: &[],
            },
            &Cli::try_parse_from(["x"]).unwrap(),
        )
        .unwrap();
        assert_eq!(defaults.http.validate().unwrap(), Limits::default());
        std::env::set_var("SKTEST_HTTP_HTTP__IDLE_TIMEOUT", "2m");
        std::env::set_var("SKTEST_HTTP_HTTP__HEADER_TIMEOUT", "1s");
        let cli = Cli::try_parse_from([
            "x",
            "--http-header-timeout",
            "500ms",
            "--http-request-timeout",
            "45",
            "--http-max-connections",
            "64",
            "--http-shutdown-timeout",
            "1m",
        ])
        .unwrap();
        let settings: Settings = load(
            Layers {
                file: None,
                env_prefix: "SKTEST_HTTP",
                list_keys: &[],
            },
            &cli,
        )
        .unwrap();
        assert_eq!(
            settings.http.validate().unwrap(),
            Limits {
                header_timeout: Duration::from_millis(500),
                idle_timeout: Duration::from_secs(120),
                request_timeout: Duration::from_secs(45),
                max_connections: 64,
                shutdown_timeout: Duration::from_secs(60),
            }
        );
        let err = Cli::try_parse_from(["x", "--http-idle-timeout", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--http-idle-timeout"), "{err}");
        let zero = HttpSettings {
            max_connections: 0,
            ..HttpSettings::default()
        };
        assert!(zero
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--http-max-connections"));
    }
}
