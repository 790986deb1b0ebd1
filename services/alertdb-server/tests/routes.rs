//! The router in-process over an in-memory store: every route, status, header and body that
//! does not need a real backend (those are in `integration-tests/tests/alertdb_server_*.rs`).

use alert_archive::{alert_candidates, alert_key, gzip, schema_key, Layout};
use alert_packet::value::{self, Value};
use alert_packet::{wire, Schema};
use alertdb_server::{app, ServerConfig};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use object_storage::object_store::{ObjectStoreExt, PutPayload};
use tower::ServiceExt;

const SCHEMA: &str = r#"{"type":"record","name":"alert","namespace":"t","fields":[
    {"name":"diaSourceId","type":"long"},
    {"name":"cutoutDifference","type":["null","bytes"],"default":null},
    {"name":"cutoutScience","type":["null","bytes"],"default":null}]}"#;

fn message(alert_id: i64, cutout: Option<&[u8]>) -> Vec<u8> {
    let schema = Schema::parse_str(SCHEMA).unwrap();
    let value = Value::Record(vec![
        Value::Long(alert_id),
        cutout.map_or(Value::Null, |c| Value::Bytes(c.to_vec())),
        Value::Null,
    ]);
    wire::frame(1101, &value::encode(&schema, &value).unwrap())
}

struct Fixture {
    router: Router,
}

async fn fixture(prefix: Option<&str>) -> Fixture {
    let mut config = ServerConfig::for_url("memory://");
    config.path_prefix = prefix.map(str::to_owned);
    let app = app(&config).unwrap();
    let store = app.archive.alerts_store().clone();
    store
        .put(
            &schema_key(Layout::V2, 1101),
            PutPayload::from_static(SCHEMA.as_bytes()),
        )
        .await
        .unwrap();
    store
        .put(
            &alert_key(Layout::V2, 1),
            PutPayload::from(gzip(&message(1, Some(b"SIMPLE  =   T")), 6)),
        )
        .await
        .unwrap();
    store
        .put(
            &alert_candidates(2)[3].0,
            PutPayload::from(message(2, None)),
        )
        .await
        .unwrap();
    Fixture { router: app.router }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

impl Fixture {
    async fn send(&self, method: Method, uri: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: body.to_vec(),
        }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.send(Method::GET, uri, &[]).await
    }
}

#[tokio::test]
async fn upstream_routes_and_bodies() {
    let f = fixture(Some("/alertdb")).await;
    for base in ["", "/alertdb"] {
        let health = f.get(&format!("{base}/v1/health")).await;
        assert_eq!(
            (health.status, health.body.as_slice()),
            (StatusCode::OK, &b"OK"[..])
        );

        let alert = f.get(&format!("{base}/v1/alerts/1")).await;
        assert_eq!(alert.status, StatusCode::OK);
        assert_eq!(alert.body, message(1, Some(b"SIMPLE  =   T")));
        assert_eq!(
            alert.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(alert.header("content-encoding"), None);

        let schema = f.get(&format!("{base}/v1/schemas/1101")).await;
        assert_eq!(schema.status, StatusCode::OK);
        assert_eq!(schema.body, SCHEMA.as_bytes());
        assert_eq!(
            schema.header("content-type"),
            Some("application/vnd.schemaregistry.v1+json")
        );

        let missing = f.get(&format!("{base}/v1/alerts/3")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(
            missing.json(),
            serde_json::json!({"detail": "alert not found"})
        );
        let missing = f.get(&format!("{base}/v1/schemas/7")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(
            missing.json(),
            serde_json::json!({"detail": "schema not found"})
        );
        let unknown = f.get(&format!("{base}/v1/nothing")).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(unknown.json(), serde_json::json!({"detail": "Not Found"}));
    }
    // The prefix is served only when configured.
    let bare = fixture(None).await;
    assert_eq!(
        bare.get("/alertdb/v1/health").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(bare.get("/v1/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn gzip_is_passed_through_or_decompressed() {
    let f = fixture(None).await;
    let original = message(1, Some(b"SIMPLE  =   T"));
    let gz = f
        .send(
            Method::GET,
            "/v1/alerts/1",
            &[("accept-encoding", "gzip, br")],
        )
        .await;
    assert_eq!(gz.status, StatusCode::OK);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("accept, accept-encoding"));
    assert_eq!(alert_archive::gunzip(&gz.body, 1 << 20).unwrap(), original);
    let plain = f
        .send(
            Method::GET,
            "/v1/alerts/1",
            &[("accept-encoding", "identity")],
        )
        .await;
    assert_eq!(plain.body, original);
    assert_ne!(
        gz.header("etag"),
        plain.header("etag"),
        "one tag per representation"
    );
    // Schemas are compressed once, when cached, for gzip clients.
    let schema = f
        .send(
            Method::GET,
            "/v1/schemas/1101",
            &[("accept-encoding", "gzip")],
        )
        .await;
    assert_eq!(schema.header("content-encoding"), Some("gzip"));
    assert_eq!(schema.header("vary"), Some("accept-encoding"));
    assert_eq!(
        alert_archive::gunzip(&schema.body, 1 << 20).unwrap(),
        SCHEMA.as_bytes()
    );
    // A plain stored object goes out plain even to gzip clients.
    let v1 = f
        .send(Method::GET, "/v1/alerts/2", &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(v1.header("content-encoding"), None);
    assert_eq!(v1.body, message(2, None));
}

#[tokio::test]
async fn immutable_caching_and_conditional_requests() {
    let f = fixture(None).await;
    for uri in [
        "/v1/alerts/1",
        "/v1/schemas/1101",
        "/v1/alerts/1?format=json",
        "/v1/alerts/1/cutouts/difference",
    ] {
        let first = f.get(uri).await;
        assert_eq!(first.status, StatusCode::OK, "{uri}");
        assert_eq!(
            first.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{uri}"
        );
        let etag = first.header("etag").unwrap().to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "strong: {etag}"
        );
        let again = f.send(Method::GET, uri, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        let other = f
            .send(Method::GET, uri, &[("if-none-match", "\"something-else\"")])
            .await;
        assert_eq!(other.status, StatusCode::OK, "{uri}");

        let head = f.send(Method::HEAD, uri, &[]).await;
        assert_eq!(head.status, StatusCode::OK, "{uri}");
        assert!(head.body.is_empty());
        assert_eq!(
            head.header("content-length"),
            Some(first.body.len().to_string().as_str()),
            "{uri}"
        );
        assert_eq!(head.header("etag"), Some(etag.as_str()));
    }
    // A missing alert is not "not modified", whatever the tag.
    let missing = f
        .send(Method::GET, "/v1/alerts/3", &[("if-none-match", "*")])
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        f.send(Method::HEAD, "/v1/health", &[]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn json_and_cutouts() {
    let f = fixture(None).await;
    let json = f.get("/v1/alerts/1?format=json").await;
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(
        json.json(),
        serde_json::json!({
            "diaSourceId": 1,
            "cutoutDifference": "U0lNUExFICA9ICAgVA==",
            "cutoutScience": null
        })
    );
    let fits = f.get("/v1/alerts/1/cutouts/difference").await;
    assert_eq!(fits.status, StatusCode::OK);
    assert_eq!(fits.header("content-type"), Some("application/fits"));
    assert_eq!(fits.body, b"SIMPLE  =   T");
    for (uri, detail) in [
        (
            "/v1/alerts/1/cutouts/science",
            "alert 1 has no science cutout",
        ),
        // The schema has no template field at all.
        (
            "/v1/alerts/1/cutouts/template",
            "alert 1 has no template cutout",
        ),
        (
            "/v1/alerts/2/cutouts/difference",
            "alert 2 has no difference cutout",
        ),
        ("/v1/alerts/3/cutouts/difference", "alert not found"),
    ] {
        let answer = f.get(uri).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(answer.json()["detail"], detail, "{uri}");
    }
    let unknown = f.get("/v1/alerts/1/cutouts/thumbnail").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.json()["detail"]
        .as_str()
        .unwrap()
        .contains("difference"));
    assert_eq!(
        f.get("/v1/alerts/1?format=xml").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn bad_requests_get_4xx_with_a_detail() {
    let f = fixture(Some("/alertdb")).await;
    for uri in [
        "/v1/alerts/abc",
        "/v1/alerts/-1",
        "/v1/alerts/1.5",
        "/v1/alerts/123456789012345678901",
        "/v1/alerts/18446744073709551616",
        "/v1/alerts/%2e%2e",
        "/v1/alerts/..%2F..%2Fetc%2Fpasswd",
        "/v1/alerts/1%2F2",
        "/v1/alerts/%31%00",
        "/v1/alerts/%ff",
        "/v1/schemas/4294967296",
        "/v1/schemas/..",
        "/alertdb/v1/schemas/%2e%2e%2fv2",
        "/v1/alerts/x/cutouts/difference",
    ] {
        let answer = f.get(uri).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(answer.json()["detail"].is_string(), "{uri}");
    }
    for uri in [
        "/v1/alerts/../schemas/1101",
        "/v1/alerts/1/2",
        "/v1/alerts/",
        "/alertdb",
        "/alertdbx/v1/health",
        "/v2/alerts/1",
    ] {
        let answer = f.get(uri).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(
            answer.json(),
            serde_json::json!({"detail": "Not Found"}),
            "{uri}"
        );
    }
    for method in [
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ] {
        for uri in ["/v1/alerts/1", "/alertdb/v1/schemas/1", "/v1/health"] {
            let answer = f.send(method.clone(), uri, &[]).await;
            assert_eq!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}"
            );
            let allow = answer.header("allow").unwrap_or_default();
            assert!(allow.contains("GET") && allow.contains("HEAD"), "{allow}");
            assert_eq!(answer.json()["detail"], "Method Not Allowed");
        }
    }
}

#[tokio::test]
async fn openapi_docs_and_ops_routes() {
    let f = fixture(Some("/alertdb")).await;
    let doc = f.get("/alertdb/v1/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    let paths = doc.json()["paths"].as_object().unwrap().clone();
    for path in [
        "/v1/health",
        "/v1/alerts/{alert_id}",
        "/v1/alerts/{alert_id}/cutouts/{kind}",
        "/v1/schemas/{schema_id}",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    let docs = f.get("/v1/docs").await;
    assert!(docs
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(String::from_utf8_lossy(&docs.body).contains("/alertdb/v1/schemas/{schema_id}"));

    f.get("/v1/schemas/1101").await;
    f.get("/v1/schemas/1101").await;
    f.get("/alertdb/v1/alerts/3").await;
    let metrics = String::from_utf8(f.get("/metrics").await.body).unwrap();
    for needle in [
        "alertdb_http_requests_total{route=\"/v1/schemas/{schema_id}\",status=\"200\"} 2",
        "alertdb_http_requests_total{route=\"/v1/alerts/{alert_id}\",status=\"404\"} 1",
        "alertdb_cache_requests_total{cache=\"schema\",result=\"hit\"} 1",
        "alertdb_http_request_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(needle), "{needle}\n{metrics}");
    }
    assert_eq!(f.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_failing_store_is_a_503_with_a_detail() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("archive");
    let config = ServerConfig::for_url(&format!("file://{}", root.display()));
    let app = app(&config).unwrap();
    // A symlink loop where the object should be: the store cannot read it (permissions would
    // not do, tests may run as root).
    std::fs::create_dir_all(root.join("v2/schemas")).unwrap();
    std::os::unix::fs::symlink(
        root.join("v2/schemas/5.json"),
        root.join("v2/schemas/5.json"),
    )
    .unwrap();
    let f = Fixture { router: app.router };
    let answer = f.get("/v1/schemas/5").await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        answer.json()
    );
    assert!(answer.json()["detail"]
        .as_str()
        .unwrap()
        .contains("unavailable"));
    let metrics = String::from_utf8(f.get("/metrics").await.body).unwrap();
    assert!(
        metrics.contains("alertdb_store_errors_total{store=\"schemas\"} 1"),
        "{metrics}"
    );
}
