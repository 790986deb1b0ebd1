//! Index rows of archived alerts: buffered, written to the index table in batches, and only
//! then released to the offset tracker.
//!
//! The archive's guarantees stay as they were because a message's ticket is finished (its
//! offset becomes committable) only when its row is in a committed table version, not when its
//! alert is archived. So a Kafka commit never passes an alert without its row: a crash between
//! the archive write and the index flush re-reads the message, re-archives it (byte-identical)
//! and indexes it again.
//!
//! Re-reading must not add a second row. Each batch records, per partition, a Delta `txn`
//! action: app id `alertdb-ingester/{group}/{topic}/{partition}`, version = the partition's
//! **watermark**, the offset below which every received message is indexed (or needs no row).
//! That is the tracker's committable position once the batch is in: the smallest offset still
//! being archived or buffered outside this batch, or one past the last received. A row whose
//! offset is below its partition's version in the table is already in the table and is dropped.
//! The check is made against the table version the commit is based on: when another writer
//! (another instance of the group after a rebalance) commits first, the commit fails
//! (`PutMode::Create` of the same log entry), the table is read again, and the batch is
//! filtered against the newer versions before the next attempt. Two writers can thus never
//! both add a row of the same offset.
//!
//! Flushes happen when the oldest buffered row has waited `--index-interval` (less one tick of
//! the flush loop, so the row is written within the interval), when the buffer holds
//! `--index-max-rows`, on revocation of nothing (rows of revoked partitions are dropped: their
//! offsets were not committed, the next owner indexes them), and on shutdown after the
//! in-flight writes drain and before the final offset commit.

use crate::archive::Backoff;
use crate::metrics::Metrics;
use crate::offsets::{OffsetTracker, PartitionKey, Ticket};
use alert_index::{IndexRow, IndexTable, KafkaCoords};

use object_storage::object_store::ObjectStore;
use service_kit::ops::Heartbeat;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Where the index table lives in the alerts' store.
pub use alert_index::TABLE_PREFIX;

/// Liveness name of the flush loop.
pub const FLUSH_LOOP: &str = "index-flush-loop";
/// Readiness component of the index table.
pub const INDEX_STORE: &str = "index-table";

/// The `txn` app id of one partition of one consumer group.
pub fn app_id(group: &str, topic: &str, partition: i32) -> String {
    format!("alertdb-ingester/{group}/{topic}/{partition}")
}

/// Where an alert being indexed came from.
#[derive(Debug, Clone, Copy)]
pub enum RowSource<'a> {
    /// Consumed from Kafka: the row records topic, partition and offset.
    Kafka(&'a Ticket),
    /// Read back from the archive (`rebuild-index`): the archive does not keep them.
    Archive,
}

/// The index row of one archived alert: `value` is the Confluent-framed message, `schema` its
/// writer schema (as the archiver parsed it), `key` the archive object.
pub fn build_row(
    schema: Option<Result<Arc<alert_packet::Schema>, String>>,
    value: Option<&[u8]>,
    key: &str,
    source: RowSource<'_>,
) -> Result<IndexRow, String> {
    let value = value.ok_or("the message has no value")?;
    let frame = alert_packet::wire::unframe(value).map_err(|e| e.to_string())?;
    let schema = match schema {
        Some(Ok(schema)) => schema,
        Some(Err(reason)) => {
            return Err(format!(
                "schema {} does not parse: {reason}",
                frame.schema_id
            ))
        }
        None => return Err(format!("schema {} is not known", frame.schema_id)),
    };
    let schema_id = i32::try_from(frame.schema_id).map_err(|_| {
        format!(
            "schema id {} does not fit the index's int column",
            frame.schema_id
        )
    })?;
    // Rows read back from the archive have no Kafka position; -1 and "" say so until the
    // columns become nullable.
    let kafka = match source {
        RowSource::Kafka(ticket) => KafkaCoords {
            topic: ticket.topic.clone(),
            partition: ticket.partition,
            offset: ticket.offset,
        },
        RowSource::Archive => KafkaCoords {
            topic: String::new(),
            partition: -1,
            offset: -1,
        },
    };
    IndexRow::from_alert(&schema, frame.body, schema_id, key, kafka).map_err(|e| e.to_string())
}

/// A row waiting for its batch, with the ticket that is finished once it is written.
#[derive(Debug)]
pub struct Pending {
    pub row: IndexRow,
    pub ticket: Ticket,
    pub since: Instant,
}

/// Rows waiting to be written.
#[derive(Debug, Default)]
pub struct Buffer {
    rows: Vec<Pending>,
}

impl Buffer {
    pub fn push(&mut self, pending: Pending) {
        self.rows.push(pending);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// How long the oldest row has waited.
    pub fn oldest_age(&self, now: Instant) -> Option<Duration> {
        self.rows
            .iter()
            .map(|p| p.since)
            .min()
            .map(|since| now.saturating_duration_since(since))
    }

    /// Everything buffered, for one batch.
    pub fn take(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.rows)
    }

    /// Drops the rows of a revoked partition (the next owner re-reads and indexes them).
    pub fn forget(&mut self, topic: &str, partition: i32) -> usize {
        let before = self.rows.len();
        self.rows
            .retain(|p| !(p.ticket.topic == topic && p.ticket.partition == partition));
        before - self.rows.len()
    }
}

/// One batch ready to commit: its rows by partition, each partition's watermark, and the
/// tickets to finish afterwards.
#[derive(Debug, Default)]
pub struct Batch {
    pub rows: BTreeMap<PartitionKey, Vec<IndexRow>>,
    pub watermarks: BTreeMap<PartitionKey, i64>,
    pub tickets: Vec<Ticket>,
}

impl Batch {
    /// Groups `pending` by partition and computes each partition's watermark from the
    /// tracker. Rows of partitions revoked since they were buffered are dropped.
    pub fn prepare(pending: Vec<Pending>, tracker: &OffsetTracker) -> Batch {
        let mut batch = Batch::default();
        let mut offsets: HashMap<PartitionKey, BTreeSet<i64>> = HashMap::new();
        for p in pending {
            if !tracker.is_current(&p.ticket) {
                continue;
            }
            let key = (p.ticket.topic.clone(), p.ticket.partition);
            offsets
                .entry(key.clone())
                .or_default()
                .insert(p.ticket.offset);
            batch.rows.entry(key).or_default().push(p.row);
            batch.tickets.push(p.ticket);
        }
        for (key, finishing) in &offsets {
            if let Some(watermark) = tracker.committable_after(key, finishing) {
                batch.watermarks.insert(key.clone(), watermark);
            }
        }
        batch
    }

    /// The rows and txn versions to commit on top of a table whose versions are
    /// `table_version(app id)`: rows below their partition's table version are already in
    /// the table; a version never goes backwards.
    pub fn against(
        &self,
        group: &str,
        table_version: impl Fn(&str) -> Option<i64>,
    ) -> (Vec<IndexRow>, Vec<(String, i64)>) {
        let mut rows = Vec::new();
        let mut txns = Vec::new();
        for (key, partition_rows) in &self.rows {
            let app = app_id(group, &key.0, key.1);
            let in_table = table_version(&app).unwrap_or(i64::MIN);
            rows.extend(
                partition_rows
                    .iter()
                    .filter(|row| row_offset(row) >= in_table)
                    .cloned(),
            );
            if let Some(&watermark) = self.watermarks.get(key) {
                if watermark > in_table {
                    txns.push((app, watermark));
                }
            }
        }
        (rows, txns)
    }
}

/// The Kafka offset of a row the ingester made (always set for those).
fn row_offset(row: &IndexRow) -> i64 {
    row.offset
}

/// Writes the buffered rows of one ingester.
#[derive(Debug)]
pub struct Indexer {
    /// Where the table is; opened (created if need be) by the first flush, so a store that is
    /// down at start delays only the index, not the ops routes or the archive.
    store: Arc<dyn ObjectStore>,
    /// Held through a flush: one batch at a time.
    table: tokio::sync::Mutex<Option<IndexTable>>,
    buffer: Mutex<Buffer>,
    group: String,
    interval: Duration,
    max_rows: usize,
    backoff: Backoff,
    metrics: Metrics,
    /// Wakes the flush loop when the buffer is full.
    full: tokio::sync::Notify,
    /// Wakes writers waiting for room after a flush.
    flushed: tokio::sync::Notify,
}

/// Parts of an [`Indexer`].
#[derive(Debug)]
pub struct IndexerParts {
    /// The alerts' store, which holds the table at [`TABLE_PREFIX`].
    pub store: Arc<dyn ObjectStore>,
    pub group: String,
    pub interval: Duration,
    pub max_rows: usize,
    pub backoff: Backoff,
    pub metrics: Metrics,
}

/// The buffer and the tracker it releases tickets to.
pub type Tracker = Arc<Mutex<OffsetTracker>>;

impl Indexer {
    pub fn new(parts: IndexerParts) -> Self {
        Self {
            store: parts.store,
            table: tokio::sync::Mutex::new(None),
            buffer: Mutex::new(Buffer::default()),
            group: parts.group,
            interval: parts.interval,
            max_rows: parts.max_rows,
            backoff: parts.backoff,
            metrics: parts.metrics,
            full: tokio::sync::Notify::new(),
            flushed: tokio::sync::Notify::new(),
        }
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Buffers a row. Waits while the buffer holds twice `max_rows` (the table is failing):
    /// the caller holds an in-flight permit, so consumption stops instead of memory growing.
    pub async fn push(&self, row: IndexRow, ticket: Ticket) {
        loop {
            let flushed = self.flushed.notified();
            {
                let mut buffer = self.buffer();
                if buffer.len() < self.max_rows.saturating_mul(2) {
                    buffer.push(Pending {
                        row,
                        ticket,
                        since: Instant::now(),
                    });
                    if buffer.len() >= self.max_rows {
                        self.full.notify_one();
                    }
                    return;
                }
            }
            flushed.await;
        }
    }

    /// Drops the buffered rows of a revoked partition.
    pub fn forget(&self, topic: &str, partition: i32) {
        let dropped = self.buffer().forget(topic, partition);
        if dropped > 0 {
            tracing::info!(
                topic,
                partition,
                rows = dropped,
                "revoked: buffered index rows dropped (the next owner indexes them)"
            );
        }
    }

    /// Rows waiting.
    pub fn buffered(&self) -> usize {
        self.buffer().len()
    }

    /// Flushes when the oldest row is due or the buffer is full, until `stop`; each turn
    /// beats `heartbeat`. A flush that fails keeps its rows' tickets unfinished and retries.
    pub async fn run(
        self: Arc<Self>,
        tracker: Tracker,
        heartbeat: Heartbeat,
        stop: CancellationToken,
    ) {
        // A row is due one tick before its interval ends, so it is written within it.
        let tick = (self.interval / 10).min(Duration::from_secs(1));
        loop {
            heartbeat.beat();
            let age = self.buffer().oldest_age(Instant::now());
            self.metrics
                .index_lag_seconds
                .set(age.map_or(0.0, |a| a.as_secs_f64()));
            let due = age.is_some_and(|age| age + tick >= self.interval)
                || self.buffer().len() >= self.max_rows;
            if due {
                self.flush(&tracker, &heartbeat, &stop).await;
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.full.notified() => {}
                _ = tokio::time::sleep(tick) => {}
            }
        }
        heartbeat.finish();
    }

    /// Writes everything buffered now, retrying until it is written or `stop` fires (the
    /// rows' tickets then stay unfinished: their messages are read again). Returns whether
    /// the buffer was written.
    pub async fn flush(
        &self,
        tracker: &Tracker,
        heartbeat: &Heartbeat,
        stop: &CancellationToken,
    ) -> bool {
        let mut table = self.table.lock().await;
        let pending = self.buffer().take();
        self.flushed.notify_waiters();
        if pending.is_empty() {
            return true;
        }
        let started = Instant::now();
        let batch = {
            let tracker = tracker.lock().unwrap_or_else(|e| e.into_inner());
            Batch::prepare(pending, &tracker)
        };
        let mut attempt = 0;
        let written = loop {
            heartbeat.beat();
            let committed = match table.as_ref() {
                Some(table) => commit_batch(table, &batch, &self.group).await,
                None => match IndexTable::open_or_create(self.store.clone(), TABLE_PREFIX).await {
                    Ok(opened) => {
                        let committed = commit_batch(&opened, &batch, &self.group).await;
                        *table = Some(opened);
                        committed
                    }
                    Err(error) => Err(error),
                },
            };
            match committed {
                Ok(written) => break written,
                Err(error) => {
                    self.metrics.index_commit_failures.inc();
                    tracing::warn!(
                        error = %error, attempt, rows = batch.tickets.len(),
                        "index commit failed; retrying"
                    );
                    tokio::select! {
                        _ = stop.cancelled() => return false,
                        _ = tokio::time::sleep(self.backoff.delay(attempt)) => {}
                    }
                    attempt += 1;
                }
            }
        };
        drop(table);
        {
            let mut tracker = tracker.lock().unwrap_or_else(|e| e.into_inner());
            for ticket in &batch.tickets {
                tracker.finish(ticket);
            }
        }
        let elapsed = started.elapsed();
        self.metrics.index_rows.inc_by(written as u64);
        self.metrics.index_commits.inc();
        self.metrics
            .index_flush_seconds
            .observe(elapsed.as_secs_f64());
        tracing::debug!(
            rows = written,
            skipped = batch.tickets.len() - written,
            ms = elapsed.as_millis() as u64,
            "index rows committed"
        );
        true
    }
}

/// Commits `batch` on the newest table version, again on a newer one each time another writer
/// records progress of one of its partitions first. Returns the rows written (rows another
/// writer already wrote are not).
async fn commit_batch(
    table: &IndexTable,
    batch: &Batch,
    group: &str,
) -> Result<usize, alert_index::IndexError> {
    loop {
        // The append checks its txns against this snapshot (alert_index's `commit`): a
        // partition's progress recorded by someone else since then is a TxnConflict.
        let snapshot = table.refresh().await?;
        let (rows, txns) = batch.against(group, |app| snapshot.txn_version(app));
        if rows.is_empty() && txns.is_empty() {
            return Ok(0);
        }
        let written = rows.len();
        let txns = txns
            .into_iter()
            .map(|(app, version)| alert_index::Txn::new(app, version))
            .collect();
        match table.append(rows, txns).await {
            Ok(_) => return Ok(written),
            Err(alert_index::IndexError::TxnConflict { app_id, .. }) => {
                tracing::info!(%app_id, "another writer indexed this partition meanwhile; filtering again");
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(alert_id: i64, partition: i32, offset: i64) -> IndexRow {
        IndexRow {
            alert_id,
            dia_source_id: alert_id,
            dia_object_id: Some(7),
            ss_object_id: None,
            mjd_tai: 61_000.0,
            time_us: 0,
            ra: 1.0,
            dec: 2.0,
            healpix29: 0,
            band: Some("g".into()),
            psf_flux: None,
            psf_flux_err: None,
            reliability: None,
            schema_id: 1,
            archive_key: format!("v2/alerts/{alert_id}.avro.gz"),
            topic: "t".into(),
            partition,
            offset,
        }
    }

    fn pending(tracker: &mut OffsetTracker, partition: i32, offset: i64) -> Pending {
        Pending {
            row: row(1000 + offset, partition, offset),
            ticket: tracker.start("t", partition, offset),
            since: Instant::now(),
        }
    }

    #[test]
    fn a_batch_records_each_partition_s_watermark() {
        let mut tracker = OffsetTracker::new();
        let batch: Vec<Pending> = [(0, 0), (0, 1), (1, 5)]
            .iter()
            .map(|&(p, o)| pending(&mut tracker, p, o))
            .collect();
        // Offset 2 of partition 0 is still being archived when the batch is cut.
        let _still_archiving = tracker.start("t", 0, 2);
        let batch = Batch::prepare(batch, &tracker);
        assert_eq!(batch.tickets.len(), 3);
        assert_eq!(batch.watermarks[&("t".to_owned(), 0)], 2);
        assert_eq!(batch.watermarks[&("t".to_owned(), 1)], 6);
        let (rows, txns) = batch.against("g", |_| None);
        assert_eq!(rows.len(), 3);
        assert_eq!(
            txns,
            vec![
                ("alertdb-ingester/g/t/0".to_owned(), 2),
                ("alertdb-ingester/g/t/1".to_owned(), 6)
            ]
        );
    }

    #[test]
    fn rows_another_writer_committed_are_dropped_and_versions_never_go_back() {
        let mut tracker = OffsetTracker::new();
        let batch: Vec<Pending> = (0..4).map(|o| pending(&mut tracker, 0, o)).collect();
        let batch = Batch::prepare(batch, &tracker);
        // Another writer already indexed offsets 0..2 of partition 0.
        let (rows, txns) = batch.against("g", |app| (app == "alertdb-ingester/g/t/0").then_some(2));
        assert_eq!(
            rows.iter().map(|r| r.offset).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert_eq!(txns, vec![("alertdb-ingester/g/t/0".to_owned(), 4)]);
        // ... or all of them and more: nothing to write, the version stays.
        let (rows, txns) = batch.against("g", |_| Some(10));
        assert!(rows.is_empty() && txns.is_empty());
    }

    #[test]
    fn rows_of_revoked_partitions_are_not_written() {
        let mut tracker = OffsetTracker::new();
        let mut buffer = Buffer::default();
        buffer.push(pending(&mut tracker, 0, 0));
        buffer.push(pending(&mut tracker, 1, 0));
        buffer.push(pending(&mut tracker, 1, 1));
        assert_eq!(buffer.forget("t", 1), 2);
        assert_eq!(buffer.len(), 1);
        // Revoked after the rows were taken for a batch: dropped there.
        tracker.revoke("t", 0);
        tracker.assign("t", 0);
        let batch = Batch::prepare(buffer.take(), &tracker);
        assert!(batch.tickets.is_empty() && batch.rows.is_empty());
    }

    fn indexer(store: Arc<dyn ObjectStore>) -> Indexer {
        Indexer::new(IndexerParts {
            store,
            group: "g".into(),
            interval: Duration::from_secs(60),
            max_rows: 1000,
            backoff: Backoff {
                initial: Duration::from_millis(5),
                max: Duration::from_millis(20),
            },
            metrics: Metrics::register(&prometheus::Registry::new()).unwrap(),
        })
    }

    /// Two writers holding rows of the same offsets (a partition moving between ingesters
    /// while both have rows buffered) flush at once, several times: each offset ends up in
    /// the table once, and every ticket is released.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_of_the_same_partition_write_each_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = object_storage::open(
            &format!("file://{}", dir.path().display()),
            &Default::default(),
        )
        .unwrap();
        let (a, b) = (
            Arc::new(indexer(store.clone())),
            Arc::new(indexer(store.clone())),
        );
        let heartbeat =
            service_kit::ops::Liveness::default().register("t", Duration::from_secs(60));
        let stop = CancellationToken::new();
        let mut trackers = Vec::new();
        for _ in 0..2 {
            trackers.push(Arc::new(Mutex::new(OffsetTracker::new())));
        }
        for round in 0..5i64 {
            let offsets = round * 40..(round + 1) * 40;
            for (indexer, tracker) in [(&a, &trackers[0]), (&b, &trackers[1])] {
                for offset in offsets.clone() {
                    let ticket = tracker.lock().unwrap().start("t", 0, offset);
                    indexer.push(row(1000 + offset, 0, offset), ticket).await;
                }
            }
            let (wrote_a, wrote_b) = tokio::join!(
                a.flush(&trackers[0], &heartbeat, &stop),
                b.flush(&trackers[1], &heartbeat, &stop)
            );
            assert!(wrote_a && wrote_b);
        }
        for tracker in &trackers {
            assert_eq!(
                tracker.lock().unwrap().in_flight(),
                0,
                "every ticket released"
            );
        }
        let snapshot = alert_index::Snapshot::load(&store, TABLE_PREFIX)
            .await
            .unwrap()
            .unwrap();
        let mut ids = alert_index::query::alert_ids(&snapshot, &store)
            .await
            .unwrap();
        ids.sort_unstable();
        assert_eq!(ids, (1000..1200).collect::<Vec<i64>>());
        assert_eq!(snapshot.txn_version("alertdb-ingester/g/t/0"), Some(200));
    }
}
