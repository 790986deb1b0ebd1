//! Avro object container files, read and written as streams.
//!
//! A container file is a header (magic `Obj\x01`, a metadata map with `avro.schema` and
//! `avro.codec`, a 16-byte sync marker) and then blocks of `count, size, data, sync`, each
//! block's data compressed by the codec. [`ContainerReader`] holds one block in memory at a
//! time and hands out each datum's encoded bytes; [`ContainerWriter`] takes encoded datums and
//! writes a block whenever enough bytes have gathered. Neither ever holds the whole file.
//!
//! Codecs: `null`, `deflate`, `snappy` and `zstandard`.

use crate::binary::{write_bytes, write_long, Cursor, DecodeError};
use crate::schema::{Schema, SchemaError};
use crate::value::skip_node;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

const MAGIC: &[u8; 4] = b"Obj\x01";
const SYNC_LEN: usize = 16;
/// The largest block (compressed or not) we accept: a guard against corrupt sizes.
pub const MAX_BLOCK_BYTES: u64 = 512 << 20;

/// Compression of a container file's blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Null,
    Deflate,
    Snappy,
    Zstandard,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Null => "null",
            Codec::Deflate => "deflate",
            Codec::Snappy => "snappy",
            Codec::Zstandard => "zstandard",
        }
    }

    pub fn from_name(name: &str) -> Option<Codec> {
        Some(match name {
            "null" => Codec::Null,
            "deflate" => Codec::Deflate,
            "snappy" => Codec::Snappy,
            "zstandard" => Codec::Zstandard,
            _ => return None,
        })
    }
}

/// Why a container file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("not an Avro container file: it does not start with `Obj\\x01`")]
    NotAContainer,
    #[error("container header is corrupt: {0}")]
    BadHeader(String),
    #[error("container file's schema is invalid: {0}")]
    Schema(#[from] SchemaError),
    #[error("unsupported codec `{0}` (supported: null, deflate, snappy, zstandard)")]
    UnsupportedCodec(String),
    #[error("block {block} is corrupt: {reason}")]
    BadBlock { block: u64, reason: String },
    #[error("block {block}, datum {datum}: {source}")]
    Datum {
        block: u64,
        datum: u64,
        #[source]
        source: DecodeError,
    },
}

/// Reads a container file's datums one at a time.
#[derive(Debug)]
pub struct ContainerReader<R> {
    input: R,
    schema: Schema,
    schema_json: String,
    codec: Codec,
    sync: [u8; SYNC_LEN],
    metadata: BTreeMap<String, Vec<u8>>,
    block: Vec<u8>,
    scratch: Vec<u8>,
    position: usize,
    remaining_in_block: u64,
    blocks_read: u64,
    datum_in_block: u64,
}

/// Reads a zig-zag varint from a stream; `Ok(None)` at a clean end of input.
fn read_stream_long(input: &mut impl Read) -> Result<Option<i64>, ContainerError> {
    let mut value: u64 = 0;
    let mut shift = 0;
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) if shift == 0 => return Ok(None),
            Ok(0) => return Err(ContainerError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
        if shift > 63 {
            return Err(ContainerError::BadHeader("malformed varint".into()));
        }
        value |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(Some(((value >> 1) as i64) ^ -((value & 1) as i64)));
        }
        shift += 7;
    }
}

/// Reads exactly `len` bytes without trusting `len` for the allocation: the buffer grows only
/// as data actually arrives.
fn read_bounded(input: &mut impl Read, len: u64, out: &mut Vec<u8>) -> Result<(), ContainerError> {
    out.clear();
    let read = input.take(len).read_to_end(out)?;
    if (read as u64) < len {
        return Err(ContainerError::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(())
}

impl<R: Read> ContainerReader<R> {
    /// Reads the header. The writer schema is taken from the file.
    pub fn new(mut input: R) -> Result<Self, ContainerError> {
        let mut magic = [0u8; 4];
        input.read_exact(&mut magic).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => ContainerError::NotAContainer,
            _ => e.into(),
        })?;
        if &magic != MAGIC {
            return Err(ContainerError::NotAContainer);
        }
        let mut metadata = BTreeMap::new();
        let header_error = |what: &str| ContainerError::BadHeader(what.to_owned());
        loop {
            let count = read_stream_long(&mut input)?
                .ok_or_else(|| header_error("ends inside the metadata"))?;
            if count == 0 {
                break;
            }
            if count < 0 {
                // A negative count is followed by the block's byte size, which we do not need.
                read_stream_long(&mut input)?;
            }
            for _ in 0..count.unsigned_abs() {
                let mut key = Vec::new();
                let key_len = read_stream_long(&mut input)?
                    .ok_or_else(|| header_error("ends inside a metadata key"))?;
                if !(0..=1 << 20).contains(&key_len) {
                    return Err(header_error("metadata key length out of range"));
                }
                read_bounded(&mut input, key_len as u64, &mut key)?;
                let value_len = read_stream_long(&mut input)?
                    .ok_or_else(|| header_error("ends inside a metadata value"))?;
                if !(0..=64 << 20).contains(&value_len) {
                    return Err(header_error("metadata value length out of range"));
                }
                let mut value = Vec::new();
                read_bounded(&mut input, value_len as u64, &mut value)?;
                let key = String::from_utf8(key)
                    .map_err(|_| header_error("metadata key is not UTF-8"))?;
                metadata.insert(key, value);
            }
        }
        let mut sync = [0u8; SYNC_LEN];
        input.read_exact(&mut sync)?;
        let schema_bytes = metadata
            .get("avro.schema")
            .ok_or_else(|| header_error("no avro.schema in the metadata"))?;
        let schema_json = String::from_utf8(schema_bytes.clone())
            .map_err(|_| header_error("avro.schema is not UTF-8"))?;
        let schema = Schema::parse_str(&schema_json)?;
        let codec_name = metadata
            .get("avro.codec")
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_else(|| "null".into());
        let codec =
            Codec::from_name(&codec_name).ok_or(ContainerError::UnsupportedCodec(codec_name))?;
        Ok(Self {
            input,
            schema,
            schema_json,
            codec,
            sync,
            metadata,
            block: Vec::new(),
            scratch: Vec::new(),
            position: 0,
            remaining_in_block: 0,
            blocks_read: 0,
            datum_in_block: 0,
        })
    }

    /// The writer schema from the header.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The writer schema's JSON as stored in the header.
    pub fn schema_json(&self) -> &str {
        &self.schema_json
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    pub fn metadata(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.metadata
    }

    fn read_block(&mut self) -> Result<bool, ContainerError> {
        let block = self.blocks_read;
        let bad = |reason: String| ContainerError::BadBlock { block, reason };
        let Some(count) = read_stream_long(&mut self.input)? else {
            return Ok(false);
        };
        let size = read_stream_long(&mut self.input)?
            .ok_or_else(|| bad("ends before the block size".into()))?;
        if count < 0 || size < 0 {
            return Err(bad(format!("negative count {count} or size {size}")));
        }
        if size as u64 > MAX_BLOCK_BYTES {
            return Err(bad(format!(
                "block of {size} bytes exceeds the {MAX_BLOCK_BYTES}-byte limit"
            )));
        }
        read_bounded(&mut self.input, size as u64, &mut self.scratch)
            .map_err(|e| bad(format!("truncated: {e}")))?;
        let mut sync = [0u8; SYNC_LEN];
        self.input
            .read_exact(&mut sync)
            .map_err(|e| bad(format!("missing sync marker: {e}")))?;
        if sync != self.sync {
            return Err(bad("sync marker does not match the header's".into()));
        }
        self.block.clear();
        match self.codec {
            Codec::Null => std::mem::swap(&mut self.block, &mut self.scratch),
            Codec::Deflate => {
                flate2::read::DeflateDecoder::new(&self.scratch[..])
                    .take(MAX_BLOCK_BYTES)
                    .read_to_end(&mut self.block)
                    .map_err(|e| bad(format!("deflate: {e}")))?;
            }
            Codec::Snappy => {
                if self.scratch.len() < 4 {
                    return Err(bad("snappy block shorter than its checksum".into()));
                }
                let (compressed, crc) = self.scratch.split_at(self.scratch.len() - 4);
                let length = snap::raw::decompress_len(compressed)
                    .map_err(|e| bad(format!("snappy: {e}")))?;
                if length as u64 > MAX_BLOCK_BYTES {
                    return Err(bad("snappy block too large".into()));
                }
                self.block.resize(length, 0);
                snap::raw::Decoder::new()
                    .decompress(compressed, &mut self.block)
                    .map_err(|e| bad(format!("snappy: {e}")))?;
                let expected = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
                if crc32fast::hash(&self.block) != expected {
                    return Err(bad("snappy checksum mismatch".into()));
                }
            }
            Codec::Zstandard => {
                zstd::stream::read::Decoder::new(&self.scratch[..])
                    .map_err(|e| bad(format!("zstandard: {e}")))?
                    .take(MAX_BLOCK_BYTES)
                    .read_to_end(&mut self.block)
                    .map_err(|e| bad(format!("zstandard: {e}")))?;
            }
        }
        self.position = 0;
        self.remaining_in_block = count as u64;
        self.blocks_read += 1;
        self.datum_in_block = 0;
        Ok(true)
    }

    /// The next datum's encoded bytes, or `None` at the end of the file.
    pub fn next_datum(&mut self) -> Option<Result<&[u8], ContainerError>> {
        while self.remaining_in_block == 0 {
            if self.position != self.block.len() {
                let block = self.blocks_read.saturating_sub(1);
                let extra = self.block.len() - self.position;
                self.position = self.block.len();
                return Some(Err(ContainerError::BadBlock {
                    block,
                    reason: format!("{extra} bytes after the last datum"),
                }));
            }
            match self.read_block() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
        let start = self.position;
        let mut cursor = Cursor::new(&self.block[start..]);
        if let Err(source) = skip_node(&self.schema, self.schema.root(), &mut cursor) {
            let (block, datum) = (self.blocks_read - 1, self.datum_in_block);
            // Abandon the block: its remaining datums cannot be located.
            self.remaining_in_block = 0;
            self.position = self.block.len();
            return Some(Err(ContainerError::Datum {
                block,
                datum,
                source,
            }));
        }
        self.position = start + cursor.position();
        self.remaining_in_block -= 1;
        self.datum_in_block += 1;
        Some(Ok(&self.block[start..self.position]))
    }
}

/// Writes a container file from encoded datums.
#[derive(Debug)]
pub struct ContainerWriter<W: Write> {
    output: W,
    codec: Codec,
    sync: [u8; SYNC_LEN],
    block: Vec<u8>,
    count: u64,
    block_bytes: usize,
    compressed: Vec<u8>,
}

impl<W: Write> ContainerWriter<W> {
    /// Writes the header. `schema_json` is stored as `avro.schema`; `sync` is the marker
    /// between blocks (pick it at random, or fix it for reproducible files).
    pub fn new(
        mut output: W,
        schema_json: &str,
        codec: Codec,
        sync: [u8; SYNC_LEN],
    ) -> Result<Self, ContainerError> {
        let mut header = Vec::with_capacity(schema_json.len() + 64);
        header.extend_from_slice(MAGIC);
        write_long(&mut header, 2);
        write_bytes(&mut header, b"avro.schema");
        write_bytes(&mut header, schema_json.as_bytes());
        write_bytes(&mut header, b"avro.codec");
        write_bytes(&mut header, codec.name().as_bytes());
        write_long(&mut header, 0);
        header.extend_from_slice(&sync);
        output.write_all(&header)?;
        Ok(Self {
            output,
            codec,
            sync,
            block: Vec::new(),
            count: 0,
            block_bytes: 1 << 20,
            compressed: Vec::new(),
        })
    }

    /// Uncompressed bytes gathered before a block is written (default 1 MiB).
    pub fn with_block_bytes(mut self, bytes: usize) -> Self {
        self.block_bytes = bytes.max(1);
        self
    }

    /// Appends one datum, already encoded with the header's schema.
    pub fn append_datum(&mut self, datum: &[u8]) -> Result<(), ContainerError> {
        self.block.extend_from_slice(datum);
        self.count += 1;
        if self.block.len() >= self.block_bytes {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> Result<(), ContainerError> {
        if self.count == 0 {
            return Ok(());
        }
        self.compressed.clear();
        let data: &[u8] = match self.codec {
            Codec::Null => &self.block,
            Codec::Deflate => {
                let mut encoder = flate2::write::DeflateEncoder::new(
                    &mut self.compressed,
                    flate2::Compression::default(),
                );
                encoder.write_all(&self.block)?;
                encoder.finish()?;
                &self.compressed
            }
            Codec::Snappy => {
                self.compressed = snap::raw::Encoder::new()
                    .compress_vec(&self.block)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                self.compressed
                    .extend_from_slice(&crc32fast::hash(&self.block).to_be_bytes());
                &self.compressed
            }
            Codec::Zstandard => {
                self.compressed = zstd::bulk::compress(&self.block, 3)?;
                &self.compressed
            }
        };
        let mut prefix = Vec::with_capacity(20);
        write_long(&mut prefix, self.count as i64);
        write_long(&mut prefix, data.len() as i64);
        self.output.write_all(&prefix)?;
        self.output.write_all(data)?;
        self.output.write_all(&self.sync)?;
        self.block.clear();
        self.count = 0;
        Ok(())
    }

    /// Writes the last block and returns the output.
    pub fn finish(mut self) -> Result<W, ContainerError> {
        self.flush_block()?;
        self.output.flush()?;
        Ok(self.output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{decode, encode, Value};

    const SCHEMA: &str = r#"{"type":"record","name":"r","fields":[{"name":"id","type":"long"},{"name":"s","type":"string"}]}"#;

    fn datum(i: i64) -> Vec<u8> {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        encode(
            &schema,
            &Value::Record(vec![Value::Long(i), Value::String(format!("alert {i}"))]),
        )
        .unwrap()
    }

    fn write_file(codec: Codec, n: i64, block_bytes: usize) -> Vec<u8> {
        let mut writer = ContainerWriter::new(Vec::new(), SCHEMA, codec, [7; 16])
            .unwrap()
            .with_block_bytes(block_bytes);
        for i in 0..n {
            writer.append_datum(&datum(i)).unwrap();
        }
        writer.finish().unwrap()
    }

    #[test]
    fn every_codec_round_trips_across_blocks() {
        for codec in [Codec::Null, Codec::Deflate, Codec::Snappy, Codec::Zstandard] {
            let file = write_file(codec, 1000, 100);
            let mut reader = ContainerReader::new(&file[..]).unwrap();
            assert_eq!(reader.codec(), codec);
            let schema = reader.schema().clone();
            let mut i = 0;
            while let Some(d) = reader.next_datum() {
                let d = d.unwrap();
                assert_eq!(d, datum(i), "{codec:?} datum {i}");
                assert!(decode(&schema, d).is_ok());
                i += 1;
            }
            assert_eq!(i, 1000, "{codec:?}");
        }
    }

    #[test]
    fn an_empty_file_has_no_datums() {
        let file = write_file(Codec::Deflate, 0, 100);
        assert!(ContainerReader::new(&file[..])
            .unwrap()
            .next_datum()
            .is_none());
    }

    #[test]
    fn garbage_is_not_a_container() {
        assert!(matches!(
            ContainerReader::new(&b"hello world"[..]),
            Err(ContainerError::NotAContainer)
        ));
        assert!(matches!(
            ContainerReader::new(&b""[..]),
            Err(ContainerError::NotAContainer)
        ));
    }

    #[test]
    fn every_truncation_is_an_error_or_a_clean_prefix() {
        let file = write_file(Codec::Null, 20, 64);
        for n in 0..file.len() {
            let Ok(mut reader) = ContainerReader::new(&file[..n]) else {
                continue;
            };
            let mut count = 0;
            let mut failed = false;
            while let Some(d) = reader.next_datum() {
                match d {
                    Ok(_) => count += 1,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            assert!(failed || count <= 20, "prefix {n}");
        }
    }

    #[test]
    fn corrupt_sizes_do_not_allocate() {
        let mut file = write_file(Codec::Null, 1, 64);
        // Replace the block's count and size with enormous values.
        let header_len = file.len() - (1 + 1 + datum(0).len() + 16);
        file.truncate(header_len);
        write_long(&mut file, 1);
        write_long(&mut file, i64::MAX / 2);
        let mut reader = ContainerReader::new(&file[..]).unwrap();
        assert!(matches!(
            reader.next_datum(),
            Some(Err(ContainerError::BadBlock { .. }))
        ));
    }

    #[test]
    fn a_wrong_sync_marker_is_detected() {
        let mut file = write_file(Codec::Null, 3, 1 << 20);
        let last = file.len() - 1;
        file[last] ^= 0xff;
        let mut reader = ContainerReader::new(&file[..]).unwrap();
        assert!(matches!(
            reader.next_datum(),
            Some(Err(ContainerError::BadBlock { .. }))
        ));
    }

    #[test]
    fn unknown_codecs_are_named() {
        let mut header = Vec::new();
        header.extend_from_slice(MAGIC);
        write_long(&mut header, 2);
        write_bytes(&mut header, b"avro.schema");
        write_bytes(&mut header, SCHEMA.as_bytes());
        write_bytes(&mut header, b"avro.codec");
        write_bytes(&mut header, b"lz4");
        write_long(&mut header, 0);
        header.extend_from_slice(&[0; 16]);
        let err = ContainerReader::new(&header[..]).unwrap_err();
        assert!(err.to_string().contains("lz4"), "{err}");
    }
}
