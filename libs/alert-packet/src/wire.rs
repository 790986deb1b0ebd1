//! The Confluent wire format of every Kafka message value: byte `0x00`, the schema id as an
//! unsigned 32-bit big-endian integer, then the schemaless Avro body.

/// Length of the header before the Avro body.
pub const HEADER_LEN: usize = 5;
/// The only magic byte of the format we speak.
pub const MAGIC: u8 = 0;

/// A message that is not in the Confluent wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message of {length} bytes is too short for the 5-byte Confluent header")]
    TooShort { length: usize },
    #[error("magic byte is {found:#04x}, expected 0x00{}", if *found == 1 { " (magic byte 1 is Confluent's newer header with a schema GUID, which alerts do not use)" } else { "" })]
    BadMagic { found: u8 },
}

/// A framed message, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub schema_id: u32,
    pub body: &'a [u8],
}

/// Splits a message into schema id and Avro body.
pub fn unframe(message: &[u8]) -> Result<Frame<'_>, WireError> {
    if message.len() < HEADER_LEN {
        return Err(WireError::TooShort {
            length: message.len(),
        });
    }
    if message[0] != MAGIC {
        return Err(WireError::BadMagic { found: message[0] });
    }
    let schema_id = u32::from_be_bytes([message[1], message[2], message[3], message[4]]);
    Ok(Frame {
        schema_id,
        body: &message[HEADER_LEN..],
    })
}

/// Appends the header for `schema_id` to `out`.
pub fn write_header(out: &mut Vec<u8>, schema_id: u32) {
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Header + body as one message.
pub fn frame(schema_id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    write_header(&mut out, schema_id);
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_and_unframe_round_trip() {
        let message = frame(1101, b"avro");
        assert_eq!(message, [0, 0, 0, 0x04, 0x4d, b'a', b'v', b'r', b'o']);
        assert_eq!(
            unframe(&message).unwrap(),
            Frame {
                schema_id: 1101,
                body: b"avro"
            }
        );
        assert_eq!(unframe(&frame(u32::MAX, b"")).unwrap().schema_id, u32::MAX);
    }

    #[test]
    fn short_messages_are_refused() {
        for n in 0..HEADER_LEN {
            assert_eq!(unframe(&vec![0; n]), Err(WireError::TooShort { length: n }));
        }
    }

    #[test]
    fn other_magic_bytes_are_named() {
        let err = unframe(&[1, 0, 0, 0, 1, 2]).unwrap_err();
        assert_eq!(err, WireError::BadMagic { found: 1 });
        assert!(err.to_string().contains("0x01"), "{err}");
        assert!(err.to_string().contains("GUID"), "{err}");
        let err = unframe(b"{\"json\": true}").unwrap_err();
        assert!(err.to_string().contains("0x7b"), "{err}");
    }
}
