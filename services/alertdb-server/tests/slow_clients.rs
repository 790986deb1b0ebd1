//! The server as an attacker would try it (issue 17): hundreds of connections that send a
//! request line and one header, then nothing, must be closed after the header timeout while
//! ordinary requests keep being answered promptly.

use alertdb_server::ServerConfig;
use service_kit::http::testing;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_connections_are_closed_while_requests_keep_their_latency() {
    let header_timeout = Duration::from_secs(1);
    let mut config = ServerConfig::for_url("memory://");
    config.http.header_timeout = header_timeout;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(alertdb_server::run(config, listener, shutdown.clone()));
    assert_eq!(testing::get(address, "/v1/health").await.unwrap(), 200);

    let report = testing::slow_headers(address, 300, "/v1/health", Duration::from_secs(5)).await;
    match report.check(header_timeout) {
        Ok(summary) => eprintln!("alertdb-server: {summary}"),
        Err(failed) => panic!("alertdb-server: {failed}"),
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
}
