//! Hostile and ordinary clients for the tests of every daemon that serves HTTP: one shared
//! check that a server closes slow-header connections on time while it keeps answering.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What [`slow_headers`] saw.
#[derive(Debug, Clone)]
pub struct SlowHeadersReport {
    /// How long after it was connected the server closed each slow connection (`None`: still
    /// open when the check gave up).
    pub closed_after: Vec<Option<Duration>>,
    /// The latency of each ordinary request sent meanwhile.
    pub latencies: Vec<Duration>,
    /// Ordinary requests that failed or were not answered 200.
    pub failures: Vec<String>,
}

impl SlowHeadersReport {
    /// The slowest slow-connection close; `None` when one was never closed.
    pub fn slowest_close(&self) -> Option<Duration> {
        self.closed_after
            .iter()
            .try_fold(Duration::ZERO, |max, closed| closed.map(|c| c.max(max)))
    }

    /// Checks what a server with this header timeout must do: close every slow connection
    /// after the header timeout (not before, less 100 ms for clock granularity) and within 1 s
    /// past it, while answering every ordinary request (at least 20 of them), 99 % within
    /// 1 s. A summary on success, what failed otherwise.
    pub fn check(&self, header_timeout: Duration) -> Result<String, String> {
        let summary = format!(
            "{} slow-header connections closed after {:?} to {:?}; {} ordinary requests, p50 {:?}, p99 {:?}, {} failed",
            self.closed_after.iter().flatten().count(),
            self.closed_after.iter().flatten().min(),
            self.slowest_close(),
            self.latencies.len(),
            self.latency_quantile(0.5),
            self.latency_quantile(0.99),
            self.failures.len(),
        );
        let Some(slowest) = self.slowest_close() else {
            let open = self.closed_after.iter().filter(|c| c.is_none()).count();
            return Err(format!("{open} slow connections never closed: {summary}"));
        };
        let fastest = self.closed_after.iter().flatten().min().copied();
        if slowest > header_timeout + Duration::from_secs(1) {
            return Err(format!("closed too late: {summary}"));
        }
        if fastest.is_some_and(|f| f + Duration::from_millis(100) < header_timeout) {
            return Err(format!("closed before the header timeout: {summary}"));
        }
        if !self.failures.is_empty() {
            return Err(format!("{summary}: {:?}", self.failures));
        }
        if self.latencies.len() < 20 {
            return Err(format!("too few ordinary requests answered: {summary}"));
        }
        if self.latency_quantile(0.99) >= Duration::from_secs(1) {
            return Err(format!("ordinary requests slowed down: {summary}"));
        }
        Ok(summary)
    }

    /// The `q`-quantile (0..=1) of the ordinary requests' latencies.
    pub fn latency_quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let Some(last) = sorted.len().checked_sub(1) else {
            return Duration::MAX;
        };
        let index = ((last as f64) * q.clamp(0.0, 1.0)).round() as usize;
        sorted[index]
    }
}

/// Opens `connections` connections to `addr` that each send a request line and one header
/// (`GET / HTTP/1.1`, `Host: x`) and then nothing; meanwhile sends ordinary `GET {path}`
/// requests (one connection each, `Connection: close`) every 10 ms. Returns when every slow
/// connection was closed by the server, or after `give_up`.
pub async fn slow_headers(
    addr: SocketAddr,
    connections: usize,
    path: &str,
    give_up: Duration,
) -> SlowHeadersReport {
    let started = Instant::now();
    let mut slow = Vec::with_capacity(connections);
    for _ in 0..connections {
        slow.push(tokio::spawn(slow_client(addr, give_up)));
    }
    let done = Arc::new(AtomicBool::new(false));
    let ordinary = {
        let path = path.to_owned();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Until the slow connections are all closed, or given up on.
            while !done.load(Ordering::Relaxed) && started.elapsed() < give_up {
                tick.tick().await;
                let sent = Instant::now();
                match tokio::time::timeout(Duration::from_secs(5), get(addr, &path)).await {
                    Ok(Ok(200)) => latencies.push(sent.elapsed()),
                    Ok(Ok(status)) => failures.push(format!("GET {path}: {status}")),
                    Ok(Err(error)) => failures.push(format!("GET {path}: {error}")),
                    Err(_) => failures.push(format!("GET {path}: no answer within 5 s")),
                }
            }
            (latencies, failures)
        })
    };
    let mut closed_after = Vec::with_capacity(connections);
    for client in slow {
        closed_after.push(client.await.unwrap_or(None));
    }
    done.store(true, Ordering::Relaxed);
    let (latencies, failures) = ordinary.await.unwrap_or_default();
    SlowHeadersReport {
        closed_after,
        latencies,
        failures,
    }
}

async fn slow_client(addr: SocketAddr, give_up: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.ok()?;
    // The server's clock starts when it accepts, so this one starts once connected: a burst
    // of connects can overflow the SYN queue, and a retried SYN waits a whole second.
    let opened = Instant::now();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .ok()?;
    let mut buf = [0_u8; 1024];
    let remaining = give_up.saturating_sub(started.elapsed());
    let closed = tokio::time::timeout(remaining, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // a 408 or similar before the close is fine
            }
        }
    })
    .await;
    closed.ok().map(|()| opened.elapsed())
}

/// `GET path` on a fresh connection with `Connection: close`; the status code.
pub async fn get(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let head = String::from_utf8_lossy(&response[..response.len().min(64)]).into_owned();
    head.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head:?}")))
}
