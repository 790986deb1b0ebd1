//! The alert index: one row per archived alert in an open-format table in the alerts'
//! object store, so that alerts can be found by object, time and sky position, by the
//! alert database server and by any engine that reads Delta Lake or Parquet (DuckDB, Spark,
//! delta-rs/`deltalake` in Python).
//!
//! - [`row`]: the row of an alert ([`IndexRow::from_alert`]), for schema versions 3.0–11.1;
//! - [`batch`]: rows as Arrow batches and Parquet files; the column names and types;
//! - [`log`]: the Delta log (a minimal Delta Lake implementation on `object_store`; see
//!   there why not the `deltalake` crate);
//! - [`table`]: [`IndexTable`] for writers, [`Snapshot`] for readers;
//! - [`query`]: the object, time-range and cone queries, pruned by statistics;
//! - [`compact`]: merging small files into sky-clustered large ones;
//! - [`healpix`]: the `healpix29` column (HEALPix order 29, nested) and cone coverage.
//!
//! The table lives at [`TABLE_PREFIX`] (`index/alerts/`) in the alerts' store, so
//! `{alerts store}/index/alerts/_delta_log/00000000000000000000.json` is its first commit.

pub mod batch;
pub mod compact;
mod error;
pub mod healpix;
pub mod log;
pub mod query;
pub mod row;
pub mod stats;
pub mod table;

pub use batch::{to_parquet, to_record_batch, FileLayout};
pub use compact::{CompactOptions, CompactReport};
pub use error::{IndexError, Result};
pub use log::{DataFile, FileStats, Txn};
pub use query::{cone, count_time_range, object_alerts, time_range, Page, PageRequest};
pub use row::{IndexRow, KafkaCoords, MJD_UNIX_EPOCH, TAI_MINUS_UTC_SECONDS};
pub use table::{CommitInfo, IndexTable, Snapshot, TABLE_PREFIX};

#[cfg(test)]
mod tests;
