//! `create-stream`: re-encode a visit to one schema version and load it into the static topic.
//!
//! Everything that can be checked is checked before the topic is touched (files readable and
//! holding alerts, schema version known, resolution possible, schema id known to the registry,
//! brokers reachable), so a bad invocation never leaves a half-loaded topic. With
//! `--create-topic` the topic is deleted and recreated with infinite retention, so loading
//! twice leaves exactly one copy of the visit; if loading fails after that, the topic is
//! deleted again rather than left claiming to hold the visit.

use crate::cli::CreateStream;
use crate::topics::{self, TopicSpec, STATIC_TOPIC_CONFIGS};
use crate::{load_tree, pick_version};
use alert_packet::alert::AlertLayout;
use alert_packet::container::ContainerReader;
use alert_packet::resolve::Resolution;
use alert_packet::wire;
use anyhow::{bail, Context};
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The header carrying each alert's time offset, in seconds since the first alert.
pub const TIME_OFFSET_HEADER: &str = "alertsim-time-offset";

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    pub alerts: u64,
    pub schema_id: u32,
}

struct Input {
    path: PathBuf,
    reader: ContainerReader<BufReader<File>>,
    resolution: Resolution,
    layout: AlertLayout,
}

/// The producer settings of both the loader and the replayer: durable, deduplicated retries,
/// bounded memory.
pub fn producer_config(mut config: rdkafka::ClientConfig) -> rdkafka::ClientConfig {
    config
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("batch.size", "4194304")
        .set("message.max.bytes", "10485760")
        .set("queue.buffering.max.kbytes", "65536")
        .set("message.timeout.ms", "300000");
    config
}

/// One finished delivery, as a delivery future yields it.
pub type Delivery = Result<
    rdkafka::producer::future_producer::OwnedDeliveryResult,
    futures::channel::oneshot::Canceled,
>;

/// Hands `record` to the producer. While librdkafka's bounded queue is full, waits for the
/// oldest deliveries to finish; those are returned so the caller decides what a failure means
/// (the loader counts it, the replayer produces the alert again).
pub async fn enqueue(
    producer: &FutureProducer,
    mut record: FutureRecord<'_, (), [u8]>,
    pending: &mut FuturesUnordered<DeliveryFuture>,
) -> anyhow::Result<Vec<Delivery>> {
    let mut finished = Vec::new();
    loop {
        match producer.send_result(record) {
            Ok(delivery) => {
                pending.push(delivery);
                return Ok(finished);
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                match pending.next().await {
                    Some(result) => finished.push(result),
                    None => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
            Err((error, returned)) => bail!("cannot produce to {}: {error}", returned.topic),
        }
    }
}

/// Formats a time offset as upstream does (Python's `repr` of the float seconds).
pub fn format_offset(seconds: f64) -> String {
    format!("{seconds:?}")
}

/// Runs `create-stream`.
pub async fn create_stream(
    args: &CreateStream,
    shutdown: CancellationToken,
) -> anyhow::Result<LoadReport> {
    let kafka = crate::cli::kafka_settings(&args.kafka)?;
    let client_config = kafka.client_config()?;
    let tree = load_tree(args.schema_dir.as_deref())?;
    let version = pick_version(&tree, args.schema_version.as_deref())?;
    let target = tree.get(version)?;

    let mut inputs = Vec::new();
    for path in &args.files {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let reader = ContainerReader::new(BufReader::with_capacity(1 << 20, file))
            .with_context(|| format!("{} is not a readable Avro container file", path.display()))?;
        let writer = Arc::new(reader.schema().clone());
        let layout = AlertLayout::of(&writer)
            .with_context(|| format!("{} does not hold alerts", path.display()))?;
        let resolution = Resolution::new(writer, target.schema.clone()).with_context(|| {
            format!(
                "alerts in {} cannot be re-encoded to schema {version}",
                path.display()
            )
        })?;
        inputs.push(Input {
            path: path.clone(),
            reader,
            resolution,
            layout,
        });
    }

    let schema_id = match args.schema_id {
        Some(id) => id,
        None => lookup_schema_id(args, &target.schema.to_json().to_string(), version).await?,
    };
    service_kit::kafka::check_connection(&kafka).await?;

    let mut created = false;
    if args.create_topic {
        topics::recreate(
            &client_config,
            &TopicSpec {
                name: &args.dst_topic,
                partitions: args.partitions,
                replication_factor: args.replication_factor,
                configs: STATIC_TOPIC_CONFIGS,
            },
        )
        .await?;
        created = true;
    } else if !topics::exists(&client_config, &args.dst_topic)? {
        bail!(
            "topic {} does not exist; pass --create-topic to create it",
            args.dst_topic
        );
    }

    match load(args, inputs, schema_id, &client_config, shutdown).await {
        Ok(alerts) => Ok(LoadReport { alerts, schema_id }),
        Err(error) => {
            if created {
                tracing::warn!(topic = %args.dst_topic, "loading failed; deleting the partly loaded topic");
                if let Err(e) = topics::delete(&client_config, &args.dst_topic).await {
                    tracing::error!(error = %e, "could not delete the partly loaded topic");
                }
            }
            Err(error)
        }
    }
}

async fn lookup_schema_id(
    args: &CreateStream,
    schema_json: &str,
    version: alert_packet::tree::SchemaVersion,
) -> anyhow::Result<u32> {
    let registry =
        registry_client::RegistryClient::new(&args.schema_registry_url, Duration::from_secs(10))
            .with_context(|| format!("invalid schema registry URL {}", args.schema_registry_url))?;
    match registry.lookup(&args.subject, schema_json).await {
        Ok(Some(registered)) => {
            tracing::info!(schema_id = registered.id, %version, subject = %args.subject, "schema id from the registry");
            Ok(registered.id)
        }
        Ok(None) => bail!(
            "alert schema {version} is not registered under subject `{}` at {}; run schema-sync first (or pass --schema-id)",
            args.subject,
            args.schema_registry_url
        ),
        Err(error) => Err(anyhow::Error::new(error)
            .context(format!("cannot ask the schema registry at {} for the schema id", args.schema_registry_url))),
    }
}

async fn load(
    args: &CreateStream,
    mut inputs: Vec<Input>,
    schema_id: u32,
    client_config: &rdkafka::ClientConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<u64> {
    let producer: FutureProducer = producer_config(client_config.clone()).create()?;
    let progress = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} alerts loaded ({per_sec}) {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        Some(bar)
    } else {
        None
    };
    let mut pending: FuturesUnordered<DeliveryFuture> = FuturesUnordered::new();
    let mut failures = 0u64;
    let mut sent = 0u64;
    let mut first_time: Option<f64> = None;
    let mut message = Vec::with_capacity(256 * 1024);
    for input in &mut inputs {
        let writer = input.resolution.writer().clone();
        while let Some(datum) = input.reader.next_datum() {
            if shutdown.is_cancelled() {
                bail!("interrupted after {sent} alerts");
            }
            let datum = datum.with_context(|| format!("reading {}", input.path.display()))?;
            let time = input
                .layout
                .source_time(&writer, datum)
                .with_context(|| {
                    format!(
                        "reading the source time of an alert in {}",
                        input.path.display()
                    )
                })?
                .unwrap_or_default();
            let offset_days = time - *first_time.get_or_insert(time);
            let offset = format_offset(offset_days * 86_400.0);
            message.clear();
            wire::write_header(&mut message, schema_id);
            // The reader already walked the datum, so identity re-encodes are plain copies.
            input.resolution.reencode_trusted(datum, &mut message)?;
            let headers = OwnedHeaders::new().insert(Header {
                key: super::loader::TIME_OFFSET_HEADER,
                value: Some(offset.as_bytes()),
            });
            let record = FutureRecord::<(), [u8]>::to(&args.dst_topic)
                .payload(&message)
                .headers(headers);
            for result in enqueue(&producer, record, &mut pending).await? {
                if !matches!(result, Ok(Ok(_))) {
                    failures += 1;
                }
            }
            sent += 1;
            if let Some(bar) = &progress {
                bar.set_position(sent);
            }
            // Collect finished deliveries without waiting, to keep the set small.
            while let Some(Some(result)) = futures::FutureExt::now_or_never(pending.next()) {
                if !matches!(result, Ok(Ok(_))) {
                    failures += 1;
                }
            }
        }
    }
    let deadline = Duration::from_secs_f64(args.timeout_sec.max(0.1));
    let drained = tokio::time::timeout(deadline, async {
        while let Some(result) = pending.next().await {
            if !matches!(result, Ok(Ok(_))) {
                failures += 1;
            }
        }
    })
    .await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if drained.is_err() {
        bail!(
            "{} of {sent} alerts were not confirmed by Kafka within {:?} (--timeout-sec)",
            pending.len(),
            deadline
        );
    }
    if failures > 0 {
        bail!("{failures} of {sent} alerts failed to reach Kafka");
    }
    if sent == 0 {
        bail!("the input files hold no alerts");
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_written_like_python_repr() {
        assert_eq!(format_offset(0.0), "0.0");
        assert_eq!(format_offset(1.5), "1.5");
        assert_eq!(format_offset(0.00864), "0.00864");
        assert_eq!(format_offset(2.0 / 3.0), "0.6666666666666666");
    }
}
