//! Questions about the archive, answered from the index table (`{alerts store}/index/alerts/`,
//! written by the ingester): an object's alerts, alerts in a time range, alerts in a cone.
//!
//! - `GET /v1/objects/{diaObjectId}/alerts`
//! - `GET /v1/alerts/search?since=&until=` (ISO-8601 UTC, or MJD TAI numbers)
//! - `GET /v1/alerts/cone?ra=&dec=&radius=` (degrees, ICRS)
//!
//! Each takes `format=json|csv|parquet` (JSON by default), `limit` (default 1000, at most
//! `--index-max-rows`) and `cursor` (the previous page's `next_cursor`, unchanged). A page that
//! is not the last says where the next one is: `next_cursor` and `next` in JSON, a `Link:
//! <...>; rel="next"` header in every format. Bad parameters are 400s naming the parameter;
//! a query that takes longer than `--index-query-timeout` is a 503 (narrow it and retry).
//!
//! The table is found when the first index request comes and looked at again at most every
//! [`SNAPSHOT_TTL`], so rows the ingester commits show within that time; with no table (an
//! archive whose ingester runs with `--no-index` and has not been rebuilt), or `--no-index`
//! here, the routes answer 404 with a detail saying so.

use crate::http::{ApiError, AppState};
use alert_index::{IndexError, IndexRow, Page, PageRequest, Snapshot};
use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use object_storage::object_store::ObjectStore;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the ingester writes the table in the alerts' store.
pub use alert_index::TABLE_PREFIX;
/// Default of `limit`.
pub const DEFAULT_LIMIT: usize = 1000;
/// Default of `--index-max-rows`.
pub const DEFAULT_MAX_ROWS: usize = 10_000;
/// Default of `--index-max-radius-deg`: a degree holds ~10⁴ alerts a night at the survey's
/// densest; wider cones are catalogue queries for Spark or DuckDB over the same files.
pub const DEFAULT_MAX_RADIUS_DEG: f64 = 1.0;
/// Default of `--index-max-range`: a month of alerts is ~300 M rows; longer is a bulk export.
pub const DEFAULT_MAX_RANGE: Duration = Duration::from_secs(31 * 86_400);
/// Default of `--index-query-timeout`.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read of the table's log is reused before the log is read again.
pub const SNAPSHOT_TTL: Duration = Duration::from_secs(2);

/// The limits of the index routes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchLimits {
    pub max_rows: usize,
    pub max_radius_deg: f64,
    pub max_range: Duration,
    pub query_timeout: Duration,
}

impl Default for SearchLimits {
    fn default() -> Self {
        Self {
            max_rows: DEFAULT_MAX_ROWS,
            max_radius_deg: DEFAULT_MAX_RADIUS_DEG,
            max_range: DEFAULT_MAX_RANGE,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
        }
    }
}

/// The index table of the alerts' store, read lazily and refreshed at most every
/// [`SNAPSHOT_TTL`].
#[derive(Debug)]
pub struct IndexSource {
    store: Arc<dyn ObjectStore>,
    limits: SearchLimits,
    snapshot: tokio::sync::Mutex<Option<(Instant, Arc<Snapshot>)>>,
}

impl IndexSource {
    pub fn new(store: Arc<dyn ObjectStore>, limits: SearchLimits) -> Self {
        Self {
            store,
            limits,
            snapshot: tokio::sync::Mutex::new(None),
        }
    }

    pub fn limits(&self) -> &SearchLimits {
        &self.limits
    }

    /// The newest snapshot at most [`SNAPSHOT_TTL`] old, or `None` when there is no table.
    async fn snapshot(&self) -> Result<Option<Arc<Snapshot>>, ApiError> {
        let mut cached = self.snapshot.lock().await;
        if let Some((read, snapshot)) = cached.as_ref() {
            if read.elapsed() < SNAPSHOT_TTL {
                return Ok(Some(snapshot.clone()));
            }
        }
        let loaded = match cached.as_ref() {
            Some((_, previous)) => previous.refreshed(&self.store).await.map(Some),
            None => Snapshot::load(&self.store, TABLE_PREFIX).await,
        };
        match loaded.map_err(index_error)? {
            Some(snapshot) => {
                let snapshot = Arc::new(snapshot);
                *cached = Some((Instant::now(), snapshot.clone()));
                Ok(Some(snapshot))
            }
            None => Ok(None),
        }
    }
}

impl IndexSource {
    /// The object's alert ids, oldest first (the index's order), at most `max` (the newest
    /// when it has more); `Ok(None)` when the archive has no index table. For object pages.
    pub async fn object_alert_ids(
        &self,
        dia_object_id: i64,
        max: usize,
    ) -> Result<Option<Vec<u64>>, ApiError> {
        let Some(snapshot) = self.snapshot().await? else {
            return Ok(None);
        };
        let mut ids: Vec<u64> = Vec::new();
        let mut cursor = None;
        loop {
            let request = PageRequest {
                limit: self.limits.max_rows.max(1),
                cursor,
            };
            let page = bounded(
                &self.limits,
                alert_index::object_alerts(&snapshot, &self.store, dia_object_id, request),
            )
            .await?;
            ids.extend(
                page.rows
                    .iter()
                    .filter_map(|r| u64::try_from(r.alert_id).ok()),
            );
            // Keep the newest `max` only: an object's alerts grow by one a visit.
            if ids.len() > max {
                ids.drain(..ids.len() - max);
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(Some(ids)),
            }
        }
    }
}

/// The index routes (beside the other `/v1` routes).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/objects/{dia_object_id}/alerts", get(object_alerts))
        .route("/v1/alerts/search", get(search))
        .route("/v1/alerts/cone", get(cone))
}

/// How to write a page of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Parquet,
}

/// The query string, split, with every parameter checked against those the route takes.
#[derive(Debug, Default)]
struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if !allowed.contains(&key.as_ref()) {
                return Err(ApiError::BadRequest(format!(
                    "unknown parameter {key:?}; this route takes {}",
                    allowed.join(", ")
                )));
            }
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(ApiError::BadRequest(format!(
                    "parameter {key:?} is given twice"
                )));
            }
            pairs.push((key.into_owned(), value.into_owned()));
        }
        Ok(Self { pairs })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, key: &str, what: &str) -> Result<&str, ApiError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::BadRequest(format!("parameter {key} is required: {what}")))
    }

    fn format(&self) -> Result<Format, ApiError> {
        match self.get("format").unwrap_or("json") {
            "json" | "" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            other => Err(ApiError::BadRequest(format!(
                "format {other:?} is not known; use json (the default), csv or parquet"
            ))),
        }
    }

    fn page(&self, limits: &SearchLimits) -> Result<PageRequest, ApiError> {
        let limit = match self.get("limit") {
            None | Some("") => DEFAULT_LIMIT.min(limits.max_rows),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=limits.max_rows).contains(&n) => n,
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "limit {text:?} is not an integer from 1 to {}",
                        limits.max_rows
                    )))
                }
            },
        };
        Ok(PageRequest {
            limit,
            cursor: self
                .get("cursor")
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        })
    }
}

/// Degrees from a parameter: a finite decimal number.
fn degrees(params: &Params, key: &str, what: &str) -> Result<f64, ApiError> {
    let text = params.required(key, what)?;
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| ApiError::BadRequest(format!("{key} {text:?} is not a number of degrees")))
}

/// A time given as MJD TAI (a decimal number, e.g. `60676.25`) or as ISO-8601 UTC
/// (`2025-01-02T03:04:05Z`, fractional seconds and a `+00:00` offset allowed, or a bare
/// date), as MJD TAI.
pub fn parse_time(text: &str) -> Result<f64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let mjd: f64 = text
            .parse()
            .map_err(|_| format!("{text:?} is not an MJD number"))?;
        // MJD 0 is 1858; the survey's alerts are from MJD ~60000 on. Anything outside
        // 1858–2300 is a mistake (a Unix time, a JD) rather than a time.
        if !(0.0..=160_000.0).contains(&mjd) {
            return Err(format!(
                "{text:?} is not a plausible MJD (a Unix time or a JD given by mistake?)"
            ));
        }
        return Ok(mjd);
    }
    let unix_us = parse_iso8601_utc(text)?;
    Ok(unix_us as f64 / 86_400_000_000.0
        + alert_index::MJD_UNIX_EPOCH
        + alert_index::TAI_MINUS_UTC_SECONDS / 86_400.0)
}

/// `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+00:00]` as UTC microseconds since the Unix epoch. Other
/// offsets are refused rather than guessed at: the archive's times are UTC.
fn parse_iso8601_utc(text: &str) -> Result<i64, String> {
    let bad = || {
        format!("{text:?} is neither an MJD TAI number nor an ISO-8601 UTC time like 2025-01-02T03:04:05Z")
    };
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let year: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let month: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let day: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    if date.len() != 10 || !(1..=12).contains(&month) || day == 0 || day > days_in(year, month) {
        return Err(bad());
    }
    let mut micros_of_day: i64 = 0;
    if let Some(time) = time {
        let time = time
            .strip_suffix(['Z', 'z'])
            .or_else(|| time.strip_suffix("+00:00"))
            .unwrap_or(time);
        if time.contains(['+', '-']) {
            return Err(format!(
                "{text:?} has a UTC offset other than Z or +00:00; give the time in UTC"
            ));
        }
        let mut fields = time.split(':');
        let hour: i64 = fields.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let minute: i64 = fields.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let seconds: f64 = match fields.next() {
            Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                s.parse().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None => 0.0,
        };
        if fields.next().is_some() || hour > 23 || minute > 59 || seconds >= 61.0 {
            return Err(bad());
        }
        micros_of_day = (hour * 3600 + minute * 60) * 1_000_000 + (seconds * 1e6).round() as i64;
    }
    Ok(days_from_civil(year, month, day) * 86_400_000_000 + micros_of_day)
}

fn days_in(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A UTC timestamp in microseconds as ISO-8601 with microseconds and `Z`.
pub fn iso8601(unix_us: i64) -> String {
    let days = unix_us.div_euclid(86_400_000_000);
    let micros = unix_us.rem_euclid(86_400_000_000);
    // Civil from days (Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let seconds = micros / 1_000_000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        micros % 1_000_000
    )
}

fn index_error(error: IndexError) -> ApiError {
    match error {
        IndexError::BadQuery(detail) => ApiError::BadRequest(detail),
        error @ IndexError::BadCursor(_) => ApiError::BadRequest(error.to_string()),
        IndexError::Deadline { .. } => ApiError::QueryTimeout(error_text(&error)),
        IndexError::Store(source) => {
            tracing::error!(error = %source, "index table: object store failed");
            ApiError::Unavailable
        }
        other => {
            tracing::error!(error = %other, "index table unreadable");
            ApiError::Internal(format!("the index table is unreadable: {other}"))
        }
    }
}

fn error_text(error: &IndexError) -> String {
    format!(
        "{error}; narrow the query (a shorter range, a smaller cone, a smaller limit) and retry"
    )
}

/// The index source, or the 404 that says the archive has none.
async fn source(state: &AppState) -> Result<(&IndexSource, Arc<Snapshot>), ApiError> {
    let Some(index) = state.index.as_deref() else {
        return Err(ApiError::NotFound(
            "the alert index is not enabled on this server (started with --no-index)".into(),
        ));
    };
    match index.snapshot().await? {
        Some(snapshot) => Ok((index, snapshot)),
        None => Err(ApiError::NotFound(format!(
            "the archive has no alert index ({TABLE_PREFIX}/_delta_log/ is absent): run the \
             ingester with indexing on, or `alertdb-ingester rebuild-index`"
        ))),
    }
}

/// Runs `query` within the query timeout.
async fn bounded<F>(limits: &SearchLimits, query: F) -> Result<Page, ApiError>
where
    F: std::future::Future<Output = Result<Page, IndexError>>,
{
    match tokio::time::timeout(limits.query_timeout, query).await {
        Ok(result) => result.map_err(index_error),
        Err(_) => Err(ApiError::QueryTimeout(format!(
            "the query took longer than {} ms; narrow it (a shorter range, a smaller cone, a \
             smaller limit) and retry",
            limits.query_timeout.as_millis()
        ))),
    }
}

async fn object_alerts(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let raw = path
        .map(|Path(p)| p)
        .map_err(|e| ApiError::BadRequest(format!("invalid path: {}", e.body_text())))?;
    let dia_object_id: i64 = raw
        .parse()
        .ok()
        .filter(|id: &i64| *id >= 0 && raw.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "diaObjectId {raw:?} is not a non-negative decimal integer of at most 19 digits"
            ))
        })?;
    let params = Params::parse(query.as_deref(), &["format", "limit", "cursor"])?;
    let format = params.format()?;
    let (index, snapshot) = source(&state).await?;
    let page_request = params.page(index.limits())?;
    let page = bounded(
        index.limits(),
        alert_index::object_alerts(&snapshot, &index.store, dia_object_id, page_request),
    )
    .await?;
    render(&state, &uri, &headers, format, page)
}

async fn search(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(
        query.as_deref(),
        &["since", "until", "format", "limit", "cursor"],
    )?;
    let what = "a time as ISO-8601 UTC (2025-01-02T03:04:05Z) or MJD TAI (60677.128)";
    let since = parse_time(params.required("since", what)?)
        .map_err(|e| ApiError::BadRequest(format!("since {e}")))?;
    let until = parse_time(params.required("until", what)?)
        .map_err(|e| ApiError::BadRequest(format!("until {e}")))?;
    let format = params.format()?;
    let (index, snapshot) = source(&state).await?;
    let limits = index.limits();
    if until <= since {
        return Err(ApiError::BadRequest(format!(
            "until (MJD TAI {until}) must be after since (MJD TAI {since})"
        )));
    }
    let max_days = limits.max_range.as_secs_f64() / 86_400.0;
    if until - since > max_days {
        return Err(ApiError::BadRequest(format!(
            "since–until spans {:.3} days; at most {max_days} days per query (page through \
             shorter ranges)",
            until - since
        )));
    }
    let page_request = params.page(limits)?;
    let page = bounded(
        limits,
        alert_index::time_range(&snapshot, &index.store, since, until, page_request),
    )
    .await?;
    render(&state, &uri, &headers, format, page)
}

async fn cone(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(
        query.as_deref(),
        &["ra", "dec", "radius", "format", "limit", "cursor"],
    )?;
    let ra = degrees(&params, "ra", "right ascension in degrees (ICRS), 0 to 360")?;
    let dec = degrees(&params, "dec", "declination in degrees (ICRS), -90 to 90")?;
    let radius = degrees(&params, "radius", "the cone's radius in degrees")?;
    if !(0.0..=360.0).contains(&ra) {
        return Err(ApiError::BadRequest(format!(
            "ra {ra} is outside 0 to 360 degrees"
        )));
    }
    if !(-90.0..=90.0).contains(&dec) {
        return Err(ApiError::BadRequest(format!(
            "dec {dec} is outside -90 to 90 degrees"
        )));
    }
    let format = params.format()?;
    let (index, snapshot) = source(&state).await?;
    let limits = index.limits();
    if !(radius > 0.0 && radius <= limits.max_radius_deg) {
        return Err(ApiError::BadRequest(format!(
            "radius {radius} must be more than 0 and at most {} degrees",
            limits.max_radius_deg
        )));
    }
    let page_request = params.page(limits)?;
    let page = bounded(
        limits,
        alert_index::cone(&snapshot, &index.store, ra, dec, radius, page_request),
    )
    .await?;
    render(&state, &uri, &headers, format, page)
}

/// The URL of this server's root as the client reached it, for each row's alert URL and
/// the next page's link.
fn root_url(state: &AppState, uri: &axum::http::Uri, headers: &HeaderMap) -> (String, String) {
    let here = crate::herald::datalink::base_url(state.herald.public_url.as_deref(), headers, uri);
    let root = match here.rfind("/v1/") {
        Some(at) => here[..at].to_owned(),
        None => here.clone(),
    };
    (root, here)
}

/// The URL of the next page: this request's URL with `cursor` replaced.
fn next_url(here: &str, uri: &axum::http::Uri, cursor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if key != "cursor" {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("cursor", cursor);
    format!("{here}?{}", query.finish())
}

/// Each alert once. The table can hold an alert more than once: the same message archived
/// again after a re-read that no `txn` version covered (a rebuild racing an ingester), or the
/// same alert produced again (the simulator's replays without `--renumber-ids`). Rows come
/// sorted by (midpoint, alert id), so copies are adjacent; a page's cursor is strictly after
/// its last (midpoint, alert id), so the next page skips the copies of its last alert too.
fn distinct_alerts(rows: &mut Vec<IndexRow>) {
    rows.dedup_by_key(|row| row.alert_id);
}

fn render(
    state: &AppState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    format: Format,
    mut page: Page,
) -> Result<Response, ApiError> {
    distinct_alerts(&mut page.rows);
    let (root, here) = root_url(state, uri, headers);
    let next = page
        .next_cursor
        .as_deref()
        .map(|cursor| next_url(&here, uri, cursor));
    let (content_type, body) = match format {
        Format::Json => (
            "application/json",
            Bytes::from(json_page(&page, &root, next.as_deref())),
        ),
        Format::Csv => (
            "text/csv; charset=utf-8",
            Bytes::from(csv_page(&page.rows, &root)),
        ),
        Format::Parquet => (
            "application/vnd.apache.parquet",
            alert_index::to_parquet(&page.rows)
                .map_err(|e| ApiError::Internal(format!("writing Parquet: {e}")))?,
        ),
    };
    let mut response = body.into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // New rows arrive as the ingester writes: a page is not immutable.
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(next) = &next {
        if let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response_headers.insert(header::LINK, link);
        }
    }
    if let Some(cursor) = &page.next_cursor {
        if let Ok(value) = HeaderValue::from_str(cursor) {
            response_headers.insert("x-next-cursor", value);
        }
    }
    Ok(response)
}

/// The columns of the JSON and CSV answers, in order.
pub const COLUMNS: [&str; 15] = [
    "alertId",
    "diaSourceId",
    "diaObjectId",
    "ssObjectId",
    "midpointMjdTai",
    "time",
    "ra",
    "dec",
    "healpix29",
    "band",
    "psfFlux",
    "psfFluxErr",
    "reliability",
    "schemaId",
    "url",
];

fn row_json(row: &IndexRow, root: &str) -> serde_json::Value {
    serde_json::json!({
        "alertId": row.alert_id,
        "diaSourceId": row.dia_source_id,
        "diaObjectId": row.dia_object_id,
        "ssObjectId": row.ss_object_id,
        "midpointMjdTai": row.mjd_tai,
        "time": iso8601(row.time_us),
        "ra": row.ra,
        "dec": row.dec,
        "healpix29": row.healpix29,
        "band": row.band,
        "psfFlux": row.psf_flux,
        "psfFluxErr": row.psf_flux_err,
        "reliability": row.reliability,
        "schemaId": row.schema_id,
        "url": format!("{root}/v1/alerts/{}", row.alert_id),
    })
}

fn json_page(page: &Page, root: &str, next: Option<&str>) -> Vec<u8> {
    let rows: Vec<serde_json::Value> = page.rows.iter().map(|r| row_json(r, root)).collect();
    let body = serde_json::json!({
        "count": rows.len(),
        "alerts": rows,
        "next_cursor": page.next_cursor,
        "next": next,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn csv_page(rows: &[IndexRow], root: &str) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    let opt = |v: Option<String>| v.unwrap_or_default();
    for row in rows {
        let band = row.band.as_deref().map(csv_field).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}/v1/alerts/{}",
            row.alert_id,
            row.dia_source_id,
            opt(row.dia_object_id.map(|v| v.to_string())),
            opt(row.ss_object_id.map(|v| v.to_string())),
            row.mjd_tai,
            iso8601(row.time_us),
            row.ra,
            row.dec,
            row.healpix29,
            band,
            opt(row.psf_flux.map(|v| v.to_string())),
            opt(row.psf_flux_err.map(|v| v.to_string())),
            opt(row.reliability.map(|v| v.to_string())),
            row.schema_id,
            root,
            row.alert_id,
        );
    }
    out
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_mjd_tai_numbers_or_iso_utc() {
        assert_eq!(parse_time("60676.25").unwrap(), 60676.25);
        // 2025-01-01T00:00:00Z is MJD (UTC) 60676; TAI is 37 s later.
        let tai = parse_time("2025-01-01T00:00:00Z").unwrap();
        assert!((tai - (60676.0 + 37.0 / 86_400.0)).abs() < 1e-9, "{tai}");
        assert_eq!(parse_time("2025-01-01").unwrap(), tai);
        assert_eq!(parse_time("2025-01-01T00:00:00+00:00").unwrap(), tai);
        let half = parse_time("2025-01-01T12:00:00.5Z").unwrap();
        assert!((half - tai - (0.5 + 0.5 / 86_400.0)).abs() < 1e-9);
        for bad in [
            "",
            "yesterday",
            "2025-13-01",
            "2025-02-29",
            "2025-01-01T25:00:00Z",
            "2025-01-01T00:00:00+02:00",
            "1735689600",
            "2460676.5",
            "-5",
            "NaN",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
        assert!(parse_time("2024-02-29").is_ok());
    }

    #[test]
    fn timestamps_print_as_iso_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            iso8601(1_735_689_600_000_000 + 1_500_000),
            "2025-01-01T00:00:01.500000Z"
        );
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999999Z");
        let us = parse_iso8601_utc("2031-07-15T08:09:10.123456Z").unwrap();
        assert_eq!(iso8601(us), "2031-07-15T08:09:10.123456Z");
    }

    #[test]
    fn parameters_are_checked() {
        let limits = SearchLimits::default();
        assert!(Params::parse(Some("ra=1&bogus=2"), &["ra"]).is_err());
        assert!(Params::parse(Some("ra=1&ra=2"), &["ra"]).is_err());
        let params = Params::parse(Some("limit=5&format=csv"), &["limit", "format"]).unwrap();
        assert_eq!(params.page(&limits).unwrap().limit, 5);
        assert_eq!(params.format().unwrap(), Format::Csv);
        for bad in ["limit=0", "limit=10001", "limit=x", "limit=-1"] {
            let params = Params::parse(Some(bad), &["limit"]).unwrap();
            assert!(params.page(&limits).is_err(), "{bad}");
        }
        let params = Params::parse(Some("format=xml"), &["format"]).unwrap();
        assert!(params.format().is_err());
        let params = Params::parse(None, &["limit"]).unwrap();
        assert_eq!(params.page(&limits).unwrap().limit, DEFAULT_LIMIT);
    }

    #[test]
    fn copies_of_an_alert_are_answered_once() {
        let row = |alert_id: i64, mjd_tai: f64| IndexRow {
            alert_id,
            dia_source_id: alert_id,
            dia_object_id: Some(1),
            ss_object_id: None,
            mjd_tai,
            time_us: 0,
            ra: 0.0,
            dec: 0.0,
            healpix29: 0,
            band: None,
            psf_flux: None,
            psf_flux_err: None,
            reliability: None,
            schema_id: 1,
            archive_key: String::new(),
            topic: "t".into(),
            partition: 0,
            offset: alert_id,
        };
        let mut rows = vec![
            row(1, 1.0),
            row(1, 1.0),
            row(2, 1.0),
            row(3, 2.0),
            row(3, 2.0),
        ];
        distinct_alerts(&mut rows);
        let ids: Vec<i64> = rows.iter().map(|r| r.alert_id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("g"), "g");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
