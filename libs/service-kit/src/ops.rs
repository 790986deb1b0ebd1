//! The operational HTTP routes every daemon serves: `/metrics`, `/healthz` and `/readyz`.
//!
//! [`Ops`] owns the daemon's Prometheus registry and its [`Readiness`] board. Its
//! [`router`](Ops::router) is merged beside the daemon's own routes (or served alone on a
//! metrics port for daemons without an HTTP API).
//!
//! - `/healthz` answers 200 while the process serves requests: liveness only, so a broker
//!   outage never gets the pod restarted (restarting would not fix the broker).
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
use std::sync::{Arc, RwLock};

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

/// A daemon's metrics registry and readiness board, and the routes that expose them.
#[derive(Debug, Clone)]
pub struct Ops {
    registry: Registry,
    readiness: Readiness,
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
        }
    }

    /// Where the daemon registers its own metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn readiness(&self) -> &Readiness {
        &self.readiness
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

async fn healthz() -> &'static str {
    "ok"
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
    async fn healthz_is_always_ok() {
        let ops = Ops::new("test", "0.0.0");
        let router: Router = ops.router();
        assert_eq!(
            get(&router, "/healthz").await,
            (StatusCode::OK, "ok".into())
        );
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
