//! `add.stats` of a data file: `numRecords`, `minValues`, `maxValues` and `nullCount`, the
//! statistics by which DuckDB, Spark, delta-rs and this crate skip files.
//!
//! Numbers are exact; timestamps are written as Delta does (ISO 8601 with milliseconds),
//! the minimum rounded down and the maximum up, so a skipped file never holds a matching
//! row. Strings get only null counts: their min/max would need truncation rules and no
//! query prunes by them.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use serde_json::{Map, Value as Json};

#[derive(Default)]
struct Column {
    min: Option<Json>,
    max: Option<Json>,
    nulls: u64,
}

fn merge<T: PartialOrd + Copy>(acc: &mut Option<(T, T)>, values: impl Iterator<Item = T>) {
    for v in values {
        match acc {
            None => *acc = Some((v, v)),
            Some((lo, hi)) => {
                if v < *lo {
                    *lo = v;
                }
                if v > *hi {
                    *hi = v;
                }
            }
        }
    }
}

/// `stats` JSON of the rows in `batches` (all of one schema).
pub fn stats_json(batches: &[RecordBatch]) -> String {
    let Some(first) = batches.first() else {
        return serde_json::json!({"numRecords": 0, "minValues": {}, "maxValues": {}, "nullCount": {}}).to_string();
    };
    let schema = first.schema();
    let mut min_values = Map::new();
    let mut max_values = Map::new();
    let mut null_count = Map::new();
    let mut rows = 0u64;
    for batch in batches {
        rows += batch.num_rows() as u64;
    }
    for (i, field) in schema.fields().iter().enumerate() {
        let mut column = Column::default();
        match field.data_type() {
            DataType::Int64 => {
                let mut acc = None;
                for b in batches {
                    merge(
                        &mut acc,
                        b.column(i).as_primitive::<Int64Type>().iter().flatten(),
                    );
                }
                if let Some((lo, hi)) = acc {
                    column.min = Some(lo.into());
                    column.max = Some(hi.into());
                }
            }
            DataType::Int32 => {
                let mut acc = None;
                for b in batches {
                    merge(
                        &mut acc,
                        b.column(i).as_primitive::<Int32Type>().iter().flatten(),
                    );
                }
                if let Some((lo, hi)) = acc {
                    column.min = Some(lo.into());
                    column.max = Some(hi.into());
                }
            }
            DataType::Float64 => {
                let mut acc = None;
                for b in batches {
                    let values = b.column(i).as_primitive::<Float64Type>().iter().flatten();
                    merge(&mut acc, values.filter(|v| !v.is_nan()));
                }
                if let Some((lo, hi)) = acc {
                    column.min = Some(lo.into());
                    column.max = Some(hi.into());
                }
            }
            DataType::Float32 => {
                let mut acc = None;
                for b in batches {
                    let values = b.column(i).as_primitive::<Float32Type>().iter().flatten();
                    merge(&mut acc, values.filter(|v| !v.is_nan()));
                }
                if let Some((lo, hi)) = acc {
                    column.min = Some(f64::from(lo).into());
                    column.max = Some(f64::from(hi).into());
                }
            }
            DataType::Timestamp(..) => {
                let mut acc = None;
                for b in batches {
                    merge(
                        &mut acc,
                        b.column(i)
                            .as_primitive::<TimestampMicrosecondType>()
                            .iter()
                            .flatten(),
                    );
                }
                if let Some((lo, hi)) = acc {
                    column.min = Some(iso_millis(lo.div_euclid(1000)).into());
                    column.max = Some(iso_millis((hi + 999).div_euclid(1000)).into());
                }
            }
            _ => {}
        }
        column.nulls = batches
            .iter()
            .map(|b| b.column(i).null_count() as u64)
            .sum();
        if let Some(v) = column.min {
            min_values.insert(field.name().clone(), v);
        }
        if let Some(v) = column.max {
            max_values.insert(field.name().clone(), v);
        }
        null_count.insert(field.name().clone(), column.nulls.into());
    }
    serde_json::json!({
        "numRecords": rows,
        "minValues": min_values,
        "maxValues": max_values,
        "nullCount": null_count,
    })
    .to_string()
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of milliseconds since the Unix epoch.
pub fn iso_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_like_delta() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_796_202_123_456), "2026-12-02T09:02:03.456Z");
        assert_eq!(iso_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
