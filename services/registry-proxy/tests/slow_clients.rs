//! The proxy as an attacker would try it (issue 17): hundreds of connections that send a
//! request line and one header, then nothing, must be closed after the header timeout while
//! ordinary requests keep being answered promptly. (`/healthz` needs no upstream.)

use registry_proxy::settings::{DurationSetting, Settings};
use service_kit::http::{testing, HttpSettings};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_connections_are_closed_while_requests_keep_their_latency() {
    let header_timeout = Duration::from_secs(1);
    let config = Settings {
        // Nothing listens there: the proxy is not ready, but /healthz answers.
        upstream_url: Some("http://127.0.0.1:9".into()),
        http: HttpSettings {
            header_timeout: DurationSetting(header_timeout),
            ..HttpSettings::default()
        },
        ..Settings::default()
    }
    .validate()
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(registry_proxy::run(config, listener, shutdown.clone()));
    assert_eq!(testing::get(address, "/healthz").await.unwrap(), 200);

    let report = testing::slow_headers(address, 300, "/healthz", Duration::from_secs(5)).await;
    match report.check(header_timeout) {
        Ok(summary) => eprintln!("registry-proxy: {summary}"),
        Err(failed) => panic!("registry-proxy: {failed}"),
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
}
