//! Creating and deleting the simulator's topics.
//!
//! Kafka deletes topics asynchronously, so "delete then create" must wait until the old topic
//! is really gone; otherwise the create fails, or worse, succeeds against the old one.

use anyhow::{anyhow, bail, Context};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use std::time::{Duration, Instant};

/// How to create a topic.
#[derive(Debug, Clone)]
pub struct TopicSpec<'a> {
    pub name: &'a str,
    pub partitions: i32,
    pub replication_factor: i32,
    /// Topic configs, e.g. `retention.ms = -1`.
    pub configs: &'a [(&'a str, &'a str)],
}

/// Configs of the static topic: kept forever. Upstream lost these on reload.
pub const STATIC_TOPIC_CONFIGS: &[(&str, &str)] =
    &[("retention.ms", "-1"), ("retention.bytes", "-1")];

fn admin(config: &ClientConfig) -> anyhow::Result<AdminClient<DefaultClientContext>> {
    config
        .create()
        .context("cannot create a Kafka admin client")
}

/// Whether the topic exists.
pub fn exists(config: &ClientConfig, topic: &str) -> anyhow::Result<bool> {
    let admin = admin(config)?;
    let metadata = admin
        .inner()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .context("cannot fetch topic metadata")?;
    Ok(metadata
        .topics()
        .iter()
        .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty()))
}

/// Deletes `spec.name` if it exists, waits until it is gone, and creates it.
pub async fn recreate(config: &ClientConfig, spec: &TopicSpec<'_>) -> anyhow::Result<()> {
    delete(config, spec.name).await?;
    create(config, spec).await
}

/// Deletes a topic and waits until brokers no longer report it. Absent topics are fine.
pub async fn delete(config: &ClientConfig, topic: &str) -> anyhow::Result<()> {
    let admin = admin(config)?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin.delete_topics(&[topic], &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((name, code)) => bail!("cannot delete topic {name}: {code}"),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while exists(config, topic)? {
        if Instant::now() > deadline {
            bail!("topic {topic} still exists 60 s after its deletion");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Creates a topic, retrying while a just-deleted topic of the same name lingers.
pub async fn create(config: &ClientConfig, spec: &TopicSpec<'_>) -> anyhow::Result<()> {
    let admin = admin(config)?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let mut topic = NewTopic::new(
        spec.name,
        spec.partitions,
        TopicReplication::Fixed(spec.replication_factor),
    );
    for (key, value) in spec.configs {
        topic = topic.set(key, value);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let result = admin
            .create_topics(std::slice::from_ref(&topic), &options)
            .await?;
        match result.into_iter().next() {
            Some(Ok(_)) => return Ok(()),
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Some(Err((name, code))) => bail!("cannot create topic {name}: {code}"),
            None => return Err(anyhow!("no answer creating topic {}", spec.name)),
        }
    }
}
