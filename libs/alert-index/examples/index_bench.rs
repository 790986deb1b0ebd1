//! The alert index benchmark: a synthetic night of alerts (10 million rows by default)
//! appended visit by visit as the ingester does, compacted as the CronJob leaves it, in a
//! local-files store; then the three query shapes timed here and, in the same run, by DuckDB
//! on the same Parquet files (`scripts/bench/index_duckdb.py`).
//!
//! ```text
//! cargo run --release -p alert-index --example index_bench -- --dir /tmp/index-bench \
//!     --python .cache/venv/bin/python
//! ```
//! (`scripts/bench/index.sh` runs exactly this.) Prints p50/p99 per query shape, DuckDB's,
//! and the ratio; checks that both engines return the same number of rows for every query.
//!
//! The night: a visit every 37 s for ~10 h, 10 000 alerts a visit, bands ugrizy. Visits
//! come in blocks of 150 that cover 50 fields (pointings of 1.75° radius spread over the
//! Rubin footprint, dec −90°…+30°) three times each, ~31 minutes apart, as the survey
//! revisits fields within a night. Each field has a pool of 12 000 objects at fixed
//! positions, from which each visit detects 10 000 (so most objects have 2–3 detections);
//! 2 % of sources are solar-system (no diaObject). Object ids are hashes: they carry no
//! locality, as for a survey whose objects persist across nights.

use alert_index::query::PageRequest;
use alert_index::{healpix, row, CompactOptions, IndexRow, IndexTable, TABLE_PREFIX};
use alert_packet::generate::SplitMix64;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::ObjectStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ALERTS_PER_VISIT: usize = 10_000;
const VISIT_SECONDS: f64 = 37.0;
const FIELDS_PER_BLOCK: usize = 50;
const VISITS_PER_BLOCK: usize = 150;
const OBJECTS_PER_FIELD: u64 = 12_000;
const FIELD_RADIUS_DEG: f64 = 1.75;
const START_MJD: f64 = 61_376.0;
const LIMIT: usize = 10_000;

struct Args {
    rows: usize,
    dir: PathBuf,
    python: Option<PathBuf>,
    queries: usize,
    reuse: bool,
}

fn args() -> Args {
    let mut args = Args {
        rows: 10_000_000,
        dir: std::env::temp_dir().join("alert-index-bench"),
        python: None,
        queries: 200,
        reuse: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => args.rows = value().parse().expect("--rows N"),
            "--dir" => args.dir = PathBuf::from(value()),
            "--python" => args.python = Some(PathBuf::from(value())),
            "--queries" => args.queries = value().parse().expect("--queries N"),
            "--reuse" => args.reuse = true,
            other => panic!(
                "unknown flag {other}; flags: --rows N --dir DIR --python PATH --queries N --reuse"
            ),
        }
    }
    args
}

fn mix(x: u64) -> u64 {
    SplitMix64::new(x).next_u64()
}

/// The centre of field `f`: uniform on the sphere for dec in [-90, 30].
fn field_centre(f: u64) -> (f64, f64) {
    let mut rng = SplitMix64::new(0xF1E1D ^ f);
    let ra = rng.unit() * 360.0;
    let (lo, hi) = ((-90f64).to_radians().sin(), 30f64.to_radians().sin());
    let dec = (lo + rng.unit() * (hi - lo)).asin().to_degrees();
    (ra, dec)
}

/// Object `k` of field `f`: a fixed position within the field.
fn object(f: u64, k: u64) -> (i64, f64, f64) {
    let (ra0, dec0) = field_centre(f);
    let mut rng = SplitMix64::new(mix(f << 20 | k));
    let r = FIELD_RADIUS_DEG * rng.unit().sqrt();
    let a = rng.unit() * std::f64::consts::TAU;
    let dec = (dec0 + r * a.sin()).clamp(-89.999, 89.999);
    let ra = (ra0 + r * a.cos() / dec.to_radians().cos().max(0.05)).rem_euclid(360.0);
    let id = (mix(f * 1_000_003 + k) >> 2) as i64;
    (id, ra, dec)
}

fn visit_rows(v: usize) -> Vec<IndexRow> {
    let block = v / VISITS_PER_BLOCK;
    let field = (block * FIELDS_PER_BLOCK + v % FIELDS_PER_BLOCK) as u64;
    let band = ["u", "g", "r", "i", "z", "y"][(mix(field) % 6) as usize];
    let mjd0 = START_MJD + v as f64 * VISIT_SECONDS / 86_400.0;
    let mut rng = SplitMix64::new(mix(v as u64 + 7));
    (0..ALERTS_PER_VISIT)
        .map(|k| {
            let alert_id = (v as i64 + 1) * 100_000 + k as i64;
            let mjd = mjd0 + (k * 189 / ALERTS_PER_VISIT) as f64 * 3.0 / 188.0 / 86_400.0;
            let solar = rng.below(50) == 0;
            let (object_id, ra, dec) = if solar {
                let (ra0, dec0) = field_centre(field);
                (
                    0,
                    ra0 + rng.normal() * 0.5,
                    (dec0 + rng.normal() * 0.5).clamp(-90.0, 90.0),
                )
            } else {
                object(field, rng.below(OBJECTS_PER_FIELD))
            };
            let ra = (ra + rng.normal() * 1e-5).rem_euclid(360.0);
            let dec = (dec + rng.normal() * 1e-5).clamp(-90.0, 90.0);
            let id_text = alert_id.to_string();
            IndexRow {
                alert_id,
                dia_source_id: alert_id,
                dia_object_id: (!solar).then_some(object_id),
                ss_object_id: solar.then(|| (rng.next_u64() >> 4) as i64),
                mjd_tai: mjd,
                time_us: row::mjd_tai_to_unix_us(mjd),
                ra,
                dec,
                healpix29: healpix::healpix29(ra, dec),
                band: Some(band.to_owned()),
                psf_flux: Some(rng.normal() * 2000.0 + 500.0),
                psf_flux_err: Some(rng.unit() * 5.0 + 0.1),
                reliability: Some(rng.unit() as f32),
                schema_id: 1101,
                archive_key: format!("v2/alerts/{}/{alert_id}.avro.gz", &id_text[..6]),
                topic: "alerts-simulated".into(),
                partition: (k % 4) as i32,
                offset: (v * ALERTS_PER_VISIT / 4 + k / 4) as i64,
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Shape {
    name: &'static str,
    times: Vec<Duration>,
    results: Vec<u64>,
    cold: Duration,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args();
    std::fs::create_dir_all(&args.dir)?;
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&args.dir)?);
    let visits = args.rows.div_ceil(ALERTS_PER_VISIT);
    let table_dir = args.dir.join(TABLE_PREFIX);
    if !args.reuse && table_dir.exists() {
        std::fs::remove_dir_all(&table_dir)?;
    }
    let table = IndexTable::open(store.clone(), Path::from(TABLE_PREFIX)).await?;
    if table.snapshot().await?.num_records() == 0 {
        let started = Instant::now();
        // Two writers, as two ingester replicas would: visits alternate between them.
        let table = Arc::new(table);
        let mut writers = Vec::new();
        for w in 0..2 {
            let table = table.clone();
            writers.push(tokio::spawn(async move {
                for v in (w..visits).step_by(2) {
                    let rows = tokio::task::spawn_blocking(move || visit_rows(v))
                        .await
                        .unwrap();
                    table.append(rows, vec![]).await.unwrap();
                }
            }));
        }
        for w in writers {
            w.await?;
        }
        let snapshot = table.snapshot().await?;
        println!(
            "appended {} rows in {} files ({} commits) in {:.1} s",
            snapshot.num_records(),
            snapshot.files().len(),
            snapshot.version(),
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let report = table.compact(CompactOptions::default()).await?;
        println!(
            "compacted {} files into {} ({} rows) in {:.1} s",
            report.files_removed,
            report.files_added,
            report.rows,
            started.elapsed().as_secs_f64()
        );
    }
    // A fresh reader, as the server is: it reads the log and caches footers as it goes.
    let started = Instant::now();
    let snapshot = alert_index::Snapshot::load(&store, TABLE_PREFIX)
        .await?
        .expect("table");
    println!(
        "snapshot: version {}, {} files, {} rows, {} bytes; log read in {:.1} ms",
        snapshot.version(),
        snapshot.files().len(),
        snapshot.num_records(),
        snapshot.files().iter().map(|f| f.size).sum::<u64>(),
        ms(started.elapsed())
    );

    // Query parameters: objects and positions of random rows (so queries hit), 1-hour windows.
    let mut rng = SplitMix64::new(42);
    let mut objects = Vec::new();
    let mut cones = Vec::new();
    while objects.len() < args.queries {
        let v = rng.below(visits as u64) as usize;
        let rows = visit_rows(v);
        let r = &rows[rng.below(rows.len() as u64) as usize];
        if let Some(id) = r.dia_object_id {
            objects.push(id);
            cones.push((r.ra, r.dec));
        }
    }
    let night_end = START_MJD + visits as f64 * VISIT_SECONDS / 86_400.0;
    let windows: Vec<(f64, f64)> = (0..args.queries)
        .map(|_| {
            let since = START_MJD + rng.unit() * (night_end - START_MJD - 1.0 / 24.0).max(0.0);
            (since, since + 1.0 / 24.0)
        })
        .collect();
    let radius = 1.0 / 60.0;

    let page = || PageRequest {
        limit: LIMIT,
        cursor: None,
    };
    let mut shapes: Vec<Shape> = ["object", "cone 1'", "count 1 h"]
        .into_iter()
        .map(|name| Shape {
            name,
            times: vec![],
            results: vec![],
            cold: Duration::ZERO,
        })
        .collect();
    // Two passes of the same queries: the first reads the footers and bloom filters (its
    // first query is the cold figure), the second, with them cached, gives the figures
    // reported and must find the same rows.
    for pass in 0..2 {
        let mut answers: [Vec<(Duration, u64)>; 3] = Default::default();
        for id in &objects {
            let t = Instant::now();
            let p = alert_index::object_alerts(&snapshot, &store, *id, page()).await?;
            answers[0].push((t.elapsed(), p.rows.len() as u64));
        }
        for (ra, dec) in &cones {
            let t = Instant::now();
            let p = alert_index::cone(&snapshot, &store, *ra, *dec, radius, page()).await?;
            answers[1].push((t.elapsed(), p.rows.len() as u64));
        }
        for (since, until) in &windows {
            let t = Instant::now();
            let n = alert_index::count_time_range(&snapshot, &store, *since, *until).await?;
            answers[2].push((t.elapsed(), n));
        }
        for (shape, answers) in shapes.iter_mut().zip(answers) {
            let (times, results): (Vec<Duration>, Vec<u64>) = answers.into_iter().unzip();
            if pass == 0 {
                shape.cold = times.first().copied().unwrap_or_default();
                shape.results = results;
            } else {
                assert_eq!(
                    results, shape.results,
                    "{}: the warm pass differs",
                    shape.name
                );
                shape.times = times;
            }
        }
    }

    // Not a target of the issue: the first 100 rows of a 1-hour window (the server's time
    // search), reported for information.
    let mut page_times = Vec::new();
    for (since, until) in windows.iter().take(20) {
        let t = Instant::now();
        let p = alert_index::time_range(
            &snapshot,
            &store,
            *since,
            *until,
            PageRequest {
                limit: 100,
                cursor: None,
            },
        )
        .await?;
        page_times.push(t.elapsed());
        assert_eq!(p.rows.len(), 100);
    }
    page_times.sort();
    println!(
        "time range, first page of 100 rows of a 1-hour window: p50 {:.1} ms, max {:.1} ms (20 queries)",
        ms(percentile(&page_times, 0.5)),
        ms(percentile(&page_times, 1.0))
    );

    // DuckDB on the same files, same queries.
    let mut duck: Option<serde_json::Value> = None;
    if let Some(python) = &args.python {
        let spec = serde_json::json!({
            "files": snapshot.files().iter().map(|f| table_dir.join(&f.path).display().to_string()).collect::<Vec<_>>(),
            "limit": LIMIT,
            "objects": objects,
            "cones": cones.iter().map(|(ra, dec)| {
                let ranges = healpix::cone_ranges(*ra, *dec, radius);
                serde_json::json!({"ra": ra, "dec": dec, "radius": radius,
                    "ranges": ranges.iter().map(|r| [r.start, r.end]).collect::<Vec<_>>()})
            }).collect::<Vec<_>>(),
            "windows": windows,
        });
        let spec_path = args.dir.join("queries.json");
        std::fs::write(&spec_path, serde_json::to_vec(&spec)?)?;
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench/index_duckdb.py");
        let out = std::process::Command::new(python)
            .arg(&script)
            .arg(&spec_path)
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "{}: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        duck = Some(serde_json::from_slice(&out.stdout)?);
    }

    println!();
    println!("| query | ours p50 | ours p99 | ours cold | DuckDB p50 | DuckDB p99 | p50 ratio | p99 ratio | rows/query (mean) | same rows |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let keys = ["object", "cone", "count"];
    let mut bench_rows = Vec::new();
    for (shape, key) in shapes.iter_mut().zip(keys) {
        shape.times.sort();
        let (p50, p99) = (
            percentile(&shape.times, 0.5),
            percentile(&shape.times, 0.99),
        );
        let mean = shape.results.iter().sum::<u64>() as f64 / shape.results.len().max(1) as f64;
        let (d50, d99, same) = match &duck {
            Some(d) => {
                let mut t: Vec<f64> = d[key]["ms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|v| v.as_f64())
                    .collect();
                t.sort_by(f64::total_cmp);
                let pick = |p: f64| t[((t.len() as f64 - 1.0) * p).round() as usize];
                let counts: Vec<u64> = d[key]["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|v| v.as_u64())
                    .collect();
                (
                    Some(pick(0.5)),
                    Some(pick(0.99)),
                    Some(counts == shape.results),
                )
            }
            None => (None, None, None),
        };
        let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2} ms"));
        let ratio = |ours: Duration, theirs: Option<f64>| {
            theirs.map_or("-".to_owned(), |t| format!("{:.2}x", ms(ours) / t))
        };
        println!(
            "| {} | {:.2} ms | {:.2} ms | {:.2} ms | {} | {} | {} | {} | {:.1} | {} |",
            shape.name,
            ms(p50),
            ms(p99),
            ms(shape.cold),
            fmt(d50),
            fmt(d99),
            ratio(p50, d50),
            ratio(p99, d99),
            mean,
            same.map_or("-".to_owned(), |s| if s {
                "yes".into()
            } else {
                "NO".into()
            }),
        );
        // Targets (issue 19): object p50 <= 50 ms and p99 <= 200 ms; cone p99 <= 300 ms;
        // 1-hour count <= 500 ms (taken at p99); each shape <= 1.0x DuckDB's latency.
        let targets: &[(&str, Duration, f64, Option<f64>)] = match key {
            "object" => &[("p50", p50, 50.0, d50), ("p99", p99, 200.0, d99)],
            "cone" => &[("p99", p99, 300.0, d99)],
            _ => &[("p99", p99, 500.0, d99)],
        };
        for (which, ours, limit, theirs) in targets {
            let ratio_ok = theirs.is_none_or(|t| ms(*ours) <= t);
            let same_ok = same.unwrap_or(true);
            bench_rows.push([
                "alert-index".to_owned(),
                format!(
                    "{} {which}, {} rows, warm",
                    shape.name,
                    snapshot.num_records()
                ),
                format!("{:.2} ms", ms(*ours)),
                format!("<= {limit} ms, <= 1.0x DuckDB"),
                theirs.map_or("-".into(), |t| format!("DuckDB {t:.2} ms")),
                ratio(*ours, *theirs),
                if ms(*ours) <= *limit && ratio_ok && same_ok {
                    "met".into()
                } else {
                    "missed".into()
                },
            ]);
        }
    }
    println!();
    for row in bench_rows {
        println!("BENCH-ROW\t{}", row.join("\t"));
    }
    if let Some(d) = &duck {
        println!(
            "\nDuckDB {} ({} threads), object cache on, warm pass timed",
            d["version"], d["threads"]
        );
    }
    Ok(())
}
