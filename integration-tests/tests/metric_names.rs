//! Every metric the Grafana dashboard and the Prometheus alerting rules name is exported by a
//! running service (issue 15): the names come from `scripts/deploy/metric_names.py` (the same
//! extraction `scripts/deploy/check_dashboard.py` checks against the source), the services run
//! as real processes against the stack, each is driven through the paths that create its
//! labelled series (the prometheus crate leaves a labelled metric with no series out of
//! /metrics), and their /metrics are scraped. Strimzi's Kafka exporter metrics (`kafka_*`)
//! are not ours and are skipped.

use integration_tests::kafka_io::produce;
use integration_tests::process::{free_port, metric_sum, wait_http, Daemon, WorkDir};
use integration_tests::{service_binary, unique_name, Stack};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const DASHBOARD: &str = "helm/alert-distribution/dashboards/alert-distribution.json";
const RULES: &str = "helm/alert-distribution/templates/prometheusrule.yaml";
/// Alerts in the generated visit.
const ALERTS: usize = 20;

/// Every metric name the dashboard and the rules use, with where each is used.
fn expected_names() -> BTreeMap<String, Vec<String>> {
    let stack = Stack::get();
    let output = Command::new(&stack.python)
        .current_dir(&stack.repo)
        .arg("scripts/deploy/metric_names.py")
        .args(["--with-source", "--dashboard", DASHBOARD, "--rules", RULES])
        .output()
        .expect("running scripts/deploy/metric_names.py");
    assert!(
        output.status.success(),
        "metric_names.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let (name, place) = line.split_once('\t').expect("name<TAB>where");
        names
            .entry(name.to_owned())
            .or_default()
            .push(place.to_owned());
    }
    names
}

/// The metric names of a Prometheus text exposition.
fn scraped_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

async fn scrape(url: &str) -> String {
    reqwest::get(url)
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("scraping {url}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Polls the sum of `metric` at `url` until `done` holds for it.
async fn wait_metric(url: &str, metric: &str, done: impl Fn(f64) -> bool, logs: &Path) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(value) = metric_sum(url, metric).await {
            if done(value) {
                return value;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{metric} at {url} did not reach its value in 60 s; logs in {}",
            logs.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `metric` has a series at `url` (a labelled metric appears with its first child).
async fn wait_series(url: &str, metric: &str, logs: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !scraped_names(&scrape(url).await).contains(metric) {
        assert!(
            Instant::now() < deadline,
            "{metric} not exported at {url} after 60 s; logs in {}",
            logs.display()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn run_ok(binary: &str, args: &[&str], envs: &[(&str, &Path)], logs: &Path) {
    let log = logs.join(format!("{binary}.log"));
    let file = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap()
    };
    let status = Command::new(service_binary(binary))
        .args(args)
        .envs(envs.iter().copied())
        .stdout(file())
        .stderr(file())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "{binary} {} failed:\n{}",
        args.join(" "),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// Archived alert ids (v2 layout: v2/alerts/<prefix>/<id>.avro.gz).
fn archived_ids(archive: &Path) -> Vec<u64> {
    let mut ids = Vec::new();
    for prefix in std::fs::read_dir(archive.join("v2/alerts"))
        .into_iter()
        .flatten()
    {
        for file in std::fs::read_dir(prefix.unwrap().path()).unwrap() {
            let name = file.unwrap().file_name().into_string().unwrap();
            if let Some(id) = name.strip_suffix(".avro.gz") {
                ids.extend(id.parse::<u64>().ok());
            }
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_and_the_alerting_rules_name_is_exported() {
    let stack = Stack::get();
    let expected = expected_names();
    assert!(
        expected.keys().any(|n| n.starts_with("alertdb_ingester_"))
            && expected.keys().any(|n| n.starts_with("alertsim_"))
            && expected.keys().any(|n| n.starts_with("registry_proxy_")),
        "metric_names.py found too few names: {expected:?}"
    );
    let dir = WorkDir::new("metric-names").unwrap();
    let logs = dir.path().join("logs");
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(&archive).unwrap();
    let subject = unique_name("metric-names");
    let static_topic = unique_name("metric-names-static");
    let live_topic = unique_name("metric-names-live");
    let dead_letters = format!("{live_topic}.dlq");
    stack
        .create_topics(&[&live_topic, &dead_letters], 1)
        .await
        .unwrap();
    let schema_dir = alert_packet::tree::locate_with_python(&stack.python).expect("schema tree");
    let schema_env = [("ALERT_SCHEMA_DIR", schema_dir.as_path())];

    // The schema, a small generated visit, loaded into the static topic.
    run_ok(
        "schema-sync",
        &[
            "--schema-registry-url",
            &stack.registry_url,
            "--subject",
            &subject,
            "--mode",
            "latest",
            "--wait",
            "30",
        ],
        &schema_env,
        &logs,
    );
    let visit = dir.path().join("visit.avro");
    let visit_arg = visit.display().to_string();
    run_ok(
        "rubin-alert-sim",
        &[
            "generate",
            "--alerts",
            &ALERTS.to_string(),
            "--output",
            &visit_arg,
        ],
        &schema_env,
        &logs,
    );
    run_ok(
        "rubin-alert-sim",
        &[
            "create-stream",
            "-B",
            &stack.kafka_plaintext,
            "--dst-topic",
            &static_topic,
            "--create-topic",
            "--schema-registry-url",
            &stack.registry_url,
            "--subject",
            &subject,
            &visit_arg,
        ],
        &schema_env,
        &logs,
    );
    let latest: serde_json::Value = reqwest::get(format!(
        "{}/subjects/{subject}/versions/latest",
        stack.registry_url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let schema_id = latest["id"].as_u64().expect("the subject's schema id");

    // The ingester, with its store blocked at first (a file where the v2/ directory goes), so
    // its writes fail and retry; the DLQ is <topic>.dlq.
    std::fs::write(archive.join("v2"), b"not a directory").unwrap();
    let ingester_port = free_port();
    let ingester = Daemon::start(
        "alertdb-ingester",
        &service_binary("alertdb-ingester"),
        &[
            "--kafka-host",
            &stack.kafka_plaintext,
            "--kafka-auth-mechanism",
            "none",
            "--kafka-topics",
            &live_topic,
            "--kafka-group",
            &unique_name("alertdb-ingester"),
            "--schema-registry-address",
            &stack.registry_url,
            "--alerts-url",
            &format!("file://{}", archive.display()),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &ingester_port.to_string(),
            // Offsets are committed once index rows are written: commits (counted below)
            // come within a second rather than the default minute.
            "--index-interval",
            "1s",
        ],
        &[("RUST_LOG", "info")],
        &logs,
    )
    .unwrap();
    let ingester_metrics = format!("http://127.0.0.1:{ingester_port}/metrics");
    wait_http(
        &format!("http://127.0.0.1:{ingester_port}/healthz"),
        Duration::from_secs(60),
    )
    .await
    .unwrap();

    // One replay pass of the visit; the next pass is an hour away, so the process stays up to
    // be scraped.
    let sim_port = free_port();
    let replay = Daemon::start(
        "play-stream",
        &service_binary("rubin-alert-sim"),
        &[
            "play-stream",
            "-B",
            &stack.kafka_plaintext,
            "--src-topic",
            &static_topic,
            "--dst-topic",
            &live_topic,
            "--pacing",
            "none",
            "--repeat-interval",
            "3600",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &sim_port.to_string(),
        ],
        &[],
        &logs,
    )
    .unwrap();
    let sim_metrics = format!("http://127.0.0.1:{sim_port}/metrics");
    wait_metric(&sim_metrics, "alertsim_passes_total", |v| v >= 1.0, &logs).await;

    // Writes retry while the store is blocked; unblocked, the visit is archived.
    wait_metric(
        &ingester_metrics,
        "alertdb_ingester_retries_total",
        |v| v >= 1.0,
        &logs,
    )
    .await;
    std::fs::remove_file(archive.join("v2")).unwrap();
    // A poison message (not the Confluent wire format) goes to the dead-letter topic.
    let poison: &[u8] = b"\x01 not an alert";
    produce(&stack.kafka_plaintext(), &live_topic, &[poison])
        .await
        .unwrap();
    wait_metric(
        &ingester_metrics,
        "alertdb_ingester_alerts_archived_total",
        |v| v >= ALERTS as f64,
        &logs,
    )
    .await;
    wait_metric(
        &ingester_metrics,
        "alertdb_ingester_dead_lettered_total",
        |v| v >= 1.0,
        &logs,
    )
    .await;
    // librdkafka's statistics (every 5 s) give the lag of the assigned partition once it has a
    // committed offset; the same statistics are the baseline from which commits are counted, so
    // one more message makes a commit that is counted.
    wait_series(&ingester_metrics, "alertdb_ingester_consumer_lag", &logs).await;
    produce(&stack.kafka_plaintext(), &live_topic, &[poison])
        .await
        .unwrap();
    wait_metric(
        &ingester_metrics,
        "alertdb_ingester_commits_total",
        |v| v >= 1.0,
        &logs,
    )
    .await;

    // The server: an archived alert, an unknown one (404), a schema, and an alert whose object
    // cannot be read (a symbolic link to itself: ELOOP, a store error answered with 503).
    let ids = archived_ids(&archive);
    assert_eq!(
        ids.len(),
        ALERTS,
        "archived alerts in {}",
        archive.display()
    );
    let broken_id = 999_999_999_u64;
    let broken =
        archive.join(alert_archive::alert_key(alert_archive::Layout::V2, broken_id).as_ref());
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&broken, &broken).unwrap();
    let server_port = free_port();
    let _server = Daemon::start(
        "alertdb-server",
        &service_binary("alertdb-server"),
        &[
            "--alerts-url",
            &format!("file://{}", archive.display()),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &server_port.to_string(),
        ],
        &[],
        &logs,
    )
    .unwrap();
    let server = format!("http://127.0.0.1:{server_port}/alertdb/v1");
    wait_http(&format!("{server}/health"), Duration::from_secs(60))
        .await
        .unwrap();
    for (path, status) in [
        (format!("alerts/{}", ids[0]), 200),
        ("alerts/1".to_owned(), 404),
        (format!("schemas/{schema_id}"), 200),
        (format!("alerts/{broken_id}"), 503),
    ] {
        let response = reqwest::get(format!("{server}/{path}")).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "GET {server}/{path}");
    }

    // registry-proxy: a schema through the cache, and a refused write.
    let proxy_port = free_port();
    let _proxy = Daemon::start(
        "registry-proxy",
        &service_binary("registry-proxy"),
        &[
            "--upstream-url",
            &stack.registry_url,
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &proxy_port.to_string(),
        ],
        &[],
        &logs,
    )
    .unwrap();
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    wait_http(&format!("{proxy}/healthz"), Duration::from_secs(60))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let response = client
            .get(format!("{proxy}/schemas/ids/{schema_id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let response = client
        .post(format!("{proxy}/subjects/{subject}/versions"))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);

    // Every name the dashboard and the rules use, in some service's /metrics.
    let mut scraped = BTreeSet::new();
    for url in [
        ingester_metrics.clone(),
        sim_metrics.clone(),
        format!("http://127.0.0.1:{server_port}/metrics"),
        format!("{proxy}/metrics"),
    ] {
        scraped.extend(scraped_names(&scrape(&url).await));
    }
    let missing: Vec<String> = expected
        .iter()
        .filter(|(name, _)| !name.starts_with("kafka_") && !scraped.contains(*name))
        .map(|(name, places)| format!("{name} (used by {})", places.join("; ")))
        .collect();
    let checked = expected.keys().filter(|n| !n.starts_with("kafka_")).count();
    assert!(
        missing.is_empty(),
        "{} of {checked} metric names the dashboard and the alerting rules use are not \
         exported by any running service:\n  {}\nscraped: {scraped:?}",
        missing.len(),
        missing.join("\n  "),
    );
    println!(
        "{checked} metric names of {DASHBOARD} and {RULES} found in the services' /metrics \
         ({} kafka_* names of the Kafka exporter not checked)",
        expected.len() - checked
    );

    drop(replay);
    drop(ingester);
    stack
        .delete_topics(&[&static_topic, &live_topic, &dead_letters])
        .await
        .unwrap();
}
