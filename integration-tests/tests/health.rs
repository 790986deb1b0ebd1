//! Health that can fail, and dependencies checked at start (issue 17), with the services as
//! processes against the real stack, each test on its own topics, groups and buckets:
//!
//! - an ingester whose consume loop stalls (its store accepts connections and never answers,
//!   one write in flight at most) fails `/healthz` within its deadline, and passes again once
//!   the store answers; a quiet topic alone never fails it;
//! - an ingester whose dead-letter topic is missing is not ready, with the reason in `/readyz`
//!   and its log, until the topic exists; with `--create-dlq-topic` it creates it;
//! - a replayer that cannot produce (its brokers unreachable) fails `/healthz`, and passes
//!   again once they are back; a missing source or destination topic keeps it not ready with
//!   the reason.

use alert_packet::binary::write_long;
use alert_packet::wire;
use integration_tests::faults::{Forwarder, Passage, PrivateKafka};
use integration_tests::process::{free_port, Daemon};
use integration_tests::{release_binary, unique_name, Stack};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::{Duration, Instant};

/// `GET url`: the status and the body.
async fn get(url: &str) -> (u16, String) {
    match reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
    {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(error) => (0, error.to_string()),
    }
}

/// Polls `url` until `accept(status, body)`; the time it took, or a panic naming the last
/// answer and the daemon's log.
async fn wait_for(
    url: &str,
    timeout: Duration,
    daemon: &Daemon,
    mut accept: impl FnMut(u16, &str) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = get(url).await;
        if accept(status, &body) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < timeout,
            "{url} still answers {status} {body} after {timeout:?}\nlog:\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registers a small record schema under a fresh subject; the registry's id.
async fn register_schema() -> u32 {
    let stack = Stack::get();
    let schema = serde_json::json!({
        "type": "record", "name": "alert", "namespace": "health",
        "fields": [{ "name": "diaSourceId", "type": "long" }, { "name": "note", "type": "string" }]
    });
    let response = reqwest::Client::new()
        .post(format!(
            "{}/subjects/{}/versions",
            stack.registry_url,
            unique_name("health")
        ))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .body(serde_json::json!({ "schema": schema.to_string() }).to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let body: serde_json::Value = response.json().await.unwrap();
    body["id"].as_u64().unwrap() as u32
}

/// One alert in the Confluent wire format: the id first, as the ingester reads it.
fn alert(schema_id: u32, id: i64) -> Vec<u8> {
    let mut body = Vec::new();
    write_long(&mut body, id);
    write_long(&mut body, 2);
    body.extend_from_slice(b"ok");
    wire::frame(schema_id, &body)
}

async fn produce(topic: &str, values: &[Vec<u8>]) {
    let producer: FutureProducer = Stack::get()
        .kafka_plaintext()
        .client_config()
        .unwrap()
        .create()
        .unwrap();
    for value in values {
        producer
            .send(
                FutureRecord::<(), [u8]>::to(topic).payload(&value[..]),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
}

fn ingester_args(topic: &str, port: u16, store: &[&str], extra: &[&str]) -> Vec<String> {
    let stack = Stack::get();
    let mut args: Vec<String> = [
        "--kafka-host",
        &stack.kafka_plaintext,
        "--kafka-auth-mechanism",
        "none",
        "--kafka-topics",
        topic,
        "--kafka-group",
        &unique_name("health-ingester"),
        "--schema-registry-address",
        &stack.registry_url,
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        &port.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(store.iter().chain(extra).map(|s| s.to_string()));
    args
}

const DEADLINE: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consume_loop_fails_healthz_within_its_deadline_and_recovers() {
    let stack = Stack::get();
    let topic = unique_name("health-stall");
    let dlq = format!("{topic}.dlq");
    stack.create_topics(&[&topic, &dlq], 1).await.unwrap();
    let bucket = unique_name("health-stall");
    stack.create_s3_bucket(&bucket).await.unwrap();
    let schema_id = register_schema().await;
    // The S3 server behind a forwarder that holds every connection: writes neither fail nor
    // end.
    let s3 = Forwarder::start_in(
        stack.s3_endpoint.trim_start_matches("http://"),
        Passage::Hold,
    )
    .await;
    let aws = [
        ("AWS_ACCESS_KEY_ID", stack.s3_access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", stack.s3_secret_access_key.expose()),
        ("AWS_REGION", stack.s3_region.as_str()),
        ("RUST_LOG", "info"),
    ];
    let logs = tempfile::tempdir().unwrap();
    let port = free_port();
    let endpoint = format!("http://{}", s3.address());
    let ingester = Daemon::start(
        "alertdb-ingester",
        &release_binary("alertdb-ingester"),
        &ingester_args(
            &topic,
            port,
            &[
                "--alerts-url",
                &format!("s3://{bucket}"),
                "--endpoint-url",
                &endpoint,
            ],
            &["--max-in-flight", "1", "--liveness-deadline", "3s"],
        ),
        &aws,
        logs.path(),
    )
    .unwrap();
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    wait_for(&readyz, Duration::from_secs(30), &ingester, |s, _| s == 200).await;

    // A quiet topic is healthy: idle polls beat.
    tokio::time::sleep(DEADLINE + Duration::from_secs(1)).await;
    assert_eq!(get(&healthz).await, (200, "ok".to_owned()));

    // One alert: its write hangs, the one permit stays taken, the loop stops turning.
    let produced = Instant::now();
    produce(
        &topic,
        &[alert(schema_id, 1_000_001), alert(schema_id, 1_000_002)],
    )
    .await;
    let mut body = String::new();
    wait_for(&healthz, Duration::from_secs(15), &ingester, |s, b| {
        s == 503 && {
            body = b.to_owned();
            true
        }
    })
    .await;
    let unhealthy_after = produced.elapsed();
    assert!(
        unhealthy_after <= DEADLINE + Duration::from_secs(3),
        "unhealthy only {unhealthy_after:?} after the stall began (deadline {DEADLINE:?})"
    );
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        report["stale"],
        serde_json::json!(["consume-loop"]),
        "{body}"
    );
    assert!(
        report["loops"]["consume-loop"]["seconds_since_beat"]
            .as_f64()
            .unwrap()
            > DEADLINE.as_secs_f64(),
        "{body}"
    );

    // The store answers again: the writes finish, the loop turns, /healthz passes.
    s3.open();
    let recovered = wait_for(&healthz, Duration::from_secs(60), &ingester, |s, _| {
        s == 200
    })
    .await;
    let archived = format!("http://127.0.0.1:{port}/metrics");
    let started = Instant::now();
    while integration_tests::process::metric_sum(
        &archived,
        "alertdb_ingester_alerts_archived_total",
    )
    .await
    .unwrap()
        < 2.0
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            ingester.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "stalled ingester: 503 {unhealthy_after:?} after the stall began, 200 again {recovered:?} after the store answered"
    );
    stack.delete_topics(&[&topic, &dlq]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_dead_letter_topic_keeps_the_ingester_not_ready_until_it_exists() {
    let stack = Stack::get();
    let topic = unique_name("health-dlq");
    let dlq = format!("{topic}.dlq");
    stack.create_topics(&[&topic], 1).await.unwrap();
    let archive = tempfile::tempdir().unwrap();
    let store = format!("file://{}", archive.path().display());
    let logs = tempfile::tempdir().unwrap();
    let port = free_port();
    let ingester = Daemon::start(
        "alertdb-ingester",
        &release_binary("alertdb-ingester"),
        &ingester_args(
            &topic,
            port,
            &["--alerts-url", &store],
            &["--liveness-deadline", "3s"],
        ),
        &[("RUST_LOG", "info")],
        logs.path(),
    )
    .unwrap();
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    let reason = format!(
        "dead-letter topic {dlq} does not exist (create it, or set --create-dlq-topic, or --no-dlq)"
    );
    wait_for(&readyz, Duration::from_secs(20), &ingester, |s, b| {
        s == 503 && b.contains(&reason)
    })
    .await;
    // Waiting for a topic is not being stuck: alive all along.
    tokio::time::sleep(DEADLINE + Duration::from_secs(1)).await;
    assert_eq!(get(&healthz).await.0, 200);
    assert_eq!(get(&readyz).await.0, 503);
    let log = ingester.log_text();
    assert!(
        log.contains(&reason) && log.contains("ERROR"),
        "the reason is logged as an error:\n{log}"
    );

    // An operator creates it: ready within a check interval or two (and the consumer's join).
    stack.create_topics(&[&dlq], 1).await.unwrap();
    let became_ready = wait_for(&readyz, Duration::from_secs(30), &ingester, |s, _| s == 200).await;
    eprintln!("ready {became_ready:?} after the dead-letter topic was created");
    drop(ingester);

    // With --create-dlq-topic, the ingester creates it.
    let second = unique_name("health-dlq-create");
    let created = format!("{second}.dlq");
    stack.create_topics(&[&second], 1).await.unwrap();
    let port = free_port();
    let ingester = Daemon::start(
        "alertdb-ingester-create",
        &release_binary("alertdb-ingester"),
        &ingester_args(
            &second,
            port,
            &["--alerts-url", &store],
            &["--create-dlq-topic"],
        ),
        &[("RUST_LOG", "info")],
        logs.path(),
    )
    .unwrap();
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    wait_for(&readyz, Duration::from_secs(30), &ingester, |s, _| s == 200).await;
    let missing = service_kit::kafka::missing_topics(
        &stack.kafka_plaintext().client_config().unwrap(),
        std::slice::from_ref(&created),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert!(missing.is_empty(), "{created} was not created");
    stack
        .delete_topics(&[&topic, &dlq, &second, &created])
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The replayer: a private single-node Kafka the test can stop (faults::PrivateKafka; the
// shared one is never stopped).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayer_waits_for_its_topics_and_fails_healthz_while_it_cannot_produce() {
    let kafka = tokio::task::spawn_blocking(PrivateKafka::start)
        .await
        .unwrap();
    let (src, dst) = (unique_name("health-src"), unique_name("health-dst"));
    let logs = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut replayer = Daemon::start(
        "play-stream",
        &release_binary("rubin-alert-sim"),
        &[
            "play-stream",
            "-B",
            &kafka.bootstrap(),
            "--src-topic",
            &src,
            "--dst-topic",
            &dst,
            "--create-dst-topic",
            "--repeat-interval",
            "0.5",
            "--pacing",
            "none",
            "--liveness-deadline",
            "3s",
            "--listen-port",
            &port.to_string(),
        ],
        &[("RUST_LOG", "info")],
        logs.path(),
    )
    .unwrap();
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    let metrics = format!("http://127.0.0.1:{port}/metrics");

    // No source topic yet: not ready, with the reason; alive while it waits.
    let reason = format!("source topic {src} does not exist; load it with create-stream first");
    wait_for(&readyz, Duration::from_secs(30), &replayer, |s, b| {
        s == 503 && b.contains(&reason)
    })
    .await;
    tokio::time::sleep(DEADLINE + Duration::from_secs(1)).await;
    assert_eq!(get(&healthz).await.0, 200, "{}", replayer.log_text());
    assert!(replayer.log_text().contains(&reason));

    // The source appears with a few alerts: the destination is created, passes run, ready.
    kafka.create_topic(&src, 1).await.unwrap();
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    for id in 0..20 {
        producer
            .send(
                FutureRecord::<(), [u8]>::to(&src).payload(&alert(1, 2_000_000 + id)[..]),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    drop(producer);
    wait_for(&readyz, Duration::from_secs(30), &replayer, |s, _| s == 200).await;
    let started = Instant::now();
    while integration_tests::process::metric_sum(&metrics, "alertsim_passes_total")
        .await
        .unwrap()
        < 2.0
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            replayer.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&healthz).await, (200, "ok".to_owned()));

    // The brokers go away: no pass can run, nothing is delivered; /healthz fails.
    tokio::task::block_in_place(|| kafka.script("stop"));
    let stopped = Instant::now();
    let mut body = String::new();
    wait_for(&healthz, Duration::from_secs(30), &replayer, |s, b| {
        s == 503 && {
            body = b.to_owned();
            true
        }
    })
    .await;
    let unhealthy_after = stopped.elapsed();
    assert!(
        unhealthy_after <= DEADLINE + Duration::from_secs(5),
        "unhealthy only {unhealthy_after:?} after the brokers stopped (deadline {DEADLINE:?})"
    );
    assert!(body.contains("replay-loop"), "{body}");
    assert!(
        replayer.is_running(),
        "the replayer waits out the outage: {}",
        replayer.log_text()
    );

    // The brokers are back: passes run again, /healthz passes.
    tokio::task::block_in_place(|| kafka.script("start"));
    let restarted = Instant::now();
    wait_for(&healthz, Duration::from_secs(60), &replayer, |s, _| {
        s == 200
    })
    .await;
    eprintln!(
        "replayer: 503 {unhealthy_after:?} after the brokers stopped, 200 again {:?} after they were back",
        restarted.elapsed()
    );
}
