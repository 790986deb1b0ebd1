//! Reading the archive: alerts and schemas by id from object storage, in the key order of
//! `alert_archive`, through bounded in-memory caches.
//!
//! Alerts and schemas never change once written, so a cached entry never goes stale; the caches
//! are bounded in bytes only. "Not found" is never cached: an alert may be written a moment
//! after someone asked for it.

use crate::metrics::Metrics;
use alert_archive::{alert_candidates, schema_candidates, Encoding};
use alert_packet::value::{self, Value};
use alert_packet::{wire, Schema};
use bytes::Bytes;
use moka::future::Cache;
use object_storage::object_store::{self, ObjectStore, ObjectStoreExt};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// Why an alert or schema could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ArchiveError {
    #[error("alert not found")]
    AlertNotFound,
    #[error("schema not found")]
    SchemaNotFound,
    /// The store failed (permission denied, unreachable, timeout): the client may retry.
    #[error("object store failed reading {key}: {source}")]
    Store {
        key: String,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The object exists but is not what the archive holds.
    #[error("stored alert {alert_id} is corrupt: {reason}")]
    CorruptAlert { alert_id: u64, reason: String },
    #[error("schema {schema_id} of alert {alert_id} is not in the archive")]
    AlertSchemaMissing { alert_id: u64, schema_id: u32 },
    #[error("stored schema {schema_id} does not parse: {reason}")]
    InvalidSchema { schema_id: u32, reason: String },
}

/// An alert object as stored: gzip or plain wire-format bytes.
#[derive(Debug, Clone)]
pub struct StoredAlert {
    pub bytes: Bytes,
    pub encoding: Encoding,
}

impl StoredAlert {
    /// The Confluent wire-format message, decompressing if need be (at most `limit` bytes).
    pub fn wire_bytes(&self, alert_id: u64, limit: u64) -> Result<Bytes, ArchiveError> {
        match self.encoding {
            Encoding::Plain => Ok(self.bytes.clone()),
            Encoding::Gzip => alert_archive::gunzip(&self.bytes, limit)
                .map(Bytes::from)
                .map_err(|e| ArchiveError::CorruptAlert {
                    alert_id,
                    reason: e.to_string(),
                }),
        }
    }
}

/// A schema as stored, with its parsed form made on first use.
#[derive(Debug)]
pub struct StoredSchema {
    /// The registry's schema string, UTF-8 JSON.
    pub text: Bytes,
    /// `text` gzip-compressed once, for clients that accept gzip (a v11.1 schema is ~120 KB of
    /// JSON and compresses ~10×).
    pub gzip: Bytes,
    parsed: OnceLock<Result<Arc<Schema>, String>>,
}

impl StoredSchema {
    fn new(text: Bytes) -> Self {
        Self {
            gzip: Bytes::from(alert_archive::gzip(&text, 9)),
            text,
            parsed: OnceLock::new(),
        }
    }

    /// The parsed schema; parsed once, on first use.
    pub fn parsed(&self, schema_id: u32) -> Result<Arc<Schema>, ArchiveError> {
        self.parsed
            .get_or_init(|| {
                let text = std::str::from_utf8(&self.text).map_err(|e| e.to_string())?;
                Schema::parse_str(text)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|reason| ArchiveError::InvalidSchema { schema_id, reason })
    }
}

/// An alert decoded with its schema.
#[derive(Debug, Clone)]
pub struct DecodedAlert {
    /// The id of the writer schema (the wire header's).
    pub schema_id: u32,
    pub schema: Arc<Schema>,
    pub value: Value,
}

/// The archive's two stores and the caches in front of them.
#[derive(Debug, Clone)]
pub struct Archive {
    alerts: Arc<dyn ObjectStore>,
    /// The alerts' directory when their store is local files: read directly, see
    /// [`read_local_alert`].
    local_alerts: Option<Arc<PathBuf>>,
    schemas: Arc<dyn ObjectStore>,
    schema_cache: Cache<u32, Arc<StoredSchema>>,
    alert_cache: Option<Cache<u64, StoredAlert>>,
    max_alert_bytes: u64,
    metrics: Metrics,
}

/// Cache sizes and limits of an [`Archive`].
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    pub schema_cache_bytes: u64,
    pub alert_cache_bytes: Option<u64>,
    pub max_alert_bytes: u64,
}

fn weight(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX).max(1)
}

impl Archive {
    pub fn new(
        alerts: Arc<dyn ObjectStore>,
        schemas: Arc<dyn ObjectStore>,
        limits: ArchiveLimits,
        metrics: Metrics,
    ) -> Self {
        let schema_cache = Cache::builder()
            .max_capacity(limits.schema_cache_bytes)
            // Parsed schemas take a few times their text; the text is a fair proxy.
            .weigher(|_, schema: &Arc<StoredSchema>| weight(schema.text.len()))
            .build();
        let alert_cache = limits.alert_cache_bytes.map(|bytes| {
            Cache::builder()
                .max_capacity(bytes)
                .weigher(|_, alert: &StoredAlert| weight(alert.bytes.len()))
                .build()
        });
        Self {
            alerts,
            local_alerts: None,
            schemas,
            schema_cache,
            alert_cache,
            max_alert_bytes: limits.max_alert_bytes,
            metrics,
        }
    }

    /// Reads alerts straight from `root`, the directory of the alerts' `file://` store, with
    /// one `read` per candidate key on the calling thread, instead of the generic store's two
    /// blocking-pool calls per key (open+stat, then read) and its per-object metadata: no
    /// thread hand-off per request. Keys come from `alert_archive`, so paths stay under
    /// `root`.
    pub fn with_local_alerts(mut self, root: PathBuf) -> Self {
        self.local_alerts = Some(Arc::new(root));
        self
    }

    pub fn max_alert_bytes(&self) -> u64 {
        self.max_alert_bytes
    }

    pub fn alerts_store(&self) -> &Arc<dyn ObjectStore> {
        &self.alerts
    }

    pub fn schemas_store(&self) -> &Arc<dyn ObjectStore> {
        &self.schemas
    }

    /// The stored alert, from the cache or the first layout that has it.
    pub async fn alert(&self, alert_id: u64) -> Result<StoredAlert, ArchiveError> {
        let Some(cache) = &self.alert_cache else {
            return self.read_alert(alert_id).await;
        };
        if let Some(alert) = cache.get(&alert_id).await {
            self.metrics
                .cache
                .with_label_values(&["alert", "hit"])
                .inc();
            return Ok(alert);
        }
        self.metrics
            .cache
            .with_label_values(&["alert", "miss"])
            .inc();
        cache
            .try_get_with(alert_id, self.read_alert(alert_id))
            .await
            .map_err(|e| (*e).clone())
    }

    async fn read_alert(&self, alert_id: u64) -> Result<StoredAlert, ArchiveError> {
        if let Some(root) = &self.local_alerts {
            // On the runtime thread: a ~70 KB alert in the page cache takes tens of
            // microseconds, less than a hand-off to the blocking pool and back (two thread
            // wake-ups). An alert not in the page cache stalls this thread's other
            // connections for one disk read; the other runtime threads go on.
            return match read_local_alert(root, alert_id) {
                Ok(Some(alert)) => Ok(alert),
                Ok(None) => Err(ArchiveError::AlertNotFound),
                Err(error) => {
                    self.metrics
                        .store_errors
                        .with_label_values(&["alerts"])
                        .inc();
                    Err(error)
                }
            };
        }
        for (key, encoding) in alert_candidates(alert_id) {
            if let Some(bytes) = self.read(&self.alerts, "alerts", &key).await? {
                return Ok(StoredAlert { bytes, encoding });
            }
        }
        Err(ArchiveError::AlertNotFound)
    }

    /// The stored schema, from the cache or the first layout that has it.
    pub async fn schema(&self, schema_id: u32) -> Result<Arc<StoredSchema>, ArchiveError> {
        if let Some(schema) = self.schema_cache.get(&schema_id).await {
            self.metrics
                .cache
                .with_label_values(&["schema", "hit"])
                .inc();
            return Ok(schema);
        }
        self.metrics
            .cache
            .with_label_values(&["schema", "miss"])
            .inc();
        self.schema_cache
            .try_get_with(schema_id, async move {
                for key in schema_candidates(schema_id) {
                    if let Some(text) = self.read(&self.schemas, "schemas", &key).await? {
                        return Ok(Arc::new(StoredSchema::new(text)));
                    }
                }
                Err(ArchiveError::SchemaNotFound)
            })
            .await
            .map_err(|e| (*e).clone())
    }

    /// The alert's wire-format message, its schema id and its parsed writer schema.
    pub async fn message_and_schema(
        &self,
        alert_id: u64,
    ) -> Result<(Bytes, u32, Arc<Schema>), ArchiveError> {
        let stored = self.alert(alert_id).await?;
        let message = stored.wire_bytes(alert_id, self.max_alert_bytes)?;
        let frame = wire::unframe(&message).map_err(|e| ArchiveError::CorruptAlert {
            alert_id,
            reason: e.to_string(),
        })?;
        let schema_id = frame.schema_id;
        let schema = match self.schema(schema_id).await {
            Ok(schema) => schema.parsed(schema_id)?,
            Err(ArchiveError::SchemaNotFound) => {
                return Err(ArchiveError::AlertSchemaMissing {
                    alert_id,
                    schema_id,
                })
            }
            Err(other) => return Err(other),
        };
        Ok((message, schema_id, schema))
    }

    /// The alert decoded with the schema its header names. Decoding runs on the blocking
    /// pool: a large alert takes milliseconds, which must not stall other requests.
    pub async fn decoded_alert(&self, alert_id: u64) -> Result<DecodedAlert, ArchiveError> {
        let (message, schema_id, schema) = self.message_and_schema(alert_id).await?;
        let decode_schema = Arc::clone(&schema);
        let decoded = tokio::task::spawn_blocking(move || {
            let body = &message[wire::HEADER_LEN..];
            value::decode(&decode_schema, body).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| ArchiveError::CorruptAlert {
            alert_id,
            reason: format!("decoding stopped: {e}"),
        })?;
        let value = decoded.map_err(|reason| ArchiveError::CorruptAlert {
            alert_id,
            reason: format!("does not decode with schema {schema_id}: {reason}"),
        })?;
        Ok(DecodedAlert {
            schema_id,
            schema,
            value,
        })
    }

    /// The object's bytes, `None` when absent.
    async fn read(
        &self,
        store: &Arc<dyn ObjectStore>,
        store_name: &str,
        key: &object_store::path::Path,
    ) -> Result<Option<Bytes>, ArchiveError> {
        let failed = |source: object_store::Error| {
            self.metrics
                .store_errors
                .with_label_values(&[store_name])
                .inc();
            ArchiveError::Store {
                key: key.to_string(),
                source: Arc::new(source),
            }
        };
        match store.get(key).await {
            Ok(result) => match result.bytes().await {
                Ok(bytes) => Ok(Some(bytes)),
                // Deleted between the two calls (alerts may be purged after N days).
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(failed(e)),
            },
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }
}

/// The first candidate of `alert_id` under `root`, `None` when there is none.
fn read_local_alert(
    root: &std::path::Path,
    alert_id: u64,
) -> Result<Option<StoredAlert>, ArchiveError> {
    for (key, encoding) in alert_candidates(alert_id) {
        let path = root.join(key.as_ref());
        match std::fs::read(&path) {
            Ok(bytes) => {
                return Ok(Some(StoredAlert {
                    bytes: Bytes::from(bytes),
                    encoding,
                }))
            }
            // Absent, or a missing directory on the way (ENOTDIR): try the next layout.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.kind() == std::io::ErrorKind::NotADirectory
                    || e.kind() == std::io::ErrorKind::IsADirectory =>
            {
                continue
            }
            Err(e) => {
                return Err(ArchiveError::Store {
                    key: key.to_string(),
                    source: Arc::new(e),
                })
            }
        }
    }
    Ok(None)
}

/// The bytes of a top-level nullable-bytes field of a decoded alert (`cutoutDifference`),
/// `None` when the schema has no such field or the alert has none.
pub fn top_level_bytes<'a>(decoded: &'a DecodedAlert, field_name: &str) -> Option<&'a [u8]> {
    let record = decoded.schema.root_record()?;
    let Value::Record(values) = &decoded.value else {
        return None;
    };
    let index = record.fields.iter().position(|f| f.name == field_name)?;
    let mut value = values.get(index)?;
    while let Value::Union(_, inner) = value {
        value = inner;
    }
    match value {
        Value::Bytes(bytes) | Value::Fixed(bytes) => Some(bytes),
        _ => None,
    }
}

/// The bytes of a top-level nullable-bytes field (`cutoutDifference`) read straight from an
/// alert's Avro body, skipping the fields before it without building them: `None` when the
/// schema has no such field or the alert has none. A cutout is the last fields of an alert,
/// after ~100 KB of history, so this is several times cheaper than decoding it all.
pub fn body_field_bytes<'a>(
    schema: &Schema,
    body: &'a [u8],
    field_name: &str,
) -> Result<Option<&'a [u8]>, alert_packet::binary::DecodeError> {
    use alert_packet::schema::Node;
    let Some(record) = schema.root_record() else {
        return Ok(None);
    };
    let Some(index) = record.fields.iter().position(|f| f.name == field_name) else {
        return Ok(None);
    };
    let mut cursor = alert_packet::binary::Cursor::new(body);
    for field in &record.fields[..index] {
        value::skip_node(schema, field.schema, &mut cursor)?;
    }
    let mut node = record.fields[index].schema;
    if let Node::Union(branches) = schema.node(node) {
        let branch = cursor.long()?;
        match usize::try_from(branch).ok().and_then(|b| branches.get(b)) {
            Some(b) => node = *b,
            None => return Ok(None),
        }
    }
    match schema.node(node) {
        Node::Bytes => {
            let n = cursor.length()?;
            Ok(Some(cursor.take(n)?))
        }
        Node::Fixed(fixed) => Ok(Some(cursor.take(fixed.size)?)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alert_archive::{alert_key, gzip, schema_key, Layout};
    use object_storage::object_store::memory::InMemory;
    use object_storage::object_store::PutPayload;

    const SCHEMA: &str = r#"{"type":"record","name":"alert","namespace":"t","fields":[
        {"name":"alertId","type":"long"},
        {"name":"cutoutDifference","type":["null","bytes"],"default":null}]}"#;

    fn archive(store: Arc<dyn ObjectStore>, alert_cache: Option<u64>) -> Archive {
        Archive::new(
            Arc::clone(&store),
            store,
            ArchiveLimits {
                schema_cache_bytes: 1 << 20,
                alert_cache_bytes: alert_cache,
                max_alert_bytes: 1 << 20,
            },
            Metrics::unregistered(),
        )
    }

    fn message(schema: &Schema, alert_id: i64, cutout: Option<&[u8]>) -> Vec<u8> {
        let value = Value::Record(vec![
            Value::Long(alert_id),
            cutout.map_or(Value::Null, |c| Value::Bytes(c.to_vec())),
        ]);
        wire::frame(7, &value::encode(schema, &value).unwrap())
    }

    #[tokio::test]
    async fn reads_every_layout_in_order() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let schema = Schema::parse_str(SCHEMA).unwrap();
        let v2 = message(&schema, 1, None);
        let v1_plain = message(&schema, 2, None);
        store
            .put(&alert_key(Layout::V2, 1), PutPayload::from(gzip(&v2, 6)))
            .await
            .unwrap();
        store
            .put(
                &alert_candidates(2)[3].0,
                PutPayload::from(v1_plain.clone()),
            )
            .await
            .unwrap();
        // v2 wins over v1 when both exist.
        store
            .put(
                &alert_key(Layout::V1, 1),
                PutPayload::from(gzip(b"other", 6)),
            )
            .await
            .unwrap();
        let archive = archive(store, Some(1 << 20));
        let first = archive.alert(1).await.unwrap();
        assert_eq!(first.encoding, Encoding::Gzip);
        assert_eq!(first.wire_bytes(1, 1 << 20).unwrap(), v2);
        let second = archive.alert(2).await.unwrap();
        assert_eq!(second.encoding, Encoding::Plain);
        assert_eq!(second.wire_bytes(2, 1 << 20).unwrap(), v1_plain);
        assert!(matches!(
            archive.alert(3).await,
            Err(ArchiveError::AlertNotFound)
        ));
        // Cached: a second read is a hit.
        archive.alert(1).await.unwrap();
        assert_eq!(
            archive
                .metrics
                .cache
                .with_label_values(&["alert", "hit"])
                .get(),
            1
        );
    }

    #[tokio::test]
    async fn decodes_with_the_stored_schema_and_finds_cutouts() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let schema = Schema::parse_str(SCHEMA).unwrap();
        store
            .put(
                &schema_key(Layout::V1, 7),
                PutPayload::from_static(SCHEMA.as_bytes()),
            )
            .await
            .unwrap();
        for (id, cutout) in [(10u64, Some(&b"SIMPLE"[..])), (11, None)] {
            let bytes = gzip(&message(&schema, id as i64, cutout), 6);
            store
                .put(&alert_key(Layout::V2, id), PutPayload::from(bytes))
                .await
                .unwrap();
        }
        let archive = archive(store.clone(), None);
        let with = archive.decoded_alert(10).await.unwrap();
        assert_eq!(
            top_level_bytes(&with, "cutoutDifference"),
            Some(&b"SIMPLE"[..])
        );
        assert_eq!(top_level_bytes(&with, "cutoutScience"), None);
        let without = archive.decoded_alert(11).await.unwrap();
        assert_eq!(top_level_bytes(&without, "cutoutDifference"), None);
        // The same without decoding.
        for (id, expected) in [(10u64, Some(&b"SIMPLE"[..])), (11, None)] {
            let (message, _, schema) = archive.message_and_schema(id).await.unwrap();
            let body = &message[wire::HEADER_LEN..];
            assert_eq!(
                body_field_bytes(&schema, body, "cutoutDifference").unwrap(),
                expected
            );
            assert_eq!(
                body_field_bytes(&schema, body, "cutoutScience").unwrap(),
                None
            );
        }
    }

    #[tokio::test]
    async fn corrupt_objects_are_reported_not_panicked_on() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        store
            .put(
                &alert_key(Layout::V2, 1),
                PutPayload::from_static(b"not gzip"),
            )
            .await
            .unwrap();
        store
            .put(
                &alert_candidates(2)[1].0,
                PutPayload::from_static(b"\x01abc"),
            )
            .await
            .unwrap();
        store
            .put(
                &alert_candidates(3)[1].0,
                PutPayload::from_static(b"\0\0\0\0\x09x"),
            )
            .await
            .unwrap();
        store
            .put(
                &alert_candidates(4)[1].0,
                PutPayload::from_static(b"\0\0\0\0\x08x"),
            )
            .await
            .unwrap();
        store
            .put(
                &schema_key(Layout::V2, 8),
                PutPayload::from_static(b"{not json"),
            )
            .await
            .unwrap();
        let archive = archive(store, None);
        assert!(matches!(
            archive.decoded_alert(1).await,
            Err(ArchiveError::CorruptAlert { alert_id: 1, .. })
        ));
        assert!(matches!(
            archive.decoded_alert(2).await,
            Err(ArchiveError::CorruptAlert { alert_id: 2, .. })
        ));
        assert!(matches!(
            archive.decoded_alert(3).await,
            Err(ArchiveError::AlertSchemaMissing {
                alert_id: 3,
                schema_id: 9
            })
        ));
        assert!(matches!(
            archive.decoded_alert(4).await,
            Err(ArchiveError::InvalidSchema { schema_id: 8, .. })
        ));
    }
}
