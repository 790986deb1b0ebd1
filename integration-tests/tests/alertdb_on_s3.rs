//! The alert archive on S3, end to end with the services as processes: alertdb-ingester archives
//! a topic of its own into two buckets of the stack's S3 server (moto, `scripts/s3/s3.sh`), and
//! alertdb-server serves them back byte-identical over HTTP. Both are configured with upstream's
//! flags (bucket names and `--endpoint-url`) and keyed by the `AWS_*` variables `object_store`
//! reads, as upstream's deployments on S3 are:
//!
//! - alertdb-ingester (upstream `alert_database_ingester`): `--bucket-alerts`/`--bucket-schemas`
//!   with `--endpoint-url`, which makes the buckets S3 ones;
//! - alertdb-server (upstream `alert_database_server`): `--backend s3` with the same bucket flags
//!   and `--endpoint-url`.

use alert_archive::{alert_key, gunzip, schema_key, Layout};
use alert_packet::generate::{AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::tree::{locate_with_python, SchemaTree};
use futures::TryStreamExt;
use integration_tests::process::{free_port, wait_http, Daemon};
use integration_tests::{release_binary, unique_name, Stack};
use object_storage::object_store::{ObjectStore, ObjectStoreExt};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The latest schema of lsst-alert-packet and its text.
fn latest_schema() -> (SchemaTree, String) {
    let stack = Stack::get();
    let tree = SchemaTree::load(&locate_with_python(&stack.python).expect("lsst-alert-packet"))
        .expect("schema tree");
    let text = tree.latest().schema.to_json().to_string();
    (tree, text)
}

/// Realistic alerts (~100 KB each, with cutouts) of the latest schema, as (id, wire bytes).
fn alerts(tree: &SchemaTree, schema_id: u32, count: usize) -> Vec<(u64, Vec<u8>)> {
    let mut generator = AlertGenerator::new(
        Arc::clone(&tree.latest().schema),
        GeneratorConfig {
            seed: 17,
            ..GeneratorConfig::default()
        },
    )
    .unwrap();
    let spec = VisitSpec {
        alerts: count,
        ..VisitSpec::default()
    };
    let mut rng = SplitMix64::new(17);
    (0..count)
        .map(|i| {
            let context = spec.context(i, &mut rng);
            let body = generator.alert_body(&context);
            (
                context.alert_id as u64,
                alert_packet::wire::frame(schema_id, &body),
            )
        })
        .collect()
}

/// Registers `schema` under a subject of its own; returns the registry's id and the schema
/// text the registry hands out for it (what the ingester archives).
async fn register(schema: &str) -> (u32, String) {
    let stack = Stack::get();
    let http = reqwest::Client::new();
    let response = http
        .post(format!(
            "{}/subjects/{}/versions",
            stack.registry_url,
            unique_name("alertdb-on-s3")
        ))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .body(serde_json::json!({ "schema": schema }).to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap() as u32;
    let stored: serde_json::Value = http
        .get(format!("{}/schemas/ids/{id}", stack.registry_url))
        .header("Accept", "application/vnd.schemaregistry.v1+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (id, stored["schema"].as_str().unwrap().to_owned())
}

/// Every key of a bucket.
async fn keys(store: &dyn ObjectStore) -> Vec<String> {
    let mut keys: Vec<String> = store
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingester_archives_into_s3_with_upstream_flags_and_the_server_serves_it_back() {
    let stack = Stack::get();
    let started = Instant::now();
    let count = 24;
    let topic = unique_name("alerts-s3");
    // The dead-letter topic too, so the ingester has every topic it may need.
    stack
        .create_topics(&[&topic, &format!("{topic}.dlq")], 2)
        .await
        .unwrap();
    let alerts_bucket = unique_name("alert-packets");
    let schemas_bucket = unique_name("alert-schemas");
    stack.create_s3_bucket(&alerts_bucket).await.unwrap();
    stack.create_s3_bucket(&schemas_bucket).await.unwrap();

    let (tree, schema) = latest_schema();
    let (schema_id, registry_schema) = register(&schema).await;
    let alerts = alerts(&tree, schema_id, count);

    let producer: FutureProducer = stack
        .kafka_plaintext()
        .client_config()
        .unwrap()
        .create()
        .unwrap();
    for (i, (_, message)) in alerts.iter().enumerate() {
        producer
            .send(
                FutureRecord::<(), [u8]>::to(&topic)
                    .partition(i as i32 % 2)
                    .payload(message),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }

    // Keys as object_store reads them from the environment, as in upstream's deployments.
    let aws = [
        ("AWS_ACCESS_KEY_ID", stack.s3_access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", stack.s3_secret_access_key.expose()),
        ("AWS_REGION", stack.s3_region.as_str()),
    ];
    let logs = tempfile::tempdir().unwrap();
    let ingester_port = free_port();
    let mut ingester = Daemon::start(
        "alertdb-ingester",
        &release_binary("alertdb-ingester"),
        &[
            "--kafka-host",
            &stack.kafka_plaintext,
            "--kafka-auth-mechanism",
            "none",
            "--kafka-topics",
            &topic,
            "--kafka-group",
            &unique_name("alertdb-ingester"),
            "--schema-registry-address",
            &stack.registry_url,
            "--bucket-alerts",
            &alerts_bucket,
            "--bucket-schemas",
            &schemas_bucket,
            "--endpoint-url",
            &stack.s3_endpoint,
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &ingester_port.to_string(),
        ],
        &aws,
        logs.path(),
    )
    .unwrap();
    let server_port = free_port();
    let mut server = Daemon::start(
        "alertdb-server",
        &release_binary("alertdb-server"),
        &[
            "--backend",
            "s3",
            "--bucket-alerts",
            &alerts_bucket,
            "--bucket-schemas",
            &schemas_bucket,
            "--endpoint-url",
            &stack.s3_endpoint,
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &server_port.to_string(),
        ],
        &aws,
        logs.path(),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{server_port}/alertdb");
    for url in [
        format!("http://127.0.0.1:{ingester_port}/readyz"),
        // The server's readiness reads its store (a HEAD of a key in the alerts bucket).
        format!("http://127.0.0.1:{server_port}/readyz"),
    ] {
        wait_http(&url, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{e:#}\ningester:\n{}\nserver:\n{}",
                    ingester.log_text(),
                    server.log_text()
                )
            });
    }

    // Every alert comes back as it was produced, once the ingester has archived it.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for (id, message) in &alerts {
        let url = format!("{base}/v1/alerts/{id}");
        let body = loop {
            let response = http.get(&url).send().await.unwrap();
            if response.status() == 200 {
                break response.bytes().await.unwrap();
            }
            assert_eq!(response.status(), 404, "{url}");
            assert!(
                Instant::now() < deadline,
                "alert {id} not served within 60 s\ningester:\n{}",
                ingester.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(body == message[..], "alert {id} differs");
    }
    let archived = started.elapsed();

    // What is in the buckets: the v2 layout, alerts and the schema each in their own bucket.
    let options = stack.s3_options();
    let alert_store = object_storage::open(&format!("s3://{alerts_bucket}"), &options).unwrap();
    let schema_store = object_storage::open(&format!("s3://{schemas_bucket}"), &options).unwrap();
    let mut expected: Vec<String> = alerts
        .iter()
        .map(|(id, _)| alert_key(Layout::V2, *id).to_string())
        .collect();
    expected.sort();
    assert_eq!(keys(&*alert_store).await, expected);
    let schema_object = schema_key(Layout::V2, schema_id);
    assert_eq!(keys(&*schema_store).await, vec![schema_object.to_string()]);
    for (id, message) in &alerts {
        // With Accept-Encoding: gzip the server sends the stored object as it is.
        let stored = alert_store
            .get(&alert_key(Layout::V2, *id))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(gunzip(&stored, 1 << 24).unwrap() == *message, "alert {id}");
        let response = http
            .get(format!("{base}/v1/alerts/{id}"))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], "gzip");
        assert!(
            response.bytes().await.unwrap() == stored,
            "alert {id}, gzip"
        );
    }

    // The schema: the registry's text, archived once, served as archived.
    let stored_schema = schema_store
        .get(&schema_object)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored_schema, registry_schema.as_bytes());
    let response = http
        .get(format!("{base}/v1/schemas/{schema_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), stored_schema);

    // A key that is in neither bucket is a 404, not a store error.
    for path in [
        "v1/alerts/1".to_owned(),
        format!("v1/schemas/{}", schema_id + 100_000),
    ] {
        let response = http.get(format!("{base}/{path}")).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }

    for daemon in [&mut ingester, &mut server] {
        let status = daemon.terminate(Duration::from_secs(30)).unwrap();
        assert!(status.success(), "{status}\n{}", daemon.log_text());
    }
    stack
        .delete_topics(&[&topic, &format!("{topic}.dlq")])
        .await
        .unwrap();
    eprintln!(
        "{count} alerts produced, archived into s3:// and served back in {:.1} s; test {:.1} s",
        archived.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
