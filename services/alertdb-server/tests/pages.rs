//! The pages in-process over an in-memory store: content negotiation, escaping, the cutout
//! PNGs and their parameters, object pages with and without an index, bad input. The page in
//! a real browser is `integration-tests/tests/alert_pages.rs`.

use alert_archive::{alert_key, gzip, schema_key, Layout};
use alert_packet::value::{self, Value};
use alert_packet::{wire, Schema};
use alertdb_server::http::ApiError;
use alertdb_server::pages::{BoxFuture, ObjectIndex};
use alertdb_server::{app_with_index, ServerConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use object_storage::object_store::{ObjectStoreExt, PutPayload};
use std::sync::Arc;
use tower::ServiceExt;

const SCHEMA: &str = r#"{"type":"record","name":"alert","namespace":"lsst.v9_9","fields":[
    {"name":"diaSourceId","type":"long"},
    {"name":"target_name","type":["null","string"],"default":null},
    {"name":"diaSource","type":{"type":"record","name":"diaSource","fields":[
        {"name":"diaSourceId","type":"long"},{"name":"diaObjectId","type":["null","long"]},
        {"name":"midpointMjdTai","type":"double"},
        {"name":"ra","type":"double"},{"name":"dec","type":"double"},
        {"name":"psfFlux","type":["null","float"]},{"name":"psfFluxErr","type":["null","float"]},
        {"name":"band","type":["null","string"]}]}},
    {"name":"prvDiaSources","type":["null",{"type":"array","items":"diaSource"}]},
    {"name":"prvDiaForcedSources","type":["null",{"type":"array","items":{"type":"record",
        "name":"diaForcedSource","fields":[
        {"name":"diaForcedSourceId","type":"long"},{"name":"midpointMjdTai","type":"double"},
        {"name":"psfFlux","type":["null","float"]},{"name":"psfFluxErr","type":["null","float"]},
        {"name":"band","type":["null","string"]}]}}]},
    {"name":"diaObject","type":["null",{"type":"record","name":"diaObject","fields":[
        {"name":"diaObjectId","type":"long"},{"name":"ra","type":"double"},
        {"name":"g_psfFluxMean","type":["null","float"]}]}],"default":null},
    {"name":"cutoutDifference","type":["null","bytes"],"default":null},
    {"name":"cutoutScience","type":["null","bytes"],"default":null},
    {"name":"cutoutTemplate","type":["null","bytes"],"default":null}]}"#;

const OBJECT: i64 = 77;

/// A FITS image of `side`×`side` floats: a ramp with a bright centre.
fn stamp(side: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for card in [
        "SIMPLE  =                    T".to_owned(),
        "BITPIX  =                  -32".to_owned(),
        "NAXIS   =                    2".to_owned(),
        format!("NAXIS1  = {side:>20}"),
        format!("NAXIS2  = {side:>20}"),
        "END".to_owned(),
    ] {
        out.extend_from_slice(format!("{card:<80}").as_bytes());
    }
    out.resize(2880, b' ');
    for y in 0..side {
        for x in 0..side {
            let v = (x + y) as f32
                + if x == side / 2 && y == side / 2 {
                    500.0
                } else {
                    0.0
                };
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    out.resize(out.len().div_ceil(2880) * 2880, 0);
    out
}

fn source(id: i64, mjd: f64, flux: Option<f32>, band: &str) -> Value {
    Value::Record(vec![
        Value::Long(id),
        Value::Long(OBJECT),
        Value::Double(mjd),
        Value::Double(150.25),
        Value::Double(-30.5),
        flux.map_or(Value::Null, Value::Float),
        Value::Float(1.5),
        Value::String(band.into()),
    ])
}

fn forced(id: i64, mjd: f64, flux: f32, band: &str) -> Value {
    Value::Record(vec![
        Value::Long(id),
        Value::Double(mjd),
        Value::Float(flux),
        Value::Float(0.5),
        Value::String(band.into()),
    ])
}

/// Alert `id`: its source at `mjd`, `history` earlier detections, two forced points.
fn body(id: i64, mjd: f64, band: &str, history: Vec<Value>, cutouts: bool) -> Vec<u8> {
    let schema = Schema::parse_str(SCHEMA).unwrap();
    let cutout = |side| {
        if cutouts {
            Value::Bytes(stamp(side))
        } else {
            Value::Null
        }
    };
    let value = Value::Record(vec![
        Value::Long(id),
        Value::String("<script>alert('target')</script>".into()),
        source(id, mjd, Some(10.0), band),
        Value::Array(history),
        Value::Array(vec![
            forced(900 + id, mjd - 2.0, 3.0, "g"),
            forced(901 + id, mjd - 1.0, -2.0, "r"),
        ]),
        Value::Record(vec![
            Value::Long(OBJECT),
            Value::Double(150.25),
            Value::Float(4.5),
        ]),
        cutout(16),
        cutout(20),
        cutout(12),
    ]);
    value::encode(&schema, &value).unwrap()
}

#[derive(Debug)]
struct FixedIndex;

impl ObjectIndex for FixedIndex {
    fn object_alerts(&self, dia_object_id: i64) -> BoxFuture<'_, Result<Vec<u64>, ApiError>> {
        Box::pin(async move {
            Ok(match dia_object_id {
                OBJECT => vec![3, 1, 404],
                _ => Vec::new(),
            })
        })
    }
}

async fn router(index: bool) -> Router {
    let mut config = ServerConfig::for_url("memory://");
    config.path_prefix = Some("/alertdb".into());
    let index: Option<Arc<dyn ObjectIndex>> = index.then(|| Arc::new(FixedIndex) as _);
    let app = app_with_index(&config, index).unwrap();
    let store = app.archive.alerts_store().clone();
    let put = |key, bytes: Vec<u8>| {
        let store = store.clone();
        async move { store.put(&key, PutPayload::from(bytes)).await.unwrap() }
    };
    put(schema_key(Layout::V2, 909), SCHEMA.as_bytes().to_vec()).await;
    // Alert 1: a <script> band, a source without flux in its history.
    let first = body(
        1,
        60010.0,
        "<script>alert(1)</script>",
        vec![
            source(11, 60001.0, Some(5.0), "g"),
            source(12, 60002.0, None, "g"),
        ],
        true,
    );
    put(alert_key(Layout::V2, 1), gzip(&wire::frame(909, &first), 6)).await;
    // Alert 3, later: alert 1's source and source 11 are in its history.
    let third = body(
        3,
        60020.0,
        "r",
        vec![
            source(11, 60001.0, Some(5.0), "g"),
            source(1, 60010.0, Some(10.0), "<script>alert(1)</script>"),
        ],
        false,
    );
    put(alert_key(Layout::V2, 3), gzip(&wire::frame(909, &third), 6)).await;
    app.router
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn get(router: &Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::builder().uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    }
}

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn the_alert_page_escapes_strings_from_the_alert() {
    let r = router(false).await;
    let page = get(&r, "/v1/alerts/1/view", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(page
        .header("content-security-policy")
        .contains("default-src 'none'"));
    let html = page.text();
    // The band and target_name hold <script>: shown as text, never as markup.
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("data-band=\"&lt;script&gt;alert(1)&lt;/script&gt;\""));
    // Identity, units, downloads.
    assert!(html.contains("<dd data-key=\"iau\">LSST-AP-DS-1</dd>"));
    assert!(html.contains("<dd data-key=\"ra_hms\">10h01m00.000s</dd>"));
    assert!(html.contains("<dd data-key=\"dec_dms\">−30°30′00.00″</dd>"));
    assert!(html.contains(
        "<tr data-field=\"psfFlux\"><th scope=\"row\">psfFlux</th><td>10.0</td><td>nJy</td></tr>"
    ));
    assert!(html.contains("href=\"../../../api/alerts?ID=1&amp;RESPONSEFORMAT=fits\""));
    assert!(html.contains("src=\"cutouts/science.png?size=256\""));
    // Light curve: the source, one detection with a flux (the other has none), two forced.
    assert_eq!(html.matches("<g class=\"pt ").count(), 4);
    assert_eq!(html.matches("data-kind=\"current\"").count(), 1);
    assert_eq!(html.matches("data-kind=\"forced\"").count(), 2);
    assert!(html.contains("1 row without a time, flux or band cannot be plotted"));
    // Cached by version, revalidated by tag.
    let etag = page.header("etag").to_owned();
    assert!(etag.starts_with("\"alert-1-html-"), "{etag}");
    let again = get(&r, "/v1/alerts/1/view", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn browsers_get_the_page_and_api_clients_the_avro() {
    let r = router(false).await;
    for base in ["", "/alertdb"] {
        let uri = format!("{base}/v1/alerts/1");
        let page = get(&r, &uri, &[("accept", BROWSER)]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(page.header("vary"), "accept, accept-encoding");
        // Relative links resolve as from /view.
        assert!(page.text().contains("<base href=\"1/\">"));
        for accept in [
            None,
            Some("*/*"),
            Some("application/json, text/html"),
            Some("text/html;q=0"),
        ] {
            let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("accept", *a)).collect();
            let avro = get(&r, &uri, &headers).await;
            assert_eq!(avro.status, StatusCode::OK);
            assert_eq!(
                avro.header("content-type"),
                "application/octet-stream",
                "{accept:?}"
            );
            assert_eq!(&avro.body[..5], &[0, 0, 0, 3, 141], "{accept:?}");
        }
        // An explicit format wins over Accept.
        let json = get(&r, &format!("{uri}?format=json"), &[("accept", BROWSER)]).await;
        assert_eq!(json.header("content-type"), "application/json");
    }
}

#[tokio::test]
async fn cutout_pngs_follow_stretch_and_size() {
    let r = router(false).await;
    let png = get(&r, "/alertdb/v1/alerts/1/cutouts/science.png", &[]).await;
    assert_eq!(png.status, StatusCode::OK, "{}", png.text());
    assert_eq!(png.header("content-type"), "image/png");
    assert_eq!(
        png.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(png.body.clone()));
    let reader = decoder.read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (20, 20));
    let sized = get(
        &r,
        "/v1/alerts/1/cutouts/template.png?size=96&stretch=log",
        &[],
    )
    .await;
    assert_eq!(sized.status, StatusCode::OK);
    let reader = png::Decoder::new(std::io::Cursor::new(sized.body.clone()))
        .read_info()
        .unwrap();
    assert_eq!((reader.info().width, reader.info().height), (96, 96));
    let linear = get(&r, "/v1/alerts/1/cutouts/template.png?stretch=linear", &[]).await;
    assert_ne!(linear.header("etag"), png.header("etag"));
    let revalidated = get(
        &r,
        "/v1/alerts/1/cutouts/science.png",
        &[("if-none-match", png.header("etag"))],
    )
    .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    // The FITS route is unchanged.
    let fits = get(&r, "/v1/alerts/1/cutouts/science", &[]).await;
    assert_eq!(fits.header("content-type"), "application/fits");
}

#[tokio::test]
async fn bad_input_is_a_clear_400_or_404() {
    let r = router(false).await;
    for (uri, status, words) in [
        (
            "/v1/alerts/1/cutouts/science.png?stretch=cubic",
            400,
            "stretch \\\"cubic\\\" is not known",
        ),
        (
            "/v1/alerts/1/cutouts/science.png?size=0",
            400,
            "size \\\"0\\\" is not a whole number",
        ),
        (
            "/v1/alerts/1/cutouts/science.png?size=5000",
            400,
            "from 8 to 1024",
        ),
        (
            "/v1/alerts/1/cutouts/science.png?size=big",
            400,
            "is not a whole number",
        ),
        (
            "/v1/alerts/1/cutouts/science.png?zoom=2",
            400,
            "parameter \\\"zoom\\\" is not known",
        ),
        (
            "/v1/alerts/1/cutouts/sky.png",
            404,
            "unknown cutout \\\"sky\\\"",
        ),
        (
            "/v1/alerts/3/cutouts/science.png",
            404,
            "alert 3 has no science cutout",
        ),
        ("/v1/alerts/99/cutouts/science.png", 404, "alert not found"),
        (
            "/v1/alerts/x1/cutouts/science.png",
            400,
            "is not a decimal integer",
        ),
    ] {
        let answer = get(&r, uri, &[]).await;
        assert_eq!(answer.status.as_u16(), status, "{uri}: {}", answer.text());
        assert!(answer.text().contains(words), "{uri}: {}", answer.text());
    }
    // Pages answer errors as pages, with the API's statuses.
    for (uri, status, words) in [
        ("/v1/alerts/99/view", 404, "alert not found"),
        ("/v1/alerts/-1/view", 400, "is not a decimal integer"),
        ("/v1/alerts/<b>/view", 400, "&lt;b&gt;"),
        (
            "/v1/objects/abc/view",
            400,
            "diaObjectId &quot;abc&quot; is not a decimal integer",
        ),
        (
            "/v1/objects/99999999999999999999/view",
            400,
            "at most 19 digits",
        ),
    ] {
        let answer = get(&r, &uri.replace('<', "%3C").replace('>', "%3E"), &[]).await;
        assert_eq!(answer.status.as_u16(), status, "{uri}: {}", answer.text());
        assert_eq!(answer.header("content-type"), "text/html; charset=utf-8");
        assert!(answer.text().contains(words), "{uri}: {}", answer.text());
        assert!(!answer.text().contains("<b>"));
    }
}

#[tokio::test]
async fn object_pages_without_the_index_say_it_is_not_enabled() {
    // The index is on (the default) but the archive has no index table.
    let r = router(false).await;
    let page = get(&r, "/alertdb/v1/objects/77/view", &[]).await;
    assert_eq!(page.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(page
        .text()
        .contains("alert index, and this archive has none"));
    // --no-index: the server does not look.
    let mut config = ServerConfig::for_url("memory://");
    config.index = None;
    let router = alertdb_server::app(&config).unwrap().router;
    let page = get(&router, "/v1/objects/77/view", &[]).await;
    assert_eq!(page.status, StatusCode::NOT_IMPLEMENTED);
    assert!(page
        .text()
        .contains("not enabled on this server (started with --no-index)"));
}

#[tokio::test]
async fn object_pages_merge_the_alerts_of_the_index() {
    let r = router(true).await;
    let page = get(&r, "/v1/objects/77/view", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    assert!(!html.to_ascii_lowercase().contains("<script"));
    // Alert 404 is indexed but not archived: two alerts listed, three counted.
    assert_eq!(html.matches("<tr data-alert=").count(), 2);
    assert!(html.contains("3 archived alerts"));
    assert!(html.contains("href=\"../../alerts/3/view\""));
    // Sources 1 and 3 (the alerts'), detection 11 once (in both histories), source 12 has no
    // flux, four forced points.
    assert_eq!(html.matches("data-kind=\"current\"").count(), 2);
    assert_eq!(html.matches("data-kind=\"detection\"").count(), 1);
    assert_eq!(html.matches("data-kind=\"forced\"").count(), 4);
    // The newest alert (3) has no cutouts: the page says so.
    assert!(html.contains("this alert has no such cutout"));
    let none = get(&r, "/v1/objects/78/view", &[]).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert!(none.text().contains("no alert of diaObject 78"));
}
