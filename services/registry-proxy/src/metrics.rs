//! The proxy's Prometheus metrics, registered in the daemon's `Ops` registry.

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Every metric the proxy updates.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// `registry_proxy_requests_total{route, status}`.
    pub requests: IntCounterVec,
    /// `registry_proxy_cache_lookups_total{cache, result}`: result is `hit`, `miss` (this
    /// request went upstream) or `collapsed` (waited for another request's upstream fetch).
    pub cache_lookups: IntCounterVec,
    /// `registry_proxy_upstream_request_duration_seconds{outcome}`: `response`, `timeout`,
    /// `unreachable`.
    pub upstream_duration: HistogramVec,
    /// `registry_proxy_denied_writes_total{method}`.
    pub denied_writes: IntCounterVec,
    /// `registry_proxy_request_duration_seconds`: time to answer, cache hits included.
    pub request_duration: Histogram,
}

impl Metrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new(
                "registry_proxy_requests_total",
                "Requests answered, by route class and HTTP status",
            ),
            &["route", "status"],
        )?;
        let cache_lookups = IntCounterVec::new(
            Opts::new(
                "registry_proxy_cache_lookups_total",
                "Cache lookups by cache (immutable, passthrough) and result (hit, miss, collapsed)",
            ),
            &["cache", "result"],
        )?;
        let upstream_duration = HistogramVec::new(
            HistogramOpts::new(
                "registry_proxy_upstream_request_duration_seconds",
                "Time of upstream requests, by outcome (response, timeout, unreachable)",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["outcome"],
        )?;
        let denied_writes = IntCounterVec::new(
            Opts::new(
                "registry_proxy_denied_writes_total",
                "Requests refused with 405 because their method is not GET or HEAD",
            ),
            &["method"],
        )?;
        let request_duration = Histogram::with_opts(
            HistogramOpts::new(
                "registry_proxy_request_duration_seconds",
                "Time to answer a proxied request",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0,
            ]),
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(cache_lookups.clone()))?;
        registry.register(Box::new(upstream_duration.clone()))?;
        registry.register(Box::new(denied_writes.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        Ok(Self {
            requests,
            cache_lookups,
            upstream_duration,
            denied_writes,
            request_duration,
        })
    }

    /// The label for a refused method; unknown methods share one label so a scanner cannot
    /// grow the series without bound.
    pub fn method_label(method: &axum::http::Method) -> &'static str {
        match method.as_str() {
            "POST" => "POST",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            "PATCH" => "PATCH",
            "OPTIONS" => "OPTIONS",
            "TRACE" => "TRACE",
            "CONNECT" => "CONNECT",
            _ => "other",
        }
    }
}
