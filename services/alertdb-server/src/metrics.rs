//! The server's Prometheus metrics, registered in the daemon's `Ops` registry.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Counters and histograms of the HTTP API and the archive behind it.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Requests by route template (`/v1/alerts/{id}`) and status code.
    pub requests: IntCounterVec,
    /// Time from request to response head, by route template.
    pub latency: HistogramVec,
    /// Cache lookups by cache (`schema`, `alert`) and result (`hit`, `miss`).
    pub cache: IntCounterVec,
    /// Object store failures other than "not found", by store (`alerts`, `schemas`).
    pub store_errors: IntCounterVec,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new(
                "alertdb_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "alertdb_http_request_duration_seconds",
                "Time to answer an HTTP request, by route",
            )
            .buckets(vec![
                0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                2.5, 5.0, 10.0,
            ]),
            &["route"],
        )?;
        let cache = IntCounterVec::new(
            Opts::new("alertdb_cache_requests_total", "Cache lookups by result"),
            &["cache", "result"],
        )?;
        let store_errors = IntCounterVec::new(
            Opts::new(
                "alertdb_store_errors_total",
                "Object store failures (other than not found) by store",
            ),
            &["store"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(cache.clone()))?;
        registry.register(Box::new(store_errors.clone()))?;
        Ok(Self {
            requests,
            latency,
            cache,
            store_errors,
        })
    }

    /// Metrics in a private registry, for tests and tools.
    pub fn unregistered() -> Self {
        // Registering fresh collectors in a fresh registry cannot collide.
        Self::register(&Registry::new()).expect("fresh registry")
    }
}
