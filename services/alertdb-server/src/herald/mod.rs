//! The archive API astronomers use in 2026: Herald's `/api/alerts` (lsst-sqre/herald), served
//! beside the `/v1` routes from the same archive.
//!
//! - `GET {prefix}?ID=` — the alert as an Avro object container file with its writer schema
//!   (the default), as JSON (`RESPONSEFORMAT=json`) or as a multi-extension FITS file
//!   (`RESPONSEFORMAT=fits`);
//! - `GET {prefix}/cutouts?ID=` — the three cutouts as one FITS file;
//! - `GET {prefix}/schema?ID=` — the alert's writer schema;
//! - `GET {prefix}/links?ID=` — an IVOA DataLink table of the above;
//! - `GET {prefix}/` — application metadata.
//!
//! `ID` is a decimal alert id or `LSST-AP-DS-{id}`. Statuses, content types, file names and
//! error messages are Herald's (see [`error`]); parameter names are matched without regard to
//! case, as IVOA DALI asks. Every schema version and archive layout the `/v1` routes read
//! works here, since both go through [`crate::archive::Archive`].
//!
//! The Avro file is made without decoding: the stored body already is the one datum of the
//! container, so it is checked by skipping through it with the schema and copied. JSON and
//! FITS are written from the decoded alert by our own writers ([`json`], [`fits`]).

pub mod datalink;
pub mod error;
pub mod fits;
pub mod json;
pub mod params;
pub mod units;

use crate::archive::{ArchiveError, DecodedAlert};
use crate::http::{immutable, AppState};
use alert_packet::binary::Cursor;
use alert_packet::container::{Codec, ContainerWriter};
use alert_packet::generate::SplitMix64;
use alert_packet::{value, wire};
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use error::HeraldError;
use params::{parse_query, AlertId, ResponseFormat, Route};
use std::sync::Arc;

/// Herald's own default prefix.
pub const DEFAULT_PREFIX: &str = "/api/alerts";

/// How the Herald-compatible API is served.
#[derive(Debug, Clone, Default)]
pub struct HeraldApi {
    /// Where the API answers (`/api/alerts`); `None` turns it off.
    pub prefix: Option<String>,
    /// The external URL of this server's root, for DataLink access URLs; when unset they are
    /// built from the request (`Host`, `X-Forwarded-*`).
    pub public_url: Option<String>,
}

/// The routes under `prefix`.
pub fn routes(prefix: &str) -> Router<Arc<AppState>> {
    Router::new()
        .route(prefix, get(alert))
        .route(&format!("{prefix}/"), get(index))
        .route(&format!("{prefix}/cutouts"), get(cutouts))
        .route(&format!("{prefix}/schema"), get(schema))
        .route(&format!("{prefix}/links"), get(links))
}

fn attachment(filename: &str) -> (header::HeaderName, HeaderValue) {
    (
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
            .unwrap_or(HeaderValue::from_static("attachment")),
    )
}

/// The archived id, or the 404 Herald gives for an integer no alert can have.
fn archived(id: AlertId) -> Result<u64, HeraldError> {
    match id {
        AlertId::Archived(id) => Ok(id),
        AlertId::Impossible(text) => Err(HeraldError::AlertNotFound(text)),
    }
}

/// The alert's wire-format message, its schema id and its stored schema.
async fn stored(
    state: &AppState,
    alert_id: u64,
) -> Result<(Bytes, u32, Arc<crate::archive::StoredSchema>), HeraldError> {
    let archive = &state.archive;
    let stored = archive
        .alert(alert_id)
        .await
        .map_err(|e| HeraldError::from_archive(alert_id, e))?;
    let message = match gunzip_whole(&stored, archive.max_alert_bytes()) {
        Some(message) => Bytes::from(message),
        None => stored
            .wire_bytes(alert_id, archive.max_alert_bytes())
            .map_err(|e| HeraldError::from_archive(alert_id, e))?,
    };
    let schema_id = wire::unframe(&message)
        .map_err(|e| HeraldError::Corrupt {
            alert_id,
            detail: e.to_string(),
        })?
        .schema_id;
    let schema = match archive.schema(schema_id).await {
        Ok(schema) => schema,
        Err(ArchiveError::SchemaNotFound) => return Err(HeraldError::SchemaNotFound(schema_id)),
        Err(other) => return Err(HeraldError::from_archive(alert_id, other)),
    };
    Ok((message, schema_id, schema))
}

/// A gzip alert decompressed in one call with libdeflate, into a buffer of the size its gzip
/// trailer states: about twice as fast as the streaming decoder the `/v1` routes use, which
/// matters here since every format but the schema starts with it. `None` (the caller then uses
/// the streaming decoder, which also reports what is wrong) for plain objects, sizes over
/// `limit`, and anything libdeflate refuses (a trailer that lies). libdeflate reads one gzip
/// member and ignores what follows it: an object of several members whose last one states the
/// size of the first would be read short, and then fails the exact-one-datum check of every
/// format (a 500, never a wrong answer); the ingester and upstream write one member.
pub fn gunzip_whole(stored: &crate::archive::StoredAlert, limit: u64) -> Option<Vec<u8>> {
    if stored.encoding != alert_archive::Encoding::Gzip {
        return None;
    }
    let bytes = &stored.bytes;
    let trailer: [u8; 4] = bytes.get(bytes.len().checked_sub(4)?..)?.try_into().ok()?;
    let size = u32::from_le_bytes(trailer) as usize;
    if size as u64 > limit || size == 0 {
        return None;
    }
    let mut out = vec![0u8; size];
    let written = libdeflater::Decompressor::new()
        .gzip_decompress(bytes, &mut out)
        .ok()?;
    (written == size).then_some(out)
}

/// The alert decoded with its schema, on this thread: a ~100 KB alert takes about a
/// millisecond, less than handing it to the blocking pool and back costs the other requests
/// on a machine whose cores the runtime threads already fill.
async fn decoded(state: &AppState, alert_id: u64) -> Result<DecodedAlert, HeraldError> {
    let (message, schema_id, stored_schema) = stored(state, alert_id).await?;
    let schema = stored_schema
        .parsed(schema_id)
        .map_err(|e| HeraldError::from_archive(alert_id, e))?;
    let value =
        value::decode(&schema, &message[wire::HEADER_LEN..]).map_err(|e| HeraldError::Corrupt {
            alert_id,
            detail: format!("does not decode with schema {schema_id}: {e}"),
        })?;
    Ok(DecodedAlert {
        schema_id,
        schema,
        value,
    })
}

/// A deterministic sync marker per alert: the same alert is always the same file (one ETag),
/// and no two alerts share a marker by design.
fn sync_marker(alert_id: u64) -> [u8; 16] {
    let mut rng = SplitMix64::new(alert_id ^ 0x6865_7261_6c64_0000);
    let mut sync = [0u8; 16];
    sync[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    sync[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    sync
}

/// The alert as an Avro object container file: its stored schema text as `avro.schema`, the
/// stored body as the one datum, no compression (what `fastavro.writer` makes by default).
pub fn avro_container(
    alert_id: u64,
    schema_text: &[u8],
    schema: &alert_packet::Schema,
    body: &[u8],
) -> Result<Vec<u8>, HeraldError> {
    let corrupt = |detail: String| HeraldError::Corrupt { alert_id, detail };
    // The body must be exactly one datum of the schema, or the file would not read back.
    let mut cursor = Cursor::new(body);
    value::skip_node(schema, schema.root(), &mut cursor)
        .and_then(|()| cursor.finish())
        .map_err(|e| corrupt(format!("does not decode with its schema: {e}")))?;
    let schema_json =
        std::str::from_utf8(schema_text).map_err(|e| corrupt(format!("schema: {e}")))?;
    let mut writer = ContainerWriter::new(
        Vec::with_capacity(schema_text.len() + body.len() + 64),
        schema_json,
        Codec::Null,
        sync_marker(alert_id),
    )
    .map_err(|e| corrupt(e.to_string()))?;
    writer
        .append_datum(body)
        .map_err(|e| corrupt(e.to_string()))?;
    writer.finish().map_err(|e| corrupt(e.to_string()))
}

async fn alert(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, HeraldError> {
    let query = parse_query(query.as_deref(), Route::Alert)?;
    let alert_id = archived(query.id)?;
    match query.format {
        ResponseFormat::Avro => {
            let etag = format!("\"herald-{alert_id}-avro\"");
            let (message, schema_id, stored_schema) = stored(&state, alert_id).await?;
            let schema = stored_schema
                .parsed(schema_id)
                .map_err(|e| HeraldError::from_archive(alert_id, e))?;
            let body = &message[wire::HEADER_LEN..];
            let file = avro_container(alert_id, &stored_schema.text, &schema, body)?;
            Ok(immutable(
                &headers,
                etag,
                datalink::AVRO_OCF_CONTENT_TYPE,
                Bytes::from(file),
                &[attachment(&format!("alert-{alert_id}.avro"))],
            ))
        }
        ResponseFormat::Json => {
            let (message, schema_id, stored_schema) = stored(&state, alert_id).await?;
            let schema = stored_schema
                .parsed(schema_id)
                .map_err(|e| HeraldError::from_archive(alert_id, e))?;
            // On this thread: one pass over ~100 KB takes well under a millisecond, less
            // than a hand-off to the blocking pool would cost the other requests.
            let body = json::transcode(&schema, &message[wire::HEADER_LEN..]).map_err(|e| {
                HeraldError::Corrupt {
                    alert_id,
                    detail: format!("does not decode with schema {schema_id}: {e}"),
                }
            })?;
            Ok(immutable(
                &headers,
                format!("\"herald-{alert_id}-json\""),
                "application/json",
                Bytes::from(body),
                &[],
            ))
        }
        ResponseFormat::Fits => {
            let alert = decoded(&state, alert_id).await?;
            let file = fits::alert_fits(&alert.schema, &alert.value).map_err(|e| {
                HeraldError::Corrupt {
                    alert_id,
                    detail: e.to_string(),
                }
            })?;
            Ok(immutable(
                &headers,
                format!("\"herald-{alert_id}-fits\""),
                "application/fits",
                Bytes::from(file),
                &[attachment(&format!("alert-{alert_id}.fits"))],
            ))
        }
    }
}

async fn cutouts(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, HeraldError> {
    let alert_id = archived(parse_query(query.as_deref(), Route::IdOnly)?.id)?;
    let alert = decoded(&state, alert_id).await?;
    let file =
        fits::cutouts_fits(&alert.schema, &alert.value).map_err(|e| HeraldError::Corrupt {
            alert_id,
            detail: e.to_string(),
        })?;
    Ok(immutable(
        &headers,
        format!("\"herald-{alert_id}-cutouts\""),
        "application/fits",
        Bytes::from(file),
        &[attachment(&format!("cutouts-{alert_id}.fits"))],
    ))
}

/// The schema id in an alert's header: only the first five bytes are decompressed.
fn header_schema_id(
    stored: &crate::archive::StoredAlert,
    alert_id: u64,
) -> Result<u32, HeraldError> {
    let mut header = [0u8; wire::HEADER_LEN];
    let read = match stored.encoding {
        alert_archive::Encoding::Plain => stored
            .bytes
            .get(..wire::HEADER_LEN)
            .map(|h| header.copy_from_slice(h))
            .ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into()),
        alert_archive::Encoding::Gzip => std::io::Read::read_exact(
            &mut flate2::read::GzDecoder::new(&stored.bytes[..]),
            &mut header,
        ),
    };
    let corrupt = |detail: String| HeraldError::Corrupt { alert_id, detail };
    read.map_err(|e| corrupt(format!("its header does not read: {e}")))?;
    wire::unframe(&header)
        .map(|frame| frame.schema_id)
        .map_err(|e| corrupt(e.to_string()))
}

async fn schema(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, HeraldError> {
    let alert_id = archived(parse_query(query.as_deref(), Route::IdOnly)?.id)?;
    // As Herald: the schema the header names, whether or not the body decodes.
    let stored = state
        .archive
        .alert(alert_id)
        .await
        .map_err(|e| HeraldError::from_archive(alert_id, e))?;
    let schema_id = header_schema_id(&stored, alert_id)?;
    let stored_schema = match state.archive.schema(schema_id).await {
        Ok(schema) => schema,
        Err(ArchiveError::SchemaNotFound) => return Err(HeraldError::SchemaNotFound(schema_id)),
        Err(other) => return Err(HeraldError::from_archive(alert_id, other)),
    };
    // A stored schema that does not parse is a broken archive, not a schema to hand out.
    stored_schema
        .parsed(schema_id)
        .map_err(|e| HeraldError::from_archive(alert_id, e))?;
    Ok(immutable(
        &headers,
        format!("\"herald-schema-{schema_id}\""),
        "application/json",
        Bytes::from(compact_json(&stored_schema.text)),
        &[],
    ))
}

/// JSON text without the whitespace between tokens (what Herald's `JSONResponse` of the
/// parsed schema writes), keys in their stored order.
pub fn compact_json(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(b);
        }
    }
    out
}

async fn links(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, HeraldError> {
    // As Herald: the links are built for any well-formed id, without looking the alert up.
    let id = parse_query(query.as_deref(), Route::IdOnly)?.id;
    let base = datalink::base_url(state.herald.public_url.as_deref(), &headers, &uri);
    let table = datalink::links_votable(&id.display(), &base);
    Ok((
        [(header::CONTENT_TYPE, datalink::VOTABLE_CONTENT_TYPE)],
        table,
    )
        .into_response())
}

async fn index() -> Response {
    let body = serde_json::json!({
        "metadata": {
            "name": env!("CARGO_PKG_NAME"),
            "version": env!("CARGO_PKG_VERSION"),
            "description": env!("CARGO_PKG_DESCRIPTION"),
            "repository_url": env!("CARGO_PKG_REPOSITORY"),
            "documentation_url": format!("{}#readme", env!("CARGO_PKG_REPOSITORY")),
        }
    });
    axum::Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_gunzip_matches_the_streaming_one_or_steps_aside() {
        use crate::archive::StoredAlert;
        let message: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let gz = StoredAlert {
            bytes: Bytes::from(alert_archive::gzip(&message, 6)),
            encoding: alert_archive::Encoding::Gzip,
        };
        assert_eq!(gunzip_whole(&gz, 1 << 20).as_deref(), Some(&message[..]));
        assert_eq!(gunzip_whole(&gz, 99_999), None, "over the limit");
        let plain = StoredAlert {
            bytes: Bytes::from(message.clone()),
            encoding: alert_archive::Encoding::Plain,
        };
        assert_eq!(gunzip_whole(&plain, 1 << 20), None);
        let mut lying = gz.bytes.to_vec();
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&5u32.to_le_bytes());
        let lying = StoredAlert {
            bytes: Bytes::from(lying),
            encoding: alert_archive::Encoding::Gzip,
        };
        assert_eq!(gunzip_whole(&lying, 1 << 20), None);
        let short = StoredAlert {
            bytes: gz.bytes.slice(..3),
            encoding: alert_archive::Encoding::Gzip,
        };
        assert_eq!(gunzip_whole(&short, 1 << 20), None);
    }

    #[test]
    fn compact_json_keeps_strings_and_order() {
        assert_eq!(
            compact_json(b"{ \"b\" : [1, 2],\n \"a\": \"x y\\\" z\" }"),
            b"{\"b\":[1,2],\"a\":\"x y\\\" z\"}"
        );
    }

    #[test]
    fn the_container_reads_back_and_refuses_corrupt_bodies() {
        let text = br#"{"type":"record","name":"r","fields":[{"name":"id","type":"long"}]}"#;
        let schema = alert_packet::Schema::parse_str(std::str::from_utf8(text).unwrap()).unwrap();
        let body = value::encode(
            &schema,
            &alert_packet::Value::Record(vec![alert_packet::Value::Long(7)]),
        )
        .unwrap();
        let file = avro_container(7, text, &schema, &body).unwrap();
        let mut reader = alert_packet::container::ContainerReader::new(&file[..]).unwrap();
        assert_eq!(reader.schema_json().as_bytes(), text);
        assert_eq!(reader.next_datum().unwrap().unwrap(), &body[..]);
        assert!(reader.next_datum().is_none());
        // The same alert always gives the same bytes.
        assert_eq!(file, avro_container(7, text, &schema, &body).unwrap());
        let mut longer = body.clone();
        longer.push(0);
        assert!(matches!(
            avro_container(7, text, &schema, &longer),
            Err(HeraldError::Corrupt { alert_id: 7, .. })
        ));
        assert!(avro_container(7, text, &schema, &[]).is_err());
    }
}
