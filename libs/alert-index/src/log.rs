//! The Delta Lake transaction log: actions, commits and the table state they add up to.
//!
//! A minimal implementation of the Delta protocol (reader version 1, writer version 2) on
//! `object_store`, because the `deltalake` crate pins object_store 0.13 (the workspace uses
//! 0.14) and pulls in DataFusion, far too heavy to build and run on the 2-core hosts this
//! system targets. What it implements:
//!
//! - commits `_delta_log/{version:020}.json`, one JSON action per line, created with
//!   `PutMode::Create` so that exactly one writer wins each version (GCS, S3 and local files
//!   all support conditional creation);
//! - actions `protocol`, `metaData`, `add` (with `stats` for data skipping), `remove`, `txn`
//!   and `commitInfo`; others (`cdc`, `domainMetadata`, ...) are ignored on read;
//! - reading by replaying the JSON commits from version 0, then only the new ones
//!   ([`TableState::apply`]). Checkpoints are neither written nor read: a table whose early
//!   commits were cleaned up after a checkpoint (Spark's log retention) is refused with
//!   [`IndexError::Unsupported`] rather than read wrongly.

use crate::error::{IndexError, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};

/// Delta protocol versions this crate reads and writes.
pub const MIN_READER_VERSION: i32 = 1;
pub const MIN_WRITER_VERSION: i32 = 2;

/// The `protocol` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Protocol {
    pub min_reader_version: i32,
    pub min_writer_version: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_features: Option<Vec<String>>,
}

/// `metaData.format`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Format {
    pub provider: String,
    #[serde(default)]
    pub options: HashMap<String, String>,
}

/// The `metaData` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub format: Format,
    pub schema_string: String,
    pub partition_columns: Vec<String>,
    #[serde(default)]
    pub configuration: HashMap<String, Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<i64>,
}

/// The `add` action: a data file joins the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Add {
    /// Relative to the table root (URL-encoded in general; this crate's names need none).
    pub path: String,
    #[serde(default)]
    pub partition_values: HashMap<String, Option<String>>,
    pub size: i64,
    pub modification_time: i64,
    pub data_change: bool,
    /// JSON: `numRecords`, `minValues`, `maxValues`, `nullCount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<String>,
}

/// The `remove` action: a data file leaves the table (logically; the object stays for
/// readers of older versions until a vacuum deletes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Remove {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<i64>,
    pub data_change: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_file_metadata: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_values: Option<HashMap<String, Option<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}

/// The `txn` action: an application's progress, committed atomically with its data. The
/// ingester records `appId = alertdb-ingester/{group}/{topic}/{partition}` and
/// `version = next Kafka offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Txn {
    pub app_id: String,
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<i64>,
}

impl<S: Into<String>> From<(S, i64)> for Txn {
    fn from((app_id, version): (S, i64)) -> Self {
        Txn::new(app_id, version)
    }
}

impl Txn {
    pub fn new(app_id: impl Into<String>, version: i64) -> Self {
        Self {
            app_id: app_id.into(),
            version,
            last_updated: Some(now_ms()),
        }
    }
}

/// One line of a commit: exactly one of the fields is set. Unknown actions are kept as
/// nothing (ignored), as the protocol asks of readers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    #[serde(default, rename = "metaData", skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add: Option<Add>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<Remove>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<Txn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_info: Option<Json>,
}

impl Action {
    pub fn add(add: Add) -> Self {
        Self {
            add: Some(add),
            ..Self::default()
        }
    }
    pub fn remove(remove: Remove) -> Self {
        Self {
            remove: Some(remove),
            ..Self::default()
        }
    }
    pub fn txn(txn: Txn) -> Self {
        Self {
            txn: Some(txn),
            ..Self::default()
        }
    }
    pub fn commit_info(info: Json) -> Self {
        Self {
            commit_info: Some(info),
            ..Self::default()
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A commit's lines.
pub fn encode_commit(actions: &[Action]) -> Vec<u8> {
    let mut out = Vec::new();
    for action in actions {
        // Serializing these plain structs cannot fail.
        out.extend_from_slice(&serde_json::to_vec(action).unwrap_or_default());
        out.push(b'\n');
    }
    out
}

/// Parses a commit's lines.
pub fn decode_commit(path: &str, bytes: &[u8]) -> Result<Vec<Action>> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| {
            serde_json::from_slice(line).map_err(|e| IndexError::Log {
                path: path.to_owned(),
                reason: format!("not a Delta action line: {e}"),
            })
        })
        .collect()
}

/// The name of commit `version` inside `_delta_log/`.
pub fn commit_name(version: i64) -> String {
    format!("{version:020}.json")
}

/// The version of a `_delta_log/` entry, if it is a JSON commit.
pub fn commit_version(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(".json")?;
    (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

/// Min and max of one column in a file, from its `add.stats`.
pub type Bounds<T> = Option<(T, T)>;

/// What a file's `stats` say about the columns queries prune by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileStats {
    pub num_records: u64,
    pub alert_id: Bounds<i64>,
    pub dia_object_id: Bounds<i64>,
    pub mjd_tai: Bounds<f64>,
    pub healpix29: Bounds<i64>,
}

impl FileStats {
    /// Parses `add.stats`; missing or unreadable stats give no bounds (the file is never
    /// skipped, only read).
    pub fn parse(stats: Option<&str>) -> FileStats {
        let Some(json) = stats.and_then(|s| serde_json::from_str::<Json>(s).ok()) else {
            return FileStats::default();
        };
        let bound_i = |name: &str| {
            Some((
                json["minValues"][name].as_i64()?,
                json["maxValues"][name].as_i64()?,
            ))
        };
        let bound_f = |name: &str| {
            Some((
                json["minValues"][name].as_f64()?,
                json["maxValues"][name].as_f64()?,
            ))
        };
        FileStats {
            num_records: json["numRecords"].as_u64().unwrap_or(0),
            alert_id: bound_i("alert_id"),
            dia_object_id: bound_i("dia_object_id"),
            mjd_tai: bound_f("mjd_tai"),
            healpix29: bound_i("healpix29"),
        }
    }
}

/// A data file of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    /// Relative to the table root.
    pub path: String,
    pub size: u64,
    pub modification_time: i64,
    pub stats: FileStats,
}

/// The table at one version: what its log says (see [`crate::Snapshot`] for the queryable form).
#[derive(Debug, Clone)]
pub struct TableState {
    version: i64,
    protocol: Option<Protocol>,
    metadata: Option<Metadata>,
    by_path: BTreeMap<String, DataFile>,
    files: Vec<DataFile>,
    txns: HashMap<String, i64>,
    /// Files removed from the table and when (ms): what a vacuum may delete.
    tombstones: BTreeMap<String, i64>,
    /// `files` is behind `by_path` (rebuilt once after a run of commits, not per commit).
    stale: bool,
}

impl TableState {
    /// The state before version 0.
    pub fn empty() -> Self {
        Self {
            version: -1,
            protocol: None,
            metadata: None,
            by_path: BTreeMap::new(),
            files: Vec::new(),
            txns: HashMap::new(),
            tombstones: BTreeMap::new(),
            stale: false,
        }
    }

    /// Files removed from the table, with their deletion time (ms since the epoch).
    pub fn tombstones(&self) -> impl Iterator<Item = (&str, i64)> {
        self.tombstones.iter().map(|(p, t)| (p.as_str(), *t))
    }

    /// Brings [`TableState::files`] up to date after [`TableState::apply`].
    pub fn finish(&mut self) {
        if self.stale {
            self.files = self.by_path.values().cloned().collect();
            self.stale = false;
        }
    }

    /// The version this state is at (-1: no commit yet).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The live data files, in path order.
    pub fn files(&self) -> &[DataFile] {
        &self.files
    }

    /// Rows in the live files, by their stats.
    pub fn num_records(&self) -> u64 {
        self.files.iter().map(|f| f.stats.num_records).sum()
    }

    /// The latest `txn` version of an application.
    pub fn txn_version(&self, app_id: &str) -> Option<i64> {
        self.txns.get(app_id).copied()
    }

    pub fn protocol(&self) -> Option<&Protocol> {
        self.protocol.as_ref()
    }

    pub fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    pub(crate) fn contains(&self, path: &str) -> bool {
        self.by_path.contains_key(path)
    }

    /// Applies the actions of commit `version` (which must be the next one). Call
    /// [`TableState::finish`] after the last commit of a run, before reading `files()`.
    pub fn apply(&mut self, version: i64, actions: Vec<Action>, root: &str) -> Result<()> {
        if version != self.version + 1 {
            return Err(IndexError::Log {
                path: format!("{root}/_delta_log/{}", commit_name(version)),
                reason: format!("expected version {}", self.version + 1),
            });
        }
        for action in actions {
            if let Some(protocol) = action.protocol {
                if protocol.min_reader_version > MIN_READER_VERSION {
                    return Err(IndexError::Unsupported {
                        root: root.to_owned(),
                        reason: format!(
                            "version {version} sets minReaderVersion {} (features {:?}); this reader implements version {MIN_READER_VERSION}",
                            protocol.min_reader_version, protocol.reader_features
                        ),
                    });
                }
                self.protocol = Some(protocol);
            }
            if let Some(metadata) = action.metadata {
                if !metadata.partition_columns.is_empty() {
                    return Err(IndexError::Unsupported {
                        root: root.to_owned(),
                        reason: "the table is partitioned; the index is not".into(),
                    });
                }
                self.metadata = Some(metadata);
            }
            if let Some(add) = action.add {
                let stats = FileStats::parse(add.stats.as_deref());
                self.tombstones.remove(&add.path);
                self.by_path.insert(
                    add.path.clone(),
                    DataFile {
                        path: add.path,
                        size: add.size.max(0) as u64,
                        modification_time: add.modification_time,
                        stats,
                    },
                );
            }
            if let Some(remove) = action.remove {
                self.by_path.remove(&remove.path);
                self.tombstones
                    .insert(remove.path, remove.deletion_timestamp.unwrap_or(0));
            }
            if let Some(txn) = action.txn {
                self.txns.insert(txn.app_id, txn.version);
            }
        }
        self.version = version;
        self.stale = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(path: &str) -> Action {
        Action::add(Add {
            path: path.into(),
            partition_values: HashMap::new(),
            size: 10,
            modification_time: 1,
            data_change: true,
            stats: Some(r#"{"numRecords":3,"minValues":{"mjd_tai":1.5,"healpix29":4},"maxValues":{"mjd_tai":2.5,"healpix29":9},"nullCount":{}}"#.into()),
        })
    }

    #[test]
    fn replay_adds_removes_and_tracks_txns() {
        let mut s = TableState::empty();
        let bytes = encode_commit(&[add("a"), add("b"), Action::txn(Txn::new("app", 5))]);
        s.apply(0, decode_commit("x", &bytes).unwrap(), "t")
            .unwrap();
        s.finish();
        assert_eq!(s.files().len(), 2);
        assert_eq!(s.files()[0].stats.mjd_tai, Some((1.5, 2.5)));
        assert_eq!(s.files()[0].stats.num_records, 3);
        assert_eq!(s.txn_version("app"), Some(5));
        let remove = Action::remove(Remove {
            path: "a".into(),
            deletion_timestamp: Some(2),
            data_change: false,
            extended_file_metadata: None,
            partition_values: None,
            size: None,
        });
        s.apply(1, vec![remove, Action::txn(Txn::new("app", 9))], "t")
            .unwrap();
        s.finish();
        assert_eq!(s.files().len(), 1);
        assert_eq!(s.tombstones().collect::<Vec<_>>(), vec![("a", 2)]);
        assert_eq!(s.txn_version("app"), Some(9));
        assert!(
            s.apply(3, vec![], "t").is_err(),
            "a gap in versions is refused"
        );
    }

    #[test]
    fn unknown_actions_are_ignored_and_garbage_is_refused() {
        let actions =
            decode_commit("x", b"{\"cdc\":{\"path\":\"p\"}}\n\n{\"commitInfo\":{}}\n").unwrap();
        assert_eq!(actions.len(), 2);
        assert!(decode_commit("x", b"{not json").is_err());
        assert_eq!(commit_version("00000000000000000012.json"), Some(12));
        assert_eq!(
            commit_version("00000000000000000012.checkpoint.parquet"),
            None
        );
        assert_eq!(commit_version("_last_checkpoint"), None);
    }

    #[test]
    fn newer_readers_are_refused() {
        let mut s = TableState::empty();
        let p = Action {
            protocol: Some(Protocol {
                min_reader_version: 3,
                min_writer_version: 7,
                reader_features: Some(vec!["deletionVectors".into()]),
                writer_features: None,
            }),
            ..Action::default()
        };
        assert!(matches!(
            s.apply(0, vec![p], "t"),
            Err(IndexError::Unsupported { .. })
        ));
    }
}
