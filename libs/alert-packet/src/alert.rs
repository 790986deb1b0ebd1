//! What makes an Avro record an alert: its id and the time of its triggering source.
//!
//! The id is the first field of every alert schema (`alertId` in 3.x–7.x, `diaSourceId` from
//! 8.0), a `long`, so it is the first zig-zag varint of the body: [`alert_id`] reads it without
//! decoding anything else, and [`replace_id`] rewrites it without re-encoding. The source time
//! (`diaSource.midPointTai` up to 4.x, `diaSource.midpointMjdTai` from 5.0) is found by
//! [`AlertLayout`], which skips to it through the schema.

use crate::binary::{read_long, write_long, Cursor, DecodeError};
use crate::schema::{Node, NodeId, Schema};
use crate::value::skip_node;

/// A record that is not an alert, or alert bytes that are not readable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("schema {schema} is not an alert schema: {reason}")]
    NotAnAlert { schema: String, reason: String },
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// The alert id: the first varint of the Avro body.
#[inline]
pub fn alert_id(body: &[u8]) -> Result<i64, DecodeError> {
    read_long(body).map(|(id, _)| id)
}

/// Writes `body` with its first varint (the alert id) replaced by `new_id` into `out`.
pub fn replace_id(body: &[u8], new_id: i64, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let (_, used) = read_long(body)?;
    out.reserve(body.len() + 10 - used);
    write_long(out, new_id);
    out.extend_from_slice(&body[used..]);
    Ok(())
}

/// Where the id and the source time live in one alert schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLayout {
    /// `alertId` or `diaSourceId`.
    pub id_field: String,
    /// Index of `diaSource` among the alert's fields.
    dia_source_field: usize,
    /// Index of the time field among diaSource's fields, and its name.
    time_field: usize,
    pub time_field_name: String,
    /// Union branch of the time field that holds the double, when the field is nullable.
    time_nullable: Option<Vec<bool>>,
}

impl AlertLayout {
    /// Finds the id and source time in `schema`, or says why it is not an alert schema.
    pub fn of(schema: &Schema) -> Result<AlertLayout, AlertError> {
        let name = schema.name().unwrap_or("(unnamed)").to_owned();
        let not_alert = |reason: &str| AlertError::NotAnAlert {
            schema: name.clone(),
            reason: reason.to_owned(),
        };
        let record = schema
            .root_record()
            .ok_or_else(|| not_alert("it is not a record"))?;
        let first = record
            .fields
            .first()
            .ok_or_else(|| not_alert("it has no fields"))?;
        if !matches!(first.name.as_str(), "alertId" | "diaSourceId")
            || !matches!(schema.node(first.schema), Node::Long)
        {
            return Err(not_alert(
                "its first field is not a long `alertId` or `diaSourceId`",
            ));
        }
        let (dia_source_field, dia_source) = record
            .fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == "diaSource")
            .ok_or_else(|| not_alert("it has no `diaSource` field"))?;
        let Node::Record(source) = schema.node(dia_source.schema) else {
            return Err(not_alert("`diaSource` is not a record"));
        };
        let (time_field, time) = source
            .fields
            .iter()
            .enumerate()
            .find(|(_, f)| matches!(f.name.as_str(), "midpointMjdTai" | "midPointTai"))
            .ok_or_else(|| not_alert("`diaSource` has no `midpointMjdTai` or `midPointTai`"))?;
        let time_nullable = match schema.node(time.schema) {
            Node::Double => None,
            Node::Union(branches) => Some(
                branches
                    .iter()
                    .map(|b| matches!(schema.node(*b), Node::Double))
                    .collect(),
            ),
            _ => return Err(not_alert("the source time is not a double")),
        };
        Ok(AlertLayout {
            id_field: first.name.clone(),
            dia_source_field,
            time_field,
            time_field_name: time.name.clone(),
            time_nullable,
        })
    }

    /// The triggering source's time (MJD, TAI), or `None` when the schema lets it be null and
    /// it is. Reads only as far as the field.
    pub fn source_time(&self, schema: &Schema, body: &[u8]) -> Result<Option<f64>, DecodeError> {
        let Some(record) = schema.root_record() else {
            return Ok(None);
        };
        let mut cursor = Cursor::new(body);
        for field in &record.fields[..self.dia_source_field] {
            skip_node(schema, field.schema, &mut cursor).map_err(|e| e.within(&field.name))?;
        }
        let source_id: NodeId = record.fields[self.dia_source_field].schema;
        let Node::Record(source) = schema.node(source_id) else {
            return Ok(None);
        };
        for field in &source.fields[..self.time_field] {
            skip_node(schema, field.schema, &mut cursor)
                .map_err(|e| e.within(&field.name).within("diaSource"))?;
        }
        match &self.time_nullable {
            None => cursor.double().map(Some),
            Some(is_double) => {
                let at = cursor.position();
                let index = cursor.long()?;
                match is_double.get(index as usize) {
                    Some(true) => cursor.double().map(Some),
                    Some(false) => Ok(None),
                    None => Err(DecodeError::UnionIndex {
                        at,
                        index,
                        branches: is_double.len(),
                        path: String::new(),
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{encode, Value};
    use serde_json::json;

    fn schema(id_field: &str, time_field: &str) -> Schema {
        Schema::parse(
            &json!({"type": "record", "name": "alert", "namespace": "lsst.v1_0", "fields": [
            {"name": id_field, "type": "long"},
            {"name": "note", "type": ["null", "string"]},
            {"name": "diaSource", "type": {"type": "record", "name": "diaSource", "fields": [
                {"name": "diaSourceId", "type": "long"},
                {"name": "name", "type": "string"},
                {"name": time_field, "type": "double"}]}}]}),
        )
        .unwrap()
    }

    fn body(id: i64) -> Vec<u8> {
        let value = Value::Record(vec![
            Value::Long(id),
            Value::Union(1, Box::new(Value::String("hello".into()))),
            Value::Record(vec![
                Value::Long(id),
                Value::String("src".into()),
                Value::Double(60345.25),
            ]),
        ]);
        encode(&schema("diaSourceId", "midpointMjdTai"), &value).unwrap()
    }

    #[test]
    fn the_id_is_the_first_varint() {
        for id in [0, 1, 170_000_123_456_789, i64::MAX, -5] {
            assert_eq!(alert_id(&body(id)).unwrap(), id);
        }
        assert!(alert_id(&[]).is_err());
        assert!(alert_id(&[0x80]).is_err());
    }

    #[test]
    fn replacing_the_id_keeps_everything_else() {
        let s = schema("diaSourceId", "midpointMjdTai");
        let original = body(5);
        let mut out = Vec::new();
        replace_id(&original, 9_000_000_000_000, &mut out).unwrap();
        assert_eq!(alert_id(&out).unwrap(), 9_000_000_000_000);
        let Value::Record(before) = crate::value::decode(&s, &original).unwrap() else {
            panic!()
        };
        let Value::Record(after) = crate::value::decode(&s, &out).unwrap() else {
            panic!()
        };
        assert_eq!(before[1..], after[1..]);
    }

    #[test]
    fn the_source_time_is_found_for_old_and_new_names() {
        let new = schema("diaSourceId", "midpointMjdTai");
        let layout = AlertLayout::of(&new).unwrap();
        assert_eq!(layout.id_field, "diaSourceId");
        assert_eq!(layout.source_time(&new, &body(7)).unwrap(), Some(60345.25));
        let old = schema("alertId", "midPointTai");
        let layout = AlertLayout::of(&old).unwrap();
        assert_eq!(layout.id_field, "alertId");
        assert_eq!(layout.time_field_name, "midPointTai");
        assert_eq!(layout.source_time(&old, &body(7)).unwrap(), Some(60345.25));
        assert!(layout.source_time(&old, &body(7)[..12]).is_err());
    }

    #[test]
    fn records_that_are_not_alerts_are_refused() {
        let other = Schema::parse(&json!({"type": "record", "name": "weather", "fields": [{"name": "temp", "type": "double"}]})).unwrap();
        let err = AlertLayout::of(&other).unwrap_err();
        assert!(err.to_string().contains("weather"), "{err}");
        assert!(AlertLayout::of(&Schema::parse(&json!("long")).unwrap()).is_err());
    }
}
