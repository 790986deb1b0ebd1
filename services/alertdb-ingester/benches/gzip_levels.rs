//! Size and speed of the archive's gzip at every level, on ~112 KB synthetic alerts (v11.1
//! with cutouts), one core: the measurement behind the default `--gzip-level` and behind the
//! deflate implementation. The two implementations `alert_archive::gzip` uses (ISA-L's igzip
//! at level 1 and libdeflate at the others) are measured beside flate2 with the zlib-rs backend
//! (zlib's algorithm; the archive's first implementation), all with the same fixed header.
//!
//! A last table runs igzip on two threads at once, as the ingester does, with and without
//! reusing its stream between calls.
//!
//! Run: `cargo bench -p alertdb-ingester --bench gzip_levels` (needs the schema tree:
//! `ALERT_SCHEMA_DIR=$(scripts/install/schema-dir.sh)`). The reference is a plain copy of the
//! same bytes in the same run. Each row is the fastest of `BENCH_ROUNDS` (default 3) rounds,
//! the rounds of both implementations interleaved, because the machine is shared; rates are
//! per second of this thread's CPU time (`/proc/thread-self/schedstat`), so other work on the
//! machine slows the run but not the figures.

use alert_packet::generate::{AlertGenerator, GeneratorConfig, SplitMix64, VisitSpec};
use alert_packet::tree::SchemaTree;
use std::io::Write;

#[path = "support/thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::thread_cpu_seconds;

use alert_archive::{gzip_with, Deflater};

/// A gzip implementation; `None` for a level it does not offer.
type Gzip = fn(&[u8], u32) -> Option<Vec<u8>>;

fn main() {
    let alerts: usize = std::env::var("BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
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
        "{alerts} alerts of {:.1} KB average (schema {}), one core",
        raw as f64 / alerts as f64 / 1000.0,
        latest.version.registry_id()
    );
    let started = thread_cpu_seconds();
    let mut copied = 0usize;
    for message in &messages {
        copied += std::hint::black_box(message.clone()).len();
    }
    let copy_rate = alerts as f64 / (thread_cpu_seconds() - started);
    assert_eq!(copied, raw);
    println!("reference: copy {copy_rate:.0} alerts per CPU-second");
    println!("| level | implementation | alerts per CPU-second | MB in per CPU-second | output / input | KB per alert |");
    println!("|---|---|---|---|---|---|");
    let implementations: [(&str, Gzip); 3] = [
        ("igzip", |data, level| {
            gzip_with(Deflater::Igzip, data, level)
        }),
        ("libdeflate", |data, level| {
            gzip_with(Deflater::Libdeflate, data, level)
        }),
        ("zlib-rs", |data, level| Some(zlib_rs_gzip(data, level))),
    ];
    for level in 0..=9 {
        // (CPU seconds, bytes out) of the fastest round, per implementation; None: not offered.
        let mut best: [Option<(f64, usize)>; 3] = [None; 3];
        for _ in 0..rounds {
            for (i, (_, gzip)) in implementations.iter().enumerate() {
                let started = thread_cpu_seconds();
                let mut out = 0usize;
                for message in &messages {
                    match gzip(message, level) {
                        Some(z) => out += z.len(),
                        None => break,
                    }
                }
                let seconds = thread_cpu_seconds() - started;
                if out > 0 && best[i].is_none_or(|(fastest, _)| seconds < fastest) {
                    best[i] = Some((seconds, out));
                }
            }
        }
        for ((name, _), best) in implementations.iter().zip(best) {
            let Some((seconds, out)) = best else { continue };
            println!(
                "| {level} | {name} | {:.0} | {:.0} | {:.3} | {:.1} |",
                alerts as f64 / seconds,
                raw as f64 / seconds / 1e6,
                out as f64 / raw as f64,
                out as f64 / alerts as f64 / 1000.0
            );
        }
        if let (1, [Some(igzip), Some(libdeflate), Some(zlib)]) = (level, best) {
            // A row of scripts/bench/report.sh's table: the default level, as the archive
            // uses it, against zlib's algorithm at the same level.
            println!(
                "BENCH-ROW\talertdb-ingester\tgzip level 1 (the default), igzip, one core\t{:.0} alerts per CPU-second, {:.3} of the input (libdeflate: {:.0}, {:.3})\t\tzlib-rs level 1 {:.0} alerts per CPU-second, {:.3}\t{:.2}x\t",
                alerts as f64 / igzip.0,
                igzip.1 as f64 / raw as f64,
                alerts as f64 / libdeflate.0,
                libdeflate.1 as f64 / raw as f64,
                alerts as f64 / zlib.0,
                zlib.1 as f64 / raw as f64,
                zlib.0 / igzip.0
            );
        }
    }
    // Levels barely matter past 1 (matches save little on these alerts; the Huffman coding of
    // the cutouts' bytes does most of it): zlib's match-free strategies, for comparison.
    println!("| strategy | implementation | alerts per CPU-second | MB in per CPU-second | output / input | KB per alert |");
    println!("|---|---|---|---|---|---|");
    for (name, strategy) in [
        ("huffman-only", zlib_rs::Strategy::HuffmanOnly),
        ("rle", zlib_rs::Strategy::Rle),
    ] {
        let mut best = (f64::INFINITY, 0usize);
        for _ in 0..rounds {
            let started = thread_cpu_seconds();
            let mut out = 0usize;
            for message in &messages {
                out += zlib_rs_strategy(message, strategy).len();
            }
            best = (best.0.min(thread_cpu_seconds() - started), out);
        }
        let (seconds, out) = best;
        println!(
            "| {name} | zlib-rs | {:.0} | {:.0} | {:.3} | {:.1} |",
            alerts as f64 / seconds,
            raw as f64 / seconds / 1e6,
            out as f64 / raw as f64,
            out as f64 / alerts as f64 / 1000.0
        );
    }
    two_threads(&messages, rounds);
}

/// igzip level 1 on two threads at once, as the ingester runs it (one compression per core):
/// `isal-rs`'s `compress_into`, which sets up a new stream and zero-fills a new work buffer on
/// every call, against the archive's, which reuses them. Same bytes out (checked).
fn two_threads(messages: &[Vec<u8>], rounds: usize) {
    fn fresh_stream(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; data.len() + data.len() / 64 + 1024];
        let written = isal::compress_into(
            data,
            &mut out,
            isal::CompressionLevel::One,
            isal::Codec::Gzip,
        )
        .expect("igzip level 1");
        out.truncate(written);
        out
    }
    fn reused_stream(data: &[u8]) -> Vec<u8> {
        alert_archive::gzip(data, 1)
    }
    assert_eq!(fresh_stream(&messages[0]), reused_stream(&messages[0]));
    println!("| igzip level 1, two threads at once | alerts per CPU-second (each round: thread 1, thread 2) |");
    println!("|---|---|");
    type Whole = fn(&[u8]) -> Vec<u8>;
    let variants: [(&str, Whole); 2] = [
        ("isal-rs compress_into (new stream per call)", fresh_stream),
        ("alert_archive::gzip (reused stream)", reused_stream),
    ];
    let mut results: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (i, (_, gzip)) in variants.iter().enumerate() {
            let gzip = *gzip;
            std::thread::scope(|scope| {
                let threads: Vec<_> = (0..2)
                    .map(|_| {
                        scope.spawn(move || {
                            let started = thread_cpu_seconds();
                            let out: usize = messages.iter().map(|m| gzip(m).len()).sum();
                            std::hint::black_box(out);
                            messages.len() as f64 / (thread_cpu_seconds() - started)
                        })
                    })
                    .collect();
                for thread in threads {
                    results[i].push(thread.join().expect("thread"));
                }
            });
        }
    }
    for ((name, _), rates) in variants.iter().zip(&results) {
        let mut sorted = rates.clone();
        sorted.sort_by(f64::total_cmp);
        let each: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "| {name} | median {:.0} ({}) |",
            sorted[sorted.len() / 2],
            each.join(", ")
        );
    }
}

/// zlib-rs with a gzip wrapper (window bits 16 + 15) and the given strategy.
fn zlib_rs_strategy(data: &[u8], strategy: zlib_rs::Strategy) -> Vec<u8> {
    let config = zlib_rs::DeflateConfig {
        window_bits: 31,
        strategy,
        ..zlib_rs::DeflateConfig::new(1)
    };
    let mut out = vec![0u8; zlib_rs::compress_bound(data.len()) + 32];
    let (written, rc) = zlib_rs::compress_slice(&mut out, data, config);
    assert_eq!(rc, zlib_rs::ReturnCode::Ok);
    let written = written.len();
    out.truncate(written);
    out
}

/// zlib's algorithm: flate2 with the zlib-rs backend, the archive's fixed header.
fn zlib_rs_gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(
            Vec::with_capacity(data.len() / 2 + 64),
            flate2::Compression::new(level),
        );
    encoder.write_all(data).expect("writing into a Vec");
    encoder.finish().expect("writing into a Vec")
}
