//! Pages for people: an alert and an object as HTML, and cutouts as PNG images.
//!
//! - `GET /v1/alerts/{id}/view` (and `/v1/alerts/{id}` for a browser, whose `Accept` lists
//!   `text/html` first): the alert's identity, its cutouts, the light curve of its history as
//!   inline SVG, the diaSource and diaObject with units, and links to every download;
//! - `GET /v1/alerts/{id}/cutouts/{kind}.png?stretch=&size=`: a cutout rendered on the
//!   server ([`image`]: zscale interval, asinh stretch by default);
//! - `GET /v1/objects/{diaObjectId}/view`: an object across its archived alerts, when an
//!   [`ObjectIndex`] tells which alerts those are; without one, a page that says the index is
//!   not enabled, with status 501 (see [`object_view`] for why that status).
//!
//! Pages are rendered from the decoded alert on the request's thread: a ~110 KB alert with a
//! full history renders in about a millisecond (docs/benchmarks.md), less than a hand-off
//! to the blocking pool costs. Nothing on a page comes from another site; see [`render`].

pub mod image;
pub mod lightcurve;
pub mod model;
pub mod render;

use crate::archive::{top_level_bytes, DecodedAlert};
use crate::http::{immutable, parse_alert_id, ApiError, AppState, CUTOUTS};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use image::Stretch;
use model::{light_curve, AlertView, Point, PointKind, DEC, FLUX};
use render::{CutoutFacts, CutoutInfo, Links, ObjectAlert};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Bumped when the pages or PNGs render differently, so that caches holding the old ones
/// (their ETags carry it) revalidate.
const RENDER_VERSION: &str = "p1";
/// Pages may change with the server's version (their ETags carry it): cached for a day.
const PAGE_CACHE: &str = "public, max-age=86400";
/// No script, no frame, nothing from elsewhere: images from this server, the inline style.
const PAGE_CSP: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'";
/// The most alerts an object page fetches and shows (the newest).
pub const MAX_OBJECT_ALERTS: usize = 200;

/// A boxed future, for the object-safe [`ObjectIndex`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which archived alerts belong to a diaObject: the archive's alert index (issue 19,
/// [`crate::search::IndexSource`]). The object page needs only this, so tests give a fixed
/// list.
pub trait ObjectIndex: Send + Sync + std::fmt::Debug {
    /// The ids of the object's archived alerts, oldest first, at most [`MAX_OBJECT_ALERTS`]
    /// (the newest); an empty list when the object has none. `Err` says why the index could
    /// not answer, as the API would ([`ApiError::NotEnabled`] when there is no index).
    fn object_alerts(&self, dia_object_id: i64) -> BoxFuture<'_, Result<Vec<u64>, ApiError>>;
}

impl ObjectIndex for crate::search::IndexSource {
    fn object_alerts(&self, dia_object_id: i64) -> BoxFuture<'_, Result<Vec<u64>, ApiError>> {
        Box::pin(async move {
            self.object_alert_ids(dia_object_id, MAX_OBJECT_ALERTS)
                .await?
                .ok_or_else(|| {
                    ApiError::NotEnabled(format!(
                        "object pages need the archive's alert index, and this archive has none \
({}/_delta_log/ is absent): run the ingester with indexing on, or \
`alertdb-ingester rebuild-index`. Each alert's page shows its object's light curve from that \
alert's own history.",
                        crate::search::TABLE_PREFIX
                    ))
                })
        })
    }
}

/// An answer in HTML: errors become a page with the same status as the JSON API gives
/// ([`ApiError::status_and_detail`], the one mapping).
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        PageError(error)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, detail) = self.0.status_and_detail();
        let title = match status {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::NOT_IMPLEMENTED => "Not enabled",
            StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
            _ => "Error",
        };
        let mut response = html(status, render::notice_page(title, status.as_u16(), &detail));
        // A page about a state of this server (not enabled, unavailable) must not be kept.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Whether a request's `Accept` asks for HTML first (what browsers send for a page:
/// `text/html,application/xhtml+xml,...`). `*/*`, no `Accept`, or HTML listed after another
/// type keep the Avro answer API clients have always had.
pub fn wants_html(headers: &HeaderMap) -> bool {
    let Some(first) = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|item| !item.is_empty())
    else {
        return false;
    };
    let mut parts = first.split(';');
    let media = parts.next().unwrap_or("").trim();
    let refused = parts.any(|p| {
        p.trim()
            .strip_prefix("q=")
            .and_then(|q| q.trim().parse::<f32>().ok())
            .is_some_and(|q| q <= 0.0)
    });
    !refused
        && (media.eq_ignore_ascii_case("text/html")
            || media.eq_ignore_ascii_case("application/xhtml+xml"))
}

/// The cutouts of an alert as the page describes them.
fn cutout_infos(decoded: &DecodedAlert) -> Vec<CutoutInfo> {
    CUTOUTS
        .iter()
        .map(|(kind, field)| CutoutInfo {
            kind,
            title: match *kind {
                "difference" => "Difference",
                "science" => "Science",
                _ => "Template",
            },
            image: match top_level_bytes(decoded, field) {
                None => Err("this alert has no such cutout".into()),
                Some([]) => Err("this alert's cutout is empty".into()),
                Some(fits) => image::read_image(fits)
                    .map(|i| CutoutFacts::of(&i))
                    .map_err(|e| e.to_string()),
            },
        })
        .collect()
}

fn links(state: &AppState) -> Links {
    Links {
        herald_prefix: state.herald.prefix.clone(),
        objects: state.objects.is_some(),
    }
}

/// Renders the alert page; `base` as [`render::alert_page`].
pub(crate) async fn alert_page(
    state: &AppState,
    alert_id: u64,
    headers: &HeaderMap,
    base: Option<&str>,
) -> Result<Response, PageError> {
    let etag = format!(
        "\"alert-{alert_id}-html-{}-{RENDER_VERSION}\"",
        env!("CARGO_PKG_VERSION")
    );
    let cache = [
        (header::CACHE_CONTROL, HeaderValue::from_static(PAGE_CACHE)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if crate::http::if_none_match(headers, &etag) {
        return Ok(page_response(headers, etag, Bytes::new(), &cache));
    }
    let decoded = state
        .archive
        .decoded_alert(alert_id)
        .await
        .map_err(ApiError::from)?;
    let view = AlertView::of(alert_id, &decoded)
        .ok_or_else(|| ApiError::Internal(format!("alert {alert_id}'s schema is not a record")))?;
    let body = render::alert_page(&view, &cutout_infos(&decoded), &links(state), base);
    Ok(page_response(headers, etag, Bytes::from(body), &cache))
}

fn page_response(
    headers: &HeaderMap,
    etag: String,
    body: Bytes,
    extra: &[(header::HeaderName, HeaderValue)],
) -> Response {
    let mut response = immutable(headers, etag, "text/html; charset=utf-8", body, extra);
    // `immutable` says cacheable forever; a page is kept a day (`extra` set it last, but
    // make sure whichever order).
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(PAGE_CACHE));
    response
}

/// `GET /v1/alerts/{alert_id}/view`.
pub(crate) async fn alert_view(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let raw = path
        .map(|Path(p)| p)
        .map_err(|e| ApiError::BadRequest(format!("invalid path: {}", e.body_text())))?;
    let alert_id = parse_alert_id(&raw)?;
    alert_page(&state, alert_id, &headers, None).await
}

/// The `stretch=` and `size=` of a PNG request; anything else is refused.
fn png_params(query: Option<&str>) -> Result<(Stretch, Option<u32>), ApiError> {
    let mut stretch = Stretch::default();
    let mut size = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "stretch" => {
                stretch = Stretch::parse(&value).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "stretch {value:?} is not known; use {}",
                        Stretch::NAMES
                    ))
                })?
            }
            "size" => {
                let n = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (image::MIN_SIZE..=image::MAX_SIZE).contains(n))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "size {value:?} is not a whole number of pixels from {} to {}",
                            image::MIN_SIZE,
                            image::MAX_SIZE
                        ))
                    })?;
                size = Some(n);
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "parameter {other:?} is not known; use stretch and size"
                )))
            }
        }
    }
    Ok((stretch, size))
}

/// `GET /v1/alerts/{alert_id}/cutouts/{kind}.png`: `kind` without `.png`.
pub(crate) async fn cutout_png(
    state: &AppState,
    alert_id: u64,
    kind: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let Some((kind, field)) = CUTOUTS.iter().find(|(name, _)| *name == kind) else {
        return Err(ApiError::NotFound(format!(
            "unknown cutout {kind:?}; use difference.png, science.png or template.png"
        )));
    };
    let (stretch, size) = png_params(query)?;
    let size_tag = size.map_or("native".to_owned(), |s| s.to_string());
    let etag = format!("\"alert-{alert_id}-{kind}-{stretch}-{size_tag}-{RENDER_VERSION}\"");
    if crate::http::if_none_match(headers, &etag) {
        return Ok(immutable(headers, etag, "image/png", Bytes::new(), &[]));
    }
    // Only the cutout is needed: read it from the Avro body without decoding the history.
    let (message, schema_id, schema) = state.archive.message_and_schema(alert_id).await?;
    let body = &message[alert_packet::wire::HEADER_LEN..];
    let fits = match crate::archive::body_field_bytes(&schema, body, field) {
        Ok(Some(fits)) if !fits.is_empty() => fits,
        Ok(_) => {
            return Err(ApiError::NotFound(format!(
                "alert {alert_id} has no {kind} cutout"
            )))
        }
        Err(e) => {
            return Err(ApiError::from(crate::archive::ArchiveError::CorruptAlert {
                alert_id,
                reason: format!("does not decode with schema {schema_id}: {e}"),
            }))
        }
    };
    let png = image::render_png(fits, stretch, size).map_err(|e| {
        tracing::warn!(alert_id, kind, error = %e, "cutout does not render");
        ApiError::Internal(format!("alert {alert_id}'s {kind} cutout: {e}"))
    })?;
    let disposition = HeaderValue::from_str(&format!(
        "inline; filename=\"{alert_id}-{kind}-{stretch}.png\""
    ))
    .unwrap_or(HeaderValue::from_static("inline"));
    Ok(immutable(
        headers,
        etag,
        "image/png",
        Bytes::from(png),
        &[(header::CONTENT_DISPOSITION, disposition)],
    ))
}

/// A diaObject id: 1 to 19 decimal digits that fit in a signed 64-bit integer (the APDB's
/// type).
pub fn parse_object_id(text: &str) -> Result<i64, ApiError> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest(format!(
            "diaObjectId {text:?} is not a decimal integer of at most 19 digits"
        )));
    }
    text.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "diaObjectId {text} is larger than 9223372036854775807"
        ))
    })
}

/// `GET /v1/objects/{dia_object_id}/view`.
///
/// Without an index the answer is 501 Not Implemented, with a page that says so: the server
/// cannot tell which alerts belong to the object, so 404 (which says the object does not
/// exist, and which caches may keep) would be wrong, and 503 would invite retrying
/// something that will not start working by itself. The page carries `no-store`.
pub(crate) async fn object_view(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let raw = path
        .map(|Path(p)| p)
        .map_err(|e| ApiError::BadRequest(format!("invalid path: {}", e.body_text())))?;
    let object_id = parse_object_id(&raw)?;
    let Some(index) = &state.objects else {
        return Err(ApiError::NotEnabled(format!(
            "object pages need the archive's alert index, which is not enabled on this server \
(started with --no-index): it cannot tell which alerts belong to diaObject {object_id}. Each \
alert's page shows the object's light curve from that alert's own history."
        ))
        .into());
    };
    let ids = index.object_alerts(object_id).await?;
    let body = object_page(&state, object_id, ids).await?;
    let mut response = html(StatusCode::OK, body);
    // The object gains alerts over time: a short cache.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(response)
}

/// Fetches the object's alerts (the last [`MAX_OBJECT_ALERTS`] of `ids`, oldest first, as
/// the index gives them) and renders the page.
pub async fn object_page(
    state: &AppState,
    object_id: i64,
    ids: Vec<u64>,
) -> Result<String, ApiError> {
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<u64> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
    let total = ids.len();
    if total == 0 {
        return Err(ApiError::NotFound(format!(
            "the archive's index has no alert of diaObject {object_id}"
        )));
    }
    let newest = &ids[total.saturating_sub(MAX_OBJECT_ALERTS)..];
    let mut decoded = Vec::with_capacity(newest.len());
    for id in newest {
        match state.archive.decoded_alert(*id).await {
            Ok(alert) => decoded.push((*id, alert)),
            // Indexed but gone (purged after its retention): the others still make a page.
            Err(crate::archive::ArchiveError::AlertNotFound) => {
                tracing::warn!(object_id, alert_id = id, "indexed alert not in the archive")
            }
            Err(other) => return Err(other.into()),
        }
    }
    let views: Vec<AlertView<'_>> = decoded
        .iter()
        .filter_map(|(id, d)| AlertView::of(*id, d))
        .collect();
    Ok(render_object(object_id, &views, &decoded, total))
}

/// The object page of `views` (one per archived alert; `decoded` for their cutouts).
pub fn render_object(
    object_id: i64,
    views: &[AlertView<'_>],
    decoded: &[(u64, DecodedAlert)],
    total: usize,
) -> String {
    let (points, skipped) = merged_light_curve(views);
    let mut alerts: Vec<ObjectAlert> = views
        .iter()
        .map(|v| ObjectAlert {
            alert_id: v.alert_id,
            mjd: v.mjd(),
            band: v.band().map(str::to_owned),
            flux: v.dia_source.and_then(|s| s.f64(&FLUX)),
            ra: v.dia_source.and_then(|s| s.f64(&["ra"])),
            dec: v.dia_source.and_then(|s| s.f64(&DEC)),
        })
        .collect();
    alerts.sort_by(|a, b| {
        b.mjd
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.mjd.unwrap_or(f64::NEG_INFINITY))
            .then(b.alert_id.cmp(&a.alert_id))
    });
    let latest = alerts.first().and_then(|newest| {
        let view = views.iter().find(|v| v.alert_id == newest.alert_id)?;
        let (_, d) = decoded.iter().find(|(id, _)| *id == newest.alert_id)?;
        Some((view, cutout_infos(d)))
    });
    render::object_page(
        object_id,
        &alerts,
        &points,
        latest.as_ref().map(|(v, c)| (*v, c.as_slice())),
        total,
        skipped,
    )
}

/// The light curve of several alerts of one object: each alert's source is a `current`
/// point; an earlier detection or forced measurement in several alerts' histories is drawn
/// once (by `diaSourceId` / `diaForcedSourceId`; a row without an id is kept as it is), and a
/// detection that is also some archived alert's source is drawn as that alert's.
pub fn merged_light_curve(views: &[AlertView<'_>]) -> (Vec<Point>, usize) {
    let mut points: Vec<Point> = Vec::new();
    let mut skipped = 0;
    let mut seen = std::collections::HashSet::new();
    let all: Vec<(Vec<Point>, usize)> = views.iter().map(light_curve).collect();
    // Sources of alerts first, so that they win over the same source in a history.
    for kind in [PointKind::Current, PointKind::Detection, PointKind::Forced] {
        for (alert_points, _) in &all {
            for p in alert_points.iter().filter(|p| p.kind == kind) {
                let key = p.id.map(|id| (kind == PointKind::Forced, id));
                if key.is_none_or(|k| seen.insert(k)) {
                    points.push(p.clone());
                }
            }
        }
    }
    for (_, s) in &all {
        skipped += s;
    }
    (points, skipped)
}
