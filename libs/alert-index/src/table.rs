//! The index table: opening (and creating), appending, snapshots and commits.
//!
//! Every write is one or more Parquet files and then one commit; a commit is visible all at
//! once or not at all. Writers race for the next log version with a conditional create; the
//! loser reads the commits it lost to, checks that they do not conflict with its own
//! (a `txn` of the same application at or past its version, a file it removes already
//! removed, a changed schema) and tries the next version.

use crate::batch::{self, FileLayout};
use crate::error::{IndexError, Result};
use crate::log::{
    commit_name, commit_version, decode_commit, encode_commit, now_ms, Action, Add, Format,
    Metadata, Protocol, Remove, TableState, Txn, MIN_READER_VERSION, MIN_WRITER_VERSION,
};
use crate::query::FileCache;
use crate::row::IndexRow;
use arrow_array::RecordBatch;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, RwLock};

/// Where the index table lives in the alerts' store.
pub const TABLE_PREFIX: &str = "index/alerts";

/// How many lost races a commit tolerates before giving up.
const MAX_COMMIT_ATTEMPTS: usize = 100;

/// The table at one version, with what a query needs to read it: the store root and a cache
/// of Parquet footers shared by every snapshot of the same table.
#[derive(Debug, Clone)]
pub struct Snapshot {
    state: TableState,
    root: Path,
    pub(crate) cache: Arc<FileCache>,
}

impl Deref for Snapshot {
    type Target = TableState;
    fn deref(&self) -> &TableState {
        &self.state
    }
}

impl Snapshot {
    /// The table root in the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The object path of a data file.
    pub fn file_path(&self, relative: &str) -> Path {
        Path::from(format!("{}/{relative}", self.root))
    }

    /// Reads the table at `root` (e.g. [`TABLE_PREFIX`]) without creating it: `None` when it
    /// has no commit yet. For readers such as the server.
    pub async fn load(store: &Arc<dyn ObjectStore>, root: &str) -> Result<Option<Snapshot>> {
        let empty = Snapshot {
            state: TableState::empty(),
            root: Path::from(root),
            cache: Arc::new(FileCache::default()),
        };
        let loaded = empty.refreshed(store).await?;
        Ok((loaded.version() >= 0).then_some(loaded))
    }

    /// This snapshot brought up to date: reads only the commits after its version.
    pub async fn refreshed(&self, store: &Arc<dyn ObjectStore>) -> Result<Snapshot> {
        let mut next = self.clone();
        let root = self.root.to_string();
        if next.version() < 0 {
            // First read: list the log once, then read every commit in order.
            let versions = list_versions(store, &self.root).await?;
            if let Some(first) = versions.first() {
                if *first != 0 {
                    return Err(IndexError::Unsupported {
                        root,
                        reason: format!(
                            "the log starts at version {first}: older commits were cleaned up after a checkpoint, which this reader does not read"
                        ),
                    });
                }
            }
            let commits: Vec<(i64, Bytes)> = futures::stream::iter(versions)
                .map(|v| {
                    let store = store.clone();
                    let path = log_path(&self.root, v);
                    async move { Ok::<_, IndexError>((v, store.get(&path).await?.bytes().await?)) }
                })
                .buffered(16)
                .try_collect()
                .await?;
            for (version, bytes) in commits {
                let path = log_path(&self.root, version).to_string();
                next.state
                    .apply(version, decode_commit(&path, &bytes)?, &root)?;
            }
        }
        // Then every commit after the newest known one, until one is missing.
        loop {
            let version = next.version() + 1;
            let path = log_path(&self.root, version);
            match store.get(&path).await {
                Ok(result) => {
                    let bytes = result.bytes().await?;
                    next.state
                        .apply(version, decode_commit(path.as_ref(), &bytes)?, &root)?;
                }
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(e.into()),
            }
        }
        next.state.finish();
        if next.version() != self.version() {
            next.cache.retain(next.files());
        }
        Ok(next)
    }
}

fn log_path(root: &Path, version: i64) -> Path {
    Path::from(format!("{root}/_delta_log/{}", commit_name(version)))
}

async fn list_versions(store: &Arc<dyn ObjectStore>, root: &Path) -> Result<Vec<i64>> {
    let prefix = Path::from(format!("{root}/_delta_log"));
    let mut versions: Vec<i64> = store
        .list(Some(&prefix))
        .try_filter_map(|meta| async move { Ok(meta.location.filename().and_then(commit_version)) })
        .try_collect()
        .await?;
    versions.sort_unstable();
    Ok(versions)
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The log version the commit became.
    pub version: i64,
    /// Data files added (relative paths).
    pub files: Vec<String>,
    /// Rows added.
    pub rows: u64,
    /// Races lost to other writers before this version was won.
    pub retries: usize,
}

/// The index table of one store, for writers (the ingester, the compaction job) and
/// long-lived readers. Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct IndexTable {
    store: Arc<dyn ObjectStore>,
    root: Path,
    current: RwLock<Arc<Snapshot>>,
    /// Serialises refreshes so concurrent callers do not read the same commits twice.
    refresh_lock: tokio::sync::Mutex<()>,
    layout: FileLayout,
}

impl IndexTable {
    /// Opens the table at `root` in `store`, creating version 0 (protocol and schema) when
    /// the table does not exist. Creation is race-safe: when two processes create it at once,
    /// one wins and the other reads the winner's version 0 (and fails if its schema differs).
    pub async fn open(store: Arc<dyn ObjectStore>, root: Path) -> Result<Self> {
        let table = Self {
            store,
            current: RwLock::new(Arc::new(Snapshot {
                state: TableState::empty(),
                root: root.clone(),
                cache: Arc::new(FileCache::default()),
            })),
            root,
            refresh_lock: tokio::sync::Mutex::new(()),
            layout: FileLayout::default(),
        };
        let snapshot = table.refresh().await?;
        if snapshot.version() < 0 {
            let created = table.create().await?;
            if !created {
                tracing::debug!(root = %table.root, "another writer created the index table first");
            }
        }
        let snapshot = table.refresh().await?;
        table.check_schema(&snapshot)?;
        Ok(table)
    }

    /// [`IndexTable::open`] with the root as text (e.g. [`TABLE_PREFIX`]).
    pub async fn open_or_create(store: Arc<dyn ObjectStore>, root: &str) -> Result<Self> {
        Self::open(store, Path::from(root)).await
    }

    /// The layout of the files [`IndexTable::append`] writes (row groups, pages).
    pub fn with_layout(mut self, layout: FileLayout) -> Self {
        self.layout = layout;
        self
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    async fn create(&self) -> Result<bool> {
        let metadata = Metadata {
            id: random_id(),
            name: Some("alerts".into()),
            description: Some(
                "One row per archived alert: ids, time, position, HEALPix order-29 nested index, band, PSF flux, archive key and Kafka coordinates".into(),
            ),
            format: Format {
                provider: "parquet".into(),
                options: HashMap::new(),
            },
            schema_string: batch::delta_schema_string(),
            partition_columns: Vec::new(),
            configuration: HashMap::new(),
            created_time: Some(now_ms()),
        };
        let actions = vec![
            Action::commit_info(serde_json::json!({
                "timestamp": now_ms(),
                "operation": "CREATE TABLE",
                "operationParameters": {},
                "clientVersion": format!("alert-index-{}", env!("CARGO_PKG_VERSION")),
            })),
            Action {
                protocol: Some(Protocol {
                    min_reader_version: MIN_READER_VERSION,
                    min_writer_version: MIN_WRITER_VERSION,
                    reader_features: None,
                    writer_features: None,
                }),
                ..Action::default()
            },
            Action {
                metadata: Some(metadata),
                ..Action::default()
            },
        ];
        self.try_put_commit(0, &actions).await
    }

    fn check_schema(&self, snapshot: &Snapshot) -> Result<()> {
        let ours = batch::delta_schema_string();
        match snapshot.metadata() {
            Some(m) if m.schema_string == ours => Ok(()),
            Some(m) => Err(IndexError::Unsupported {
                root: self.root.to_string(),
                reason: format!(
                    "the table's schema is not this version's index schema: {}",
                    m.schema_string
                ),
            }),
            None => Err(IndexError::Unsupported {
                root: self.root.to_string(),
                reason: "the log has no metaData action".into(),
            }),
        }
    }

    /// Writes commit `version` unless it exists: `false` when another writer has it.
    async fn try_put_commit(&self, version: i64, actions: &[Action]) -> Result<bool> {
        let path = log_path(&self.root, version);
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(encode_commit(actions)), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The newest snapshot this handle has read, without reading the store.
    pub fn cached_snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the commits made since the cached snapshot and returns the new snapshot.
    pub async fn refresh(&self) -> Result<Arc<Snapshot>> {
        let _guard = self.refresh_lock.lock().await;
        let cached = self.cached_snapshot();
        let next = cached.refreshed(&self.store).await?;
        if next.version() == cached.version() {
            return Ok(cached);
        }
        let next = Arc::new(next);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = next.clone();
        Ok(next)
    }

    /// The table as it is now (reads only the commits since the last call).
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>> {
        self.refresh().await
    }

    /// The progress an application last committed with its rows (`txn` action), as of now.
    pub async fn txn_version(&self, app_id: &str) -> Result<Option<i64>> {
        Ok(self.refresh().await?.txn_version(app_id))
    }

    /// Appends `rows` as one Parquet file and one commit that also records `txns` (each
    /// application's progress, e.g. the next Kafka offset of a partition).
    ///
    /// Fails with [`IndexError::TxnConflict`] when the table already holds a `txn` of one of
    /// `txns`' applications at or past the version given (another writer committed that
    /// progress: these rows are already in the table); the data file written is then deleted.
    /// An empty `rows` with `txns` commits progress only. `(app_id, version)` pairs convert
    /// with `Txn::from`.
    pub async fn append(&self, rows: Vec<IndexRow>, txns: Vec<Txn>) -> Result<CommitInfo> {
        let record_batch = batch::to_record_batch(&rows)?;
        self.append_batches(vec![record_batch], txns).await
    }

    /// [`IndexTable::append`] of record batches of [`batch::schema()`].
    pub async fn append_batches(
        &self,
        batches: Vec<RecordBatch>,
        txns: Vec<Txn>,
    ) -> Result<CommitInfo> {
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        let mut actions = Vec::new();
        let mut files = Vec::new();
        if rows > 0 {
            let add = self.write_file(&batches, self.layout, true).await?;
            files.push(add.path.clone());
            actions.push(Action::add(add));
        }
        actions.extend(txns.iter().cloned().map(Action::txn));
        let info = serde_json::json!({
            "timestamp": now_ms(),
            "operation": "WRITE",
            "operationParameters": {"mode": "Append"},
            "isBlindAppend": txns.is_empty(),
            "clientVersion": format!("alert-index-{}", env!("CARGO_PKG_VERSION")),
        });
        let result = self.commit(info, actions, &txns, &[]).await;
        match result {
            Ok((version, retries)) => Ok(CommitInfo {
                version,
                files,
                rows,
                retries,
            }),
            Err(e) => {
                self.delete_files(&files).await;
                Err(e)
            }
        }
    }

    pub(crate) async fn delete_files(&self, files: &[String]) {
        let snapshot = self.cached_snapshot();
        for file in files {
            if let Err(error) = self.store.delete(&snapshot.file_path(file)).await {
                tracing::warn!(%error, file, "could not delete an uncommitted index file");
            }
        }
    }

    /// Writes one data file and returns its `add` action.
    pub(crate) async fn write_file(
        &self,
        batches: &[RecordBatch],
        layout: FileLayout,
        data_change: bool,
    ) -> Result<Add> {
        let bytes = batch::batches_to_parquet(batches, layout)?;
        let stats = crate::stats::stats_json(batches);
        let name = format!("part-00000-{}-c000.snappy.parquet", random_id());
        let path = Path::from(format!("{}/{name}", self.root));
        let size = bytes.len() as i64;
        self.store.put(&path, PutPayload::from(bytes)).await?;
        Ok(Add {
            path: name,
            partition_values: HashMap::new(),
            size,
            modification_time: now_ms(),
            data_change,
            stats: Some(stats),
        })
    }

    /// Commits `actions` at the next free version. `txns` are checked against commits made
    /// meanwhile, `removes` (paths) against files removed meanwhile.
    pub(crate) async fn commit(
        &self,
        commit_info: serde_json::Value,
        actions: Vec<Action>,
        txns: &[Txn],
        removes: &[String],
    ) -> Result<(i64, usize)> {
        let mut lines = Vec::with_capacity(actions.len() + 1);
        lines.push(Action::commit_info(commit_info));
        lines.extend(actions);
        let base = self.cached_snapshot();
        let schema = base.metadata().map(|m| m.schema_string.clone());
        for attempt in 0..MAX_COMMIT_ATTEMPTS {
            let snapshot = self.refresh().await?;
            for txn in txns {
                if let Some(committed) = snapshot.txn_version(&txn.app_id) {
                    // Also a conflict when another writer recorded progress of this
                    // application since `base`, the snapshot the caller filtered its rows
                    // against (the ingester drops rows below the table's version): some of
                    // these rows may be among the other writer's, whatever the versions.
                    if committed >= txn.version || Some(committed) != base.txn_version(&txn.app_id)
                    {
                        return Err(IndexError::TxnConflict {
                            app_id: txn.app_id.clone(),
                            committed,
                            attempted: txn.version,
                        });
                    }
                }
            }
            if let Some(gone) = removes.iter().find(|p| !snapshot.contains(p)) {
                return Err(IndexError::Conflict {
                    version: snapshot.version(),
                    reason: format!(
                        "file {gone} was removed by another commit (a concurrent compaction)"
                    ),
                });
            }
            if snapshot.metadata().map(|m| m.schema_string.clone()) != schema {
                return Err(IndexError::Conflict {
                    version: snapshot.version(),
                    reason: "the table's metadata changed".into(),
                });
            }
            let version = snapshot.version() + 1;
            if self.try_put_commit(version, &lines).await? {
                // Read our own commit so the cached snapshot includes it.
                self.refresh().await?;
                return Ok((version, attempt));
            }
            tracing::debug!(
                version,
                attempt,
                "lost the race for a log version; retrying"
            );
        }
        Err(IndexError::TooManyRetries {
            attempts: MAX_COMMIT_ATTEMPTS,
        })
    }

    /// A `remove` action for a live file, as compaction writes it.
    pub(crate) fn remove_action(file: &crate::log::DataFile) -> Action {
        Action::remove(Remove {
            path: file.path.clone(),
            deletion_timestamp: Some(now_ms()),
            data_change: false,
            extended_file_metadata: Some(true),
            partition_values: Some(HashMap::new()),
            size: Some(file.size as i64),
        })
    }

    /// Every alert id in the table (for rebuilding it without duplicates).
    pub async fn alert_ids(&self) -> Result<Vec<i64>> {
        let snapshot = self.refresh().await?;
        crate::query::alert_ids(&snapshot, &self.store).await
    }
}

/// A random 128-bit id in UUID text form (version 4 layout).
pub(crate) fn random_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
