//! `play-stream`: copy the static topic into the live topic, once or on a fixed schedule.
//!
//! Each pass reads every partition of the static topic from the beginning up to the high
//! watermark taken when the pass starts, and produces each value (no key, no headers) to the
//! destination, paced by the `alertsim-time-offset` headers (or as fast as possible). Pass `k`
//! starts at `t0 + k·interval`; a pass that overruns its slot is logged and counted, and the
//! schedule restarts from the moment it ended, so the period is `max(interval, pass time)`
//! and never drifts otherwise. Nothing holds a whole pass in memory: the consumer's prefetch
//! and the producer's queue are bounded. SIGTERM ends after the current message; deliveries
//! in flight are awaited before exit.
//!
//! Health: the replay loop beats its heartbeat on every confirmed delivery, while it waits
//! for its next slot or for paced alerts with nothing in flight, and after each pass, so
//! `/healthz` fails once it has made no progress for `--liveness-deadline` (brokers
//! unreachable, the destination gone, deliveries failing and retried). When repeating, a pass
//! that fails (its metadata, offsets or source cannot be read) is logged and tried again
//! rather than ending the daemon. At start the source topic and the destination (created
//! with `--create-dst-topic`) must exist: until they do, a repeating replayer waits with
//! `topics` not ready and the reason in `/readyz` and the log; a single pass fails at once.

use crate::cli::{Pacing, PlayStream};
use crate::loader::{enqueue, producer_config, Delivery, TIME_OFFSET_HEADER};
use crate::topics::{self, TopicSpec};
use alert_packet::alert::replace_id;
use alert_packet::wire::{self, HEADER_LEN};
use anyhow::{bail, Context};
use futures::stream::{FuturesUnordered, StreamExt};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use service_kit::ops::{Heartbeat, Ops};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Readiness component: the source and destination topics exist.
pub const TOPICS: &str = "topics";
/// Liveness name of the replay loop.
pub const REPLAY_LOOP: &str = "replay-loop";
/// How often missing topics are looked for again.
pub const TOPIC_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// What one pass did.
#[derive(Debug, Clone, PartialEq)]
pub struct PassReport {
    pub index: u64,
    /// When the pass was due (t0 + k·interval, or the end of an overrun).
    pub scheduled: Instant,
    pub started: Instant,
    pub alerts: u64,
    pub duration: Duration,
}

/// What a whole run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayReport {
    pub passes: u64,
    pub alerts: u64,
    pub overruns: u64,
}

#[derive(Debug, Clone)]
struct Metrics {
    alerts: IntCounter,
    passes: IntCounter,
    overruns: IntCounter,
    produce_errors: IntCounter,
    pass_duration: Histogram,
    schedule_lag: prometheus::Gauge,
    in_flight: IntGauge,
}

impl Metrics {
    fn new(ops: &Ops) -> anyhow::Result<Self> {
        let registry = ops.registry();
        let counter = |name: &str, help: &str| -> anyhow::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let metrics = Self {
            alerts: counter(
                "alertsim_alerts_sent_total",
                "Alerts produced to the destination topic",
            )?,
            passes: counter("alertsim_passes_total", "Completed replay passes")?,
            overruns: counter(
                "alertsim_pass_overruns_total",
                "Passes that took longer than the repeat interval",
            )?,
            produce_errors: counter(
                "alertsim_produce_errors_total",
                "Failed deliveries (each retried)",
            )?,
            pass_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "alertsim_pass_duration_seconds",
                    "Duration of a replay pass",
                )
                .buckets(vec![
                    0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 37.0, 60.0, 120.0,
                ]),
            )?,
            schedule_lag: prometheus::Gauge::new(
                "alertsim_schedule_lag_seconds",
                "How late the last pass started relative to its slot",
            )?,
            in_flight: IntGauge::new(
                "alertsim_deliveries_in_flight",
                "Produced messages awaiting confirmation",
            )?,
        };
        registry.register(Box::new(metrics.pass_duration.clone()))?;
        registry.register(Box::new(metrics.schedule_lag.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        Ok(metrics)
    }
}

/// Runs `play-stream` with `/metrics`, `/healthz` and `/readyz` served on `listener`.
/// `reports` receives each pass's report (tests use it to check the schedule).
pub async fn serve(
    args: &PlayStream,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
    reports: Option<mpsc::UnboundedSender<PassReport>>,
) -> anyhow::Result<PlayReport> {
    let ops = Ops::new("rubin-alert-sim", env!("CARGO_PKG_VERSION"));
    ops.readiness().register("kafka");
    ops.readiness().register(TOPICS);
    let router: axum::Router = ops.router();
    let server_shutdown = shutdown.clone();
    let server = tokio::spawn(service_kit::http::serve(
        listener,
        router,
        service_kit::http::Limits::default(),
        server_shutdown.cancelled_owned(),
    ));
    let result = play(args, &ops, shutdown.clone(), reports).await;
    // Stop the ops server whether or not the replay succeeded.
    shutdown.cancel();
    let _ = server.await;
    result
}

/// The replay loop.
pub async fn play(
    args: &PlayStream,
    ops: &Ops,
    shutdown: CancellationToken,
    reports: Option<mpsc::UnboundedSender<PassReport>>,
) -> anyhow::Result<PlayReport> {
    let metrics = Metrics::new(ops)?;
    let kafka = crate::cli::kafka_settings(&args.kafka)?;
    let client_config = kafka.client_config()?;
    service_kit::kafka::check_connection(&kafka).await?;
    ops.readiness().set_ready("kafka");
    let interval =
        (args.repeat_interval >= 0.0).then(|| Duration::from_secs_f64(args.repeat_interval));
    let heartbeat = ops
        .liveness()
        .register(REPLAY_LOOP, args.liveness_deadline.0);
    let beat_every = (args.liveness_deadline.0 / 4).min(Duration::from_secs(1));
    let mut report = PlayReport {
        passes: 0,
        alerts: 0,
        overruns: 0,
    };
    let ready = ensure_topics(
        args,
        &client_config,
        ops,
        interval.is_some(),
        &heartbeat,
        beat_every,
        &shutdown,
    )
    .await?;
    if !ready {
        heartbeat.finish();
        return Ok(report);
    }

    let producer: FutureProducer = producer_config(client_config.clone()).create()?;
    let consumer: StreamConsumer = client_config
        .clone()
        .set(
            "group.id",
            format!("rubin-alert-sim-replayer-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("queued.max.messages.kbytes", "32768")
        .set("fetch.max.bytes", "16777216")
        .create()?;

    let max_passes = match interval {
        None => 1,
        Some(_) => args.passes.unwrap_or(u64::MAX),
    };
    let mut schedule_base = Instant::now();
    let mut slot = 0u64;
    while report.passes < max_passes && !shutdown.is_cancelled() {
        let scheduled = interval.map_or(schedule_base, |i| schedule_base + i.mul_f64(slot as f64));
        // Idle until the slot: beats, but only once it has waited (a pass tried again at
        // once after a failure is no progress).
        let until_slot = tokio::time::sleep_until(scheduled.into());
        tokio::pin!(until_slot);
        loop {
            tokio::select! {
                _ = &mut until_slot => break,
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(beat_every) => heartbeat.beat(),
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
        let started = Instant::now();
        metrics
            .schedule_lag
            .set(started.saturating_duration_since(scheduled).as_secs_f64());
        let pass = Pass {
            args,
            consumer: &consumer,
            producer: &producer,
            metrics: &metrics,
            heartbeat: &heartbeat,
            beat_every,
            shutdown: &shutdown,
        };
        let alerts = match run_pass(&pass, report.passes).await {
            Ok(alerts) => alerts,
            Err(error) if interval.is_some() => {
                // No beat: a pass that keeps failing turns /healthz red after the deadline.
                tracing::error!(
                    error = format!("{error:#}"),
                    "pass failed; trying again in 1 s"
                );
                ops.readiness()
                    .set_not_ready("kafka", format!("pass failed: {error:#}"));
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.cancelled() => break,
                }
            }
            Err(error) => return Err(error),
        };
        heartbeat.beat();
        ops.readiness().set_ready("kafka");
        let duration = started.elapsed();
        report.passes += 1;
        report.alerts += alerts;
        metrics.passes.inc();
        metrics.pass_duration.observe(duration.as_secs_f64());
        tracing::info!(
            pass = report.passes,
            alerts,
            seconds = duration.as_secs_f64(),
            "sent {alerts} alerts in {:.2} s ({:.0}/s)",
            duration.as_secs_f64(),
            alerts as f64 / duration.as_secs_f64().max(1e-9)
        );
        if let Some(tx) = &reports {
            let _ = tx.send(PassReport {
                index: report.passes - 1,
                scheduled,
                started,
                alerts,
                duration,
            });
        }
        slot += 1;
        if let Some(interval) = interval {
            let next = schedule_base + interval.mul_f64(slot as f64);
            let now = Instant::now();
            if now > next {
                report.overruns += 1;
                metrics.overruns.inc();
                tracing::warn!(
                    pass = report.passes,
                    seconds = duration.as_secs_f64(),
                    interval = interval.as_secs_f64(),
                    "pass took longer than the repeat interval; starting the next one now"
                );
                schedule_base = now;
                slot = 0;
            }
        }
    }
    heartbeat.finish();
    Ok(report)
}

/// Waits until the source topic and the destination exist (creating the destination with
/// `--create-dst-topic`). A daemon (`repeating`) waits, not ready, with the reason in
/// `/readyz` and the log; a single pass fails at once. `Ok(false)`: shutdown came first.
async fn ensure_topics(
    args: &PlayStream,
    client_config: &rdkafka::ClientConfig,
    ops: &Ops,
    repeating: bool,
    heartbeat: &Heartbeat,
    beat_every: Duration,
    shutdown: &CancellationToken,
) -> anyhow::Result<bool> {
    let mut created = false;
    let mut last_reason = String::new();
    loop {
        heartbeat.beat();
        let reason = match missing_topic(args, client_config, &mut created).await {
            Ok(None) => {
                ops.readiness().set_ready(TOPICS);
                return Ok(true);
            }
            Ok(Some(reason)) => reason,
            Err(error) if repeating => format!("{error:#}"),
            Err(error) => return Err(error),
        };
        if !repeating {
            bail!("{reason}");
        }
        if reason != last_reason {
            tracing::error!(reason = %reason, "not replaying until the topics exist");
            last_reason.clone_from(&reason);
        }
        ops.readiness().set_not_ready(TOPICS, reason);
        let waited = Instant::now();
        while waited.elapsed() < TOPIC_CHECK_INTERVAL {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(false),
                _ = tokio::time::sleep(beat_every.min(TOPIC_CHECK_INTERVAL)) => heartbeat.beat(),
            }
        }
    }
}

/// Why the topics are not there yet, if they are not.
async fn missing_topic(
    args: &PlayStream,
    client_config: &rdkafka::ClientConfig,
    created: &mut bool,
) -> anyhow::Result<Option<String>> {
    let wanted = [args.src_topic.clone(), args.dst_topic.clone()];
    let missing =
        service_kit::kafka::missing_topics(client_config, &wanted, Duration::from_secs(10))
            .await
            .context("cannot check that the topics exist")?;
    if missing.contains(&args.src_topic) {
        return Ok(Some(format!(
            "source topic {} does not exist; load it with create-stream first",
            args.src_topic
        )));
    }
    if args.create_dst_topic && !*created {
        topics::recreate(
            client_config,
            &TopicSpec {
                name: &args.dst_topic,
                partitions: args.dst_topic_partitions,
                replication_factor: 1,
                configs: &[],
            },
        )
        .await?;
        *created = true;
        return Ok(None);
    }
    if missing.contains(&args.dst_topic) {
        return Ok(Some(format!(
            "destination topic {} does not exist; pass --create-dst-topic to create it",
            args.dst_topic
        )));
    }
    Ok(None)
}

/// What a pass works with.
struct Pass<'a> {
    args: &'a PlayStream,
    consumer: &'a StreamConsumer,
    producer: &'a FutureProducer,
    metrics: &'a Metrics,
    heartbeat: &'a Heartbeat,
    beat_every: Duration,
    shutdown: &'a CancellationToken,
}

/// One pass: every message of the source topic up to the high watermarks taken now.
async fn run_pass(context: &Pass<'_>, pass: u64) -> anyhow::Result<u64> {
    let Pass {
        args,
        consumer,
        producer,
        metrics,
        heartbeat,
        beat_every,
        shutdown,
    } = *context;
    let metadata = consumer
        .fetch_metadata(Some(&args.src_topic), Duration::from_secs(10))
        .context("cannot read the source topic's metadata")?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == args.src_topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    // The end of this pass, per partition: what the topic held when the pass started.
    let mut remaining: HashMap<i32, i64> = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for partition in partitions {
        let (low, high) = consumer
            .fetch_watermarks(&args.src_topic, partition, Duration::from_secs(10))
            .context("cannot read the source topic's offsets")?;
        if high > low {
            remaining.insert(partition, high);
            assignment.add_partition_offset(&args.src_topic, partition, Offset::Beginning)?;
        }
    }
    if remaining.is_empty() {
        tracing::warn!(topic = %args.src_topic, "the source topic is empty; nothing to replay");
        return Ok(0);
    }
    consumer.assign(&assignment)?;

    let pass_start = Instant::now();
    let renumber_offset = if args.renumber_ids {
        Some(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros() as i64,
        )
    } else {
        None
    };
    let mut pending: FuturesUnordered<DeliveryFuture> = FuturesUnordered::new();
    let mut sent = 0u64;
    let mut buffer = Vec::new();
    'messages: while !remaining.is_empty() {
        let message = tokio::select! {
            m = consumer.recv() => m.context("reading the source topic")?,
            _ = shutdown.cancelled() => break,
        };
        let partition = message.partition();
        let Some(end) = remaining.get(&partition).copied() else {
            continue;
        };
        if message.offset() >= end {
            remaining.remove(&partition);
            continue;
        }
        if message.offset() + 1 >= end {
            remaining.remove(&partition);
        }
        if args.pacing == Pacing::Offsets {
            if let Some(offset) = time_offset(&message) {
                let due = pass_start + Duration::from_secs_f64(offset.max(0.0));
                let until_due = tokio::time::sleep_until(due.into());
                tokio::pin!(until_due);
                // Paced: confirm deliveries meanwhile (each beats); with none in flight,
                // waiting is progress too.
                let mut retries = Vec::new();
                loop {
                    if pending.is_empty() {
                        heartbeat.beat();
                    }
                    tokio::select! {
                        _ = &mut until_due => break,
                        _ = shutdown.cancelled() => break 'messages,
                        Some(result) = pending.next(), if !pending.is_empty() => {
                            collect_failures([result], metrics, heartbeat, &mut retries)?;
                        }
                        _ = tokio::time::sleep(beat_every), if pending.is_empty() => {}
                    }
                }
                for value in retries {
                    produce(
                        producer,
                        &args.dst_topic,
                        &value,
                        &mut pending,
                        metrics,
                        heartbeat,
                    )
                    .await?;
                }
            }
        }
        let Some(value) = message.payload() else {
            continue;
        };
        let value = match renumber_offset {
            Some(offset) => match renumbered(value, offset, &mut buffer) {
                Some(v) => v,
                None => {
                    tracing::warn!(
                        partition,
                        offset = message.offset(),
                        "cannot renumber a malformed alert; copying it unchanged"
                    );
                    value
                }
            },
            None => value,
        };
        produce(
            producer,
            &args.dst_topic,
            value,
            &mut pending,
            metrics,
            heartbeat,
        )
        .await?;
        sent += 1;
        metrics.alerts.inc();
        let mut retries = Vec::new();
        while let Some(Some(result)) = futures::FutureExt::now_or_never(pending.next()) {
            collect_failures([result], metrics, heartbeat, &mut retries)?;
        }
        for value in retries {
            produce(
                producer,
                &args.dst_topic,
                &value,
                &mut pending,
                metrics,
                heartbeat,
            )
            .await?;
        }
        metrics.in_flight.set(pending.len() as i64);
    }
    drain(producer, &args.dst_topic, &mut pending, metrics, heartbeat).await?;
    metrics.in_flight.set(0);
    tracing::debug!(pass, sent, "pass finished");
    Ok(sent)
}

fn time_offset(message: &rdkafka::message::BorrowedMessage<'_>) -> Option<f64> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == TIME_OFFSET_HEADER)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|s| s.trim().parse().ok())
}

/// The message with its alert id increased by `offset`: a varint rewrite, not a re-encode.
fn renumbered<'b>(value: &[u8], offset: i64, buffer: &'b mut Vec<u8>) -> Option<&'b [u8]> {
    let frame = wire::unframe(value).ok()?;
    let id = alert_packet::alert::alert_id(frame.body).ok()?;
    buffer.clear();
    buffer.extend_from_slice(&value[..HEADER_LEN]);
    replace_id(frame.body, id.checked_add(offset)?, buffer).ok()?;
    Some(buffer.as_slice())
}

/// Produces `value` to `topic`, then produces again every alert whose delivery failed
/// (librdkafka already retried each for `message.timeout.ms`), so a transient outage delays
/// alerts but drops none.
async fn produce(
    producer: &FutureProducer,
    topic: &str,
    value: &[u8],
    pending: &mut FuturesUnordered<DeliveryFuture>,
    metrics: &Metrics,
    heartbeat: &Heartbeat,
) -> anyhow::Result<()> {
    let mut retries: Vec<Vec<u8>> = Vec::new();
    let record = FutureRecord::<(), [u8]>::to(topic).payload(value);
    let finished = enqueue(producer, record, pending).await?;
    collect_failures(finished, metrics, heartbeat, &mut retries)?;
    while let Some(value) = retries.pop() {
        let record = FutureRecord::<(), [u8]>::to(topic).payload(&value);
        let finished = enqueue(producer, record, pending).await?;
        collect_failures(finished, metrics, heartbeat, &mut retries)?;
    }
    Ok(())
}

/// Counts failed deliveries and keeps their alerts to be produced again; each confirmed
/// delivery is a heartbeat.
fn collect_failures(
    finished: impl IntoIterator<Item = Delivery>,
    metrics: &Metrics,
    heartbeat: &Heartbeat,
    retries: &mut Vec<Vec<u8>>,
) -> anyhow::Result<()> {
    for result in finished {
        match result {
            Ok(Ok(_)) => heartbeat.beat(),
            Ok(Err((error, message))) => {
                metrics.produce_errors.inc();
                tracing::warn!(%error, "delivery failed; producing the alert again");
                retries.push(message.payload().unwrap_or_default().to_vec());
            }
            Err(_) => bail!("the Kafka producer went away"),
        }
    }
    Ok(())
}

/// Waits for every delivery in flight, producing failed alerts again until all are delivered.
async fn drain(
    producer: &FutureProducer,
    topic: &str,
    pending: &mut FuturesUnordered<DeliveryFuture>,
    metrics: &Metrics,
    heartbeat: &Heartbeat,
) -> anyhow::Result<()> {
    let mut retries = Vec::new();
    while let Some(result) = pending.next().await {
        collect_failures([result], metrics, heartbeat, &mut retries)?;
        for value in retries.drain(..) {
            produce(producer, topic, &value, pending, metrics, heartbeat).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbering_rewrites_only_the_id() {
        let mut body = Vec::new();
        alert_packet::binary::write_long(&mut body, 170_000_000_000_123);
        body.extend_from_slice(b"rest of the alert");
        let message = wire::frame(1101, &body);
        let mut buffer = Vec::new();
        let out = renumbered(&message, 1_000_000, &mut buffer)
            .unwrap()
            .to_vec();
        let frame = wire::unframe(&out).unwrap();
        assert_eq!(frame.schema_id, 1101);
        assert_eq!(
            alert_packet::alert::alert_id(frame.body).unwrap(),
            170_000_001_000_123
        );
        assert!(out.ends_with(b"rest of the alert"));
        assert!(renumbered(b"\x01bad", 1, &mut buffer).is_none());
    }
}
