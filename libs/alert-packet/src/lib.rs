//! Rubin alert packets.
//!
//! Everything in the system that touches an alert goes through this crate:
//!
//! - [`schema`]: Avro schemas parsed into a resolved model, with Parsing Canonical Form;
//! - [`tree`]: the `lsst-alert-packet` schema tree (versions 3.0 to 11.1, `latest.txt`, the
//!   upstream id rule `major*100 + minor`);
//! - [`wire`]: the Confluent wire format (magic byte, schema id, body);
//! - [`binary`] and [`value`]: decoding, encoding and skipping Avro data, bounds-checked;
//! - [`resolve`]: re-encoding from one schema version to another with Avro schema
//!   resolution, planned once per pair and copying unchanged bytes;
//! - [`container`]: Avro object container files, streamed;
//! - [`alert`]: the alert id (one varint, no decode) and source time of any version;
//! - [`generate`]: deterministic synthetic alerts and visits of realistic size.

pub mod alert;
pub mod binary;
pub mod container;
pub mod generate;
pub mod resolve;
pub mod schema;
pub mod tree;
pub mod value;
pub mod wire;

pub use schema::Schema;
pub use value::Value;
