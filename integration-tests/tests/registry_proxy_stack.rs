//! registry-proxy against the real registry of the local stack (issue 7): reads pass through
//! exactly, writes never arrive, schemas by id survive an upstream outage, and Confluent's
//! own Python client works through it.
//!
//! Outage tests never stop the shared registry: they put a private TCP forwarder (or a
//! private server) between the proxy and the upstream and close that instead.

use integration_tests::daemon::InProcessDaemon;
use integration_tests::faults::Forwarder;
use integration_tests::{unique_name, Stack};
use registry_proxy::settings::{DurationSetting, Settings};
use reqwest::header::{HeaderMap, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG};
use reqwest::StatusCode;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const CONFLUENT_JSON: &str = "application/vnd.schemaregistry.v1+json";
const PREFIX: &str = "/schema-registry";

/// The proxy in-process, its API under its `path_prefix`.
type Proxy = InProcessDaemon<registry_proxy::RunError>;

/// A proxy of `upstream`, with its API under `prefix` if any.
async fn start_proxy(upstream: &str, prefix: Option<&str>) -> Proxy {
    start_proxy_with(Settings {
        upstream_url: Some(upstream.to_owned()),
        path_prefix: prefix.unwrap_or_default().to_owned(),
        readiness_interval: DurationSetting(Duration::from_millis(200)),
        upstream_timeout: DurationSetting(Duration::from_secs(5)),
        ..Settings::default()
    })
    .await
}

async fn start_proxy_with(settings: Settings) -> Proxy {
    let prefix = settings.path_prefix.clone();
    let config = settings.validate().expect("valid test settings");
    InProcessDaemon::start("registry-proxy", |listener, shutdown| {
        registry_proxy::run(config, listener, shutdown)
    })
    .await
    .with_base_path(&prefix)
}

/// Graceful shutdown: `run` returns promptly, and cleanly, once cancelled.
async fn stop(proxy: Proxy) {
    proxy
        .stop_within(Duration::from_secs(10))
        .await
        .expect("the proxy stops cleanly");
}

async fn metrics(proxy: &Proxy) -> String {
    let (status, text) = proxy.get("/metrics").await;
    assert_eq!(status, 200, "{text}");
    text
}

/// Sum of a metric's samples whose line contains every one of `labels`.
fn metric_sum(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Registers a small record schema under `subject` directly at the upstream; returns its id.
async fn register(registry: &str, subject: &str, field: &str) -> u32 {
    let schema = serde_json::json!({
        "type": "record", "name": "ProxyTest", "namespace": "test.proxy",
        "fields": [{ "name": field, "type": "long" }]
    });
    let response = reqwest::Client::new()
        .post(format!("{registry}/subjects/{subject}/versions"))
        .header(CONTENT_TYPE, CONFLUENT_JSON)
        .body(serde_json::json!({ "schema": schema.to_string() }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "registering {subject}");
    let body: serde_json::Value = response.json().await.unwrap();
    body["id"].as_u64().unwrap() as u32
}

#[derive(Debug, PartialEq)]
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: String,
}

async fn get(url: &str, accept: Option<&str>) -> (Answer, HeaderMap) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let response = request.send().await.unwrap();
    let headers = response.headers().clone();
    let answer = Answer {
        status: response.status(),
        content_type: headers
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned()),
        body: response.text().await.unwrap(),
    };
    (answer, headers)
}

/// A raw HTTP/1.1 exchange, for request shapes reqwest will not produce (absolute-form
/// targets, lower-case methods, hand-written paths). Returns status, head and body.
async fn raw(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes))
        .await
        .expect("the proxy answers and closes")
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, head.to_owned(), body.to_owned())
}

#[tokio::test]
async fn reads_return_exactly_what_the_upstream_returns() {
    let stack = Stack::get();
    let registry = &stack.registry_url;
    let subject = unique_name("proxy-read");
    let id = register(registry, &subject, "a").await;
    register(registry, &subject, "b").await;
    let missing = unique_name("proxy-missing");

    for prefix in [None, Some(PREFIX)] {
        let proxy = start_proxy(registry, prefix).await;
        let paths = [
            format!("/schemas/ids/{id}"),
            format!("/schemas/ids/{id}/schema"),
            "/schemas/ids/2147483000".to_owned(),
            "/subjects".to_owned(),
            format!("/subjects/{subject}/versions"),
            format!("/subjects/{subject}/versions/latest"),
            format!("/subjects/{subject}/versions/1"),
            format!("/subjects/{missing}/versions"),
            "/config".to_owned(),
        ];
        for path in &paths {
            for accept in [None, Some(CONFLUENT_JSON), Some("application/json")] {
                // `/subjects` is shared with other tests that register concurrently: compare
                // again when it moved between the two reads.
                let mut attempts = 0;
                loop {
                    let (direct, _) = get(&format!("{registry}{path}"), accept).await;
                    let (proxied, headers) = get(&proxy.api_url(path), accept).await;
                    attempts += 1;
                    if direct != proxied && path == "/subjects" && attempts < 5 {
                        continue;
                    }
                    assert_eq!(
                        proxied, direct,
                        "{path} with Accept {accept:?}, prefix {prefix:?}"
                    );
                    let immutable =
                        path.starts_with("/schemas/ids/") && direct.status == StatusCode::OK;
                    if immutable {
                        assert_eq!(
                            headers[CACHE_CONTROL],
                            "public, max-age=31536000, immutable"
                        );
                        assert!(headers.contains_key(ETAG), "{path}: no ETag");
                        assert_eq!(headers["vary"], "Accept");
                    } else {
                        assert!(!headers.contains_key(CACHE_CONTROL), "{path}: {headers:?}");
                    }
                    break;
                }
            }
        }

        // A second read of a schema comes from the cache, identical to the first.
        let path = format!("/schemas/ids/{id}");
        let (first, first_headers) = get(&proxy.api_url(&path), Some(CONFLUENT_JSON)).await;
        let (second, second_headers) = get(&proxy.api_url(&path), Some(CONFLUENT_JSON)).await;
        assert_eq!(first, second);
        assert_eq!(first.content_type.as_deref(), Some(CONFLUENT_JSON));
        assert_eq!(first_headers[ETAG], second_headers[ETAG]);
        let metrics = metrics(&proxy).await;
        assert!(
            metric_sum(
                &metrics,
                "registry_proxy_cache_lookups_total",
                &["result=\"hit\""]
            ) >= 1.0,
            "{metrics}"
        );
        assert!(
            metric_sum(
                &metrics,
                "registry_proxy_requests_total",
                &["route=\"subjects\"", "status=\"200\""]
            ) >= 1.0
        );

        // Conditional GET with the ETag: 304, no body.
        let response = reqwest::Client::new()
            .get(proxy.api_url(&path))
            .header(ACCEPT, CONFLUENT_JSON)
            .header("If-None-Match", first_headers[ETAG].clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.text().await.unwrap(), "");

        // HEAD: same status and content type, no body.
        let response = reqwest::Client::new()
            .head(proxy.api_url(&format!("/subjects/{subject}/versions")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.text().await.unwrap(), "");

        // Ops routes sit at the root, outside the prefix.
        for ops in ["/healthz", "/metrics"] {
            let response = reqwest::get(proxy.url(ops)).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{ops}");
        }
        wait_ready(&proxy, true).await;

        if prefix.is_some() {
            // Without the prefix: the proxy's own Confluent-shaped 404, not the registry.
            let (answer, _) = get(&proxy.url("/subjects"), None).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND);
            let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
            assert_eq!(body["error_code"], 404);
            assert!(body["message"].as_str().unwrap().contains(PREFIX));
            let (answer, _) = get(&proxy.url("/schema-registryx/subjects"), None).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND);
        }
        stop(proxy).await;
    }
}

async fn wait_ready(proxy: &Proxy, expected: bool) {
    let wanted = if expected {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    for _ in 0..100 {
        let response = reqwest::get(proxy.url("/readyz")).await.unwrap();
        if response.status() == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz never answered {wanted}");
}

/// What the upstream holds for `subject`, read directly: versions, config, mode, schema.
async fn upstream_state(registry: &str, subject: &str, ghost: &str) -> Vec<Answer> {
    let mut state = Vec::new();
    for path in [
        format!("/subjects/{subject}/versions"),
        format!("/subjects/{subject}/versions/latest"),
        format!("/subjects/{ghost}/versions"),
        format!("/config/{subject}"),
        "/config".to_owned(),
        format!("/mode/{subject}"),
        "/mode".to_owned(),
    ] {
        state.push(get(&format!("{registry}{path}"), None).await.0);
    }
    state
}

#[tokio::test]
async fn writes_are_refused_and_never_reach_the_upstream() {
    let stack = Stack::get();
    let registry = &stack.registry_url;
    let subject = unique_name("proxy-write");
    register(registry, &subject, "a").await;
    let ghost = unique_name("proxy-ghost");
    let before = upstream_state(registry, &subject, &ghost).await;
    let new_schema = serde_json::json!({
        "schema": r#"{"type":"record","name":"Evil","fields":[{"name":"x","type":"string"}]}"#
    })
    .to_string();

    // Every write route of BRIEF §2, with a body that would succeed if it arrived.
    let write_routes: Vec<(String, String)> = vec![
        (format!("/subjects/{subject}/versions"), new_schema.clone()),
        (format!("/subjects/{ghost}/versions"), new_schema.clone()),
        (format!("/subjects/{subject}"), new_schema.clone()),
        (
            format!("/mode/{subject}"),
            r#"{"mode":"IMPORT"}"#.to_owned(),
        ),
        ("/mode".to_owned(), r#"{"mode":"READONLY"}"#.to_owned()),
        (
            "/config".to_owned(),
            r#"{"compatibility":"FULL"}"#.to_owned(),
        ),
        (
            format!("/config/{subject}"),
            r#"{"compatibility":"FULL"}"#.to_owned(),
        ),
        (format!("/subjects/{subject}/versions/1"), String::new()),
        (
            format!("/subjects/{subject}/versions/latest"),
            String::new(),
        ),
        (
            format!("/compatibility/subjects/{subject}/versions/latest"),
            new_schema.clone(),
        ),
    ];
    let methods = [
        "POST", "PUT", "DELETE", "PATCH", "post", "put", "delete", "patch", "Post", "OPTIONS",
        "TRACE", "PROPFIND", "FOO",
    ];
    let overrides = [
        "",
        "X-HTTP-Method-Override: GET\r\n",
        "X-HTTP-Method: GET\r\nX-Method-Override: GET\r\n",
    ];

    for prefix in [None, Some(PREFIX)] {
        let proxy = start_proxy(registry, prefix).await;
        let host = proxy.address().to_string();
        let base = prefix.unwrap_or_default();
        let mut sent = 0;
        for (path, body) in &write_routes {
            // The same route in the shapes a client might use to slip past a filter.
            let encoded = path.replacen("/subjects/", "/%73ubjects/", 1);
            let targets = [
                format!("{base}{path}"),
                format!("http://{host}{base}{path}"),
                format!("http://registry.internal{base}{path}"),
                format!("{base}{encoded}"),
                format!("{base}/x/..{path}"),
                format!("{base}{path}?permanent=true"),
            ];
            for method in methods {
                for target in &targets {
                    for header in overrides {
                        let request = format!(
                            "{method} {target} HTTP/1.1\r\nHost: {host}\r\n{header}\
                             Content-Type: {CONFLUENT_JSON}\r\nContent-Length: {}\r\n\
                             Connection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let (status, head, response_body) = raw(proxy.address(), &request).await;
                        assert_eq!(status, 405, "{method} {target} {header:?}: {head}");
                        let head = head.to_ascii_lowercase();
                        assert!(head.contains("allow: get, head"), "{head}");
                        assert!(head.contains(CONFLUENT_JSON), "{head}");
                        let json: serde_json::Value = serde_json::from_str(&response_body)
                            .unwrap_or_else(|_| panic!("not JSON: {response_body:?}"));
                        assert_eq!(json["error_code"], 405);
                        sent += 1;
                    }
                }
            }
        }
        let metrics = metrics(&proxy).await;
        assert_eq!(
            metric_sum(&metrics, "registry_proxy_denied_writes_total", &[]),
            f64::from(sent),
            "{metrics}"
        );
        assert_eq!(
            metric_sum(
                &metrics,
                "registry_proxy_upstream_request_duration_seconds_count",
                &[]
            ),
            0.0,
            "no refused request went upstream: {metrics}"
        );

        // A GET that asks to be treated as a DELETE stays a GET (the header is dropped).
        let request = format!(
            "GET {base}/subjects/{subject}/versions HTTP/1.1\r\nHost: {host}\r\n\
             X-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: DELETE\r\n\
             Connection: close\r\n\r\n"
        );
        let (status, head, body) = raw(proxy.address(), &request).await;
        assert_eq!((status, body.as_str()), (200, "[1]"), "{head}");

        // An absolute-form GET goes to our upstream, never to the host it names, with the
        // normalised path.
        let request = format!(
            "GET http://registry.evil.example{base}/x/../subjects//{subject}/./versions HTTP/1.1\r\n\
             Host: registry.evil.example\r\nConnection: close\r\n\r\n"
        );
        let (status, head, body) = raw(proxy.address(), &request).await;
        assert_eq!((status, body.as_str()), (200, "[1]"), "{head}");

        // A GET with a body, and encoded traversal, are refused before the upstream.
        let request = format!(
            "GET {base}/subjects HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n\
             Connection: close\r\n\r\n{{}}"
        );
        assert_eq!(raw(proxy.address(), &request).await.0, 400);
        let request = format!(
            "GET {base}/subjects HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
        );
        assert_eq!(raw(proxy.address(), &request).await.0, 400);
        for target in [
            format!("{base}/subjects/%2e%2e/config"),
            format!("{base}/subjects/{subject}%2f..%2f..%2fconfig"),
            format!("{base}/subjects/%2E%2E%2Fmode"),
        ] {
            let request =
                format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            let (status, head, body) = raw(proxy.address(), &request).await;
            assert_eq!(status, 400, "{target}: {head}");
            assert!(body.contains("\"error_code\":400"), "{body}");
        }
        stop(proxy).await;
    }

    let after = upstream_state(registry, &subject, &ghost).await;
    assert_eq!(after, before, "the upstream changed");
    assert_eq!(
        after[2].status,
        StatusCode::NOT_FOUND,
        "no subject was created"
    );
}

fn registry_socket(registry: &str) -> (SocketAddr, String) {
    let url = url_parts(registry);
    (url.0.parse().unwrap(), url.1)
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn url_parts(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix("http://")
        .expect("the stack registry is http");
    match rest.split_once('/') {
        Some((authority, path)) => (authority.to_owned(), format!("/{path}")),
        None => (rest.to_owned(), String::new()),
    }
}

#[tokio::test]
async fn schemas_are_served_from_cache_while_the_upstream_is_down() {
    let stack = Stack::get();
    let registry = &stack.registry_url;
    let subject = unique_name("proxy-cache");
    let id = register(registry, &subject, "a").await;
    let (socket, base_path) = registry_socket(registry);
    let forwarder = Forwarder::start(socket.to_string()).await;
    let forwarder_addr = forwarder.address().to_string();
    let upstream = format!("http://{forwarder_addr}{base_path}");
    let proxy = start_proxy(&upstream, Some(PREFIX)).await;
    wait_ready(&proxy, true).await;
    // A second proxy with the short TTL cache of other GETs turned on.
    let ttl_proxy = start_proxy_with(Settings {
        upstream_url: Some(upstream.clone()),
        passthrough_cache_ttl: DurationSetting(Duration::from_secs(300)),
        ..Settings::default()
    })
    .await;
    let versions_path = format!("/subjects/{subject}/versions");
    let (versions, _) = get(&ttl_proxy.api_url(&versions_path), None).await;
    assert_eq!(
        (versions.status, versions.body.as_str()),
        (StatusCode::OK, "[1]")
    );

    let path = format!("/schemas/ids/{id}");
    let (direct, _) = get(&format!("{registry}{path}"), Some(CONFLUENT_JSON)).await;
    let (first, first_headers) = get(&proxy.api_url(&path), Some(CONFLUENT_JSON)).await;
    assert_eq!(first, direct);
    // An unknown id while the upstream is up: the registry's own 404, not stored.
    let unknown = "/schemas/ids/2147483001";
    let (not_found, _) = get(&proxy.api_url(unknown), None).await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    assert!(not_found.body.contains("40403"), "{}", not_found.body);

    // The port closes: connecting to the upstream is refused.
    forwarder.stop().await;
    wait_ready(&proxy, false).await;

    let (cached, cached_headers) = get(&proxy.api_url(&path), Some(CONFLUENT_JSON)).await;
    assert_eq!(cached, direct, "schema {id} served from the cache");
    assert_eq!(cached_headers[ETAG], first_headers[ETAG]);
    assert_eq!(
        cached_headers[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );

    let (down, _) = get(&proxy.api_url(unknown), None).await;
    assert_eq!(down.status, StatusCode::BAD_GATEWAY, "{}", down.body);
    let body: serde_json::Value = serde_json::from_str(&down.body).unwrap();
    assert_eq!(body["error_code"], 502);
    assert_eq!(down.content_type.as_deref(), Some(CONFLUENT_JSON));
    assert!(
        !down.body.contains(&forwarder_addr),
        "the internal URL is not shown: {}",
        down.body
    );
    // Other reads are not cached (TTL cache off by default): 502 too.
    let (subjects, _) = get(&proxy.api_url("/subjects"), None).await;
    assert_eq!(subjects.status, StatusCode::BAD_GATEWAY);
    // ... unless the TTL cache is on and holds them.
    let (cached_versions, _) = get(&ttl_proxy.api_url(&versions_path), None).await;
    assert_eq!(cached_versions, versions, "served from the TTL cache");
    let (subjects, _) = get(&ttl_proxy.api_url("/subjects"), None).await;
    assert_eq!(
        subjects.status,
        StatusCode::BAD_GATEWAY,
        "never read, so not cached"
    );
    stop(ttl_proxy).await;

    let metrics = metrics(&proxy).await;
    assert!(
        metric_sum(
            &metrics,
            "registry_proxy_upstream_request_duration_seconds_count",
            &["outcome=\"unreachable\""]
        ) >= 1.0,
        "{metrics}"
    );
    stop(proxy).await;
}

#[tokio::test]
async fn a_slow_upstream_gives_504_and_a_dead_one_502() {
    // Accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let proxy = start_proxy_with(Settings {
        upstream_url: Some(format!("http://{silent_addr}/apis/ccompat/v7")),
        upstream_timeout: DurationSetting(Duration::from_millis(300)),
        readiness_interval: DurationSetting(Duration::from_millis(200)),
        ..Settings::default()
    })
    .await;
    for path in ["/schemas/ids/1", "/subjects"] {
        let started = std::time::Instant::now();
        let (answer, _) = get(&proxy.api_url(path), None).await;
        assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT, "{path}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["error_code"], 504);
    }
    wait_ready(&proxy, false).await;
    stop(proxy).await;
    holder.abort();

    // Nothing listens on this port any more.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let proxy = start_proxy(&format!("http://{closed_addr}"), None).await;
    let (answer, _) = get(&proxy.api_url("/schemas/ids/1"), None).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["error_code"], 502);
    assert!(body["message"].as_str().unwrap().contains("unreachable"));
    stop(proxy).await;
}

#[tokio::test]
async fn concurrent_misses_for_one_id_make_one_upstream_request() {
    // A private, slow, Confluent-shaped upstream that counts what reaches it.
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/schemas/ids/{id}",
        axum::routing::get(move |axum::extract::Path(id): axum::extract::Path<u32>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                (
                    [(axum::http::header::CONTENT_TYPE, CONFLUENT_JSON)],
                    format!(r#"{{"schema":"\"long\"","id":{id}}}"#),
                )
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let proxy = start_proxy(&format!("http://{upstream_addr}"), None).await;

    let client = reqwest::Client::new();
    let requests = (0..32).map(|_| {
        let client = client.clone();
        let url = proxy.api_url("/schemas/ids/42");
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    });
    let bodies = futures::future::join_all(requests).await;
    assert!(
        bodies
            .iter()
            .all(|b| b == r#"{"schema":"\"long\"","id":42}"#),
        "{bodies:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "one upstream request for 32 clients"
    );
    let metrics = metrics(&proxy).await;
    let lookups = |result: &str| {
        metric_sum(
            &metrics,
            "registry_proxy_cache_lookups_total",
            &[&format!("result=\"{result}\"")],
        )
    };
    assert_eq!(lookups("miss"), 1.0, "{metrics}");
    assert_eq!(
        lookups("miss") + lookups("collapsed") + lookups("hit"),
        32.0
    );
    stop(proxy).await;
    server.abort();
}

const PYTHON_CLIENT: &str = r#"
import json, sys
from confluent_kafka.schema_registry import SchemaRegistryClient, Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

url, schema_id, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = SchemaRegistryClient({"url": url})
result = {"schema": client.get_schema(schema_id).schema_str}
try:
    client.register_schema(subject, Schema('{"type":"record","name":"Evil","fields":[]}', "AVRO"))
    result["register"] = "succeeded"
except SchemaRegistryError as e:
    result["register"] = {"http_status": e.http_status_code, "error_code": e.error_code,
                          "message": e.error_message}
print(json.dumps(result))
"#;

#[tokio::test]
async fn confluent_python_client_reads_and_cannot_write() {
    let stack = Stack::get();
    let registry = &stack.registry_url;
    let subject = unique_name("proxy-python");
    let id = register(registry, &subject, "a").await;
    let proxy = start_proxy(registry, Some(PREFIX)).await;
    let script = tempfile::Builder::new().suffix(".py").tempfile().unwrap();
    std::fs::write(script.path(), PYTHON_CLIENT).unwrap();
    let output = tokio::process::Command::new(&stack.python)
        .arg(script.path())
        .arg(proxy.api_url(""))
        .arg(id.to_string())
        .arg(&subject)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let (direct, _) = get(&format!("{registry}/schemas/ids/{id}"), None).await;
    let direct: serde_json::Value = serde_json::from_str(&direct.body).unwrap();
    assert_eq!(result["schema"], direct["schema"]);
    assert_eq!(result["register"]["http_status"], 405, "{result}");
    assert_eq!(result["register"]["error_code"], 405, "{result}");
    assert!(
        result["register"]["message"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{result}"
    );
    // Still one version upstream.
    let (versions, _) = get(&format!("{registry}/subjects/{subject}/versions"), None).await;
    assert_eq!(versions.body, "[1]");
    stop(proxy).await;
}

#[tokio::test]
async fn the_binary_refuses_bad_settings_and_stops_on_sigterm() {
    let binary = integration_tests::service_binary("registry-proxy");
    let output = tokio::process::Command::new(&binary)
        .env_remove("REGISTRY_PROXY_UPSTREAM_URL")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--upstream-url"), "{stderr}");

    let output = tokio::process::Command::new(&binary)
        .args([
            "--upstream-url",
            "http://127.0.0.1:1",
            "--path-prefix",
            "a/../b",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--path-prefix"), "{stderr}");

    // Settings from the environment; a free port chosen by binding and releasing it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut child = tokio::process::Command::new(&binary)
        .env("REGISTRY_PROXY_UPSTREAM_URL", &Stack::get().registry_url)
        .env("REGISTRY_PROXY_LISTEN__HOST", "127.0.0.1")
        .env("REGISTRY_PROXY_LISTEN__PORT", port.to_string())
        .env("REGISTRY_PROXY_PATH_PREFIX", PREFIX)
        // Its logs only when asked for, as in-process daemons do.
        .stderr(if std::env::var_os("TEST_LOG").is_some() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut answered = None;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}{PREFIX}/config")).await
        {
            answered = Some(response.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answered, Some(StatusCode::OK));
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("stops within 10 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}

/// A TLS front for the real registry, with the stack's `localhost`/127.0.0.1 certificate
/// (signed by the stack's dev CA, so the system roots do not trust it).
async fn start_tls_front(target: SocketAddr) -> (SocketAddr, JoinHandle<()>) {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls = &Stack::get().repo.join(".run/tls");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(tls.join("broker.crt"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls.join("broker.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut inbound) = acceptor.accept(inbound).await else {
                    return;
                };
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn an_https_upstream_is_trusted_through_the_configured_ca() {
    let stack = Stack::get();
    let (socket, base_path) = registry_socket(&stack.registry_url);
    let (front, task) = start_tls_front(socket).await;
    let upstream = format!("https://{front}{base_path}");
    let (direct, _) = get(&format!("{}/config", stack.registry_url), None).await;

    let trusted = start_proxy_with(Settings {
        upstream_url: Some(upstream.clone()),
        upstream_ca_file: Some(stack.tls_ca.clone()),
        ..Settings::default()
    })
    .await;
    let (answer, _) = get(&trusted.api_url("/config"), None).await;
    assert_eq!(answer, direct);
    stop(trusted).await;

    // Without the CA the certificate is not trusted: the upstream is unreachable.
    let untrusted = start_proxy(&upstream, None).await;
    let (answer, _) = get(&untrusted.api_url("/config"), None).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.body);
    assert!(answer.body.contains("certificate"), "{}", answer.body);
    stop(untrusted).await;
    task.abort();
}

#[tokio::test]
async fn shutdown_finishes_the_requests_in_flight() {
    // A private upstream slow enough that the shutdown lands mid-request.
    let app = axum::Router::new().route(
        "/subjects",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            (
                [(axum::http::header::CONTENT_TYPE, CONFLUENT_JSON)],
                r#"["late"]"#,
            )
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let proxy = start_proxy(&format!("http://{upstream_addr}"), None).await;
    let url = proxy.api_url("/subjects");
    let in_flight = tokio::spawn(async move { get(&url, None).await.0 });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let addr = proxy.address();
    stop(proxy).await;
    let answer = in_flight.await.unwrap();
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, r#"["late"]"#)
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
    server.abort();
}

#[tokio::test]
async fn only_the_accept_header_reaches_the_upstream() {
    // A private upstream that answers with the request headers it received.
    let app = axum::Router::new().route(
        "/subjects",
        axum::routing::get(|headers: axum::http::HeaderMap| async move {
            let names: Vec<String> = headers.keys().map(|k| k.as_str().to_owned()).collect();
            let accept = headers
                .get("accept")
                .map(|v| v.to_str().unwrap().to_owned());
            axum::Json(serde_json::json!({ "names": names, "accept": accept }))
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let proxy = start_proxy(&format!("http://{upstream_addr}"), None).await;
    let request = format!(
        "GET /subjects HTTP/1.1\r\nHost: public.example\r\nAccept: {CONFLUENT_JSON}\r\n\
         X-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: DELETE\r\nX-Method-Override: PUT\r\n\
         Connection: close, X-Secret\r\nX-Secret: 1\r\nTE: trailers\r\nUpgrade: h2c\r\n\
         Proxy-Authorization: Basic eDp5\r\nAuthorization: Basic eDp5\r\nCookie: a=b\r\n\
         Forwarded: for=1.2.3.4;host=internal\r\nX-Forwarded-Host: internal\r\n\r\n"
    );
    let (status, head, body) = raw(proxy.address(), &request).await;
    assert_eq!(status, 200, "{head}");
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["accept"], CONFLUENT_JSON);
    let mut names: Vec<&str> = seen["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["accept", "host"], "{seen}");
    stop(proxy).await;
    server.abort();
}
