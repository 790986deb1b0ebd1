//! Index rows as Arrow record batches and Parquet files, and the table's schema in Delta's
//! JSON form.
//!
//! Column names are snake_case and the Kafka columns are prefixed (`kafka_offset`, not
//! `offset`) so that SQL engines need no quoting. `time` is a Parquet
//! `TIMESTAMP(MICROS, isAdjustedToUTC)`, Delta's `timestamp` type.

use crate::error::{IndexError, Result};
use crate::row::IndexRow;
use arrow_array::{
    Array, ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{BloomFilterPosition, EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::sync::{Arc, OnceLock};

/// Column names, in file order.
pub mod col {
    pub const ALERT_ID: &str = "alert_id";
    pub const DIA_SOURCE_ID: &str = "dia_source_id";
    pub const DIA_OBJECT_ID: &str = "dia_object_id";
    pub const SS_OBJECT_ID: &str = "ss_object_id";
    pub const MJD_TAI: &str = "mjd_tai";
    pub const TIME: &str = "time";
    pub const RA: &str = "ra";
    pub const DEC: &str = "dec";
    pub const HEALPIX29: &str = "healpix29";
    pub const BAND: &str = "band";
    pub const PSF_FLUX: &str = "psf_flux";
    pub const PSF_FLUX_ERR: &str = "psf_flux_err";
    pub const RELIABILITY: &str = "reliability";
    pub const SCHEMA_ID: &str = "schema_id";
    pub const ARCHIVE_KEY: &str = "archive_key";
    pub const KAFKA_TOPIC: &str = "kafka_topic";
    pub const KAFKA_PARTITION: &str = "kafka_partition";
    pub const KAFKA_OFFSET: &str = "kafka_offset";
}

/// (name, Arrow type, nullable, Delta type) of every column.
const COLUMNS: [(&str, DataType, bool, &str); 18] = [
    (col::ALERT_ID, DataType::Int64, false, "long"),
    (col::DIA_SOURCE_ID, DataType::Int64, false, "long"),
    (col::DIA_OBJECT_ID, DataType::Int64, true, "long"),
    (col::SS_OBJECT_ID, DataType::Int64, true, "long"),
    (col::MJD_TAI, DataType::Float64, false, "double"),
    // Placeholder: the timestamp type has a time zone, which is not const; see `schema()`.
    (col::TIME, DataType::Null, false, "timestamp"),
    (col::RA, DataType::Float64, false, "double"),
    (col::DEC, DataType::Float64, false, "double"),
    (col::HEALPIX29, DataType::Int64, false, "long"),
    (col::BAND, DataType::Utf8, true, "string"),
    (col::PSF_FLUX, DataType::Float64, true, "double"),
    (col::PSF_FLUX_ERR, DataType::Float64, true, "double"),
    (col::RELIABILITY, DataType::Float32, true, "float"),
    (col::SCHEMA_ID, DataType::Int32, false, "integer"),
    (col::ARCHIVE_KEY, DataType::Utf8, false, "string"),
    (col::KAFKA_TOPIC, DataType::Utf8, false, "string"),
    (col::KAFKA_PARTITION, DataType::Int32, false, "integer"),
    (col::KAFKA_OFFSET, DataType::Int64, false, "long"),
];

/// Index of a column in the schema.
pub fn column_index(name: &str) -> usize {
    COLUMNS
        .iter()
        .position(|c| c.0 == name)
        .unwrap_or_else(|| panic!("no index column {name}"))
}

/// The Arrow schema of the index.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(
                COLUMNS
                    .iter()
                    .map(|(name, ty, nullable, _)| {
                        let ty = if *name == col::TIME {
                            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
                        } else {
                            ty.clone()
                        };
                        Field::new(*name, ty, *nullable)
                    })
                    .collect::<Vec<_>>(),
            ))
        })
        .clone()
}

/// The schema as Delta's `metaData.schemaString`.
pub fn delta_schema_string() -> String {
    let fields: Vec<_> = COLUMNS
        .iter()
        .map(|(name, _, nullable, delta)| {
            serde_json::json!({"name": name, "type": delta, "nullable": nullable, "metadata": {}})
        })
        .collect();
    serde_json::json!({"type": "struct", "fields": fields}).to_string()
}

/// Rows as one record batch of [`schema()`].
pub fn to_record_batch(rows: &[IndexRow]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.alert_id),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.dia_source_id),
        )),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.dia_object_id))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.ss_object_id))),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.mjd_tai),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.time_us))
                .with_timezone("UTC"),
        ),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.ra))),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.dec))),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.healpix29),
        )),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.band.as_deref()),
        )),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.psf_flux))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.psf_flux_err))),
        Arc::new(Float32Array::from_iter(rows.iter().map(|r| r.reliability))),
        Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|r| r.schema_id),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.archive_key.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.topic.as_str()),
        )),
        Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|r| r.partition),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.offset))),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

fn typed<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            IndexError::Arrow(arrow_schema::ArrowError::SchemaError(format!(
                "index batch has no column `{name}` of the expected type"
            )))
        })
}

fn opt<A: Array, T>(array: &A, i: usize, get: impl Fn(&A, usize) -> T) -> Option<T> {
    (!array.is_null(i)).then(|| get(array, i))
}

/// Rows of a record batch with every column of [`schema()`] (in any order).
pub fn from_record_batch(batch: &RecordBatch) -> Result<Vec<IndexRow>> {
    let alert_id = typed::<Int64Array>(batch, col::ALERT_ID)?;
    let dia_source_id = typed::<Int64Array>(batch, col::DIA_SOURCE_ID)?;
    let dia_object_id = typed::<Int64Array>(batch, col::DIA_OBJECT_ID)?;
    let ss_object_id = typed::<Int64Array>(batch, col::SS_OBJECT_ID)?;
    let mjd = typed::<Float64Array>(batch, col::MJD_TAI)?;
    let time = typed::<TimestampMicrosecondArray>(batch, col::TIME)?;
    let ra = typed::<Float64Array>(batch, col::RA)?;
    let dec = typed::<Float64Array>(batch, col::DEC)?;
    let hp = typed::<Int64Array>(batch, col::HEALPIX29)?;
    let band = typed::<StringArray>(batch, col::BAND)?;
    let flux = typed::<Float64Array>(batch, col::PSF_FLUX)?;
    let flux_err = typed::<Float64Array>(batch, col::PSF_FLUX_ERR)?;
    let reliability = typed::<Float32Array>(batch, col::RELIABILITY)?;
    let schema_id = typed::<Int32Array>(batch, col::SCHEMA_ID)?;
    let key = typed::<StringArray>(batch, col::ARCHIVE_KEY)?;
    let topic = typed::<StringArray>(batch, col::KAFKA_TOPIC)?;
    let partition = typed::<Int32Array>(batch, col::KAFKA_PARTITION)?;
    let offset = typed::<Int64Array>(batch, col::KAFKA_OFFSET)?;
    Ok((0..batch.num_rows())
        .map(|i| IndexRow {
            alert_id: alert_id.value(i),
            dia_source_id: dia_source_id.value(i),
            dia_object_id: opt(dia_object_id, i, |a, i| a.value(i)),
            ss_object_id: opt(ss_object_id, i, |a, i| a.value(i)),
            mjd_tai: mjd.value(i),
            time_us: time.value(i),
            ra: ra.value(i),
            dec: dec.value(i),
            healpix29: hp.value(i),
            band: opt(band, i, |a, i| a.value(i).to_owned()),
            psf_flux: opt(flux, i, |a, i| a.value(i)),
            psf_flux_err: opt(flux_err, i, |a, i| a.value(i)),
            reliability: opt(reliability, i, |a, i| a.value(i)),
            schema_id: schema_id.value(i),
            archive_key: key.value(i).to_owned(),
            topic: topic.value(i).to_owned(),
            partition: partition.value(i),
            offset: offset.value(i),
        })
        .collect())
}

/// How the Parquet files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLayout {
    /// Rows per row group: the unit that statistics skip and that a query decodes.
    pub row_group_rows: usize,
    /// Rows per data page: the unit the page index skips within a row group.
    pub page_rows: usize,
}

impl Default for FileLayout {
    fn default() -> Self {
        Self {
            row_group_rows: 16_384,
            page_rows: 2_048,
        }
    }
}

/// Writer settings of every index file: Snappy (fast to decode, read by every engine),
/// page-level statistics (the page index), and a bloom filter on `dia_object_id`, whose
/// values carry no locality, so min/max statistics cannot skip row groups for it; DuckDB and
/// Spark use the same bloom filters.
pub fn writer_properties(layout: FileLayout) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(layout.row_group_rows.max(1)))
        .set_data_page_row_count_limit(layout.page_rows.max(1))
        .set_write_batch_size(layout.page_rows.clamp(1, 1024))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_column_bloom_filter_enabled(ColumnPath::from(col::DIA_OBJECT_ID), true)
        .set_column_bloom_filter_fpp(ColumnPath::from(col::DIA_OBJECT_ID), 0.005)
        .set_column_bloom_filter_max_ndv(
            ColumnPath::from(col::DIA_OBJECT_ID),
            layout.row_group_rows.max(1) as u64,
        )
        // All bloom filters together before the footer: a reader fetches them in one request.
        .set_bloom_filter_position(BloomFilterPosition::End)
        .set_created_by(format!("alert-index {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Record batches (of [`schema()`]) as the bytes of one Parquet file.
pub fn batches_to_parquet(batches: &[RecordBatch], layout: FileLayout) -> Result<Bytes> {
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema(), Some(writer_properties(layout)))
        .map_err(|e| IndexError::parquet("(new file)", e))?;
    for batch in batches {
        writer
            .write(batch)
            .map_err(|e| IndexError::parquet("(new file)", e))?;
    }
    writer
        .close()
        .map_err(|e| IndexError::parquet("(new file)", e))?;
    Ok(Bytes::from(out))
}

/// Rows as the bytes of one Parquet file, as the table stores them (the server's
/// `format=parquet` answers).
pub fn to_parquet(rows: &[IndexRow]) -> Result<Bytes> {
    batches_to_parquet(&[to_record_batch(rows)?], FileLayout::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    pub(crate) fn row(i: i64) -> IndexRow {
        IndexRow {
            alert_id: i,
            dia_source_id: i,
            dia_object_id: (i % 3 != 0).then_some(i / 2),
            ss_object_id: (i % 3 == 0).then_some(7),
            mjd_tai: 61_000.0 + i as f64 * 0.001,
            time_us: crate::row::mjd_tai_to_unix_us(61_000.0 + i as f64 * 0.001),
            ra: 10.0,
            dec: -20.0,
            healpix29: crate::healpix::healpix29(10.0, -20.0),
            band: (i % 2 == 0).then(|| "r".to_owned()),
            psf_flux: Some(1.5),
            psf_flux_err: None,
            reliability: Some(0.25),
            schema_id: 1101,
            archive_key: format!("v2/alerts/{i}.avro.gz"),
            topic: "alerts".into(),
            partition: 2,
            offset: i,
        }
    }

    #[test]
    fn rows_survive_parquet() {
        let rows: Vec<_> = (0..100).map(row).collect();
        let bytes = to_parquet(&rows).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        let back: Vec<IndexRow> = reader
            .flat_map(|b| from_record_batch(&b.unwrap()).unwrap())
            .collect();
        assert_eq!(back, rows);
    }

    #[test]
    fn the_delta_schema_names_every_column() {
        let s: serde_json::Value = serde_json::from_str(&delta_schema_string()).unwrap();
        assert_eq!(
            s["fields"].as_array().unwrap().len(),
            schema().fields().len()
        );
        assert_eq!(s["fields"][5]["type"], "timestamp");
    }
}
