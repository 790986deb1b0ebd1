//! Alerts as multi-extension FITS files, laid out as Herald lays them out, written directly.
//!
//! FITS is 2880-byte blocks: each HDU is a header of 80-character `KEYWORD = value` cards
//! ending with `END`, padded with spaces, then its data padded with zeros. An alert becomes:
//!
//! - `PRIMARY`: no data; `TELESCOP`, `INSTRUME`;
//! - `ALERT`: one row, the alert's scalar fields followed by the fields of whichever of
//!   `diaObject`, `ssObject` and `mpc_orbits` the alert has;
//! - `DIFFIM`, `SCIENCE`, `TEMPLATE`: the cutouts present, each the cutout's primary image with
//!   its header;
//! - `DIASOURCE`: the triggering `diaSource` then each of `prvDiaSources`, with `psfFlux` moved
//!   next to `midpointMjdTai` and two added columns, `trigger` (true on the first row) and
//!   `iau_id` (`LSST-AP-DS-{diaSourceId}`);
//! - then, in schema order, one binary table per other record or array-of-records field:
//!   `FORCEDPHOT` (`prvDiaForcedSources`), `SSSOURCE` (`ssSource`), else the field's name in
//!   capitals (`PRVDIANONDETECTIONLIMITS`, `MPCORB`); an absent record or array is a table
//!   with no rows.
//!
//! Columns follow Herald's rules: `float` → `E`, `double` → `D` (null → NaN), `int` → `J`,
//! `long` → `K` (null → the type's minimum, declared as `TNULLn` when the field is nullable),
//! `boolean` → `L`, or `B` with 255 for null when nullable, `string` → `nA` as wide as the
//! longest value (null → empty); units from [`super::units`] on numeric columns. Bytes, enums,
//! maps, nested records and fields with a logical type (`timestamp-micros`) get no column.
//!
//! Where Herald fails we answer: old alerts (3.0–6.1) with both `diaObject` and `ssObject`
//! have two `flags` fields, which astropy refuses as a duplicate column name (Herald answers
//! 500); we name the second one after its record (`ssObject_flags`).

use super::params::IAU_ALERT_PREFIX;
use super::units::unit_of;
use alert_packet::schema::{Node, NodeId, Record, Schema};
use alert_packet::value::Value;
use std::fmt::Write as _;

const BLOCK: usize = 2880;
const CARD: usize = 80;

/// The cutout fields and the extension names Herald gives them, in file order.
pub const CUTOUTS: [(&str, &str); 3] = [
    ("cutoutDifference", "DIFFIM"),
    ("cutoutScience", "SCIENCE"),
    ("cutoutTemplate", "TEMPLATE"),
];

/// Top-level fields whose columns join the `ALERT` table.
const MERGED_INTO_ALERT: [&str; 3] = ["diaObject", "ssObject", "mpc_orbits"];

/// Why an alert could not be written as FITS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitsError {
    #[error("the alert schema is not a record")]
    NotARecord,
    #[error("Required field '{0}' not found in alert schema")]
    MissingField(&'static str),
    #[error("its {field} is not a FITS image: {reason}")]
    BadCutout { field: String, reason: String },
}

// ---------------------------------------------------------------------------------------------
// Headers

/// The cards of one header.
#[derive(Debug, Default)]
struct Header {
    bytes: Vec<u8>,
}

impl Header {
    fn card(&mut self, text: &str) {
        let start = self.bytes.len();
        self.bytes.extend(text.bytes().take(CARD));
        self.bytes.resize(start + CARD, b' ');
    }

    fn raw(&mut self, card: &[u8]) {
        self.bytes.extend_from_slice(&card[..CARD]);
    }

    fn logical(&mut self, key: &str, value: bool) {
        self.card(&format!("{key:<8}= {:>20}", if value { "T" } else { "F" }));
    }

    fn int(&mut self, key: &str, value: i64) {
        self.card(&format!("{key:<8}= {value:>20}"));
    }

    /// A string value: quoted, quotes doubled, at least 8 characters between the quotes; longer
    /// than one card holds, it goes on in `CONTINUE` cards (the long-string convention).
    fn string(&mut self, key: &str, value: &str) {
        let printable: String = value
            .chars()
            .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
            .collect();
        let escaped = printable.replace('\'', "''");
        if escaped.len() <= 68 {
            self.card(&format!("{key:<8}= '{escaped:<8}'"));
            return;
        }
        // 67 characters and `&` per card; a doubled quote is never split.
        let mut pieces = Vec::new();
        let mut piece = String::new();
        let mut chars = printable.chars().peekable();
        while let Some(c) = chars.next() {
            let width = if c == '\'' { 2 } else { 1 };
            if piece.len() + width > 67 {
                pieces.push(std::mem::take(&mut piece));
            }
            if c == '\'' {
                piece.push_str("''");
            } else {
                piece.push(c);
            }
            if chars.peek().is_none() {
                pieces.push(std::mem::take(&mut piece));
            }
        }
        let last = pieces.len() - 1;
        for (i, piece) in pieces.iter().enumerate() {
            let amp = if i < last { "&" } else { "" };
            if i == 0 {
                self.card(&format!("{key:<8}= '{piece}{amp}'"));
            } else {
                self.card(&format!("CONTINUE  '{piece}{amp}'"));
            }
        }
    }

    /// Ends the header and pads it to whole blocks.
    fn finish(mut self, out: &mut Vec<u8>) {
        self.card("END");
        out.extend_from_slice(&self.bytes);
        pad(out, b' ');
    }
}

fn pad(out: &mut Vec<u8>, fill: u8) {
    let padded = out.len().div_ceil(BLOCK) * BLOCK;
    out.resize(padded, fill);
}

fn primary(out: &mut Vec<u8>, rubin: bool) {
    let mut header = Header::default();
    header.logical("SIMPLE", true);
    header.int("BITPIX", 8);
    header.int("NAXIS", 0);
    header.logical("EXTEND", true);
    if rubin {
        header.string("TELESCOP", "Rubin Observatory");
        header.string("INSTRUME", "LSSTCam");
    }
    header.finish(out);
}

// ---------------------------------------------------------------------------------------------
// Cutouts

/// Appends the primary image of the FITS file `stamp` as an `IMAGE` extension named `extname`,
/// with the stamp's header cards and its data bytes as they are.
fn image_extension(
    out: &mut Vec<u8>,
    stamp: &[u8],
    extname: &str,
    field: &str,
) -> Result<(), FitsError> {
    let bad = |reason: &str| FitsError::BadCutout {
        field: field.to_owned(),
        reason: reason.to_owned(),
    };
    if !stamp.starts_with(b"SIMPLE  =") {
        return Err(bad("it does not start with SIMPLE"));
    }
    let mut bitpix: Option<i64> = None;
    let mut axes: Vec<i64> = Vec::new();
    let mut naxis: Option<usize> = None;
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut end = None;
    for (i, card) in stamp.chunks_exact(CARD).enumerate() {
        let key = std::str::from_utf8(&card[..8]).unwrap_or("").trim_end();
        let value = || -> Option<i64> {
            if &card[8..10] != b"= " {
                return None;
            }
            let text = std::str::from_utf8(&card[10..]).ok()?;
            text.split('/').next()?.trim().parse().ok()
        };
        match key {
            "END" => {
                end = Some(i);
                break;
            }
            "BITPIX" => bitpix = value(),
            "NAXIS" => {
                let n = value().ok_or_else(|| bad("NAXIS is not an integer"))?;
                if !(0..=999).contains(&n) {
                    return Err(bad("NAXIS is out of range"));
                }
                naxis = Some(n as usize);
                axes = vec![-1; n as usize];
            }
            k if k.starts_with("NAXIS") => {
                let index: usize = k[5..].parse().map_err(|_| bad("bad NAXISn keyword"))?;
                let slot = index
                    .checked_sub(1)
                    .and_then(|i| axes.get_mut(i))
                    .ok_or_else(|| bad("NAXISn beyond NAXIS"))?;
                *slot = value().ok_or_else(|| bad("NAXISn is not an integer"))?;
            }
            "SIMPLE" | "EXTEND" | "XTENSION" | "PCOUNT" | "GCOUNT" | "EXTNAME" | "GROUPS" => {}
            "" if card.iter().all(|b| *b == b' ') => {}
            _ => kept.push(card),
        }
    }
    let end = end.ok_or_else(|| bad("its header has no END"))?;
    let bitpix = bitpix.ok_or_else(|| bad("BITPIX is missing"))?;
    if ![8, 16, 32, 64, -32, -64].contains(&bitpix) {
        return Err(bad("BITPIX is not 8, 16, 32, 64, -32 or -64"));
    }
    if naxis.is_none() || axes.iter().any(|a| *a < 0) {
        return Err(bad("NAXIS or an NAXISn is missing"));
    }
    let data_start = (end + 1).div_ceil(BLOCK / CARD) * BLOCK;
    let mut data_len = if axes.is_empty() {
        0u64
    } else {
        bitpix.unsigned_abs() / 8
    };
    for axis in &axes {
        data_len = data_len
            .checked_mul(*axis as u64)
            .ok_or_else(|| bad("its image size overflows"))?;
    }
    let data = usize::try_from(data_len)
        .ok()
        .and_then(|len| stamp.get(data_start..data_start.checked_add(len)?))
        .ok_or_else(|| bad("its data is shorter than its header says"))?;
    let mut header = Header::default();
    header.string("XTENSION", "IMAGE");
    header.int("BITPIX", bitpix);
    header.int("NAXIS", axes.len() as i64);
    for (i, axis) in axes.iter().enumerate() {
        header.int(&format!("NAXIS{}", i + 1), *axis);
    }
    header.int("PCOUNT", 0);
    header.int("GCOUNT", 1);
    for card in kept {
        header.raw(card);
    }
    header.string("EXTNAME", extname);
    header.finish(out);
    out.extend_from_slice(data);
    pad(out, 0);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Binary tables

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Double,
    Int,
    Long,
    Logical,
    NullableLogical,
    /// Width in bytes.
    Text(usize),
}

impl Kind {
    fn width(self) -> usize {
        match self {
            Kind::Float | Kind::Int => 4,
            Kind::Double | Kind::Long => 8,
            Kind::Logical | Kind::NullableLogical => 1,
            Kind::Text(width) => width,
        }
    }
}

/// Where a column's values come from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Field `field` of the row's record number `slot`.
    Field { slot: usize, field: usize },
    /// `trigger`: true on the first row.
    Trigger,
    /// `iau_id`: the prefix and field `field` (`diaSourceId`) of record 0.
    IauId { field: usize },
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
    nullable: bool,
    unit: Option<&'static str>,
    source: Source,
}

/// A table's rows: each row is one or more records' field values.
type Row<'a> = Vec<&'a [Value]>;

/// Strips union wrappers from a value.
fn plain(value: &Value) -> &Value {
    let mut value = value;
    while let Value::Union(_, inner) = value {
        value = inner;
    }
    value
}

/// The column of a field, as Herald's `_make_fits_column` decides it: `None` for fields that
/// are not a (nullable) float, double, int, long, boolean or string.
fn column_of(schema: &Schema, name: &str, id: NodeId, slot: usize, field: usize) -> Option<Column> {
    let (base, nullable) = match schema.node(id) {
        Node::Union(branches) => {
            let nullable = branches
                .iter()
                .any(|b| matches!(schema.node(*b), Node::Null));
            let base = *branches
                .iter()
                .find(|b| !matches!(schema.node(**b), Node::Null))?;
            (base, nullable)
        }
        _ => (id, false),
    };
    if schema.logical_type(base).is_some() {
        return None;
    }
    let kind = match schema.node(base) {
        Node::Float => Kind::Float,
        Node::Double => Kind::Double,
        Node::Int => Kind::Int,
        Node::Long => Kind::Long,
        Node::Boolean if nullable => Kind::NullableLogical,
        Node::Boolean => Kind::Logical,
        Node::String => Kind::Text(1),
        _ => return None,
    };
    let unit = match kind {
        Kind::Float | Kind::Double | Kind::Int | Kind::Long => unit_of(name),
        _ => None,
    };
    Some(Column {
        name: name.to_owned(),
        kind,
        nullable,
        unit,
        source: Source::Field { slot, field },
    })
}

fn columns_of(schema: &Schema, record: &Record, slot: usize) -> Vec<Column> {
    record
        .fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| column_of(schema, &f.name, f.schema, slot, i))
        .collect()
}

/// The record a field's type stands for, as Herald's `_unwrap_fields` finds it: through
/// nullable unions and arrays; `None` when there is none or it has no fields.
fn record_of(schema: &Schema, id: NodeId) -> Option<&Record> {
    match schema.node(id) {
        Node::Record(record) if !record.fields.is_empty() => Some(record),
        Node::Array(items) => record_of(schema, *items),
        Node::Union(branches) => branches
            .iter()
            .filter(|b| !matches!(schema.node(**b), Node::Null))
            .find_map(|b| record_of(schema, *b)),
        _ => None,
    }
}

/// Whether a field's type is an array, through a nullable union (Herald's `_is_array_type`).
fn is_array(schema: &Schema, id: NodeId) -> bool {
    match schema.node(id) {
        Node::Array(_) => true,
        Node::Union(branches) => branches
            .iter()
            .find(|b| !matches!(schema.node(**b), Node::Null))
            .is_some_and(|b| matches!(schema.node(*b), Node::Array(_))),
        _ => false,
    }
}

/// The fields of a record value, `None` for null.
fn record_values(value: &Value) -> Option<&[Value]> {
    match plain(value) {
        Value::Record(fields) => Some(fields),
        _ => None,
    }
}

/// The records of an array value (null → none).
fn array_records(value: &Value) -> Vec<&[Value]> {
    match plain(value) {
        Value::Array(items) => items.iter().filter_map(record_values).collect(),
        _ => Vec::new(),
    }
}

fn field_value<'a>(row: &Row<'a>, slot: usize, field: usize) -> &'a Value {
    row.get(slot)
        .and_then(|r| r.get(field))
        .map_or(&Value::Null, plain)
}

fn text_of(value: &Value) -> &[u8] {
    match value {
        Value::String(s) => s.as_bytes(),
        _ => b"",
    }
}

/// Writes a `BINTABLE` extension.
fn table(out: &mut Vec<u8>, extname: &str, mut columns: Vec<Column>, rows: &[Row<'_>]) {
    // String columns are as wide as their longest value (at least 1).
    let iau_width = |row: &Row<'_>, field: usize| {
        IAU_ALERT_PREFIX.len() + integer_text(field_value(row, 0, field)).len()
    };
    for column in &mut columns {
        if let Kind::Text(_) = column.kind {
            let widest = rows
                .iter()
                .map(|row| match column.source {
                    Source::Field { slot, field } => text_of(field_value(row, slot, field)).len(),
                    Source::IauId { field } => iau_width(row, field),
                    Source::Trigger => 1,
                })
                .max()
                .unwrap_or(0);
            column.kind = Kind::Text(widest.max(1));
        }
    }
    let row_width: usize = columns.iter().map(|c| c.kind.width()).sum();
    let mut header = Header::default();
    header.string("XTENSION", "BINTABLE");
    header.int("BITPIX", 8);
    header.int("NAXIS", 2);
    header.int("NAXIS1", row_width as i64);
    header.int("NAXIS2", rows.len() as i64);
    header.int("PCOUNT", 0);
    header.int("GCOUNT", 1);
    header.int("TFIELDS", columns.len() as i64);
    for (i, column) in columns.iter().enumerate() {
        let n = i + 1;
        header.string(&format!("TTYPE{n}"), &column.name);
        let form = match column.kind {
            Kind::Float => "E".to_owned(),
            Kind::Double => "D".to_owned(),
            Kind::Int => "J".to_owned(),
            Kind::Long => "K".to_owned(),
            Kind::Logical => "L".to_owned(),
            Kind::NullableLogical => "B".to_owned(),
            Kind::Text(width) => format!("{width}A"),
        };
        header.string(&format!("TFORM{n}"), &form);
        if let Some(unit) = column.unit {
            header.string(&format!("TUNIT{n}"), unit);
        }
        match column.kind {
            Kind::Int if column.nullable => header.int(&format!("TNULL{n}"), i32::MIN.into()),
            Kind::Long if column.nullable => header.int(&format!("TNULL{n}"), i64::MIN),
            Kind::NullableLogical => header.int(&format!("TNULL{n}"), 255),
            _ => {}
        }
    }
    header.string("EXTNAME", extname);
    header.finish(out);
    out.reserve(row_width * rows.len() + BLOCK);
    let mut iau = String::new();
    for (r, row) in rows.iter().enumerate() {
        for column in &columns {
            let value = match column.source {
                Source::Field { slot, field } => field_value(row, slot, field),
                Source::Trigger => {
                    out.push(if r == 0 { b'T' } else { b'F' });
                    continue;
                }
                Source::IauId { field } => {
                    iau.clear();
                    iau.push_str(IAU_ALERT_PREFIX);
                    iau.push_str(&integer_text(field_value(row, 0, field)));
                    push_text(out, iau.as_bytes(), column.kind.width());
                    continue;
                }
            };
            write_cell(out, column.kind, value);
        }
    }
    pad(out, 0);
}

fn integer_text(value: &Value) -> String {
    match value {
        Value::Long(l) => l.to_string(),
        Value::Int(i) => i.to_string(),
        _ => "None".to_owned(),
    }
}

fn push_text(out: &mut Vec<u8>, text: &[u8], width: usize) {
    let take = text.len().min(width);
    out.extend_from_slice(&text[..take]);
    out.resize(out.len() + (width - take), 0);
}

fn write_cell(out: &mut Vec<u8>, kind: Kind, value: &Value) {
    let as_f64 = |v: &Value| match v {
        Value::Double(d) => *d,
        Value::Float(f) => f64::from(*f),
        Value::Long(l) => *l as f64,
        Value::Int(i) => f64::from(*i),
        _ => f64::NAN,
    };
    match kind {
        Kind::Float => out.extend_from_slice(&(as_f64(value) as f32).to_be_bytes()),
        Kind::Double => out.extend_from_slice(&as_f64(value).to_be_bytes()),
        Kind::Int => {
            let v = match value {
                Value::Int(i) => *i,
                Value::Long(l) => i32::try_from(*l).unwrap_or(i32::MIN),
                _ => i32::MIN,
            };
            out.extend_from_slice(&v.to_be_bytes());
        }
        Kind::Long => {
            let v = match value {
                Value::Long(l) => *l,
                Value::Int(i) => i64::from(*i),
                _ => i64::MIN,
            };
            out.extend_from_slice(&v.to_be_bytes());
        }
        Kind::Logical => out.push(match value {
            Value::Boolean(true) => b'T',
            _ => b'F',
        }),
        Kind::NullableLogical => out.push(match value {
            Value::Boolean(true) => 1,
            Value::Boolean(false) => 0,
            _ => 255,
        }),
        Kind::Text(width) => push_text(out, text_of(value), width),
    }
}

// ---------------------------------------------------------------------------------------------
// Files

/// The bytes of a top-level `bytes` field, if the alert has them.
fn top_bytes<'a>(record: &Record, values: &'a [Value], name: &str) -> Option<&'a [u8]> {
    let index = record.fields.iter().position(|f| f.name == name)?;
    match plain(values.get(index)?) {
        Value::Bytes(b) | Value::Fixed(b) => Some(b),
        _ => None,
    }
}

/// The alert as Herald's multi-extension FITS file.
pub fn alert_fits(schema: &Schema, value: &Value) -> Result<Vec<u8>, FitsError> {
    let record = schema.root_record().ok_or(FitsError::NotARecord)?;
    let Value::Record(values) = value else {
        return Err(FitsError::NotARecord);
    };
    let index_of = |name: &str| record.fields.iter().position(|f| f.name == name);
    let mut out = Vec::with_capacity(256 * 1024);
    primary(&mut out, true);

    // ALERT: the scalar fields, then the merged records present.
    let mut columns = columns_of(schema, record, 0);
    let mut slots: Row<'_> = vec![values.as_slice()];
    for name in MERGED_INTO_ALERT {
        let Some(index) = index_of(name) else {
            continue;
        };
        let Some(sub) = record_of(schema, record.fields[index].schema) else {
            continue;
        };
        let data = match plain(&values[index]) {
            Value::Array(items) => items.first().and_then(record_values),
            other => record_values(other),
        };
        let Some(data) = data else { continue };
        let slot = slots.len();
        slots.push(data);
        for mut column in columns_of(schema, sub, slot) {
            if columns.iter().any(|c| c.name == column.name) {
                column.name = format!("{name}_{}", column.name);
            }
            columns.push(column);
        }
    }
    table(&mut out, "ALERT", columns, &[slots]);

    for (field, extname) in CUTOUTS {
        if let Some(stamp) = top_bytes(record, values, field) {
            image_extension(&mut out, stamp, extname, field)?;
        }
    }

    // DIASOURCE: the triggering source and the previous ones.
    let dia_index = index_of("diaSource").ok_or(FitsError::MissingField("diaSource"))?;
    let dia_record = record_of(schema, record.fields[dia_index].schema)
        .ok_or(FitsError::MissingField("diaSource"))?;
    let mut rows: Vec<Row<'_>> = record_values(&values[dia_index])
        .into_iter()
        .map(|r| vec![r])
        .collect();
    if let Some(prv) = index_of("prvDiaSources") {
        rows.extend(array_records(&values[prv]).into_iter().map(|r| vec![r]));
    }
    let mut columns = columns_of(schema, dia_record, 0);
    let position = |columns: &[Column], name: &str| columns.iter().position(|c| c.name == name);
    if let (Some(psf), Some(mjd)) = (
        position(&columns, "psfFlux"),
        position(&columns, "midpointMjdTai"),
    ) {
        if psf != mjd + 1 {
            let column = columns.remove(psf);
            let mjd = if psf < mjd { mjd - 1 } else { mjd };
            columns.insert(mjd + 1, column);
        }
    }
    columns.push(Column {
        name: "trigger".into(),
        kind: Kind::Logical,
        nullable: false,
        unit: None,
        source: Source::Trigger,
    });
    if let Some(id_field) = dia_record
        .fields
        .iter()
        .position(|f| f.name == "diaSourceId")
    {
        columns.push(Column {
            name: "iau_id".into(),
            kind: Kind::Text(1),
            nullable: false,
            unit: None,
            source: Source::IauId { field: id_field },
        });
    }
    table(&mut out, "DIASOURCE", columns, &rows);

    // Every other record or array-of-records field, in schema order.
    for (index, field) in record.fields.iter().enumerate() {
        let name = field.name.as_str();
        if name == "diaSource"
            || name == "prvDiaSources"
            || MERGED_INTO_ALERT.contains(&name)
            || CUTOUTS.iter().any(|(cutout, _)| *cutout == name)
        {
            continue;
        }
        let Some(sub) = record_of(schema, field.schema) else {
            continue;
        };
        let extname = match name {
            "prvDiaForcedSources" => "FORCEDPHOT".to_owned(),
            "ssSource" => "SSSOURCE".to_owned(),
            other => other.to_uppercase(),
        };
        let rows: Vec<Row<'_>> = if is_array(schema, field.schema) {
            array_records(&values[index])
                .into_iter()
                .map(|r| vec![r])
                .collect()
        } else {
            record_values(&values[index])
                .into_iter()
                .map(|r| vec![r])
                .collect()
        };
        table(&mut out, &extname, columns_of(schema, sub, 0), &rows);
    }
    Ok(out)
}

/// The alert's cutouts as one FITS file: an empty primary HDU and one image extension per
/// cutout present (just the primary HDU when there are none, as Herald answers).
pub fn cutouts_fits(schema: &Schema, value: &Value) -> Result<Vec<u8>, FitsError> {
    let record = schema.root_record().ok_or(FitsError::NotARecord)?;
    let Value::Record(values) = value else {
        return Err(FitsError::NotARecord);
    };
    let mut out = Vec::with_capacity(32 * 1024);
    primary(&mut out, false);
    for (field, extname) in CUTOUTS {
        if let Some(stamp) = top_bytes(record, values, field) {
            image_extension(&mut out, stamp, extname, field)?;
        }
    }
    Ok(out)
}

/// A short description of a file's HDUs (`PRIMARY, ALERT(1 row), ...`) for tests and logs.
pub fn describe(file: &[u8]) -> String {
    let mut text = String::new();
    let mut offset = 0;
    while offset + BLOCK <= file.len() {
        let mut name = String::from("PRIMARY");
        let mut rows = None;
        let mut data_len: u64 = 0;
        let mut bitpix: u64 = 0;
        let mut axes: Vec<u64> = Vec::new();
        let mut end = None;
        for (i, card) in file[offset..].chunks_exact(CARD).enumerate() {
            let key = std::str::from_utf8(&card[..8]).unwrap_or("").trim_end();
            let value = std::str::from_utf8(&card[10..])
                .unwrap_or("")
                .split('/')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('\'')
                .trim()
                .to_owned();
            match key {
                "END" => {
                    end = Some(i);
                    break;
                }
                "EXTNAME" => name = value,
                "BITPIX" => bitpix = value.trim_start_matches('-').parse().unwrap_or(0),
                "NAXIS2" => {
                    rows = value.parse::<u64>().ok();
                    axes.push(rows.unwrap_or(0));
                }
                k if k.starts_with("NAXIS") && k != "NAXIS" => {
                    axes.push(value.parse().unwrap_or(0))
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        if !axes.is_empty() {
            data_len = axes.iter().product::<u64>() * (bitpix / 8).max(1);
        }
        let _ = write!(text, "{}{name}", if text.is_empty() { "" } else { ", " });
        if name != "PRIMARY" && !["DIFFIM", "SCIENCE", "TEMPLATE"].contains(&name.as_str()) {
            let _ = write!(text, "({} rows)", rows.unwrap_or(0));
        }
        offset += (end + 1).div_ceil(BLOCK / CARD) * BLOCK;
        offset += (data_len as usize).div_ceil(BLOCK) * BLOCK;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"type":"record","name":"alert","namespace":"lsst.v10_0","fields":[
        {"name":"diaSourceId","type":"long"},
        {"name":"observation_reason","type":["null","string"]},
        {"name":"diaSource","type":{"type":"record","name":"diaSource","fields":[
            {"name":"diaSourceId","type":"long"},
            {"name":"psfFlux","type":["null","float"]},
            {"name":"ra","type":"double"},
            {"name":"midpointMjdTai","type":"double"},
            {"name":"band","type":["null","string"]},
            {"name":"isDipole","type":["null","boolean"]},
            {"name":"detector","type":["null","int"]},
            {"name":"time_processed","type":{"type":"long","logicalType":"timestamp-micros"}}]}},
        {"name":"prvDiaSources","type":["null",{"type":"array","items":"diaSource"}]},
        {"name":"prvDiaForcedSources","type":["null",{"type":"array","items":{"type":"record","name":"diaForcedSource","fields":[
            {"name":"diaForcedSourceId","type":"long"},{"name":"flag","type":"boolean"}]}}]},
        {"name":"diaObject","type":["null",{"type":"record","name":"diaObject","fields":[
            {"name":"diaObjectId","type":"long"},{"name":"ra","type":"double"}]}]},
        {"name":"ssSource","type":["null",{"type":"record","name":"ssSource","fields":[{"name":"ssObjectId","type":"long"}]}]},
        {"name":"cutoutDifference","type":["null","bytes"]},
        {"name":"cutoutScience","type":["null","bytes"]},
        {"name":"cutoutTemplate","type":["null","bytes"]}]}"#;

    fn stamp() -> Vec<u8> {
        let mut header = Header::default();
        header.logical("SIMPLE", true);
        header.int("BITPIX", -32);
        header.int("NAXIS", 2);
        header.int("NAXIS1", 3);
        header.int("NAXIS2", 2);
        header.string("BUNIT", "nJy");
        let mut out = Vec::new();
        header.finish(&mut out);
        for i in 0..6 {
            out.extend_from_slice(&(i as f32).to_be_bytes());
        }
        pad(&mut out, 0);
        out
    }

    fn source(id: i64, psf: Option<f32>) -> Value {
        Value::Record(vec![
            Value::Long(id),
            psf.map_or(Value::Null, Value::Float),
            Value::Double(10.5),
            Value::Double(60000.25),
            Value::String("g".into()),
            Value::Null,
            Value::Int(7),
            Value::Long(0),
        ])
    }

    fn alert(cutout: Option<Vec<u8>>) -> Value {
        Value::Record(vec![
            Value::Long(12345),
            Value::Null,
            source(12345, Some(1.5)),
            Value::Array(vec![source(11, None), source(1_000_000_000_000, Some(2.0))]),
            Value::Null,
            Value::Record(vec![Value::Long(99), Value::Double(10.5)]),
            Value::Null,
            cutout.map_or(Value::Null, Value::Bytes),
            Value::Null,
            Value::Null,
        ])
    }

    /// Header cards of the HDU named `extname`.
    fn cards(file: &[u8], extname: &str) -> Vec<String> {
        let mut offset = 0;
        loop {
            let mut cards = Vec::new();
            let mut end = 0;
            for (i, card) in file[offset..].chunks_exact(CARD).enumerate() {
                let text = String::from_utf8(card.to_vec()).unwrap();
                if text.trim_end() == "END" {
                    end = i;
                    break;
                }
                cards.push(text.trim_end().to_owned());
            }
            let value = |key: &str| {
                cards
                    .iter()
                    .find(|c| c.starts_with(&format!("{key:<8}=")))
                    .map(|c| c[10..].split('/').next().unwrap().trim().to_owned())
            };
            if value("EXTNAME").as_deref() == Some(&format!("'{extname:<8}'")) {
                return cards;
            }
            let axes: Vec<usize> = (1..=2)
                .filter_map(|n| value(&format!("NAXIS{n}")).and_then(|v| v.parse().ok()))
                .collect();
            let bitpix: i64 = value("BITPIX").unwrap().parse().unwrap();
            let data = if axes.is_empty() {
                0
            } else {
                axes.iter().product::<usize>() * (bitpix.unsigned_abs() as usize / 8)
            };
            offset += (end + 1).div_ceil(36) * BLOCK + data.div_ceil(BLOCK) * BLOCK;
            assert!(offset < file.len(), "no HDU {extname}");
        }
    }

    #[test]
    fn the_layout_is_herald_s() {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        let file = alert_fits(&schema, &alert(Some(stamp()))).unwrap();
        assert_eq!(file.len() % BLOCK, 0);
        assert_eq!(
            describe(&file),
            "PRIMARY, ALERT(1 rows), DIFFIM, DIASOURCE(3 rows), FORCEDPHOT(0 rows), SSSOURCE(0 rows)"
        );
        let alert_cards = cards(&file, "ALERT");
        let ttypes: Vec<&str> = alert_cards
            .iter()
            .filter(|c| c.starts_with("TTYPE"))
            .map(|c| c[10..].trim_matches(|c| c == '\'' || c == ' '))
            .collect();
        // diaObject's `ra` follows the alert's own columns; the null string has width 1.
        assert_eq!(
            ttypes,
            ["diaSourceId", "observation_reason", "diaObjectId", "ra"]
        );
        assert!(alert_cards.contains(&"TFORM2  = '1A      '".to_owned()));
        assert!(alert_cards.contains(&"TUNIT4  = 'deg     '".to_owned()));

        let dia = cards(&file, "DIASOURCE");
        let ttypes: Vec<&str> = dia
            .iter()
            .filter(|c| c.starts_with("TTYPE"))
            .map(|c| c[10..].trim_matches(|c| c == '\'' || c == ' '))
            .collect();
        // psfFlux moves after midpointMjdTai; the timestamp has no column.
        assert_eq!(
            ttypes,
            [
                "diaSourceId",
                "ra",
                "midpointMjdTai",
                "psfFlux",
                "band",
                "isDipole",
                "detector",
                "trigger",
                "iau_id"
            ]
        );
        for expected in [
            "TFORM6  = 'B       '",
            "TNULL6  =                  255",
            "TFORM7  = 'J       '",
            "TNULL7  =          -2147483648",
            "TFORM9  = '24A     '",
            "TUNIT3  = 'd       '",
            "TUNIT4  = 'nJy     '",
        ] {
            assert!(dia.contains(&expected.to_owned()), "{expected}: {dia:#?}");
        }
        // A non-nullable long has no TNULL.
        assert!(!dia.iter().any(|c| c.starts_with("TNULL1 ")));
        let image = cards(&file, "DIFFIM");
        assert_eq!(image[0], "XTENSION= 'IMAGE   '");
        assert!(image.contains(&"BUNIT   = 'nJy     '".to_owned()));
        assert!(!image.iter().any(|c| c.starts_with("SIMPLE")));
    }

    #[test]
    fn table_rows_hold_the_values_and_null_sentinels() {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        let file = alert_fits(&schema, &alert(None)).unwrap();
        // DIASOURCE is the third HDU: primary (1 block), ALERT (1 + 1 blocks).
        let dia = 3 * BLOCK;
        let header_blocks = 1;
        let data = &file[dia + header_blocks * BLOCK..];
        // Row width: K D D E 1A B J L 24A = 8+8+8+4+1+1+4+1+24 = 59.
        let row = |r: usize| &data[r * 59..(r + 1) * 59];
        let first = row(0);
        assert_eq!(&first[0..8], &12345i64.to_be_bytes());
        assert_eq!(&first[24..28], &1.5f32.to_be_bytes());
        assert_eq!(first[28], b'g');
        assert_eq!(first[29], 255, "null boolean");
        assert_eq!(first[34], b'T', "trigger");
        assert_eq!(&first[35..59], b"LSST-AP-DS-12345\0\0\0\0\0\0\0\0");
        let second = row(1);
        assert!(f32::from_be_bytes(second[24..28].try_into().unwrap()).is_nan());
        assert_eq!(second[34], b'F');
        assert_eq!(&row(2)[35..59], b"LSST-AP-DS-1000000000000");
    }

    #[test]
    fn cutouts_alone_and_bad_cutouts() {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        let file = cutouts_fits(&schema, &alert(Some(stamp()))).unwrap();
        assert_eq!(describe(&file), "PRIMARY, DIFFIM");
        // The pixels are the stamp's, byte for byte.
        assert_eq!(
            &file[2 * BLOCK..2 * BLOCK + 24],
            &stamp()[BLOCK..BLOCK + 24]
        );
        let none = cutouts_fits(&schema, &alert(None)).unwrap();
        assert_eq!(describe(&none), "PRIMARY");
        assert_eq!(none.len(), BLOCK);
        for bad in [
            b"SIMPLE  =   T".to_vec(),
            b"not fits".to_vec(),
            stamp()[..BLOCK + 10].to_vec(),
        ] {
            assert!(matches!(
                cutouts_fits(&schema, &alert(Some(bad))),
                Err(FitsError::BadCutout { .. })
            ));
        }
    }

    #[test]
    fn long_strings_continue_and_quotes_double() {
        let mut header = Header::default();
        header.string("TTYPE1", "it's");
        let long = "x".repeat(100);
        header.string("TTYPE2", &long);
        let text = String::from_utf8(header.bytes).unwrap();
        assert!(text.starts_with("TTYPE1  = 'it''s   '"));
        assert!(text.contains(&format!("TTYPE2  = '{}&'", "x".repeat(67))));
        assert!(text.contains(&format!("CONTINUE  '{}'", "x".repeat(33))));
    }
}
