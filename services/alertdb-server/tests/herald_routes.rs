//! The Herald-compatible routes in-process over an in-memory store: statuses, headers and
//! bodies, bad input of every kind. Readers' views of the files (fastavro, astropy, pyvo) are in
//! `integration-tests/tests/herald_api.rs`.

use alert_archive::{alert_candidates, alert_key, gzip, schema_key, Layout};
use alert_packet::container::ContainerReader;
use alert_packet::value::{self, Value};
use alert_packet::{wire, Schema};
use alertdb_server::{app, ServerConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use object_storage::object_store::{ObjectStoreExt, PutPayload};
use tower::ServiceExt;

const SCHEMA: &str = r#"{"type":"record","name":"alert","namespace":"lsst.v9_9","fields":[
    {"name":"diaSourceId","type":"long"},
    {"name":"diaSource","type":{"type":"record","name":"diaSource","fields":[
        {"name":"diaSourceId","type":"long"},{"name":"ra","type":"double"},
        {"name":"psfFlux","type":["null","float"]}]}},
    {"name":"prvDiaSources","type":["null",{"type":"array","items":"diaSource"}]},
    {"name":"cutoutDifference","type":["null","bytes"],"default":null}]}"#;

/// A one-block FITS image: 2×2 floats.
fn stamp() -> Vec<u8> {
    let mut out = Vec::new();
    for card in [
        "SIMPLE  =                    T",
        "BITPIX  =                  -32",
        "NAXIS   =                    2",
        "NAXIS1  =                    2",
        "NAXIS2  =                    2",
        "END",
    ] {
        out.extend_from_slice(format!("{card:<80}").as_bytes());
    }
    out.resize(2880, b' ');
    for v in [1.0f32, 2.0, 3.0, f32::NAN] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.resize(5760, 0);
    out
}

fn body(alert_id: i64, cutout: Option<Vec<u8>>) -> Vec<u8> {
    let schema = Schema::parse_str(SCHEMA).unwrap();
    let source = |id: i64, flux: Option<f32>| {
        Value::Record(vec![
            Value::Long(id),
            Value::Double(10.25),
            flux.map_or(Value::Null, Value::Float),
        ])
    };
    let value = Value::Record(vec![
        Value::Long(alert_id),
        source(alert_id, Some(f32::NAN)),
        Value::Array(vec![source(5, Some(2.5))]),
        cutout.map_or(Value::Null, Value::Bytes),
    ]);
    value::encode(&schema, &value).unwrap()
}

async fn serve(config: ServerConfig) -> Router {
    let app = app(&config).unwrap();
    let store = app.archive.alerts_store().clone();
    let put = |key, bytes: Vec<u8>| {
        let store = store.clone();
        async move { store.put(&key, PutPayload::from(bytes)).await.unwrap() }
    };
    put(schema_key(Layout::V2, 909), SCHEMA.as_bytes().to_vec()).await;
    put(
        alert_key(Layout::V2, 1),
        gzip(&wire::frame(909, &body(1, Some(stamp()))), 6),
    )
    .await;
    // An older layout: v1, plain.
    put(
        alert_candidates(2)[3].0.clone(),
        wire::frame(909, &body(2, None)),
    )
    .await;
    // A cutout that is not FITS; a body that does not decode; a schema that is not there.
    put(
        alert_key(Layout::V2, 3),
        gzip(
            &wire::frame(909, &body(3, Some(b"SIMPLE  =   T".to_vec()))),
            6,
        ),
    )
    .await;
    put(
        alert_key(Layout::V2, 4),
        gzip(&wire::frame(909, &[0x02]), 6),
    )
    .await;
    put(
        alert_key(Layout::V2, 5),
        gzip(&wire::frame(77, &body(5, None)), 6),
    )
    .await;
    app.router
}

fn config() -> ServerConfig {
    let mut config = ServerConfig::for_url("memory://");
    config.path_prefix = Some("/alertdb".into());
    config
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

#[tokio::test]
async fn the_avro_file_holds_the_stored_body_and_schema() {
    let router = serve(config()).await;
    for (uri, id) in [
        ("/api/alerts?ID=1", 1),
        ("/alertdb/api/alerts?id=LSST-AP-DS-1", 1),
        ("/api/alerts?ID=2", 2),
    ] {
        let answer = get(&router, uri, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
        assert_eq!(answer.header("content-type"), "application/x-avro-ocf");
        assert_eq!(
            answer.header("content-disposition"),
            format!("attachment; filename=\"alert-{id}.avro\"")
        );
        let mut reader = ContainerReader::new(&answer.body[..]).unwrap();
        assert_eq!(reader.schema_json(), SCHEMA);
        let cutout = (id == 1).then(stamp);
        assert_eq!(
            reader.next_datum().unwrap().unwrap(),
            &body(id as i64, cutout)[..]
        );
        assert!(reader.next_datum().is_none());
        // Immutable: a validator, and 304 for a client that has it.
        let etag = answer.header("etag").to_owned();
        assert!(!etag.is_empty());
        let again = get(&router, uri, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    }
}

#[tokio::test]
async fn json_fits_cutouts_schema_and_index() {
    let router = serve(config()).await;
    let json = get(&router, "/api/alerts?ID=1&RESPONSEFORMAT=json", &[]).await;
    assert_eq!(json.status, StatusCode::OK);
    assert_eq!(json.header("content-type"), "application/json");
    let value: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(value["diaSourceId"], 1);
    assert_eq!(
        value["diaSource"]["psfFlux"],
        serde_json::Value::Null,
        "NaN"
    );
    assert_eq!(value["prvDiaSources"][0]["psfFlux"], 2.5);
    assert!(value["cutoutDifference"]
        .as_str()
        .unwrap()
        .starts_with("U0lNUExF"));

    let fits = get(
        &router,
        "/api/alerts?ID=1&RESPONSEFORMAT=application/fits",
        &[],
    )
    .await;
    assert_eq!(fits.status, StatusCode::OK);
    assert_eq!(fits.header("content-type"), "application/fits");
    assert_eq!(
        fits.header("content-disposition"),
        "attachment; filename=\"alert-1.fits\""
    );
    assert_eq!(
        alertdb_server::herald::fits::describe(&fits.body),
        "PRIMARY, ALERT(1 rows), DIFFIM, DIASOURCE(2 rows)"
    );
    let cutouts = get(&router, "/api/alerts/cutouts?ID=1", &[]).await;
    assert_eq!(
        cutouts.header("content-disposition"),
        "attachment; filename=\"cutouts-1.fits\""
    );
    assert_eq!(
        alertdb_server::herald::fits::describe(&cutouts.body),
        "PRIMARY, DIFFIM"
    );
    // The pixels are the cutout's bytes.
    assert_eq!(&cutouts.body[5760..5776], &stamp()[2880..2896]);
    let none = get(&router, "/api/alerts/cutouts?ID=2", &[]).await;
    assert_eq!(
        alertdb_server::herald::fits::describe(&none.body),
        "PRIMARY"
    );

    let schema = get(&router, "/api/alerts/schema?ID=2", &[]).await;
    assert_eq!(schema.status, StatusCode::OK);
    assert_eq!(schema.header("content-type"), "application/json");
    let compact: String = SCHEMA.split_whitespace().collect();
    assert_eq!(schema.text(), compact);
    // As Herald: the schema the header names, from a gzip object, even when the body is
    // corrupt (only the header is read).
    let schema = get(&router, "/api/alerts/schema?ID=4", &[]).await;
    assert_eq!(schema.status, StatusCode::OK);
    assert_eq!(schema.text(), compact);

    let index = get(&router, "/alertdb/api/alerts/", &[]).await;
    let index: serde_json::Value = serde_json::from_slice(&index.body).unwrap();
    assert_eq!(index["metadata"]["name"], "alertdb-server");
}

#[tokio::test]
async fn links_use_the_forwarded_headers_or_the_public_url() {
    let router = serve(config()).await;
    let links = get(
        &router,
        "/api/alerts/links?ID=LSST-AP-DS-1",
        &[("host", "10.0.0.2:5000"), ("x-forwarded-proto", "https")],
    )
    .await;
    assert_eq!(links.status, StatusCode::OK);
    assert_eq!(links.header("content-type"), "application/x-votable+xml");
    let text = links.text();
    assert!(
        text.contains("<TD>https://10.0.0.2:5000/api/alerts?ID=1</TD>"),
        "{text}"
    );
    assert!(text.contains("<TD>https://10.0.0.2:5000/api/alerts/cutouts?ID=1</TD>"));
    // Links are made for any well-formed id, as Herald makes them, without a lookup.
    let any = get(&router, "/alertdb/api/alerts/links?ID=-7", &[("host", "h")]).await;
    assert!(any
        .text()
        .contains("<TD>http://h/alertdb/api/alerts/schema?ID=-7</TD>"));

    let mut config = config();
    config.public_url = Some("https://alerts.example.org/archive".into());
    let router = serve(config).await;
    let links = get(
        &router,
        "/alertdb/api/alerts/links?ID=1",
        &[("x-forwarded-host", "ignored.example")],
    )
    .await;
    assert!(links
        .text()
        .contains("<TD>https://alerts.example.org/archive/alertdb/api/alerts?ID=1&amp;RESPONSEFORMAT=fits</TD>"));
}

#[tokio::test]
async fn bad_input_gets_herald_s_statuses_and_words() {
    let router = serve(config()).await;
    let huge = "9".repeat(30);
    let too_long = "1".repeat(4301);
    let cases: Vec<(String, u16, String)> = vec![
        ("/api/alerts?ID=1&foo=bar".into(), 400, "Invalid parameter 'foo' in query string '?ID=1&foo=bar'".into()),
        ("/api/alerts/schema?ID=1&RESPONSEFORMAT=json".into(), 400, "Invalid parameter 'RESPONSEFORMAT'".into()),
        ("/api/alerts?ID=abc".into(), 400, "Invalid alert ID format in 'abc'".into()),
        ("/api/alerts?ID=".into(), 400, "Invalid alert ID format in ''".into()),
        ("/api/alerts?ID=LSST-ZZ-1".into(), 400, "Non-LSST alert ID 'LSST-ZZ-1'".into()),
        ("/api/alerts?ID=%C3%A9".into(), 400, "Invalid alert ID format in 'é'".into()),
        (format!("/api/alerts?ID={too_long}"), 400, "Invalid alert ID format".into()),
        ("/api/alerts?ID=1&RESPONSEFORMAT=votable".into(), 415, "Invalid response format 'votable'; accepted formats are application/fits, application/json, fits, json".into()),
        ("/api/alerts?ID=1&RESPONSEFORMAT=JSON".into(), 415, "Invalid response format 'JSON'".into()),
        ("/api/alerts?ID=999".into(), 404, "No data found for alert ID '999'".into()),
        (format!("/api/alerts?ID={huge}"), 404, format!("No data found for alert ID '{huge}'")),
        ("/api/alerts?ID=-0042".into(), 404, "No data found for alert ID '-42'".into()),
        ("/api/alerts/cutouts?ID=999".into(), 404, "No data found for alert ID '999'".into()),
        ("/api/alerts?ID=5".into(), 404, "Schema 77 not found".into()),
        ("/api/alerts/schema?ID=5".into(), 404, "Schema 77 not found".into()),
        ("/api/alerts?ID=3&RESPONSEFORMAT=fits".into(), 500, "Alert 3: its cutoutDifference is not a FITS image".into()),
        ("/api/alerts?ID=4".into(), 500, "Alert 4: does not decode with its schema".into()),
        ("/api/alerts?ID=4&RESPONSEFORMAT=json".into(), 500, "Alert 4:".into()),
    ];
    for (uri, status, words) in cases {
        let answer = get(&router, &uri, &[]).await;
        assert_eq!(answer.status.as_u16(), status, "{uri}: {}", answer.text());
        assert_eq!(
            answer.header("content-type"),
            "text/plain; charset=utf-8",
            "{uri}"
        );
        assert!(answer.text().contains(&words), "{uri}: {}", answer.text());
    }
    // Accepted as Herald (Python's int()) accepts them: other scripts' digits, whitespace, `_`.
    for uri in [
        "/api/alerts?ID=%EF%BC%91",                                 // fullwidth 1
        "/api/alerts?ID=%D9%A1",                                    // Arabic-Indic 1
        "/api/alerts?ID=+0_1+",                                     // "+0_1 " after form decoding
        "/api/alerts?ID=7&id=1",                                    // the last repeat wins
        "/api/alerts?Id=2&ResponseFormat=fits&RESPONSEFORMAT=json", // and for the format too
    ] {
        let answer = get(&router, uri, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
    }
    let json = get(
        &router,
        "/api/alerts?Id=2&ResponseFormat=fits&RESPONSEFORMAT=json",
        &[],
    )
    .await;
    assert_eq!(json.header("content-type"), "application/json");
    // No ID at all: FastAPI's 422, in its JSON.
    let missing = get(&router, "/api/alerts?foo=1", &[]).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let detail: serde_json::Value = serde_json::from_slice(&missing.body).unwrap();
    assert_eq!(
        detail["detail"][0]["loc"],
        serde_json::json!(["query", "ID"])
    );
}

#[tokio::test]
async fn the_api_moves_with_its_prefix_or_is_off() {
    let mut moved = config();
    moved.api_prefix = Some("/herald".into());
    let router = serve(moved).await;
    assert_eq!(
        get(&router, "/herald?ID=1", &[]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&router, "/alertdb/herald/schema?ID=1", &[])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get(&router, "/api/alerts?ID=1", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let mut off = config();
    off.api_prefix = None;
    let router = serve(off).await;
    let answer = get(&router, "/api/alerts?ID=1", &[]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.header("content-type"), "application/json");
}
