//! Decoded Avro values, and decoding, encoding and skipping them with a [`Schema`].
//!
//! Values do not carry field names: a record is its field values in schema order, so decoding
//! an alert with hundreds of history records allocates no names. [`to_json`] puts the names
//! back from the schema for people and for the HTTP API.

use crate::binary::{write_bytes, write_long, Cursor, DecodeError};
use crate::schema::{Node, NodeId, Schema};
use base64::Engine as _;
use serde_json::{Map, Value as Json};

/// One Avro value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Bytes(Vec<u8>),
    String(String),
    /// Field values in the schema's field order.
    Record(Vec<Value>),
    /// Symbol index.
    Enum(u32),
    Array(Vec<Value>),
    Map(Vec<(String, Value)>),
    /// Branch index and value, for unions whose branch a plain value cannot identify (two
    /// records, say). Values of other unions (`["null", "double"]` and the like, nearly every
    /// union in an alert) are stored plain: [`decode`] gives `Double(1.5)`, not
    /// `Union(1, Double(1.5))`, which saves an allocation per field, and [`encode`] finds the
    /// branch from the value. `encode` accepts both forms.
    Union(u32, Box<Value>),
    Fixed(Vec<u8>),
}

/// Why a value does not fit a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("value does not match the schema at {path}: expected {expected}, found {found}")]
pub struct EncodeError {
    pub path: String,
    pub expected: String,
    pub found: String,
}

impl EncodeError {
    fn within(mut self, segment: &str) -> Self {
        self.path = if self.path == "$" {
            format!("$.{segment}")
        } else {
            self.path.replacen('$', &format!("$.{segment}"), 1)
        };
        self
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int(_) => "int",
        Value::Long(_) => "long",
        Value::Float(_) => "float",
        Value::Double(_) => "double",
        Value::Bytes(_) => "bytes",
        Value::String(_) => "string",
        Value::Record(_) => "record",
        Value::Enum(_) => "enum",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Union(..) => "union",
        Value::Fixed(_) => "fixed",
    }
}

/// Whether a node can hold a value of this variant (exactly, without promotion).
pub fn same_kind(node: &Node, value: &Value) -> bool {
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

/// The only branch of `branches` a plain value can belong to, if exactly one can.
fn branch_of(schema: &Schema, branches: &[NodeId], value: &Value) -> Option<usize> {
    let mut found = None;
    for (i, branch) in branches.iter().enumerate() {
        if same_kind(schema.node(*branch), value) {
            if found.is_some() {
                return None;
            }
            found = Some(i);
        }
    }
    found
}

/// The decoded value of branch `index`: plain when the value identifies its branch, else
/// wrapped in [`Value::Union`].
fn wrap_union(schema: &Schema, branches: &[NodeId], index: u32, value: Value) -> Value {
    if branch_of(schema, branches, &value) == Some(index as usize) {
        value
    } else {
        Value::Union(index, Box::new(value))
    }
}

/// Decodes one datum of `schema` that fills `data` exactly.
pub fn decode(schema: &Schema, data: &[u8]) -> Result<Value, DecodeError> {
    let mut cursor = Cursor::new(data);
    let value = decode_node(schema, schema.root(), &mut cursor)?;
    cursor.finish()?;
    Ok(value)
}

/// Decodes the value of node `id` at the cursor.
pub fn decode_node(
    schema: &Schema,
    id: NodeId,
    cursor: &mut Cursor<'_>,
) -> Result<Value, DecodeError> {
    Ok(match schema.node(id) {
        Node::Null => Value::Null,
        Node::Boolean => Value::Boolean(cursor.byte()? != 0),
        Node::Int => Value::Int(cursor.int()?),
        Node::Long => Value::Long(cursor.long()?),
        Node::Float => Value::Float(cursor.float()?),
        Node::Double => Value::Double(cursor.double()?),
        Node::Bytes => Value::Bytes(cursor.bytes()?.to_vec()),
        Node::String => Value::String(cursor.string()?.to_owned()),
        Node::Fixed(fixed) => Value::Fixed(cursor.take(fixed.size)?.to_vec()),
        Node::Enum(e) => {
            let at = cursor.position();
            let index = cursor.long()?;
            if index < 0 || index as usize >= e.symbols.len() {
                return Err(DecodeError::EnumIndex {
                    at,
                    index,
                    symbols: e.symbols.len(),
                    path: String::new(),
                });
            }
            Value::Enum(index as u32)
        }
        Node::Union(branches) => {
            let at = cursor.position();
            let index = cursor.long()?;
            if index < 0 || index as usize >= branches.len() {
                return Err(DecodeError::UnionIndex {
                    at,
                    index,
                    branches: branches.len(),
                    path: String::new(),
                });
            }
            let value = decode_node(schema, branches[index as usize], cursor)?;
            wrap_union(schema, branches, index as u32, value)
        }
        Node::Record(record) => {
            let mut fields = Vec::with_capacity(record.fields.len());
            for field in &record.fields {
                fields.push(
                    decode_node(schema, field.schema, cursor).map_err(|e| e.within(&field.name))?,
                );
            }
            Value::Record(fields)
        }
        Node::Array(items) => {
            let mut values = Vec::new();
            loop {
                let (count, _) = cursor.block_count()?;
                if count == 0 {
                    break;
                }
                // Never reserve more than the input could hold.
                values.reserve(count.min(cursor.remaining() as u64) as usize);
                for _ in 0..count {
                    let index = values.len();
                    values.push(
                        decode_node(schema, *items, cursor)
                            .map_err(|e| e.within(&format!("[{index}]")))?,
                    );
                }
            }
            Value::Array(values)
        }
        Node::Map(values_node) => {
            let mut entries = Vec::new();
            loop {
                let (count, _) = cursor.block_count()?;
                if count == 0 {
                    break;
                }
                entries.reserve(count.min(cursor.remaining() as u64) as usize);
                for _ in 0..count {
                    let key = cursor.string()?.to_owned();
                    let value = decode_node(schema, *values_node, cursor)
                        .map_err(|e| e.within(&format!("[{key:?}]")))?;
                    entries.push((key, value));
                }
            }
            Value::Map(entries)
        }
    })
}

/// Advances the cursor over one value of node `id` without building it.
pub fn skip_node(schema: &Schema, id: NodeId, cursor: &mut Cursor<'_>) -> Result<(), DecodeError> {
    match schema.node(id) {
        Node::Null => {}
        Node::Boolean => cursor.skip(1)?,
        Node::Int | Node::Long | Node::Enum(_) => {
            cursor.long()?;
        }
        Node::Float => cursor.skip(4)?,
        Node::Double => cursor.skip(8)?,
        Node::Bytes | Node::String => {
            let n = cursor.length()?;
            cursor.skip(n)?;
        }
        Node::Fixed(fixed) => cursor.skip(fixed.size)?,
        Node::Union(branches) => {
            let at = cursor.position();
            let index = cursor.long()?;
            if index < 0 || index as usize >= branches.len() {
                return Err(DecodeError::UnionIndex {
                    at,
                    index,
                    branches: branches.len(),
                    path: String::new(),
                });
            }
            // Nullable scalars are most of an alert: skip them without another call.
            match schema.node(branches[index as usize]) {
                Node::Null => {}
                Node::Float => cursor.skip(4)?,
                Node::Double => cursor.skip(8)?,
                Node::Int | Node::Long => {
                    cursor.long()?;
                }
                _ => skip_node(schema, branches[index as usize], cursor)?,
            }
        }
        Node::Record(record) => {
            for field in &record.fields {
                skip_node(schema, field.schema, cursor).map_err(|e| e.within(&field.name))?;
            }
        }
        Node::Array(items) => loop {
            let (count, size) = cursor.block_count()?;
            if count == 0 {
                break;
            }
            match size {
                Some(size) => cursor.skip(size)?,
                None => {
                    for _ in 0..count {
                        skip_node(schema, *items, cursor)?;
                    }
                }
            }
        },
        Node::Map(values) => loop {
            let (count, size) = cursor.block_count()?;
            if count == 0 {
                break;
            }
            match size {
                Some(size) => cursor.skip(size)?,
                None => {
                    for _ in 0..count {
                        let n = cursor.length()?;
                        cursor.skip(n)?;
                        skip_node(schema, *values, cursor)?;
                    }
                }
            }
        },
    }
    Ok(())
}

/// Encodes `value` as a datum of `schema`.
pub fn encode(schema: &Schema, value: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_node(schema, schema.root(), value, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `value` as node `id`.
pub fn encode_node(
    schema: &Schema,
    id: NodeId,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let node = schema.node(id);
    let mismatch = || EncodeError {
        path: "$".into(),
        expected: node.describe(),
        found: kind(value).into(),
    };
    match (node, value) {
        (Node::Null, Value::Null) => {}
        (Node::Boolean, Value::Boolean(b)) => out.push(u8::from(*b)),
        (Node::Int, Value::Int(i)) => write_long(out, i64::from(*i)),
        (Node::Long, Value::Long(l)) => write_long(out, *l),
        (Node::Long, Value::Int(i)) => write_long(out, i64::from(*i)),
        (Node::Float, Value::Float(f)) => out.extend_from_slice(&f.to_le_bytes()),
        (Node::Double, Value::Double(d)) => out.extend_from_slice(&d.to_le_bytes()),
        (Node::Double, Value::Float(f)) => out.extend_from_slice(&f64::from(*f).to_le_bytes()),
        (Node::Bytes, Value::Bytes(b)) => write_bytes(out, b),
        (Node::String, Value::String(s)) => write_bytes(out, s.as_bytes()),
        (Node::Fixed(fixed), Value::Fixed(b)) if b.len() == fixed.size => out.extend_from_slice(b),
        (Node::Enum(e), Value::Enum(index)) if (*index as usize) < e.symbols.len() => {
            write_long(out, i64::from(*index))
        }
        (Node::Union(branches), Value::Union(index, inner))
            if (*index as usize) < branches.len() =>
        {
            write_long(out, i64::from(*index));
            encode_node(schema, branches[*index as usize], inner, out)?;
        }
        (Node::Union(branches), plain) => {
            let index = branch_of(schema, branches, plain).ok_or_else(mismatch)?;
            write_long(out, index as i64);
            encode_node(schema, branches[index], plain, out)?;
        }
        (Node::Record(record), Value::Record(fields)) if fields.len() == record.fields.len() => {
            for (field, value) in record.fields.iter().zip(fields) {
                encode_node(schema, field.schema, value, out).map_err(|e| e.within(&field.name))?;
            }
        }
        (Node::Array(items), Value::Array(values)) => {
            if !values.is_empty() {
                write_long(out, values.len() as i64);
                for (i, value) in values.iter().enumerate() {
                    encode_node(schema, *items, value, out)
                        .map_err(|e| e.within(&format!("[{i}]")))?;
                }
            }
            out.push(0);
        }
        (Node::Map(values_node), Value::Map(entries)) => {
            if !entries.is_empty() {
                write_long(out, entries.len() as i64);
                for (key, value) in entries {
                    write_bytes(out, key.as_bytes());
                    encode_node(schema, *values_node, value, out).map_err(|e| e.within(key))?;
                }
            }
            out.push(0);
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

/// The value a JSON default stands for, per the Avro specification (a union's default is a
/// value of its first branch; bytes and fixed defaults are strings of code points 0–255).
pub fn default_value(schema: &Schema, id: NodeId, json: &Json) -> Result<Value, EncodeError> {
    let node = schema.node(id);
    let mismatch = || EncodeError {
        path: "$".into(),
        expected: node.describe(),
        found: format!("default {json}"),
    };
    let latin1 = |s: &str| -> Option<Vec<u8>> {
        s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
    };
    Ok(match (node, json) {
        (Node::Null, Json::Null) => Value::Null,
        (Node::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (Node::Int, Json::Number(n)) => Value::Int(
            n.as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(mismatch)?,
        ),
        (Node::Long, Json::Number(n)) => Value::Long(n.as_i64().ok_or_else(mismatch)?),
        (Node::Float, Json::Number(n)) => Value::Float(n.as_f64().ok_or_else(mismatch)? as f32),
        (Node::Double, Json::Number(n)) => Value::Double(n.as_f64().ok_or_else(mismatch)?),
        (Node::Float, Json::String(s)) | (Node::Double, Json::String(s)) => {
            let v: f64 = match s.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                _ => return Err(mismatch()),
            };
            if matches!(node, Node::Float) {
                Value::Float(v as f32)
            } else {
                Value::Double(v)
            }
        }
        (Node::Bytes, Json::String(s)) => Value::Bytes(latin1(s).ok_or_else(mismatch)?),
        (Node::Fixed(f), Json::String(s)) => {
            let bytes = latin1(s)
                .filter(|b| b.len() == f.size)
                .ok_or_else(mismatch)?;
            Value::Fixed(bytes)
        }
        (Node::String, Json::String(s)) => Value::String(s.clone()),
        (Node::Enum(e), Json::String(s)) => {
            Value::Enum(e.symbols.iter().position(|x| x == s).ok_or_else(mismatch)? as u32)
        }
        (Node::Union(branches), _) => {
            let first = *branches.first().ok_or_else(mismatch)?;
            wrap_union(schema, branches, 0, default_value(schema, first, json)?)
        }
        (Node::Record(record), Json::Object(object)) => {
            let mut fields = Vec::with_capacity(record.fields.len());
            for field in &record.fields {
                let json = object
                    .get(&field.name)
                    .or(field.default.as_ref())
                    .ok_or_else(mismatch)?;
                fields.push(
                    default_value(schema, field.schema, json).map_err(|e| e.within(&field.name))?,
                );
            }
            Value::Record(fields)
        }
        (Node::Array(items), Json::Array(values)) => Value::Array(
            values
                .iter()
                .map(|v| default_value(schema, *items, v))
                .collect::<Result<_, _>>()?,
        ),
        (Node::Map(values_node), Json::Object(object)) => Value::Map(
            object
                .iter()
                .map(|(k, v)| Ok((k.clone(), default_value(schema, *values_node, v)?)))
                .collect::<Result<_, EncodeError>>()?,
        ),
        _ => return Err(mismatch()),
    })
}

/// How [`to_json`] writes bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BytesAs {
    /// Standard base64 strings (the HTTP API's `format=json`).
    Base64,
    /// Avro's JSON encoding: a string of code points 0–255.
    Latin1,
}

/// The value as JSON with field names from the schema. Unions are written as their value
/// (not Avro's `{"type": value}` wrapper), like fastavro's reader; non-finite floats as
/// strings (`"NaN"`, `"Infinity"`), since JSON has no such numbers.
pub fn to_json(schema: &Schema, id: NodeId, value: &Value, bytes_as: BytesAs) -> Json {
    let bytes = |b: &[u8]| match bytes_as {
        BytesAs::Base64 => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        BytesAs::Latin1 => Json::String(b.iter().map(|&c| char::from(c)).collect()),
    };
    let float = |f: f64| {
        if f.is_finite() {
            serde_json::Number::from_f64(f)
                .map(Json::Number)
                .unwrap_or(Json::Null)
        } else if f.is_nan() {
            Json::String("NaN".into())
        } else if f > 0.0 {
            Json::String("Infinity".into())
        } else {
            Json::String("-Infinity".into())
        }
    };
    match (schema.node(id), value) {
        (_, Value::Null) => Json::Null,
        (_, Value::Boolean(b)) => Json::Bool(*b),
        (_, Value::Int(i)) => Json::from(*i),
        (_, Value::Long(l)) => Json::from(*l),
        (_, Value::Float(f)) => float(f64::from(*f)),
        (_, Value::Double(d)) => float(*d),
        (_, Value::Bytes(b)) | (_, Value::Fixed(b)) => bytes(b),
        (_, Value::String(s)) => Json::String(s.clone()),
        (Node::Enum(e), Value::Enum(i)) => {
            Json::String(e.symbols.get(*i as usize).cloned().unwrap_or_default())
        }
        (Node::Union(branches), Value::Union(i, inner)) => match branches.get(*i as usize) {
            Some(branch) => to_json(schema, *branch, inner, bytes_as),
            None => Json::Null,
        },
        (Node::Union(branches), plain) => match branch_of(schema, branches, plain) {
            Some(index) => to_json(schema, branches[index], plain, bytes_as),
            None => Json::Null,
        },
        (Node::Record(record), Value::Record(fields)) => {
            let mut object = Map::new();
            for (field, value) in record.fields.iter().zip(fields) {
                object.insert(
                    field.name.clone(),
                    to_json(schema, field.schema, value, bytes_as),
                );
            }
            Json::Object(object)
        }
        (Node::Array(items), Value::Array(values)) => Json::Array(
            values
                .iter()
                .map(|v| to_json(schema, *items, v, bytes_as))
                .collect(),
        ),
        (Node::Map(values_node), Value::Map(entries)) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), to_json(schema, *values_node, v, bytes_as)))
                .collect(),
        ),
        _ => Json::Null,
    }
}

/// Builds a value of node `id` from JSON shaped like [`to_json`]'s output (field names, plain
/// union values, bytes as `bytes_as`): the inverse of `to_json`, used to load sample alerts
/// such as the package's `sample_data/alert.json`. A union takes the first branch the JSON
/// fits, as fastavro's writer does.
pub fn from_json(
    schema: &Schema,
    id: NodeId,
    json: &Json,
    bytes_as: BytesAs,
) -> Result<Value, EncodeError> {
    let node = schema.node(id);
    let mismatch = || EncodeError {
        path: "$".into(),
        expected: node.describe(),
        found: json.to_string().chars().take(60).collect(),
    };
    let bytes = |s: &str| -> Option<Vec<u8>> {
        match bytes_as {
            BytesAs::Base64 => base64::engine::general_purpose::STANDARD.decode(s).ok(),
            BytesAs::Latin1 => s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect(),
        }
    };
    let number = |json: &Json| -> Option<f64> {
        match json {
            Json::Number(n) => n.as_f64(),
            Json::String(s) if s == "NaN" => Some(f64::NAN),
            Json::String(s) if s == "Infinity" => Some(f64::INFINITY),
            Json::String(s) if s == "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        }
    };
    Ok(match node {
        Node::Null if json.is_null() => Value::Null,
        Node::Boolean => Value::Boolean(json.as_bool().ok_or_else(mismatch)?),
        Node::Int => Value::Int(
            json.as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(mismatch)?,
        ),
        Node::Long => Value::Long(json.as_i64().ok_or_else(mismatch)?),
        Node::Float => Value::Float(number(json).ok_or_else(mismatch)? as f32),
        Node::Double => Value::Double(number(json).ok_or_else(mismatch)?),
        Node::Bytes => Value::Bytes(json.as_str().and_then(bytes).ok_or_else(mismatch)?),
        Node::Fixed(f) => Value::Fixed(
            json.as_str()
                .and_then(bytes)
                .filter(|b| b.len() == f.size)
                .ok_or_else(mismatch)?,
        ),
        Node::String => Value::String(json.as_str().ok_or_else(mismatch)?.to_owned()),
        Node::Enum(e) => Value::Enum(
            json.as_str()
                .and_then(|s| e.symbols.iter().position(|x| x == s))
                .ok_or_else(mismatch)? as u32,
        ),
        Node::Union(branches) => {
            for (i, branch) in branches.iter().enumerate() {
                if let Ok(value) = from_json(schema, *branch, json, bytes_as) {
                    return Ok(wrap_union(schema, branches, i as u32, value));
                }
            }
            return Err(mismatch());
        }
        Node::Record(record) => {
            let object = json.as_object().ok_or_else(mismatch)?;
            let mut fields = Vec::with_capacity(record.fields.len());
            for field in &record.fields {
                let value = match (object.get(&field.name), &field.default) {
                    (Some(v), _) => from_json(schema, field.schema, v, bytes_as),
                    (None, Some(default)) => default_value(schema, field.schema, default),
                    (None, None) => Err(EncodeError {
                        path: "$".into(),
                        expected: format!("field {}", field.name),
                        found: "nothing".into(),
                    }),
                };
                fields.push(value.map_err(|e| e.within(&field.name))?);
            }
            Value::Record(fields)
        }
        Node::Array(items) => Value::Array(
            json.as_array()
                .ok_or_else(mismatch)?
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    from_json(schema, *items, v, bytes_as).map_err(|e| e.within(&format!("[{i}]")))
                })
                .collect::<Result<_, _>>()?,
        ),
        Node::Map(values) => Value::Map(
            json.as_object()
                .ok_or_else(mismatch)?
                .iter()
                .map(|(k, v)| Ok((k.clone(), from_json(schema, *values, v, bytes_as)?)))
                .collect::<Result<_, EncodeError>>()?,
        ),
        Node::Null => return Err(mismatch()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::parse(&json!({
            "type": "record", "name": "r", "fields": [
                {"name": "id", "type": "long"},
                {"name": "flux", "type": ["null", "float"]},
                {"name": "hist", "type": {"type": "array", "items": {"type": "record", "name": "h", "fields": [{"name": "m", "type": "double"}]}}},
                {"name": "tags", "type": {"type": "map", "values": "string"}},
                {"name": "cut", "type": ["null", "bytes"], "default": null},
                {"name": "band", "type": {"type": "enum", "name": "b", "symbols": ["u", "g", "r"]}},
                {"name": "ok", "type": "boolean"}
            ]
        }))
        .unwrap()
    }

    fn sample() -> Value {
        Value::Record(vec![
            Value::Long(-1234567890123),
            Value::Float(1.5),
            Value::Array(vec![
                Value::Record(vec![Value::Double(60000.5)]),
                Value::Record(vec![Value::Double(-2.0)]),
            ]),
            Value::Map(vec![("k".into(), Value::String("v".into()))]),
            Value::Null,
            Value::Enum(2),
            Value::Boolean(true),
        ])
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let schema = schema();
        let bytes = encode(&schema, &sample()).unwrap();
        assert_eq!(decode(&schema, &bytes).unwrap(), sample());
        let mut cursor = Cursor::new(&bytes);
        skip_node(&schema, schema.root(), &mut cursor).unwrap();
        assert_eq!(cursor.remaining(), 0, "skip consumes exactly one datum");
    }

    #[test]
    fn json_round_trips() {
        let schema = schema();
        let json = to_json(&schema, schema.root(), &sample(), BytesAs::Base64);
        assert_eq!(json["band"], "r");
        assert_eq!(json["hist"][1]["m"], -2.0);
        assert_eq!(
            from_json(&schema, schema.root(), &json, BytesAs::Base64).unwrap(),
            sample()
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let schema = schema();
        let bytes = encode(&schema, &sample()).unwrap();
        for n in 0..bytes.len() {
            assert!(decode(&schema, &bytes[..n]).is_err(), "prefix of {n} bytes");
            assert!(skip_node(&schema, schema.root(), &mut Cursor::new(&bytes[..n])).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode(&schema, &longer),
            Err(DecodeError::TrailingBytes { count: 1 })
        ));
    }

    #[test]
    fn wrong_union_and_enum_indexes_are_errors() {
        let schema = schema();
        let mut bytes = encode(&schema, &sample()).unwrap();
        // The flux union index follows the 6-byte id varint.
        let (_, id_len) = crate::binary::read_long(&bytes).unwrap();
        bytes[id_len] = 0x06; // index 3 of a 2-branch union
        let err = decode(&schema, &bytes).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::UnionIndex {
                    index: 3,
                    branches: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("flux"), "{err}");
    }

    #[test]
    fn huge_array_counts_do_not_allocate() {
        let mut bytes = Vec::new();
        write_long(&mut bytes, 1 << 40);
        // A trillion nulls need no input bytes: refused, never looped over or allocated.
        for items in ["null", "long"] {
            let schema = Schema::parse(&json!({"type": "array", "items": items})).unwrap();
            let err = decode(&schema, &bytes).unwrap_err();
            assert!(matches!(err, DecodeError::LengthTooLarge { .. }), "{err}");
            assert!(skip_node(&schema, schema.root(), &mut Cursor::new(&bytes)).is_err());
        }
    }

    #[test]
    fn ambiguous_unions_keep_their_branch_and_plain_ones_do_not() {
        let schema = Schema::parse(&json!(["null",
            {"type": "record", "name": "a", "fields": [{"name": "x", "type": "int"}]},
            {"type": "record", "name": "b", "fields": [{"name": "x", "type": "int"}]}]))
        .unwrap();
        let second = Value::Union(2, Box::new(Value::Record(vec![Value::Int(4)])));
        let bytes = encode(&schema, &second).unwrap();
        assert_eq!(bytes[0], 4, "branch 2");
        assert_eq!(decode(&schema, &bytes).unwrap(), second);
        assert!(
            encode(&schema, &Value::Record(vec![Value::Int(4)])).is_err(),
            "which record?"
        );
        assert_eq!(decode(&schema, &[0]).unwrap(), Value::Null);
        // The wrapped form of a plain union encodes the same bytes.
        let nullable = Schema::parse(&json!(["null", "double"])).unwrap();
        assert_eq!(
            encode(&nullable, &Value::Union(1, Box::new(Value::Double(2.0)))).unwrap(),
            encode(&nullable, &Value::Double(2.0)).unwrap()
        );
    }

    #[test]
    fn mismatched_values_name_the_field() {
        let schema = schema();
        let mut value = sample();
        if let Value::Record(fields) = &mut value {
            fields[0] = Value::String("nope".into());
        }
        let err = encode(&schema, &value).unwrap_err();
        assert_eq!(err.path, "$.id");
    }

    #[test]
    fn defaults_follow_the_first_union_branch() {
        let schema = Schema::parse(&json!(["null", "string"])).unwrap();
        assert_eq!(
            default_value(&schema, schema.root(), &Json::Null).unwrap(),
            Value::Null
        );
        assert!(default_value(&schema, schema.root(), &json!("x")).is_err());
    }
}
