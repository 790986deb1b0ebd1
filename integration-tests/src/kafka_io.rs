//! Small Kafka clients for tests: produce a few values, consume a topic in a group, and
//! surface the broker's own errors (authorization failures above all) to the caller.

use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use service_kit::kafka::KafkaSettings;
use std::time::{Duration, Instant};

/// Produces `values` to `topic` one by one, waiting for each delivery report.
pub async fn produce(
    settings: &KafkaSettings,
    topic: &str,
    values: &[&[u8]],
) -> Result<(), KafkaError> {
    let producer: FutureProducer = settings
        .client_config()
        .expect("client config")
        .set("message.timeout.ms", "10000")
        .create()?;
    for value in values {
        producer
            .send(
                FutureRecord::<(), [u8]>::to(topic).payload(value),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(error, _)| error)?;
    }
    Ok(())
}

/// A consumer of `topic` in `group`, from the earliest offset, committing nothing.
pub fn consumer(settings: &KafkaSettings, group: &str, topic: &str) -> StreamConsumer {
    let consumer: StreamConsumer = settings
        .client_config()
        .expect("client config")
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    consumer
}

/// Receives `count` payloads, or the first error. Panics after 30 s without either.
pub async fn receive(consumer: &StreamConsumer, count: usize) -> Result<Vec<Vec<u8>>, KafkaError> {
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.len() < count {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, consumer.recv()).await {
            Ok(Ok(message)) => received.push(message.payload().unwrap_or_default().to_vec()),
            Ok(Err(error)) => return Err(error),
            Err(_) => panic!("received {} of {count} messages in 30 s", received.len()),
        }
    }
    Ok(received)
}

/// Calls `f` with every message of `topic`, partition by partition, from the low to the high
/// watermark at the time of the call (no group offsets are used or committed).
pub fn for_each_message(
    settings: &KafkaSettings,
    topic: &str,
    mut f: impl FnMut(&BorrowedMessage<'_>),
) {
    let consumer: BaseConsumer = settings
        .client_config()
        .expect("Kafka client settings")
        .set("group.id", crate::unique_name("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a Kafka consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
    for partition in metadata.topics()[0].partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition.id(), Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("watermarks of {topic}/{}: {e}", partition.id()));
        if high == low {
            continue;
        }
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Offset(low))
            .expect("a valid assignment");
        consumer.assign(&assignment).expect("assigning a partition");
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut next = low;
        while next < high {
            assert!(
                Instant::now() < deadline,
                "reading {topic} timed out at offset {next}"
            );
            if let Some(message) = consumer.poll(Duration::from_millis(500)) {
                let message = message.unwrap_or_else(|e| panic!("reading {topic}: {e}"));
                f(&message);
                next = message.offset() + 1;
            }
        }
    }
}
