//! One row of the index per alert, and how it is read out of an alert of any schema version.
//!
//! Only the top-level id and the `diaSource` record are decoded: the fields before
//! `diaSource` (just the id in every version) are skipped through the schema, and the history
//! arrays and cutouts after it are never touched, so indexing costs a few microseconds per
//! alert whatever its size.
//!
//! Field names changed across schema versions 3.0–11.1; each column takes the first name the
//! schema has:
//!
//! | column | names |
//! |---|---|
//! | `mjd_tai` | `midpointMjdTai` (5.0+), `midPointTai` (3.x–4.x) |
//! | `dec` | `dec` (5.0+), `decl` (3.x–4.x) |
//! | `band` | `band` (5.0+), `filterName` (3.x–4.x) |
//! | `psf_flux`, `psf_flux_err` | `psfFlux`/`psfFluxErr` (5.0+), `psFlux`/`psFluxErr` (3.x–4.x) |
//! | `reliability` | `reliability` (5.0+); 3.x–4.x have only `spuriousness`, a different score, so null |

use crate::error::{IndexError, Result};
use crate::healpix;
use alert_packet::binary::Cursor;
use alert_packet::schema::{Node, Schema};
use alert_packet::value::{decode_node, skip_node, Value};

/// TAI − UTC in seconds: 37 since 2017-01-01, with no leap second announced since. A future
/// leap second would shift `time` (not `mjd_tai`) by one second for later alerts.
pub const TAI_MINUS_UTC_SECONDS: f64 = 37.0;

/// MJD of the Unix epoch, 1970-01-01T00:00:00.
pub const MJD_UNIX_EPOCH: f64 = 40_587.0;

/// One alert in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    /// `alertId` (3.x–7.x) or the top-level `diaSourceId` (8.0+).
    pub alert_id: i64,
    /// `diaSource.diaSourceId`.
    pub dia_source_id: i64,
    /// `diaSource.diaObjectId`; null for solar-system sources.
    pub dia_object_id: Option<i64>,
    /// `diaSource.ssObjectId`.
    pub ss_object_id: Option<i64>,
    /// Midpoint of the exposure, MJD TAI.
    pub mjd_tai: f64,
    /// The same instant as UTC microseconds since the Unix epoch (column `time`, a Parquet
    /// `TIMESTAMP(MICROS, UTC)` that DuckDB and Spark show as a timestamp).
    pub time_us: i64,
    /// Degrees, ICRS.
    pub ra: f64,
    pub dec: f64,
    /// HEALPix index of (ra, dec) at order 29, nested scheme. Any coarser order `k` is
    /// `healpix29 >> (2 * (29 - k))`.
    pub healpix29: i64,
    pub band: Option<String>,
    pub psf_flux: Option<f64>,
    pub psf_flux_err: Option<f64>,
    pub reliability: Option<f32>,
    /// Registry id of the alert's schema.
    pub schema_id: i32,
    /// Key of the alert object in the archive (`v2/alerts/...`).
    pub archive_key: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// Where an alert was read from Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaCoords {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// MJD TAI to UTC microseconds since the Unix epoch.
pub fn mjd_tai_to_unix_us(mjd_tai: f64) -> i64 {
    ((mjd_tai - MJD_UNIX_EPOCH) * 86_400_000_000.0 - TAI_MINUS_UTC_SECONDS * 1e6).round() as i64
}

/// The value of a `diaSource` field by the first of `names` the record has.
struct SourceFields<'a> {
    names: Vec<&'a str>,
    values: &'a [Value],
}

impl<'a> SourceFields<'a> {
    fn get(&self, names: &[&str]) -> Option<&'a Value> {
        names.iter().find_map(|name| {
            let index = self.names.iter().position(|n| n == name)?;
            self.values.get(index).map(unwrap_union)
        })
    }

    fn f64(&self, names: &[&str]) -> Option<f64> {
        match self.get(names)? {
            Value::Double(v) => Some(*v),
            Value::Float(v) => Some(f64::from(*v)),
            Value::Int(v) => Some(f64::from(*v)),
            Value::Long(v) => Some(*v as f64),
            _ => None,
        }
    }

    fn i64(&self, names: &[&str]) -> Option<i64> {
        match self.get(names)? {
            Value::Long(v) => Some(*v),
            Value::Int(v) => Some(i64::from(*v)),
            _ => None,
        }
    }

    fn string(&self, names: &[&str]) -> Option<String> {
        match self.get(names)? {
            Value::String(v) => Some(v.clone()),
            _ => None,
        }
    }
}

fn unwrap_union(value: &Value) -> &Value {
    match value {
        Value::Union(_, inner) => unwrap_union(inner),
        other => other,
    }
}

impl IndexRow {
    /// The index row of one alert: `body` is the schemaless Avro body (the wire format's
    /// bytes after the 5-byte header) of `schema`, registered as `schema_id`; `archive_key`
    /// is where the archive stored it and `kafka` where it was consumed.
    ///
    /// Fails with [`IndexError::BadAlert`] when the body does not decode, or the id, time or
    /// position is missing, null or out of range.
    pub fn from_alert(
        schema: &Schema,
        body: &[u8],
        schema_id: i32,
        archive_key: impl Into<String>,
        kafka: KafkaCoords,
    ) -> Result<Self> {
        let bad = |what: String| IndexError::BadAlert(what);
        let record = schema
            .root_record()
            .ok_or_else(|| bad("the schema is not a record".into()))?;
        let mut cursor = Cursor::new(body);
        let mut alert_id = None;
        for (i, field) in record.fields.iter().enumerate() {
            if field.name == "diaSource" {
                let source = decode_node(schema, field.schema, &mut cursor)
                    .map_err(|e| bad(format!("diaSource does not decode: {e}")))?;
                let alert_id = alert_id.ok_or_else(|| {
                    bad("the first field is not a long `alertId` or `diaSourceId`".into())
                })?;
                return Self::from_source(
                    schema,
                    field.schema,
                    &source,
                    alert_id,
                    schema_id,
                    archive_key.into(),
                    kafka,
                );
            }
            if i == 0 && matches!(field.name.as_str(), "alertId" | "diaSourceId") {
                alert_id = Some(
                    cursor
                        .long()
                        .map_err(|e| bad(format!("{} does not decode: {e}", field.name)))?,
                );
            } else {
                skip_node(schema, field.schema, &mut cursor)
                    .map_err(|e| bad(format!("{} does not decode: {e}", field.name)))?;
            }
        }
        Err(bad("the alert has no `diaSource` field".into()))
    }

    /// The index row of an alert already decoded to a [`Value`] (a record in the order of
    /// `schema`'s fields), as the server's Herald routes have it.
    pub fn from_value(
        schema: &Schema,
        alert: &Value,
        schema_id: i32,
        archive_key: impl Into<String>,
        kafka: KafkaCoords,
    ) -> Result<Self> {
        let bad = |what: &str| IndexError::BadAlert(what.to_owned());
        let record = schema
            .root_record()
            .ok_or_else(|| bad("the schema is not a record"))?;
        let Value::Record(values) = unwrap_union(alert) else {
            return Err(bad("the alert value is not a record"));
        };
        let alert_id = match values.first().map(unwrap_union) {
            Some(Value::Long(id)) => *id,
            _ => {
                return Err(bad(
                    "the first field is not a long `alertId` or `diaSourceId`",
                ))
            }
        };
        let index = record
            .fields
            .iter()
            .position(|f| f.name == "diaSource")
            .ok_or_else(|| bad("the alert has no `diaSource` field"))?;
        let source = values
            .get(index)
            .ok_or_else(|| bad("the alert value has fewer fields than its schema"))?;
        Self::from_source(
            schema,
            record.fields[index].schema,
            source,
            alert_id,
            schema_id,
            archive_key.into(),
            kafka,
        )
    }

    fn from_source(
        schema: &Schema,
        source_node: alert_packet::schema::NodeId,
        source: &Value,
        alert_id: i64,
        schema_id: i32,
        archive_key: String,
        kafka: KafkaCoords,
    ) -> Result<Self> {
        let bad = |what: &str| IndexError::BadAlert(what.to_owned());
        let record = match schema.node(source_node) {
            Node::Record(r) => r,
            Node::Union(branches) => branches
                .iter()
                .find_map(|b| match schema.node(*b) {
                    Node::Record(r) => Some(r),
                    _ => None,
                })
                .ok_or_else(|| bad("`diaSource` is not a record"))?,
            _ => return Err(bad("`diaSource` is not a record")),
        };
        let Value::Record(values) = unwrap_union(source) else {
            return Err(bad("`diaSource` is null"));
        };
        let fields = SourceFields {
            names: record.fields.iter().map(|f| f.name.as_str()).collect(),
            values,
        };
        let dia_source_id = fields
            .i64(&["diaSourceId"])
            .ok_or_else(|| bad("`diaSource.diaSourceId` is missing or null"))?;
        let mjd_tai = fields
            .f64(&["midpointMjdTai", "midPointTai"])
            .filter(|t| t.is_finite())
            .ok_or_else(|| {
                bad("`diaSource.midpointMjdTai` (or `midPointTai`) is missing, null or not finite")
            })?;
        let ra = fields
            .f64(&["ra"])
            .filter(|v| v.is_finite())
            .ok_or_else(|| bad("`diaSource.ra` is missing, null or not finite"))?;
        let dec = fields
            .f64(&["dec", "decl"])
            .filter(|v| v.is_finite() && (-90.0..=90.0).contains(v))
            .ok_or_else(|| {
                bad("`diaSource.dec` (or `decl`) is missing, null or outside [-90, 90]")
            })?;
        let ra = ra.rem_euclid(360.0);
        Ok(IndexRow {
            alert_id,
            dia_source_id,
            dia_object_id: fields.i64(&["diaObjectId"]),
            ss_object_id: fields.i64(&["ssObjectId"]),
            mjd_tai,
            time_us: mjd_tai_to_unix_us(mjd_tai),
            ra,
            dec,
            healpix29: healpix::healpix29(ra, dec),
            band: fields.string(&["band", "filterName"]),
            psf_flux: fields.f64(&["psfFlux", "psFlux"]),
            psf_flux_err: fields.f64(&["psfFluxErr", "psFluxErr"]),
            reliability: fields.f64(&["reliability"]).map(|v| v as f32),
            schema_id,
            archive_key,
            topic: kafka.topic,
            partition: kafka.partition,
            offset: kafka.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alert_packet::generate::{AlertContext, AlertGenerator, GeneratorConfig};
    use alert_packet::tree::SchemaTree;
    use std::path::PathBuf;

    /// The schema tree of the project's venv (scripts/install/schema-dir.sh), or
    /// `ALERT_SCHEMA_DIR`.
    fn tree() -> SchemaTree {
        let dir = std::env::var("ALERT_SCHEMA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
                let out = std::process::Command::new(root.join("scripts/install/schema-dir.sh"))
                    .output()
                    .expect("scripts/install/schema-dir.sh");
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            });
        SchemaTree::load(&dir).expect("schema tree (run scripts/install/python.sh)")
    }

    fn kafka() -> KafkaCoords {
        KafkaCoords {
            topic: "alerts".into(),
            partition: 3,
            offset: 42,
        }
    }

    #[test]
    fn every_schema_version_gives_a_row() {
        let tree = tree();
        let mut versions = 0;
        for v in tree.versions() {
            let config = GeneratorConfig {
                prv_sources: 2,
                prv_forced_sources: 2,
                cutout_bytes: None,
                null_one_in: 0,
                ..GeneratorConfig::default()
            };
            let mut generator = AlertGenerator::new(v.schema.clone(), config).unwrap();
            let context = AlertContext {
                alert_id: 170_000_000_000_123,
                object_id: 85_000_000_000_001,
                visit: 7,
                detector: 3,
                mjd: 61_000.25,
                ra: 359.9999,
                dec: -30.5,
            };
            let body = generator.alert_body(&context);
            let id = (v.version.major * 100 + v.version.minor) as i32;
            let row = IndexRow::from_alert(&v.schema, &body, id, "k", kafka())
                .unwrap_or_else(|e| panic!("{}: {e}", v.version));
            assert_eq!(row.alert_id, context.alert_id, "{}", v.version);
            assert_eq!(row.dia_source_id, context.alert_id, "{}", v.version);
            assert_eq!(row.dia_object_id, Some(context.object_id), "{}", v.version);
            assert_eq!(row.mjd_tai, 61_000.25);
            assert_eq!(row.time_us, mjd_tai_to_unix_us(61_000.25));
            assert!((row.dec + 30.5).abs() < 1e-3, "{}: {}", v.version, row.dec);
            assert!(row.ra >= 0.0 && row.ra < 360.0);
            assert_eq!(row.healpix29, healpix::healpix29(row.ra, row.dec));
            assert!(
                row.band.as_deref().is_some_and(|b| "ugrizy".contains(b)),
                "{}",
                v.version
            );
            assert!(
                row.psf_flux.is_some() && row.psf_flux_err.is_some(),
                "{}",
                v.version
            );
            assert_eq!(
                row.reliability.is_some(),
                v.version.major >= 5,
                "{}",
                v.version
            );
            assert_eq!((row.schema_id, row.partition, row.offset), (id, 3, 42));
            let decoded = alert_packet::value::decode(&v.schema, &body).unwrap();
            let from_value = IndexRow::from_value(&v.schema, &decoded, id, "k", kafka()).unwrap();
            assert_eq!(from_value, row, "{}", v.version);
            versions += 1;
        }
        assert!(versions >= 10, "{versions}");
    }

    #[test]
    fn bad_alerts_are_errors_not_panics() {
        let tree = tree();
        let v = tree.latest();
        let mut generator =
            AlertGenerator::new(v.schema.clone(), GeneratorConfig::default()).unwrap();
        let context = AlertContext {
            alert_id: 1,
            object_id: 2,
            visit: 3,
            detector: 4,
            mjd: 61_000.0,
            ra: 10.0,
            dec: 10.0,
        };
        let body = generator.alert_body(&context);
        for cut in [0, 1, 5, 40] {
            assert!(matches!(
                IndexRow::from_alert(&v.schema, &body[..cut], 1101, "k", kafka()),
                Err(IndexError::BadAlert(_))
            ));
        }
        let not_alert = Schema::parse_str(
            r#"{"type":"record","name":"x","fields":[{"name":"a","type":"long"}]}"#,
        )
        .unwrap();
        assert!(IndexRow::from_alert(&not_alert, &[2], 1, "k", kafka()).is_err());
        let bad_dec = AlertContext {
            dec: 95.0,
            ..context
        };
        let body = generator.alert_body(&bad_dec);
        let err = IndexRow::from_alert(&v.schema, &body, 1101, "k", kafka()).unwrap_err();
        assert!(err.to_string().contains("dec"), "{err}");
    }

    #[test]
    fn tai_is_37_seconds_ahead_of_utc() {
        // 2026-12-02T00:00:00 UTC is MJD 61376 UTC.
        let utc_midnight_us = 1_796_169_600_000_000i64;
        assert_eq!(
            mjd_tai_to_unix_us(61_376.0 + 37.0 / 86_400.0),
            utc_midnight_us
        );
    }
}
