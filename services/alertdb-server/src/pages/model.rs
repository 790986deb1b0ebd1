//! What the pages show of a decoded alert, read by field name across schema versions.
//!
//! Field names changed over the schema's life (`midPointTai` → `midpointMjdTai`, `filterName`
//! → `band`, `psFlux` → `psfFlux`, `decl` → `dec`, `alertId` → `diaSourceId`); each quantity
//! is looked up under every name it has had, newest first.

use crate::archive::DecodedAlert;
use alert_packet::schema::{Node, NodeId, Record, Schema};
use alert_packet::value::Value;

/// Names of the time of a source (MJD, TAI), newest first.
pub const TIME: [&str; 2] = ["midpointMjdTai", "midPointTai"];
/// Names of the band.
pub const BAND: [&str; 2] = ["band", "filterName"];
/// Names of the PSF flux of the difference image (nJy).
pub const FLUX: [&str; 2] = ["psfFlux", "psFlux"];
/// Names of its error.
pub const FLUX_ERR: [&str; 2] = ["psfFluxErr", "psFluxErr"];
/// Names of the declination.
pub const DEC: [&str; 2] = ["dec", "decl"];

/// Strips union wrappers from a value.
pub fn plain(value: &Value) -> &Value {
    let mut value = value;
    while let Value::Union(_, inner) = value {
        value = inner;
    }
    value
}

/// The record type a field's type stands for, through nullable unions and arrays.
fn record_of(schema: &Schema, id: NodeId) -> Option<&Record> {
    match schema.node(id) {
        Node::Record(record) => Some(record),
        Node::Array(items) => record_of(schema, *items),
        Node::Union(branches) => branches.iter().find_map(|b| record_of(schema, *b)),
        _ => None,
    }
}

/// The type of a field without its nullable union.
pub fn base_type(schema: &Schema, id: NodeId) -> NodeId {
    match schema.node(id) {
        Node::Union(branches) => branches
            .iter()
            .copied()
            .find(|b| !matches!(schema.node(*b), Node::Null))
            .unwrap_or(id),
        _ => id,
    }
}

/// A record value with its type.
#[derive(Debug, Clone, Copy)]
pub struct Rec<'a> {
    pub schema: &'a Schema,
    pub record: &'a Record,
    pub values: &'a [Value],
}

impl<'a> Rec<'a> {
    /// The field's value without unions; `None` when the record has no such field or it is
    /// null.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        let index = self.record.fields.iter().position(|f| f.name == name)?;
        match plain(self.values.get(index)?) {
            Value::Null => None,
            value => Some(value),
        }
    }

    /// The first of `names` the record has a value for.
    pub fn first(&self, names: &[&str]) -> Option<&'a Value> {
        names.iter().find_map(|n| self.get(n))
    }

    pub fn f64(&self, names: &[&str]) -> Option<f64> {
        match self.first(names)? {
            Value::Double(v) => Some(*v),
            Value::Float(v) => Some(f64::from(*v)),
            Value::Int(v) => Some(f64::from(*v)),
            Value::Long(v) => Some(*v as f64),
            _ => None,
        }
    }

    pub fn i64(&self, names: &[&str]) -> Option<i64> {
        match self.first(names)? {
            Value::Long(v) => Some(*v),
            Value::Int(v) => Some(i64::from(*v)),
            _ => None,
        }
    }

    pub fn str(&self, names: &[&str]) -> Option<&'a str> {
        match self.first(names)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The record in field `name`, `None` when absent or null.
    pub fn record(&self, name: &str) -> Option<Rec<'a>> {
        let field = self.record.fields.iter().find(|f| f.name == name)?;
        let record = record_of(self.schema, field.schema)?;
        match self.get(name)? {
            Value::Record(values) => Some(Rec {
                schema: self.schema,
                record,
                values,
            }),
            _ => None,
        }
    }

    /// The records of the array in field `name` (absent or null: none).
    pub fn records(&self, name: &str) -> Vec<Rec<'a>> {
        let Some(field) = self.record.fields.iter().find(|f| f.name == name) else {
            return Vec::new();
        };
        let Some(record) = record_of(self.schema, field.schema) else {
            return Vec::new();
        };
        match self.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| match plain(item) {
                    Value::Record(values) => Some(Rec {
                        schema: self.schema,
                        record,
                        values,
                    }),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The parts of an alert the pages show.
#[derive(Debug, Clone)]
pub struct AlertView<'a> {
    pub alert_id: u64,
    pub schema_id: u32,
    /// The schema's full name (`lsst.v11_1.alert`).
    pub schema_name: &'a str,
    pub top: Rec<'a>,
    pub dia_source: Option<Rec<'a>>,
    pub dia_object: Option<Rec<'a>>,
    pub prv_sources: Vec<Rec<'a>>,
    pub forced: Vec<Rec<'a>>,
}

impl<'a> AlertView<'a> {
    /// `None` when the alert's schema is not a record.
    pub fn of(alert_id: u64, decoded: &'a DecodedAlert) -> Option<AlertView<'a>> {
        let record = decoded.schema.root_record()?;
        let Value::Record(values) = &decoded.value else {
            return None;
        };
        let top = Rec {
            schema: &decoded.schema,
            record,
            values,
        };
        Some(AlertView {
            alert_id,
            schema_id: decoded.schema_id,
            schema_name: &record.name,
            dia_source: top.record("diaSource"),
            dia_object: top.record("diaObject"),
            prv_sources: top.records("prvDiaSources"),
            forced: top.records("prvDiaForcedSources"),
            top,
        })
    }

    pub fn dia_source_id(&self) -> Option<i64> {
        self.dia_source.and_then(|s| s.i64(&["diaSourceId"]))
    }

    pub fn dia_object_id(&self) -> Option<i64> {
        self.dia_object
            .and_then(|o| o.i64(&["diaObjectId"]))
            .or_else(|| self.dia_source.and_then(|s| s.i64(&["diaObjectId"])))
    }

    pub fn mjd(&self) -> Option<f64> {
        self.dia_source.and_then(|s| s.f64(&TIME))
    }

    pub fn band(&self) -> Option<&'a str> {
        self.dia_source.and_then(|s| s.str(&BAND))
    }
}

/// What kind of measurement a light-curve point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    /// The source that triggered the alert shown (on an object page: any archived alert's).
    Current,
    /// An earlier detection (`prvDiaSources`).
    Detection,
    /// Forced photometry (`prvDiaForcedSources`).
    Forced,
}

impl PointKind {
    pub fn name(self) -> &'static str {
        match self {
            PointKind::Current => "current",
            PointKind::Detection => "detection",
            PointKind::Forced => "forced",
        }
    }
}

/// One measurement of the light curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub mjd: f64,
    pub flux: f64,
    pub err: Option<f64>,
    pub band: String,
    pub kind: PointKind,
    /// `diaSourceId` or `diaForcedSourceId`, to merge the histories of several alerts.
    pub id: Option<i64>,
}

/// The light curve of an alert: its source, its detections, its forced photometry. Rows
/// without a finite time, flux or band cannot be drawn and are counted in the second value.
pub fn light_curve(alert: &AlertView<'_>) -> (Vec<Point>, usize) {
    let mut points = Vec::new();
    let mut skipped = 0;
    let rows = alert
        .dia_source
        .iter()
        .map(|r| (r, PointKind::Current, "diaSourceId"))
        .chain(
            alert
                .prv_sources
                .iter()
                .map(|r| (r, PointKind::Detection, "diaSourceId")),
        )
        .chain(
            alert
                .forced
                .iter()
                .map(|r| (r, PointKind::Forced, "diaForcedSourceId")),
        );
    for (row, kind, id_field) in rows {
        match (row.f64(&TIME), row.f64(&FLUX), row.str(&BAND)) {
            (Some(mjd), Some(flux), Some(band)) if mjd.is_finite() && flux.is_finite() => points
                .push(Point {
                    mjd,
                    flux,
                    err: row.f64(&FLUX_ERR).filter(|e| e.is_finite() && *e >= 0.0),
                    band: band.to_owned(),
                    kind,
                    id: row.i64(&[id_field]),
                }),
            _ => skipped += 1,
        }
    }
    (points, skipped)
}
