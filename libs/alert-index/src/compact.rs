//! Compaction: merges the small files that appends leave into large files clustered on the
//! sky, so that every query shape skips most of the table by statistics.
//!
//! # Layout
//!
//! Small files are taken in time order and merged in groups of about
//! [`CompactOptions::target_rows`] rows; each group becomes one file whose rows are sorted
//! by `(healpix29, mjd_tai, alert_id)` and cut into row groups of
//! [`FileLayout::row_group_rows`] rows. The consequences, per query shape:
//!
//! - **time range**: a group covers a contiguous stretch of ingestion time, so files have
//!   narrow `mjd_tai` bounds and a time query reads only the files at its edges (files and
//!   row groups wholly inside are counted from statistics);
//! - **cone**: within a file, a row group covers a small range of `healpix29`, so a cone
//!   of an arcminute touches one or two row groups per file;
//! - **object**: a diaObject has one position, so sorting by sky also puts an object's
//!   detections of one time window in one row group. Object ids themselves carry no
//!   locality (they are assigned in order of first detection, all over the sky), so min/max
//!   statistics cannot find them; the `dia_object_id` bloom filter of every row group can.
//!
//! Sorting by `dia_object_id` instead would make object queries skip by min/max but leave
//! cones no locality at all; a Z-order of both halves the pruning of each. Partitioning by
//! night was not chosen: it would only duplicate what the time-ordered grouping gives, and
//! make the table unreadable for engines that do not know this crate's partition scheme
//! any better.
//!
//! # Concurrency
//!
//! Compaction only removes files it read and adds files holding exactly their rows
//! (`dataChange: false`), so appends made meanwhile never conflict with it. Two compactions
//! of the same files do: the second to commit finds a file it removes already removed and
//! gives up that group (its new file is deleted).

use crate::batch::{self, FileLayout};
use crate::error::{IndexError, Result};
use crate::log::{Action, DataFile};
use crate::table::IndexTable;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::UInt32Array;
use object_store::ObjectStoreExt;

/// What to compact and how.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactOptions {
    /// Rows per compacted file.
    pub target_rows: u64,
    /// Files with fewer rows than this are merged.
    pub small_file_rows: u64,
    /// Layout of the compacted files.
    pub layout: FileLayout,
    /// Stop after this many groups (one commit each); `None`: all.
    pub max_groups: Option<usize>,
    /// Plan only: report what would be merged.
    pub dry_run: bool,
}

impl Default for CompactOptions {
    fn default() -> Self {
        Self {
            target_rows: 1_000_000,
            small_file_rows: 500_000,
            layout: FileLayout::default(),
            max_groups: None,
            dry_run: false,
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Groups merged (one commit each).
    pub groups: usize,
    pub files_removed: usize,
    pub files_added: usize,
    pub rows: u64,
    /// Groups given up because another compaction removed one of their files first.
    pub conflicts: usize,
    /// Log versions committed.
    pub versions: Vec<i64>,
}

/// The groups of small files to merge, in time order.
pub fn plan(files: &[DataFile], options: &CompactOptions) -> Vec<Vec<DataFile>> {
    let mut small: Vec<&DataFile> = files
        .iter()
        .filter(|f| f.stats.num_records < options.small_file_rows)
        .collect();
    small.sort_by(|a, b| {
        let ta = a.stats.mjd_tai.map_or(f64::NEG_INFINITY, |t| t.0);
        let tb = b.stats.mjd_tai.map_or(f64::NEG_INFINITY, |t| t.0);
        ta.total_cmp(&tb).then_with(|| a.path.cmp(&b.path))
    });
    let mut groups = Vec::new();
    let mut group: Vec<DataFile> = Vec::new();
    let mut rows = 0u64;
    for file in small {
        group.push(file.clone());
        rows += file.stats.num_records;
        if rows >= options.target_rows {
            groups.push(std::mem::take(&mut group));
            rows = 0;
        }
    }
    // The last, partial group is merged too when it is more than one file: its result is
    // still small and is merged again with the next files, up to the target size.
    if group.len() > 1 {
        groups.push(group);
    }
    if let Some(max) = options.max_groups {
        groups.truncate(max);
    }
    groups
}

impl IndexTable {
    /// Merges small files into sky-clustered large ones (see the [module docs](crate::compact)).
    pub async fn compact(&self, options: CompactOptions) -> Result<CompactReport> {
        let snapshot = self.refresh().await?;
        let groups = plan(snapshot.files(), &options);
        let mut report = CompactReport::default();
        for group in groups {
            let rows: u64 = group.iter().map(|f| f.stats.num_records).sum();
            if options.dry_run {
                report.groups += 1;
                report.files_removed += group.len();
                report.files_added += 1;
                report.rows += rows;
                continue;
            }
            let mut batches = Vec::new();
            for file in &group {
                batches.extend(crate::query::file_batches(&snapshot, self.store(), file).await?);
            }
            let merged = arrow_select::concat::concat_batches(&batch::schema(), &batches)?;
            drop(batches);
            let sorted = sort_by_sky(&merged)?;
            drop(merged);
            let add = self.write_file(&[sorted], options.layout, false).await?;
            let new_path = add.path.clone();
            let mut actions = vec![Action::add(add)];
            actions.extend(group.iter().map(IndexTable::remove_action));
            let removes: Vec<String> = group.iter().map(|f| f.path.clone()).collect();
            let info = serde_json::json!({
                "timestamp": crate::log::now_ms(),
                "operation": "OPTIMIZE",
                "operationParameters": {"targetSize": options.target_rows, "zOrderBy": "[]", "sortBy": "[healpix29, mjd_tai, alert_id]"},
                "isBlindAppend": false,
                "clientVersion": format!("alert-index-{}", env!("CARGO_PKG_VERSION")),
            });
            match self.commit(info, actions, &[], &removes).await {
                Ok((version, _)) => {
                    report.groups += 1;
                    report.files_removed += group.len();
                    report.files_added += 1;
                    report.rows += rows;
                    report.versions.push(version);
                    tracing::info!(version, files = group.len(), rows, "compacted a group");
                }
                Err(IndexError::Conflict { version, reason }) => {
                    tracing::warn!(version, reason, "compaction group conflicted; skipped");
                    report.conflicts += 1;
                    self.delete_files(&[new_path]).await;
                }
                Err(e) => {
                    self.delete_files(&[new_path]).await;
                    return Err(e);
                }
            }
        }
        Ok(report)
    }
}

/// The rows of `batch` sorted by `(healpix29, mjd_tai, alert_id)`.
pub fn sort_by_sky(batch: &arrow_array::RecordBatch) -> Result<arrow_array::RecordBatch> {
    let column = |name: &str| batch.column(batch::column_index(name));
    let hp = column(batch::col::HEALPIX29)
        .as_primitive::<Int64Type>()
        .values();
    let mjd = column(batch::col::MJD_TAI)
        .as_primitive::<Float64Type>()
        .values();
    let id = column(batch::col::ALERT_ID)
        .as_primitive::<Int64Type>()
        .values();
    let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        hp[a]
            .cmp(&hp[b])
            .then(mjd[a].total_cmp(&mjd[b]))
            .then(id[a].cmp(&id[b]))
    });
    Ok(arrow_select::take::take_record_batch(
        batch,
        &UInt32Array::from(order),
    )?)
}

impl IndexTable {
    /// Deletes the objects of files removed from the table (by compaction) more than
    /// `retention` ago: compaction leaves them for readers still on an older snapshot, and
    /// they would otherwise double the table's storage. Returns how many were deleted.
    /// A reader holding a snapshot older than `retention` then fails to read them and must
    /// refresh; Delta time travel to versions before the vacuum no longer works either.
    pub async fn vacuum(&self, retention: std::time::Duration) -> Result<usize> {
        let snapshot = self.refresh().await?;
        let horizon = crate::log::now_ms() - retention.as_millis() as i64;
        let mut deleted = 0;
        for (path, removed_at) in snapshot.tombstones() {
            if removed_at > horizon || snapshot.contains(path) {
                continue;
            }
            match self.store().delete(&snapshot.file_path(path)).await {
                Ok(()) => deleted += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(deleted)
    }
}
