//! The ingester's Prometheus metrics, registered once on the daemon's registry.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
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
    pub commit_failures: IntCounter,
}

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
            commit_failures: IntCounter::new(
                "alertdb_ingester_commit_failures_total",
                "Offset commits the broker refused or did not answer",
            )?,
        };
        registry.register(Box::new(metrics.alerts_archived.clone()))?;
        registry.register(Box::new(metrics.message_bytes.clone()))?;
        registry.register(Box::new(metrics.stored_bytes.clone()))?;
        registry.register(Box::new(metrics.schemas_written.clone()))?;
        registry.register(Box::new(metrics.write_seconds.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        registry.register(Box::new(metrics.retries.clone()))?;
        registry.register(Box::new(metrics.dead_lettered.clone()))?;
        registry.register(Box::new(metrics.consumer_lag.clone()))?;
        registry.register(Box::new(metrics.commit_failures.clone()))?;
        Ok(metrics)
    }
}
