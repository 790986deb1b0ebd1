//! Tests of the table as a whole: writers racing, compaction beside appends, pruned queries
//! against a full scan, paging.

use crate::batch::FileLayout;
use crate::query::all_rows;
use crate::*;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use std::sync::Arc;

/// A row at a position and time; objects repeat every 37 rows.
pub(crate) fn row(i: i64) -> IndexRow {
    let object = i % 37;
    let ra = (object as f64 * 9.7) % 360.0;
    let dec = -60.0 + (object as f64 * 3.1) % 80.0;
    let mjd = 61_000.0 + i as f64 / 1440.0;
    IndexRow {
        alert_id: 1_000_000 + i,
        dia_source_id: 1_000_000 + i,
        dia_object_id: (i % 11 != 0).then_some(500 + object),
        ss_object_id: (i % 11 == 0).then_some(9),
        mjd_tai: mjd,
        time_us: row::mjd_tai_to_unix_us(mjd),
        ra,
        dec,
        healpix29: healpix::healpix29(ra, dec),
        band: Some(["u", "g", "r", "i", "z", "y"][(i % 6) as usize].into()),
        psf_flux: Some(i as f64),
        psf_flux_err: None,
        reliability: Some(0.5),
        schema_id: 1101,
        archive_key: format!("v2/alerts/{}/{}.avro.gz", 1_000_000 + i, 1_000_000 + i),
        topic: "alerts".into(),
        partition: (i % 3) as i32,
        offset: i,
    }
}

fn store() -> Arc<dyn ObjectStore> {
    Arc::new(InMemory::new())
}

async fn table(store: &Arc<dyn ObjectStore>) -> IndexTable {
    IndexTable::open(store.clone(), Path::from(TABLE_PREFIX))
        .await
        .unwrap()
        .with_layout(FileLayout {
            row_group_rows: 16,
            page_rows: 4,
        })
}

fn sorted(mut rows: Vec<IndexRow>) -> Vec<IndexRow> {
    rows.sort_by(|a, b| {
        a.mjd_tai
            .total_cmp(&b.mjd_tai)
            .then(a.alert_id.cmp(&b.alert_id))
    });
    rows
}

async fn fill(t: &IndexTable, batches: i64, per: i64) -> Vec<IndexRow> {
    let mut all = Vec::new();
    for b in 0..batches {
        let rows: Vec<_> = (b * per..(b + 1) * per).map(row).collect();
        all.extend(rows.clone());
        t.append(rows, vec![]).await.unwrap();
    }
    all
}

async fn page_all(
    mut f: impl FnMut(PageRequest) -> futures::future::BoxFuture<'static, Result<Page>>,
    limit: usize,
) -> Vec<IndexRow> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = f(PageRequest { limit, cursor }).await.unwrap();
        assert!(page.rows.len() <= limit);
        out.extend(page.rows);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

#[tokio::test]
async fn open_creates_once_and_reopens() {
    let s = store();
    let (a, b) = tokio::join!(
        IndexTable::open(s.clone(), Path::from("t")),
        IndexTable::open(s.clone(), Path::from("t"))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.snapshot().await.unwrap().version(), 0);
    assert_eq!(b.snapshot().await.unwrap().version(), 0);
    let log: Vec<_> =
        futures::TryStreamExt::try_collect::<Vec<_>>(s.list(Some(&Path::from("t/_delta_log"))))
            .await
            .unwrap();
    assert_eq!(log.len(), 1, "one version 0");
    assert!(Snapshot::load(&s, "elsewhere").await.unwrap().is_none());
    assert_eq!(Snapshot::load(&s, "t").await.unwrap().unwrap().version(), 0);
}

#[tokio::test]
async fn appends_replay_from_the_log_and_incrementally() {
    let s = store();
    let t = table(&s).await;
    let rows = fill(&t, 3, 10).await;
    let reader = Snapshot::load(&s, TABLE_PREFIX).await.unwrap().unwrap();
    assert_eq!(reader.version(), 3);
    assert_eq!(reader.files().len(), 3);
    assert_eq!(reader.num_records(), 30);
    assert_eq!(sorted(all_rows(&reader, &s).await.unwrap()), sorted(rows));
    t.append(vec![row(100)], vec![Txn::new("app", 101)])
        .await
        .unwrap();
    let newer = reader.refreshed(&s).await.unwrap();
    assert_eq!(newer.version(), 4);
    assert_eq!(newer.txn_version("app"), Some(101));
    assert_eq!(t.txn_version("app").await.unwrap(), Some(101));
}

#[tokio::test]
async fn racing_writers_both_commit_and_txns_conflict() {
    let s = store();
    let a = table(&s).await;
    let b = table(&s).await;
    let ra: Vec<_> = (0..50).map(row).collect();
    let rb: Vec<_> = (50..100).map(row).collect();
    let mut handles = Vec::new();
    for (t, rows) in [(a, ra), (b, rb)] {
        handles.push(tokio::spawn(async move {
            let mut infos = Vec::new();
            for chunk in rows.chunks(5) {
                infos.push(t.append(chunk.to_vec(), vec![]).await.unwrap());
            }
            (t, infos)
        }));
    }
    let mut versions = Vec::new();
    let mut tables = Vec::new();
    for h in handles {
        let (t, infos) = h.await.unwrap();
        versions.extend(infos.iter().map(|i| i.version));
        tables.push(t);
    }
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=20).collect::<Vec<_>>(),
        "every append got its own version"
    );
    let snap = tables[0].snapshot().await.unwrap();
    assert_eq!(snap.num_records(), 100);
    assert_eq!(all_rows(&snap, &s).await.unwrap().len(), 100);

    // The same progress committed twice: the second is refused, its file deleted.
    tables[0]
        .append(vec![row(200)], vec![Txn::new("ingester/p0", 10)])
        .await
        .unwrap();
    let err = tables[1]
        .append(vec![row(200)], vec![Txn::new("ingester/p0", 10)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, IndexError::TxnConflict { committed: 10, .. }),
        "{err}"
    );
    let snap = tables[1].snapshot().await.unwrap();
    assert_eq!(snap.num_records(), 101);
    let objects: Vec<_> =
        futures::TryStreamExt::try_collect::<Vec<_>>(s.list(Some(&Path::from(TABLE_PREFIX))))
            .await
            .unwrap();
    let parquet = objects
        .iter()
        .filter(|o| o.location.as_ref().ends_with(".parquet"))
        .count();
    assert_eq!(parquet, snap.files().len(), "no orphan file");
}

#[tokio::test]
async fn compaction_keeps_rows_beside_concurrent_appends() {
    let s = store();
    let t = Arc::new(table(&s).await);
    let before = fill(&t, 10, 20).await;
    let writer = {
        let t = t.clone();
        tokio::spawn(async move {
            for i in 0..10 {
                t.append(vec![row(1000 + i)], vec![]).await.unwrap();
            }
        })
    };
    let report = t
        .compact(CompactOptions {
            target_rows: 100,
            small_file_rows: 50,
            layout: FileLayout {
                row_group_rows: 16,
                page_rows: 4,
            },
            ..CompactOptions::default()
        })
        .await
        .unwrap();
    writer.await.unwrap();
    assert!(report.groups >= 2, "{report:?}");
    let snap = t.snapshot().await.unwrap();
    let mut expected = before;
    expected.extend((0..10).map(|i| row(1000 + i)));
    assert_eq!(sorted(all_rows(&snap, &s).await.unwrap()), sorted(expected));

    // A second compaction of files already removed conflicts instead of duplicating rows.
    let stale = snap.files().to_vec();
    let group: Vec<_> = stale
        .iter()
        .filter(|f| f.stats.num_records < 50)
        .cloned()
        .collect();
    assert!(group.len() > 1);
    t.compact(CompactOptions {
        target_rows: 1000,
        small_file_rows: 50,
        ..CompactOptions::default()
    })
    .await
    .unwrap();
    let removes: Vec<String> = group.iter().map(|f| f.path.clone()).collect();
    let err = t
        .commit(
            serde_json::json!({}),
            group.iter().map(IndexTable::remove_action).collect(),
            &[],
            &removes,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, IndexError::Conflict { .. }), "{err}");
    assert_eq!(
        all_rows(&t.snapshot().await.unwrap(), &s)
            .await
            .unwrap()
            .len(),
        210
    );

    // Vacuum deletes the removed files once past the retention, and only those.
    let count = || async {
        futures::TryStreamExt::try_collect::<Vec<_>>(s.list(Some(&Path::from(TABLE_PREFIX))))
            .await
            .unwrap()
            .iter()
            .filter(|o| o.location.as_ref().ends_with(".parquet"))
            .count()
    };
    let before = count().await;
    assert_eq!(
        t.vacuum(std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    let deleted = t.vacuum(std::time::Duration::ZERO).await.unwrap();
    assert!(deleted > 0);
    let live = t.snapshot().await.unwrap().files().len();
    assert_eq!(count().await, live);
    assert_eq!(before - deleted, live);
    assert_eq!(
        all_rows(&t.snapshot().await.unwrap(), &s)
            .await
            .unwrap()
            .len(),
        210
    );
}

#[tokio::test]
async fn pruned_queries_equal_a_full_scan_and_page_stably() {
    let s = store();
    let t = table(&s).await;
    let rows = fill(&t, 8, 50).await;
    for compacted in [false, true] {
        if compacted {
            t.compact(CompactOptions {
                target_rows: 150,
                small_file_rows: 100,
                layout: FileLayout {
                    row_group_rows: 16,
                    page_rows: 4,
                },
                ..CompactOptions::default()
            })
            .await
            .unwrap();
        }
        let snap = t.snapshot().await.unwrap();
        let store = s.clone();
        for object in [500, 503, 536, 9999] {
            let expected = sorted(
                rows.iter()
                    .filter(|r| r.dia_object_id == Some(object))
                    .cloned()
                    .collect(),
            );
            let (snap2, store2) = (snap.clone(), store.clone());
            let got = page_all(
                move |p| {
                    let (snap, store) = (snap2.clone(), store2.clone());
                    Box::pin(async move { object_alerts(&snap, &store, object, p).await })
                },
                7,
            )
            .await;
            assert_eq!(got, expected, "object {object}, compacted {compacted}");
        }
        let (since, until) = (61_000.0 + 33.0 / 1440.0, 61_000.0 + 270.5 / 1440.0);
        let expected = sorted(
            rows.iter()
                .filter(|r| r.mjd_tai >= since && r.mjd_tai < until)
                .cloned()
                .collect(),
        );
        assert_eq!(
            count_time_range(&snap, &s, since, until).await.unwrap(),
            expected.len() as u64
        );
        let (snap2, store2) = (snap.clone(), store.clone());
        let got = page_all(
            move |p| {
                let (snap, store) = (snap2.clone(), store2.clone());
                Box::pin(async move { time_range(&snap, &store, since, until, p).await })
            },
            25,
        )
        .await;
        assert_eq!(got, expected);
        let (ra, dec) = (rows[5].ra, rows[5].dec);
        let radius = 1.0 / 60.0;
        let expected = sorted(
            rows.iter()
                .filter(|r| healpix::distance_deg(ra, dec, r.ra, r.dec) <= radius)
                .cloned()
                .collect(),
        );
        assert!(!expected.is_empty());
        let (snap2, store2) = (snap.clone(), store.clone());
        let got = page_all(
            move |p| {
                let (snap, store) = (snap2.clone(), store2.clone());
                Box::pin(async move { cone(&snap, &store, ra, dec, radius, p).await })
            },
            3,
        )
        .await;
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn bad_queries_and_cursors_are_refused() {
    let s = store();
    let t = table(&s).await;
    fill(&t, 1, 100).await;
    let snap = t.snapshot().await.unwrap();
    let page = |cursor: Option<&str>| PageRequest {
        limit: 2,
        cursor: cursor.map(str::to_owned),
    };
    assert!(matches!(
        time_range(&snap, &s, 5.0, 4.0, page(None)).await,
        Err(IndexError::BadQuery(_))
    ));
    assert!(matches!(
        cone(&snap, &s, 0.0, 91.0, 0.1, page(None)).await,
        Err(IndexError::BadQuery(_))
    ));
    assert!(matches!(
        cone(&snap, &s, 0.0, 0.0, 0.0, page(None)).await,
        Err(IndexError::BadQuery(_))
    ));
    assert!(matches!(
        object_alerts(
            &snap,
            &s,
            1,
            PageRequest {
                limit: 0,
                cursor: None
            }
        )
        .await,
        Err(IndexError::BadQuery(_))
    ));
    for bad in ["", "x", "o123", "ozz.1", "t3ff0000000000000.1"] {
        assert!(
            matches!(
                object_alerts(&snap, &s, 1, page(Some(bad))).await,
                Err(IndexError::BadCursor(_))
            ),
            "{bad}"
        );
    }
    // A cursor of one query kind is refused by another.
    let first = object_alerts(
        &snap,
        &s,
        501,
        PageRequest {
            limit: 1,
            cursor: None,
        },
    )
    .await
    .unwrap();
    let cursor = first.next_cursor.expect("object 501 has more than one row");
    assert!(matches!(
        time_range(&snap, &s, 0.0, 1e6, page(Some(&cursor))).await,
        Err(IndexError::BadCursor(_))
    ));
}
