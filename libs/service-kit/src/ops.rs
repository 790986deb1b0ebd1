//! The operational HTTP routes every daemon serves: `/metrics`, `/healthz` and `/readyz`.
//!
//! [`Ops`] owns the daemon's Prometheus registry, its [`Readiness`] board and its [`Liveness`]
//! registry. Its [`router`](Ops::router) is merged beside the daemon's own routes (or served
//! alone on a metrics port for daemons without an HTTP API).
//!
//! - `/healthz` answers 200 `ok` while every long-running loop registered with [`Liveness`]
//!   has beaten within its deadline, else 503 with a JSON body naming the stale loops and how
//!   long since each last beat, so Kubernetes restarts a daemon whose loop is stuck. A loop
//!   beats while it is waiting for a dependency that is down (that is readiness, not
//!   liveness: restarting would not fix the broker); only a loop that stops turning misses.
//! - `/readyz` answers 200 only when every registered dependency reports ready, else 503 with
//!   the reasons, so Kubernetes takes the pod out of rotation while a dependency is down.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus::{Encoder, IntGauge, Opts, Registry, TextEncoder};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// Readiness of each dependency of a daemon, by name (`kafka`, `registry`, `object-store`, ...).
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    components: Arc<RwLock<BTreeMap<String, ComponentStatus>>>,
}

/// What one dependency last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentStatus {
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The body of `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadinessReport {
    pub ready: bool,
    pub components: BTreeMap<String, ComponentStatus>,
}

impl Readiness {
    /// Declares a dependency; it is not ready until [`set_ready`](Self::set_ready) says so.
    pub fn register(&self, component: &str) {
        self.set(component, false, Some("starting".into()));
    }

    pub fn set_ready(&self, component: &str) {
        self.set(component, true, None);
    }

    pub fn set_not_ready(&self, component: &str, reason: impl Into<String>) {
        self.set(component, false, Some(reason.into()));
    }

    fn set(&self, component: &str, ready: bool, reason: Option<String>) {
        let mut components = self.components.write().unwrap_or_else(|e| e.into_inner());
        components.insert(component.to_owned(), ComponentStatus { ready, reason });
    }

    /// Ready when every registered component is (and trivially when none is registered).
    pub fn report(&self) -> ReadinessReport {
        let components = self
            .components
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        ReadinessReport {
            ready: components.values().all(|c| c.ready),
            components,
        }
    }
}

/// The long-running loops of a daemon and when each last beat (hog-rs's health registry).
///
/// A loop [`register`](Self::register)s with a deadline and calls [`Heartbeat::beat`] on every
/// turn, idle ones included; `/healthz` fails once any registered loop has not beaten for
/// longer than its deadline. Time is tokio's, so tests can pause it.
#[derive(Debug, Clone)]
pub struct Liveness {
    loops: Arc<RwLock<BTreeMap<String, Arc<LoopState>>>>,
    origin: Instant,
}

#[derive(Debug)]
struct LoopState {
    deadline: Duration,
    /// Nanoseconds from [`Liveness::origin`] to the last beat.
    last_beat: AtomicU64,
}

/// One loop's handle: beat on every turn; [`finish`](Self::finish) when the loop ends normally.
/// Dropping it without `finish` leaves the loop registered (a loop that died stays stale).
#[derive(Debug)]
pub struct Heartbeat {
    name: String,
    state: Arc<LoopState>,
    liveness: Liveness,
}

/// One loop in the body of `/healthz`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoopStatus {
    pub healthy: bool,
    pub seconds_since_beat: f64,
    pub deadline_seconds: f64,
}

/// The body of an unhealthy `/healthz`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivenessReport {
    pub healthy: bool,
    /// The loops that missed their deadline.
    pub stale: Vec<String>,
    pub loops: BTreeMap<String, LoopStatus>,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            loops: Arc::default(),
            origin: Instant::now(),
        }
    }
}

impl Liveness {
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Registers (or replaces) loop `name`, which must beat at least every `deadline`;
    /// registering counts as a first beat.
    pub fn register(&self, name: &str, deadline: Duration) -> Heartbeat {
        let state = Arc::new(LoopState {
            deadline,
            last_beat: AtomicU64::new(self.now()),
        });
        self.loops
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), state.clone());
        Heartbeat {
            name: name.to_owned(),
            state,
            liveness: self.clone(),
        }
    }

    /// Healthy when every registered loop beat within its deadline (and when none is).
    pub fn is_healthy(&self) -> bool {
        let now = self.now();
        self.loops
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .all(|state| !state.is_stale(now))
    }

    pub fn report(&self) -> LivenessReport {
        let now = self.now();
        let loops: BTreeMap<String, LoopStatus> = self
            .loops
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, state)| {
                let since = now.saturating_sub(state.last_beat.load(Ordering::Relaxed));
                let status = LoopStatus {
                    healthy: !state.is_stale(now),
                    seconds_since_beat: Duration::from_nanos(since).as_secs_f64(),
                    deadline_seconds: state.deadline.as_secs_f64(),
                };
                (name.clone(), status)
            })
            .collect();
        let stale: Vec<String> = loops
            .iter()
            .filter(|(_, status)| !status.healthy)
            .map(|(name, _)| name.clone())
            .collect();
        LivenessReport {
            healthy: stale.is_empty(),
            stale,
            loops,
        }
    }
}

impl LoopState {
    fn is_stale(&self, now: u64) -> bool {
        let since = now.saturating_sub(self.last_beat.load(Ordering::Relaxed));
        Duration::from_nanos(since) > self.deadline
    }
}

impl Heartbeat {
    /// The loop turned: one atomic store.
    pub fn beat(&self) {
        self.state
            .last_beat
            .store(self.liveness.now(), Ordering::Relaxed);
    }

    /// The loop ended normally: it no longer counts (unless registered again since).
    pub fn finish(self) {
        let mut loops = self
            .liveness
            .loops
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if loops
            .get(&self.name)
            .is_some_and(|state| Arc::ptr_eq(state, &self.state))
        {
            loops.remove(&self.name);
        }
    }
}

/// A daemon's metrics registry, readiness board and liveness registry, and the routes that
/// expose them.
#[derive(Debug, Clone)]
pub struct Ops {
    registry: Registry,
    readiness: Readiness,
    liveness: Liveness,
}

impl Ops {
    /// A registry with process metrics (RSS, CPU, open files) and a `build_info` gauge.
    pub fn new(service: &str, version: &str) -> Self {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        {
            let process = prometheus::process_collector::ProcessCollector::for_self();
            // Registering a fresh collector in a fresh registry cannot collide.
            let _ = registry.register(Box::new(process));
        }
        if let Ok(info) = IntGauge::with_opts(
            Opts::new("build_info", "Build information of this daemon")
                .const_label("service", service)
                .const_label("version", version),
        ) {
            info.set(1);
            let _ = registry.register(Box::new(info));
        }
        Self {
            registry,
            readiness: Readiness::default(),
            liveness: Liveness::default(),
        }
    }

    /// Where the daemon registers its own metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    pub fn liveness(&self) -> &Liveness {
        &self.liveness
    }

    /// `/metrics`, `/healthz`, `/readyz`; merge it with the daemon's own router.
    pub fn router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .with_state(self.clone())
    }
}

async fn metrics(State(ops): State<Ops>) -> Response {
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    match encoder.encode(&ops.registry.gather(), &mut body) {
        Ok(()) => ([(header::CONTENT_TYPE, encoder.format_type())], body).into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed").into_response()
        }
    }
}

async fn healthz(State(ops): State<Ops>) -> Response {
    // The common case (probed often) reads one atomic per loop and allocates nothing.
    if ops.liveness.is_healthy() {
        return "ok".into_response();
    }
    let report = ops.liveness.report();
    if report.healthy {
        return "ok".into_response();
    }
    tracing::warn!(stale = ?report.stale, "/healthz: loops missed their deadline");
    (StatusCode::SERVICE_UNAVAILABLE, Json(report)).into_response()
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let report = ops.readiness.report();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(router: &Router, path: &str) -> (StatusCode, String) {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn healthz_is_ok_while_no_loop_is_stale() {
        let ops = Ops::new("test", "0.0.0");
        let router: Router = ops.router();
        assert_eq!(
            get(&router, "/healthz").await,
            (StatusCode::OK, "ok".into())
        );
    }

    // Real time with short deadlines: tokio's paused clock needs its `test-util` feature,
    // which would build tokio (and everything above it) twice, for the tests and the binaries.
    #[tokio::test]
    async fn healthz_fails_when_a_loop_misses_its_deadline_and_recovers() {
        let ops = Ops::new("test", "0.0.0");
        let router: Router = ops.router();
        let consume = ops
            .liveness()
            .register("consume-loop", Duration::from_millis(300));
        let _commit = ops
            .liveness()
            .register("commit-loop", Duration::from_secs(60));
        assert_eq!(
            get(&router, "/healthz").await,
            (StatusCode::OK, "ok".into())
        );

        tokio::time::sleep(Duration::from_millis(400)).await;
        let (status, body) = get(&router, "/healthz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let report: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(report["healthy"], false);
        assert_eq!(report["stale"], serde_json::json!(["consume-loop"]));
        let consume_status = &report["loops"]["consume-loop"];
        assert!(consume_status["seconds_since_beat"].as_f64().unwrap() >= 0.4);
        assert_eq!(consume_status["deadline_seconds"], 0.3);
        assert_eq!(consume_status["healthy"], false);
        assert_eq!(report["loops"]["commit-loop"]["healthy"], true);

        consume.beat();
        assert_eq!(
            get(&router, "/healthz").await,
            (StatusCode::OK, "ok".into())
        );
    }

    #[tokio::test]
    async fn a_finished_loop_no_longer_counts_but_a_dropped_one_does() {
        let ops = Ops::new("test", "0.0.0");
        let router: Router = ops.router();
        let short = Duration::from_millis(100);
        let finished = ops.liveness().register("pass", short);
        let died = ops.liveness().register("died", short);
        finished.finish();
        drop(died);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (status, body) = get(&router, "/healthz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("died") && !body.contains("pass"), "{body}");

        // Registering a name again replaces it; finishing the old handle leaves the new one.
        let old = ops.liveness().register("died", short);
        let new = ops.liveness().register("died", Duration::from_secs(60));
        old.finish();
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(get(&router, "/healthz").await.0, StatusCode::OK);
        assert!(ops.liveness().report().loops.contains_key("died"));
        new.finish();
        assert!(ops.liveness().report().loops.is_empty());
    }

    #[tokio::test]
    async fn readyz_follows_every_component() {
        let ops = Ops::new("test", "0.0.0");
        let router: Router = ops.router();
        assert_eq!(get(&router, "/readyz").await.0, StatusCode::OK);

        ops.readiness().register("kafka");
        ops.readiness().register("registry");
        let (status, body) = get(&router, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("starting"), "{body}");

        ops.readiness().set_ready("kafka");
        ops.readiness()
            .set_not_ready("registry", "connection refused");
        let (status, body) = get(&router, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("connection refused"), "{body}");

        ops.readiness().set_ready("registry");
        assert_eq!(get(&router, "/readyz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn metrics_expose_registered_and_process_metrics() {
        let ops = Ops::new("test-svc", "1.2.3");
        let counter = prometheus::IntCounter::new("alerts_total", "alerts").unwrap();
        ops.registry().register(Box::new(counter.clone())).unwrap();
        counter.inc_by(7);
        let router: Router = ops.router();
        let (status, body) = get(&router, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("alerts_total 7"), "{body}");
        assert!(
            body.contains("build_info{service=\"test-svc\",version=\"1.2.3\"} 1"),
            "{body}"
        );
        #[cfg(target_os = "linux")]
        assert!(body.contains("process_resident_memory_bytes"), "{body}");
    }

    #[tokio::test]
    async fn mounts_beside_a_service_router() {
        let ops = Ops::new("test", "0.0.0");
        let router: Router = Router::new()
            .route("/v1/health", axum::routing::get(|| async { "OK" }))
            .merge(ops.router());
        assert_eq!(get(&router, "/v1/health").await.1, "OK");
        assert_eq!(get(&router, "/healthz").await.1, "ok");
    }
}
