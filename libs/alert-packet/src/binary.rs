//! Avro binary encoding primitives: zig-zag varints, lengths, and a bounds-checked reader.
//!
//! Every length read from input is checked against the bytes that remain before anything is
//! allocated, so a corrupt or hostile length can never make us allocate more than the input.

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "input ends at byte {at}: {needed} more bytes needed{}",
        path_suffix(path)
    )]
    UnexpectedEnd {
        at: usize,
        needed: usize,
        path: String,
    },
    #[error(
        "malformed varint at byte {at} (more than 10 bytes){}",
        path_suffix(path)
    )]
    BadVarint { at: usize, path: String },
    #[error("negative length {length} at byte {at}{}", path_suffix(path))]
    NegativeLength {
        at: usize,
        length: i64,
        path: String,
    },
    #[error(
        "length {length} at byte {at} exceeds the {remaining} bytes left{}",
        path_suffix(path)
    )]
    LengthTooLarge {
        at: usize,
        length: i64,
        remaining: usize,
        path: String,
    },
    #[error(
        "union index {index} at byte {at} is out of range: the union has {branches} branches{}",
        path_suffix(path)
    )]
    UnionIndex {
        at: usize,
        index: i64,
        branches: usize,
        path: String,
    },
    #[error(
        "enum index {index} at byte {at} is out of range: the enum has {symbols} symbols{}",
        path_suffix(path)
    )]
    EnumIndex {
        at: usize,
        index: i64,
        symbols: usize,
        path: String,
    },
    #[error("invalid UTF-8 in a string at byte {at}{}", path_suffix(path))]
    InvalidUtf8 { at: usize, path: String },
    #[error("value out of range for an int at byte {at}{}", path_suffix(path))]
    IntOutOfRange { at: usize, path: String },
    #[error("{count} bytes left over after the datum")]
    TrailingBytes { count: usize },
}

fn path_suffix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" (in {path})")
    }
}

impl DecodeError {
    /// Prefixes the field path of the error with `segment` as the error travels outwards.
    pub(crate) fn within(mut self, segment: &str) -> Self {
        use DecodeError::*;
        let path = match &mut self {
            UnexpectedEnd { path, .. }
            | BadVarint { path, .. }
            | NegativeLength { path, .. }
            | LengthTooLarge { path, .. }
            | UnionIndex { path, .. }
            | EnumIndex { path, .. }
            | InvalidUtf8 { path, .. }
            | IntOutOfRange { path, .. } => path,
            TrailingBytes { .. } => return self,
        };
        if path.is_empty() {
            *path = segment.to_owned();
        } else if path.starts_with('[') {
            *path = format!("{segment}{path}");
        } else {
            *path = format!("{segment}.{path}");
        }
        self
    }
}

/// How many items of an array or map block may exceed the bytes left (zero-sized items).
pub const MAX_ZERO_SIZED_ITEMS: u64 = 1 << 20;

/// A cursor over Avro binary data.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The bytes between `start` and the current position.
    pub fn since(&self, start: usize) -> &'a [u8] {
        &self.data[start..self.pos]
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }

    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::UnexpectedEnd {
                at: self.pos,
                needed: n - self.remaining(),
                path: String::new(),
            });
        }
        let slice = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    #[inline]
    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.take(n).map(|_| ())
    }

    #[inline]
    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        match self.data.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                Ok(*b)
            }
            None => Err(DecodeError::UnexpectedEnd {
                at: self.pos,
                needed: 1,
                path: String::new(),
            }),
        }
    }

    /// A zig-zag varint `long`.
    #[inline]
    pub fn long(&mut self) -> Result<i64, DecodeError> {
        // Most varints in an alert (union branches, small ints, lengths) are one byte.
        if let Some(&byte) = self.data.get(self.pos) {
            if byte < 0x80 {
                self.pos += 1;
                return Ok(i64::from(byte >> 1) ^ -i64::from(byte & 1));
            }
        }
        let start = self.pos;
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            if shift == 63 && byte > 1 {
                return Err(DecodeError::BadVarint {
                    at: start,
                    path: String::new(),
                });
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
            shift += 7;
            if shift > 63 {
                return Err(DecodeError::BadVarint {
                    at: start,
                    path: String::new(),
                });
            }
        }
    }

    /// A zig-zag varint `int`.
    #[inline]
    pub fn int(&mut self) -> Result<i32, DecodeError> {
        let at = self.pos;
        let value = self.long()?;
        i32::try_from(value).map_err(|_| DecodeError::IntOutOfRange {
            at,
            path: String::new(),
        })
    }

    /// A length prefix (bytes, string), checked against what remains.
    #[inline]
    pub fn length(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let length = self.long()?;
        if length < 0 {
            return Err(DecodeError::NegativeLength {
                at,
                length,
                path: String::new(),
            });
        }
        if length as u64 > self.remaining() as u64 {
            return Err(DecodeError::LengthTooLarge {
                at,
                length,
                remaining: self.remaining(),
                path: String::new(),
            });
        }
        Ok(length as usize)
    }

    /// A block count of an array or map: `(items, byte size if the writer gave one)`.
    ///
    /// Items take at least one byte each unless they are zero-sized (`null`, empty records),
    /// so a count beyond the remaining input plus [`MAX_ZERO_SIZED_ITEMS`] cannot be honest:
    /// it is refused here instead of being looped over.
    #[inline]
    pub fn block_count(&mut self) -> Result<(u64, Option<usize>), DecodeError> {
        let at = self.pos;
        let count = self.long()?;
        if count == i64::MIN {
            return Err(DecodeError::NegativeLength {
                at,
                length: count,
                path: String::new(),
            });
        }
        let items = count.unsigned_abs();
        if items > self.remaining() as u64 + MAX_ZERO_SIZED_ITEMS {
            return Err(DecodeError::LengthTooLarge {
                at,
                length: count,
                remaining: self.remaining(),
                path: String::new(),
            });
        }
        if count >= 0 {
            return Ok((items, None));
        }
        let size = self.length()?;
        Ok((items, Some(size)))
    }

    #[inline]
    pub fn float(&mut self) -> Result<f32, DecodeError> {
        let bytes = self.take(4)?;
        Ok(f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    #[inline]
    pub fn double(&mut self) -> Result<f64, DecodeError> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(f64::from_le_bytes(array))
    }

    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.length()?;
        self.take(n)
    }

    #[inline]
    pub fn string(&mut self) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 {
            at,
            path: String::new(),
        })
    }
}

/// Appends a zig-zag varint `long`.
#[inline]
pub fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends length-prefixed bytes.
#[inline]
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

/// Reads one zig-zag varint `long` from the start of `data`: `(value, bytes used)`.
pub fn read_long(data: &[u8]) -> Result<(i64, usize), DecodeError> {
    let mut cursor = Cursor::new(data);
    let value = cursor.long()?;
    Ok((value, cursor.position()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for value in [
            0,
            -1,
            1,
            -64,
            63,
            64,
            -65,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            write_long(&mut out, value);
            assert_eq!(read_long(&out).unwrap(), (value, out.len()), "{value}");
        }
    }

    #[test]
    fn known_encodings_match_the_specification() {
        let encode = |v| {
            let mut out = Vec::new();
            write_long(&mut out, v);
            out
        };
        assert_eq!(encode(0), [0x00]);
        assert_eq!(encode(-1), [0x01]);
        assert_eq!(encode(1), [0x02]);
        assert_eq!(encode(-64), [0x7f]);
        assert_eq!(encode(64), [0x80, 0x01]);
    }

    #[test]
    fn bad_varints_are_errors() {
        assert!(matches!(
            read_long(&[0xff; 11]),
            Err(DecodeError::BadVarint { .. })
        ));
        assert!(matches!(
            read_long(&[0x80, 0x80]),
            Err(DecodeError::UnexpectedEnd { .. })
        ));
        assert!(matches!(
            read_long(&[]),
            Err(DecodeError::UnexpectedEnd { .. })
        ));
        // Ten bytes whose last carries more than the 64th bit.
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert!(matches!(
            read_long(&too_big),
            Err(DecodeError::BadVarint { .. })
        ));
    }

    #[test]
    fn lengths_are_bounded_by_the_input() {
        let mut data = Vec::new();
        write_long(&mut data, 1 << 40);
        data.extend_from_slice(b"abc");
        let err = Cursor::new(&data).bytes().unwrap_err();
        assert!(
            matches!(err, DecodeError::LengthTooLarge { remaining: 3, .. }),
            "{err}"
        );
        let mut negative = Vec::new();
        write_long(&mut negative, -5);
        assert!(matches!(
            Cursor::new(&negative).bytes(),
            Err(DecodeError::NegativeLength { length: -5, .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let data = [0x04, 0xc3, 0x28];
        assert!(matches!(
            Cursor::new(&data).string(),
            Err(DecodeError::InvalidUtf8 { .. })
        ));
    }

    #[test]
    fn error_paths_accumulate_outwards() {
        let err = DecodeError::UnexpectedEnd {
            at: 3,
            needed: 1,
            path: String::new(),
        }
        .within("ra")
        .within("[4]")
        .within("prvDiaSources");
        assert!(
            err.to_string().ends_with("(in prvDiaSources[4].ra)"),
            "{err}"
        );
    }
}
