//! Benchmark of alert-packet against fastavro, side by side on the same bytes.
//!
//! ```text
//! cargo run --release -p alert-packet --example codec_bench -- SCHEMA_DIR PYTHON [STREAM_FILE]
//! ```
//!
//! Generates ~100–112 KB alerts of v11.1 and v10.0 in two shapes (history-heavy: 100 previous
//! sources + 100 forced sources + three ~17 KB cutouts; cutout-heavy: 30 + 30 and three ~31 KB
//! cutouts), times decoding, re-encoding 10.0 → 11.1, identity 11.1 → 11.1 and alert-id
//! extraction on one thread, runs fastavro's `schemaless_reader`/`schemaless_writer` on the
//! same bytes (scripts/bench/fastavro_codec.py), and prints both with their ratio. With
//! STREAM_FILE it also writes a ~1.1 GB uncompressed container file of 10.0 alerts there
//! (once) and reports the peak RSS of a separate process that streams it (alert id and
//! re-encoding to 11.1 of every alert).

use alert_packet::alert::alert_id;
use alert_packet::container::{Codec, ContainerReader};
use alert_packet::generate::{write_visit, AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::resolve::Resolution;
use alert_packet::tree::{SchemaTree, SchemaVersion};
use alert_packet::value::decode;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const ALERTS_PER_SHAPE: usize = 300;

struct Shape {
    name: &'static str,
    config: GeneratorConfig,
}

fn shapes() -> [Shape; 2] {
    [
        Shape {
            name: "history-heavy",
            config: GeneratorConfig {
                seed: 1,
                prv_sources: 100,
                prv_forced_sources: 100,
                cutout_bytes: Some(17_280),
                null_one_in: 0,
            },
        },
        Shape {
            name: "cutout-heavy",
            config: GeneratorConfig {
                seed: 2,
                prv_sources: 30,
                prv_forced_sources: 30,
                cutout_bytes: Some(31_680),
                null_one_in: 0,
            },
        },
    ]
}

fn generate(
    tree: &SchemaTree,
    version: SchemaVersion,
    config: &GeneratorConfig,
) -> Result<Vec<Vec<u8>>> {
    let mut generator = AlertGenerator::new(tree.get(version)?.schema.clone(), config.clone())?;
    let spec = VisitSpec {
        alerts: ALERTS_PER_SHAPE,
        ..VisitSpec::default()
    };
    let mut rng = SplitMix64::new(3);
    Ok((0..ALERTS_PER_SHAPE)
        .map(|i| generator.alert_body(&spec.context(i, &mut rng)))
        .collect())
}

fn write_bodies(path: &Path, bodies: &[Vec<u8>]) -> Result<()> {
    let mut data = Vec::new();
    for body in bodies {
        data.extend_from_slice(&(body.len() as u32).to_be_bytes());
        data.extend_from_slice(body);
    }
    std::fs::write(path, data)?;
    Ok(())
}

/// Runs `f` over the bodies repeatedly for at least `min` and returns items per second.
fn rate(bodies: &[Vec<u8>], min: Duration, mut f: impl FnMut(&[u8])) -> f64 {
    let started = Instant::now();
    let mut done = 0usize;
    while started.elapsed() < min {
        for body in bodies {
            f(body);
        }
        done += bodies.len();
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--stream") {
        return stream(Path::new(&args[2]), Path::new(&args[3]));
    }
    let (Some(dir), Some(python)) = (args.get(1), args.get(2)) else {
        return Err("usage: codec_bench SCHEMA_DIR PYTHON [STREAM_FILE]".into());
    };
    let tree = SchemaTree::load(Path::new(dir))?;
    let v11: SchemaVersion = "11.1".parse()?;
    let v10: SchemaVersion = "10.0".parse()?;
    let work = std::env::temp_dir().join(format!("codec-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let min = Duration::from_secs(2);
    let reencode_10 =
        Resolution::new(tree.get(v10)?.schema.clone(), tree.get(v11)?.schema.clone())?;
    let identity = Resolution::new(tree.get(v11)?.schema.clone(), tree.get(v11)?.schema.clone())?;
    assert!(identity.is_identity());

    println!("| shape | version | mean size | operation | ours (alerts/s) | fastavro (alerts/s) | ratio |");
    println!("|---|---|---|---|---|---|---|");
    for shape in shapes() {
        for version in [v11, v10] {
            let bodies = generate(&tree, version, &shape.config)?;
            let mean = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len();
            let bodies_file = work.join(format!("{}-{version}.bin", shape.name));
            write_bodies(&bodies_file, &bodies)?;
            let schema = tree.get(version)?.schema.clone();
            let decode_rate = rate(&bodies, min, |b| {
                std::hint::black_box(decode(&schema, b).ok());
            });
            let mut out = Vec::with_capacity(256 * 1024);
            let (operation, resolution, reencode_op) = if version == v10 {
                ("re-encode 10.0 → 11.1", &reencode_10, "reencode")
            } else {
                ("re-encode 11.1 → 11.1", &identity, "identity")
            };
            let reencode_rate = rate(&bodies, min, |b| {
                out.clear();
                resolution.reencode(b, &mut out).ok();
                std::hint::black_box(&out);
            });
            let python_out = Command::new(python)
                .arg(integration_root().join("scripts/bench/fastavro_codec.py"))
                .arg(&bodies_file)
                .arg(&tree.get(version)?.path)
                .arg(&tree.get(v11)?.path)
                .arg(reencode_op)
                .output()?;
            if !python_out.status.success() {
                return Err(format!(
                    "fastavro benchmark failed: {}",
                    String::from_utf8_lossy(&python_out.stderr)
                )
                .into());
            }
            let theirs: serde_json::Value = serde_json::from_slice(&python_out.stdout)?;
            let their_decode = theirs["decode"].as_f64().unwrap_or(f64::NAN);
            let their_reencode = theirs["reencode"].as_f64().unwrap_or(f64::NAN);
            let kb = mean as f64 / 1000.0;
            println!(
                "| {} | {version} | {kb:.0} KB | decode to values | {decode_rate:.0} | {their_decode:.1} | {:.0}× |",
                shape.name,
                decode_rate / their_decode
            );
            println!(
                "| {} | {version} | {kb:.0} KB | {operation} | {reencode_rate:.0} ({:.2} GB/s) | {their_reencode:.1} | {:.0}× |",
                shape.name,
                reencode_rate * mean as f64 / 1e9,
                reencode_rate / their_reencode
            );
            let decode_ratio = decode_rate / their_decode;
            report_row(
                &format!("decode {version}, {} ({kb:.0} KB)", shape.name),
                &format!("{decode_rate:.0} alerts/s"),
                ">= 10x fastavro",
                &format!("fastavro {their_decode:.0} alerts/s"),
                decode_ratio,
                decode_ratio >= 10.0,
            );
            if version == v10 {
                let ratio = reencode_rate / their_reencode;
                report_row(
                    &format!("re-encode 10.0 → 11.1, {} ({kb:.0} KB)", shape.name),
                    &format!("{reencode_rate:.0} alerts/s"),
                    ">= 50x fastavro",
                    &format!("fastavro {their_reencode:.0} alerts/s"),
                    ratio,
                    ratio >= 50.0,
                );
            }
        }
    }

    // Identity as the loader uses it (bodies already validated while reading the container):
    // a plain copy.
    let bodies = generate(&tree, v11, &shapes()[0].config)?;
    let mean = bodies.iter().map(Vec::len).sum::<usize>() as f64 / bodies.len() as f64;
    let mut out = Vec::with_capacity(256 * 1024);
    let trusted = rate(&bodies, min, |b| {
        out.clear();
        identity.reencode_trusted(b, &mut out).ok();
        std::hint::black_box(&out);
    });
    println!(
        "\nidentity 11.1 → 11.1, bodies already validated (copy): {:.2} GB/s",
        trusted * mean / 1e9
    );
    let ids = rate(&bodies, Duration::from_secs(1), |b| {
        std::hint::black_box(alert_id(b).ok());
    });
    println!("alert id extraction: {:.1} million alerts/s", ids / 1e6);
    println!(
        "BENCH-ROW\talert-packet\tidentity re-encode 11.1 → 11.1 (validated bodies)\t{:.2} GB/s\t>= 1 GB/s\t\t\t{}",
        trusted * mean / 1e9,
        verdict(trusted * mean / 1e9 >= 1.0)
    );
    println!(
        "BENCH-ROW\talert-packet\talert id extraction\t{:.0} million/s\t>= 5 million/s\t\t\t{}",
        ids / 1e6,
        verdict(ids >= 5e6)
    );

    if let Some(stream_file) = args.get(3) {
        let path = PathBuf::from(stream_file);
        if !path.exists() {
            // No nulls: fields nullable in 10.0 but required in 11.1 need values.
            let config = GeneratorConfig {
                null_one_in: 0,
                ..GeneratorConfig::default()
            };
            let mut generator = AlertGenerator::new(tree.get(v10)?.schema.clone(), config)?;
            let spec = VisitSpec {
                alerts: 10_400,
                ..VisitSpec::default()
            };
            let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
            write_visit(&mut generator, &spec, file, Codec::Null)?;
        }
        let size = std::fs::metadata(&path)?.len();
        let child = Command::new(std::env::current_exe()?)
            .arg("--stream")
            .arg(&path)
            .arg(dir)
            .output()?;
        if !child.status.success() {
            return Err(format!(
                "streaming failed: {}",
                String::from_utf8_lossy(&child.stderr)
            )
            .into());
        }
        let report = String::from_utf8_lossy(&child.stdout);
        println!(
            "streaming a {:.2} GB container file (alert ids + re-encode 10.0 → 11.1 of every alert): {}",
            size as f64 / 1e9,
            report.trim()
        );
        if let Some(rss) = report
            .split("peak RSS ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|mb| mb.parse::<f64>().ok())
        {
            println!(
                "BENCH-ROW\talert-packet\tpeak RSS streaming a {:.2} GB container file\t{rss:.1} MB\t<= 100 MB\t\t\t{}",
                size as f64 / 1e9,
                verdict(rss <= 100.0)
            );
        }
    }
    std::fs::remove_dir_all(&work).ok();
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "missed"
    }
}

/// A row of scripts/bench/report.sh's table (tab-separated, after the marker).
fn report_row(figure: &str, measured: &str, target: &str, reference: &str, ratio: f64, met: bool) {
    println!(
        "BENCH-ROW\talert-packet\t{figure}\t{measured}\t{target}\t{reference}\t{ratio:.0}x\t{}",
        verdict(met)
    );
}

fn integration_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Child mode: stream a container file, report alerts, uncompressed bytes and peak RSS.
fn stream(path: &Path, dir: &Path) -> Result<()> {
    let tree = SchemaTree::load(dir)?;
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut reader = ContainerReader::new(file)?;
    let writer = std::sync::Arc::new(reader.schema().clone());
    let resolution = Resolution::new(writer, tree.latest().schema.clone())?;
    let (mut count, mut bytes, mut id_sum) = (0u64, 0u64, 0i64);
    let mut out = Vec::new();
    let started = Instant::now();
    while let Some(datum) = reader.next_datum() {
        let datum = datum?;
        id_sum = id_sum.wrapping_add(alert_id(datum)?);
        out.clear();
        resolution.reencode(datum, &mut out)?;
        count += 1;
        bytes += datum.len() as u64;
    }
    println!(
        "{count} alerts, {:.2} GB of bodies in {:.1} s, peak RSS {:.1} MB (id checksum {id_sum})",
        bytes as f64 / 1e9,
        started.elapsed().as_secs_f64(),
        peak_rss_kb() as f64 / 1024.0
    );
    Ok(())
}
