//! The alert archive's layout in object storage, shared by its only writer
//! (`alertdb-ingester`) and its reader (`alertdb-server`).
//!
//! | layout | alert | schema |
//! |---|---|---|
//! | `v2` (current) | `v2/alerts/{first 6 digits of id}/{id}.avro.gz` | `v2/schemas/{id}.json` |
//! | `v1` (the design note's era) | `alert_archive/v1/alerts/{id}.avro.gz` | `alert_archive/v1/schemas/{id}.json` |
//!
//! An alert object is the gzip of the whole Confluent wire-format message; older archives also
//! hold uncompressed `.avro` objects. A schema object is the registry's schema string, UTF-8.
//! Alerts and schemas never change once written. Readers try [`alert_candidates`] in order.
//!
//! Gzip output here is deterministic (no timestamp, no file name), so writing an alert twice,
//! as at-least-once delivery does, gives the same bytes.

mod igzip;

use libdeflater::{CompressionLvl, Compressor};
use object_storage::object_store::path::Path;
use std::fmt;
use std::io::Read;
use std::str::FromStr;
use std::sync::Mutex;

/// Which key layout to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Layout {
    #[default]
    V2,
    V1,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::V2 => "v2",
            Layout::V1 => "v1",
        })
    }
}

impl FromStr for Layout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "v2" => Ok(Layout::V2),
            "v1" => Ok(Layout::V1),
            other => Err(format!("unknown archive layout `{other}`; use v2 or v1")),
        }
    }
}

/// How an alert object is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Plain,
}

/// The key of an alert in `layout`, gzip-compressed (what the ingester writes).
pub fn alert_key(layout: Layout, alert_id: u64) -> Path {
    alert_key_with(layout, alert_id, Encoding::Gzip)
}

fn alert_key_with(layout: Layout, alert_id: u64, encoding: Encoding) -> Path {
    let id = alert_id.to_string();
    let extension = match encoding {
        Encoding::Gzip => "avro.gz",
        Encoding::Plain => "avro",
    };
    match layout {
        Layout::V2 => {
            let shard = &id[..id.len().min(6)];
            Path::from(format!("v2/alerts/{shard}/{id}.{extension}"))
        }
        Layout::V1 => Path::from(format!("alert_archive/v1/alerts/{id}.{extension}")),
    }
}

/// The key of a schema in `layout`.
pub fn schema_key(layout: Layout, schema_id: u32) -> Path {
    match layout {
        Layout::V2 => Path::from(format!("v2/schemas/{schema_id}.json")),
        Layout::V1 => Path::from(format!("alert_archive/v1/schemas/{schema_id}.json")),
    }
}

/// Where an alert may be, in the order readers try them: v2 gzip, v2 plain, v1 gzip, v1 plain.
pub fn alert_candidates(alert_id: u64) -> [(Path, Encoding); 4] {
    [
        (
            alert_key_with(Layout::V2, alert_id, Encoding::Gzip),
            Encoding::Gzip,
        ),
        (
            alert_key_with(Layout::V2, alert_id, Encoding::Plain),
            Encoding::Plain,
        ),
        (
            alert_key_with(Layout::V1, alert_id, Encoding::Gzip),
            Encoding::Gzip,
        ),
        (
            alert_key_with(Layout::V1, alert_id, Encoding::Plain),
            Encoding::Plain,
        ),
    ]
}

/// Where a schema may be, in the order readers try them.
pub fn schema_candidates(schema_id: u32) -> [Path; 2] {
    [
        schema_key(Layout::V2, schema_id),
        schema_key(Layout::V1, schema_id),
    ]
}

/// Gzip with a fixed header (mtime 0, no name): the same input always gives the same bytes
/// from the same build on the same kind of CPU, and always the same alert when decompressed.
/// `level` is 0–9 (higher values are treated as 9).
///
/// Level 1, the archive's default, is ISA-L's igzip; the other levels are libdeflate. Measured
/// in `alertdb-ingester`'s `gzip_levels` bench on ~112 KB alerts: igzip's level 1 is ~3× as
/// fast as libdeflate's for ~2% more bytes, and libdeflate's level 1 is as fast as zlib's
/// level 1 with ~14% fewer bytes. Past level 1 matches save little on alerts (most of the gain
/// is the Huffman coding of the cutouts' and the histories' bytes), so levels 2–9 are for an
/// operator who pays for storage more than for CPU.
pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    if level == 1 {
        if let Some(out) = gzip_with(Deflater::Igzip, data, 1) {
            return out;
        }
    }
    gzip_with(Deflater::Libdeflate, data, level).expect("libdeflate always compresses")
}

/// A deflate implementation [`gzip_with`] can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deflater {
    /// ISA-L's igzip: levels 0, 1 and 3.
    Igzip,
    /// libdeflate: levels 0–12.
    Libdeflate,
}

/// Gzip with one implementation (fixed header, as [`gzip`]); `None` when it does not offer
/// `level`, or (igzip) it failed. [`gzip`] picks the implementation; this is for measuring them.
pub fn gzip_with(deflater: Deflater, data: &[u8], level: u32) -> Option<Vec<u8>> {
    match deflater {
        Deflater::Igzip => igzip::gzip(data, igzip::Level::from_gzip_level(level)?),
        Deflater::Libdeflate => {
            let level = level.min(9);
            let mut compressor = take_compressor(level);
            let mut out = vec![0u8; compressor.gzip_compress_bound(data.len())];
            // The bound is libdeflate's own worst case, so there is always room.
            let written = compressor
                .gzip_compress(data, &mut out)
                .expect("output sized by gzip_compress_bound");
            out.truncate(written);
            give_back(level, compressor);
            Some(out)
        }
    }
}

/// Idle libdeflate compressors, reused because a compressor is a large allocation (its
/// match-finder tables) that would otherwise be made and faulted in on every call.
static IDLE_COMPRESSORS: IdlePool<Compressor> = IdlePool::new();

fn take_compressor(level: u32) -> Compressor {
    IDLE_COMPRESSORS.take(level, || {
        // 0–9 is always a valid libdeflate level (it accepts 0–12).
        Compressor::new(CompressionLvl::new(level as i32).unwrap_or_default())
    })
}

fn give_back(level: u32, compressor: Compressor) {
    IDLE_COMPRESSORS.give_back(level, compressor);
}

/// Compression state kept between calls, keyed by level; bounded so a burst of concurrent
/// callers cannot pin memory for good.
pub(crate) struct IdlePool<T> {
    idle: Mutex<Vec<(u32, T)>>,
}

impl<T> IdlePool<T> {
    const MAX_IDLE: usize = 8;

    pub(crate) const fn new() -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle item for `level`, or a new one from `make`.
    pub(crate) fn take(&self, level: u32, make: impl FnOnce() -> T) -> T {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        match idle.iter().position(|(l, _)| *l == level) {
            Some(at) => idle.swap_remove(at).1,
            None => {
                drop(idle);
                make()
            }
        }
    }

    /// Keeps `item` for the next caller, dropping the oldest idle one when full.
    pub(crate) fn give_back(&self, level: u32, item: T) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= Self::MAX_IDLE {
            idle.remove(0);
        }
        idle.push((level, item));
    }
}

/// A gzip object that does not decompress.
#[derive(Debug, thiserror::Error)]
#[error("corrupt gzip object: {0}")]
pub struct GunzipError(#[from] std::io::Error);

/// Decompresses a gzip object, refusing output larger than `limit` bytes.
pub fn gunzip(data: &[u8], limit: u64) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::with_capacity(data.len() * 2);
    let mut decoder = flate2::read::GzDecoder::new(data).take(limit + 1);
    decoder.read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(GunzipError(std::io::Error::other(format!(
            "decompresses to more than {limit} bytes"
        ))));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_layouts() {
        assert_eq!(
            alert_key(Layout::V2, 170_032_483_741_696).as_ref(),
            "v2/alerts/170032/170032483741696.avro.gz"
        );
        assert_eq!(
            alert_key(Layout::V2, 42).as_ref(),
            "v2/alerts/42/42.avro.gz"
        );
        assert_eq!(
            alert_key(Layout::V1, 42).as_ref(),
            "alert_archive/v1/alerts/42.avro.gz"
        );
        assert_eq!(
            schema_key(Layout::V2, 1101).as_ref(),
            "v2/schemas/1101.json"
        );
        assert_eq!(
            schema_key(Layout::V1, 1101).as_ref(),
            "alert_archive/v1/schemas/1101.json"
        );
        let candidates = alert_candidates(7);
        assert_eq!(candidates[1].0.as_ref(), "v2/alerts/7/7.avro");
        assert_eq!(
            candidates[3],
            (
                Path::from("alert_archive/v1/alerts/7.avro"),
                Encoding::Plain
            )
        );
        assert_eq!("v1".parse::<Layout>(), Ok(Layout::V1));
        assert!("v3".parse::<Layout>().is_err());
    }

    #[test]
    fn gzip_is_deterministic_and_round_trips() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let a = gzip(&data, 6);
        assert_eq!(a, gzip(&data, 6), "same bytes every time");
        assert_eq!(&a[4..8], &[0, 0, 0, 0], "no timestamp");
        assert_eq!(gunzip(&a, 1 << 20).unwrap(), data);
        assert!(gunzip(&a, 1000).is_err(), "output limit enforced");
        assert!(gunzip(b"not gzip", 1000).is_err());
        for level in [0, 1, 9, 12] {
            let z = gzip(&data, level);
            assert_eq!(gunzip(&z, 1 << 20).unwrap(), data, "level {level}");
            assert_eq!(z, gzip(&data, level), "level {level} is deterministic");
            assert_eq!(&z[..4], &[0x1f, 0x8b, 8, 0], "no name, no extra fields");
            assert_eq!(z[9], 255, "OS unknown");
        }
        assert_eq!(gunzip(&gzip(b"", 1), 10).unwrap(), b"");
    }

    #[test]
    fn igzip_handles_incompressible_and_empty_input() {
        // xorshift noise: deflate cannot shrink it, so igzip must emit stored blocks in the room
        // gzip_with gives it.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        for data in [&noise[..], b""] {
            let z = gzip_with(Deflater::Igzip, data, 1).expect("igzip level 1");
            assert_eq!(gunzip(&z, 1 << 20).unwrap(), data);
            assert_eq!(z, gzip(data, 1), "level 1 is igzip");
        }
        assert!(
            gzip_with(Deflater::Igzip, b"x", 2).is_none(),
            "igzip has no level 2"
        );
    }
}
