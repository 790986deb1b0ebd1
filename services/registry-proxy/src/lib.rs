//! `registry-proxy`: the schema registry's public, read-only face.
//!
//! Anyone may read the alert schemas; nobody outside may change them. The proxy forwards only
//! `GET` and `HEAD` to a Confluent-API-compatible registry and answers every other method
//! itself with 405, so a write never reaches the registry. It can serve under a path prefix
//! (`/schema-registry`), which lets the registry share a hostname with other services. Schemas
//! by id never change, so they are cached forever (bounded), with one upstream request for
//! any number of concurrent misses, and keep being served while the registry is down.
//!
//! Modules: [`settings`] (flags, environment, validation), [`path`] (what path reaches the
//! upstream), [`upstream`] (the registry client), [`cache`], [`proxy`] (the request path),
//! [`error`] (every error and its HTTP status), [`metrics`].

pub mod cache;
pub mod error;
pub mod metrics;
pub mod path;
pub mod proxy;
pub mod settings;
pub mod upstream;

use axum::Router;
use service_kit::ops::{Ops, Readiness};
use settings::ProxyConfig;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use upstream::Upstream;

/// The readiness component name of the upstream registry.
pub const UPSTREAM_COMPONENT: &str = "upstream";

/// Why the proxy stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Client(#[from] upstream::ClientBuildError),
    #[error("registering metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("serving HTTP: {0}")]
    Serve(#[from] std::io::Error),
}

/// Serves the proxy on `listener` (through `service_kit::http`, with `config.http`'s timeouts
/// and connection limit) until `shutdown` is cancelled, then finishes the requests in flight
/// and returns.
pub async fn run(
    config: ProxyConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let ops = Ops::new("registry-proxy", env!("CARGO_PKG_VERSION"));
    let metrics = metrics::Metrics::register(ops.registry())?;
    let upstream = Upstream::new(&config)?;
    ops.readiness().register(UPSTREAM_COMPONENT);
    let watcher = tokio::spawn(watch_upstream(
        upstream.clone(),
        ops.readiness().clone(),
        config.readiness_interval,
        shutdown.clone(),
    ));
    let proxy = Arc::new(proxy::Proxy::new(&config, upstream, metrics));
    let app = Router::new()
        .merge(ops.router())
        .fallback(proxy::handle)
        .with_state(proxy);
    tracing::info!(
        address = %listener.local_addr()?,
        upstream = config.upstream_base,
        path_prefix = config.path_prefix.as_ref().map(|p| p.as_path()).unwrap_or_default(),
        "registry-proxy listening"
    );
    let served = service_kit::http::serve(
        listener,
        app,
        config.http,
        shutdown.clone().cancelled_owned(),
    )
    .await;
    shutdown.cancel();
    let _ = watcher.await;
    tracing::info!("registry-proxy stopped");
    Ok(served?)
}

/// Keeps `/readyz` in step with the registry: ready while it answers (any status below 500).
async fn watch_upstream(
    upstream: Upstream,
    readiness: Readiness,
    interval: std::time::Duration,
    shutdown: CancellationToken,
) {
    let mut was_ready = None;
    loop {
        let state = match upstream.get("/config", None).await {
            Ok((response, _)) if !response.status.is_server_error() => Ok(()),
            Ok((response, _)) => Err(format!("the registry answered {}", response.status)),
            Err((error, _)) => Err(error.to_string()),
        };
        match &state {
            Ok(()) => readiness.set_ready(UPSTREAM_COMPONENT),
            Err(reason) => readiness.set_not_ready(UPSTREAM_COMPONENT, reason.clone()),
        }
        let ready = state.is_ok();
        if was_ready != Some(ready) {
            match &state {
                Ok(()) => tracing::info!(upstream = upstream.base(), "upstream reachable"),
                Err(reason) => {
                    tracing::warn!(upstream = upstream.base(), reason, "upstream not ready")
                }
            }
            was_ready = Some(ready);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
