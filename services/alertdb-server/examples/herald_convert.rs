//! Times the Herald-compatible conversions on one thread, without HTTP: for each of `COUNT`
//! alerts of a benchmark archive (scripts/bench/herald.sh writes one), gunzip, then the Avro
//! object container, the JSON and the FITS file, and prints the mean time of each step.
//!
//! Usage: `herald_convert ARCHIVE_DIR FIRST_ID COUNT SCHEMA_ID`

use alert_packet::{value, wire, Schema};
use alertdb_server::herald::{avro_container, fits, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 5,
        "usage: herald_convert ARCHIVE_DIR FIRST_ID COUNT SCHEMA_ID"
    );
    let dir = PathBuf::from(&args[1]);
    let first: u64 = args[2].parse()?;
    let count: u64 = args[3].parse()?;
    let schema_text = std::fs::read(dir.join(format!("v2/schemas/{}.json", args[4])))?;
    let schema = Schema::parse_str(std::str::from_utf8(&schema_text)?)?;
    let mut times = [Duration::ZERO; 7];
    let mut sizes = [0usize; 4];
    for id in first..first + count {
        let key = alert_archive::alert_key(alert_archive::Layout::V2, id);
        let stored = std::fs::read(dir.join(key.as_ref()))?;
        let t = Instant::now();
        let message = alert_archive::gunzip(&stored, 64 << 20)?;
        times[0] += t.elapsed();
        let t = Instant::now();
        let whole = alertdb_server::herald::gunzip_whole(
            &alertdb_server::archive::StoredAlert {
                bytes: stored.clone().into(),
                encoding: alert_archive::Encoding::Gzip,
            },
            64 << 20,
        );
        times[6] += t.elapsed();
        anyhow::ensure!(
            whole.as_deref() == Some(&message[..]),
            "gunzip_whole differs"
        );
        let body = &message[wire::HEADER_LEN..];

        let t = Instant::now();
        let ocf =
            avro_container(id, &schema_text, &schema, body).map_err(|e| anyhow::anyhow!("{e}"))?;
        times[1] += t.elapsed();
        sizes[0] += ocf.len();

        let t = Instant::now();
        let text = json::transcode(&schema, body)?;
        times[2] += t.elapsed();
        sizes[1] += text.len();

        let t = Instant::now();
        let decoded = value::decode(&schema, body)?;
        times[3] += t.elapsed();

        let t = Instant::now();
        let file = fits::alert_fits(&schema, &decoded)?;
        times[4] += t.elapsed();
        sizes[2] += file.len();

        let t = Instant::now();
        let cutouts = fits::cutouts_fits(&schema, &decoded)?;
        times[5] += t.elapsed();
        sizes[3] += cutouts.len();
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / count as f64;
    println!("{count} alerts, one thread; mean per alert:");
    for (name, i) in [
        ("gunzip (streaming, /v1)", 0),
        ("gunzip (whole, libdeflate)", 6),
        ("avro container (skip + copy)", 1),
        ("json (transcode)", 2),
        ("decode to values", 3),
        ("fits from values", 4),
        ("cutouts fits from values", 5),
    ] {
        println!("  {name:<30} {:>9.1} µs", per(times[i]));
    }
    let n = count as usize;
    println!(
        "  sizes: avro {} B, json {} B, fits {} B, cutouts {} B",
        sizes[0] / n,
        sizes[1] / n,
        sizes[2] / n,
        sizes[3] / n
    );
    Ok(())
}
