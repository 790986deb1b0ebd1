//! alertdb-ingester against the real stack: Kafka, the schema registry, fake-gcs-server and
//! local files (issue 5).
//!
//! Outages are made with a TCP forwarder owned by the test (never by stopping the shared
//! stack, `integration_tests::faults`): the ingester reaches the registry and fake-gcs-server
//! through it, and the test cuts it for 10 s.

use alert_packet::generate::{AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::tree::SchemaTree;
use alertdb_ingester::settings::{IngesterConfig, Settings};
use futures::StreamExt;
use integration_tests::daemon::InProcessDaemon;
use integration_tests::faults::{Forwarder, PrivateGcs, PrivateKafka};
use integration_tests::{service_binary, unique_name, Stack};
use object_storage::object_store::{ObjectStore, ObjectStoreExt};
use object_storage::StoreSettings;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use service_kit::settings::{DurationSetting, ListenSettings};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Alerts, schemas, topics

fn tree() -> &'static SchemaTree {
    static TREE: std::sync::OnceLock<SchemaTree> = std::sync::OnceLock::new();
    TREE.get_or_init(|| {
        let dir = std::env::var("ALERT_SCHEMA_DIR")
            .map(Into::into)
            .unwrap_or_else(|_| {
                let output = Command::new(Stack::get().repo.join("scripts/install/schema-dir.sh"))
                    .output()
                    .expect("scripts/install/schema-dir.sh");
                std::path::PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
            });
        SchemaTree::load(&dir).expect("schema tree")
    })
}

/// Registers a schema version's JSON under a fresh subject; returns the registry's id.
async fn register(version: (u32, u32)) -> u32 {
    let stack = Stack::get();
    let schema = tree()
        .get(alert_packet::tree::SchemaVersion::new(version.0, version.1))
        .unwrap();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/subjects/{}/versions",
            stack.registry_url,
            unique_name("alertdb-ingester")
        ))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .body(serde_json::json!({ "schema": schema.schema.to_json().to_string() }).to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let body: serde_json::Value = response.json().await.unwrap();
    body["id"].as_u64().unwrap() as u32
}

/// `count` framed alerts with ids `first_id..`, small (a few KB) so tests stay fast: a few
/// generated bodies with their ids rewritten.
fn alerts(version: (u32, u32), schema_id: u32, first_id: i64, count: usize) -> Vec<(i64, Vec<u8>)> {
    let schema = tree()
        .get(alert_packet::tree::SchemaVersion::new(version.0, version.1))
        .unwrap();
    let mut generator = AlertGenerator::new(
        schema.schema.clone(),
        GeneratorConfig {
            seed: first_id as u64,
            prv_sources: 3,
            prv_forced_sources: 3,
            cutout_bytes: Some(256),
            null_one_in: 20,
        },
    )
    .unwrap();
    let spec = VisitSpec {
        alerts: 8,
        first_alert_id: first_id,
        ..VisitSpec::default()
    };
    let mut rng = SplitMix64::new(first_id as u64);
    let templates: Vec<Vec<u8>> = (0..8)
        .map(|i| generator.alert_body(&spec.context(i, &mut rng)))
        .collect();
    (0..count)
        .map(|i| {
            let id = first_id + i as i64;
            let mut body = Vec::new();
            alert_packet::alert::replace_id(&templates[i % templates.len()], id, &mut body)
                .unwrap();
            (id, alert_packet::wire::frame(schema_id, &body))
        })
        .collect()
}

fn producer() -> FutureProducer {
    let mut config = Stack::get().kafka_plaintext().client_config().unwrap();
    config.set("linger.ms", "5");
    config.create().unwrap()
}

/// Where each produced message landed: (topic, partition, offset) → value.
type Produced = BTreeMap<(String, i32, i64), Vec<u8>>;

/// Produces `values` round-robin over `partitions` partitions of `topic`.
async fn produce(
    producer: &FutureProducer,
    topic: &str,
    partitions: i32,
    values: &[Vec<u8>],
) -> Produced {
    let sends = values.iter().enumerate().map(|(i, value)| {
        let record = FutureRecord::<(), [u8]>::to(topic)
            .partition(i as i32 % partitions)
            .payload(&value[..])
            .headers(OwnedHeaders::new().insert(Header {
                key: "test-header",
                value: Some("kept"),
            }));
        producer.send(record, Duration::from_secs(30))
    });
    let results = futures::future::join_all(sends).await;
    let mut produced = Produced::new();
    for (result, value) in results.into_iter().zip(values) {
        let delivery = result.map_err(|(e, _)| e).expect("produce");
        produced.insert(
            (topic.to_owned(), delivery.partition, delivery.offset),
            value.clone(),
        );
    }
    produced
}

/// The group's committed positions.
fn committed(group: &str, partitions: &[(String, i32)]) -> HashMap<(String, i32), i64> {
    let mut config = Stack::get().kafka_plaintext().client_config().unwrap();
    config.set("group.id", group);
    let consumer: BaseConsumer = config.create().unwrap();
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    committed
        .elements()
        .into_iter()
        .map(|e| {
            let position = match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            };
            ((e.topic().to_owned(), e.partition()), position)
        })
        .collect()
}

fn alert_key(value: &[u8]) -> object_storage::object_store::path::Path {
    let frame = alert_packet::wire::unframe(value).unwrap();
    let id = alert_packet::alert::alert_id(frame.body).unwrap();
    alert_archive::alert_key(alert_archive::Layout::V2, id as u64)
}

async fn stored(store: &dyn ObjectStore, value: &[u8]) -> Option<Vec<u8>> {
    let object = store.get(&alert_key(value)).await.ok()?;
    let bytes = object.bytes().await.ok()?;
    Some(alert_archive::gunzip(&bytes, 16 << 20).expect("stored gzip decompresses"))
}

/// Waits until every produced alert is stored; then checks each is byte-exact.
async fn wait_archived(store: &dyn ObjectStore, produced: &Produced, timeout: Duration) {
    let started = Instant::now();
    let mut missing: Vec<&Vec<u8>> = produced.values().collect();
    while !missing.is_empty() {
        let mut still = Vec::new();
        for value in missing {
            match stored(store, value).await {
                Some(bytes) => assert_eq!(&bytes, value, "archived bytes equal the Kafka value"),
                None => still.push(value),
            }
        }
        missing = still;
        if !missing.is_empty() {
            assert!(
                started.elapsed() < timeout,
                "{} alerts not archived after {timeout:?}",
                missing.len()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The committed position of every partition must not pass an alert that is not stored.
async fn assert_commits_cover_only_stored(
    store: &dyn ObjectStore,
    group: &str,
    produced: &Produced,
) {
    let partitions: Vec<(String, i32)> = produced
        .keys()
        .map(|(t, p, _)| (t.clone(), *p))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let committed = committed(group, &partitions);
    for ((topic, partition, offset), value) in produced {
        let position = committed
            .get(&(topic.clone(), *partition))
            .copied()
            .unwrap_or(0);
        if *offset < position {
            assert!(
                stored(store, value).await.is_some(),
                "offset {offset} of {topic}/{partition} is committed (position {position}) but its alert is not stored"
            );
        }
    }
}

fn settings(topics: &[&str], group: &str, alerts_url: &str, schemas_url: &str) -> Settings {
    let stack = Stack::get();
    Settings {
        listen: ListenSettings::new("127.0.0.1", 0),
        store: StoreSettings {
            alerts_url: Some(alerts_url.to_owned()),
            schemas_url: Some(schemas_url.to_owned()),
            ..StoreSettings::default()
        },
        topics: topics.iter().map(|t| t.to_string()).collect(),
        group: group.to_owned(),
        kafka: stack.kafka_plaintext(),
        schema_registry_address: Some(stack.registry_url.clone()),
        commit_interval: DurationSetting(Duration::from_millis(200)),
        retry_max_backoff: DurationSetting(Duration::from_secs(1)),
        // Each test's topics are its own; their dead-letter topics are created on demand.
        create_dlq_topic: true,
        // Offsets are committed once the index rows are written; a short interval keeps the
        // waits for commits short (tests/alert_index.rs tests the index itself).
        index_interval: DurationSetting(Duration::from_secs(1)),
        ..Settings::default()
    }
}

/// The ingester in-process; its `run` error type.
type Ingester = InProcessDaemon<alertdb_ingester::RunError>;

async fn start(config: IngesterConfig) -> Ingester {
    InProcessDaemon::start("alertdb-ingester", |listener, shutdown| {
        alertdb_ingester::run(config, listener, shutdown)
    })
    .await
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

fn gcs_options(account: &Path) -> object_storage::StoreOptions {
    object_storage::StoreOptions {
        gcs_service_account_path: Some(account.to_owned()),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_of_two_topics_is_archived_byte_exact_with_each_schema_once() {
    let stack = Stack::get();
    let (a, b) = (unique_name("ingest-a"), unique_name("ingest-b"));
    stack.create_topics(&[&a, &b], 2).await.unwrap();
    let bucket = unique_name("ingest-alerts");
    stack.create_gcs_bucket(&bucket).await.unwrap();
    let schemas_dir = tempfile::tempdir().unwrap();
    let latest = register((11, 1)).await;
    let older = register((10, 0)).await;

    let producer = producer();
    let mut produced = produce(
        &producer,
        &a,
        2,
        &alerts((11, 1), latest, 171_000_000_000_000, 2_500)
            .into_iter()
            .map(|(_, v)| v)
            .collect::<Vec<_>>(),
    )
    .await;
    produced.extend(
        produce(
            &producer,
            &b,
            2,
            &alerts((10, 0), older, 172_000_000_000_000, 2_500)
                .into_iter()
                .map(|(_, v)| v)
                .collect::<Vec<_>>(),
        )
        .await,
    );
    assert_eq!(produced.len(), 5_000);

    let group = unique_name("alertdb-ingester");
    let mut s = settings(
        &[&a, &b],
        &group,
        &format!("gs://{bucket}"),
        &file_url(schemas_dir.path()),
    );
    // The schemas' local store flushes each write (the option touches only file:// stores).
    s.store.gcs_service_account_path = Some(stack.gcs_service_account.clone());
    s.store.fsync_local_files = true;
    let running = start(s.validate().unwrap()).await;
    let alerts_store = object_storage::open(
        &format!("gs://{bucket}"),
        &gcs_options(&stack.gcs_service_account),
    )
    .unwrap();
    wait_archived(alerts_store.as_ref(), &produced, Duration::from_secs(240)).await;

    // Each schema once, as the registry's schema string.
    let mut schema_files: Vec<_> = std::fs::read_dir(schemas_dir.path().join("v2/schemas"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    schema_files.sort();
    let mut expected = vec![format!("{latest}.json"), format!("{older}.json")];
    expected.sort();
    assert_eq!(schema_files, expected);
    let registry =
        registry_client::RegistryClient::new(&stack.registry_url, Duration::from_secs(5)).unwrap();
    assert_eq!(
        std::fs::read_to_string(schemas_dir.path().join(format!("v2/schemas/{latest}.json")))
            .unwrap(),
        registry.get_schema(latest).await.unwrap()
    );

    // Commits reach the end of every partition.
    let started = Instant::now();
    loop {
        let partitions: Vec<(String, i32)> = [
            (a.clone(), 0),
            (a.clone(), 1),
            (b.clone(), 0),
            (b.clone(), 1),
        ]
        .into();
        let committed = committed(&group, &partitions);
        if committed.values().sum::<i64>() == 5_000 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "commits stuck at {committed:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (status, metrics) = running.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("alertdb_ingester_alerts_archived_total 5000"),
        "{metrics}"
    );
    assert!(
        metrics.contains("alertdb_ingester_write_seconds_count 5000"),
        "{metrics}"
    );
    assert_eq!(running.get("/healthz").await.0, 200);
    let (status, body) = running.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    running.stop().await.expect("runs without error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_go_to_the_dead_letter_topic_with_their_reason() {
    let stack = Stack::get();
    let topic = unique_name("ingest-poison");
    let dlq = format!("{topic}.dlq");
    stack.create_topics(&[&topic, &dlq], 1).await.unwrap();
    let schema = register((11, 1)).await;
    let good = alerts((11, 1), schema, 173_000_000_000_000, 40);
    let poison: Vec<(&str, Vec<u8>)> = vec![
        ("too_short", vec![0, 0, 1]),
        ("bad_magic", vec![1, 0, 0, 4, 0x4d, 2, 3]),
        ("unreadable_alert_id", vec![0, 0, 0, 4, 0x4d]),
        (
            "unknown_schema",
            alert_packet::wire::frame(2_000_000_000, &[0x02, 1, 2, 3]),
        ),
    ];
    let mut values = Vec::new();
    for (i, (_, value)) in good.iter().enumerate() {
        values.push(value.clone());
        if i % 10 == 5 {
            values.push(poison[i / 10].1.clone());
        }
    }
    let produced = produce(&producer(), &topic, 1, &values).await;
    let poison_offsets: HashMap<Vec<u8>, i64> = produced
        .iter()
        .map(|((_, _, offset), value)| (value.clone(), *offset))
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let group = unique_name("alertdb-ingester");
    let running = start(
        settings(
            &[&topic],
            &group,
            &file_url(dir.path()),
            &file_url(dir.path()),
        )
        .validate()
        .unwrap(),
    )
    .await;
    let store = object_storage::open(&file_url(dir.path()), &Default::default()).unwrap();
    let good_only: Produced = produced
        .iter()
        .filter(|(_, v)| good.iter().any(|(_, g)| g == *v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    wait_archived(store.as_ref(), &good_only, Duration::from_secs(60)).await;

    // Every poison message is in the DLQ with the original bytes and headers.
    let mut config = stack.kafka_plaintext().client_config().unwrap();
    config
        .set("group.id", unique_name("dlq-reader"))
        .set("auto.offset.reset", "earliest");
    let reader: StreamConsumer = config.create().unwrap();
    reader.subscribe(&[&dlq]).unwrap();
    let mut seen = HashMap::new();
    let mut stream = reader.stream();
    while seen.len() < poison.len() {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("dead letters arrive")
            .unwrap()
            .unwrap();
        let headers = message.headers().unwrap();
        let header = |name: &str| {
            String::from_utf8(
                alertdb_ingester::ingest::header_value(headers, name)
                    .unwrap()
                    .to_vec(),
            )
            .unwrap()
        };
        let value = message.payload().unwrap().to_vec();
        assert_eq!(header("alertdb-dlq-source-topic"), topic);
        assert_eq!(header("alertdb-dlq-source-partition"), "0");
        assert_eq!(
            header("alertdb-dlq-source-offset"),
            poison_offsets[&value].to_string()
        );
        assert_eq!(header("test-header"), "kept");
        assert!(!header("alertdb-dlq-error").is_empty());
        seen.insert(header("alertdb-dlq-reason"), value);
    }
    for (reason, value) in &poison {
        assert_eq!(seen.get(*reason), Some(value), "{reason}");
    }
    let (_, metrics) = running.get("/metrics").await;
    for (reason, _) in &poison {
        assert!(
            metrics.contains(&format!(
                "alertdb_ingester_dead_lettered_total{{reason=\"{reason}\"}} 1"
            )),
            "{metrics}"
        );
    }
    // Poison does not hold commits back.
    let started = Instant::now();
    while committed(&group, &[(topic.clone(), 0)])[&(topic.clone(), 0)] < values.len() as i64 {
        assert!(started.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.stop().await.expect("runs without error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_dead_letter_topic_poison_stops_the_ingester_and_holds_commits() {
    let stack = Stack::get();
    let topic = unique_name("ingest-stop");
    stack.create_topics(&[&topic], 1).await.unwrap();
    let schema = register((11, 1)).await;
    let mut values: Vec<Vec<u8>> = alerts((11, 1), schema, 174_000_000_000_000, 20)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    values.insert(10, vec![7, 7, 7, 7, 7, 7]);
    let produced = produce(&producer(), &topic, 1, &values).await;
    let dir = tempfile::tempdir().unwrap();
    let group = unique_name("alertdb-ingester");
    let mut s = settings(
        &[&topic],
        &group,
        &file_url(dir.path()),
        &file_url(dir.path()),
    );
    s.dlq_enabled = false;
    let running = start(s.validate().unwrap()).await;
    let started = Instant::now();
    loop {
        let (status, body) = running.get("/readyz").await;
        if status == 503 && body.contains("poison message") {
            assert!(body.contains("magic byte"), "{body}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let position = committed(&group, &[(topic.clone(), 0)])[&(topic.clone(), 0)];
    assert!(
        position <= 10,
        "committed {position}, past the poison message at 10"
    );
    let store = object_storage::open(&file_url(dir.path()), &Default::default()).unwrap();
    assert_commits_cover_only_stored(store.as_ref(), &group, &produced).await;
    running.stop().await.expect("runs without error");
}

fn service_account(dir: &Path, name: &str, address: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(
        &path,
        serde_json::json!({
            "gcs_base_url": format!("http://{address}"),
            "disable_oauth": true, "client_email": "", "private_key": "", "private_key_id": ""
        })
        .to_string(),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_and_object_store_outages_lose_nothing_and_recover_by_themselves() {
    let stack = Stack::get();
    let topic = unique_name("ingest-outage");
    stack.create_topics(&[&topic], 2).await.unwrap();
    // A private fake-gcs-server: its public host without a port accepts XML API requests
    // on any port of 127.0.0.1, so the ingester can reach it through the forwarder while the
    // test reads it directly.
    let gcs = PrivateGcs::start().unwrap();
    let bucket = unique_name("ingest-outage");
    gcs.create_bucket(&bucket).await.unwrap();
    let registry_host = stack
        .registry_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let registry_path =
        stack.registry_url.trim_start_matches("http://")[registry_host.len()..].to_owned();
    let registry_forwarder = Forwarder::start(registry_host).await;
    let gcs_forwarder = Forwarder::start(gcs.address().to_string()).await;
    let dir = tempfile::tempdir().unwrap();
    let account = service_account(
        dir.path(),
        "via-forwarder",
        &gcs_forwarder.address().to_string(),
    );
    let direct_account = service_account(dir.path(), "direct", &gcs.address().to_string());
    let first = register((11, 1)).await;
    let second = register((9, 0)).await;
    let group = unique_name("alertdb-ingester");
    let url = format!("gs://{bucket}");
    let mut s = settings(&[&topic], &group, &url, &url);
    s.store.gcs_service_account_path = Some(account.clone());
    s.schema_registry_address = Some(format!(
        "http://{}{registry_path}",
        registry_forwarder.address()
    ));
    s.registry_timeout = DurationSetting(Duration::from_secs(1));
    let running = start(s.validate().unwrap()).await;
    let direct = object_storage::open(&url, &gcs_options(&direct_account)).unwrap();
    let producer = producer();
    let values = |v, id, first_id, n| -> Vec<Vec<u8>> {
        alerts(v, id, first_id, n)
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    };
    let mut all = produce(
        &producer,
        &topic,
        2,
        &values((11, 1), first, 175_000_000_000_000, 200),
    )
    .await;
    wait_archived(direct.as_ref(), &all, Duration::from_secs(60)).await;

    // Registry down: alerts of a schema the ingester has not seen yet cannot be archived.
    registry_forwarder.cut();
    let during = produce(
        &producer,
        &topic,
        2,
        &values((9, 0), second, 175_000_000_001_000, 200),
    )
    .await;
    all.extend(during.clone());
    let outage = Instant::now();
    let mut saw_not_ready = false;
    while outage.elapsed() < Duration::from_secs(10) {
        let (status, body) = running.get("/readyz").await;
        saw_not_ready |= status == 503 && body.contains("schema-registry");
        assert_commits_cover_only_stored(direct.as_ref(), &group, &all).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(saw_not_ready, "/readyz reports the registry outage");
    for value in during.values().take(5) {
        assert!(
            stored(direct.as_ref(), value).await.is_none(),
            "archived without its schema?"
        );
    }
    registry_forwarder.open();
    wait_archived(direct.as_ref(), &all, Duration::from_secs(60)).await;

    // Object store down.
    gcs_forwarder.cut();
    let during = produce(
        &producer,
        &topic,
        2,
        &values((11, 1), first, 175_000_000_002_000, 300),
    )
    .await;
    all.extend(during);
    let outage = Instant::now();
    let mut saw_not_ready = false;
    while outage.elapsed() < Duration::from_secs(10) {
        let (status, body) = running.get("/readyz").await;
        saw_not_ready |= status == 503 && body.contains("alert-store");
        assert_commits_cover_only_stored(direct.as_ref(), &group, &all).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(saw_not_ready, "/readyz reports the store outage");
    gcs_forwarder.open();
    wait_archived(direct.as_ref(), &all, Duration::from_secs(90)).await;
    let started = Instant::now();
    while running.get("/readyz").await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "ready again after the outages"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, metrics) = running.get("/metrics").await;
    assert!(
        metrics.contains("alertdb_ingester_retries_total{operation=\"registry\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("alertdb_ingester_retries_total{operation=\"alert_write\"}"),
        "{metrics}"
    );
    assert!(!running.is_finished(), "no crash");
    running.stop().await.expect("runs without error");
    assert_commits_cover_only_stored(direct.as_ref(), &group, &all).await;
}

// ---------------------------------------------------------------------------------------------
// The ingester as a process: crashes, SIGTERM, configuration errors.

fn spawn_ingester(config_file: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(service_binary("alertdb-ingester"))
        .arg("--config")
        .arg(config_file)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn write_config(
    path: &Path,
    topic: &str,
    group: &str,
    store: &str,
    extra: &str,
    kafka_extra: &str,
) {
    let stack = Stack::get();
    std::fs::write(
        path,
        format!(
            r#"topics = ["{topic}"]
group = "{group}"
schema_registry_address = "{registry}"
commit_interval = "200ms"
create_dlq_topic = true
# Offsets are committed once the index rows are written; a short interval keeps these
# archive tests' waits for commits short (tests/alert_index.rs tests the index itself).
index_interval = "1s"
{extra}
[listen]
port = 0
[store]
alerts_url = "{store}"
[kafka]
bootstrap_servers = "{kafka}"
[kafka.extra]
"session.timeout.ms" = "6000"
{kafka_extra}
"#,
            registry = stack.registry_url,
            kafka = stack.kafka_plaintext,
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_no_alert() {
    let stack = Stack::get();
    let topic = unique_name("ingest-crash");
    stack.create_topics(&[&topic], 4).await.unwrap();
    let schema = register((11, 1)).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let config = dir.path().join("ingester.toml");
    let group = unique_name("alertdb-ingester");
    // Static membership: a restarted instance takes its partitions back at once instead of
    // waiting for the killed one's session to time out, so kills land mid-write.
    write_config(
        &config,
        &topic,
        &group,
        &file_url(&archive),
        "max_in_flight = 32",
        &format!("\"group.instance.id\" = \"{group}-0\""),
    );
    let log = dir.path().join("ingester.log");
    let values: Vec<Vec<u8>> = alerts((11, 1), schema, 176_000_000_000_000, 10_000)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let producer = producer();
    // Half before the first start; the rest a fifth per life, produced throughout that life
    // (100 at a time), so every kill lands while alerts arrive and are being written, however
    // fast the ingester is.
    let mut produced = produce(&producer, &topic, 4, &values[..5_000]).await;
    let mut shares = values[5_000..].chunks(1_000);
    // Checked after each kill is only the first half (reading back every alert is slow in a
    // debug build); the final check covers all.
    let mut later = Produced::new();
    let mut rng = SplitMix64::new(std::process::id() as u64);
    let mut kills = 0;
    let mut archived_before_kill = Vec::new();
    let store = object_storage::open(&file_url(&archive), &Default::default()).unwrap();
    while kills < 5 {
        let mut child = spawn_ingester(&config, &log);
        let wait = Duration::from_millis(1_000 + rng.below(4_000));
        for part in shares.next().unwrap().chunks(100) {
            tokio::time::sleep(wait / 10).await;
            later.extend(produce(&producer, &topic, 4, part).await);
        }
        archived_before_kill.push(count_files(&archive.join("v2/alerts")));
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingester died by itself; see {}",
            log.display()
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        assert_commits_cover_only_stored(store.as_ref(), &group, &produced).await;
    }
    produced.extend(later);
    assert_eq!(produced.len(), 10_000);
    // The kills landed while work was going on, not before the first assignment.
    assert!(
        archived_before_kill
            .windows(2)
            .filter(|w| w[1] > w[0])
            .count()
            >= 3,
        "archive grew between kills: {archived_before_kill:?}"
    );
    let mut child = spawn_ingester(&config, &log);
    wait_archived(store.as_ref(), &produced, Duration::from_secs(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_commits_cover_only_stored(store.as_ref(), &group, &produced).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_exits_in_time_and_commits_only_what_is_written() {
    let stack = Stack::get();
    let topic = unique_name("ingest-term");
    stack.create_topics(&[&topic], 2).await.unwrap();
    let schema = register((11, 1)).await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let config = dir.path().join("ingester.toml");
    let group = unique_name("alertdb-ingester");
    write_config(&config, &topic, &group, &file_url(&archive), "", "");
    let values: Vec<Vec<u8>> = alerts((11, 1), schema, 177_000_000_000_000, 6_000)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let produced = produce(&producer(), &topic, 2, &values).await;
    let log = dir.path().join("ingester.log");
    let mut child = spawn_ingester(&config, &log);
    let store = object_storage::open(&file_url(&archive), &Default::default()).unwrap();
    // Wait until it is busy, then SIGTERM.
    let started = Instant::now();
    while std::fs::read_dir(archive.join("v2/alerts"))
        .map(|d| d.count())
        .unwrap_or(0)
        == 0
    {
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let signalled = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(30),
            "exits within 30 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}; see {}", log.display());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("final offsets committed") || text.contains("stopped"),
        "{text}"
    );
    assert_commits_cover_only_stored(store.as_ref(), &group, &produced).await;
    let committed = committed(&group, &[(topic.clone(), 0), (topic.clone(), 1)]);
    assert!(
        committed.values().sum::<i64>() > 0,
        "something was committed: {committed:?}"
    );
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|shards| {
            shards
                .filter_map(Result::ok)
                .map(|shard| {
                    std::fs::read_dir(shard.path())
                        .map(|f| f.count())
                        .unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0)
}

fn run_with(args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(service_binary("alertdb-ingester"));
    command.args(args).env_remove("ALERTDB_KAFKA_PASSWORD");
    for (k, v) in envs {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn configuration_errors_are_named_at_startup_with_a_non_zero_exit() {
    let base = [
        "--kafka-topics",
        "t",
        "--schema-registry-address",
        "http://127.0.0.1:8081",
        "--listen-port",
        "0",
    ];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--alerts-url", "ftp://bucket"],
            "unsupported store scheme",
        ),
        (vec!["--alerts-url", "gs://"], "bucket"),
        (vec![], "--alerts-url"),
        (
            vec![
                "--alerts-url",
                "memory://",
                "--kafka-auth-mechanism",
                "mtls",
                "--tls-client-crt-location",
                "/etc/hostname",
            ],
            "give all three or none",
        ),
        (
            vec![
                "--alerts-url",
                "memory://",
                "--kafka-auth-mechanism",
                "scram",
                "--kafka-username",
                "alertdb",
            ],
            "password",
        ),
        (
            vec!["--alerts-url", "memory://", "--layout", "v9"],
            "layout",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = base.to_vec();
        args.extend(extra.iter().copied());
        let (ok, stderr) = run_with(&args, &[]);
        assert!(!ok, "{args:?} must fail");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let (ok, stderr) = run_with(&["--kafka-auth-mechanism", "kerberos"], &[]);
    assert!(!ok);
    assert!(stderr.contains("kerberos"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Broker restart: a private single-node Kafka of the test's own (faults::PrivateKafka).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_run_loses_nothing_and_ingestion_resumes() {
    let kafka = tokio::task::spawn_blocking(PrivateKafka::start)
        .await
        .unwrap();
    let topic = unique_name("ingest-restart");
    kafka.create_topic(&topic, 2).await.unwrap();
    let schema = register((11, 1)).await;
    let dir = tempfile::tempdir().unwrap();
    let group = unique_name("alertdb-ingester");
    let mut s = settings(
        &[&topic],
        &group,
        &file_url(dir.path()),
        &file_url(dir.path()),
    );
    s.kafka = kafka.settings();
    let running = start(s.validate().unwrap()).await;
    let store = object_storage::open(&file_url(dir.path()), &Default::default()).unwrap();
    let mut config = kafka.settings().client_config().unwrap();
    // The producer must outlive the restart: it queues until the broker is back.
    config.set("message.timeout.ms", "120000");
    let producer: FutureProducer = config.create().unwrap();
    let values = |first_id, n| -> Vec<Vec<u8>> {
        alerts((11, 1), schema, first_id, n)
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    };
    let mut all = produce(&producer, &topic, 2, &values(178_000_000_000_000, 300)).await;
    wait_archived(store.as_ref(), &all, Duration::from_secs(60)).await;

    // Stop the broker for 10 s; alerts sent meanwhile wait in the producer.
    kafka.script("stop");
    let during = tokio::spawn({
        let producer = producer.clone();
        let topic = topic.clone();
        let batch = values(178_000_000_001_000, 200);
        async move { produce(&producer, &topic, 2, &batch).await }
    });
    let outage = Instant::now();
    let mut saw_not_ready = false;
    while outage.elapsed() < Duration::from_secs(10) {
        let (status, body) = running.get("/readyz").await;
        saw_not_ready |= status == 503 && body.contains("kafka");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(saw_not_ready, "/readyz reports the broker outage");
    assert!(!running.is_finished(), "the ingester survives the outage");
    assert_eq!(running.get("/healthz").await.0, 200);
    kafka.script("start");
    all.extend(during.await.unwrap());
    all.extend(produce(&producer, &topic, 2, &values(178_000_000_002_000, 300)).await);
    wait_archived(store.as_ref(), &all, Duration::from_secs(120)).await;
    assert!(!running.is_finished(), "no crash");
    running.stop().await.expect("runs without error");
    let partitions = [(topic.clone(), 0), (topic.clone(), 1)];
    let mut config = kafka.settings().client_config().unwrap();
    config.set("group.id", &group);
    let consumer: BaseConsumer = config.create().unwrap();
    let mut list = TopicPartitionList::new();
    for (t, p) in &partitions {
        list.add_partition(t, *p);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    let mut total = 0;
    for element in committed.elements() {
        if let Offset::Offset(position) = element.offset() {
            total += position;
        }
    }
    assert_eq!(
        total,
        all.len() as i64,
        "everything committed after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalances_mid_run_revoke_without_committing_past_unwritten_alerts() {
    let stack = Stack::get();
    let topic = unique_name("ingest-rebalance");
    stack.create_topics(&[&topic], 4).await.unwrap();
    let schema = register((11, 1)).await;
    let dir = tempfile::tempdir().unwrap();
    let group = unique_name("alertdb-ingester");
    let config = || {
        let mut s = settings(
            &[&topic],
            &group,
            &file_url(dir.path()),
            &file_url(dir.path()),
        );
        s.kafka
            .extra
            .insert("session.timeout.ms".into(), "6000".into());
        s.validate().unwrap()
    };
    let store = object_storage::open(&file_url(dir.path()), &Default::default()).unwrap();
    let producer = producer();
    let values = |first_id, n| -> Vec<Vec<u8>> {
        alerts((11, 1), schema, first_id, n)
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    };
    let first = start(config()).await;
    let mut all = Produced::new();
    // A second member joins, then the first leaves, while alerts keep coming: each
    // rebalance revokes partitions with writes in flight.
    let mut second = None;
    for round in 0..8i64 {
        all.extend(
            produce(
                &producer,
                &topic,
                4,
                &values(179_000_000_000_000 + round * 1_000, 250),
            )
            .await,
        );
        if round == 3 {
            second = Some(start(config()).await);
        }
        assert_commits_cover_only_stored(store.as_ref(), &group, &all).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    first.stop().await.expect("runs without error");
    assert_commits_cover_only_stored(store.as_ref(), &group, &all).await;
    all.extend(produce(&producer, &topic, 4, &values(179_000_000_100_000, 500)).await);
    let second = second.unwrap();
    wait_archived(store.as_ref(), &all, Duration::from_secs(120)).await;
    let started = Instant::now();
    let partitions: Vec<(String, i32)> = (0..4).map(|p| (topic.clone(), p)).collect();
    while committed(&group, &partitions).values().sum::<i64>() < all.len() as i64 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "commits reach the end"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    second.stop().await.expect("runs without error");
    assert_commits_cover_only_stored(store.as_ref(), &group, &all).await;
}
