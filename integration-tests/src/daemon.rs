//! Services run in-process by tests: a service's `run(config, listener, shutdown)` future on a
//! tokio task, listening on a fresh 127.0.0.1 port.
//!
//! [`InProcessDaemon`] is the one handle for all of them (alertdb-ingester, alertdb-server,
//! registry-proxy): it knows the address, answers `GET`s, [`stops`](InProcessDaemon::stop)
//! with a deadline and hands back what `run` returned, and cancels the service when dropped,
//! so a test that fails half-way does not leave a service consuming or serving behind it.
//! [`crate::process::Daemon`] is its counterpart for services run as child processes.
//!
//! Logging: services log through `tracing`, which a test binary does not capture, so the
//! subscriber is installed only when the run asks for it with [`LOG_ENV`]
//! (`ALERTDIST_TEST_LOG=1` for info, or a filter such as `ALERTDIST_TEST_LOG=debug`); a plain
//! `cargo test` stays quiet.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The environment variable that turns the services' logs on (see the module docs).
pub const LOG_ENV: &str = "ALERTDIST_TEST_LOG";

/// How long [`InProcessDaemon::stop`] waits: long enough for an ingester to finish its writes
/// in flight and commit, short enough that a hung shutdown fails the test instead of the CI
/// job's timeout.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The log filter [`LOG_ENV`] asks for, if any: `1`/`true` mean `info`, `0`/`false`/empty
/// mean no logs, anything else is a filter directive.
pub fn requested_log_filter() -> Option<String> {
    let value = std::env::var(LOG_ENV).ok()?;
    match value.trim() {
        "" | "0" | "false" => None,
        "1" | "true" => Some("info".to_owned()),
        directive => Some(directive.to_owned()),
    }
}

/// Installs the services' own subscriber (JSON lines on stderr, text with `LOG_FORMAT=text`;
/// `RUST_LOG` wins over the filter) when [`LOG_ENV`] asks for it. Every handle calls it; only
/// the first call in a test binary installs anything.
pub fn init_logging() {
    if let Some(filter) = requested_log_filter() {
        service_kit::telemetry::init(&filter);
    }
}

/// One service running on a task of the test's runtime.
#[derive(Debug)]
pub struct InProcessDaemon<E> {
    name: String,
    address: SocketAddr,
    shutdown: CancellationToken,
    /// `None` once [`InProcessDaemon::stop`] has taken it.
    task: Option<JoinHandle<Result<(), E>>>,
    /// Where the service's API is mounted (a `path_prefix` setting); see
    /// [`InProcessDaemon::api_url`].
    base_path: String,
    http: reqwest::Client,
}

impl<E: Send + 'static> InProcessDaemon<E> {
    /// Binds 127.0.0.1:0 and spawns `run(listener, shutdown)`, e.g.
    /// `InProcessDaemon::start("alertdb-server", |l, s| alertdb_server::run(config, l, s))`.
    /// The listener is bound before the task starts, so the address answers as soon as this
    /// returns (connections wait in the backlog until the service accepts).
    pub async fn start<F, Fut>(name: &str, run: F) -> InProcessDaemon<E>
    where
        F: FnOnce(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        init_logging();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port");
        let address = listener.local_addr().expect("the listener's address");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(listener, shutdown.clone()));
        InProcessDaemon {
            name: name.to_owned(),
            address,
            shutdown,
            task: Some(task),
            base_path: String::new(),
            http: reqwest::Client::new(),
        }
    }

    /// The address the service listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Tells the handle the service mounts its API under `base_path` (its `path_prefix`
    /// setting), for [`InProcessDaemon::api_url`].
    pub fn with_base_path(mut self, base_path: &str) -> Self {
        base_path.clone_into(&mut self.base_path);
        self
    }

    /// `http://ADDRESS{path}`: the root, where the operational routes (`/healthz`,
    /// `/readyz`, `/metrics`) are whatever the API's prefix.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// `http://ADDRESS{base path}{path}`: a route of the service's API.
    pub fn api_url(&self, path: &str) -> String {
        format!("http://{}{}{path}", self.address, self.base_path)
    }

    /// `GET path`: the status and the body. Panics when the request fails, which for a
    /// service on loopback means it is not serving.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self.get_with(path, &[]).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("reading the body"))
    }

    /// `GET path` with request headers; the whole response, for tests of headers and
    /// encodings.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} from {}: {e}", self.name))
    }

    /// Starts the shutdown without waiting for it (for tests of what happens during it);
    /// [`InProcessDaemon::stop`] waits.
    pub fn cancel(&self) {
        self.shutdown.cancel();
    }

    /// Whether `run` has returned (a crash, or the end of a shutdown).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Cancels the service and waits up to [`STOP_TIMEOUT`] for `run` to return; what it
    /// returned. Panics when it does not stop in time or panicked.
    pub async fn stop(self) -> Result<(), E> {
        self.stop_within(STOP_TIMEOUT).await
    }

    /// [`InProcessDaemon::stop`] with another deadline, for tests whose point is a prompt
    /// shutdown.
    pub async fn stop_within(mut self, timeout: Duration) -> Result<(), E> {
        self.shutdown.cancel();
        let task = self.task.take().expect("stopped once");
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => panic!("{} panicked: {join_error}", self.name),
            Err(_) => panic!("{} did not stop within {timeout:?}", self.name),
        }
    }
}

impl<E> Drop for InProcessDaemon<E> {
    fn drop(&mut self) {
        // Cancelling rather than aborting: the service shuts down as it would in production,
        // and a test that already failed does not also see a half-written store.
        self.shutdown.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service like the workspace's: serves until its shutdown token is cancelled.
    async fn hello(listener: TcpListener, shutdown: CancellationToken) -> Result<(), String> {
        let app = axum::Router::new().route("/api/hello", axum::routing::get(|| async { "hi" }));
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn serves_on_its_address_and_stop_returns_what_run_returned() {
        let daemon = InProcessDaemon::start("hello", hello)
            .await
            .with_base_path("/api");
        assert_eq!(daemon.get("/api/hello").await, (200, "hi".to_owned()));
        assert_eq!(
            daemon.api_url("/hello"),
            format!("http://{}/api/hello", daemon.address())
        );
        assert_eq!(daemon.get("/nowhere").await.0, 404);
        assert!(!daemon.is_finished());
        let address = daemon.address();
        assert_eq!(daemon.stop().await, Ok(()));
        assert!(tokio::net::TcpStream::connect(address).await.is_err());

        let failing = InProcessDaemon::start("failing", |_, _| async { Err("broken") }).await;
        assert_eq!(failing.stop().await, Err("broken"));
    }

    #[tokio::test]
    async fn dropping_the_handle_cancels_the_service() {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let daemon = InProcessDaemon::start("waiter", |_, shutdown| async move {
            shutdown.cancelled().await;
            let _ = sender.send(());
            Ok::<(), ()>(())
        })
        .await;
        drop(daemon);
        tokio::time::timeout(Duration::from_secs(5), receiver)
            .await
            .expect("cancelled on drop")
            .unwrap();
    }

    #[tokio::test]
    #[should_panic(expected = "did not stop within")]
    async fn a_service_that_ignores_its_shutdown_fails_the_stop() {
        let daemon = InProcessDaemon::start("stuck", |_, _| async {
            std::future::pending::<()>().await;
            Ok::<(), ()>(())
        })
        .await;
        let _ = daemon.stop_within(Duration::from_millis(200)).await;
    }
}
