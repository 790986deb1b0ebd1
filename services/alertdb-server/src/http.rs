//! The HTTP API: routes, id parsing, conditional requests, gzip negotiation, and the one place
//! where errors become status codes ([`ApiError`]).
//!
//! Routes answer at the root and under the configured prefix, so the server works whether or
//! not the ingress strips `/alertdb`. Ids are decimal digits only and become keys through
//! `alert_archive`, so no request can name a key outside the layout.

use crate::archive::{top_level_bytes, Archive, ArchiveError};
use crate::metrics::Metrics;
use crate::openapi;
use alert_archive::Encoding;
use alert_packet::value::{to_json, BytesAs};
use axum::extract::rejection::PathRejection;
use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

/// Alerts and schemas never change once written.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Content type of alerts (upstream's choice: there is no registered Avro type).
pub const ALERT_CONTENT_TYPE: &str = "application/octet-stream";
/// Content type of schemas (the Confluent registry's).
pub const SCHEMA_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
/// The three cutouts of an alert, by the name used in the route.
pub const CUTOUTS: [(&str, &str); 3] = [
    ("difference", "cutoutDifference"),
    ("science", "cutoutScience"),
    ("template", "cutoutTemplate"),
];

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub archive: Archive,
    pub metrics: Metrics,
    pub prefix: Option<Arc<str>>,
    pub openapi: Bytes,
    pub docs: Bytes,
    /// The Herald-compatible API (`/api/alerts`).
    pub herald: crate::herald::HeraldApi,
    /// The index table's queries; `None` with `--no-index`.
    pub index: Option<Arc<crate::search::IndexSource>>,
    /// Which alerts belong to an object, for object pages; `None` when the archive's index
    /// is not enabled (object pages then say so).
    pub objects: Option<Arc<dyn crate::pages::ObjectIndex>>,
}

/// The API routes (not the ops routes), at the root and under `state.prefix`.
pub fn router(state: AppState) -> Router {
    // Shared behind one pointer: axum clones the state for every extractor and layer of every
    // request, and cloning the caches and metrics handles one by one showed up in profiles.
    let state = Arc::new(state);
    let mut api = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/alerts/{alert_id}", get(alert))
        .route("/v1/alerts/{alert_id}/view", get(crate::pages::alert_view))
        .route("/v1/alerts/{alert_id}/cutouts/{kind}", get(cutout))
        .route(
            "/v1/objects/{dia_object_id}/view",
            get(crate::pages::object_view),
        )
        .route("/v1/schemas/{schema_id}", get(schema))
        .route("/v1/openapi.json", get(openapi_json))
        .route("/v1/docs", get(docs))
        .merge(crate::search::routes());
    if let Some(herald_prefix) = &state.herald.prefix {
        api = api.merge(crate::herald::routes(herald_prefix));
    }
    let api = api
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::clone(&state));
    let mut app = Router::new().merge(api.clone());
    if let Some(prefix) = &state.prefix {
        app = app.nest(prefix, api);
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state, record_metrics))
}

/// An error answer: status and a JSON `detail`, as upstream (FastAPI) writes them.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    NotFound(String),
    /// The store failed; the cause is logged, the client sees a generic message.
    Unavailable,
    /// The archive holds something it should not (corrupt alert, missing schema).
    Internal(String),
    /// An index query ran out of its time budget; the detail says how to narrow it.
    QueryTimeout(String),
    /// A feature this server is not configured for (object pages without the index).
    NotEnabled(String),
}

impl From<ArchiveError> for ApiError {
    fn from(error: ArchiveError) -> Self {
        match error {
            ArchiveError::AlertNotFound => ApiError::NotFound("alert not found".into()),
            ArchiveError::SchemaNotFound => ApiError::NotFound("schema not found".into()),
            ArchiveError::Store { key, source } => {
                tracing::error!(%key, error = %source, "object store failed");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "archive holds an unreadable object");
                ApiError::Internal(other.to_string())
            }
        }
    }
}

impl ApiError {
    /// The status and message of the error: the one mapping, for JSON answers and for pages
    /// ([`crate::pages::PageError`]) alike.
    pub fn status_and_detail(self) -> (StatusCode, String) {
        match self {
            ApiError::BadRequest(detail) => (StatusCode::BAD_REQUEST, detail),
            ApiError::NotFound(detail) => (StatusCode::NOT_FOUND, detail),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the alert archive's object store is unavailable; retry later".into(),
            ),
            ApiError::Internal(detail) => (StatusCode::INTERNAL_SERVER_ERROR, detail),
            ApiError::QueryTimeout(detail) => (StatusCode::SERVICE_UNAVAILABLE, detail),
            ApiError::NotEnabled(detail) => (StatusCode::NOT_IMPLEMENTED, detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, detail) = self.status_and_detail();
        let mut response = (status, Json(serde_json::json!({ "detail": detail }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// An alert id: 1 to 20 decimal digits that fit in 64 bits.
pub fn parse_alert_id(text: &str) -> Result<u64, ApiError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest(format!(
            "alert id {text:?} is not a decimal integer of at most 20 digits"
        )));
    }
    text.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "alert id {text} is larger than 18446744073709551615"
        ))
    })
}

/// A schema id: decimal digits that fit in 32 bits.
pub fn parse_schema_id(text: &str) -> Result<u32, ApiError> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest(format!(
            "schema id {text:?} is not a decimal integer of at most 10 digits"
        )));
    }
    text.parse()
        .map_err(|_| ApiError::BadRequest(format!("schema id {text} is larger than 4294967295")))
}

fn path_segment(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(segment)| segment)
        .map_err(|e| ApiError::BadRequest(format!("invalid path: {}", e.body_text())))
}

/// Whether `Accept-Encoding` admits gzip (`gzip`, `x-gzip` or `*` with a non-zero q).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut star = false;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                // An explicit gzip entry decides, whatever `*` says.
                return q > 0.0;
            }
            if coding == "*" {
                star = q > 0.0;
            }
        }
    }
    star
}

/// Whether `If-None-Match` matches `etag` (weak comparison, as RFC 9110 asks for this header).
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let wanted = bare(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || bare(tag) == wanted)
}

/// A 200 (or 304 when the client has it) of an immutable representation.
pub(crate) fn immutable(
    request_headers: &HeaderMap,
    etag: String,
    content_type: &'static str,
    body: Bytes,
    extra: &[(header::HeaderName, HeaderValue)],
) -> Response {
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"x\""));
    let mut response = if if_none_match(request_headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = body.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag_value);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    for (name, value) in extra {
        headers.insert(name.clone(), value.clone());
    }
    response
}

async fn health() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "OK").into_response()
}

/// How to render an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlertFormat {
    /// The wire-format bytes (upstream's only format).
    Avro,
    /// Decoded JSON.
    Json,
}

/// The `format=` of an alert request, `None` when not given.
fn alert_format(query: Option<&str>) -> Result<Option<AlertFormat>, ApiError> {
    let mut format = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if key == "format" {
            format = match value.as_ref() {
                "json" => Some(AlertFormat::Json),
                "avro" | "" => Some(AlertFormat::Avro),
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "format {other:?} is not known; use json, or avro (the default)"
                    )))
                }
            };
        }
    }
    Ok(format)
}

async fn alert(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let alert_id = parse_alert_id(&path_segment(path).map_err(IntoResponse::into_response)?)
        .map_err(IntoResponse::into_response)?;
    let format = alert_format(query.as_deref()).map_err(IntoResponse::into_response)?;
    // A browser following a link gets the page, with relative links resolved from
    // `/v1/alerts/{id}/` as at `/view`; an explicit `format=` always wins.
    if format.is_none() && crate::pages::wants_html(&headers) {
        let base = format!("{alert_id}/");
        let mut response = crate::pages::alert_page(&state, alert_id, &headers, Some(&base))
            .await
            .map_err(IntoResponse::into_response)?;
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static(VARY_ALERT));
        return Ok(response);
    }
    alert_bytes(
        &state,
        alert_id,
        format.unwrap_or(AlertFormat::Avro),
        &headers,
    )
    .await
    .map_err(IntoResponse::into_response)
}

/// What `/v1/alerts/{id}` answers differ by: the page for browsers, gzip for clients that
/// accept it.
const VARY_ALERT: &str = "accept, accept-encoding";

async fn alert_bytes(
    state: &AppState,
    alert_id: u64,
    format: AlertFormat,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let vary = (header::VARY, HeaderValue::from_static(VARY_ALERT));
    if format == AlertFormat::Json {
        let decoded = state.archive.decoded_alert(alert_id).await?;
        let body = tokio::task::spawn_blocking(move || {
            let json = to_json(
                &decoded.schema,
                decoded.schema.root(),
                &decoded.value,
                BytesAs::Base64,
            );
            serde_json::to_vec(&json)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("rendering alert {alert_id} stopped: {e}")))?
        .map_err(|e| ApiError::Internal(format!("rendering alert {alert_id}: {e}")))?;
        return Ok(immutable(
            headers,
            format!("\"alert-{alert_id}-json\""),
            "application/json",
            Bytes::from(body),
            &[vary],
        ));
    }
    let stored = state.archive.alert(alert_id).await?;
    if stored.encoding == Encoding::Gzip && accepts_gzip(headers) {
        // The stored object is what the client asked for: no decompression work.
        return Ok(immutable(
            headers,
            format!("\"alert-{alert_id}-gzip\""),
            ALERT_CONTENT_TYPE,
            stored.bytes,
            &[
                (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                vary,
            ],
        ));
    }
    let etag = format!("\"alert-{alert_id}\"");
    if if_none_match(headers, &etag) {
        return Ok(immutable(
            headers,
            etag,
            ALERT_CONTENT_TYPE,
            Bytes::new(),
            &[vary],
        ));
    }
    let body = stored.wire_bytes(alert_id, state.archive.max_alert_bytes())?;
    Ok(immutable(headers, etag, ALERT_CONTENT_TYPE, body, &[vary]))
}

async fn cutout(
    State(state): State<Arc<AppState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (raw_id, kind) = path
        .map(|Path(p)| p)
        .map_err(|e| ApiError::BadRequest(format!("invalid path: {}", e.body_text())))?;
    let alert_id = parse_alert_id(&raw_id)?;
    // `{kind}.png` shares the route: axum matches whole segments only.
    if let Some(kind) = kind.strip_suffix(".png") {
        return crate::pages::cutout_png(&state, alert_id, kind, query.as_deref(), &headers).await;
    }
    let Some((kind, field)) = CUTOUTS.iter().find(|(name, _)| *name == kind) else {
        return Err(ApiError::NotFound(format!(
            "unknown cutout {kind:?}; use difference, science or template"
        )));
    };
    let decoded = state.archive.decoded_alert(alert_id).await?;
    let Some(fits) = top_level_bytes(&decoded, field) else {
        return Err(ApiError::NotFound(format!(
            "alert {alert_id} has no {kind} cutout"
        )));
    };
    let disposition =
        HeaderValue::from_str(&format!("inline; filename=\"{alert_id}-{kind}.fits\""))
            .unwrap_or(HeaderValue::from_static("inline"));
    Ok(immutable(
        &headers,
        format!("\"alert-{alert_id}-cutout-{kind}\""),
        "application/fits",
        Bytes::copy_from_slice(fits),
        &[(header::CONTENT_DISPOSITION, disposition)],
    ))
}

async fn schema(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let schema_id = parse_schema_id(&path_segment(path)?)?;
    let stored = state.archive.schema(schema_id).await?;
    let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
    if accepts_gzip(&headers) {
        return Ok(immutable(
            &headers,
            format!("\"schema-{schema_id}-gzip\""),
            SCHEMA_CONTENT_TYPE,
            stored.gzip.clone(),
            &[
                (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                vary,
            ],
        ));
    }
    Ok(immutable(
        &headers,
        format!("\"schema-{schema_id}\""),
        SCHEMA_CONTENT_TYPE,
        stored.text.clone(),
        &[vary],
    ))
}

async fn openapi_json(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.clone(),
    )
        .into_response()
}

async fn docs(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        state.docs.clone(),
    )
        .into_response()
}

async fn not_found() -> Response {
    ApiError::NotFound("Not Found".into()).into_response()
}

async fn method_not_allowed() -> Response {
    // axum adds the `Allow` header of the route.
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(serde_json::json!({ "detail": "Method Not Allowed" })),
    )
        .into_response()
}

async fn record_metrics(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // A shared string: no allocation per request.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = match &matched {
        Some(path) => {
            let path = path.as_str();
            match &state.prefix {
                Some(prefix) => path
                    .strip_prefix(prefix.as_ref())
                    .filter(|rest| rest.starts_with('/'))
                    .unwrap_or(path),
                None => path,
            }
        }
        None => "unmatched",
    };
    state
        .metrics
        .latency
        .with_label_values(&[route])
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .with_label_values(&[route, response.status().as_str()])
        .inc();
    response
}

/// The OpenAPI document and docs page of this router (`herald_prefix`: where the
/// Herald-compatible API answers, if it does).
pub fn documents(prefix: Option<&str>, herald_prefix: Option<&str>) -> (Bytes, Bytes) {
    (
        Bytes::from(openapi::document(herald_prefix).to_string()),
        Bytes::from(openapi::docs_page(prefix.unwrap_or(""), herald_prefix)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn alert_ids_are_decimal_u64() {
        assert_eq!(parse_alert_id("0").unwrap(), 0);
        assert_eq!(parse_alert_id("18446744073709551615").unwrap(), u64::MAX);
        for bad in [
            "",
            "18446744073709551616",
            "123456789012345678901",
            "-1",
            "+1",
            "1e5",
            " 1",
            "..",
            "1/2",
            "0x10",
            "１",
        ] {
            assert!(parse_alert_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn schema_ids_are_decimal_u32() {
        assert_eq!(parse_schema_id("1101").unwrap(), 1101);
        assert_eq!(parse_schema_id("4294967295").unwrap(), u32::MAX);
        for bad in ["", "4294967296", "-1", "a", "1.0", "../1"] {
            assert!(parse_schema_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn gzip_negotiation_follows_q_values() {
        assert!(accepts_gzip(&headers(&[("accept-encoding", "gzip")])));
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "br, GZIP;q=0.5"
        )])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "x-gzip")])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "*")])));
        assert!(!accepts_gzip(&headers(&[])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "identity")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[(
            "accept-encoding",
            "*, gzip;q=0"
        )])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "*;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzipped")])));
    }

    #[test]
    fn if_none_match_uses_weak_comparison_and_lists() {
        let tag = "\"schema-1\"";
        assert!(if_none_match(&headers(&[("if-none-match", tag)]), tag));
        assert!(if_none_match(
            &headers(&[("if-none-match", "\"a\", W/\"schema-1\"")]),
            tag
        ));
        assert!(if_none_match(&headers(&[("if-none-match", "*")]), tag));
        assert!(!if_none_match(
            &headers(&[("if-none-match", "\"schema-2\"")]),
            tag
        ));
        assert!(!if_none_match(&headers(&[]), tag));
    }

    #[test]
    fn alert_formats_are_checked() {
        assert_eq!(alert_format(None).unwrap(), None);
        assert_eq!(
            alert_format(Some("format=json")).unwrap(),
            Some(AlertFormat::Json)
        );
        assert_eq!(
            alert_format(Some("x=1&format=avro")).unwrap(),
            Some(AlertFormat::Avro)
        );
        assert!(alert_format(Some("format=xml")).is_err());
    }
}
