//! Archiving one message: classify it (alert or poison), make sure its schema is stored, and
//! write the gzip of the whole message value under its key.
//!
//! Transient faults (registry unreachable or 5xx, object store errors) are retried here with
//! capped exponential backoff until they clear or the work is cancelled, and the readiness
//! board shows the fault while it lasts. Poison is only what no retry can fix: a message not
//! in the wire format, an unreadable alert id, or a schema id the registry answers 404 for.

use crate::metrics::Metrics;
use alert_archive::Layout;
use alert_packet::Schema;
use bytes::Bytes;
use object_storage::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use registry_client::{RegistryClient, RegistryError};
use service_kit::ops::Readiness;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Readiness component names.
pub const REGISTRY: &str = "schema-registry";
pub const ALERT_STORE: &str = "alert-store";
pub const SCHEMA_STORE: &str = "schema-store";

/// Why a message cannot be archived, whatever the retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Poison {
    #[error("message has no value")]
    NoValue,
    #[error(transparent)]
    Wire(#[from] alert_packet::wire::WireError),
    #[error("alert id unreadable: {0}")]
    AlertId(String),
    #[error("schema id {0} is unknown to the schema registry")]
    UnknownSchema(u32),
    #[error("schema id {id} answers an unexpected body: {reason}")]
    BadSchema { id: u32, reason: String },
}

impl Poison {
    /// A short label for metrics and headers.
    pub fn reason(&self) -> &'static str {
        match self {
            Poison::NoValue => "no_value",
            Poison::Wire(alert_packet::wire::WireError::TooShort { .. }) => "too_short",
            Poison::Wire(alert_packet::wire::WireError::BadMagic { .. }) => "bad_magic",
            Poison::AlertId(_) => "unreadable_alert_id",
            Poison::UnknownSchema(_) => "unknown_schema",
            Poison::BadSchema { .. } => "bad_schema",
        }
    }
}

/// What happened to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Archived {
        alert_id: i64,
        stored_bytes: usize,
        /// The schema id of the message's frame.
        schema_id: u32,
        /// The object written.
        key: object_storage::object_store::path::Path,
    },
    Poison(Poison),
}

/// The work was cancelled (shutdown or revocation) before it was durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled before the write was durable")]
pub struct Cancelled;

/// Capped exponential backoff.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max)
    }
}

/// A readiness component that only takes the board's lock when its state changes.
#[derive(Debug)]
pub struct Health {
    readiness: Readiness,
    name: &'static str,
    ok: AtomicBool,
}

impl Health {
    pub fn new(readiness: &Readiness, name: &'static str) -> Self {
        readiness.set_ready(name);
        Self {
            readiness: readiness.clone(),
            name,
            ok: AtomicBool::new(true),
        }
    }

    pub fn ok(&self) {
        if !self.ok.swap(true, Ordering::Relaxed) {
            tracing::info!(component = self.name, "recovered");
            self.readiness.set_ready(self.name);
        }
    }

    pub fn failing(&self, reason: &str) {
        if self.ok.swap(false, Ordering::Relaxed) {
            tracing::warn!(component = self.name, reason, "failing; retrying");
        }
        self.readiness.set_not_ready(self.name, reason);
    }
}

/// Writes alerts and their schemas.
#[derive(Debug)]
pub struct Archiver {
    alerts: Arc<dyn ObjectStore>,
    schemas: Arc<dyn ObjectStore>,
    registry: RegistryClient,
    layout: Layout,
    gzip_level: u32,
    backoff: Backoff,
    /// Schema ids already stored (or found stored) by this process.
    stored_schemas: Mutex<HashSet<u32>>,
    /// Those schemas parsed, for the index rows (an error when the registry's text does not
    /// parse: the alert is still archived, it only gets no row).
    parsed_schemas: Mutex<HashMap<u32, Result<Arc<Schema>, String>>>,
    /// Held while a schema is fetched and stored, so the alerts in flight when a new schema
    /// id first appears (up to `max_in_flight`) ask the registry once, not once each.
    schema_gate: tokio::sync::Mutex<()>,
    /// Compressions at once: one per core. They run on the runtime's worker threads (~0.3 ms
    /// an alert at the default level 1, up to ~5 ms at level 9) rather than through
    /// `spawn_blocking`, whose hand-offs cost more CPU than they saved (measured 1.12x the
    /// throughput, `BENCH_BASELINE_BIN` in the ingest_throughput bench); other tasks (the
    /// consumer loop, /metrics, /readyz) wait at most one compression. More at once only adds
    /// threads, each with its own malloc arena and compressor state (measured: 64 concurrent
    /// gzips took RSS from ~250 MB to ~850 MB without being faster).
    compressors: tokio::sync::Semaphore,
    metrics: Metrics,
    registry_health: Health,
    alert_store_health: Health,
    schema_store_health: Health,
}

/// How to build an [`Archiver`].
#[derive(Debug)]
pub struct ArchiverParts {
    pub alerts: Arc<dyn ObjectStore>,
    pub schemas: Arc<dyn ObjectStore>,
    pub registry: RegistryClient,
    pub layout: Layout,
    pub gzip_level: u32,
    pub backoff: Backoff,
    pub metrics: Metrics,
    pub readiness: Readiness,
}

impl Archiver {
    pub fn new(parts: ArchiverParts) -> Self {
        Self {
            alerts: parts.alerts,
            schemas: parts.schemas,
            registry: parts.registry,
            layout: parts.layout,
            gzip_level: parts.gzip_level,
            backoff: parts.backoff,
            stored_schemas: Mutex::new(HashSet::new()),
            parsed_schemas: Mutex::new(HashMap::new()),
            schema_gate: tokio::sync::Mutex::new(()),
            compressors: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            metrics: parts.metrics,
            registry_health: Health::new(&parts.readiness, REGISTRY),
            alert_store_health: Health::new(&parts.readiness, ALERT_STORE),
            schema_store_health: Health::new(&parts.readiness, SCHEMA_STORE),
        }
    }

    /// Archives one message value, retrying transient faults until `cancel` fires.
    pub async fn archive(
        &self,
        value: Option<Bytes>,
        cancel: &CancellationToken,
    ) -> Result<Outcome, Cancelled> {
        let Some(value) = value else {
            return Ok(Outcome::Poison(Poison::NoValue));
        };
        let (schema_id, alert_id) = match classify(&value) {
            Ok(ids) => ids,
            Err(poison) => return Ok(Outcome::Poison(poison)),
        };
        if let Err(poison) = self.ensure_schema(schema_id, cancel).await? {
            return Ok(Outcome::Poison(poison));
        }
        let key = alert_archive::alert_key(self.layout, alert_id as u64);
        let level = self.gzip_level;
        let compressed = {
            // The semaphore is never closed, so acquiring cannot fail.
            let _permit = self.compressors.acquire().await.ok();
            Bytes::from(alert_archive::gzip(&value, level))
        };
        let stored_bytes = compressed.len();
        let mut attempt = 0;
        loop {
            match self
                .alerts
                .put(&key, PutPayload::from_bytes(compressed.clone()))
                .await
            {
                Ok(_) => {
                    self.alert_store_health.ok();
                    break;
                }
                Err(error) => {
                    self.alert_store_health
                        .failing(&format!("writing {key}: {error}"));
                    self.wait_retry("alert_write", attempt, cancel).await?;
                    attempt += 1;
                }
            }
        }
        self.metrics.alerts_archived.inc();
        self.metrics.message_bytes.inc_by(value.len() as u64);
        self.metrics.stored_bytes.inc_by(stored_bytes as u64);
        Ok(Outcome::Archived {
            alert_id,
            stored_bytes,
            schema_id,
            key,
        })
    }

    async fn wait_retry(
        &self,
        operation: &str,
        attempt: u32,
        cancel: &CancellationToken,
    ) -> Result<(), Cancelled> {
        self.metrics.retries.with_label_values(&[operation]).inc();
        tokio::select! {
            _ = cancel.cancelled() => Err(Cancelled),
            _ = tokio::time::sleep(self.backoff.delay(attempt)) => Ok(()),
        }
    }

    /// Stores the schema once per process (and only when absent from the store).
    async fn ensure_schema(
        &self,
        schema_id: u32,
        cancel: &CancellationToken,
    ) -> Result<Result<(), Poison>, Cancelled> {
        if self.known(schema_id) {
            return Ok(Ok(()));
        }
        let _gate = tokio::select! {
            _ = cancel.cancelled() => return Err(Cancelled),
            gate = self.schema_gate.lock() => gate,
        };
        if self.known(schema_id) {
            return Ok(Ok(()));
        }
        let mut attempt = 0;
        let schema = loop {
            match self.registry.get_schema(schema_id).await {
                Ok(schema) => {
                    self.registry_health.ok();
                    break schema;
                }
                Err(RegistryError::NotFound { .. }) => {
                    self.registry_health.ok();
                    return Ok(Err(Poison::UnknownSchema(schema_id)));
                }
                Err(error) if error.is_transient() => {
                    self.registry_health
                        .failing(&format!("schema {schema_id}: {error}"));
                    self.wait_retry("registry", attempt, cancel).await?;
                    attempt += 1;
                }
                Err(error) => {
                    // A body that is not the API's: the registry (or a proxy before it) is
                    // misbehaving, which an operator can fix; retry rather than lose alerts.
                    self.registry_health
                        .failing(&format!("schema {schema_id}: {error}"));
                    self.wait_retry("registry", attempt, cancel).await?;
                    attempt += 1;
                }
            }
        };
        let key = alert_archive::schema_key(self.layout, schema_id);
        let mut attempt = 0;
        loop {
            let result = match self.schemas.head(&key).await {
                Ok(_) => Ok(false),
                Err(object_storage::object_store::Error::NotFound { .. }) => self
                    .schemas
                    .put(&key, PutPayload::from(Bytes::from(schema.clone())))
                    .await
                    .map(|_| true),
                Err(error) => Err(error),
            };
            match result {
                Ok(written) => {
                    self.schema_store_health.ok();
                    if written {
                        tracing::info!(schema_id, %key, "schema stored");
                        self.metrics.schemas_written.inc();
                    }
                    break;
                }
                Err(error) => {
                    self.schema_store_health
                        .failing(&format!("schema {key}: {error}"));
                    self.wait_retry("schema_write", attempt, cancel).await?;
                    attempt += 1;
                }
            }
        }
        let parsed = Schema::parse_str(&schema)
            .map(Arc::new)
            .map_err(|e| e.to_string());
        self.parsed_schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(schema_id, parsed);
        self.stored_schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(schema_id);
        Ok(Ok(()))
    }

    /// The parsed form of a schema this archiver stored (known once `archive` returned
    /// `Archived` for a message of that schema).
    pub fn parsed_schema(&self, schema_id: u32) -> Option<Result<Arc<Schema>, String>> {
        self.parsed_schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&schema_id)
            .cloned()
    }

    fn known(&self, schema_id: u32) -> bool {
        self.stored_schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&schema_id)
    }
}

/// The schema id and alert id of a message, or why it is poison.
pub fn classify(value: &[u8]) -> Result<(u32, i64), Poison> {
    let frame = alert_packet::wire::unframe(value)?;
    let alert_id =
        alert_packet::alert::alert_id(frame.body).map_err(|e| Poison::AlertId(e.to_string()))?;
    if alert_id < 0 {
        return Err(Poison::AlertId(format!("negative alert id {alert_id}")));
    }
    Ok((frame.schema_id, alert_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use std::sync::atomic::AtomicUsize;

    fn long(value: i64) -> Vec<u8> {
        let mut n = ((value << 1) ^ (value >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn message(schema_id: u32, alert_id: i64) -> Bytes {
        let mut body = long(alert_id);
        body.extend_from_slice(b"rest of the alert");
        Bytes::from(alert_packet::wire::frame(schema_id, &body))
    }

    /// A registry that knows schema 1101, answers 404 for others, and fails the first
    /// `failures` requests with 503.
    async fn registry(failures: usize) -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let router = Router::new().route(
            "/schemas/ids/{id}",
            get(move |Path(id): Path<u32>| {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < failures {
                        (StatusCode::SERVICE_UNAVAILABLE, "{}".to_owned())
                    } else if id == 1101 {
                        (
                            StatusCode::OK,
                            r#"{"schema":"{\"type\":\"long\"}"}"#.to_owned(),
                        )
                    } else {
                        (
                            StatusCode::NOT_FOUND,
                            r#"{"error_code":40403,"message":"Schema not found"}"#.to_owned(),
                        )
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (url, calls)
    }

    fn archiver(
        url: &str,
        alerts: Arc<dyn ObjectStore>,
        schemas: Arc<dyn ObjectStore>,
    ) -> (Archiver, Readiness) {
        let readiness = Readiness::default();
        let archiver = Archiver::new(ArchiverParts {
            alerts,
            schemas,
            registry: RegistryClient::new(url, Duration::from_secs(2)).unwrap(),
            layout: Layout::V2,
            gzip_level: 1,
            backoff: Backoff {
                initial: Duration::from_millis(5),
                max: Duration::from_millis(20),
            },
            metrics: Metrics::register(&prometheus::Registry::new()).unwrap(),
            readiness: readiness.clone(),
        });
        (archiver, readiness)
    }

    #[test]
    fn poison_is_classified_with_a_reason() {
        assert_eq!(classify(b"\0\0").unwrap_err().reason(), "too_short");
        assert_eq!(
            classify(b"\x01\0\0\x04\x4d\x02").unwrap_err().reason(),
            "bad_magic"
        );
        assert_eq!(
            classify(b"\0\0\0\x04\x4d").unwrap_err().reason(),
            "unreadable_alert_id"
        );
        assert_eq!(
            classify(b"\0\0\0\x04\x4d\xff\xff").unwrap_err().reason(),
            "unreadable_alert_id"
        );
        assert_eq!(classify(&message(1101, 170_000)).unwrap(), (1101, 170_000));
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        };
        assert_eq!(backoff.delay(0), Duration::from_millis(100));
        assert_eq!(backoff.delay(3), Duration::from_millis(800));
        assert_eq!(backoff.delay(40), Duration::from_secs(5));
    }

    #[tokio::test]
    async fn an_alert_and_its_schema_are_stored_once_and_byte_exact() {
        let (url, calls) = registry(0).await;
        let store = object_storage::open("memory://", &Default::default()).unwrap();
        let (archiver, _) = archiver(&url, store.clone(), store.clone());
        let cancel = CancellationToken::new();
        let value = message(1101, 170_000_000_000_042);
        for _ in 0..2 {
            let outcome = archiver
                .archive(Some(value.clone()), &cancel)
                .await
                .unwrap();
            assert!(matches!(
                outcome,
                Outcome::Archived {
                    alert_id: 170_000_000_000_042,
                    ..
                }
            ));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the schema is cached");
        let stored = store
            .get(&"v2/alerts/170000/170000000000042.avro.gz".into())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(alert_archive::gunzip(&stored, 1 << 20).unwrap(), value);
        let schema = store
            .get(&"v2/schemas/1101.json".into())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&schema[..], br#"{"type":"long"}"#);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn alerts_in_flight_with_a_new_schema_ask_the_registry_once() {
        let (url, calls) = registry(0).await;
        let store = object_storage::open("memory://", &Default::default()).unwrap();
        let (archiver, _) = archiver(&url, store.clone(), store.clone());
        let archiver = Arc::new(archiver);
        let cancel = CancellationToken::new();
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let archiver = archiver.clone();
                let cancel = cancel.clone();
                tokio::spawn(async move {
                    archiver
                        .archive(Some(message(1101, 170_000_000_000_000 + i)), &cancel)
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert!(matches!(task.await.unwrap(), Ok(Outcome::Archived { .. })));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A schema unknown to the registry is asked again by each message (it is not cached:
        // it may be registered later), and does not block the known one.
        for _ in 0..2 {
            assert_eq!(
                archiver.archive(Some(message(7, 1)), &cancel).await,
                Ok(Outcome::Poison(Poison::UnknownSchema(7)))
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn unknown_schemas_are_poison_and_outages_are_retried() {
        let (url, calls) = registry(3).await;
        let store = object_storage::open("memory://", &Default::default()).unwrap();
        let (archiver, readiness) = archiver(&url, store.clone(), store.clone());
        let cancel = CancellationToken::new();
        // Three 503s, then the real answer: retried, not poison.
        let outcome = archiver
            .archive(Some(message(7, 1)), &cancel)
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Poison(Poison::UnknownSchema(7)));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert!(readiness.report().ready, "recovered after the outage");
        assert_eq!(
            archiver.archive(None, &cancel).await.unwrap(),
            Outcome::Poison(Poison::NoValue)
        );
    }

    #[tokio::test]
    async fn an_unreachable_registry_blocks_until_cancelled_and_shows_not_ready() {
        let store = object_storage::open("memory://", &Default::default()).unwrap();
        let (archiver, readiness) = archiver("http://127.0.0.1:1", store.clone(), store);
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let probe = readiness.clone();
        let watcher = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let report = probe.report();
            stop.cancel();
            report
        });
        let result = archiver.archive(Some(message(1101, 5)), &cancel).await;
        assert_eq!(result, Err(Cancelled));
        let report = watcher.await.unwrap();
        assert!(!report.ready);
        assert!(!report.components[REGISTRY].ready);
    }

    #[tokio::test]
    async fn a_failing_store_is_retried_until_cancelled() {
        let (url, _) = registry(0).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        // A local store rooted under a regular file cannot create directories.
        let broken: Arc<dyn ObjectStore> = Arc::new(
            object_storage::object_store::local::LocalFileSystem::new_with_prefix(&file).unwrap(),
        );
        let good = object_storage::open("memory://", &Default::default()).unwrap();
        let (archiver, readiness) = archiver(&url, broken, good);
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stop.cancel();
        });
        assert_eq!(
            archiver.archive(Some(message(1101, 5)), &cancel).await,
            Err(Cancelled)
        );
        assert!(!readiness.report().components[ALERT_STORE].ready);
    }
}
