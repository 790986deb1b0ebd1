//! The ingester's Prometheus metrics, registered once on the daemon's registry.

use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// Every metric the ingester exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub alerts_archived: IntCounter,
    /// Bytes of Kafka message values archived (before gzip).
    pub message_bytes: IntCounter,
    /// Bytes written to the alert store (after gzip).
    pub stored_bytes: IntCounter,
    pub schemas_written: IntCounter,
    /// Seconds from receiving a message to its object being durable.
    pub write_seconds: Histogram,
    pub in_flight: IntGauge,
    pub retries: IntCounterVec,
    pub dead_lettered: IntCounterVec,
    pub consumer_lag: IntGaugeVec,
    /// Offset commits the broker accepted, seen as advances of an owned partition's committed
    /// offset in librdkafka's statistics (`ingest::record_committed`). With `consumer_lag`, tells
    /// an ingester that stopped committing (`increase(...) == 0` while lag > 0) from an idle one.
    pub commits: IntCounter,
    /// Commits refused, as far as the client reports them: failures `commit` returns at once
    /// and the final synchronous commit's (asynchronous commits report to no callback).
    pub commit_failures: IntCounter,
    /// Index rows committed to the index table (rows another writer had written not counted).
    pub index_rows: IntCounter,
    /// Index table commits (batches).
    pub index_commits: IntCounter,
    /// Index batches whose commit failed (each retried).
    pub index_commit_failures: IntCounter,
    /// Archived alerts that got no index row (their alert did not decode with its schema).
    pub index_row_errors: IntCounter,
    /// Seconds to write one batch (Parquet file and log entry).
    pub index_flush_seconds: Histogram,
    /// Age of the oldest archived alert whose row is not yet in the table.
    pub index_lag_seconds: Gauge,
}

/// Every `reason` label of `alertdb_ingester_dead_lettered_total` (`Poison::reason`). Each
/// starts at 0, so that the first dead letter after a start is an increase an alert sees
/// (`increase()` ignores a series' first sample) and the series exist before any poison.
pub const DEAD_LETTER_REASONS: [&str; 6] = [
    "no_value",
    "too_short",
    "bad_magic",
    "unreadable_alert_id",
    "unknown_schema",
    "bad_schema",
];

impl Metrics {
    /// Creates the metrics and registers them on `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            alerts_archived: IntCounter::new(
                "alertdb_ingester_alerts_archived_total",
                "Alerts written to the archive",
            )?,
            message_bytes: IntCounter::new(
                "alertdb_ingester_message_bytes_total",
                "Bytes of Kafka message values archived, before compression",
            )?,
            stored_bytes: IntCounter::new(
                "alertdb_ingester_stored_bytes_total",
                "Bytes written to the alert store, after compression",
            )?,
            schemas_written: IntCounter::new(
                "alertdb_ingester_schemas_written_total",
                "Schemas written to the schema store",
            )?,
            write_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "alertdb_ingester_write_seconds",
                    "Time from receiving an alert to its object being durable",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ]),
            )?,
            in_flight: IntGauge::new(
                "alertdb_ingester_in_flight_writes",
                "Messages being archived or dead-lettered now",
            )?,
            retries: IntCounterVec::new(
                Opts::new(
                    "alertdb_ingester_retries_total",
                    "Retries after transient failures, by operation",
                ),
                &["operation"],
            )?,
            dead_lettered: IntCounterVec::new(
                Opts::new(
                    "alertdb_ingester_dead_lettered_total",
                    "Poison messages sent to the dead-letter topic, by reason",
                ),
                &["reason"],
            )?,
            consumer_lag: IntGaugeVec::new(
                Opts::new(
                    "alertdb_ingester_consumer_lag",
                    "Messages between the consumer's position and the partition's end",
                ),
                &["topic", "partition"],
            )?,
            commits: IntCounter::new(
                "alertdb_ingester_commits_total",
                "Offset commits the broker accepted (advances of a partition's committed offset)",
            )?,
            commit_failures: IntCounter::new(
                "alertdb_ingester_commit_failures_total",
                "Offset commits the broker refused or did not answer",
            )?,
            index_rows: IntCounter::new(
                "alertdb_ingester_index_rows_total",
                "Index rows committed to the index table",
            )?,
            index_commits: IntCounter::new(
                "alertdb_ingester_index_commits_total",
                "Batches committed to the index table",
            )?,
            index_commit_failures: IntCounter::new(
                "alertdb_ingester_index_commit_failures_total",
                "Index batch commits that failed and were retried",
            )?,
            index_row_errors: IntCounter::new(
                "alertdb_ingester_index_row_errors_total",
                "Archived alerts that got no index row because they did not decode",
            )?,
            index_flush_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "alertdb_ingester_index_flush_seconds",
                    "Time to write one batch of index rows",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ]),
            )?,
            index_lag_seconds: Gauge::new(
                "alertdb_ingester_index_lag_seconds",
                "Age of the oldest archived alert whose index row is not yet written",
            )?,
        };
        registry.register(Box::new(metrics.index_rows.clone()))?;
        registry.register(Box::new(metrics.index_commits.clone()))?;
        registry.register(Box::new(metrics.index_commit_failures.clone()))?;
        registry.register(Box::new(metrics.index_row_errors.clone()))?;
        registry.register(Box::new(metrics.index_flush_seconds.clone()))?;
        registry.register(Box::new(metrics.index_lag_seconds.clone()))?;
        registry.register(Box::new(metrics.alerts_archived.clone()))?;
        registry.register(Box::new(metrics.message_bytes.clone()))?;
        registry.register(Box::new(metrics.stored_bytes.clone()))?;
        registry.register(Box::new(metrics.schemas_written.clone()))?;
        registry.register(Box::new(metrics.write_seconds.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        registry.register(Box::new(metrics.retries.clone()))?;
        registry.register(Box::new(metrics.dead_lettered.clone()))?;
        registry.register(Box::new(metrics.consumer_lag.clone()))?;
        registry.register(Box::new(metrics.commits.clone()))?;
        registry.register(Box::new(metrics.commit_failures.clone()))?;
        for reason in DEAD_LETTER_REASONS {
            metrics.dead_lettered.with_label_values(&[reason]);
        }
        Ok(metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exported(registry: &Registry) -> Vec<(String, Vec<String>)> {
        registry
            .gather()
            .iter()
            .map(|family| {
                let labels = family
                    .get_metric()
                    .iter()
                    .flat_map(|m| m.get_label().iter().map(|l| l.value().to_owned()))
                    .collect();
                (family.name().to_owned(), labels)
            })
            .collect()
    }

    #[test]
    fn commits_and_every_dead_letter_reason_are_exported_from_the_start() {
        let registry = Registry::new();
        Metrics::register(&registry).unwrap();
        let families = exported(&registry);
        let names: Vec<&str> = families.iter().map(|(name, _)| name.as_str()).collect();
        assert!(
            names.contains(&"alertdb_ingester_commits_total"),
            "{names:?}"
        );
        assert!(names.contains(&"alertdb_ingester_commit_failures_total"));
        let (_, reasons) = families
            .iter()
            .find(|(name, _)| name == "alertdb_ingester_dead_lettered_total")
            .expect("the dead-letter counter is exported before any poison");
        assert_eq!(reasons.len(), DEAD_LETTER_REASONS.len());
        for reason in DEAD_LETTER_REASONS {
            assert!(
                reasons.iter().any(|r| r == reason),
                "{reason} in {reasons:?}"
            );
        }
    }

    #[test]
    fn every_poison_reason_is_listed() {
        use crate::archive::{classify, Poison};
        let poisons = [
            Poison::NoValue,
            classify(&[0, 0, 1]).unwrap_err(),
            classify(&[1, 0, 0, 4, 0x4d, 2, 3]).unwrap_err(),
            Poison::AlertId("x".into()),
            Poison::UnknownSchema(1),
            Poison::BadSchema {
                id: 1,
                reason: "x".into(),
            },
        ];
        let mut reasons: Vec<&str> = poisons.iter().map(Poison::reason).collect();
        reasons.sort_unstable();
        let mut listed = DEAD_LETTER_REASONS.to_vec();
        listed.sort_unstable();
        assert_eq!(reasons, listed);
    }
}
