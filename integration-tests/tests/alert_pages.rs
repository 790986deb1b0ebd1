//! alertdb-server's pages for people (issue 20) in a real browser.
//!
//! Generated v11.1 alerts (histories in several bands, 37×37-pixel cutouts, some optional
//! fields null) go through Kafka and alertdb-ingester into a local archive, the server serves
//! it in-process under `/alertdb`, and `integration-tests/python/pages_check.py` opens the
//! pages in Debian's headless Chromium through chromedriver (selenium): the cutout images
//! load, the light curve has a point per history row of each band, the fields on the page are
//! the alert's, and the cutout PNGs match astropy's zscale + asinh rendering. Screenshots are
//! kept in `target/test-artefacts/alert-pages/` (and copied to `docs/screenshots/` with
//! `ALERTDIST_UPDATE_SCREENSHOTS=1`).
//!
//! The alerts are three detections of one object on three nights, so the ingester's index
//! (issue 19) lists them and the object page merges them: its light curve must have one point
//! per distinct plottable row of the three alerts (a source in several histories once), its
//! table the three alerts, and the newest alert's cutouts must load. A server started with
//! `--no-index` must answer the object page with 501 and a page saying so.

use alert_archive::{alert_key, Layout};
use alert_packet::generate::{
    AlertContext, AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec,
};
use alert_packet::tree::{SchemaTree, SchemaVersion};
use alertdb_ingester::settings::Settings as IngesterSettings;
use alertdb_server::ServerConfig;
use integration_tests::{register_alert_schema, repo_root, schema_tree, unique_name, Stack};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const ALERTS: usize = 3;

/// Framed v11.1 alerts of one object on consecutive nights: 20 earlier detections, 20 forced
/// points, default-size cutouts.
fn alerts(tree: &SchemaTree, schema_id: u32, first_id: i64) -> Vec<(u64, Vec<u8>)> {
    let schema = tree.get(SchemaVersion::new(11, 1)).unwrap();
    let mut generator = AlertGenerator::new(
        Arc::clone(&schema.schema),
        GeneratorConfig {
            seed: first_id as u64,
            prv_sources: 20,
            prv_forced_sources: 20,
            null_one_in: 6,
            ..GeneratorConfig::default()
        },
    )
    .unwrap();
    let spec = VisitSpec {
        alerts: ALERTS,
        first_alert_id: first_id,
        ..VisitSpec::default()
    };
    let mut rng = SplitMix64::new(first_id as u64);
    (0..ALERTS)
        .map(|i| {
            let first = spec.context(0, &mut rng);
            let context = AlertContext {
                alert_id: first.alert_id + i as i64,
                visit: first.visit + i as i64 * 1000,
                mjd: first.mjd + i as f64,
                ..first
            };
            let body = generator.alert_body(&context);
            (
                context.alert_id as u64,
                alert_packet::wire::frame(schema_id, &body),
            )
        })
        .collect()
}

async fn ingest(topic: &str, dir: &Path, messages: &[(u64, Vec<u8>)]) {
    let stack = Stack::get();
    let mut config = stack.kafka_plaintext().client_config().unwrap();
    config.set("linger.ms", "5");
    let producer: FutureProducer = config.create().unwrap();
    for (_, message) in messages {
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
        group: unique_name("pages-ingester"),
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
    for (id, _) in messages {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_and_object_pages_in_headless_chromium() {
    // Fail, never skip, when the browser is missing: the install scripts provide it.
    for tool in ["chromium", "chromedriver"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "{tool} is not installed: run scripts/install/apt.sh (Debian packages chromium and \
             chromium-driver), or scripts/test.sh, which installs everything"
        );
    }
    let stack = Stack::get();
    let tree = schema_tree();
    let archive = tempfile::tempdir().unwrap();
    let topic = unique_name("pages");
    stack.create_topics(&[&topic], 1).await.unwrap();
    let schema_id = register_alert_schema((11, 1), "pages").await;
    let archived = alerts(tree, schema_id, 182_000_000_000_000);
    ingest(&topic, archive.path(), &archived).await;

    let url = format!("file://{}", archive.path().display());
    let mut config = ServerConfig::for_url(&url);
    config.path_prefix = Some("/alertdb".into());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(alertdb_server::run(config, listener, shutdown.clone()));
    // The same archive served with --no-index: the object page must say the index is off.
    let mut config = ServerConfig::for_url(&url);
    config.index = None;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let no_index_address = listener.local_addr().unwrap();
    let no_index = tokio::spawn(alertdb_server::run(config, listener, shutdown.clone()));

    let artefacts = repo_root().join("target/test-artefacts/alert-pages");
    std::fs::create_dir_all(&artefacts).unwrap();
    // The generator's object of the first alert (`VisitSpec::context`: first id / 2).
    let object_id = 182_000_000_000_000i64 / 2;
    // The ingester flushed its index rows when it stopped, so the index is complete. It lists
    // the alerts whose diaSource names the object (the generator leaves one optional field in
    // six null, diaSource.diaObjectId too): the object page must show exactly those.
    let answer = reqwest::get(format!("http://{address}/v1/objects/{object_id}/alerts"))
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    let body: serde_json::Value = answer.json().await.unwrap();
    let object_alerts: Vec<u64> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alertId"].as_u64().unwrap())
        .collect();
    assert!(
        object_alerts.len() >= 2,
        "the index lists {object_alerts:?} for object {object_id}: too few to merge"
    );
    let manifest = serde_json::json!({
        "root": format!("http://{address}/alertdb"),
        "alerts": archived.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        "object_id": object_id,
        "object_alerts": object_alerts,
        "object_status": 200,
        "no_index_root": format!("http://{no_index_address}"),
        "artefacts": artefacts.display().to_string(),
    });
    let manifest_path = archive.path().join("pages-manifest.json");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let output = tokio::process::Command::new(&stack.python)
        .arg(repo_root().join("integration-tests/python/pages_check.py"))
        .arg(&manifest_path)
        .output()
        .await
        .unwrap();
    shutdown.cancel();
    server.await.unwrap().unwrap();
    no_index.await.unwrap().unwrap();
    assert!(
        output.status.success(),
        "pages_check.py failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    eprintln!(
        "pages_check: {summary}; screenshots in {}",
        artefacts.display()
    );
    assert_eq!(summary["alerts"], ALERTS);
    // Three cutouts on each alert page and on the object page (the newest alert's).
    assert_eq!(summary["images"], 3 * (ALERTS + 1));
    assert_eq!(summary["object_status"], 200);
    assert_eq!(summary["object_alerts"], object_alerts.len());
    assert_eq!(summary["no_index_status"], 501);
    // Every alert has a source and some history: more points than alerts.
    assert!(summary["points"].as_u64().unwrap() > ALERTS as u64);
    assert!(summary["rows"].as_u64().unwrap() > 100 * ALERTS as u64);
    // 37×37 cutouts: three per alert (asinh), and linear and log too on the first.
    assert_eq!(summary["png_pixels"], 37 * 37 * 3 * (ALERTS + 2));
    for name in [
        "alert-page.png",
        "alert-page-phone.png",
        "object-page.png",
        "object-page-no-index.png",
    ] {
        let file = artefacts.join(name);
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(bytes.starts_with(b"\x89PNG"), "{name} is not a PNG");
        if std::env::var_os("ALERTDIST_UPDATE_SCREENSHOTS").is_some() {
            let docs = repo_root().join("docs/screenshots");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::copy(&file, docs.join(name)).unwrap();
        }
    }
}
