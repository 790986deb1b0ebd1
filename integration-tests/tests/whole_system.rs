//! The whole system, every service a real process (issue 9): schema-sync registers the schema,
//! rubin-alert-sim loads a generated visit and replays it, alertdb-ingester archives the live
//! topic into local files, alertdb-server serves the archive, registry-proxy gives community
//! brokers the schemas, and a Python `confluent-kafka` consumer authenticated with
//! SCRAM-SHA-512 as a read-only broker user reads the stream and decodes it with `fastavro`.
//!
//! The services run from release builds (`scripts/test.sh` builds them before the tests), so
//! the visit test's time means what it says. The two heavy tests take turns.

use alert_packet::alert::alert_id;
use alert_packet::container::Codec;
use alert_packet::generate::{write_visit, AlertGenerator, GeneratorConfig, VisitSpec};
use alert_packet::wire::unframe;
use futures::StreamExt;
use integration_tests::kafka_io::{self, consumer, produce, receive};
use integration_tests::process::{free_port, metric_sum, wait_http, Daemon, WorkDir};
use integration_tests::{release_binary, unique_name, Stack};
use md5::{Digest, Md5};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::Message;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The heavy tests share two cores; running them one at a time keeps each one's figures and
/// timeouts meaningful.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The lsst-alert-packet schema tree of the stack's Python, for the services' ALERT_SCHEMA_DIR.
fn schema_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        alert_packet::tree::locate_with_python(&Stack::get().python).expect("schema tree")
    })
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One copy of the system on the shared stack, with its own topics, subject, users, group,
/// archive directory and ports.
struct System {
    /// Kept, logs included, when the test fails.
    dir: WorkDir,
    logs: PathBuf,
    archive: PathBuf,
    subject: String,
    static_topic: String,
    live_topic: String,
    broker_user: String,
    broker_password: String,
    proxy_port: u16,
    ingester_port: u16,
    server_port: u16,
    sim_port: u16,
    proxy: Daemon,
    ingester: Daemon,
    server: Daemon,
}

impl System {
    /// Registers the schema, loads a generated visit of `alerts` alerts into the static topic,
    /// and starts registry-proxy, the ingester and the server. A `small` visit has ~10 KB
    /// alerts (short histories, small cutouts) so that tests of many passes stay quick;
    /// otherwise `rubin-alert-sim generate` makes realistic ~108 KB alerts.
    async fn start(alerts: usize, small: bool) -> System {
        let stack = Stack::get();
        let dir = WorkDir::new("whole-system").unwrap();
        let logs = dir.path().join("logs");
        let archive = dir.path().join("archive");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::create_dir_all(&archive).unwrap();
        let subject = unique_name("whole-system");
        let static_topic = unique_name("alerts-static");
        let live_topic = unique_name("alerts-simulated");
        let broker_user = unique_name("broker");

        // The live topic exists before any consumer subscribes, as in a deployment.
        stack
            .create_topics(&[&live_topic, &format!("{live_topic}.dlq")], 4)
            .await
            .unwrap();
        let passwords = stack
            .apply_users(&serde_json::json!({ "users": [
                { "username": broker_user, "readonlyTopics": [live_topic], "groups": [broker_user] },
            ]}))
            .unwrap();

        let status = Command::new(release_binary("schema-sync"))
            .env("ALERT_SCHEMA_DIR", schema_dir())
            .args([
                "--schema-registry-url",
                &stack.registry_url,
                "--subject",
                &subject,
                "--mode",
                "latest",
                "--wait",
                "30",
            ])
            .stdout(log_file(&logs, "schema-sync"))
            .stderr(log_file(&logs, "schema-sync"))
            .status()
            .unwrap();
        assert!(
            status.success(),
            "schema-sync failed:\n{}",
            std::fs::read_to_string(logs.join("schema-sync.log")).unwrap_or_default()
        );

        let visit = dir.path().join("visit.avro");
        if small {
            write_small_visit(&visit, alerts);
        } else {
            // An uncompressed container: deflating 1.1 GB would take longer than generating it,
            // and the file is read once, locally.
            let generate = [
                "generate",
                "--alerts",
                &alerts.to_string(),
                "--codec",
                "null",
                "--output",
                &visit.display().to_string(),
            ]
            .map(str::to_owned);
            run_ok("rubin-alert-sim", &generate, &logs);
        }
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
                &visit.display().to_string(),
            ]
            .map(str::to_owned),
            &logs,
        );
        std::fs::remove_file(&visit).unwrap();

        let proxy_port = free_port();
        let proxy = Daemon::start(
            "registry-proxy",
            &release_binary("registry-proxy"),
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
        let ingester_port = free_port();
        // A killed ingester's partitions go to its successor once the broker notices the old
        // session is gone: 6 s here rather than librdkafka's 45 s, to keep the test short.
        let ingester_config = dir.path().join("ingester.toml");
        std::fs::write(
            &ingester_config,
            "[kafka.extra]\n\"session.timeout.ms\" = \"6000\"\n",
        )
        .unwrap();
        let ingester = Daemon::start(
            "alertdb-ingester",
            &release_binary("alertdb-ingester"),
            &[
                "--config",
                &ingester_config.display().to_string(),
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
            ],
            &[],
            &logs,
        )
        .unwrap();
        let server_port = free_port();
        let server = Daemon::start(
            "alertdb-server",
            &release_binary("alertdb-server"),
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
        let system = System {
            dir,
            logs,
            archive,
            subject,
            static_topic,
            live_topic,
            broker_password: passwords[&broker_user].clone(),
            broker_user,
            proxy_port,
            ingester_port,
            server_port,
            sim_port: free_port(),
            proxy,
            ingester,
            server,
        };
        system.wait_ready().await;
        system
    }

    async fn wait_ready(&self) {
        let timeout = Duration::from_secs(60);
        for url in [
            format!("http://127.0.0.1:{}/healthz", self.proxy_port),
            format!("http://127.0.0.1:{}/readyz", self.ingester_port),
            format!("http://127.0.0.1:{}/alertdb/v1/health", self.server_port),
        ] {
            wait_http(&url, timeout)
                .await
                .unwrap_or_else(|e| panic!("{e:#}; logs in {}", self.logs.display()));
        }
    }

    /// play-stream from the static topic to the live one, with `extra` arguments.
    fn play_stream(&self, extra: &[&str]) -> Daemon {
        let stack = Stack::get();
        let mut args = vec![
            "play-stream",
            "-B",
            &stack.kafka_plaintext,
            "--src-topic",
            &self.static_topic,
            "--dst-topic",
            &self.live_topic,
            "--pacing",
            "none",
            "--listen-host",
            "127.0.0.1",
        ];
        let port = self.sim_port.to_string();
        args.extend(["--listen-port", &port]);
        args.extend_from_slice(extra);
        Daemon::start(
            "play-stream",
            &release_binary("rubin-alert-sim"),
            &args,
            &[],
            &self.logs,
        )
        .unwrap()
    }

    fn ingester_metrics(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.ingester_port)
    }

    /// A community-broker consumer process (Python confluent-kafka over SCRAM, schemas
    /// through registry-proxy, fastavro) reading the live topic in its own group.
    fn community_broker(&self, expect: Expect<'_>, digests: &Path) -> std::process::Child {
        let stack = Stack::get();
        let mut command = Command::new(&stack.python);
        command
            .arg(
                stack
                    .repo
                    .join("integration-tests/python/community_broker.py"),
            )
            .args(["--bootstrap", &stack.kafka_scram])
            .args(["--username", &self.broker_user])
            .args(["--group", &format!("{}-visit", self.broker_user)])
            .args(["--topic", &self.live_topic])
            .args([
                "--registry",
                &format!("http://127.0.0.1:{}", self.proxy_port),
            ])
            .args(["--timeout", "600"])
            .arg("--digests")
            .arg(digests)
            .env("BROKER_PASSWORD", &self.broker_password)
            .stdout(std::process::Stdio::piped())
            .stderr(log_file(&self.logs, "community-broker"));
        match expect {
            // The whole visit, read after the timed part: on one core the broker took 132 s
            // for 10,000 alerts, nearly all of it fastavro; two workers use both cores.
            Expect::Count(count) => command
                .args(["--expect", &count.to_string()])
                .args(["--decode-workers", "2"]),
            Expect::File(path) => command.arg("--expect-file").arg(path),
        };
        command.spawn().unwrap()
    }

    /// Every message of the live topic: (alert id, MD5 of the value).
    fn live_messages(&self) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        kafka_io::for_each_message(
            &Stack::get().kafka_plaintext(),
            &self.live_topic,
            |message| {
                let value = message.payload().unwrap_or_default();
                let frame = unframe(value).expect("a framed alert in the live topic");
                out.push((alert_id(frame.body).expect("alert id"), md5_hex(value)));
            },
        );
        out
    }

    /// Fetches every alert from alertdb-server and checks it is the message's bytes.
    async fn assert_served(&self, messages: &[(i64, String)]) {
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{}/alertdb/v1/alerts", self.server_port);
        let mismatches: Vec<String> = futures::stream::iter(messages)
            .map(|(id, digest)| {
                let client = &client;
                let url = format!("{base}/{id}");
                async move {
                    let response = client.get(&url).send().await.unwrap();
                    let status = response.status();
                    let body = response.bytes().await.unwrap();
                    match (status.as_u16(), md5_hex(&body) == *digest) {
                        (200, true) => None,
                        (200, false) => Some(format!("{id}: different bytes")),
                        (code, _) => Some(format!("{id}: HTTP {code}")),
                    }
                }
            })
            .buffer_unordered(8)
            .filter_map(|m| async move { m })
            .collect()
            .await;
        assert!(
            mismatches.is_empty(),
            "{} of {} alerts not served as sent, e.g. {:?}; logs in {}",
            mismatches.len(),
            messages.len(),
            &mismatches[..mismatches.len().min(5)],
            self.logs.display()
        );
    }

    /// Waits until the ingester has archived `count` alerts (its counter counts each
    /// archived message once per process, so after restarts the files are counted instead).
    async fn wait_archive_holds(&self, ids: &[i64], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let missing = ids
                .iter()
                .filter(|id| !archived_path(&self.archive, **id).exists())
                .count();
            if missing == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{missing} of {} alerts not archived after {timeout:?}; logs in {}",
                ids.len(),
                self.logs.display()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

enum Expect<'a> {
    Count(usize),
    File(&'a Path),
}

/// A visit of `alerts` ~10 KB alerts of the latest schema.
fn write_small_visit(path: &Path, alerts: usize) {
    let tree = alert_packet::tree::SchemaTree::load(schema_dir()).unwrap();
    let config = GeneratorConfig {
        prv_sources: 5,
        prv_forced_sources: 5,
        cutout_bytes: Some(3000),
        ..GeneratorConfig::default()
    };
    let mut generator = AlertGenerator::new(tree.latest().schema.clone(), config).unwrap();
    let spec = VisitSpec {
        alerts,
        ..VisitSpec::default()
    };
    let file = std::fs::File::create(path).unwrap();
    write_visit(&mut generator, &spec, file, Codec::Deflate).unwrap();
}

/// Where alertdb-ingester's v2 layout puts an alert in a file:// archive.
fn archived_path(archive: &Path, id: i64) -> PathBuf {
    archive.join(alert_archive::alert_key(alert_archive::Layout::V2, id as u64).as_ref())
}

fn log_file(dir: &Path, name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .unwrap()
}

/// Runs a release binary to completion; panics with its log on failure.
fn run_ok(binary: &str, args: &[String], logs: &Path) {
    let status = Command::new(release_binary(binary))
        .env("ALERT_SCHEMA_DIR", schema_dir())
        .args(args)
        .stdout(log_file(logs, binary))
        .stderr(log_file(logs, binary))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "{binary} {} failed:\n{}",
        args.join(" "),
        std::fs::read_to_string(logs.join(format!("{binary}.log"))).unwrap_or_default()
    );
}

/// The community broker's summary line, and the digests it wrote.
fn finish_broker(child: std::process::Child, digests: &Path, logs: &Path) -> Vec<String> {
    let output = child.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "community broker failed: {summary}\n{}",
        std::fs::read_to_string(logs.join("community-broker.log")).unwrap_or_default()
    );
    println!("community broker: {}", summary.trim());
    let mut received: Vec<String> = std::fs::read_to_string(digests)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    received.sort();
    received
}

fn sorted_digests(messages: &[(i64, String)]) -> Vec<String> {
    let mut digests: Vec<String> = messages.iter().map(|(_, d)| d.clone()).collect();
    digests.sort();
    digests
}

/// A generated 10,000-alert visit (~108 KB an alert) replayed once, unpaced: every alert is
/// archived and served byte-identical to what a community broker received and decoded.
/// Prints the time from the start of the replay (the first produce follows within
/// milliseconds) to the last alert archived, i.e. readable from alertdb-server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_reaches_the_brokers_and_the_archive_byte_identical() {
    const ALERTS: usize = 10_000;
    let _turn = HEAVY.lock().await;
    let system = System::start(ALERTS, false).await;

    let started = Instant::now();
    let mut replay = system.play_stream(&["--passes", "1"]);
    let mut replayed_at = None;
    let archived_at = loop {
        let archived = metric_sum(
            &system.ingester_metrics(),
            "alertdb_ingester_alerts_archived_total",
        )
        .await
        .unwrap();
        if replayed_at.is_none() && !replay.is_running() {
            replayed_at = Some(started.elapsed());
        }
        if archived >= ALERTS as f64 {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{archived} of {ALERTS} archived after 300 s; logs in {}",
            system.logs.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let status = replay.wait(Duration::from_secs(120)).unwrap();
    assert!(status.success(), "play-stream: {}", replay.log_text());
    let replayed_at = replayed_at.unwrap_or_else(|| started.elapsed());

    let messages = system.live_messages();
    assert_eq!(messages.len(), ALERTS, "the live topic holds the visit");
    let ids: Vec<i64> = messages.iter().map(|(id, _)| *id).collect();
    system
        .wait_archive_holds(&ids, Duration::from_secs(5))
        .await;
    system.assert_served(&messages).await;
    let served_at = started.elapsed();
    println!(
        "visit of {ALERTS} alerts: replayed in {:.2} s; last alert archived (readable from \
         alertdb-server) {:.2} s after the replay started (target <= 15 s); every alert \
         fetched back byte-identical by {:.2} s",
        replayed_at.as_secs_f64(),
        archived_at.as_secs_f64(),
        served_at.as_secs_f64()
    );
    // A row of scripts/bench/report.sh's table.
    println!(
        "BENCH-ROW\twhole system\tfirst produce to last alert readable from alertdb-server, \
         {ALERTS}-alert visit\t{:.2} s\t<= 15 s\treplay alone {:.2} s\t\t{}",
        archived_at.as_secs_f64(),
        replayed_at.as_secs_f64(),
        if archived_at <= Duration::from_secs(15) {
            "met"
        } else {
            "missed"
        }
    );

    // The broker reads after the timed part, so its fastavro decoding (~200 alerts/s a core)
    // does not share the two cores with the replay and the ingester.
    let digests = system.dir.path().join("broker-digests");
    let broker = system.community_broker(Expect::Count(ALERTS), &digests);
    let received = finish_broker(broker, &digests, &system.logs);
    assert_eq!(
        received,
        sorted_digests(&messages),
        "the broker received exactly the archived alerts"
    );
    Stack::get()
        .delete_topics(&[
            &system.static_topic,
            &system.live_topic,
            &format!("{}.dlq", system.live_topic),
        ])
        .await
        .unwrap();
}

/// Each service is killed (SIGKILL) and restarted in turn while the simulator replays
/// renumbered visits; afterwards every alert the live topic holds (every completed pass and
/// the partial ones) is archived and served byte-identical, and the community broker, which
/// ran throughout, received every message exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_killed_and_restarted_during_replays_lose_nothing() {
    const ALERTS: usize = 500;
    let _turn = HEAVY.lock().await;
    let mut system = System::start(ALERTS, true).await;
    let sim_metrics = format!("http://127.0.0.1:{}/metrics", system.sim_port);
    let expect_file = system.dir.path().join("broker-expect");
    let digests = system.dir.path().join("broker-digests");
    let broker = system.community_broker(Expect::File(&expect_file), &digests);

    let mut replay = system.play_stream(&[
        "--renumber-ids",
        "--repeat-interval",
        "3",
        "--passes",
        "100",
    ]);
    let mut passes_done = 0.0;
    let wait_pass = |passes_done: f64| {
        let sim_metrics = sim_metrics.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(passes) = metric_sum(&sim_metrics, "alertsim_passes_total").await {
                    if passes > passes_done {
                        return passes;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "no replay pass completed in 60 s"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let t0 = Instant::now();
    let step = |what: &str| eprintln!("[{:6.1} s] {what}", t0.elapsed().as_secs_f64());
    passes_done = wait_pass(passes_done).await;
    step("first pass done; killing the ingester");

    // The ingester, mid-stream: a crash, then a restart that resumes from its commits.
    tokio::time::sleep(Duration::from_millis(700)).await;
    system.ingester.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    system.ingester.restart().unwrap();
    passes_done = wait_pass(passes_done).await;

    step("killing the server and registry-proxy");
    // The server and registry-proxy: readers retry; nothing is lost because neither writes.
    system.server.kill();
    system.proxy.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    system.server.restart().unwrap();
    system.proxy.restart().unwrap();
    system.wait_ready().await;

    step("killing schema-sync");
    // schema-sync is a job: killed mid-run, run again, it leaves the subject as it was.
    let stack = Stack::get();
    let sync_args = [
        "--schema-registry-url",
        &stack.registry_url,
        "--subject",
        &system.subject,
        "--mode",
        "latest",
    ];
    let mut sync = Daemon::start(
        "schema-sync",
        &release_binary("schema-sync"),
        &sync_args,
        &[("ALERT_SCHEMA_DIR", &schema_dir().display().to_string())],
        &system.logs,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    sync.kill();
    sync.restart().unwrap();
    let status = sync.wait(Duration::from_secs(60)).unwrap();
    assert!(status.success(), "schema-sync rerun: {}", sync.log_text());

    step("killing the simulator");
    // The simulator itself, mid-pass (it replays as fast as it can, so a pass is short: the
    // kill lands inside one about a third of the time, and between passes otherwise).
    passes_done = wait_pass(passes_done).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    replay.kill();
    replay.restart().unwrap();
    wait_pass(0.0).await;

    step("killing the ingester again");
    // And the ingester once more, with the simulator producing.
    system.ingester.kill();
    system.ingester.restart().unwrap();
    let passes_after = wait_pass(0.0).await;
    let status = replay.terminate(Duration::from_secs(30)).unwrap();
    assert!(status.success(), "play-stream SIGTERM exit: {status}");
    println!("passes: {passes_done} before the simulator's restart, {passes_after}+ after");

    step("simulator stopped; checking");
    let messages = system.live_messages();
    assert!(
        messages.len() >= 4 * ALERTS,
        "{} messages in the live topic",
        messages.len()
    );
    let unique: std::collections::HashSet<i64> = messages.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        unique.len(),
        messages.len(),
        "renumbered passes have distinct ids"
    );
    let tmp = expect_file.with_extension("tmp");
    std::fs::write(&tmp, messages.len().to_string()).unwrap();
    std::fs::rename(&tmp, &expect_file).unwrap();

    let ids: Vec<i64> = messages.iter().map(|(id, _)| *id).collect();
    system
        .wait_archive_holds(&ids, Duration::from_secs(120))
        .await;
    step("archived");
    system.assert_served(&messages).await;
    step("served");
    let received = finish_broker(broker, &digests, &system.logs);
    step("the broker is done");
    assert_eq!(
        received,
        sorted_digests(&messages),
        "the broker received every message of the live topic exactly once"
    );
    assert!(system.ingester.starts() == 3 && system.server.starts() == 2);
}

/// The access rules of the seeds, checked through the real broker on the system's topics:
/// a community-broker user cannot produce to the alert topic, cannot read the static topic,
/// and cannot join another broker's consumer group.
#[tokio::test]
async fn a_community_broker_cannot_produce_read_the_static_topic_or_join_another_group() {
    let stack = Stack::get();
    let live = unique_name("alerts-simulated");
    let reservoir = unique_name("alerts-static");
    let (alerce, fink) = (unique_name("alerce"), unique_name("fink"));
    stack.create_topics(&[&live, &reservoir], 2).await.unwrap();
    let passwords = stack
        .apply_users(&serde_json::json!({ "users": [
            { "username": alerce, "readonlyTopics": [live], "groups": [alerce] },
            { "username": fink, "readonlyTopics": [live], "groups": [fink] },
        ]}))
        .unwrap();
    let values: [&[u8]; 2] = [b"alert-1", b"alert-2"];
    produce(&stack.kafka_plaintext(), &live, &values)
        .await
        .unwrap();
    produce(&stack.kafka_plaintext(), &reservoir, &values)
        .await
        .unwrap();
    let as_alerce = stack.kafka_scram(&alerce, &passwords[&alerce]);

    // What it may do: read the live topic in its own group.
    let own = consumer(&as_alerce, &format!("{alerce}-night"), &live);
    assert_eq!(receive(&own, 2).await.unwrap().len(), 2);

    let error = produce(&as_alerce, &live, &[b"forged alert"])
        .await
        .unwrap_err();
    assert_eq!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed),
        "producing to the alert topic: {error}"
    );
    let reservoir_reader = consumer(&as_alerce, &format!("{alerce}-static"), &reservoir);
    let error = receive(&reservoir_reader, 1).await.unwrap_err();
    assert_eq!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed),
        "reading the static topic: {error}"
    );
    let intruder = consumer(&as_alerce, &format!("{fink}-night"), &live);
    let error = receive(&intruder, 1).await.unwrap_err();
    assert_eq!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::GroupAuthorizationFailed),
        "joining fink's group: {error}"
    );
    // fink's own group still works for fink.
    let as_fink = stack.kafka_scram(&fink, &passwords[&fink]);
    let own = consumer(&as_fink, &format!("{fink}-night"), &live);
    assert_eq!(receive(&own, 2).await.unwrap().len(), 2);
}
