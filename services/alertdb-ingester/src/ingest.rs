//! The Kafka side: consume, hand each message to the [`Archiver`] with several in flight,
//! dead-letter poison, and commit only what is durable.
//!
//! - Auto-commit and the automatic offset store are off. A commit task commits, every
//!   `commit_interval`, each partition's position below its oldest unfinished message
//!   ([`OffsetTracker`]).
//! - A semaphore of `max_in_flight` permits bounds the work (and the memory) in flight; while
//!   the store or the registry is down, writes retry, permits run out and fetching stops.
//! - On revocation the context commits what is durable for the revoked partitions and
//!   cancels their in-flight work; late results of the old assignment are ignored.
//! - On shutdown: stop fetching, wait up to `drain_timeout` for in-flight work, abandon the
//!   rest, commit what is durable synchronously, flush the dead-letter producer.
//! - Before subscribing, the dead-letter topics must exist: a missing one is created when
//!   `--create-dlq-topic` says so, else the ingester stays not ready (the reason in `/readyz`
//!   and the log) and checks again every few seconds. It does not consume meanwhile: the
//!   first poison message would otherwise hold its partition's commits.
//! - The consume loop beats its [`Heartbeat`] on every turn, idle polls included, so
//!   `/healthz` fails only when the loop itself is stuck (a write that never returns, an
//!   in-flight window that never drains) for longer than `--liveness-deadline`.

use crate::archive::{Archiver, Backoff, Health, Outcome, Poison};
use crate::index::Indexer;
use crate::metrics::Metrics;
use crate::offsets::{OffsetTracker, PartitionKey, Ticket};
use crate::settings::{DeadLetters, IngesterConfig, OffsetReset};
use bytes::Bytes;
use rdkafka::client::ClientContext;
use rdkafka::consumer::StreamConsumer;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};
use service_kit::ops::{Heartbeat, Liveness, Readiness};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Readiness component of the consumer.
pub const KAFKA: &str = "kafka";
/// Readiness component that turns false when a poison message stops a DLQ-less ingester.
pub const POISON: &str = "poison-messages";
/// Readiness component of the dead-letter producer.
pub const DEAD_LETTERS: &str = "dead-letter-topic";
/// Liveness name of the consume loop.
pub const CONSUME_LOOP: &str = "consume-loop";
/// How often a missing dead-letter topic is looked for again.
pub const DLQ_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Header names on dead-lettered messages.
pub const HEADER_REASON: &str = "alertdb-dlq-reason";
pub const HEADER_ERROR: &str = "alertdb-dlq-error";
pub const HEADER_TOPIC: &str = "alertdb-dlq-source-topic";
pub const HEADER_PARTITION: &str = "alertdb-dlq-source-partition";
pub const HEADER_OFFSET: &str = "alertdb-dlq-source-offset";

/// Why the consumer could not start.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("Kafka configuration: {0}")]
    Config(#[from] service_kit::kafka::KafkaConfigError),
    #[error("creating the Kafka {what}: {source}")]
    Client {
        what: &'static str,
        #[source]
        source: KafkaError,
    },
}

/// State shared by the consumer loop, its tasks and the rebalance callbacks.
#[derive(Debug)]
struct Shared {
    /// Shared with the index flush loop, which finishes tickets once their rows are written.
    tracker: crate::index::Tracker,
    /// Buffers index rows; `None` with `--no-index`.
    indexer: Option<Arc<Indexer>>,
    /// Cancels the in-flight work of one partition's assignment.
    abandon: Mutex<HashMap<PartitionKey, CancellationToken>>,
    /// Parent of every partition token: cancelled when shutdown gives up waiting.
    abandon_all: CancellationToken,
    metrics: Metrics,
    kafka_health: Health,
    readiness: Readiness,
    /// Each owned partition's committed offset in the last statistics ([`record_committed`]).
    committed_seen: Mutex<HashMap<PartitionKey, i64>>,
}

impl Shared {
    fn token(&self, topic: &str, partition: i32) -> CancellationToken {
        let mut abandon = self.abandon.lock().unwrap_or_else(|e| e.into_inner());
        abandon
            .entry((topic.to_owned(), partition))
            .or_insert_with(|| self.abandon_all.child_token())
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetTracker> {
        self.tracker.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The consumer's context: rebalance handling, commit results, lag statistics.
#[derive(Debug, Clone)]
pub struct IngestContext {
    shared: Arc<Shared>,
}

impl ClientContext for IngestContext {
    fn stats(&self, statistics: Statistics) {
        let tracker = self.shared.lock();
        let mut committed_seen = self
            .shared
            .committed_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (topic, stats) in &statistics.topics {
            for (partition, p) in &stats.partitions {
                if *partition >= 0 {
                    let metrics = &self.shared.metrics;
                    record_lag(metrics, &tracker, topic, *partition, p.consumer_lag);
                    record_committed(
                        metrics,
                        &tracker,
                        &mut committed_seen,
                        topic,
                        *partition,
                        p.committed_offset,
                    );
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "kafka client error");
        if matches!(
            error.rdkafka_error_code(),
            Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown)
        ) {
            self.shared
                .kafka_health
                .failing(&format!("all brokers down: {reason}"));
        }
    }
}

impl ConsumerContext for IngestContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        let mut commit = TopicPartitionList::new();
        {
            let mut tracker = self.shared.lock();
            let mut abandon = self
                .shared
                .abandon
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for element in revoked.elements() {
                let (topic, partition) = (element.topic(), element.partition());
                if let Some(position) = tracker.revoke(topic, partition) {
                    let _ = commit.add_partition_offset(topic, partition, Offset::Offset(position));
                }
                if let Some(token) = abandon.remove(&(topic.to_owned(), partition)) {
                    token.cancel();
                }
                if let Some(indexer) = &self.shared.indexer {
                    indexer.forget(topic, partition);
                }
            }
        }
        tracing::info!(partitions = revoked.count(), "partitions revoked");
        if commit.count() > 0 {
            // Synchronous: the next owner must start from what we made durable.
            if let Err(error) = consumer.commit(&commit, CommitMode::Sync) {
                tracing::warn!(%error, "commit on revocation failed; the next owner re-reads");
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(assigned) => {
                let mut tracker = self.shared.lock();
                for element in assigned.elements() {
                    tracker.assign(element.topic(), element.partition());
                }
                drop(tracker);
                tracing::info!(partitions = assigned.count(), "partitions assigned");
                self.shared.kafka_health.ok();
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance error"),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => {
                let mut tracker = self.shared.lock();
                for element in offsets.elements() {
                    if let Offset::Offset(position) = element.offset() {
                        tracker.committed(
                            &(element.topic().to_owned(), element.partition()),
                            position,
                        );
                    }
                }
            }
            Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => {
                self.shared.metrics.commit_failures.inc();
                tracing::warn!(%error, "offset commit failed; retrying at the next interval");
            }
        }
    }
}

/// Exports a partition's consumer lag while this consumer owns the partition, and drops the
/// series once it does not: librdkafka keeps reporting a revoked partition's last lag, which
/// would otherwise stay in `alertdb_ingester_consumer_lag` (and in the lag alerts) for good.
fn record_lag(metrics: &Metrics, tracker: &OffsetTracker, topic: &str, partition: i32, lag: i64) {
    let partition_label = partition.to_string();
    let labels = [topic, partition_label.as_str()];
    if !tracker.is_assigned(topic, partition) {
        let _ = metrics.consumer_lag.remove_label_values(&labels);
    } else if lag >= 0 {
        metrics.consumer_lag.with_label_values(&labels).set(lag);
    }
}

/// Counts the commits the broker accepted for this consumer: each advance of an owned
/// partition's committed offset between two statistics. librdkafka updates that offset when a
/// commit succeeds, whoever asked for it; it reports the result of an asynchronous commit to
/// no callback here (rust-rdkafka sets none), so the statistics are where success shows. The
/// first value seen after an assignment (the group's earlier commit, or none) is the baseline.
fn record_committed(
    metrics: &Metrics,
    tracker: &OffsetTracker,
    seen: &mut HashMap<PartitionKey, i64>,
    topic: &str,
    partition: i32,
    committed: i64,
) {
    let key = (topic.to_owned(), partition);
    if !tracker.is_assigned(topic, partition) {
        seen.remove(&key);
    } else if let Some(previous) = seen.insert(key, committed) {
        if committed > previous {
            metrics.commits.inc();
        }
    }
}

/// The consumer's librdkafka configuration.
fn consumer_config(config: &IngesterConfig) -> Result<rdkafka::ClientConfig, IngestError> {
    let mut client = config.kafka.client_config()?;
    client
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set(
            "auto.offset.reset",
            match config.auto_offset_reset {
                OffsetReset::Earliest => "earliest",
                OffsetReset::Latest => "latest",
            },
        )
        .set("statistics.interval.ms", "5000");
    // Bound prefetching: ~112 KB alerts, so 16 MB is ~150 alerts per consumer queue, plenty
    // ahead of the writers, and keeps the resident set small (issue 5: ≤ 150 MB). With the
    // queue this small, librdkafka's default 1 s pause once it is full halved throughput
    // (measured: ~390 → ~900 alerts/s), hence the 10 ms backoff.
    for (key, value) in [
        ("queued.max.messages.kbytes", "16384"),
        ("fetch.queue.backoff.ms", "10"),
        ("fetch.max.bytes", "8388608"),
        ("max.partition.fetch.bytes", "2097152"),
    ] {
        if !config.kafka.extra.contains_key(key) {
            client.set(key, value);
        }
    }
    Ok(client)
}

/// Consumes until `shutdown`, then drains and commits.
pub async fn consume(
    config: &IngesterConfig,
    archiver: Arc<Archiver>,
    indexer: Option<Arc<Indexer>>,
    metrics: Metrics,
    readiness: Readiness,
    liveness: &Liveness,
    shutdown: CancellationToken,
) -> Result<(), IngestError> {
    readiness.register(KAFKA);
    let heartbeat = liveness.register(CONSUME_LOOP, config.liveness_deadline);
    // Idle polls end this often, so a quiet topic keeps the loop beating.
    let idle_poll = (config.liveness_deadline / 4).min(Duration::from_secs(1));
    if !await_dead_letter_topics(config, &readiness, &heartbeat, idle_poll, &shutdown).await? {
        heartbeat.finish();
        return Ok(());
    }
    let kafka_health = Health::new(&readiness, KAFKA);
    kafka_health.failing("waiting for a partition assignment");
    let shared = Arc::new(Shared {
        tracker: Arc::new(Mutex::new(OffsetTracker::new())),
        indexer: indexer.clone(),
        abandon: Mutex::new(HashMap::new()),
        abandon_all: CancellationToken::new(),
        metrics: metrics.clone(),
        kafka_health,
        readiness: readiness.clone(),
        committed_seen: Mutex::new(HashMap::new()),
    });
    let consumer: Arc<StreamConsumer<IngestContext>> = Arc::new(
        consumer_config(config)?
            .create_with_context(IngestContext {
                shared: shared.clone(),
            })
            .map_err(|source| IngestError::Client {
                what: "consumer",
                source,
            })?,
    );
    let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|source| IngestError::Client {
            what: "subscription",
            source,
        })?;
    let producer: Option<FutureProducer> = match config.dead_letters {
        DeadLetters::Disabled => None,
        _ => {
            let mut client = config.kafka.client_config()?;
            client
                .set("enable.idempotence", "true")
                .set("message.timeout.ms", "30000");
            readiness.set_ready(DEAD_LETTERS);
            Some(client.create().map_err(|source| IngestError::Client {
                what: "dead-letter producer",
                source,
            })?)
        }
    };
    readiness.set_ready(POISON);
    tracing::info!(
        topics = ?config.topics,
        group = %config.group,
        kafka = %config.kafka.describe(),
        max_in_flight = config.max_in_flight,
        "consuming"
    );

    // The flush loop beats its own heartbeat: a table write that never returns stops it.
    let flush_stop = CancellationToken::new();
    let flusher = indexer.clone().map(|indexer| {
        let heartbeat = liveness.register(crate::index::FLUSH_LOOP, config.liveness_deadline);
        tokio::spawn(indexer.run(shared.tracker.clone(), heartbeat, flush_stop.clone()))
    });
    let committer = tokio::spawn(commit_loop(
        consumer.clone(),
        shared.clone(),
        config.commit_interval,
    ));
    let permits = Arc::new(Semaphore::new(config.max_in_flight));
    let halted = Arc::new(AtomicBool::new(false));
    let dead_letters = Arc::new(DeadLetterSink {
        producer: producer.clone(),
        route: config.dead_letters.clone(),
        backoff: Backoff {
            initial: config.retry_initial_backoff,
            max: config.retry_max_backoff,
        },
        health: Health::new(&readiness, DEAD_LETTERS),
    });

    loop {
        heartbeat.beat();
        if halted.load(Ordering::Relaxed) {
            // Stop-and-alert: no dead-letter topic, a poison message blocks its partition;
            // fetch nothing more, keep serving /readyz and committing what is durable. The
            // loop is not stuck (a restart would stop at the same message), so it beats on.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(idle_poll) => continue,
            }
        }
        // A full window that never drains (writes that never return) stops the beats here.
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let message = tokio::select! {
            _ = shutdown.cancelled() => break,
            message = consumer.recv() => message,
            // Nothing to read (recv is cancel-safe): beat and poll again.
            _ = tokio::time::sleep(idle_poll) => continue,
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                // Until a message arrives again (librdkafka reconnects by itself).
                shared.kafka_health.failing(&format!("consuming: {error}"));
                drop(permit);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        shared.kafka_health.ok();
        let received = Instant::now();
        let topic = message.topic().to_owned();
        let partition = message.partition();
        let offset = message.offset();
        let ticket = shared.lock().start(&topic, partition, offset);
        let token = shared.token(&topic, partition);
        let value = message.payload().map(Bytes::copy_from_slice);
        let letter = Letter {
            key: message.key().map(<[u8]>::to_vec),
            headers: message.headers().map(|h| h.detach()),
        };
        drop(message);
        let task = Task {
            shared: shared.clone(),
            archiver: archiver.clone(),
            dead_letters: dead_letters.clone(),
            halted: halted.clone(),
        };
        tokio::spawn(async move {
            task.run(ticket, value, letter, token, received).await;
            drop(permit);
        });
    }

    heartbeat.finish();
    // Drain: wait for in-flight work, then abandon what remains.
    tracing::info!(
        in_flight = shared.lock().in_flight(),
        "stopping: draining in-flight writes"
    );
    let all = u32::try_from(config.max_in_flight).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(config.drain_timeout, permits.acquire_many(all)).await;
    if drained.is_err() {
        tracing::warn!(
            in_flight = shared.lock().in_flight(),
            "drain timeout: abandoning in-flight writes (they will be re-read)"
        );
        shared.abandon_all.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(2), permits.acquire_many(all)).await;
    }
    // Rows of every archived alert are written before the final commit, so the commit covers
    // them; a flush that cannot finish within the drain timeout leaves its offsets uncommitted
    // (the next owner re-reads, re-archives identical bytes and indexes them).
    flush_stop.cancel();
    if let Some(flusher) = flusher {
        let _ = flusher.await;
    }
    if let Some(indexer) = &indexer {
        let heartbeat = liveness.register("index-final-flush", config.drain_timeout * 2);
        let give_up = CancellationToken::new();
        let flush = indexer.flush(&shared.tracker, &heartbeat, &give_up);
        match tokio::time::timeout(config.drain_timeout, flush).await {
            Ok(true) => tracing::info!("index rows flushed"),
            _ => tracing::warn!(
                rows = indexer.buffered(),
                "index flush did not finish in the drain timeout; those offsets stay uncommitted"
            ),
        }
        heartbeat.finish();
    }
    committer.abort();
    let _ = committer.await;
    let final_commit = consumer.clone();
    let shared_for_commit = shared.clone();
    let _ = tokio::task::spawn_blocking(move || {
        commit_now(&final_commit, &shared_for_commit, CommitMode::Sync)
    })
    .await;
    if let Some(producer) = producer {
        let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(5))).await;
    }
    // Leave the group now rather than at session timeout; the revoke callback commits again
    // (a no-op) before letting go.
    tokio::task::spawn_blocking(move || {
        consumer.unsubscribe();
        drop(consumer);
    })
    .await
    .ok();
    tracing::info!("stopped");
    Ok(())
}

/// The dead-letter topics this configuration produces to.
fn dead_letter_topics(config: &IngesterConfig) -> Vec<String> {
    let mut topics: Vec<String> = config
        .topics
        .iter()
        .filter_map(|source| config.dead_letters.topic_for(source))
        .collect();
    topics.sort();
    topics.dedup();
    topics
}

/// Waits until every dead-letter topic exists, creating missing ones when the settings say
/// so; not ready meanwhile, with the reason. `Ok(false)` when shutdown came first.
async fn await_dead_letter_topics(
    config: &IngesterConfig,
    readiness: &Readiness,
    heartbeat: &Heartbeat,
    beat_every: Duration,
    shutdown: &CancellationToken,
) -> Result<bool, IngestError> {
    let wanted = dead_letter_topics(config);
    if wanted.is_empty() {
        return Ok(true);
    }
    readiness.set_not_ready(DEAD_LETTERS, "checking that the dead-letter topic exists");
    let client = config.kafka.client_config()?;
    let mut last_reason = String::new();
    loop {
        heartbeat.beat();
        let check = service_kit::kafka::missing_topics(&client, &wanted, Duration::from_secs(10));
        let missing = tokio::select! {
            _ = shutdown.cancelled() => return Ok(false),
            missing = beating(heartbeat, beat_every, check) => missing,
        };
        let reason = match missing {
            Ok(missing) if missing.is_empty() => {
                tracing::info!(topics = ?wanted, "dead-letter topics exist");
                readiness.set_ready(DEAD_LETTERS);
                return Ok(true);
            }
            Ok(missing) if config.create_dlq_topic => {
                let create = service_kit::kafka::create_topics(&client, &missing);
                let created = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(false),
                    created = beating(heartbeat, beat_every, create) => created,
                };
                match created {
                    Ok(()) => {
                        tracing::info!(topics = ?missing, "created the dead-letter topic(s)");
                        format!(
                            "created dead-letter topic {}; waiting for it to appear",
                            missing.join(", ")
                        )
                    }
                    Err(error) => format!(
                        "dead-letter topic {} does not exist and --create-dlq-topic could not \
                         create it: {error} (create it, allow the ingester to, or set --no-dlq)",
                        missing.join(", ")
                    ),
                }
            }
            Ok(missing) => format!(
                "dead-letter topic {} does not exist (create it, or set --create-dlq-topic, \
                 or --no-dlq)",
                missing.join(", ")
            ),
            Err(error) => format!(
                "cannot check that dead-letter topic {} exists: {error}",
                wanted.join(", ")
            ),
        };
        if reason != last_reason {
            tracing::error!(reason = %reason, "not consuming until the dead-letter topic exists");
            last_reason.clone_from(&reason);
        }
        readiness.set_not_ready(DEAD_LETTERS, reason);
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(false),
            _ = beating(heartbeat, beat_every, tokio::time::sleep(DLQ_CHECK_INTERVAL)) => {}
        }
    }
}

/// Awaits `work` (bounded by its own timeout), beating meanwhile: waiting on a dependency is
/// readiness's business, not liveness's.
async fn beating<T>(
    heartbeat: &Heartbeat,
    every: Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(work);
    loop {
        heartbeat.beat();
        tokio::select! {
            done = &mut work => return done,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

fn commit_now(consumer: &StreamConsumer<IngestContext>, shared: &Shared, mode: CommitMode) {
    let positions = shared.lock().to_commit();
    if positions.is_empty() {
        return;
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), position) in &positions {
        let _ = list.add_partition_offset(topic, *partition, Offset::Offset(*position));
    }
    match consumer.commit(&list, mode) {
        Ok(()) if matches!(mode, CommitMode::Sync) => {
            let mut tracker = shared.lock();
            for (key, position) in &positions {
                tracker.committed(key, *position);
            }
            tracing::info!(partitions = positions.len(), "final offsets committed");
        }
        Ok(()) => {}
        Err(error) => {
            shared.metrics.commit_failures.inc();
            tracing::warn!(%error, "offset commit failed");
        }
    }
}

async fn commit_loop(
    consumer: Arc<StreamConsumer<IngestContext>>,
    shared: Arc<Shared>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        commit_now(&consumer, &shared, CommitMode::Async);
        shared
            .metrics
            .in_flight
            .set(shared.lock().in_flight() as i64);
    }
}

impl std::fmt::Debug for DeadLetterSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterSink")
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

/// The key and headers of a message, kept for the dead-letter topic.
#[derive(Debug)]
struct Letter {
    key: Option<Vec<u8>>,
    headers: Option<OwnedHeaders>,
}

struct DeadLetterSink {
    producer: Option<FutureProducer>,
    route: DeadLetters,
    backoff: Backoff,
    health: Health,
}

struct Task {
    shared: Arc<Shared>,
    archiver: Arc<Archiver>,
    dead_letters: Arc<DeadLetterSink>,
    halted: Arc<AtomicBool>,
}

impl Task {
    async fn run(
        self,
        ticket: Ticket,
        value: Option<Bytes>,
        letter: Letter,
        token: CancellationToken,
        received: Instant,
    ) {
        let metrics = &self.shared.metrics;
        let outcome = match self.archiver.archive(value.clone(), &token).await {
            Ok(outcome) => outcome,
            Err(_) => return, // abandoned: not durable, not finished, re-read later
        };
        match outcome {
            Outcome::Archived { schema_id, key, .. } => {
                metrics
                    .write_seconds
                    .observe(received.elapsed().as_secs_f64());
                if let Some(indexer) = &self.shared.indexer {
                    // The ticket is finished by the flush that writes the row.
                    let schema = self.archiver.parsed_schema(schema_id);
                    match crate::index::build_row(
                        schema,
                        value.as_deref(),
                        key.as_ref(),
                        crate::index::RowSource::Kafka(&ticket),
                    ) {
                        Ok(row) => {
                            indexer.push(row, ticket).await;
                            return;
                        }
                        Err(error) => {
                            metrics.index_row_errors.inc();
                            tracing::warn!(
                                topic = %ticket.topic, partition = ticket.partition,
                                offset = ticket.offset, error = %error,
                                "archived alert gets no index row"
                            );
                        }
                    }
                }
            }
            Outcome::Poison(poison) => {
                let Some(dlq) = self.dead_letters.route.topic_for(&ticket.topic) else {
                    tracing::error!(
                        topic = %ticket.topic, partition = ticket.partition, offset = ticket.offset,
                        reason = poison.reason(), error = %poison,
                        "poison message and no dead-letter topic: stopping"
                    );
                    self.shared.readiness.set_not_ready(
                        POISON,
                        format!(
                            "poison message at {}/{}/{}: {poison}",
                            ticket.topic, ticket.partition, ticket.offset
                        ),
                    );
                    self.halted.store(true, Ordering::Relaxed);
                    return;
                };
                if self
                    .dead_letter(&dlq, &ticket, &poison, value, letter, &token)
                    .await
                    .is_err()
                {
                    return;
                }
                metrics
                    .dead_lettered
                    .with_label_values(&[poison.reason()])
                    .inc();
                tracing::warn!(
                    topic = %ticket.topic, partition = ticket.partition, offset = ticket.offset,
                    reason = poison.reason(), error = %poison, dlq = %dlq,
                    "poison message dead-lettered"
                );
            }
        }
        self.shared.lock().finish(&ticket);
    }

    async fn dead_letter(
        &self,
        dlq: &str,
        ticket: &Ticket,
        poison: &Poison,
        value: Option<Bytes>,
        letter: Letter,
        token: &CancellationToken,
    ) -> Result<(), ()> {
        let Some(producer) = &self.dead_letters.producer else {
            return Err(());
        };
        let partition = ticket.partition.to_string();
        let offset = ticket.offset.to_string();
        let error = poison.to_string();
        let mut attempt = 0;
        loop {
            let mut headers = letter.headers.clone().unwrap_or_default();
            for (key, value) in [
                (HEADER_REASON, poison.reason()),
                (HEADER_ERROR, error.as_str()),
                (HEADER_TOPIC, ticket.topic.as_str()),
                (HEADER_PARTITION, partition.as_str()),
                (HEADER_OFFSET, offset.as_str()),
            ] {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(dlq).headers(headers);
            if let Some(value) = &value {
                record = record.payload(&value[..]);
            }
            if let Some(key) = &letter.key {
                record = record.key(&key[..]);
            }
            let sent = tokio::select! {
                _ = token.cancelled() => return Err(()),
                sent = producer.send(record, Duration::from_secs(10)) => sent,
            };
            match sent {
                Ok(_) => {
                    self.dead_letters.health.ok();
                    return Ok(());
                }
                Err((error, _)) => {
                    self.dead_letters
                        .health
                        .failing(&format!("producing to {dlq}: {error}"));
                    self.shared
                        .metrics
                        .retries
                        .with_label_values(&["dead_letter"])
                        .inc();
                    tokio::select! {
                        _ = token.cancelled() => return Err(()),
                        _ = tokio::time::sleep(self.dead_letters.backoff.delay(attempt)) => {}
                    }
                    attempt += 1;
                }
            }
        }
    }
}

/// Header value of a dead-lettered message, for tests and tools.
pub fn header_value<'a, H: Headers>(headers: &'a H, name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|h| h.key == name).and_then(|h| h.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_exported_only_for_assigned_partitions() {
        let metrics = Metrics::register(&prometheus::Registry::new()).unwrap();
        let mut tracker = OffsetTracker::new();
        tracker.assign("alerts", 0);
        tracker.assign("alerts", 1);
        record_lag(&metrics, &tracker, "alerts", 0, 5);
        record_lag(&metrics, &tracker, "alerts", 1, 7);
        record_lag(&metrics, &tracker, "alerts", 2, 9);
        let series = |metrics: &Metrics| {
            let mut series: Vec<(String, i64)> =
                prometheus::core::Collector::collect(&metrics.consumer_lag)[0]
                    .get_metric()
                    .iter()
                    .map(|m| {
                        let partition = m.get_label().iter().find(|l| l.name() == "partition");
                        (
                            partition.unwrap().value().to_owned(),
                            m.get_gauge().value() as i64,
                        )
                    })
                    .collect();
            series.sort();
            series
        };
        assert_eq!(
            series(&metrics),
            vec![("0".to_owned(), 5), ("1".to_owned(), 7)]
        );
        // Partition 1 goes to another consumer: its last lag must not stay behind.
        tracker.revoke("alerts", 1);
        record_lag(&metrics, &tracker, "alerts", 1, 7);
        // librdkafka reports -1 when it does not know the lag: the last value stays.
        record_lag(&metrics, &tracker, "alerts", 0, -1);
        assert_eq!(series(&metrics), vec![("0".to_owned(), 5)]);
    }

    #[test]
    fn commits_are_counted_when_an_owned_partition_s_committed_offset_advances() {
        let metrics = Metrics::register(&prometheus::Registry::new()).unwrap();
        let mut tracker = OffsetTracker::new();
        let mut seen = HashMap::new();
        tracker.assign("alerts", 0);
        let mut observe = |tracker: &OffsetTracker, committed: i64| {
            record_committed(&metrics, tracker, &mut seen, "alerts", 0, committed);
            metrics.commits.get()
        };
        // A new group: nothing committed yet (librdkafka's -1001), then a first commit.
        assert_eq!(observe(&tracker, -1001), 0);
        assert_eq!(observe(&tracker, -1001), 0);
        assert_eq!(observe(&tracker, 20), 1);
        // No new commit (idle, or commits failing): no count.
        assert_eq!(observe(&tracker, 20), 1);
        assert_eq!(observe(&tracker, 21), 2);
        // Revoked, then assigned again: the first value is the baseline, not a commit.
        tracker.revoke("alerts", 0);
        assert_eq!(observe(&tracker, 30), 2);
        tracker.assign("alerts", 0);
        assert_eq!(observe(&tracker, 30), 2);
        assert_eq!(observe(&tracker, 31), 3);
    }
}
