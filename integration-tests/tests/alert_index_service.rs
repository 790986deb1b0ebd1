//! The alert index (issue 19) end to end against the real stack: alerts of several schema
//! versions through Kafka and alertdb-ingester into a local archive and its index table, the
//! server's three queries in JSON, CSV and Parquet, two ingesters of one group writing the
//! table at once, a crash before a flush, and `rebuild-index` over an archive written without
//! the index. Each test owns its topics, group and directories. The server's answers are also
//! compared with what delta-rs (Python `deltalake`) and DuckDB read from the same table
//! (`integration-tests/python/index_server_check.py`). The table's own interop and racing
//! writers on GCS and S3 are in `alert_index.rs`.
//!
//! Expected rows are computed from the produced messages themselves, independently of the
//! table: each alert's diaSource fields are decoded here with `alert_packet` by name.

use alert_packet::generate::{AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::tree::SchemaVersion;
use alert_packet::value::Value;
use alertdb_ingester::settings::{IngesterConfig, Settings};
use integration_tests::daemon::InProcessDaemon;
use integration_tests::{
    register_alert_schema, repo_root, schema_tree, service_binary, unique_name, Stack,
};
use object_storage::object_store::ObjectStore;
use object_storage::StoreSettings;
use rdkafka::producer::{FutureProducer, FutureRecord};
use service_kit::settings::{DurationSetting, ListenSettings};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Alerts and what the index must say about them

/// What the index must hold for one alert, read from the alert by field name.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    alert_id: i64,
    dia_object_id: Option<i64>,
    mjd_tai: f64,
    ra: f64,
    dec: f64,
    schema_id: u32,
}

fn field<'a>(
    schema: &alert_packet::Schema,
    record_node: usize,
    values: &'a [Value],
    names: &[&str],
) -> Option<&'a Value> {
    let alert_packet::schema::Node::Record(record) = schema.node(record_node) else {
        return None;
    };
    let index = record
        .fields
        .iter()
        .position(|f| names.contains(&f.name.as_str()))?;
    let mut value = values.get(index)?;
    while let Value::Union(_, inner) = value {
        value = inner;
    }
    Some(value)
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Double(v) => Some(*v),
        Value::Float(v) => Some(f64::from(*v)),
        _ => None,
    }
}

fn expected(version: (u32, u32), value: &[u8]) -> Expected {
    let schema = &schema_tree()
        .get(SchemaVersion::new(version.0, version.1))
        .unwrap()
        .schema;
    let frame = alert_packet::wire::unframe(value).unwrap();
    let Value::Record(alert) = alert_packet::value::decode(schema, frame.body).unwrap() else {
        panic!("an alert is a record")
    };
    let root = schema.root();
    let alert_packet::schema::Node::Record(record) = schema.node(root) else {
        panic!()
    };
    let source_index = record
        .fields
        .iter()
        .position(|f| f.name == "diaSource")
        .unwrap();
    let mut source_node = record.fields[source_index].schema;
    if let alert_packet::schema::Node::Union(branches) = schema.node(source_node) {
        source_node = *branches
            .iter()
            .find(|b| matches!(schema.node(**b), alert_packet::schema::Node::Record(_)))
            .unwrap();
    }
    let mut source = &alert[source_index];
    while let Value::Union(_, inner) = source {
        source = inner;
    }
    let Value::Record(source) = source else {
        panic!("diaSource is a record")
    };
    let Value::Long(alert_id) = alert[0] else {
        panic!("the first field is the id")
    };
    Expected {
        alert_id,
        dia_object_id: match field(schema, source_node, source, &["diaObjectId"]) {
            Some(Value::Long(id)) => Some(*id),
            _ => None,
        },
        mjd_tai: number(field(
            schema,
            source_node,
            source,
            &["midpointMjdTai", "midPointTai"],
        ))
        .unwrap(),
        ra: number(field(schema, source_node, source, &["ra"])).unwrap(),
        dec: number(field(schema, source_node, source, &["dec", "decl"])).unwrap(),
        schema_id: frame.schema_id,
    }
}

/// `count` framed alerts of `version` with ids from `first_id`: small (a few KB), eight
/// distinct diaSources (so objects have several alerts each), spread over the visit's field.
fn alerts(
    version: (u32, u32),
    schema_id: u32,
    first_id: i64,
    count: usize,
) -> Vec<(Expected, Vec<u8>)> {
    let schema = schema_tree()
        .get(SchemaVersion::new(version.0, version.1))
        .unwrap();
    let mut generator = AlertGenerator::new(
        Arc::clone(&schema.schema),
        GeneratorConfig {
            seed: first_id as u64,
            prv_sources: 2,
            prv_forced_sources: 2,
            cutout_bytes: Some(128),
            null_one_in: 0,
        },
    )
    .unwrap();
    let spec = VisitSpec {
        alerts: count,
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
            let value = alert_packet::wire::frame(schema_id, &body);
            (expected(version, &value), value)
        })
        .collect()
}

async fn produce(topic: &str, partitions: i32, values: &[Vec<u8>]) {
    let mut config = Stack::get().kafka_plaintext().client_config().unwrap();
    config.set("linger.ms", "5");
    let producer: FutureProducer = config.create().unwrap();
    let sends = values.iter().enumerate().map(|(i, value)| {
        producer.send(
            FutureRecord::<(), [u8]>::to(topic)
                .partition(i as i32 % partitions)
                .payload(&value[..]),
            Duration::from_secs(30),
        )
    });
    for result in futures::future::join_all(sends).await {
        result.map_err(|(e, _)| e).expect("produce");
    }
}

// ---------------------------------------------------------------------------------------------
// Daemons

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

fn ingester_settings(topic: &str, group: &str, archive: &Path, interval: Duration) -> Settings {
    let stack = Stack::get();
    Settings {
        listen: ListenSettings::new("127.0.0.1", 0),
        store: StoreSettings {
            alerts_url: Some(file_url(archive)),
            ..StoreSettings::default()
        },
        topics: vec![topic.to_owned()],
        group: group.to_owned(),
        kafka: stack.kafka_plaintext(),
        schema_registry_address: Some(stack.registry_url.clone()),
        commit_interval: DurationSetting(Duration::from_millis(200)),
        create_dlq_topic: true,
        index_interval: DurationSetting(interval),
        ..Settings::default()
    }
}

type Ingester = InProcessDaemon<alertdb_ingester::RunError>;

async fn start_ingester(config: IngesterConfig) -> Ingester {
    InProcessDaemon::start("alertdb-ingester", |listener, shutdown| {
        alertdb_ingester::run(config, listener, shutdown)
    })
    .await
}

type Server = InProcessDaemon<alertdb_server::RunError>;

async fn start_server(archive: &Path) -> Server {
    let config = alertdb_server::ServerConfig::for_url(&file_url(archive));
    InProcessDaemon::start("alertdb-server", |listener, shutdown| {
        alertdb_server::run(config, listener, shutdown)
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Reading the table and the server

/// Every row of the table under `archive`, straight from its files (not through the server).
async fn table_rows(archive: &Path) -> Vec<alert_index::IndexRow> {
    let store: Arc<dyn ObjectStore> =
        object_storage::open(&file_url(archive), &Default::default()).unwrap();
    let snapshot = alert_index::Snapshot::load(&store, alert_index::TABLE_PREFIX)
        .await
        .expect("the table reads")
        .expect("the table exists");
    alert_index::query::all_rows(&snapshot, &store)
        .await
        .expect("the table reads")
}

/// Waits until the table holds a row of every alert id in `ids`.
async fn wait_indexed(
    archive: &Path,
    ids: &BTreeSet<i64>,
    timeout: Duration,
) -> Vec<alert_index::IndexRow> {
    let started = Instant::now();
    loop {
        let rows = if archive.join("index/alerts/_delta_log").exists() {
            table_rows(archive).await
        } else {
            Vec::new()
        };
        let have: BTreeSet<i64> = rows.iter().map(|r| r.alert_id).collect();
        if ids.is_subset(&have) {
            return rows;
        }
        assert!(
            started.elapsed() < timeout,
            "{} of {} alerts not indexed after {timeout:?}",
            ids.difference(&have).count(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn assert_once_each(rows: &[alert_index::IndexRow], ids: &BTreeSet<i64>) {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for row in rows {
        *counts.entry(row.alert_id).or_default() += 1;
    }
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicated.is_empty(),
        "alerts with more than one row: {duplicated:?}"
    );
    let have: BTreeSet<i64> = counts.keys().copied().collect();
    assert_eq!(&have, ids, "the table holds exactly the produced alerts");
}

/// Every page of a JSON query, following `next`; the alert ids in order.
async fn all_pages(http: &reqwest::Client, first: &str) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    let mut url = first.to_owned();
    for _ in 0..10_000 {
        let response = http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let body: serde_json::Value = response.json().await.unwrap();
        rows.extend(body["alerts"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return rows,
        }
    }
    panic!("paging does not end");
}

fn ids_of(rows: &[serde_json::Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| r["alertId"].as_i64().unwrap())
        .collect()
}

fn distance_deg(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let (d1, d2) = (dec1.to_radians(), dec2.to_radians());
    let a = ((d2 - d1) / 2.0).sin().powi(2)
        + d1.cos() * d2.cos() * ((ra2 - ra1).to_radians() / 2.0).sin().powi(2);
    (2.0 * a.sqrt().min(1.0).asin()).to_degrees()
}

/// Rows of a Parquet answer.
fn parquet_rows(bytes: bytes::Bytes) -> Vec<alert_index::IndexRow> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        rows.extend(alert_index::batch::from_record_batch(&batch.unwrap()).unwrap());
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// Tests

const VERSIONS: [(u32, u32); 3] = [(6, 1), (9, 0), (11, 1)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_of_three_schema_versions_are_indexed_and_answered_by_object_time_and_cone() {
    let stack = Stack::get();
    let topic = unique_name("index-query");
    stack.create_topics(&[&topic], 2).await.unwrap();
    let archive = tempfile::tempdir().unwrap();
    let mut all: Vec<(Expected, Vec<u8>)> = Vec::new();
    for (n, version) in VERSIONS.iter().enumerate() {
        let schema_id = register_alert_schema(*version, "alert-index").await;
        all.extend(alerts(
            *version,
            schema_id,
            181_000_000_000_000 + n as i64 * 1_000,
            40,
        ));
    }
    let values: Vec<Vec<u8>> = all.iter().map(|(_, v)| v.clone()).collect();
    produce(&topic, 2, &values).await;
    let ids: BTreeSet<i64> = all.iter().map(|(e, _)| e.alert_id).collect();

    let group = unique_name("index-query");
    let ingester = start_ingester(
        ingester_settings(&topic, &group, archive.path(), Duration::from_secs(1))
            .validate()
            .unwrap(),
    )
    .await;
    let rows = wait_indexed(archive.path(), &ids, Duration::from_secs(120)).await;
    assert_once_each(&rows, &ids);
    // Each row says what its alert says.
    let by_id: BTreeMap<i64, &Expected> = all.iter().map(|(e, _)| (e.alert_id, e)).collect();
    for row in &rows {
        let e = by_id[&row.alert_id];
        assert_eq!(row.dia_object_id, e.dia_object_id, "{}", row.alert_id);
        assert_eq!(row.mjd_tai, e.mjd_tai);
        assert!((row.ra - e.ra.rem_euclid(360.0)).abs() < 1e-12);
        assert_eq!(row.dec, e.dec);
        assert_eq!(row.schema_id as u32, e.schema_id);
        assert_eq!(row.topic, topic);
        assert!(row.offset >= 0 && row.partition >= 0);
        assert_eq!(
            row.archive_key,
            alert_archive::alert_key(alert_archive::Layout::V2, row.alert_id as u64).to_string()
        );
    }
    ingester.stop().await.unwrap();

    let server = start_server(archive.path()).await;
    let http = reqwest::Client::new();

    // By object: every alert of the object, none other.
    let object = all
        .iter()
        .find_map(|(e, _)| e.dia_object_id)
        .expect("a generated alert with a diaObjectId");
    let want: BTreeSet<i64> = all
        .iter()
        .filter(|(e, _)| e.dia_object_id == Some(object))
        .map(|(e, _)| e.alert_id)
        .collect();
    let got = all_pages(
        &http,
        &server.url(&format!("/v1/objects/{object}/alerts?limit=3")),
    )
    .await;
    let got_ids = ids_of(&got);
    assert_eq!(got_ids.len(), want.len(), "no duplicates across pages");
    assert_eq!(got_ids.iter().copied().collect::<BTreeSet<_>>(), want);
    for row in &got {
        let e = by_id[&row["alertId"].as_i64().unwrap()];
        assert_eq!(row["diaObjectId"].as_i64(), Some(object));
        assert_eq!(row["midpointMjdTai"].as_f64(), Some(e.mjd_tai));
        assert!(row["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v1/alerts/{}", e.alert_id)));
    }
    // Each alert's URL answers with the alert.
    let url = got[0]["url"].as_str().unwrap();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");

    // By time: ISO-8601 and MJD TAI bounds give the same rows, paged.
    let min = all.iter().map(|(e, _)| e.mjd_tai).fold(f64::MAX, f64::min);
    let max = all.iter().map(|(e, _)| e.mjd_tai).fold(f64::MIN, f64::max);
    let (since, until) = (min - 1e-6, max + 1e-3);
    let got = all_pages(
        &http,
        &server.url(&format!(
            "/v1/alerts/search?since={since}&until={until}&limit=50"
        )),
    )
    .await;
    assert_eq!(ids_of(&got).len(), ids.len());
    assert_eq!(ids_of(&got).into_iter().collect::<BTreeSet<_>>(), ids);
    // A window holding only part of them.
    let mid = all[all.len() / 2].0.mjd_tai;
    let want: BTreeSet<i64> = all
        .iter()
        .filter(|(e, _)| e.mjd_tai >= since && e.mjd_tai < mid)
        .map(|(e, _)| e.alert_id)
        .collect();
    let got = all_pages(
        &http,
        &server.url(&format!("/v1/alerts/search?since={since}&until={mid}")),
    )
    .await;
    assert_eq!(ids_of(&got).into_iter().collect::<BTreeSet<_>>(), want);
    // The same window in ISO-8601 UTC (TAI − UTC = 37 s).
    let iso = |mjd_tai: f64| {
        let unix_us = ((mjd_tai - 40_587.0) * 86_400.0 - 37.0) * 1e6;
        alertdb_server::search::iso8601(unix_us.round() as i64)
    };
    let got_iso = all_pages(
        &http,
        &server.url(&format!(
            "/v1/alerts/search?since={}&until={}",
            iso(since),
            iso(max + 1e-3)
        )),
    )
    .await;
    assert_eq!(ids_of(&got_iso).into_iter().collect::<BTreeSet<_>>(), ids);

    // By cone: 2 arcseconds around one source, and a degree around it.
    let (ra, dec) = (all[0].0.ra, all[0].0.dec);
    for radius in [2.0 / 3600.0, 1.0] {
        let want: BTreeSet<i64> = all
            .iter()
            .filter(|(e, _)| distance_deg(ra, dec, e.ra, e.dec) <= radius)
            .map(|(e, _)| e.alert_id)
            .collect();
        assert!(!want.is_empty());
        let got = all_pages(
            &http,
            &server.url(&format!(
                "/v1/alerts/cone?ra={ra}&dec={dec}&radius={radius}&limit=7"
            )),
        )
        .await;
        assert_eq!(ids_of(&got).len(), want.len(), "radius {radius}");
        assert_eq!(ids_of(&got).into_iter().collect::<BTreeSet<_>>(), want);
    }

    // CSV and Parquet: the same rows as JSON.
    let query = format!("/v1/alerts/search?since={since}&until={until}&limit=10000");
    let json = all_pages(&http, &server.url(&query)).await;
    let csv = http
        .get(server.url(&format!("{query}&format=csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        alertdb_server::search::COLUMNS.join(",")
    );
    let csv_ids: Vec<i64> = lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(csv_ids, ids_of(&json));
    let parquet = http
        .get(server.url(&format!("{query}&format=parquet")))
        .send()
        .await
        .unwrap();
    assert_eq!(parquet.status(), 200);
    let parquet_ids: Vec<i64> = parquet_rows(parquet.bytes().await.unwrap())
        .iter()
        .map(|r| r.alert_id)
        .collect();
    assert_eq!(parquet_ids, ids_of(&json));

    // External engines read the same table and answer the same: delta-rs (the Delta Lake
    // Python library, its own log replay) and DuckDB over the Parquet files the log lists.
    let (cone_radius, window) = (1.0, (since, mid));
    let output = Command::new(&stack.python)
        .arg(repo_root().join("integration-tests/python/index_server_check.py"))
        .arg(archive.path().join("index/alerts"))
        .args([
            object.to_string(),
            window.0.to_string(),
            window.1.to_string(),
            ra.to_string(),
            dec.to_string(),
            cone_radius.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "index_server_check.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let python: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let sorted_ids = |rows: &[serde_json::Value]| {
        let mut ids = ids_of(rows);
        ids.sort_unstable();
        ids
    };
    let object_rows = all_pages(&http, &server.url(&format!("/v1/objects/{object}/alerts"))).await;
    let time_rows = all_pages(
        &http,
        &server.url(&format!(
            "/v1/alerts/search?since={}&until={}",
            window.0, window.1
        )),
    )
    .await;
    let cone_rows = all_pages(
        &http,
        &server.url(&format!(
            "/v1/alerts/cone?ra={ra}&dec={dec}&radius={cone_radius}"
        )),
    )
    .await;
    let (object_ids, time_ids, cone_ids) = (
        sorted_ids(&object_rows),
        sorted_ids(&time_rows),
        sorted_ids(&cone_rows),
    );
    assert!(!object_ids.is_empty() && !time_ids.is_empty() && !cone_ids.is_empty());
    for engine in ["deltalake", "duckdb"] {
        let answer = &python[engine];
        let list = |key: &str| -> Vec<i64> {
            answer[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect()
        };
        assert_eq!(answer["rows"].as_u64(), Some(ids.len() as u64), "{engine}");
        assert_eq!(list("object"), object_ids, "{engine}: object");
        assert_eq!(list("time"), time_ids, "{engine}: time range");
        assert_eq!(list("cone"), cone_ids, "{engine}: cone");
    }
    // And each row's values, as delta-rs reads them.
    for row in &time_rows {
        let id = row["alertId"].as_i64().unwrap();
        let theirs = &python["deltalake"]["by_id"][id.to_string()];
        assert_eq!(row["diaObjectId"], theirs["dia_object_id"], "{id}");
        assert_eq!(row["midpointMjdTai"], theirs["mjd_tai"], "{id}");
        assert_eq!(row["time"], theirs["time"], "{id}");
        assert_eq!(row["ra"], theirs["ra"], "{id}");
        assert_eq!(row["dec"], theirs["dec"], "{id}");
        assert_eq!(row["band"], theirs["band"], "{id}");
        assert_eq!(row["psfFlux"], theirs["psf_flux"], "{id}");
        assert_eq!(row["schemaId"], theirs["schema_id"], "{id}");
    }

    // Bad input: a clear 400 naming what is wrong.
    for (path, needle) in [
        ("/v1/alerts/search?since=60000&until=59999", "after"),
        ("/v1/alerts/search?since=60000&until=60100", "days"),
        ("/v1/alerts/search?since=yesterday&until=60000", "since"),
        ("/v1/alerts/search?until=60000", "since"),
        ("/v1/alerts/search?since=60000&until=60001&limit=0", "limit"),
        (
            "/v1/alerts/search?since=60000&until=60001&format=xml",
            "format",
        ),
        (
            "/v1/alerts/search?since=60000&until=60001&cursor=bogus",
            "cursor",
        ),
        ("/v1/alerts/cone?ra=10&dec=91&radius=0.1", "dec"),
        ("/v1/alerts/cone?ra=10&dec=0&radius=5", "radius"),
        ("/v1/alerts/cone?ra=x&dec=0&radius=0.1", "ra"),
        ("/v1/alerts/cone?ra=10&dec=0&radius=0.1&color=red", "color"),
        ("/v1/objects/abc/alerts", "diaObjectId"),
    ] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_index_the_routes_say_so() {
    let archive = tempfile::tempdir().unwrap();
    let server = start_server(archive.path()).await;
    let (status, body) = server.get("/v1/objects/1/alerts").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no alert index"), "{body}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ingesters_of_one_group_write_the_table_at_once_without_loss_or_duplicates() {
    let stack = Stack::get();
    let topic = unique_name("index-pair");
    stack.create_topics(&[&topic], 4).await.unwrap();
    let archive = tempfile::tempdir().unwrap();
    let schema_id = register_alert_schema((11, 1), "alert-index").await;
    let all = alerts((11, 1), schema_id, 182_000_000_000_000, 2_000);
    let values: Vec<Vec<u8>> = all.iter().map(|(_, v)| v.clone()).collect();
    let ids: BTreeSet<i64> = all.iter().map(|(e, _)| e.alert_id).collect();
    let group = unique_name("index-pair");
    // Short intervals: many commits of both writers race for the same log versions.
    let config = ingester_settings(&topic, &group, archive.path(), Duration::from_millis(200))
        .validate()
        .unwrap();
    let first = start_ingester(config.clone()).await;
    produce(&topic, 4, &values[..500]).await;
    // The second joins mid-stream: a rebalance moves partitions with rows in flight.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = start_ingester(config).await;
    // Then waves, so that both write many batches while the other does.
    for wave in values[500..].chunks(150) {
        produce(&topic, 4, wave).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let rows = wait_indexed(archive.path(), &ids, Duration::from_secs(180)).await;
    let commits = |ingester: &Ingester| {
        let url = ingester.url("/metrics");
        async move {
            let text = reqwest::get(url).await.unwrap().text().await.unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("alertdb_ingester_index_commits_total "))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        }
    };
    let (commits_first, commits_second) = (commits(&first).await, commits(&second).await);
    first.stop().await.unwrap();
    second.stop().await.unwrap();
    let rows_after_stop = table_rows(archive.path()).await;
    assert!(rows_after_stop.len() >= rows.len());
    assert_once_each(&rows_after_stop, &ids);
    // Both wrote to the one table while the other did.
    assert!(
        commits_first >= 2.0 && commits_second >= 2.0,
        "index commits: first {commits_first}, second {commits_second}"
    );
}

/// Writes an ingester config file: the archive, a long or short index interval.
fn write_config(path: &Path, topic: &str, group: &str, archive: &Path, interval: &str) {
    let stack = Stack::get();
    std::fs::write(
        path,
        format!(
            r#"topics = ["{topic}"]
group = "{group}"
schema_registry_address = "{registry}"
commit_interval = "200ms"
create_dlq_topic = true
index_interval = "{interval}"
[listen]
port = 0
[store]
alerts_url = "{archive}"
[kafka]
bootstrap_servers = "{kafka}"
[kafka.extra]
"session.timeout.ms" = "6000"
"#,
            registry = stack.registry_url,
            kafka = stack.kafka_plaintext,
            archive = file_url(archive),
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_flush_loses_no_row_and_the_restart_adds_none_twice() {
    let stack = Stack::get();
    let topic = unique_name("index-crash");
    stack.create_topics(&[&topic], 2).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let schema_id = register_alert_schema((10, 0), "alert-index").await;
    let all = alerts((10, 0), schema_id, 183_000_000_000_000, 600);
    let values: Vec<Vec<u8>> = all.iter().map(|(_, v)| v.clone()).collect();
    let ids: BTreeSet<i64> = all.iter().map(|(e, _)| e.alert_id).collect();
    let group = unique_name("index-crash");
    let config = dir.path().join("ingester.toml");
    let log = dir.path().join("ingester.log");
    let spawn = || {
        Command::new(service_binary("alertdb-ingester"))
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .spawn()
            .unwrap()
    };

    // First life: a first batch is indexed (short interval), then a long interval holds the
    // rest of the rows in the buffer when SIGKILL comes.
    write_config(&config, &topic, &group, &archive, "1s");
    produce(&topic, 2, &values[..200]).await;
    let mut child = spawn();
    let first: BTreeSet<i64> = ids.iter().copied().take(200).collect();
    wait_indexed(&archive, &first, Duration::from_secs(120)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    write_config(&config, &topic, &group, &archive, "10m");
    let mut child = spawn();
    produce(&topic, 2, &values[200..]).await;
    let started = Instant::now();
    loop {
        let archived = ids
            .iter()
            .filter(|id| {
                archive
                    .join(alert_archive::alert_key(alert_archive::Layout::V2, **id as u64).as_ref())
                    .exists()
            })
            .count();
        if archived == ids.len() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{archived} archived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = table_rows(&archive).await;
    assert!(
        before.len() < ids.len(),
        "the crash came before the last rows were flushed ({} rows)",
        before.len()
    );

    // Second life: the unindexed alerts are read again (their offsets were not committed),
    // re-archived identically and indexed; the rows already there are not written again.
    write_config(&config, &topic, &group, &archive, "1s");
    let mut child = spawn();
    let rows = wait_indexed(&archive, &ids, Duration::from_secs(120)).await;
    // Past any further flush of re-read rows.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = child.kill();
    child.wait().unwrap();
    assert!(rows.len() >= before.len());
    assert_once_each(&table_rows(&archive).await, &ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_of_an_archive_written_without_the_index_gives_the_same_rows() {
    let stack = Stack::get();
    let topic = unique_name("index-rebuild");
    stack.create_topics(&[&topic], 1).await.unwrap();
    let indexed = tempfile::tempdir().unwrap();
    let plain = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    for (n, version) in VERSIONS.iter().enumerate() {
        let schema_id = register_alert_schema(*version, "alert-index").await;
        all.extend(alerts(
            *version,
            schema_id,
            184_000_000_000_000 + n as i64 * 1_000,
            30,
        ));
    }
    let values: Vec<Vec<u8>> = all.iter().map(|(_, v)| v.clone()).collect();
    let mut ids: BTreeSet<i64> = all.iter().map(|(e, _)| e.alert_id).collect();
    produce(&topic, 1, &values).await;

    // The same messages archived twice: with the index, and without (as before this feature).
    let with_index = start_ingester(
        ingester_settings(
            &topic,
            &unique_name("index-rebuild"),
            indexed.path(),
            Duration::from_secs(1),
        )
        .validate()
        .unwrap(),
    )
    .await;
    let mut settings = ingester_settings(
        &topic,
        &unique_name("index-rebuild"),
        plain.path(),
        Duration::from_secs(1),
    );
    settings.index_enabled = false;
    let without = start_ingester(settings.validate().unwrap()).await;
    let indexed_rows = wait_indexed(indexed.path(), &ids, Duration::from_secs(120)).await;
    let started = Instant::now();
    while !ids.iter().all(|id| {
        plain
            .path()
            .join(alert_archive::alert_key(alert_archive::Layout::V2, *id as u64).as_ref())
            .exists()
    }) {
        assert!(started.elapsed() < Duration::from_secs(120));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    with_index.stop().await.unwrap();
    without.stop().await.unwrap();
    assert!(
        !plain.path().join("index").exists(),
        "--no-index writes no table"
    );

    // Upstream's older layouts too: a v1 gzip object and a v2 plain one.
    let schema_id = all[0].0.schema_id;
    let older = alerts((6, 1), schema_id, 184_000_000_010_000, 2);
    let v1 = plain.path().join(format!(
        "alert_archive/v1/alerts/{}.avro.gz",
        older[0].0.alert_id
    ));
    std::fs::create_dir_all(v1.parent().unwrap()).unwrap();
    std::fs::write(&v1, alert_archive::gzip(&older[0].1, 6)).unwrap();
    let v2_plain = plain.path().join(
        alert_archive::alert_key(alert_archive::Layout::V2, older[1].0.alert_id as u64)
            .as_ref()
            .replace(".avro.gz", ".avro"),
    );
    std::fs::create_dir_all(v2_plain.parent().unwrap()).unwrap();
    std::fs::write(&v2_plain, &older[1].1).unwrap();
    ids.extend(older.iter().map(|(e, _)| e.alert_id));

    // The command, as an operator runs it.
    let run = || {
        let output = Command::new(service_binary("alertdb-ingester"))
            .args(["rebuild-index", "--alerts-url", &file_url(plain.path())])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let report = run();
    assert!(
        report.contains(&format!("{} rows added", ids.len())),
        "{report}"
    );
    let rebuilt = table_rows(plain.path()).await;
    assert_once_each(&rebuilt, &ids);
    // Same rows as the ingester wrote, but for the Kafka coordinates the archive lacks.
    let key = |r: &alert_index::IndexRow| {
        (
            r.alert_id,
            r.dia_source_id,
            r.dia_object_id,
            r.mjd_tai.to_bits(),
            r.ra.to_bits(),
            r.dec.to_bits(),
            r.healpix29,
            r.band.clone(),
            r.psf_flux.map(f64::to_bits),
            r.schema_id,
            r.archive_key.clone(),
        )
    };
    let from_ingester: BTreeSet<_> = indexed_rows.iter().map(key).collect();
    let from_rebuild: BTreeSet<_> = rebuilt
        .iter()
        .filter(|r| !older.iter().any(|(e, _)| e.alert_id == r.alert_id))
        .map(key)
        .collect();
    assert_eq!(from_rebuild, from_ingester);
    // Idempotent: a second run adds nothing.
    let again = run();
    assert!(again.contains(" 0 rows added"), "{again}");
    assert_eq!(table_rows(plain.path()).await.len(), rebuilt.len());
}
