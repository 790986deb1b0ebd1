//! Serving HTTP on one single-threaded runtime per core.
//!
//! Under load the multi-threaded scheduler spent about a third of the server's CPU switching
//! threads: every socket event woke a worker, idle workers were woken to steal work, and
//! connections moved between threads. Here each accepted connection is handed, whole, to the
//! runtime thread that has the fewest open connections and lives there until it closes, so
//! an event on it wakes only that thread and nothing is shared between requests but the
//! caches and metrics. The caller's runtime only accepts (rare with keep-alive clients).

use axum::Router;
use std::future::IntoFuture as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Serves `router` on `listener` with `threads` runtime threads until `shutdown` is
/// cancelled; then stops accepting, lets requests in flight finish and returns once every
/// connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    threads: usize,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let workers = (0..threads.max(1))
        .map(|index| Worker::start(index, local, router.clone(), shutdown.clone()))
        .collect::<io::Result<Vec<_>>>()?;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
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
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot hand over an accepted connection");
                continue;
            }
        };
        let worker = workers
            .iter()
            .min_by_key(|worker| worker.open.load(Ordering::Relaxed))
            .expect("at least one worker");
        // Counted here, not when the worker takes it: a burst of accepts must spread out.
        worker.open.fetch_add(1, Ordering::Relaxed);
        if worker.streams.send((stream, peer)).is_err() {
            worker.open.fetch_sub(1, Ordering::Relaxed);
            tracing::error!(worker = worker.index, "HTTP worker thread is gone");
        }
    }
    drop(listener);
    let threads: Vec<_> = workers
        .into_iter()
        .map(|worker| (worker.index, worker.thread))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut result = Ok(());
        for (index, thread) in threads {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => result = Err(error),
                Err(_) => {
                    result = Err(io::Error::other(format!(
                        "HTTP worker thread {index} panicked"
                    )))
                }
            }
        }
        result
    })
    .await
    .map_err(io::Error::other)?
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

type Handed = (std::net::TcpStream, SocketAddr);

struct Worker {
    index: usize,
    streams: mpsc::UnboundedSender<Handed>,
    open: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<io::Result<()>>,
}

impl Worker {
    fn start(
        index: usize,
        local: SocketAddr,
        router: Router,
        shutdown: CancellationToken,
    ) -> io::Result<Self> {
        let (streams, received) = mpsc::unbounded_channel();
        let open = Arc::new(AtomicUsize::new(0));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handoff = Handoff {
            received,
            open: Arc::clone(&open),
            local,
        };
        let thread = std::thread::Builder::new()
            .name(format!("alertdb-http-{index}"))
            .spawn(move || {
                runtime.block_on(
                    axum::serve(handoff, router)
                        .with_graceful_shutdown(shutdown.cancelled_owned())
                        .into_future(),
                )
            })?;
        Ok(Self {
            index,
            streams,
            open,
            thread,
        })
    }
}

/// The connections handed to one worker, as axum's listener.
struct Handoff {
    received: mpsc::UnboundedReceiver<Handed>,
    open: Arc<AtomicUsize>,
    local: SocketAddr,
}

impl axum::serve::Listener for Handoff {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Counted, SocketAddr) {
        loop {
            let Some((stream, peer)) = self.received.recv().await else {
                // The acceptor stopped: shutdown is under way and axum stops calling this.
                return std::future::pending().await;
            };
            // Registers the socket with this thread's reactor.
            match TcpStream::from_std(stream) {
                Ok(stream) => {
                    return (
                        Counted {
                            stream,
                            open: Arc::clone(&self.open),
                        },
                        peer,
                    )
                }
                Err(error) => {
                    self.open.fetch_sub(1, Ordering::Relaxed);
                    tracing::warn!(%error, "cannot serve an accepted connection");
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// A connection that takes itself off its worker's count when closed.
struct Counted {
    stream: TcpStream,
    open: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

// Every method forwards, the vectored ones too: hyper writes head and body with one writev
// only when the stream says it can.
impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
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
