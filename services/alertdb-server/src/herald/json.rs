//! An alert as Herald's JSON: what `json.dumps` makes of fastavro's reading of it, after
//! Herald's `_sanitize_for_json` (bytes as base64, NaN and infinities as `null`).
//!
//! Written straight into a byte buffer from the decoded [`Value`] instead of through
//! `serde_json::Value`: an alert with hundreds of history records would otherwise allocate a
//! map and a key string per field.
//!
//! fastavro turns `timestamp-micros`/`timestamp-millis` longs into `datetime`s and `date` ints
//! into `date`s, which `json.dumps` cannot write (Herald answers 500 for such alerts, e.g. every
//! v8.0 alert, whose `time_processed` is one). We write what `datetime.isoformat()` gives,
//! which is what FastAPI's own encoder would have written.

use alert_packet::schema::{Node, NodeId, Schema};
use alert_packet::value::Value;
use base64::Engine as _;
use std::io::Write as _;

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

fn same_kind(node: &Node, value: &Value) -> bool {
    matches!(
        (node, value),
        (Node::Null, Value::Null)
            | (Node::Boolean, Value::Boolean(_))
            | (Node::Int, Value::Int(_))
            | (Node::Long, Value::Long(_))
            | (Node::Float, Value::Float(_))
            | (Node::Double, Value::Double(_))
            | (Node::Bytes, Value::Bytes(_))
            | (Node::String, Value::String(_))
            | (Node::Record(_), Value::Record(_))
            | (Node::Enum(_), Value::Enum(_))
            | (Node::Array(_), Value::Array(_))
            | (Node::Map(_), Value::Map(_))
            | (Node::Fixed(_), Value::Fixed(_))
    )
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
        Value::Bytes(b) | Value::Fixed(b) => {
            out.push(b'"');
            let start = out.len();
            let encoded_len = base64::encoded_len(b.len(), true).unwrap_or(0);
            out.resize(start + encoded_len, 0);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(b, &mut out[start..])
                .unwrap_or(0);
            out.truncate(start + written);
            out.push(b'"');
        }
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
                write_string(&field.name, out);
                out.push(b':');
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
    let _ = write!(out, "{value}");
}

/// Non-finite numbers become `null`, as Herald's `_sanitize_for_json` makes them.
fn write_float(value: f64, out: &mut Vec<u8>) {
    if value.is_finite() {
        // serde_json writes the shortest text that reads back as the same double, as
        // Python's `repr` does (the exponent is spelt differently: `1e-5`, not `1e-05`).
        let _ = serde_json::to_writer(&mut *out, &value);
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
    fn the_calendar_matches_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
    }
}
