//! The crate's one error type.

/// Everything that can go wrong reading, writing, querying or compacting the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The object store failed (network, permissions, a missing object that should exist).
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// A Parquet file could not be written or read.
    #[error("parquet file {path}: {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow arrays could not be built or converted.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A commit of the Delta log is not what this crate wrote or understands.
    #[error("delta log {path}: {reason}")]
    Log { path: String, reason: String },
    /// The table uses Delta features this minimal reader does not implement.
    #[error("unsupported delta table at {root}: {reason}")]
    Unsupported { root: String, reason: String },
    /// An alert has no index row: a field is missing, null or out of range.
    #[error("alert cannot be indexed: {0}")]
    BadAlert(String),
    /// Another writer committed the same Kafka progress (`txn` action) first: the rows of
    /// this append are already in the table. The caller should re-read `txn_version`.
    #[error(
        "transaction conflict: `{app_id}` is already at version {committed}, not below {attempted}"
    )]
    TxnConflict {
        app_id: String,
        committed: i64,
        attempted: i64,
    },
    /// A concurrent commit removed a file this commit also removes (two compactions).
    #[error("commit conflict at version {version}: {reason}")]
    Conflict { version: i64, reason: String },
    /// Too many attempts lost the race for the next log version.
    #[error("gave up committing after {attempts} attempts lost the race for the next version")]
    TooManyRetries { attempts: usize },
    /// The query's parameters are out of range.
    #[error("bad query: {0}")]
    BadQuery(String),
    /// The paging cursor was not produced by this query, or was altered.
    #[error("bad cursor `{0}`: pass back the `next_cursor` of the previous page unchanged")]
    BadCursor(String),
    /// The query ran past its deadline.
    #[error("query ran past its deadline after reading {files_read} of {files} candidate files")]
    Deadline { files_read: usize, files: usize },
}

/// Shorthand for results of this crate.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;

impl IndexError {
    pub(crate) fn parquet(path: impl Into<String>, source: parquet::errors::ParquetError) -> Self {
        IndexError::Parquet {
            path: path.into(),
            source,
        }
    }
}
