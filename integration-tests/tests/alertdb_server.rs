//! alertdb-server over real HTTP, started in-process on port 0, against local files and
//! fake-gcs-server (alerts and schemas in separate buckets), with objects written the way the
//! ingester writes them (v2, gzip) and the way the older layouts did (v1, plain `.avro`).

use alert_archive::{alert_candidates, alert_key, gzip, schema_key, Layout};
use alert_packet::generate::{AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::tree::{locate_with_python, SchemaTree};
use alert_packet::wire;
use alertdb_server::ServerConfig;
use integration_tests::daemon::InProcessDaemon;
use integration_tests::{repo_root, unique_name, Stack};
use object_storage::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use object_storage::StoreOptions;
use serde_json::Value as Json;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Realistic alerts of the latest schema, and that schema's stored text.
struct Corpus {
    schema_id: u32,
    schema_text: String,
    older_schema_id: u32,
    older_schema_text: String,
    /// (alert id, wire-format message, how it is stored)
    alerts: Vec<(u64, Vec<u8>, Stored)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stored {
    V2Gzip,
    V2Plain,
    V1Gzip,
    V1Plain,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = locate_with_python(&Stack::get().python).expect("lsst-alert-packet in the venv");
        let tree = SchemaTree::load(&dir).expect("schema tree");
        let latest = tree.latest();
        let schema_id = latest.version.registry_id();
        let older = tree
            .versions()
            .filter(|v| v.version != latest.version)
            .last()
            .expect("more than one schema version");
        let mut generator = AlertGenerator::new(
            Arc::clone(&latest.schema),
            GeneratorConfig {
                seed: 6,
                ..GeneratorConfig::default()
            },
        )
        .unwrap();
        let spec = VisitSpec {
            alerts: 4,
            ..VisitSpec::default()
        };
        let mut rng = SplitMix64::new(6);
        let kinds = [
            Stored::V2Gzip,
            Stored::V2Plain,
            Stored::V1Gzip,
            Stored::V1Plain,
        ];
        let alerts = kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let context = spec.context(i, &mut rng);
                let body = generator.alert_body(&context);
                (
                    context.alert_id as u64,
                    wire::frame(schema_id, &body),
                    *kind,
                )
            })
            .collect();
        Corpus {
            schema_id,
            schema_text: latest.schema.to_json().to_string(),
            older_schema_id: older.version.registry_id(),
            older_schema_text: older.schema.to_json().to_string(),
            alerts,
        }
    })
}

async fn populate(alerts: &dyn ObjectStore, schemas: &dyn ObjectStore) {
    let c = corpus();
    schemas
        .put(
            &schema_key(Layout::V2, c.schema_id),
            PutPayload::from(c.schema_text.clone().into_bytes()),
        )
        .await
        .unwrap();
    schemas
        .put(
            &schema_key(Layout::V1, c.older_schema_id),
            PutPayload::from(c.older_schema_text.clone().into_bytes()),
        )
        .await
        .unwrap();
    for (id, message, stored) in &c.alerts {
        let candidates = alert_candidates(*id);
        let (key, bytes) = match stored {
            Stored::V2Gzip => (alert_key(Layout::V2, *id), gzip(message, 6)),
            Stored::V2Plain => (candidates[1].0.clone(), message.clone()),
            Stored::V1Gzip => (alert_key(Layout::V1, *id), gzip(message, 6)),
            Stored::V1Plain => (candidates[3].0.clone(), message.clone()),
        };
        alerts.put(&key, PutPayload::from(bytes)).await.unwrap();
    }
}

/// The server in-process; its `run` error type.
type Server = InProcessDaemon<alertdb_server::RunError>;

async fn start(config: ServerConfig) -> Server {
    InProcessDaemon::start("alertdb-server", |listener, shutdown| {
        alertdb_server::run(config, listener, shutdown)
    })
    .await
}

fn fastavro_json(schema_text: &str, message: &[u8]) -> Json {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    let alert = dir.path().join("alert.avro");
    std::fs::write(&schema, schema_text).unwrap();
    std::fs::write(&alert, message).unwrap();
    let output = std::process::Command::new(&Stack::get().python)
        .arg(repo_root().join("integration-tests/python/alertdb_fastavro_json.py"))
        .arg(&schema)
        .arg(&alert)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Everything a client can observe, for one running server over a populated store.
async fn exercise(server: &Server, prefix: &str) {
    let c = corpus();
    let health = server.get_with(&format!("{prefix}/v1/health"), &[]).await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "OK");

    for (id, message, stored) in &c.alerts {
        let path = format!("{prefix}/v1/alerts/{id}");
        // Without gzip: the wire bytes.
        let plain = server.get_with(&path, &[]).await;
        assert_eq!(plain.status(), 200, "{stored:?}");
        assert_eq!(plain.headers()["content-type"], "application/octet-stream");
        assert_eq!(
            plain.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(plain.headers().get("content-encoding").is_none());
        assert_eq!(
            plain.bytes().await.unwrap(),
            message.as_slice(),
            "{stored:?}"
        );
        // With gzip: the stored object as it is when it is gzip; same bytes once decoded.
        let gz = server.get_with(&path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(gz.status(), 200);
        let encoded = gz
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        let etag = gz.headers()["etag"].to_str().unwrap().to_owned();
        let body = gz.bytes().await.unwrap();
        match stored {
            Stored::V2Gzip | Stored::V1Gzip => {
                assert_eq!(encoded.as_deref(), Some("gzip"));
                assert_eq!(
                    body.as_ref(),
                    gzip(message, 6),
                    "the stored object, untouched"
                );
                assert_eq!(alert_archive::gunzip(&body, 1 << 24).unwrap(), *message);
            }
            Stored::V2Plain | Stored::V1Plain => {
                assert_eq!(encoded, None);
                assert_eq!(body.as_ref(), message.as_slice());
            }
        }
        let again = server
            .get_with(
                &path,
                &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
            )
            .await;
        assert_eq!(again.status(), 304);
        let head = reqwest::Client::new()
            .head(server.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(
            head.headers()["content-length"],
            message.len().to_string().as_str()
        );
    }

    // Decoded JSON equals fastavro's reading of the same bytes with the stored schema.
    let (id, message, _) = &c.alerts[0];
    let ours: Json = server
        .get_with(&format!("{prefix}/v1/alerts/{id}?format=json"), &[])
        .await
        .json()
        .await
        .unwrap();
    let theirs = fastavro_json(&c.schema_text, message);
    assert!(ours == theirs, "format=json differs from fastavro");

    // Cutouts: the FITS bytes of the decoded fields.
    for (kind, field) in [
        ("difference", "cutoutDifference"),
        ("science", "cutoutScience"),
        ("template", "cutoutTemplate"),
    ] {
        let answer = server
            .get_with(&format!("{prefix}/v1/alerts/{id}/cutouts/{kind}"), &[])
            .await;
        match theirs[field].as_str() {
            Some(b64) => {
                assert_eq!(answer.status(), 200, "{kind}");
                assert_eq!(answer.headers()["content-type"], "application/fits");
                let fits = answer.bytes().await.unwrap();
                use base64::Engine as _;
                assert_eq!(
                    fits.as_ref(),
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap()
                );
            }
            None => assert_eq!(answer.status(), 404, "{kind}"),
        }
    }

    // Schemas, in both layouts.
    for (schema_id, text) in [
        (c.schema_id, &c.schema_text),
        (c.older_schema_id, &c.older_schema_text),
    ] {
        let answer = server
            .get_with(&format!("{prefix}/v1/schemas/{schema_id}"), &[])
            .await;
        assert_eq!(answer.status(), 200);
        assert_eq!(
            answer.headers()["content-type"],
            "application/vnd.schemaregistry.v1+json"
        );
        let etag = answer.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(answer.text().await.unwrap(), *text);
        let again = server
            .get_with(
                &format!("{prefix}/v1/schemas/{schema_id}"),
                &[("if-none-match", &etag)],
            )
            .await;
        assert_eq!(again.status(), 304);
    }

    for (path, status, detail) in [
        ("/v1/alerts/1", 404, "alert not found"),
        ("/v1/schemas/1", 404, "schema not found"),
        ("/v1/unknown", 404, "Not Found"),
    ] {
        let answer = server.get_with(&format!("{prefix}{path}"), &[]).await;
        assert_eq!(answer.status(), status, "{path}");
        let body: Json = answer.json().await.unwrap();
        assert_eq!(body, serde_json::json!({ "detail": detail }), "{path}");
    }
}

/// Raw requests that a client library would refuse to send.
async fn hostile_requests(server: &Server) {
    let raw = |request: Vec<u8>| async move {
        let mut stream = tokio::net::TcpStream::connect(server.address())
            .await
            .unwrap();
        stream.write_all(&request).await.unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        String::from_utf8_lossy(&response).into_owned()
    };
    for target in [
        "/v1/alerts/..%2f..%2fsecret",
        "/v1/alerts/%2e%2e",
        "/v1/schemas/1%2f..",
        "/v1/alerts/1%00",
    ] {
        let response = raw(format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .into_bytes())
        .await;
        assert!(response.starts_with("HTTP/1.1 400"), "{target}: {response}");
    }
    for target in ["/v1/alerts/../../etc/passwd", "/../v1/health/x"] {
        let response = raw(format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .into_bytes())
        .await;
        assert!(response.starts_with("HTTP/1.1 404"), "{target}: {response}");
    }
    let huge = "a".repeat(1 << 20);
    let response = raw(format!(
        "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Huge: {huge}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes())
    .await;
    assert!(
        response.starts_with("HTTP/1.1 431"),
        "{}",
        &response[..response.len().min(200)]
    );
    let response =
        raw(b"DELETE /v1/alerts/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec()).await;
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("allow: get,head"),
        "{response}"
    );
}

#[tokio::test]
async fn serves_local_files_in_every_layout() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let store = object_storage::open(&url, &StoreOptions::default()).unwrap();
    populate(store.as_ref(), store.as_ref()).await;
    let mut config = ServerConfig::for_url(&url);
    config.path_prefix = Some("/alertdb".into());
    let server = start(config).await;
    exercise(&server, "").await;
    exercise(&server, "/alertdb").await;
    hostile_requests(&server).await;
    let ready = server.get_with("/readyz", &[]).await;
    assert_eq!(ready.status(), 200);
    server.stop().await.expect("serves without error");
}

#[tokio::test]
async fn serves_fake_gcs_with_separate_buckets() {
    let stack = Stack::get();
    let alerts_bucket = unique_name("alertdb-alerts");
    let schemas_bucket = unique_name("alertdb-schemas");
    stack.create_gcs_bucket(&alerts_bucket).await.unwrap();
    stack.create_gcs_bucket(&schemas_bucket).await.unwrap();
    let options = StoreOptions {
        gcs_service_account_path: Some(stack.gcs_service_account.clone()),
        ..StoreOptions::default()
    };
    let alerts_url = format!("gs://{alerts_bucket}");
    let schemas_url = format!("gs://{schemas_bucket}/archive");
    let alerts = object_storage::open(&alerts_url, &options).unwrap();
    let schemas = object_storage::open(&schemas_url, &options).unwrap();
    populate(alerts.as_ref(), schemas.as_ref()).await;
    let mut config = ServerConfig::for_url(&alerts_url);
    config.schemas_url = schemas_url;
    config.store = options;
    config.alert_cache_bytes = Some(8 << 20);
    let server = start(config).await;
    exercise(&server, "").await;
    // Twice: the second pass is served from the caches and must not differ.
    exercise(&server, "").await;
    hostile_requests(&server).await;
    server.stop().await.expect("serves without error");
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let store = object_storage::open(&url, &StoreOptions::default()).unwrap();
    populate(store.as_ref(), store.as_ref()).await;
    let server = start(ServerConfig::for_url(&url)).await;
    let (id, message, _) = &corpus().alerts[0];
    // A slow reader: the response is in flight when shutdown starts.
    let mut stream = tokio::net::TcpStream::connect(server.address())
        .await
        .unwrap();
    stream
        .write_all(
            format!("GET /v1/alerts/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    server.cancel();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200"));
    assert!(response.ends_with(message), "whole body delivered");
    let address = server.address();
    server
        .stop_within(std::time::Duration::from_secs(10))
        .await
        .unwrap();
    // New connections are refused once it stopped.
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
}

#[tokio::test]
async fn the_binary_explains_bad_settings_and_stops_on_sigterm() {
    let binary = integration_tests::service_binary("alertdb-server");
    for (args, needle) in [
        (vec![], "--alerts-url"),
        (vec!["--backend", "azure"], "azure"),
        (vec!["--alerts-url", "ftp://x"], "ftp"),
        (
            vec!["--alerts-url", "memory://", "--path-prefix", "x"],
            "--path-prefix",
        ),
        (vec!["--listen-port", "http"], "--listen-port"),
    ] {
        let output = std::process::Command::new(&binary)
            .args(&args)
            .env("LOG_FORMAT", "text")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = tokio::process::Command::new(&binary)
        .args([
            "--alerts-url",
            "memory://",
            "--listen-port",
            &port.to_string(),
        ])
        .env("LOG_FORMAT", "text")
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/alertdb/v1/health");
    let mut healthy = false;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(&url).await {
            healthy = response.status() == 200;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(healthy, "the binary serves {url}");
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("stopped on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
