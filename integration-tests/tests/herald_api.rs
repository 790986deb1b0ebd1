//! alertdb-server's Herald-compatible API (`/api/alerts`, issue 18) against the real stack,
//! read back with the clients astronomers use.
//!
//! Generated alerts of five schema versions (4.0, 6.1, 8.0, 9.0, 11.1) go through Kafka and
//! alertdb-ingester into a local archive, with their schemas from the schema registry; three
//! more are written by the test in the older layouts (v2 plain, v1 gzip, v1 plain). The server
//! serves that archive in-process, and `integration-tests/python/herald_check.py` reads every
//! answer with fastavro (the Avro file), astropy (FITS files and the DataLink VOTable, strictly)
//! and pyvo (the DataLink table from the server, following every access URL).

use alert_archive::{alert_candidates, alert_key, gzip, Layout};
use alert_packet::generate::{AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::tree::{SchemaTree, SchemaVersion};
use alertdb_ingester::settings::Settings as IngesterSettings;
use alertdb_server::ServerConfig;
use integration_tests::{register_alert_schema, repo_root, schema_tree, unique_name, Stack};
use object_storage::object_store::{ObjectStoreExt, PutPayload};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const VERSIONS: [(u32, u32); 5] = [(4, 0), (6, 1), (8, 0), (9, 0), (11, 1)];
const PER_VERSION: usize = 2;

/// `PER_VERSION` framed alerts of `version` with ids from `first_id`: small histories, cutouts
/// of ~16×16 pixels, some optional fields null.
fn alerts(
    tree: &SchemaTree,
    version: (u32, u32),
    schema_id: u32,
    first_id: i64,
) -> Vec<(u64, Vec<u8>)> {
    let schema = tree.get(SchemaVersion::new(version.0, version.1)).unwrap();
    let mut generator = AlertGenerator::new(
        Arc::clone(&schema.schema),
        GeneratorConfig {
            seed: first_id as u64,
            prv_sources: 4,
            prv_forced_sources: 3,
            cutout_bytes: Some(4_000),
            null_one_in: 6,
        },
    )
    .unwrap();
    let spec = VisitSpec {
        alerts: PER_VERSION,
        first_alert_id: first_id,
        ..VisitSpec::default()
    };
    let mut rng = SplitMix64::new(first_id as u64);
    (0..PER_VERSION)
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

async fn ingest(topic: &str, dir: &Path, messages: &[Vec<u8>], ids: &[u64]) {
    let stack = Stack::get();
    let mut config = stack.kafka_plaintext().client_config().unwrap();
    config.set("linger.ms", "5");
    let producer: FutureProducer = config.create().unwrap();
    for message in messages {
        producer
            .send(
                FutureRecord::<(), [u8]>::to(topic).payload(&message[..]),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    let url = format!("file://{}", dir.display());
    let settings = IngesterSettings {
        listen: service_kit::settings::ListenSettings::new("127.0.0.1", 0),
        store: object_storage::StoreSettings {
            alerts_url: Some(url.clone()),
            schemas_url: Some(url),
            ..object_storage::StoreSettings::default()
        },
        topics: vec![topic.to_owned()],
        group: unique_name("herald-ingester"),
        kafka: stack.kafka_plaintext(),
        schema_registry_address: Some(stack.registry_url.clone()),
        commit_interval: service_kit::settings::DurationSetting(Duration::from_millis(200)),
        create_dlq_topic: true,
        ..IngesterSettings::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(alertdb_ingester::run(
        settings.validate().unwrap(),
        listener,
        shutdown.clone(),
    ));
    let started = Instant::now();
    for id in ids {
        let path = dir.join(alert_key(Layout::V2, *id).as_ref());
        while !path.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "alert {id} not archived after 120 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the ingester stops")
        .unwrap()
        .unwrap();
}

struct Answer {
    status: u16,
    content_type: String,
    disposition: String,
    body: bytes::Bytes,
}

async fn get(http: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = http.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    Answer {
        status: response.status().as_u16(),
        content_type: header("content-type"),
        disposition: header("content-disposition"),
        body: response.bytes().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_reads_back_with_fastavro_astropy_and_pyvo() {
    let stack = Stack::get();
    let tree = schema_tree();
    let archive = tempfile::tempdir().unwrap();
    let topic = unique_name("herald");
    stack.create_topics(&[&topic], 1).await.unwrap();

    // Five schema versions through Kafka and the ingester.
    let mut archived: Vec<(u64, Vec<u8>)> = Vec::new();
    for (n, version) in VERSIONS.iter().enumerate() {
        let schema_id = register_alert_schema(*version, "herald").await;
        archived.extend(alerts(
            tree,
            *version,
            schema_id,
            180_000_000_000_000 + n as i64 * 1_000,
        ));
    }
    let messages: Vec<Vec<u8>> = archived.iter().map(|(_, m)| m.clone()).collect();
    let ids: Vec<u64> = archived.iter().map(|(id, _)| *id).collect();
    ingest(&topic, archive.path(), &messages, &ids).await;

    // The older layouts, with alerts of the first and last versions under new ids.
    let store = object_storage::open(
        &format!("file://{}", archive.path().display()),
        &Default::default(),
    )
    .unwrap();
    for (n, (source, candidate)) in [(0usize, 1usize), (archived.len() - 1, 2), (1, 3)]
        .into_iter()
        .enumerate()
    {
        let id = 181_000_000_000_000 + n as u64;
        let frame = alert_packet::wire::unframe(&archived[source].1).unwrap();
        let mut body = Vec::new();
        alert_packet::alert::replace_id(frame.body, id as i64, &mut body).unwrap();
        let message = alert_packet::wire::frame(frame.schema_id, &body);
        let (key, encoding) = alert_candidates(id)[candidate].clone();
        let bytes = match encoding {
            alert_archive::Encoding::Gzip => gzip(&message, 6),
            alert_archive::Encoding::Plain => message.clone(),
        };
        store.put(&key, PutPayload::from(bytes)).await.unwrap();
        archived.push((id, message));
    }

    // The server, with the /alertdb prefix too.
    let mut config = ServerConfig::for_url(&format!("file://{}", archive.path().display()));
    config.path_prefix = Some("/alertdb".into());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(alertdb_server::run(config, listener, shutdown.clone()));
    let http = reqwest::Client::new();
    let root = format!("http://{address}");

    let out = tempfile::tempdir().unwrap();
    let schemas_dir = archive.path().join("v2/schemas");
    let mut entries = Vec::new();
    for (i, (id, message)) in archived.iter().enumerate() {
        // Half through the /alertdb prefix, half at the root.
        let path = if i.is_multiple_of(2) {
            "/api/alerts"
        } else {
            "/alertdb/api/alerts"
        };
        let base = format!("{root}{path}");
        let save = |name: &str, bytes: &[u8]| {
            let file = out.path().join(format!("{id}.{name}"));
            std::fs::write(&file, bytes).unwrap();
            file.display().to_string()
        };
        let wire = save("wire", message);
        let schema_id = alert_packet::wire::unframe(message).unwrap().schema_id;

        let avro = get(&http, &format!("{base}?ID={id}"), &[]).await;
        assert_eq!(avro.status, 200, "{}", String::from_utf8_lossy(&avro.body));
        assert_eq!(avro.content_type, "application/x-avro-ocf");
        assert_eq!(
            avro.disposition,
            format!("attachment; filename=\"alert-{id}.avro\"")
        );
        // Parameter names in any case, the IAU form of the id.
        let json = get(
            &http,
            &format!("{base}?id=LSST-AP-DS-{id}&responseFormat=application/json"),
            &[],
        )
        .await;
        assert_eq!(json.status, 200);
        assert_eq!(json.content_type, "application/json");
        let fits = get(&http, &format!("{base}?ID={id}&RESPONSEFORMAT=fits"), &[]).await;
        assert_eq!(fits.status, 200, "{}", String::from_utf8_lossy(&fits.body));
        assert_eq!(fits.content_type, "application/fits");
        assert_eq!(
            fits.disposition,
            format!("attachment; filename=\"alert-{id}.fits\"")
        );
        let cutouts = get(&http, &format!("{base}/cutouts?ID={id}"), &[]).await;
        assert_eq!(cutouts.status, 200);
        assert_eq!(
            cutouts.disposition,
            format!("attachment; filename=\"cutouts-{id}.fits\"")
        );
        let schema = get(&http, &format!("{base}/schema?ID={id}"), &[]).await;
        assert_eq!(schema.status, 200);
        assert_eq!(schema.content_type, "application/json");
        // Links as a proxy would ask for them: the public URL from the forwarded headers.
        let links = get(
            &http,
            &format!("{root}/api/alerts/links?ID={id}"),
            &[
                ("x-forwarded-proto", "http"),
                ("x-forwarded-host", &address.to_string()),
                ("x-forwarded-prefix", "/alertdb"),
            ],
        )
        .await;
        assert_eq!(links.status, 200);
        assert_eq!(links.content_type, "application/x-votable+xml");
        let text = String::from_utf8(links.body.to_vec()).unwrap();
        assert!(
            text.contains(&format!(
                "<TD>http://{address}/alertdb/api/alerts?ID={id}&amp;RESPONSEFORMAT=fits</TD>"
            )),
            "{text}"
        );

        entries.push(serde_json::json!({
            "id": id,
            "wire": wire,
            "schema": schemas_dir.join(format!("{schema_id}.json")).display().to_string(),
            "avro": save("avro", &avro.body),
            "json": save("json", &json.body),
            "fits": save("fits", &fits.body),
            "cutouts": save("cutouts.fits", &cutouts.body),
            "schema_answer": save("schema.json", &schema.body),
            "links": save("links.xml", &links.body),
            // pyvo asks the server itself, with no forwarded headers.
            "links_url": format!("{base}/links?ID={id}"),
            "expected_base": base,
        }));
    }
    let manifest = out.path().join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::to_vec(&serde_json::json!({ "alerts": entries })).unwrap(),
    )
    .unwrap();
    let output = tokio::process::Command::new(&stack.python)
        .arg(repo_root().join("integration-tests/python/herald_check.py"))
        .arg(&manifest)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    eprintln!("herald_check: {summary}");
    assert_eq!(summary["alerts"], archived.len());
    assert_eq!(
        summary["versions"].as_array().unwrap().len(),
        VERSIONS.len()
    );
    assert!(summary["cutouts"].as_u64().unwrap() >= archived.len() as u64);
    // Four links per alert, each followed.
    assert_eq!(summary["links_followed"], 4 * archived.len());

    // Bad input over HTTP: Herald's statuses and words, as plain text.
    let (id, _) = &archived[0];
    let api = format!("{root}/api/alerts");
    for (query, status, words) in [
        (
            format!("?ID={id}&foo=bar"),
            400,
            "Invalid parameter 'foo' in query string '?ID=",
        ),
        (
            "?ID=not-a-number".to_owned(),
            400,
            "Invalid alert ID format in 'not-a-number'",
        ),
        (
            "?ID=LSST-OTHER-1".to_owned(),
            400,
            "Non-LSST alert ID 'LSST-OTHER-1'",
        ),
        (
            format!("?ID={id}&RESPONSEFORMAT=text/html"),
            415,
            "Invalid response format 'text/html'",
        ),
        ("?ID=1".to_owned(), 404, "No data found for alert ID '1'"),
        (
            format!("?ID={}", "9".repeat(40)),
            404,
            "No data found for alert ID '9999",
        ),
        (
            format!("?ID={}", "9".repeat(4301)),
            400,
            "Invalid alert ID format",
        ),
        (
            "?ID=%E2%91%A0".to_owned(),
            400,
            "Invalid alert ID format in '①'",
        ),
        (
            "/cutouts?ID=1&RESPONSEFORMAT=fits".to_owned(),
            400,
            "Invalid parameter 'RESPONSEFORMAT'",
        ),
        (
            "/schema?ID=-5".to_owned(),
            404,
            "No data found for alert ID '-5'",
        ),
    ] {
        let answer = get(&http, &format!("{api}{query}"), &[]).await;
        let body = String::from_utf8_lossy(&answer.body);
        assert_eq!(answer.status, status, "{query}: {body}");
        assert_eq!(answer.content_type, "text/plain; charset=utf-8", "{query}");
        assert!(body.contains(words), "{query}: {body}");
    }
    // Digits of another script name the same alert (Python's int() reads them); the last of
    // repeated IDs wins.
    let fullwidth: String = id
        .to_string()
        .chars()
        .map(|c| char::from_u32(0xFF10 + c.to_digit(10).unwrap()).unwrap())
        .collect();
    let answer = get(
        &http,
        &format!("{api}?ID={fullwidth}&RESPONSEFORMAT=json"),
        &[],
    )
    .await;
    assert_eq!(answer.status, 200);
    let answer = get(&http, &format!("{api}?ID=1&id={id}"), &[]).await;
    assert_eq!(answer.status, 200);
    let missing = get(&http, &format!("{api}?RESPONSEFORMAT=json"), &[]).await;
    assert_eq!(missing.status, 422);
    let index = get(&http, &format!("{api}/"), &[]).await;
    assert_eq!(index.status, 200);
    let index: serde_json::Value = serde_json::from_slice(&index.body).unwrap();
    assert_eq!(index["metadata"]["name"], "alertdb-server");

    shutdown.cancel();
    server.await.unwrap().unwrap();
}
