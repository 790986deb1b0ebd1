//! `alertdb-ingester rebuild-index`: (re)builds the index table from the archive itself, for
//! archives written before the index existed (by this ingester or by upstream's) or after the
//! table was lost.
//!
//! It lists every alert object of both layouts (`v2/alerts/`, `alert_archive/v1/alerts/`,
//! gzip'd or plain), reads each one, takes its writer schema from the schema store
//! (`v2/schemas/{id}.json`, or the v1 key), and appends one row per alert not yet in the
//! table. Rows made here have no Kafka topic, partition or offset: the archive does not keep
//! them. Running it twice, or while ingesters write, adds no duplicate: the alert ids already
//! in the table (read once at the start, and kept as rows are added) are skipped. An alert an
//! ingester indexes after that first read can still get a second row from a concurrent
//! rebuild; the server answers each alert id once, so that costs only a little space until the
//! compaction job drops it.

use crate::index::{build_row, RowSource};
use alert_archive::{schema_candidates, Encoding};
use alert_index::{IndexRow, IndexTable};
use alert_packet::Schema;
use futures::{StreamExt, TryStreamExt};
use object_storage::object_store::path::Path;
use object_storage::object_store::{ObjectStore, ObjectStoreExt};
use object_storage::{StoreArgs, StoreSettings};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// Where alert objects are, by layout.
pub const ALERT_PREFIXES: [&str; 2] = ["v2/alerts/", "alert_archive/v1/alerts/"];
/// The largest alert object read (alerts are ~100 KB; 64 MB stops a runaway object).
const MAX_ALERT_BYTES: u64 = 64 << 20;

/// One-off jobs of the ingester binary.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// (Re)build the index table from the alerts already archived, then exit.
    RebuildIndex(RebuildArgs),
}

/// Flags of `rebuild-index`.
#[derive(Debug, Clone, clap::Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Rows per table commit (one Parquet file each) [default: 100000].
    #[arg(long, value_name = "ROWS", default_value_t = 100_000)]
    pub batch_rows: usize,
    /// Alert objects read at once [default: 16].
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,
}

/// Why a rebuild stopped.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Settings(#[from] object_storage::StoreSettingsError),
    #[error("opening the store: {0}")]
    Store(#[from] object_storage::StorageError),
    #[error("listing {prefix}: {source}")]
    List {
        prefix: String,
        #[source]
        source: object_storage::object_store::Error,
    },
    #[error("reading {key}: {source}")]
    Read {
        key: String,
        #[source]
        source: object_storage::object_store::Error,
    },
    #[error("the index table: {0}")]
    Index(#[from] alert_index::IndexError),
    #[error("store flags: {0}")]
    Flags(String),
    #[error("--batch-rows and --concurrency must be at least 1")]
    Zero,
}

/// What a rebuild did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// Alert objects found.
    pub objects: usize,
    /// Rows added.
    pub added: usize,
    /// Alerts already in the table.
    pub already_indexed: usize,
    /// Objects that are not readable alerts (each logged with its reason).
    pub unreadable: usize,
}

/// Runs `rebuild-index` with its flags.
pub async fn rebuild_from_args(args: &RebuildArgs) -> Result<RebuildReport, RebuildError> {
    if args.batch_rows == 0 || args.concurrency == 0 {
        return Err(RebuildError::Zero);
    }
    // The same keys as the daemon's `[store]` section (serde names of both structs).
    let settings: StoreSettings = serde_json::to_value(&args.store)
        .and_then(serde_json::from_value)
        .map_err(|e| RebuildError::Flags(e.to_string()))?;
    let stores = settings.resolve()?;
    let alerts = object_storage::open(&stores.alerts_url, &stores.options)?;
    let schemas = if stores.schemas_url == stores.alerts_url {
        alerts.clone()
    } else {
        object_storage::open(&stores.schemas_url, &stores.options)?
    };
    rebuild(alerts, schemas, args.batch_rows, args.concurrency).await
}

/// Indexes every alert of `alerts` (schemas from `schemas`) that the table does not hold.
pub async fn rebuild(
    alerts: Arc<dyn ObjectStore>,
    schemas: Arc<dyn ObjectStore>,
    batch_rows: usize,
    concurrency: usize,
) -> Result<RebuildReport, RebuildError> {
    let started = Instant::now();
    let table = IndexTable::open_or_create(alerts.clone(), crate::index::TABLE_PREFIX).await?;
    let mut indexed: HashSet<i64> = table.alert_ids().await?.into_iter().collect();
    tracing::info!(rows = indexed.len(), "index table read");
    let mut report = RebuildReport::default();
    let mut schema_cache: HashMap<u32, Option<Arc<Schema>>> = HashMap::new();
    let mut batch: Vec<IndexRow> = Vec::new();
    for prefix in ALERT_PREFIXES {
        let listed: Vec<Path> = alerts
            .list(Some(&Path::from(prefix)))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|source| RebuildError::List {
                prefix: prefix.to_owned(),
                source,
            })?;
        let keys: Vec<(Path, Encoding)> = listed
            .into_iter()
            .filter_map(|key| {
                let name = key.filename()?;
                if name.ends_with(".avro.gz") {
                    Some((key, Encoding::Gzip))
                } else if name.ends_with(".avro") {
                    Some((key, Encoding::Plain))
                } else {
                    None
                }
            })
            .collect();
        report.objects += keys.len();
        let mut reads = futures::stream::iter(keys)
            .map(|(key, encoding)| {
                let alerts = alerts.clone();
                async move {
                    let bytes = alerts
                        .get(&key)
                        .await
                        .map_err(|source| RebuildError::Read {
                            key: key.to_string(),
                            source,
                        })?
                        .bytes()
                        .await
                        .map_err(|source| RebuildError::Read {
                            key: key.to_string(),
                            source,
                        })?;
                    let value = match encoding {
                        Encoding::Gzip => tokio::task::spawn_blocking(move || {
                            alert_archive::gunzip(&bytes, MAX_ALERT_BYTES)
                                .map_err(|e| e.to_string())
                        })
                        .await
                        .unwrap_or_else(|e| Err(e.to_string())),
                        Encoding::Plain => Ok(bytes.to_vec()),
                    };
                    Ok::<_, RebuildError>((key, value))
                }
            })
            .buffer_unordered(concurrency);
        while let Some(read) = reads.next().await {
            let (key, value) = read?;
            let value = match value {
                Ok(value) => value,
                Err(reason) => {
                    tracing::warn!(%key, %reason, "not a readable gzip object; skipped");
                    report.unreadable += 1;
                    continue;
                }
            };
            let frame = match alert_packet::wire::unframe(&value) {
                Ok(frame) => frame,
                Err(error) => {
                    tracing::warn!(%key, %error, "not a Confluent-framed alert; skipped");
                    report.unreadable += 1;
                    continue;
                }
            };
            if let Ok(id) = alert_packet::alert::alert_id(frame.body) {
                if indexed.contains(&id) {
                    report.already_indexed += 1;
                    continue;
                }
            }
            let schema_id = frame.schema_id;
            let schema = match schema_cache.get(&schema_id) {
                Some(schema) => schema.clone(),
                None => {
                    let schema = read_schema(&schemas, schema_id).await?;
                    schema_cache.insert(schema_id, schema.clone());
                    schema
                }
            };
            let Some(schema) = schema else {
                tracing::warn!(%key, schema_id, "its schema is not in the schema store; skipped");
                report.unreadable += 1;
                continue;
            };
            match build_row(
                Some(Ok(schema)),
                Some(&value),
                key.as_ref(),
                RowSource::Archive,
            ) {
                Ok(row) => {
                    indexed.insert(row.alert_id);
                    batch.push(row);
                }
                Err(reason) => {
                    tracing::warn!(%key, %reason, "alert does not decode; skipped");
                    report.unreadable += 1;
                    continue;
                }
            }
            if batch.len() >= batch_rows {
                report.added += batch.len();
                table.append(std::mem::take(&mut batch), Vec::new()).await?;
                tracing::info!(rows = report.added, "index rows added");
            }
        }
    }
    if !batch.is_empty() {
        report.added += batch.len();
        table.append(batch, Vec::new()).await?;
    }
    tracing::info!(
        objects = report.objects,
        added = report.added,
        already_indexed = report.already_indexed,
        unreadable = report.unreadable,
        seconds = started.elapsed().as_secs_f64(),
        "index rebuilt"
    );
    Ok(report)
}

/// The parsed schema `schema_id` from the first layout that has it; `None` when neither
/// does, or it does not parse (its alerts cannot be indexed; logged).
async fn read_schema(
    schemas: &Arc<dyn ObjectStore>,
    schema_id: u32,
) -> Result<Option<Arc<Schema>>, RebuildError> {
    for key in schema_candidates(schema_id) {
        match schemas.get(&key).await {
            Ok(result) => {
                let bytes = result.bytes().await.map_err(|source| RebuildError::Read {
                    key: key.to_string(),
                    source,
                })?;
                let parsed = std::str::from_utf8(&bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|text| Schema::parse_str(text).map_err(|e| e.to_string()));
                return Ok(match parsed {
                    Ok(schema) => Some(Arc::new(schema)),
                    Err(reason) => {
                        tracing::warn!(%key, %reason, "stored schema does not parse");
                        None
                    }
                });
            }
            Err(object_storage::object_store::Error::NotFound { .. }) => continue,
            Err(source) => {
                return Err(RebuildError::Read {
                    key: key.to_string(),
                    source,
                })
            }
        }
    }
    Ok(None)
}
