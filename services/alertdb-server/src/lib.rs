//! `alertdb-server`: the alert archive's HTTP API.
//!
//! Scientists and brokers fetch archived alerts and schemas by id
//! (`GET /v1/alerts/{id}`, `GET /v1/schemas/{id}`, as upstream's `alert_database_server`),
//! plus, for people, alerts as JSON, their cutouts as FITS, an OpenAPI document and a docs
//! page. Objects come from the archive's object stores in the layouts of `alert_archive`;
//! they never change once written, so responses carry a strong `ETag` and are cacheable
//! forever, and gzip objects go out as they are to clients that accept gzip.
//!
//! - [`settings`]: flags, file and environment, validated into a [`ServerConfig`];
//! - [`archive`]: reading alerts and schemas through bounded caches;
//! - [`http`]: the routes and the mapping of errors to status codes;
//! - [`herald`]: the Herald-compatible archive API (`/api/alerts`: Avro, JSON, FITS, cutouts,
//!   schema, IVOA DataLink);
//! - [`search`]: questions answered from the alert index (by object, time range, cone);
//! - [`pages`]: alert and object pages for people (HTML, cutout PNGs, light curves);
//! - [`openapi`]: the API description and docs page;
//! - [`metrics`]: Prometheus metrics, served with `/healthz` and `/readyz` on the same port.
//!
//! HTTP is served by `service_kit::http` (timeouts, connection limit, graceful shutdown) on one
//! single-threaded runtime per core.

pub mod archive;
pub mod herald;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod search;
pub mod settings;

pub use settings::{Cli, ServerConfig, Settings};

use archive::{Archive, ArchiveLimits};
use axum::Router;
use object_storage::object_store::{self, ObjectStore, ObjectStoreExt};
use object_storage::StorageError;
use service_kit::ops::{Ops, Readiness};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How often `/readyz` re-checks the object stores.
const READINESS_INTERVAL: Duration = Duration::from_secs(15);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("alerts store: {0}")]
    AlertsStore(#[source] StorageError),
    #[error("schemas store: {0}")]
    SchemasStore(#[source] StorageError),
    #[error("registering metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("serving HTTP: {0}")]
    Serve(#[from] std::io::Error),
}

/// The application: the API and ops routes, and the ops handle (metrics, readiness).
#[derive(Debug)]
pub struct App {
    pub router: Router,
    pub ops: Ops,
    pub archive: Archive,
}

/// Opens the stores and builds the routes.
pub fn app(config: &ServerConfig) -> Result<App, RunError> {
    app_with_index(config, None)
}

/// [`app`] with `objects` telling which alerts belong to an object (object pages) instead of
/// the archive's index table (tests give a fixed list).
pub fn app_with_index(
    config: &ServerConfig,
    objects: Option<Arc<dyn pages::ObjectIndex>>,
) -> Result<App, RunError> {
    let alerts =
        object_storage::open(&config.alerts_url, &config.store).map_err(RunError::AlertsStore)?;
    // One store when both names are the same: `memory://` twice must be the same memory.
    let schemas = if config.schemas_url == config.alerts_url {
        Arc::clone(&alerts)
    } else {
        object_storage::open(&config.schemas_url, &config.store).map_err(RunError::SchemasStore)?
    };
    let ops = Ops::new("alertdb-server", env!("CARGO_PKG_VERSION"));
    let metrics = metrics::Metrics::register(ops.registry())?;
    let archive = Archive::new(
        alerts,
        schemas,
        ArchiveLimits {
            schema_cache_bytes: config.schema_cache_bytes,
            alert_cache_bytes: config.alert_cache_bytes,
            max_alert_bytes: config.max_alert_bytes,
        },
        metrics.clone(),
    );
    let archive = match local_directory(&config.alerts_url) {
        Some(root) => archive.with_local_alerts(root),
        None => archive,
    };
    let (openapi, docs) =
        http::documents(config.path_prefix.as_deref(), config.api_prefix.as_deref());
    let index = config.index.map(|limits| {
        Arc::new(search::IndexSource::new(
            archive.alerts_store().clone(),
            limits,
        ))
    });
    let state = http::AppState {
        archive: archive.clone(),
        metrics,
        prefix: config.path_prefix.as_deref().map(Arc::from),
        openapi,
        docs,
        herald: herald::HeraldApi {
            prefix: config.api_prefix.clone(),
            public_url: config.public_url.clone(),
        },
        index: index.clone(),
        // Object pages ask the index table unless told otherwise; `--no-index`: neither.
        objects: objects.or_else(|| index.map(|i| i as Arc<dyn pages::ObjectIndex>)),
    };
    let router = http::router(state).merge(ops.router());
    Ok(App {
        router,
        ops,
        archive,
    })
}

/// The directory a `file://` URL names (as `object_storage::open` reads it), else `None`.
fn local_directory(url: &str) -> Option<std::path::PathBuf> {
    let parsed = url::Url::parse(url).ok()?;
    (parsed.scheme() == "file")
        .then(|| parsed.to_file_path().ok())
        .flatten()
}

/// Serves on `listener` until `shutdown` is cancelled, then lets requests in flight finish.
/// Requests are served on one runtime thread per core (`service_kit::http::Server::threads`),
/// not the caller's runtime, with `config.http`'s timeouts and connection limit.
pub async fn run(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let app = app(&config)?;
    let readiness = tokio::spawn(watch_stores(
        app.archive.clone(),
        app.ops.readiness().clone(),
        shutdown.clone(),
    ));
    tracing::info!(
        address = %listener.local_addr()?,
        alerts = %config.alerts_url,
        schemas = %config.schemas_url,
        prefix = config.path_prefix.as_deref().unwrap_or(""),
        "serving the alert archive"
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let served = service_kit::http::Server::new(config.http)
        .threads(threads, "alertdb-http")
        .serve(listener, app.router, shutdown.clone().cancelled_owned())
        .await;
    shutdown.cancel();
    let _ = readiness.await;
    tracing::info!("stopped");
    Ok(served?)
}

/// Keeps the `object-store` readiness component up to date: a store that answers "not found"
/// for a probe key works; any other answer (permission denied, unreachable) does not.
async fn watch_stores(archive: Archive, readiness: Readiness, shutdown: CancellationToken) {
    const COMPONENT: &str = "object-store";
    readiness.register(COMPONENT);
    loop {
        let alerts = probe(archive.alerts_store()).await;
        let schemas = probe(archive.schemas_store()).await;
        match alerts.and(schemas) {
            Ok(()) => readiness.set_ready(COMPONENT),
            Err(reason) => {
                tracing::warn!(%reason, "object store not ready");
                readiness.set_not_ready(COMPONENT, reason);
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(READINESS_INTERVAL) => {}
        }
    }
}

async fn probe(store: &Arc<dyn ObjectStore>) -> Result<(), String> {
    let key = object_store::path::Path::from("v2/alerts/readiness-probe");
    match tokio::time::timeout(Duration::from_secs(10), store.head(&key)).await {
        Ok(Ok(_)) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
        Ok(Err(error)) => Err(format!("{store}: {error}")),
        Err(_) => Err(format!("{store}: no answer within 10 s")),
    }
}
