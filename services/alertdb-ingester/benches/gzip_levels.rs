//! Size and speed of the archive's gzip at every level, on ~112 KB synthetic alerts (v11.1
//! with cutouts), one core: the measurement behind the default `--gzip-level`.
//!
//! Run: `cargo bench -p alertdb-ingester --bench gzip_levels` (needs the schema tree:
//! `ALERT_SCHEMA_DIR=$(scripts/install/schema-dir.sh)`). The reference is a plain copy of the
//! same bytes in the same run.

use alert_packet::generate::{AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::tree::SchemaTree;
use std::time::Instant;

fn main() {
    let alerts: usize = std::env::var("BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let tree = SchemaTree::load_default().expect("schema tree (set ALERT_SCHEMA_DIR)");
    let latest = tree.latest();
    let mut generator =
        AlertGenerator::new(latest.schema.clone(), GeneratorConfig::default()).expect("generator");
    let spec = VisitSpec {
        alerts,
        ..VisitSpec::default()
    };
    let mut rng = SplitMix64::new(7);
    let messages: Vec<Vec<u8>> = (0..alerts)
        .map(|i| {
            let body = generator.alert_body(&spec.context(i, &mut rng));
            alert_packet::wire::frame(latest.version.registry_id(), &body)
        })
        .collect();
    let raw: usize = messages.iter().map(Vec::len).sum();
    println!(
        "{alerts} alerts of {:.1} KB average (schema {}), flate2 + zlib-rs, one core",
        raw as f64 / alerts as f64 / 1000.0,
        latest.version.registry_id()
    );
    let started = Instant::now();
    let mut copied = 0usize;
    for message in &messages {
        copied += std::hint::black_box(message.clone()).len();
    }
    let copy_rate = alerts as f64 / started.elapsed().as_secs_f64();
    assert_eq!(copied, raw);
    println!("reference: copy {copy_rate:.0} alerts/s");
    println!("| level | alerts/s (one core) | MB/s in | output / input | KB per alert |");
    println!("|---|---|---|---|---|");
    for level in 0..=9 {
        let started = Instant::now();
        let mut out = 0usize;
        for message in &messages {
            out += alert_archive::gzip(message, level).len();
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "| {level} | {:.0} | {:.0} | {:.3} | {:.1} |",
            alerts as f64 / seconds,
            raw as f64 / seconds / 1e6,
            out as f64 / raw as f64,
            out as f64 / alerts as f64 / 1000.0
        );
    }
}
