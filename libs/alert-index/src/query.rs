//! Queries: the alerts of an object, of a time range and of a cone, read from the table's
//! Parquet files with as little I/O as the statistics allow.
//!
//! Each query prunes in three steps: files by their `add.stats` (min/max in the log, no I/O),
//! row groups by the Parquet footer's statistics (footers are read once per file and kept in
//! a [`FileCache`] shared by every snapshot of the table), and for objects row groups by the
//! `dia_object_id` bloom filter (read once per file, cached too), since object ids carry no
//! locality that min/max could use. The row groups left are read with only the predicate's
//! columns first (a Parquet row filter), then the other columns of the matching rows.
//!
//! Pages are ordered by `(mjd_tai, alert_id)`; the cursor is the last row's key, so the next
//! page starts strictly after it even when rows are added meanwhile. A time budget is the
//! caller's: dropping the future (e.g. `tokio::time::timeout`) stops the reads.

use crate::batch::{self, col, column_index};
use crate::error::{IndexError, Result};
use crate::healpix;
use crate::log::DataFile;
use crate::row::IndexRow;
use crate::table::Snapshot;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{BooleanArray, RecordBatch};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, RowFilter,
};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader, RowGroupMetaData};
use parquet::file::statistics::Statistics;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// Files read at once by one query.
const FILE_CONCURRENCY: usize = 8;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 8192;

/// The largest cone radius accepted, degrees.
pub const MAX_CONE_RADIUS_DEG: f64 = 10.0;

/// Which page of a query's rows to return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows per page (at least 1).
    pub limit: usize,
    /// The `next_cursor` of the previous page, `None` for the first.
    pub cursor: Option<String>,
}

/// One page of rows, sorted by `(mjd_tai, alert_id)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub rows: Vec<IndexRow>,
    /// Pass back in [`PageRequest::cursor`] for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Footers (and object bloom filters) of the table's files, read once per file.
#[derive(Debug, Default)]
pub struct FileCache {
    files: Mutex<HashMap<String, Arc<CachedFile>>>,
}

#[derive(Debug)]
pub(crate) struct CachedFile {
    meta: ArrowReaderMetadata,
    /// `dia_object_id` bloom filter of each row group.
    blooms: tokio::sync::OnceCell<Vec<Option<Sbbf>>>,
}

impl FileCache {
    /// Forgets files that are no longer in the table.
    pub(crate) fn retain(&self, live: &[DataFile]) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if files.len() > live.len() / 2 {
            let live: std::collections::HashSet<&str> =
                live.iter().map(|f| f.path.as_str()).collect();
            files.retain(|path, _| live.contains(path.as_str()));
        }
    }

    /// Files whose footer is cached.
    pub fn len(&self) -> usize {
        self.files.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn get(
        &self,
        store: &Arc<dyn ObjectStore>,
        snapshot: &Snapshot,
        file: &DataFile,
    ) -> Result<Arc<CachedFile>> {
        if let Some(cached) = self
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&file.path)
        {
            return Ok(cached.clone());
        }
        let mut reader = reader(store, snapshot, file);
        let meta = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new())
            .await
            .map_err(|e| IndexError::parquet(&file.path, e))?;
        let cached = Arc::new(CachedFile {
            meta,
            blooms: tokio::sync::OnceCell::new(),
        });
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file.path.clone(), cached.clone());
        Ok(cached)
    }
}

fn reader(store: &Arc<dyn ObjectStore>, snapshot: &Snapshot, file: &DataFile) -> StoreReader {
    StoreReader {
        store: store.clone(),
        path: snapshot.file_path(&file.path),
        size: file.size,
    }
}

/// A Parquet file in the object store, of a size known from the log (no HEAD request).
#[derive(Debug, Clone)]
struct StoreReader {
    store: Arc<dyn ObjectStore>,
    path: object_store::path::Path,
    size: u64,
}

fn store_error(e: object_store::Error) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(e))
}

impl AsyncFileReader for StoreReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(store_error)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(store_error)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            // One read of the last 64 KiB gets the footer of every index file in one go.
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .with_prefetch_hint(Some(64 * 1024))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

impl CachedFile {
    /// Every row group's `dia_object_id` bloom filter in one `get_ranges` call (the store
    /// coalesces the ranges: the index's files keep their bloom filters together before the
    /// footer, so that is one request per file instead of two per row group). `None` when a
    /// filter's length is not recorded (files of other writers).
    async fn fetch_blooms(
        &self,
        store: &Arc<dyn ObjectStore>,
        snapshot: &Snapshot,
        file: &DataFile,
    ) -> Result<Option<Vec<Option<Sbbf>>>> {
        let metadata = self.meta.metadata();
        let column = column_index(col::DIA_OBJECT_ID);
        let mut ranges = Vec::new();
        for rg in metadata.row_groups() {
            let chunk = rg.column(column);
            match (chunk.bloom_filter_offset(), chunk.bloom_filter_length()) {
                (Some(offset), Some(length)) if offset >= 0 && length > 0 => {
                    ranges.push(offset as u64..offset as u64 + length as u64)
                }
                (None, _) => ranges.push(0..0),
                _ => return Ok(None),
            }
        }
        let wanted: Vec<Range<u64>> = ranges.iter().filter(|r| !r.is_empty()).cloned().collect();
        let fetched = store
            .get_ranges(&snapshot.file_path(&file.path), &wanted)
            .await?;
        let chunks = FetchedRanges {
            chunks: wanted.iter().map(|r| r.start).zip(fetched).collect(),
            size: file.size,
        };
        metadata
            .row_groups()
            .iter()
            .zip(&ranges)
            .map(|(rg, range)| {
                if range.is_empty() {
                    return Ok(None);
                }
                Sbbf::read_from_column_chunk(rg.column(column), &chunks)
                    .map_err(|e| IndexError::parquet(&file.path, e))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    async fn blooms(
        &self,
        store: &Arc<dyn ObjectStore>,
        snapshot: &Snapshot,
        file: &DataFile,
    ) -> Result<&[Option<Sbbf>]> {
        let blooms = self
            .blooms
            .get_or_try_init(|| async {
                if let Some(blooms) = self.fetch_blooms(store, snapshot, file).await? {
                    return Ok(blooms);
                }
                let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(
                    reader(store, snapshot, file),
                    self.meta.clone(),
                );
                let column = column_index(col::DIA_OBJECT_ID);
                let mut blooms = Vec::new();
                for rg in 0..self.meta.metadata().num_row_groups() {
                    blooms.push(
                        builder
                            .get_row_group_column_bloom_filter(rg, column)
                            .await
                            .map_err(|e| IndexError::parquet(&file.path, e))?,
                    );
                }
                Ok::<_, IndexError>(blooms)
            })
            .await?;
        Ok(blooms)
    }
}

/// What a query selects.
#[derive(Debug, Clone)]
enum Predicate {
    Object(i64),
    Time {
        since: f64,
        until: f64,
    },
    Cone {
        ra: f64,
        dec: f64,
        radius: f64,
        ranges: Arc<Vec<Range<i64>>>,
    },
    All,
}

fn overlaps_ranges(ranges: &[Range<i64>], lo: i64, hi: i64) -> bool {
    // Ranges are sorted and disjoint: find the first that ends after `lo`.
    let i = ranges.partition_point(|r| r.end <= lo);
    ranges.get(i).is_some_and(|r| r.start <= hi)
}

impl Predicate {
    fn keeps_file(&self, file: &DataFile) -> bool {
        let s = &file.stats;
        match self {
            Predicate::Object(id) => s
                .dia_object_id
                .is_none_or(|(lo, hi)| lo <= *id && *id <= hi),
            Predicate::Time { since, until } => {
                s.mjd_tai.is_none_or(|(lo, hi)| hi >= *since && lo < *until)
            }
            Predicate::Cone { ranges, .. } => s
                .healpix29
                .is_none_or(|(lo, hi)| overlaps_ranges(ranges, lo, hi)),
            Predicate::All => true,
        }
    }

    fn keeps_row_group(&self, rg: &RowGroupMetaData) -> bool {
        match self {
            Predicate::Object(id) => {
                i64_bounds(rg, col::DIA_OBJECT_ID).is_none_or(|(lo, hi)| lo <= *id && *id <= hi)
            }
            Predicate::Time { since, until } => {
                f64_bounds(rg, col::MJD_TAI).is_none_or(|(lo, hi)| hi >= *since && lo < *until)
            }
            Predicate::Cone { ranges, .. } => i64_bounds(rg, col::HEALPIX29)
                .is_none_or(|(lo, hi)| overlaps_ranges(ranges, lo, hi)),
            Predicate::All => true,
        }
    }

    /// Columns the row filter needs.
    fn columns(&self) -> Vec<usize> {
        match self {
            Predicate::Object(_) => vec![column_index(col::DIA_OBJECT_ID)],
            Predicate::Time { .. } => vec![column_index(col::MJD_TAI)],
            Predicate::Cone { .. } => vec![
                column_index(col::RA),
                column_index(col::DEC),
                column_index(col::HEALPIX29),
            ],
            Predicate::All => vec![],
        }
    }

    fn evaluate(
        &self,
        batch: &RecordBatch,
    ) -> std::result::Result<BooleanArray, arrow_schema::ArrowError> {
        let missing =
            |name: &str| arrow_schema::ArrowError::SchemaError(format!("no column {name}"));
        let i64s = |name: &str| {
            batch
                .column_by_name(name)
                .map(|c| c.as_primitive::<Int64Type>().clone())
                .ok_or_else(|| missing(name))
        };
        let f64s = |name: &str| {
            batch
                .column_by_name(name)
                .map(|c| c.as_primitive::<Float64Type>().clone())
                .ok_or_else(|| missing(name))
        };
        Ok(match self {
            Predicate::Object(id) => i64s(col::DIA_OBJECT_ID)?
                .iter()
                .map(|v| Some(v == Some(*id)))
                .collect(),
            Predicate::Time { since, until } => f64s(col::MJD_TAI)?
                .values()
                .iter()
                .map(|t| Some(*t >= *since && *t < *until))
                .collect(),
            Predicate::Cone {
                ra,
                dec,
                radius,
                ranges,
            } => {
                let (r, d, h) = (f64s(col::RA)?, f64s(col::DEC)?, i64s(col::HEALPIX29)?);
                (0..batch.num_rows())
                    .map(|i| {
                        let hp = h.value(i);
                        let i_range = ranges.partition_point(|x| x.end <= hp);
                        let in_range = ranges.get(i_range).is_some_and(|x| x.start <= hp);
                        Some(
                            in_range
                                && healpix::distance_deg(*ra, *dec, r.value(i), d.value(i))
                                    <= *radius,
                        )
                    })
                    .collect()
            }
            Predicate::All => BooleanArray::from(vec![true; batch.num_rows()]),
        })
    }
}

fn stats_of<'a>(rg: &'a RowGroupMetaData, name: &str) -> Option<&'a Statistics> {
    rg.columns().get(column_index(name))?.statistics()
}

fn i64_bounds(rg: &RowGroupMetaData, name: &str) -> Option<(i64, i64)> {
    match stats_of(rg, name)? {
        Statistics::Int64(s) => Some((*s.min_opt()?, *s.max_opt()?)),
        _ => None,
    }
}

fn f64_bounds(rg: &RowGroupMetaData, name: &str) -> Option<(f64, f64)> {
    match stats_of(rg, name)? {
        Statistics::Double(s) => Some((*s.min_opt()?, *s.max_opt()?)),
        _ => None,
    }
}

/// The sort key of a page: `(mjd_tai, alert_id)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key(f64, i64);

impl Key {
    fn of(row: &IndexRow) -> Key {
        Key(row.mjd_tai, row.alert_id)
    }
    fn cmp(&self, other: &Key) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

fn encode_cursor(kind: char, key: Key) -> String {
    format!("{kind}{:016x}.{}", key.0.to_bits(), key.1)
}

fn decode_cursor(kind: char, cursor: Option<&str>) -> Result<Option<Key>> {
    let Some(text) = cursor else { return Ok(None) };
    let bad = || IndexError::BadCursor(text.to_owned());
    let rest = text.strip_prefix(kind).ok_or_else(bad)?;
    let (bits, id) = rest.split_once('.').ok_or_else(bad)?;
    let bits = u64::from_str_radix(bits, 16).map_err(|_| bad())?;
    let id = id.parse::<i64>().map_err(|_| bad())?;
    let mjd = f64::from_bits(bits);
    if !mjd.is_finite() || bits.to_string().is_empty() {
        return Err(bad());
    }
    Ok(Some(Key(mjd, id)))
}

/// Keeps the `keep` smallest rows after `after`.
struct TopRows {
    rows: Vec<IndexRow>,
    keep: usize,
    after: Option<Key>,
}

impl TopRows {
    fn push(&mut self, rows: Vec<IndexRow>) {
        let after = self.after;
        self.rows.extend(
            rows.into_iter()
                .filter(|r| after.is_none_or(|a| Key::of(r).cmp(&a) == Ordering::Greater)),
        );
        if self.rows.len() > 4 * self.keep.max(1024) {
            self.truncate();
        }
    }
    fn truncate(&mut self) {
        self.rows.sort_by(|a, b| Key::of(a).cmp(&Key::of(b)));
        self.rows.truncate(self.keep);
    }
}

/// Reads the rows of one file that match `predicate`.
async fn file_rows(
    snapshot: &Snapshot,
    store: &Arc<dyn ObjectStore>,
    file: &DataFile,
    predicate: &Predicate,
    top: &mut TopRows,
) -> Result<()> {
    let cached = snapshot.cache.get(store, snapshot, file).await?;
    let metadata = cached.meta.metadata().clone();
    let mut row_groups: Vec<usize> = (0..metadata.num_row_groups())
        .filter(|i| predicate.keeps_row_group(metadata.row_group(*i)))
        .collect();
    if let Predicate::Object(id) = predicate {
        if !row_groups.is_empty() {
            let blooms = cached.blooms(store, snapshot, file).await?;
            row_groups.retain(|rg| {
                blooms
                    .get(*rg)
                    .and_then(Option::as_ref)
                    .is_none_or(|b| b.check(id))
            });
        }
    }
    if row_groups.is_empty() {
        return Ok(());
    }
    let schema = metadata.file_metadata().schema_descr();
    let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(
        reader(store, snapshot, file),
        cached.meta.clone(),
    )
    .with_row_groups(row_groups)
    .with_batch_size(BATCH_ROWS);
    if !matches!(predicate, Predicate::All) {
        let filter_predicate = predicate.clone();
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(ArrowPredicateFn::new(
            ProjectionMask::leaves(schema, predicate.columns()),
            move |batch: RecordBatch| filter_predicate.evaluate(&batch),
        ))]));
    }
    let mut stream = builder
        .build()
        .map_err(|e| IndexError::parquet(&file.path, e))?;
    while let Some(batch) = stream
        .try_next()
        .await
        .map_err(|e| IndexError::parquet(&file.path, e))?
    {
        top.push(batch::from_record_batch(&batch)?);
    }
    Ok(())
}

async fn run_page(
    snapshot: &Snapshot,
    store: &Arc<dyn ObjectStore>,
    kind: char,
    predicate: Predicate,
    page: PageRequest,
) -> Result<Page> {
    if page.limit == 0 {
        return Err(IndexError::BadQuery("limit must be at least 1".into()));
    }
    let after = decode_cursor(kind, page.cursor.as_deref())?;
    // With a cursor, nothing before its time can be on the page.
    let predicate = match (predicate, after) {
        (Predicate::Time { since, until }, Some(Key(t, _))) => Predicate::Time {
            since: since.max(t),
            until,
        },
        (p, _) => p,
    };
    let keep = page.limit + 1;
    let candidates: Vec<&DataFile> = snapshot
        .files()
        .iter()
        .filter(|f| predicate.keeps_file(f))
        .collect();
    let candidates = &candidates;
    if let Predicate::Time { since, until } = predicate {
        let rows = time_rows(snapshot, store, candidates, since, until, after, keep).await?;
        return Ok(finish_page(kind, rows, page.limit));
    }
    let parts: Vec<Vec<IndexRow>> = futures::stream::iter(0..candidates.len())
        // By index, not `&DataFile`: a closure over borrowed items makes a future rustc cannot
        // prove `Send` for every lifetime ("FnOnce is not general enough"), and the server
        // runs these queries in `Send` handlers.
        .map(|i| {
            let file = candidates[i];
            let predicate = &predicate;
            async move {
                let mut top = TopRows {
                    rows: Vec::new(),
                    keep,
                    after,
                };
                file_rows(snapshot, store, file, predicate, &mut top).await?;
                top.truncate();
                Ok::<_, IndexError>(top.rows)
            }
        })
        .buffer_unordered(FILE_CONCURRENCY)
        .try_collect()
        .await?;
    let mut top = TopRows {
        rows: parts.into_iter().flatten().collect(),
        keep,
        after: None,
    };
    top.truncate();
    Ok(finish_page(kind, top.rows, page.limit))
}

/// A page of `rows` (sorted, at most `limit + 1`): the extra row only says there is more.
fn finish_page(kind: char, mut rows: Vec<IndexRow>, limit: usize) -> Page {
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| encode_cursor(kind, Key::of(r)))
    } else {
        None
    };
    Page { rows, next_cursor }
}

/// Keys `(mjd_tai bits, alert_id)` of the rows a page needs.
type KeySet = std::collections::HashSet<(u64, i64)>;

/// The first `keep` rows of a time range after `after`, in two passes: the keys
/// `(mjd_tai, alert_id)` of every matching row first (two columns), then the whole rows of
/// only the `keep` smallest, from only their row groups. A window of an hour is ~10⁶ rows
/// spread over every row group of its files (they are sorted by sky, not time): decoding
/// them all whole to return a page of 100 would cost ~0.5 s.
async fn time_rows(
    snapshot: &Snapshot,
    store: &Arc<dyn ObjectStore>,
    candidates: &[&DataFile],
    since: f64,
    until: f64,
    after: Option<Key>,
    keep: usize,
) -> Result<Vec<IndexRow>> {
    let keys: Vec<Vec<(Key, usize, usize)>> = futures::stream::iter(0..candidates.len())
        .map(|i| async move {
            let keys = file_keys(snapshot, store, candidates[i], since, until, after, keep).await?;
            Ok::<_, IndexError>(keys.into_iter().map(|(k, rg)| (k, i, rg)).collect())
        })
        .buffer_unordered(FILE_CONCURRENCY)
        .try_collect()
        .await?;
    let mut keys: Vec<(Key, usize, usize)> = keys.into_iter().flatten().collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    keys.truncate(keep);
    // Per file: the row groups and keys to read.
    let mut wanted: HashMap<usize, (Vec<usize>, KeySet)> = HashMap::new();
    for (key, file, rg) in &keys {
        let entry = wanted.entry(*file).or_default();
        if !entry.0.contains(rg) {
            entry.0.push(*rg);
        }
        entry.1.insert((key.0.to_bits(), key.1));
    }
    let wanted: Vec<(usize, Vec<usize>, Arc<KeySet>)> = wanted
        .into_iter()
        .map(|(file, (mut rgs, set))| {
            rgs.sort_unstable();
            (file, rgs, Arc::new(set))
        })
        .collect();
    let wanted = &wanted;
    let parts: Vec<Vec<IndexRow>> = futures::stream::iter(0..wanted.len())
        .map(|i| async move {
            let (file, rgs, set) = &wanted[i];
            let file = candidates[*file];
            let cached = snapshot.cache.get(store, snapshot, file).await?;
            let schema = cached.meta.metadata().file_metadata().schema_descr();
            let set = set.clone();
            let filter = ArrowPredicateFn::new(
                ProjectionMask::leaves(
                    schema,
                    [column_index(col::ALERT_ID), column_index(col::MJD_TAI)],
                ),
                move |batch: RecordBatch| {
                    let ids = batch
                        .column_by_name(col::ALERT_ID)
                        .map(|c| c.as_primitive::<Int64Type>().clone());
                    let mjd = batch
                        .column_by_name(col::MJD_TAI)
                        .map(|c| c.as_primitive::<Float64Type>().clone());
                    let (Some(ids), Some(mjd)) = (ids, mjd) else {
                        return Err(arrow_schema::ArrowError::SchemaError(
                            "no alert_id or mjd_tai column".into(),
                        ));
                    };
                    Ok((0..batch.num_rows())
                        .map(|r| Some(set.contains(&(mjd.value(r).to_bits(), ids.value(r)))))
                        .collect())
                },
            );
            let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(
                reader(store, snapshot, file),
                cached.meta.clone(),
            )
            .with_row_groups(rgs.clone())
            .with_row_filter(RowFilter::new(vec![Box::new(filter)]))
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| IndexError::parquet(&file.path, e))?;
            let mut rows = Vec::new();
            while let Some(batch) = stream
                .try_next()
                .await
                .map_err(|e| IndexError::parquet(&file.path, e))?
            {
                rows.extend(batch::from_record_batch(&batch)?);
            }
            Ok::<_, IndexError>(rows)
        })
        .buffer_unordered(FILE_CONCURRENCY)
        .try_collect()
        .await?;
    let mut rows: Vec<IndexRow> = parts.into_iter().flatten().collect();
    rows.sort_by(|a, b| Key::of(a).cmp(&Key::of(b)));
    rows.truncate(keep);
    Ok(rows)
}

/// The `keep` smallest keys of one file's rows in `[since, until)` after `after`, with the
/// row group of each.
async fn file_keys(
    snapshot: &Snapshot,
    store: &Arc<dyn ObjectStore>,
    file: &DataFile,
    since: f64,
    until: f64,
    after: Option<Key>,
    keep: usize,
) -> Result<Vec<(Key, usize)>> {
    let cached = snapshot.cache.get(store, snapshot, file).await?;
    let metadata = cached.meta.metadata().clone();
    let predicate = Predicate::Time { since, until };
    let row_groups: Vec<usize> = (0..metadata.num_row_groups())
        .filter(|i| predicate.keeps_row_group(metadata.row_group(*i)))
        .collect();
    if row_groups.is_empty() {
        return Ok(Vec::new());
    }
    // Rows come out in row-group order, all of them (no filter): the row group of a row is
    // found from the cumulative row counts.
    let mut ends = Vec::with_capacity(row_groups.len());
    let mut total = 0u64;
    for rg in &row_groups {
        total += metadata.row_group(*rg).num_rows() as u64;
        ends.push(total);
    }
    let schema = metadata.file_metadata().schema_descr();
    let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(
        reader(store, snapshot, file),
        cached.meta.clone(),
    )
    .with_row_groups(row_groups.clone())
    .with_projection(ProjectionMask::leaves(
        schema,
        [column_index(col::ALERT_ID), column_index(col::MJD_TAI)],
    ))
    .with_batch_size(BATCH_ROWS * 4)
    .build()
    .map_err(|e| IndexError::parquet(&file.path, e))?;
    let mut keys: Vec<(Key, usize)> = Vec::new();
    let mut row = 0u64;
    let bound = 4 * keep.max(1024);
    while let Some(batch) = stream
        .try_next()
        .await
        .map_err(|e| IndexError::parquet(&file.path, e))?
    {
        let ids = batch
            .column_by_name(col::ALERT_ID)
            .map(|c| c.as_primitive::<Int64Type>())
            .ok_or_else(|| IndexError::BadQuery("no alert_id column".into()))?;
        let mjd = batch
            .column_by_name(col::MJD_TAI)
            .map(|c| c.as_primitive::<Float64Type>())
            .ok_or_else(|| IndexError::BadQuery("no mjd_tai column".into()))?;
        for i in 0..batch.num_rows() {
            let t = mjd.value(i);
            if t >= since && t < until {
                let key = Key(t, ids.value(i));
                if after.is_none_or(|a| key.cmp(&a) == Ordering::Greater) {
                    let at = row + i as u64;
                    let rg = row_groups[ends.partition_point(|end| *end <= at)];
                    keys.push((key, rg));
                }
            }
        }
        row += batch.num_rows() as u64;
        if keys.len() > bound {
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            keys.truncate(keep);
        }
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    keys.truncate(keep);
    Ok(keys)
}

/// The alerts of one diaObject, oldest first.
pub async fn object_alerts(
    snapshot: &Snapshot,
    store: &Arc<dyn ObjectStore>,
    dia_object_id: i64,
    page: PageRequest,
) -> Result<Page> {
    run_page(snapshot, store, 'o', Predicate::Object(dia_object_id), page).await
}

fn check_time(since_mjd: f64, until_mjd: f64) -> Result<()> {
    if !since_mjd.is_finite() || !until_mjd.is_finite() || since_mjd >= until_mjd {
        return Err(IndexError::BadQuery(format!(
            "the time range [{since_mjd}, {until_mjd}) is empty or not finite"
        )));
    }
    Ok(())
}

/// The alerts with `since_mjd <= mjd_tai < until_mjd`, oldest first.
pub async fn time_range(
    snapshot: &Snapshot,
    store: &Arc<dyn ObjectStore>,
    since_mjd: f64,
    until_mjd: f64,
    page: PageRequest,
) -> Result<Page> {
    check_time(since_mjd, until_mjd)?;
    run_page(
        snapshot,
        store,
        't',
        Predicate::Time {
            since: since_mjd,
            until: until_mjd,
        },
        page,
    )
    .await
}

/// How many alerts have `since_mjd <= mjd_tai < until_mjd`. Row groups wholly inside the
/// range are counted from their footer without reading them.
pub async fn count_time_range(
    snapshot: &Snapshot,
    store: &Arc<dyn ObjectStore>,
    since_mjd: f64,
    until_mjd: f64,
) -> Result<u64> {
    check_time(since_mjd, until_mjd)?;
    let (since, until) = (since_mjd, until_mjd);
    let predicate = Predicate::Time { since, until };
    let candidates: Vec<&DataFile> = snapshot
        .files()
        .iter()
        .filter(|f| predicate.keeps_file(f))
        .collect();
    let candidates = &candidates;
    let counts: Vec<u64> = futures::stream::iter(0..candidates.len())
        // By index, not `&DataFile`: a closure over borrowed items makes a future rustc cannot
        // prove `Send` for every lifetime ("FnOnce is not general enough"), and the server
        // runs these queries in `Send` handlers.
        .map(|i| async move {
            let file = candidates[i];
            if let Some((lo, hi)) = file.stats.mjd_tai {
                if lo >= since && hi < until && file.stats.num_records > 0 {
                    return Ok(file.stats.num_records);
                }
            }
            let cached = snapshot.cache.get(store, snapshot, file).await?;
            let metadata = cached.meta.metadata().clone();
            let mut count = 0u64;
            let mut partial = Vec::new();
            for (i, rg) in metadata.row_groups().iter().enumerate() {
                match f64_bounds(rg, col::MJD_TAI) {
                    Some((lo, hi)) if lo >= since && hi < until => count += rg.num_rows() as u64,
                    Some((lo, hi)) if hi < since || lo >= until => {}
                    _ => partial.push(i),
                }
            }
            if !partial.is_empty() {
                let schema = metadata.file_metadata().schema_descr();
                let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(
                    reader(store, snapshot, file),
                    cached.meta.clone(),
                )
                .with_row_groups(partial)
                .with_projection(ProjectionMask::leaves(schema, [column_index(col::MJD_TAI)]))
                .with_batch_size(BATCH_ROWS * 4)
                .build()
                .map_err(|e| IndexError::parquet(&file.path, e))?;
                while let Some(batch) = stream
                    .try_next()
                    .await
                    .map_err(|e| IndexError::parquet(&file.path, e))?
                {
                    let mjd = batch.column(0).as_primitive::<Float64Type>();
                    count += mjd
                        .values()
                        .iter()
                        .filter(|t| **t >= since && **t < until)
                        .count() as u64;
                }
            }
            Ok::<_, IndexError>(count)
        })
        .buffer_unordered(FILE_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(counts.into_iter().sum())
}

/// The alerts within `radius_deg` (great circle) of (`ra_deg`, `dec_deg`), oldest first.
pub async fn cone(
    snapshot: &Snapshot,
    store: &Arc<dyn ObjectStore>,
    ra_deg: f64,
    dec_deg: f64,
    radius_deg: f64,
    page: PageRequest,
) -> Result<Page> {
    if !ra_deg.is_finite() || !dec_deg.is_finite() || !(-90.0..=90.0).contains(&dec_deg) {
        return Err(IndexError::BadQuery(format!(
            "({ra_deg}, {dec_deg}) is not a position: ra must be finite, dec within [-90, 90]"
        )));
    }
    if !(radius_deg > 0.0 && radius_deg <= MAX_CONE_RADIUS_DEG) {
        return Err(IndexError::BadQuery(format!(
            "radius {radius_deg} is not within (0, {MAX_CONE_RADIUS_DEG}] degrees"
        )));
    }
    let ra = ra_deg.rem_euclid(360.0);
    let ranges = Arc::new(healpix::cone_ranges(ra, dec_deg, radius_deg));
    run_page(
        snapshot,
        store,
        'c',
        Predicate::Cone {
            ra,
            dec: dec_deg,
            radius: radius_deg,
            ranges,
        },
        page,
    )
    .await
}

/// Every row of the table, unordered (tests and small tables).
pub async fn all_rows(snapshot: &Snapshot, store: &Arc<dyn ObjectStore>) -> Result<Vec<IndexRow>> {
    let files = snapshot.files();
    let parts: Vec<Vec<IndexRow>> = futures::stream::iter(0..files.len())
        // By index, not `&DataFile`: a closure over borrowed items makes a future rustc cannot
        // prove `Send` for every lifetime ("FnOnce is not general enough"), and the server
        // runs these queries in `Send` handlers.
        .map(|i| async move {
            let file = &files[i];
            let mut top = TopRows {
                rows: Vec::new(),
                keep: usize::MAX,
                after: None,
            };
            top.keep = usize::MAX;
            file_rows(snapshot, store, file, &Predicate::All, &mut top).await?;
            Ok::<_, IndexError>(top.rows)
        })
        .buffer_unordered(FILE_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(parts.into_iter().flatten().collect())
}

/// Every alert id in the table.
pub async fn alert_ids(snapshot: &Snapshot, store: &Arc<dyn ObjectStore>) -> Result<Vec<i64>> {
    let files = snapshot.files();
    let parts: Vec<Vec<i64>> = futures::stream::iter(0..files.len())
        // By index, not `&DataFile`: a closure over borrowed items makes a future rustc cannot
        // prove `Send` for every lifetime ("FnOnce is not general enough"), and the server
        // runs these queries in `Send` handlers.
        .map(|i| async move {
            let file = &files[i];
            let cached = snapshot.cache.get(store, snapshot, file).await?;
            let schema = cached.meta.metadata().file_metadata().schema_descr();
            let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(
                reader(store, snapshot, file),
                cached.meta.clone(),
            )
            .with_projection(ProjectionMask::leaves(
                schema,
                [column_index(col::ALERT_ID)],
            ))
            .build()
            .map_err(|e| IndexError::parquet(&file.path, e))?;
            let mut ids = Vec::new();
            while let Some(batch) = stream
                .try_next()
                .await
                .map_err(|e| IndexError::parquet(&file.path, e))?
            {
                ids.extend_from_slice(batch.column(0).as_primitive::<Int64Type>().values());
            }
            Ok::<_, IndexError>(ids)
        })
        .buffer_unordered(FILE_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(parts.into_iter().flatten().collect())
}

/// Every row of one file as record batches of [`batch::schema()`] (compaction).
pub(crate) async fn file_batches(
    snapshot: &Snapshot,
    store: &Arc<dyn ObjectStore>,
    file: &DataFile,
) -> Result<Vec<RecordBatch>> {
    let mut reader = reader(store, snapshot, file);
    let meta = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new())
        .await
        .map_err(|e| IndexError::parquet(&file.path, e))?;
    ParquetRecordBatchStreamBuilder::new_with_metadata(reader, meta)
        .with_batch_size(BATCH_ROWS * 8)
        .build()
        .map_err(|e| IndexError::parquet(&file.path, e))?
        .map_err(|e| IndexError::parquet(&file.path, e))
        .try_collect()
        .await
}

/// Byte ranges fetched from a file, served to the Parquet crate's synchronous readers.
struct FetchedRanges {
    /// (start offset, bytes from there).
    chunks: Vec<(u64, Bytes)>,
    size: u64,
}

impl FetchedRanges {
    fn find(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.chunks
            .iter()
            .find(|(at, bytes)| *at <= start && start + length as u64 <= at + bytes.len() as u64)
            .map(|(at, bytes)| bytes.slice((start - at) as usize..(start - at) as usize + length))
            .ok_or_else(|| {
                parquet::errors::ParquetError::General(format!(
                    "bytes {start}..{} were not fetched",
                    start + length as u64
                ))
            })
    }
}

impl parquet::file::reader::Length for FetchedRanges {
    fn len(&self) -> u64 {
        self.size
    }
}

impl parquet::file::reader::ChunkReader for FetchedRanges {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let (at, bytes) = self
            .chunks
            .iter()
            .find(|(at, bytes)| *at <= start && start < at + bytes.len() as u64)
            .ok_or_else(|| {
                parquet::errors::ParquetError::General(format!("byte {start} was not fetched"))
            })?;
        Ok(bytes::Buf::reader(bytes.slice((start - at) as usize..)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.find(start, length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{IndexTable, TABLE_PREFIX};
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn bloom_filters_come_in_one_fetch_and_know_their_ids() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let table = IndexTable::open_or_create(store.clone(), TABLE_PREFIX)
            .await
            .unwrap()
            .with_layout(batch::FileLayout {
                row_group_rows: 20,
                page_rows: 5,
            });
        let rows: Vec<IndexRow> = (0..100).map(crate::tests::row).collect();
        table.append(rows.clone(), vec![]).await.unwrap();
        let snapshot = table.snapshot().await.unwrap();
        let file = &snapshot.files()[0];
        let cached = snapshot.cache.get(&store, &snapshot, file).await.unwrap();
        let blooms = cached
            .fetch_blooms(&store, &snapshot, file)
            .await
            .unwrap()
            .expect("lengths are recorded");
        assert_eq!(blooms.len(), 5);
        for (i, row) in rows.iter().enumerate() {
            if let Some(id) = row.dia_object_id {
                assert!(blooms[i / 20].as_ref().unwrap().check(&id), "row {i}");
            }
        }
    }
}
