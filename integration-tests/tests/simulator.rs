//! rubin-alert-sim against the real local Kafka and schema registry: loading, replaying on a
//! schedule, printing, a community broker reading the stream, and bad input.

use alert_packet::alert::{alert_id, AlertLayout};
use alert_packet::container::{Codec, ContainerReader};
use alert_packet::generate::{write_visit, AlertGenerator, GeneratorConfig, VisitSpec};
use alert_packet::tree::{locate_with_python, SchemaTree};
use alert_packet::wire;
use integration_tests::{kafka_io, service_binary, unique_name, Stack};
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Headers, Message};
use rubin_alert_sim::cli::{Cli, Command as SimCommand};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const ALERTS: usize = 1000;

fn tree() -> SchemaTree {
    SchemaTree::load(&schema_dir()).unwrap()
}

fn schema_dir() -> PathBuf {
    locate_with_python(&Stack::get().python).unwrap()
}

/// A visit of small alerts (the content is realistic; history is short to keep tests quick).
fn visit(dir: &Path, alerts: usize) -> PathBuf {
    visit_over(dir, alerts, 3.0)
}

/// A visit whose detectors are read out over `readout_seconds`.
fn visit_over(dir: &Path, alerts: usize, readout_seconds: f64) -> PathBuf {
    let tree = tree();
    let config = GeneratorConfig {
        prv_sources: 5,
        prv_forced_sources: 5,
        cutout_bytes: Some(3000),
        ..GeneratorConfig::default()
    };
    let mut generator = AlertGenerator::new(tree.latest().schema.clone(), config).unwrap();
    let path = dir.join("visit.avro");
    let file = std::fs::File::create(&path).unwrap();
    let spec = VisitSpec {
        alerts,
        readout_seconds,
        ..VisitSpec::default()
    };
    write_visit(&mut generator, &spec, file, Codec::Deflate).unwrap();
    path
}

/// Registers the latest alert schema under a fresh subject; returns (subject, id).
async fn register_latest(subject_prefix: &str) -> (String, u32) {
    let stack = Stack::get();
    let subject = unique_name(subject_prefix);
    let schema = tree().latest().schema.to_json().to_string();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/subjects/{subject}/versions",
            stack.registry_url
        ))
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .json(&serde_json::json!({ "schema": schema }))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap() as u32;
    (subject, id)
}

/// Loads `file` into a fresh static `topic` with create-stream; the schema id comes from the
/// registry under `subject`, or is `--schema-id 1101` without one.
async fn load(
    topic: &str,
    file: &Path,
    subject: Option<&str>,
) -> rubin_alert_sim::loader::LoadReport {
    let stack = Stack::get();
    let schema_dir = schema_dir();
    let mut args = vec![
        "create-stream",
        "-B",
        &stack.kafka_plaintext,
        "--dst-topic",
        topic,
        "--create-topic",
        "--schema-dir",
        schema_dir.to_str().unwrap(),
        "--schema-registry-url",
        &stack.registry_url,
    ];
    match subject {
        Some(subject) => args.extend(["--subject", subject]),
        None => args.extend(["--schema-id", "1101"]),
    }
    args.push(file.to_str().unwrap());
    let SimCommand::CreateStream(create) = cli(&args).command else {
        unreachable!()
    };
    rubin_alert_sim::loader::create_stream(&create, CancellationToken::new())
        .await
        .unwrap()
}

/// The play-stream arguments for `src` → `dst` on the stack's broker, plus `extra`.
fn play_args(src: &str, dst: &str, extra: &[&str]) -> rubin_alert_sim::cli::PlayStream {
    let stack = Stack::get();
    let mut args = vec![
        "play-stream",
        "-B",
        &stack.kafka_plaintext,
        "--src-topic",
        src,
        "--dst-topic",
        dst,
        "--create-dst-topic",
        "--listen-port",
        "0",
    ];
    args.extend_from_slice(extra);
    let SimCommand::PlayStream(play) = cli(&args).command else {
        unreachable!()
    };
    play
}

/// Runs play-stream to completion; returns its report and the passes it reported.
async fn replay(
    play: &rubin_alert_sim::cli::PlayStream,
) -> (
    rubin_alert_sim::replayer::PlayReport,
    Vec<rubin_alert_sim::replayer::PassReport>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report =
        rubin_alert_sim::replayer::serve(play, listener, CancellationToken::new(), Some(tx))
            .await
            .unwrap();
    let mut passes = Vec::new();
    while let Ok(pass) = rx.try_recv() {
        passes.push(pass);
    }
    (report, passes)
}

fn cli(args: &[&str]) -> Cli {
    <Cli as clap::Parser>::try_parse_from(
        std::iter::once("rubin-alert-sim").chain(args.iter().copied()),
    )
    .unwrap()
}

/// Every message of a topic, in partition order, with its `alertsim-time-offset` header.
fn read_topic(topic: &str) -> Vec<(Vec<u8>, Option<String>)> {
    let mut out = Vec::new();
    kafka_io::for_each_message(&Stack::get().kafka_plaintext(), topic, |message| {
        let header = message.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key == "alertsim-time-offset")
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        });
        out.push((message.payload().unwrap_or_default().to_vec(), header));
    });
    out
}

async fn topic_config(topic: &str, key: &str) -> Option<String> {
    let admin: AdminClient<DefaultClientContext> = Stack::get()
        .kafka_plaintext()
        .client_config()
        .unwrap()
        .create()
        .unwrap();
    let configs = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .unwrap();
    let resource = configs.into_iter().next().unwrap().unwrap();
    resource.get(key).and_then(|entry| entry.value.clone())
}

#[tokio::test]
async fn create_stream_twice_leaves_exactly_one_visit_with_offsets_and_infinite_retention() {
    let dir = tempfile::tempdir().unwrap();
    let file = visit(dir.path(), ALERTS);
    let (subject, schema_id) = register_latest("sim-load").await;
    let topic = unique_name("alerts-static");
    for _ in 0..2 {
        let report = load(&topic, &file, Some(&subject)).await;
        assert_eq!(report.alerts, ALERTS as u64);
        assert_eq!(
            report.schema_id, schema_id,
            "the id comes from the registry"
        );
    }
    let messages = read_topic(&topic);
    assert_eq!(
        messages.len(),
        ALERTS,
        "loading twice leaves exactly one copy"
    );

    // Each message is a frame with the registry's id; offsets follow the source times.
    let tree = tree();
    let schema = tree.latest().schema.clone();
    let layout = AlertLayout::of(&schema).unwrap();
    let mut reader = ContainerReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    let mut first = None;
    for (value, header) in &messages {
        let original = reader.next_datum().unwrap().unwrap();
        let frame = wire::unframe(value).unwrap();
        assert_eq!(frame.schema_id, schema_id);
        assert_eq!(frame.body, original, "11.1 → 11.1 is a copy");
        let time = layout.source_time(&schema, frame.body).unwrap().unwrap();
        let first = *first.get_or_insert(time);
        let offset: f64 = header.as_deref().expect("offset header").parse().unwrap();
        assert!(
            (offset - (time - first) * 86_400.0).abs() < 1e-6,
            "offset {offset}"
        );
    }
    assert_eq!(
        topic_config(&topic, "retention.ms").await.as_deref(),
        Some("-1")
    );
    assert_eq!(
        topic_config(&topic, "retention.bytes").await.as_deref(),
        Some("-1")
    );
}

#[tokio::test]
async fn an_old_version_is_re_encoded_to_the_latest() {
    let stack = Stack::get();
    let tree = tree();
    // 11.0 is the only older version whose sample resolves to 11.1 (older ones lack fields
    // that 11.1 requires; those are refused with the field named, see the bad-input test).
    let fake = tree
        .get("11.0".parse().unwrap())
        .unwrap()
        .sample_data_dir()
        .join("fakeAlert.avro");
    let (subject, schema_id) = register_latest("sim-old").await;
    let topic = unique_name("alerts-static-old");
    assert_eq!(load(&topic, &fake, Some(&subject)).await.alerts, 1);
    let messages = read_topic(&topic);
    let frame = wire::unframe(&messages[0].0).unwrap();
    assert_eq!(frame.schema_id, schema_id);
    alert_packet::value::decode(&tree.latest().schema, frame.body)
        .expect("decodes with the latest schema");
    assert_eq!(messages[0].1.as_deref(), Some("0.0"));

    // print-stream reads it with the schema the registry holds under the frame's id.
    let output = Command::new(service_binary("rubin-alert-sim"))
        .args([
            "print-stream",
            "-B",
            &stack.kafka_plaintext,
            "--src-topic",
            &topic,
            "--from-beginning",
        ])
        .args([
            "--max-messages",
            "1",
            "--schema-registry-url",
            &stack.registry_url,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let id = alert_id(frame.body).unwrap();
    let fields: Vec<&str> = line.split("  ").collect();
    assert_eq!(fields.len(), 4, "{line}");
    assert_eq!(
        fields[0].len(),
        "2026-11-23 20:31:05.123456".len(),
        "{line}"
    );
    assert_eq!(fields[1], format!("id={id}"));
    assert!(fields[2].starts_with("len(history)="), "{line}");
    assert_eq!(fields[3], format!("size={}", messages[0].0.len()));
}

#[tokio::test]
async fn play_stream_repeats_on_schedule_and_copies_every_value() {
    let dir = tempfile::tempdir().unwrap();
    // Read out over 1 s, so a paced pass fits in the 2 s interval.
    let file = visit_over(dir.path(), ALERTS, 1.0);
    let (subject, _) = register_latest("sim-play").await;
    let src = unique_name("alerts-static-play");
    let dst = unique_name("alerts-simulated");
    load(&src, &file, Some(&subject)).await;

    let (report, passes) = replay(&play_args(
        &src,
        &dst,
        &["--repeat-interval", "2", "--passes", "3"],
    ))
    .await;
    assert_eq!(report.passes, 3);
    assert_eq!(report.alerts, 3 * ALERTS as u64);
    let durations: Vec<Duration> = passes.iter().map(|p| p.duration).collect();
    assert_eq!(report.overruns, 0, "pass durations {durations:?}");
    let t0 = passes[0].started;
    for (k, pass) in passes.iter().enumerate() {
        let due = t0 + Duration::from_secs(2 * k as u64);
        let off = pass
            .started
            .saturating_duration_since(due)
            .max(due.saturating_duration_since(pass.started));
        assert!(
            off < Duration::from_millis(100),
            "pass {k} started {off:?} off schedule"
        );
        assert_eq!(pass.alerts, ALERTS as u64);
        // Paced by the offsets: the visit spans 1 s.
        assert!(
            pass.duration > Duration::from_millis(950),
            "pass {k} took {:?}",
            pass.duration
        );
    }

    let static_values: Vec<Vec<u8>> = read_topic(&src).into_iter().map(|(v, _)| v).collect();
    let replayed = read_topic(&dst);
    assert_eq!(replayed.len(), 3 * ALERTS);
    for (i, (value, header)) in replayed.iter().enumerate() {
        assert_eq!(value, &static_values[i % ALERTS], "message {i}");
        assert!(header.is_none(), "no headers on the live topic");
    }
}

#[tokio::test]
async fn renumbered_replays_give_each_pass_fresh_ids() {
    let dir = tempfile::tempdir().unwrap();
    let file = visit(dir.path(), 50);
    let src = unique_name("alerts-static-renumber");
    let dst = unique_name("alerts-renumbered");
    load(&src, &file, None).await;
    let play = play_args(
        &src,
        &dst,
        &[
            "--repeat-interval",
            "0",
            "--passes",
            "2",
            "--pacing",
            "none",
            "--renumber-ids",
        ],
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let replay = tokio::spawn(async move {
        rubin_alert_sim::replayer::serve(&play, listener, CancellationToken::new(), None).await
    });
    // The daemon's endpoints answer while it replays.
    let client = reqwest::Client::new();
    let mut saw_metrics = false;
    while !replay.is_finished() {
        if let Ok(response) = client.get(format!("http://{address}/metrics")).send().await {
            let body = response.text().await.unwrap_or_default();
            saw_metrics |= body.contains("alertsim_alerts_sent_total")
                && body.contains("alertsim_passes_total");
        }
        if let Ok(response) = client.get(format!("http://{address}/healthz")).send().await {
            assert_eq!(response.status(), 200);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    replay.await.unwrap().unwrap();
    assert!(saw_metrics, "/metrics served the replayer's counters");
    let ids: Vec<i64> = read_topic(&dst)
        .iter()
        .map(|(v, _)| alert_id(wire::unframe(v).unwrap().body).unwrap())
        .collect();
    assert_eq!(ids.len(), 100);
    let distinct: std::collections::BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        100,
        "every replayed alert has an id of its own"
    );
}

#[tokio::test]
async fn a_community_broker_reads_the_replayed_stream_with_fastavro() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().unwrap();
    let file = visit(dir.path(), 200);
    let (subject, schema_id) = register_latest("sim-broker").await;
    let src = unique_name("alerts-static-broker");
    let dst = unique_name("alerts-simulated-broker");
    let user = unique_name("broker");
    let passwords = stack
        .apply_users(&serde_json::json!({"users": [{"username": user, "readonlyTopics": [dst], "groups": [user]}]}))
        .unwrap();
    load(&src, &file, Some(&subject)).await;
    replay(&play_args(&src, &dst, &["--pacing", "none"])).await;

    let output = Command::new(&stack.python)
        .arg(integration_tests::repo_root().join("integration-tests/python/community_broker.py"))
        .args([
            "--bootstrap",
            &stack.kafka_scram,
            "--username",
            &user,
            "--topic",
            &dst,
        ])
        .args([
            "--group",
            &format!("{user}-consumer"),
            "--registry",
            &stack.registry_url,
            "--expect",
            "200",
        ])
        .env("BROKER_PASSWORD", &passwords[&user])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["decoded"], 200);
    assert_eq!(summary["schema_ids"], serde_json::json!([schema_id]));
}

fn run_cli(args: &[&str]) -> (bool, String) {
    let output = Command::new(service_binary("rubin-alert-sim"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_creates_no_topic() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().unwrap();
    let schema_dir = schema_dir();
    let schema_dir = schema_dir.to_str().unwrap();
    let topic = unique_name("alerts-static-bad");
    let not_avro = dir.path().join("notes.txt");
    std::fs::write(&not_avro, "these are not alerts").unwrap();
    let weather = dir.path().join("weather.avro");
    {
        let schema =
            r#"{"type":"record","name":"weather","fields":[{"name":"temp","type":"double"}]}"#;
        let mut writer = alert_packet::container::ContainerWriter::new(
            std::fs::File::create(&weather).unwrap(),
            schema,
            Codec::Null,
            [0; 16],
        )
        .unwrap();
        writer.append_datum(&1.5f64.to_le_bytes()).unwrap();
        writer.finish().unwrap();
    }
    let old = tree()
        .get("7.4".parse().unwrap())
        .unwrap()
        .sample_data_dir()
        .join("fakeAlert.avro");
    let good = visit(dir.path(), 3);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![not_avro.display().to_string()],
            "not a readable Avro container file",
        ),
        (vec![weather.display().to_string()], "does not hold alerts"),
        (vec![old.display().to_string()], "diaSourceId"),
        (
            vec![
                "--schema-version".into(),
                "99.9".into(),
                good.display().to_string(),
            ],
            "99.9",
        ),
        (
            vec![
                "--schema-registry-url".into(),
                "http://127.0.0.1:1".into(),
                good.display().to_string(),
            ],
            "registry",
        ),
        (
            vec![
                "--subject".into(),
                unique_name("never-synced"),
                "--schema-registry-url".into(),
                stack.registry_url.clone(),
                good.display().to_string(),
            ],
            "run schema-sync",
        ),
        (
            vec![
                "--schema-id".into(),
                "1".into(),
                "--broker".into(),
                "127.0.0.1:1".into(),
                "--kafka-connect-timeout".into(),
                "3".into(),
                good.display().to_string(),
            ],
            "unreachable",
        ),
        (
            vec![
                "--schema-id".into(),
                "1".into(),
                "--tls-client-key-location".into(),
                good.display().to_string(),
                good.display().to_string(),
            ],
            "all three or none",
        ),
    ];
    for (extra, expected) in cases {
        let mut args: Vec<String> = vec![
            "create-stream".into(),
            "--create-topic".into(),
            "--dst-topic".into(),
            topic.clone(),
            "--schema-dir".into(),
            schema_dir.into(),
        ];
        if !extra.iter().any(|a| a == "--broker") {
            args.extend(["--broker".into(), stack.kafka_plaintext.clone()]);
        }
        args.extend(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, stderr) = run_cli(&refs);
        assert!(!ok, "{args:?} should fail");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected `{expected}` in: {stderr}"
        );
    }
    let admin: AdminClient<DefaultClientContext> = stack
        .kafka_plaintext()
        .client_config()
        .unwrap()
        .create()
        .unwrap();
    let metadata = admin
        .inner()
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .unwrap();
    assert!(
        metadata.topics()[0].partitions().is_empty(),
        "no topic was created"
    );
}

#[test]
fn generate_writes_a_readable_visit() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("visit.avro");
    let schema_dir = schema_dir();
    let (ok, stderr) = run_cli(&[
        "generate",
        "--alerts",
        "20",
        "--output",
        output.to_str().unwrap(),
        "--schema-version",
        "10.0",
        "--seed",
        "7",
        "--schema-dir",
        schema_dir.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let mut reader = ContainerReader::new(std::fs::File::open(&output).unwrap()).unwrap();
    assert_eq!(reader.schema().name(), Some("lsst.v10_0.alert"));
    let mut count = 0;
    while let Some(datum) = reader.next_datum() {
        datum.unwrap();
        count += 1;
    }
    assert_eq!(count, 20);
    let (ok, stderr) = run_cli(&[
        "generate",
        "--alerts",
        "5",
        "--output",
        output.to_str().unwrap(),
        "--codec",
        "lz4",
        "--schema-dir",
        schema_dir.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("lz4"), "{stderr}");
}
