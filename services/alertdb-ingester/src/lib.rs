//! `alertdb-ingester`: the alert archive's only writer.
//!
//! It consumes alert topics in a consumer group and writes, for each message, the gzip of the
//! whole Confluent wire-format value to `v2/alerts/{first 6 digits}/{id}.avro.gz` (or the v1
//! layout), and the message's schema, fetched once from the registry, to
//! `v2/schemas/{id}.json` (BRIEF §2). Delivery is at-least-once and rewrites are byte-exact
//! (deterministic gzip), so a crash can duplicate work but never lose or change an alert.
//!
//! - [`settings`]: flags, file and environment → a validated [`settings::IngesterConfig`];
//! - [`archive`]: one message → stored objects, with retries of transient faults;
//! - [`offsets`]: which offsets may be committed while writes finish out of order;
//! - [`ingest`]: the Kafka consumer, rebalances, dead letters, commits and shutdown;
//! - [`index`]: each archived alert's row in the index table, in batches, before its offset
//!   is committed;
//! - [`rebuild`]: `rebuild-index`, the index table from the archive itself;
//! - [`metrics`]: what `/metrics` exports.

pub mod archive;
pub mod index;
pub mod ingest;
pub mod metrics;
pub mod offsets;
pub mod rebuild;
pub mod settings;

use archive::{Archiver, ArchiverParts, Backoff};
use service_kit::ops::Ops;
use settings::IngesterConfig;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Why the ingester could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("opening the store: {0}")]
    Store(#[from] object_storage::StorageError),
    #[error("schema registry client: {0}")]
    Registry(#[from] registry_client::RegistryError),
    #[error("registering metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    #[error("serving /metrics, /healthz, /readyz: {0}")]
    Serve(#[source] std::io::Error),
}

/// Runs the ingester until `shutdown` is cancelled, serving the operations routes on
/// `listener`. Returns after in-flight work is drained (or abandoned) and offsets committed.
pub async fn run(
    config: IngesterConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let ops = Ops::new("alertdb-ingester", env!("CARGO_PKG_VERSION"));
    let metrics = metrics::Metrics::register(ops.registry())?;
    let alerts = object_storage::open(&config.alerts_url, &config.store)?;
    let backoff = Backoff {
        initial: config.retry_initial_backoff,
        max: config.retry_max_backoff,
    };
    let indexer = match &config.index {
        Some(index) => {
            tracing::info!(
                table = %format!("{}/{}", config.alerts_url.trim_end_matches('/'), index::TABLE_PREFIX),
                interval_ms = index.interval.as_millis() as u64,
                max_rows = index.max_rows,
                "indexing"
            );
            Some(Arc::new(index::Indexer::new(index::IndexerParts {
                store: alerts.clone(),
                group: config.group.clone(),
                interval: index.interval,
                max_rows: index.max_rows,
                backoff,
                metrics: metrics.clone(),
            })))
        }
        None => None,
    };
    let archiver = Arc::new(Archiver::new(ArchiverParts {
        alerts,
        schemas: object_storage::open(&config.schemas_url, &config.store)?,
        registry: registry_client::RegistryClient::new(
            &config.registry_url,
            config.registry_timeout,
        )?,
        layout: config.layout,
        gzip_level: config.gzip_level,
        backoff,
        metrics: metrics.clone(),
        readiness: ops.readiness().clone(),
    }));
    tracing::info!(
        alerts = %config.alerts_url,
        schemas = %config.schemas_url,
        layout = %config.layout,
        registry = %config.registry_url,
        gzip_level = config.gzip_level,
        fsync_local_files = config.store.fsync_local_files,
        "archiving"
    );
    let router: axum::Router = ops.router();
    let server_stop = CancellationToken::new();
    let stop = server_stop.clone();
    let server = tokio::spawn(service_kit::http::serve(
        listener,
        router,
        config.http,
        stop.cancelled_owned(),
    ));
    let result = ingest::consume(
        &config,
        archiver,
        indexer,
        metrics,
        ops.readiness().clone(),
        ops.liveness(),
        shutdown,
    )
    .await;
    server_stop.cancel();
    let served = server.await;
    result?;
    match served {
        Ok(Ok(())) | Err(_) => Ok(()),
        Ok(Err(error)) => Err(RunError::Serve(error)),
    }
}
