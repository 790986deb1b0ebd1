//! Writes a benchmark archive the way the ingester does: `COUNT` realistic alerts (latest
//! schema, cutouts, ~110 KB) as gzip objects in the v2 layout, and their schema, under `DIR`.
//! Prints the first alert id, the schema id and the mean sizes.
//!
//! Usage: `bench_archive DIR COUNT SCHEMA_TREE_DIR`

use alert_archive::{alert_key, gzip, schema_key, Layout};
use alert_packet::generate::{AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::tree::SchemaTree;
use alert_packet::wire;
use std::path::PathBuf;
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 4,
        "usage: bench_archive DIR COUNT SCHEMA_TREE_DIR"
    );
    let dir = PathBuf::from(&args[1]);
    let count: usize = args[2].parse()?;
    let tree = SchemaTree::load(&PathBuf::from(&args[3]))?;
    let latest = tree.latest();
    let schema_id = latest.version.registry_id();
    let mut generator =
        AlertGenerator::new(Arc::clone(&latest.schema), GeneratorConfig::default())?;
    let spec = VisitSpec {
        alerts: count,
        ..VisitSpec::default()
    };
    let write = |key: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let path = dir.join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, bytes)?;
        Ok(())
    };
    write(
        schema_key(Layout::V2, schema_id).as_ref(),
        latest.schema.to_json().to_string().as_bytes(),
    )?;
    let mut rng = SplitMix64::new(1);
    let (mut raw_total, mut gzip_total) = (0u64, 0u64);
    for i in 0..count {
        let context = spec.context(i, &mut rng);
        let message = wire::frame(schema_id, &generator.alert_body(&context));
        let compressed = gzip(&message, 6);
        raw_total += message.len() as u64;
        gzip_total += compressed.len() as u64;
        write(
            alert_key(Layout::V2, context.alert_id as u64).as_ref(),
            &compressed,
        )?;
    }
    println!(
        "first_alert_id={} schema_id={schema_id} alerts={count} mean_raw_bytes={} mean_gzip_bytes={}",
        spec.first_alert_id,
        raw_total / count.max(1) as u64,
        gzip_total / count.max(1) as u64
    );
    Ok(())
}
