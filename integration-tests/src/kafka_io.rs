//! Small Kafka clients for tests: produce a few values, consume a topic in a group, and
//! surface the broker's own errors (authorization failures above all) to the caller.

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
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
