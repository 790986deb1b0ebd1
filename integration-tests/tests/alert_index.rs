//! The alert index table read by other engines, and written on the stack's real object
//! stores.
//!
//! - local files: a table appended by two writers (with Kafka progress), compacted, appended
//!   again, then read by delta-rs (PyPI `deltalake`: version, schema, `to_pyarrow_table()`)
//!   and by DuckDB (the Parquet files `file_uris()` lists), whose rows must equal ours, and
//!   whose object query and time-range count must equal the index's answers;
//! - fake-gcs-server and moto (S3): two writers racing for log versions with conditional
//!   creates on the real emulators, then compaction, and every row read back.

use alert_index::query::all_rows;
use alert_index::{
    healpix, row, CompactOptions, FileLayout, IndexRow, IndexTable, PageRequest, Snapshot, Txn,
    TABLE_PREFIX,
};
use integration_tests::{repo_root, unique_name, Stack};
use object_storage::object_store::ObjectStore;
use object_storage::{open, StoreOptions};
use serde_json::Value as Json;
use std::sync::Arc;

/// Row `i`: 40 objects at fixed positions, one alert a minute.
fn row(i: i64) -> IndexRow {
    let object = i % 40;
    let ra = (object as f64 * 8.3 + 0.1) % 360.0;
    let dec = -70.0 + (object as f64 * 2.9) % 90.0;
    let mjd = 61_376.0 + i as f64 / 1440.0;
    IndexRow {
        alert_id: 170_000_000_000_000 + i,
        dia_source_id: 170_000_000_000_000 + i,
        dia_object_id: (i % 13 != 0).then_some(85_000_000_000 + object),
        ss_object_id: (i % 13 == 0).then_some(4_000_000 + i),
        mjd_tai: mjd,
        time_us: row::mjd_tai_to_unix_us(mjd),
        ra,
        dec,
        healpix29: healpix::healpix29(ra, dec),
        band: (i % 7 != 0).then(|| ["u", "g", "r", "i", "z", "y"][(i % 6) as usize].to_owned()),
        psf_flux: Some(i as f64 * 1.25 - 300.0),
        psf_flux_err: (i % 5 != 0).then_some(0.5 + i as f64 / 1000.0),
        reliability: (i % 3 != 0).then_some((i % 100) as f32 / 100.0),
        schema_id: 1101,
        archive_key: format!("v2/alerts/170000/{}.avro.gz", 170_000_000_000_000 + i),
        topic: "alerts-simulated".into(),
        partition: (i % 2) as i32,
        offset: i / 2,
    }
}

/// Writes 4 batches from two writers, compacts, appends one more: the log then has adds,
/// removes and txns.
async fn write_table(store: Arc<dyn ObjectStore>) -> (Vec<IndexRow>, Arc<Snapshot>) {
    let layout = FileLayout {
        row_group_rows: 64,
        page_rows: 16,
    };
    let a = Arc::new(
        IndexTable::open_or_create(store.clone(), TABLE_PREFIX)
            .await
            .unwrap()
            .with_layout(layout),
    );
    let b = Arc::new(
        IndexTable::open_or_create(store.clone(), TABLE_PREFIX)
            .await
            .unwrap()
            .with_layout(layout),
    );
    let mut handles = Vec::new();
    for (w, table) in [a.clone(), b.clone()].into_iter().enumerate() {
        handles.push(tokio::spawn(async move {
            for batch in 0..2i64 {
                let start = (batch * 2 + w as i64) * 100;
                let rows: Vec<_> = (start..start + 100).map(row).collect();
                let txn = Txn::new(
                    format!("alertdb-ingester/test/alerts-simulated/{w}"),
                    start + 100,
                );
                table.append(rows, vec![txn]).await.unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let report = a
        .compact(CompactOptions {
            target_rows: 250,
            small_file_rows: 150,
            layout,
            ..CompactOptions::default()
        })
        .await
        .unwrap();
    assert!(report.files_removed >= 2, "{report:?}");
    b.append((400..450).map(row).collect(), vec![])
        .await
        .unwrap();
    let snapshot = b.snapshot().await.unwrap();
    assert_eq!(
        snapshot.txn_version("alertdb-ingester/test/alerts-simulated/1"),
        Some(400)
    );
    (((0..450).map(row)).collect(), snapshot)
}

fn sorted(mut rows: Vec<IndexRow>) -> Vec<IndexRow> {
    rows.sort_by_key(|r| r.alert_id);
    rows
}

/// A row as the Python script prints it.
fn as_json(r: &IndexRow) -> Json {
    serde_json::json!([
        r.alert_id,
        r.dia_source_id,
        r.dia_object_id,
        r.ss_object_id,
        r.mjd_tai,
        r.time_us,
        r.ra,
        r.dec,
        r.healpix29,
        r.band,
        r.psf_flux,
        r.psf_flux_err,
        r.reliability.map(f64::from),
        r.schema_id,
        r.archive_key,
        r.topic,
        r.partition,
        r.offset
    ])
}

#[tokio::test]
async fn deltalake_and_duckdb_read_the_same_rows_as_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        &format!("file://{}", dir.path().display()),
        &StoreOptions::default(),
    )
    .unwrap();
    let (expected, snapshot) = write_table(store.clone()).await;
    let ours = sorted(all_rows(&snapshot, &store).await.unwrap());
    assert_eq!(ours, sorted(expected.clone()));

    let object = 85_000_000_000 + 7;
    let (since, until) = (61_376.0 + 100.5 / 1440.0, 61_376.0 + 160.5 / 1440.0);
    let page = PageRequest {
        limit: 1000,
        cursor: None,
    };
    let our_object: Vec<i64> = alert_index::object_alerts(&snapshot, &store, object, page)
        .await
        .unwrap()
        .rows
        .iter()
        .map(|r| r.alert_id)
        .collect();
    let our_count = alert_index::count_time_range(&snapshot, &store, since, until)
        .await
        .unwrap();
    assert_eq!(our_count, 60);
    assert!(!our_object.is_empty());

    let table_dir = dir.path().join(TABLE_PREFIX);
    let output = tokio::process::Command::new(&Stack::get().python)
        .arg(repo_root().join("integration-tests/python/index_check.py"))
        .arg(&table_dir)
        .args([
            object.to_string(),
            format!("{since:?}"),
            format!("{until:?}"),
        ])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "index_check.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["version"], snapshot.version());
    assert_eq!(seen["files"], snapshot.files().len());
    let names: Vec<String> = alert_index::batch::schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(seen["schema"], serde_json::json!(names));
    let want: Vec<Json> = ours.iter().map(as_json).collect();
    assert_eq!(
        seen["deltalake_rows"].as_array().unwrap(),
        &want,
        "delta-rs rows differ"
    );
    assert_eq!(
        seen["duckdb_rows"].as_array().unwrap(),
        &want,
        "DuckDB rows differ"
    );
    assert_eq!(seen["duckdb_object"], serde_json::json!(our_object));
    assert_eq!(seen["duckdb_count"], our_count);
}

async fn racing_writers_on(store: Arc<dyn ObjectStore>) {
    let (expected, snapshot) = write_table(store.clone()).await;
    assert_eq!(
        sorted(all_rows(&snapshot, &store).await.unwrap()),
        sorted(expected)
    );
    // A fresh reader replays the same log.
    let fresh = Snapshot::load(&store, TABLE_PREFIX).await.unwrap().unwrap();
    assert_eq!(fresh.version(), snapshot.version());
    assert_eq!(fresh.num_records(), 450);
}

#[tokio::test]
async fn the_table_works_on_fake_gcs_server() {
    let stack = Stack::get();
    let bucket = unique_name("index");
    stack.create_gcs_bucket(&bucket).await.unwrap();
    let options = StoreOptions {
        gcs_service_account_path: Some(stack.gcs_service_account.clone()),
        ..StoreOptions::default()
    };
    racing_writers_on(open(&format!("gs://{bucket}"), &options).unwrap()).await;
}

#[tokio::test]
async fn the_table_works_on_s3() {
    let stack = Stack::get();
    let bucket = unique_name("index");
    stack.create_s3_bucket(&bucket).await.unwrap();
    racing_writers_on(open(&format!("s3://{bucket}"), &stack.s3_options()).unwrap()).await;
}
