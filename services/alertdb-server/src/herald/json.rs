//! An alert as Herald's JSON: what `json.dumps` makes of fastavro's reading of it, after
//! Herald's `_sanitize_for_json` (bytes as base64, NaN and infinities as `null`).
//!
//! [`transcode`] writes it straight from the Avro bytes into one buffer (the route's path: no
//! decoded value, no `serde_json::Value`, which would allocate a map and a key string per field
//! of hundreds of history records); [`alert_json`] writes the same from a decoded [`Value`].
//!
//! fastavro turns `timestamp-micros`/`timestamp-millis` longs into `datetime`s and `date` ints
//! into `date`s, which `json.dumps` cannot write (Herald answers 500 for such alerts, e.g. every
//! v8.0 alert, whose `time_processed` is one). We write what `datetime.isoformat()` gives,
//! which is what FastAPI's own encoder would have written.

use alert_packet::binary::{Cursor, DecodeError};
use alert_packet::schema::{Node, NodeId, Schema};
use alert_packet::value::{same_kind, Value};
use base64::Engine as _;
use std::io::Write as _;

/// The alert whose Avro body is `body` as Herald's JSON, read straight from the bytes: no
/// decoded value is built, so a ~100 KB alert with hundreds of history records costs one pass
/// and one output buffer. Fails where decoding would (the body must be exactly one datum).
pub fn transcode(schema: &Schema, body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    // JSON of an alert is ~5.4x its Avro body (floats as text, cutouts as base64): sized for it
    // at once, as growing from 2x cost two reallocation copies, ~18 % of the transcode
    // (examples/herald_convert: 1.21 → 0.99 ms an alert).
    let mut out = Vec::with_capacity(body.len() * 6 + 4096);
    let mut cursor = Cursor::new(body);
    // The logical type of every node, looked up once instead of once per value (an alert has
    // tens of thousands of ints and longs, and logical types live in a map).
    let plan = Plan::new(schema);
    transcode_node(schema, &plan, schema.root(), &mut cursor, &mut out)?;
    cursor.finish()?;
    Ok(out)
}

/// The schema compiled for [`transcode`], once per call: one small [`Op`] per node, so the walk
/// over tens of thousands of values reads a compact table instead of the schema's nodes (a
/// record's field carries its name, aliases, doc and default), with the logical types looked
/// up once (they live in a map) and every record field's key already in its output form
/// (`"name":`, or `,"name":` after the first field).
struct Plan {
    ops: Vec<Op>,
    /// The record fields of every record node, one record after another.
    fields: Vec<FieldPlan>,
    /// Every field's key, each followed by [`KEY_COPY`] bytes of padding so a key is copied
    /// as a block of constant size (inlined moves, not a `memcpy` call per field) and cut.
    keys: Vec<u8>,
}

/// Bytes copied per key: keys up to this length (all of the alert schemas') are copied as one
/// constant-size block; longer ones are copied as they are.
const KEY_COPY: usize = 64;

#[derive(Debug, Clone, Copy)]
struct FieldPlan {
    key_start: u32,
    key_len: u32,
    node: NodeId,
}

/// What to do with the value of one node.
#[derive(Debug, Clone, Copy)]
enum Op {
    Null,
    Boolean,
    Int,
    Date,
    Long,
    Micros,
    Millis,
    Float,
    Double,
    Bytes,
    String,
    Fixed(usize),
    Enum,
    Array(NodeId),
    Map(NodeId),
    /// Fields `first..first + count` of [`Plan::fields`].
    Record {
        first: u32,
        count: u32,
    },
    /// A two-branch union with `null` (most fields of an alert): branch `null_branch` is
    /// `null`, the other is `value`.
    Nullable {
        null_branch: u8,
        value: NodeId,
    },
    Union,
}

impl Plan {
    fn new(schema: &Schema) -> Self {
        let nodes = schema.nodes();
        let mut plan = Plan {
            ops: Vec::with_capacity(nodes.len()),
            fields: Vec::new(),
            keys: Vec::new(),
        };
        for (id, node) in nodes.iter().enumerate() {
            let logical = schema.logical_type(id);
            let op = match node {
                Node::Null => Op::Null,
                Node::Boolean => Op::Boolean,
                Node::Int if logical == Some("date") => Op::Date,
                Node::Int => Op::Int,
                Node::Long if logical == Some("timestamp-micros") => Op::Micros,
                Node::Long if logical == Some("timestamp-millis") => Op::Millis,
                Node::Long => Op::Long,
                Node::Float => Op::Float,
                Node::Double => Op::Double,
                Node::Bytes => Op::Bytes,
                Node::String => Op::String,
                Node::Fixed(fixed) => Op::Fixed(fixed.size),
                Node::Enum(_) => Op::Enum,
                Node::Array(items) => Op::Array(*items),
                Node::Map(values) => Op::Map(*values),
                Node::Record(record) => {
                    let first = plan.fields.len() as u32;
                    for (i, field) in record.fields.iter().enumerate() {
                        let key_start = plan.keys.len();
                        if i > 0 {
                            plan.keys.push(b',');
                        }
                        write_key(&field.name, &mut plan.keys);
                        let key_len = plan.keys.len() - key_start;
                        plan.keys.resize(plan.keys.len() + KEY_COPY, 0);
                        plan.fields.push(FieldPlan {
                            key_start: key_start as u32,
                            key_len: key_len as u32,
                            node: field.schema,
                        });
                    }
                    Op::Record {
                        first,
                        count: record.fields.len() as u32,
                    }
                }
                Node::Union(branches) => match branches.as_slice() {
                    [a, b] if matches!(schema.node(*a), Node::Null) => Op::Nullable {
                        null_branch: 0,
                        value: *b,
                    },
                    [a, b] if matches!(schema.node(*b), Node::Null) => Op::Nullable {
                        null_branch: 1,
                        value: *a,
                    },
                    _ => Op::Union,
                },
            };
            plan.ops.push(op);
        }
        plan
    }

    #[inline]
    fn write_key(&self, field: &FieldPlan, out: &mut Vec<u8>) {
        let start = field.key_start as usize;
        let len = field.key_len as usize;
        if len <= KEY_COPY {
            let at = out.len();
            out.extend_from_slice(&self.keys[start..start + KEY_COPY]);
            out.truncate(at + len);
        } else {
            out.extend_from_slice(&self.keys[start..start + len]);
        }
    }
}

/// Writes the value of node `id`. Inlined into the loops over fields and items, so scalars and
/// nullable scalars, nearly every value of an alert, are written without a call: a call per
/// value (its frame and dispatch) cost about a third of the walk.
#[inline(always)]
fn transcode_node(
    schema: &Schema,
    plan: &Plan,
    id: NodeId,
    cursor: &mut Cursor<'_>,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    let op = plan.ops[id];
    if scalar(op, cursor, out)? {
        return Ok(());
    }
    if let Op::Nullable { null_branch, value } = op {
        let at = cursor.position();
        return match cursor.long()? {
            index if index == i64::from(null_branch) => {
                out.extend_from_slice(b"null");
                Ok(())
            }
            index if index == i64::from(1 - null_branch) => {
                if scalar(plan.ops[value], cursor, out)? {
                    Ok(())
                } else {
                    transcode_compound(schema, plan, value, cursor, out)
                }
            }
            index => Err(DecodeError::UnionIndex {
                at,
                index,
                branches: 2,
                path: String::new(),
            }),
        };
    }
    transcode_compound(schema, plan, id, cursor, out)
}

/// Writes the value of an enum, union, record, array or map node.
fn transcode_compound(
    schema: &Schema,
    plan: &Plan,
    id: NodeId,
    cursor: &mut Cursor<'_>,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    match plan.ops[id] {
        Op::Enum => {
            let Node::Enum(e) = schema.node(id) else {
                unreachable!("an enum op is made from an enum node")
            };
            let at = cursor.position();
            let index = cursor.long()?;
            let symbol = usize::try_from(index)
                .ok()
                .and_then(|i| e.symbols.get(i))
                .ok_or_else(|| DecodeError::EnumIndex {
                    at,
                    index,
                    symbols: e.symbols.len(),
                    path: String::new(),
                })?;
            write_string(symbol, out);
        }
        Op::Union => {
            let Node::Union(branches) = schema.node(id) else {
                unreachable!("a union op is made from a union node")
            };
            let at = cursor.position();
            let index = cursor.long()?;
            let branch = usize::try_from(index)
                .ok()
                .and_then(|i| branches.get(i))
                .ok_or_else(|| DecodeError::UnionIndex {
                    at,
                    index,
                    branches: branches.len(),
                    path: String::new(),
                })?;
            transcode_node(schema, plan, *branch, cursor, out)?;
        }
        Op::Record { first, count } => {
            out.push(b'{');
            let fields = &plan.fields[first as usize..(first + count) as usize];
            for field in fields {
                plan.write_key(field, out);
                transcode_node(schema, plan, field.node, cursor, out)?;
            }
            out.push(b'}');
        }
        Op::Array(items) => {
            out.push(b'[');
            let mut first = true;
            loop {
                let (count, _) = cursor.block_count()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    transcode_node(schema, plan, items, cursor, out)?;
                }
            }
            out.push(b']');
        }
        Op::Map(values) => {
            out.push(b'{');
            let mut first = true;
            loop {
                let (count, _) = cursor.block_count()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    write_string(cursor.string()?, out);
                    out.push(b':');
                    transcode_node(schema, plan, values, cursor, out)?;
                }
            }
            out.push(b'}');
        }
        // Scalars and nullable unions: `transcode_node`.
        _ => return transcode_node(schema, plan, id, cursor, out),
    }
    Ok(())
}

/// Writes the value of a scalar op; `false` (nothing read) for any other op.
#[inline(always)]
fn scalar(op: Op, cursor: &mut Cursor<'_>, out: &mut Vec<u8>) -> Result<bool, DecodeError> {
    match op {
        Op::Null => out.extend_from_slice(b"null"),
        Op::Boolean => out.extend_from_slice(if cursor.byte()? != 0 {
            b"true"
        } else {
            b"false"
        }),
        Op::Int => write_int(i64::from(cursor.int()?), out),
        Op::Date => write_date(i64::from(cursor.int()?), out),
        Op::Long => write_int(cursor.long()?, out),
        Op::Micros => write_timestamp(cursor.long()?, 1_000_000, out),
        Op::Millis => write_timestamp(cursor.long()?, 1_000, out),
        Op::Float => write_float(f64::from(cursor.float()?), out),
        Op::Double => write_float(cursor.double()?, out),
        Op::Bytes => write_base64(cursor.bytes()?, out),
        Op::Fixed(size) => write_base64(cursor.take(size)?, out),
        Op::String => write_string(cursor.string()?, out),
        _ => return Ok(false),
    }
    Ok(true)
}

fn write_base64(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let start = out.len();
    out.resize(
        start + base64::encoded_len(bytes.len(), true).unwrap_or(0),
        0,
    );
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

/// The alert `value` of `schema` as compact JSON (`separators=(",", ":")`, as Starlette's
/// `JSONResponse` writes it).
pub fn alert_json(schema: &Schema, value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    write_value(schema, schema.root(), value, &mut out);
    out
}

fn write_value(schema: &Schema, id: NodeId, value: &Value, out: &mut Vec<u8>) {
    match (schema.node(id), value) {
        (Node::Union(branches), Value::Union(index, inner)) => {
            match branches.get(*index as usize) {
                Some(branch) => write_value(schema, *branch, inner, out),
                None => out.extend_from_slice(b"null"),
            }
        }
        (Node::Union(branches), plain) => {
            // A plain value names its branch by its kind (see `alert_packet::value`).
            match branches.iter().find(|b| same_kind(schema.node(**b), plain)) {
                Some(branch) => write_value(schema, *branch, plain, out),
                None => write_plain(schema, id, plain, out),
            }
        }
        _ => write_plain(schema, id, value, out),
    }
}

fn write_plain(schema: &Schema, id: NodeId, value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => match schema.logical_type(id) {
            Some("date") => write_date(i64::from(*i), out),
            _ => write_int(i64::from(*i), out),
        },
        Value::Long(l) => match schema.logical_type(id) {
            Some("timestamp-micros") => write_timestamp(*l, 1_000_000, out),
            Some("timestamp-millis") => write_timestamp(*l, 1_000, out),
            _ => write_int(*l, out),
        },
        // fastavro reads a float as the double of the same value.
        Value::Float(f) => write_float(f64::from(*f), out),
        Value::Double(d) => write_float(*d, out),
        Value::Bytes(b) | Value::Fixed(b) => write_base64(b, out),
        Value::String(s) => write_string(s, out),
        Value::Enum(index) => match schema.node(id) {
            Node::Enum(e) => write_string(
                e.symbols.get(*index as usize).map_or("", String::as_str),
                out,
            ),
            _ => out.extend_from_slice(b"null"),
        },
        Value::Record(fields) => {
            let Node::Record(record) = schema.node(id) else {
                out.extend_from_slice(b"null");
                return;
            };
            out.push(b'{');
            for (i, (field, value)) in record.fields.iter().zip(fields).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_key(&field.name, out);
                write_value(schema, field.schema, value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            let item_node = match schema.node(id) {
                Node::Array(items) => *items,
                _ => id,
            };
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(schema, item_node, item, out);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            let value_node = match schema.node(id) {
                Node::Map(values) => *values,
                _ => id,
            };
            out.push(b'{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(schema, value_node, value, out);
            }
            out.push(b'}');
        }
        Value::Union(_, inner) => write_value(schema, id, inner, out),
    }
}

fn write_int(value: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// `"name":` for a record field. Avro names are `[A-Za-z_][A-Za-z0-9_]*`, which JSON needs
/// no escapes for; anything else goes through the escaping writer.
fn write_key(name: &str, out: &mut Vec<u8>) {
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
    } else {
        write_string(name, out);
        out.push(b':');
    }
}

/// Non-finite numbers become `null`, as Herald's `_sanitize_for_json` makes them.
fn write_float(value: f64, out: &mut Vec<u8>) {
    if value.is_finite() {
        // The shortest text that reads back as the same double, as Python's `repr` writes
        // (zmij, which serde_json uses too). They choose the exponent form at different
        // magnitudes (`1e-05` from Python, `0.00001` from zmij): the numbers are equal, the
        // text may differ.
        out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn write_string(value: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Days since 1970-01-01 as (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `datetime.isoformat()` of a UTC timestamp of `value / per_second` seconds:
/// `2026-05-01T12:00:00.250000+00:00`, microseconds only when non-zero. Out of Python's
/// range (years 1–9999) fastavro fails to read the alert; we write the number.
fn write_timestamp(value: i64, per_second: i64, out: &mut Vec<u8>) {
    let micros_per_unit = 1_000_000 / per_second;
    let seconds = value.div_euclid(per_second);
    let micros = value.rem_euclid(per_second) * micros_per_unit;
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        write_int(value, out);
        return;
    }
    let _ = write!(
        out,
        "\"{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    if micros != 0 {
        let _ = write!(out, ".{micros:06}");
    }
    out.extend_from_slice(b"+00:00\"");
}

fn write_date(days: i64, out: &mut Vec<u8>) {
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        write_int(days, out);
        return;
    }
    let _ = write!(out, "\"{year:04}-{month:02}-{day:02}\"");
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"type":"record","name":"a","fields":[
        {"name":"id","type":"long"},
        {"name":"f","type":"float"},
        {"name":"d","type":["null","double"]},
        {"name":"s","type":["null","string"]},
        {"name":"b","type":["null","bytes"]},
        {"name":"t","type":{"type":"long","logicalType":"timestamp-micros"}},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}},
        {"name":"r","type":["null",{"type":"array","items":{"type":"record","name":"p","fields":[{"name":"v","type":"int"}]}}]},
        {"name":"m","type":{"type":"map","values":"boolean"}}]}"#;

    fn render(values: Vec<Value>) -> serde_json::Value {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        let bytes = alert_json(&schema, &Value::Record(values));
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
    }

    #[test]
    fn values_are_written_as_herald_writes_them() {
        let json = render(vec![
            Value::Long(-5),
            Value::Float(0.1),
            Value::Double(f64::NAN),
            Value::String("é\"\n".into()),
            Value::Bytes(b"SIMPLE".to_vec()),
            Value::Long(1_777_636_800_250_000),
            Value::Int(20_000),
            Value::Enum(1),
            Value::Array(vec![Value::Record(vec![Value::Int(3)])]),
            Value::Map(vec![("k".into(), Value::Boolean(true))]),
        ]);
        assert_eq!(
            json,
            serde_json::json!({
                "id": -5,
                // fastavro's float 0.1 is the double 0.10000000149011612.
                "f": 0.10000000149011612,
                "d": null,
                "s": "é\"\n",
                "b": "U0lNUExF",
                "t": "2026-05-01T12:00:00.250000+00:00",
                "day": "2024-10-04",
                "e": "Y",
                "r": [{"v": 3}],
                "m": {"k": true},
            })
        );
        let json = render(vec![
            Value::Long(0),
            Value::Float(f32::INFINITY),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Long(-1),
            Value::Int(-719_162),
            Value::Enum(0),
            Value::Null,
            Value::Map(vec![]),
        ]);
        assert_eq!(json["f"], serde_json::Value::Null);
        assert_eq!(json["t"], "1969-12-31T23:59:59.999999+00:00");
        assert_eq!(json["day"], "0001-01-01");
        assert_eq!(json["r"], serde_json::Value::Null);
    }

    #[test]
    fn reading_the_bytes_gives_the_json_of_the_decoded_value() {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        for value in [
            Value::Record(vec![
                Value::Long(-5),
                Value::Float(0.1),
                Value::Double(f64::NAN),
                Value::String("é\"\n".into()),
                Value::Bytes(b"SIMPLE".to_vec()),
                Value::Long(1_777_636_800_250_000),
                Value::Int(20_000),
                Value::Enum(1),
                Value::Array(vec![
                    Value::Record(vec![Value::Int(3)]),
                    Value::Record(vec![Value::Int(-4)]),
                ]),
                Value::Map(vec![
                    ("k".into(), Value::Boolean(true)),
                    ("l".into(), Value::Boolean(false)),
                ]),
            ]),
            Value::Record(vec![
                Value::Long(0),
                Value::Float(f32::NEG_INFINITY),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Long(i64::MAX),
                Value::Int(i32::MIN),
                Value::Enum(0),
                Value::Null,
                Value::Map(vec![]),
            ]),
        ] {
            let body = alert_packet::value::encode(&schema, &value).unwrap();
            assert_eq!(
                String::from_utf8(transcode(&schema, &body).unwrap()).unwrap(),
                String::from_utf8(alert_json(&schema, &value)).unwrap()
            );
            // One byte more or less is not one datum.
            let mut longer = body.clone();
            longer.push(0);
            assert!(transcode(&schema, &longer).is_err());
            assert!(transcode(&schema, &body[..body.len() - 1]).is_err());
        }
    }

    #[test]
    fn every_kind_of_union_reads_as_the_decoded_value_writes() {
        // `null` second, `null` first, three branches, and a nullable record inside an array.
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"u","fields":[
            {"name":"a","type":["double","null"]},
            {"name":"b","type":["null","float"]},
            {"name":"c","type":["null","long","string"]},
            {"name":"d","type":{"type":"array","items":["null",{"type":"record","name":"q","fields":[{"name":"x","type":"boolean"}]}]}}]}"#,
        )
        .unwrap();
        for value in [
            Value::Record(vec![
                Value::Union(0, Box::new(Value::Double(2.5))),
                Value::Union(1, Box::new(Value::Float(-0.25))),
                Value::Union(2, Box::new(Value::String("<s>".into()))),
                Value::Array(vec![
                    Value::Union(1, Box::new(Value::Record(vec![Value::Boolean(true)]))),
                    Value::Union(0, Box::new(Value::Null)),
                ]),
            ]),
            Value::Record(vec![
                Value::Union(1, Box::new(Value::Null)),
                Value::Union(0, Box::new(Value::Null)),
                Value::Union(1, Box::new(Value::Long(-7))),
                Value::Array(vec![]),
            ]),
        ] {
            let body = alert_packet::value::encode(&schema, &value).unwrap();
            assert_eq!(
                String::from_utf8(transcode(&schema, &body).unwrap()).unwrap(),
                String::from_utf8(alert_json(&schema, &value)).unwrap()
            );
        }
        // A branch index a two-branch union does not have is an error, not a guess.
        let mut body = alert_packet::value::encode(
            &schema,
            &Value::Record(vec![
                Value::Union(1, Box::new(Value::Null)),
                Value::Union(0, Box::new(Value::Null)),
                Value::Union(0, Box::new(Value::Null)),
                Value::Array(vec![]),
            ]),
        )
        .unwrap();
        body[0] = 4; // zig-zag 2
        assert!(matches!(
            transcode(&schema, &body),
            Err(DecodeError::UnionIndex { index: 2, .. })
        ));
    }

    #[test]
    fn the_calendar_matches_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
    }
}
