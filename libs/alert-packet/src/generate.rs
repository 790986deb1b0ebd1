//! Deterministic synthetic alerts and visits for any alert schema version.
//!
//! Real visits cannot be downloaded here, and upstream's `simulate_alert` fills only required
//! fields (~200-byte alerts), so the system's tests and benchmarks use this generator instead.
//! Values follow the field names where they matter (ids, visit, detector, times, positions,
//! bands) and are plausible noise elsewhere; history lengths and cutout sizes are configurable
//! so alerts have the sizes the observatory expects (~83 KB without cutouts, ~112 KB with).
//! The same seed always gives the same bytes.

use crate::alert::{AlertError, AlertLayout};
use crate::container::{Codec, ContainerError, ContainerWriter};
use crate::schema::{Node, NodeId, Schema};
use crate::value::{encode, Value};
use std::io::Write;
use std::sync::Arc;

/// SplitMix64: tiny, fast and stable forever (unlike library RNGs whose streams may change).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Approximately standard normal (sum of uniforms).
    pub fn normal(&mut self) -> f64 {
        (0..4).map(|_| self.unit()).sum::<f64>() * 1.732_050_8 - 3.464_101_6
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// Shape of generated alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// Previous detections per alert (`prvDiaSources`).
    pub prv_sources: usize,
    /// Forced photometry points per alert (`prvDiaForcedSources`).
    pub prv_forced_sources: usize,
    /// Approximate size of each of the three cutouts (FITS), or `None` for no cutouts.
    pub cutout_bytes: Option<usize>,
    /// One optional field in this many is null (0: none are), as in real alerts where some
    /// measurements fail.
    pub null_one_in: u64,
}

impl Default for GeneratorConfig {
    /// ~108 KB alerts with cutouts (v11.1); ~84 KB without (measured by the `alert_sizes`
    /// example).
    fn default() -> Self {
        Self {
            seed: 1,
            prv_sources: 178,
            prv_forced_sources: 178,
            cutout_bytes: Some(DEFAULT_CUTOUT_BYTES),
            null_one_in: 20,
        }
    }
}

/// Default size of one cutout (a 37×37 float image in three FITS blocks): three of them take
/// a v11.1 alert from ~84 KB to ~108 KB.
pub const DEFAULT_CUTOUT_BYTES: usize = 8_640;

/// Where one alert sits in its visit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertContext {
    pub alert_id: i64,
    pub object_id: i64,
    pub visit: i64,
    pub detector: i32,
    /// Time of the triggering source, MJD TAI.
    pub mjd: f64,
    pub ra: f64,
    pub dec: f64,
}

/// Generates alerts of one schema version.
#[derive(Debug, Clone)]
pub struct AlertGenerator {
    schema: Arc<Schema>,
    config: GeneratorConfig,
    rng: SplitMix64,
}

const BANDS: [&str; 6] = ["u", "g", "r", "i", "z", "y"];

impl AlertGenerator {
    /// Fails when `schema` is not an alert schema.
    pub fn new(schema: Arc<Schema>, config: GeneratorConfig) -> Result<Self, AlertError> {
        AlertLayout::of(&schema)?;
        let rng = SplitMix64::new(config.seed);
        Ok(Self {
            schema,
            config,
            rng,
        })
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// One alert as a value.
    pub fn alert(&mut self, context: &AlertContext) -> Value {
        let schema = Arc::clone(&self.schema);
        self.node(&schema, schema.root(), "alert", context, 0)
    }

    /// One alert, encoded (schemaless body, no wire header).
    pub fn alert_body(&mut self, context: &AlertContext) -> Vec<u8> {
        let value = self.alert(context);
        // Generated values follow the schema by construction.
        encode(&self.schema, &value).unwrap_or_default()
    }

    fn scalar_double(&mut self, name: &str, c: &AlertContext) -> f64 {
        let has = |part: &str| contains_ignore_ascii_case(name, part);
        if has("mjd") || has("midpoint") || ends_with_ignore_ascii_case(name, "tai") {
            c.mjd
        } else if name.eq_ignore_ascii_case("ra") {
            c.ra + self.rng.normal() * 1e-5
        } else if name.eq_ignore_ascii_case("dec") || name.eq_ignore_ascii_case("decl") {
            c.dec + self.rng.normal() * 1e-5
        } else if has("err") || has("sigma") {
            self.rng.unit() * 5.0 + 0.1
        } else if has("flux") {
            self.rng.normal() * 2000.0 + 500.0
        } else {
            self.rng.normal() * 100.0
        }
    }

    fn node(
        &mut self,
        schema: &Schema,
        id: NodeId,
        name: &str,
        c: &AlertContext,
        depth: usize,
    ) -> Value {
        match schema.node(id) {
            Node::Null => Value::Null,
            Node::Boolean => Value::Boolean(self.rng.below(8) == 0),
            Node::Int => Value::Int(match name {
                "detector" | "ccdVisitId" => c.detector,
                _ => self.rng.below(1000) as i32,
            }),
            Node::Long => Value::Long(match name {
                "alertId" | "diaSourceId" => c.alert_id,
                "diaObjectId" => c.object_id,
                "visit" => c.visit,
                _ if schema.logical_type(id) == Some("timestamp-micros") => {
                    // MJD 40587 is the Unix epoch.
                    ((c.mjd - 40587.0) * 86_400_000_000.0) as i64 + 30_000_000
                }
                _ => (self.rng.next_u64() >> 20) as i64,
            }),
            Node::Float => Value::Float(self.scalar_double(name, c) as f32),
            Node::Double => Value::Double(self.scalar_double(name, c)),
            Node::String => Value::String(match name {
                n if contains_ignore_ascii_case(n, "band") || n == "filterName" => {
                    BANDS[self.rng.below(6) as usize].to_owned()
                }
                _ => format!("{name}-{}", self.rng.below(100)),
            }),
            Node::Bytes => {
                if name.starts_with("cutout") {
                    match self.config.cutout_bytes {
                        Some(size) => Value::Bytes(self.cutout(size)),
                        None => Value::Bytes(Vec::new()),
                    }
                } else {
                    Value::Bytes((0..8).map(|_| self.rng.below(256) as u8).collect())
                }
            }
            Node::Fixed(f) => {
                Value::Fixed((0..f.size).map(|_| self.rng.below(256) as u8).collect())
            }
            Node::Enum(e) => Value::Enum(self.rng.below(e.symbols.len() as u64) as u32),
            Node::Map(_) => Value::Map(Vec::new()),
            Node::Array(items) => {
                let items = *items;
                let (count, step) = match name {
                    "prvDiaSources" => (self.config.prv_sources, 3.0),
                    "prvDiaForcedSources" => (self.config.prv_forced_sources, 3.0),
                    _ => (0, 1.0),
                };
                (0..count)
                    .map(|k| {
                        // Earlier epochs, most recent last, a few nights apart.
                        let earlier = AlertContext {
                            alert_id: c.alert_id - 1 - (count - k) as i64 * 1_000_003,
                            mjd: c.mjd - (count - k) as f64 * step,
                            visit: c.visit - (count - k) as i64 * 997,
                            ..*c
                        };
                        self.node(schema, items, "item", &earlier, depth + 1)
                    })
                    .collect::<Vec<_>>()
                    .pipe(Value::Array)
            }
            Node::Union(branches) => {
                let null = branches
                    .iter()
                    .position(|b| matches!(schema.node(*b), Node::Null));
                let other = branches
                    .iter()
                    .position(|b| !matches!(schema.node(*b), Node::Null));
                let wants_null = match name {
                    // Most alerts are not solar-system objects.
                    "ssSource" | "ssObject" | "mpc_orbits" | "prvDiaNondetectionLimits" => true,
                    n if n.starts_with("cutout") => self.config.cutout_bytes.is_none(),
                    _ => {
                        depth > 0
                            && self.config.null_one_in > 0
                            && self.rng.below(self.config.null_one_in) == 0
                    }
                };
                match (wants_null, null, other) {
                    (true, Some(n), _) | (false, Some(n), None) => {
                        Value::Union(n as u32, Box::new(Value::Null))
                    }
                    (_, _, Some(o)) => Value::Union(
                        o as u32,
                        Box::new(self.node(schema, branches[o], name, c, depth)),
                    ),
                    (_, None, None) => Value::Null,
                }
            }
            Node::Record(record) => Value::Record(
                record
                    .fields
                    .iter()
                    .map(|field| self.node(schema, field.schema, &field.name, c, depth + 1))
                    .collect(),
            ),
        }
    }

    /// A small FITS image (one HDU, 32-bit float noise around a point source), about `size`
    /// bytes, poorly compressible like real cutouts.
    fn cutout(&mut self, size: usize) -> Vec<u8> {
        const BLOCK: usize = 2880;
        let side = (((size.saturating_sub(BLOCK)) / 4) as f64).sqrt().max(1.0) as usize;
        let mut header = String::new();
        for card in [
            "SIMPLE  =                    T".to_owned(),
            "BITPIX  =                  -32".to_owned(),
            "NAXIS   =                    2".to_owned(),
            format!("NAXIS1  = {side:>20}"),
            format!("NAXIS2  = {side:>20}"),
            "END".to_owned(),
        ] {
            header.push_str(&format!("{card:<80}"));
        }
        let mut out = header.into_bytes();
        out.resize(BLOCK, b' ');
        let centre = side as f64 / 2.0;
        for y in 0..side {
            for x in 0..side {
                let r2 = (x as f64 - centre).powi(2) + (y as f64 - centre).powi(2);
                let pixel = 100.0 + 5000.0 * (-r2 / 8.0).exp() + self.rng.normal() * 10.0;
                out.extend_from_slice(&(pixel as f32).to_be_bytes());
            }
        }
        let padded = out.len().div_ceil(BLOCK) * BLOCK;
        out.resize(padded, 0);
        out
    }
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

/// A visit to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitSpec {
    pub alerts: usize,
    /// Detectors (CCDs) the alerts are spread over; the LSST camera has 189.
    pub detectors: u32,
    pub visit: i64,
    pub mjd: f64,
    /// Id of the first alert; the others follow.
    pub first_alert_id: i64,
    /// Seconds between the first and the last detector's alerts: the camera's detectors are
    /// read out one after another, and the replayer paces a visit by these times.
    pub readout_seconds: f64,
}

impl Default for VisitSpec {
    fn default() -> Self {
        Self {
            alerts: 10_000,
            detectors: 189,
            visit: 2_026_112_300_042,
            mjd: 61_367.1,
            first_alert_id: 170_000_000_000_000,
            readout_seconds: 3.0,
        }
    }
}

impl VisitSpec {
    /// The context of alert `i` of the visit: grouped by detector, ids ascending.
    pub fn context(&self, i: usize, rng: &mut SplitMix64) -> AlertContext {
        // Consecutive alerts share a detector, and every detector gets its share.
        let detector =
            (i as u64 * u64::from(self.detectors.max(1)) / self.alerts.max(1) as u64) as i32;
        AlertContext {
            alert_id: self.first_alert_id + i as i64,
            object_id: self.first_alert_id / 2 + i as i64 * 7,
            visit: self.visit,
            detector,
            mjd: self.mjd
                + f64::from(detector) / f64::from(self.detectors.max(2) - 1) * self.readout_seconds
                    / 86_400.0,
            ra: 150.0 + rng.unit() * 3.5,
            dec: -30.0 + rng.unit() * 3.5,
        }
    }
}

/// What [`write_visit`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitSummary {
    pub alerts: usize,
    pub body_bytes: u64,
}

/// Writes a synthetic visit to an Avro container file.
pub fn write_visit<W: Write>(
    generator: &mut AlertGenerator,
    spec: &VisitSpec,
    output: W,
    codec: Codec,
) -> Result<(W, VisitSummary), ContainerError> {
    let schema_json = generator.schema().to_json().to_string();
    let mut sync = [0u8; 16];
    let mut sync_rng = SplitMix64::new(generator.config.seed ^ 0x5eed);
    for b in &mut sync {
        *b = sync_rng.below(256) as u8;
    }
    let mut writer = ContainerWriter::new(output, &schema_json, codec, sync)?;
    let mut placement = SplitMix64::new(generator.config.seed.wrapping_add(spec.visit as u64));
    let mut body_bytes = 0u64;
    for i in 0..spec.alerts {
        let context = spec.context(i, &mut placement);
        let body = generator.alert_body(&context);
        body_bytes += body.len() as u64;
        writer.append_datum(&body)?;
    }
    Ok((
        writer.finish()?,
        VisitSummary {
            alerts: spec.alerts,
            body_bytes,
        },
    ))
}

/// `haystack` contains `needle` (ASCII letters compared without case), without allocating:
/// the generator asks this of every field of every record.
fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

fn ends_with_ignore_ascii_case(haystack: &str, suffix: &str) -> bool {
    haystack.len() >= suffix.len()
        && haystack.as_bytes()[haystack.len() - suffix.len()..]
            .eq_ignore_ascii_case(suffix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::ContainerReader;
    use serde_json::json;

    fn schema() -> Arc<Schema> {
        Arc::new(
            Schema::parse(&json!({"type": "record", "name": "alert", "namespace": "lsst.v9_9", "fields": [
                {"name": "diaSourceId", "type": "long"},
                {"name": "diaSource", "type": {"type": "record", "name": "diaSource", "fields": [
                    {"name": "diaSourceId", "type": "long"}, {"name": "visit", "type": "long"},
                    {"name": "detector", "type": "int"}, {"name": "midpointMjdTai", "type": "double"},
                    {"name": "ra", "type": "double"}, {"name": "psfFlux", "type": ["null", "float"]},
                    {"name": "band", "type": ["null", "string"]}]}},
                {"name": "prvDiaSources", "type": ["null", {"type": "array", "items": "diaSource"}]},
                {"name": "cutoutScience", "type": ["null", "bytes"]}]}))
            .unwrap(),
        )
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let config = GeneratorConfig {
            seed: 42,
            prv_sources: 5,
            prv_forced_sources: 0,
            cutout_bytes: Some(4000),
            null_one_in: 20,
        };
        let context = VisitSpec::default().context(3, &mut SplitMix64::new(1));
        let a = AlertGenerator::new(schema(), config.clone())
            .unwrap()
            .alert_body(&context);
        let b = AlertGenerator::new(schema(), config.clone())
            .unwrap()
            .alert_body(&context);
        assert_eq!(a, b);
        let c = AlertGenerator::new(schema(), GeneratorConfig { seed: 43, ..config })
            .unwrap()
            .alert_body(&context);
        assert_ne!(a, c);
    }

    #[test]
    fn key_fields_follow_the_context() {
        let s = schema();
        let mut generator = AlertGenerator::new(
            s.clone(),
            GeneratorConfig {
                prv_sources: 3,
                ..GeneratorConfig::default()
            },
        )
        .unwrap();
        let context = AlertContext {
            alert_id: 99,
            object_id: 5,
            visit: 77,
            detector: 12,
            mjd: 61000.5,
            ra: 10.0,
            dec: -5.0,
        };
        let body = generator.alert_body(&context);
        assert_eq!(crate::alert::alert_id(&body).unwrap(), 99);
        let layout = AlertLayout::of(&s).unwrap();
        assert_eq!(layout.source_time(&s, &body).unwrap(), Some(61000.5));
        let json = crate::value::to_json(
            &s,
            s.root(),
            &crate::value::decode(&s, &body).unwrap(),
            crate::value::BytesAs::Base64,
        );
        assert_eq!(json["diaSource"]["visit"], 77);
        assert_eq!(json["diaSource"]["detector"], 12);
        assert_eq!(json["prvDiaSources"].as_array().unwrap().len(), 3);
        assert!(json["prvDiaSources"][0]["midpointMjdTai"].as_f64().unwrap() < 61000.5);
    }

    #[test]
    fn cutouts_are_fits_images_of_about_the_requested_size() {
        let mut generator = AlertGenerator::new(schema(), GeneratorConfig::default()).unwrap();
        let fits = generator.cutout(DEFAULT_CUTOUT_BYTES);
        assert!(fits.starts_with(b"SIMPLE  ="));
        assert_eq!(fits.len() % 2880, 0);
        assert!(
            fits.len().abs_diff(DEFAULT_CUTOUT_BYTES) < 2880,
            "{}",
            fits.len()
        );
    }

    #[test]
    fn a_visit_spreads_over_detectors_and_reads_back() {
        let mut generator = AlertGenerator::new(
            schema(),
            GeneratorConfig {
                prv_sources: 1,
                cutout_bytes: None,
                ..GeneratorConfig::default()
            },
        )
        .unwrap();
        let spec = VisitSpec {
            alerts: 400,
            ..VisitSpec::default()
        };
        let (file, summary) =
            write_visit(&mut generator, &spec, Vec::new(), Codec::Deflate).unwrap();
        assert_eq!(summary.alerts, 400);
        let mut reader = ContainerReader::new(&file[..]).unwrap();
        let mut ids = Vec::new();
        while let Some(datum) = reader.next_datum() {
            ids.push(crate::alert::alert_id(datum.unwrap()).unwrap());
        }
        assert_eq!(ids.len(), 400);
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
        let detectors: std::collections::BTreeSet<i32> = (0..400)
            .map(|i| spec.context(i, &mut SplitMix64::new(0)).detector)
            .collect();
        assert_eq!(
            detectors.len(),
            189,
            "400 alerts over 189 detectors use them all"
        );
    }

    #[test]
    fn non_alert_schemas_are_refused() {
        let other = Arc::new(
            Schema::parse(
                &json!({"type": "record", "name": "x", "fields": [{"name": "a", "type": "int"}]}),
            )
            .unwrap(),
        );
        assert!(AlertGenerator::new(other, GeneratorConfig::default()).is_err());
    }
}
