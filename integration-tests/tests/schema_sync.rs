//! schema-sync against schema registries.
//!
//! Which registry each test uses, and why:
//! - `--mode latest` (twice, then a conflicting registration) and the refusal of `--mode
//!   import` run against the stack's real registry, Apicurio 3.3.3 (`ALERTDIST_SCHEMA_REGISTRY_URL`),
//!   each in its own subjects (`unique_name`), because Apicurio is shared and in-memory;
//! - the import path (ids `major*100 + minor`, second run idempotent, conflicting id refused,
//!   per-version subjects, prune) runs against `integration_tests::confluent_registry`, a
//!   Confluent-API test server, because Apicurio ignores client-chosen ids (it accepts IMPORT
//!   mode and then assigns its own), so the import path cannot be exercised on it;
//! - the binary runs as a process for exit codes and stderr: unreachable registry, unknown
//!   schema directory, conflicting id (test server), bad flags.

use alert_packet::tree::{locate_with_python, SchemaTree};
use integration_tests::confluent_registry::ConfluentRegistry;
use integration_tests::{service_binary, unique_name, Stack};
use registry_client::RegistryClient;
use schema_sync::{Mode, Settings, SyncError};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn schema_dir() -> PathBuf {
    locate_with_python(&Stack::get().python).unwrap()
}

fn tree() -> SchemaTree {
    SchemaTree::load(&schema_dir()).unwrap()
}

fn settings(url: &str, subject: &str, mode: Mode) -> Settings {
    Settings {
        schema_registry_url: url.to_owned(),
        subject: subject.to_owned(),
        mode,
        schema_dir: Some(schema_dir()),
        wait: service_kit::settings::DurationSetting(std::time::Duration::from_secs(5)),
        ..Settings::default()
    }
}

async fn sync(settings: &Settings) -> (Result<schema_sync::Outcome, SyncError>, String) {
    let mut out = Vec::new();
    let result = schema_sync::run(settings, CancellationToken::new(), &mut out).await;
    (result, String::from_utf8(out).unwrap())
}

fn client(url: &str) -> RegistryClient {
    RegistryClient::new(url, Duration::from_secs(5)).unwrap()
}

/// (version, id, schema text) of every version under `subject`.
async fn contents(client: &RegistryClient, subject: &str) -> Vec<(u32, u32, String)> {
    let versions = match client.subject_versions(subject).await {
        Ok(versions) => versions,
        Err(registry_client::RegistryError::NotFound { .. }) => return Vec::new(),
        Err(e) => panic!("{e}"),
    };
    let mut out = Vec::new();
    for version in versions {
        let found = client.subject_version(subject, version).await.unwrap();
        out.push((found.version, found.id, found.schema));
    }
    out
}

/// The latest schema with its last top-level field removed: a changed `lsst.v11_1.alert`.
fn edited_latest(tree: &SchemaTree) -> String {
    let mut json = tree.latest().schema.to_json();
    json["fields"].as_array_mut().unwrap().pop();
    json.to_string()
}

#[tokio::test]
async fn import_mode_into_an_empty_registry_follows_the_id_rule_and_a_second_run_changes_nothing() {
    let registry = ConfluentRegistry::start().await;
    let tree = tree();
    let client = client(registry.url());
    let mut settings = settings(registry.url(), "alert-packet", Mode::Import);
    settings.per_version_subjects = true;

    // The plan first: it names every registration and changes nothing.
    settings.dry_run = true;
    let (result, plan) = sync(&settings).await;
    result.unwrap();
    assert!(
        plan.contains("register `lsst.v11_1.alert` under alert-packet with id 1101, version 1101"),
        "{plan}"
    );
    assert!(
        plan.contains("set compatibility of alert-packet to NONE"),
        "{plan}"
    );
    assert!(client.subjects().await.unwrap().is_empty());
    settings.dry_run = false;

    let (result, summary) = sync(&settings).await;
    let outcome = result.unwrap();
    let versions = tree.versions().count();
    assert_eq!(outcome.registered, 2 * versions, "{summary}");
    for versioned in tree.versions() {
        let id = versioned.version.registry_id();
        let found = client.subject_version("alert-packet", id).await.unwrap();
        assert_eq!(found.id, id, "{}", versioned.version);
        assert_eq!(
            alert_packet::schema::Schema::parse_str(&found.schema)
                .unwrap()
                .canonical_form(),
            versioned.canonical_form
        );
        // Registered with docs, which readers need.
        assert!(found.schema.contains("\"doc\""));
        let topic_subject = format!("lsst-alerts-v{}-value", versioned.version);
        let found = client.subject_version(&topic_subject, id).await.unwrap();
        assert_eq!(found.id, id);
    }
    assert_eq!(
        client.subject_versions("alert-packet").await.unwrap().len(),
        versions
    );
    assert_eq!(
        client.get_schema(1101).await.unwrap(),
        tree.latest().schema.to_json().to_string()
    );
    assert_eq!(
        client
            .get_config(Some("alert-packet"))
            .await
            .unwrap()
            .as_deref(),
        Some("NONE")
    );
    // The subject had no mode of its own before, and has none after.
    assert_eq!(client.get_mode(Some("alert-packet")).await.unwrap(), None);
    // What the loader asks: the id of exactly this schema under the subject.
    let found = client
        .lookup("alert-packet", &tree.latest().schema.to_json().to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.version), (1101, 1101));

    let before = contents(&client, "alert-packet").await;
    let (result, summary) = sync(&settings).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.registered, 0, "{summary}");
    assert_eq!(outcome.compatibility_set, 0, "{summary}");
    assert_eq!(outcome.in_place, 2 * versions);
    assert_eq!(contents(&client, "alert-packet").await, before);
    assert_eq!(client.subjects().await.unwrap().len(), 1 + versions);
}

#[tokio::test]
async fn import_mode_refuses_an_id_held_by_another_schema_and_changes_nothing() {
    let registry = ConfluentRegistry::start().await;
    let tree = tree();
    let client = client(registry.url());
    // Someone put a different schema at 11.1's id.
    client
        .set_mode(Some("other"), "IMPORT", false)
        .await
        .unwrap();
    client
        .register("other", &edited_latest(&tree), Some(1101), None)
        .await
        .unwrap();

    let (result, _) = sync(&settings(registry.url(), "alert-packet", Mode::Import)).await;
    let error = result.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, SyncError::Conflicts(ref c) if c.len() == 1),
        "{message}"
    );
    assert!(
        message.contains("schema id 1101 is already taken by `lsst.v11_1.alert`"),
        "{message}"
    );
    assert!(message.contains("lsst.v11_1.alert.avsc"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(contents(&client, "alert-packet").await.is_empty());
    assert_eq!(client.get_config(Some("alert-packet")).await.unwrap(), None);
}

#[tokio::test]
async fn import_mode_refuses_a_schema_registered_under_another_id() {
    let registry = ConfluentRegistry::start().await;
    let client = client(registry.url());
    // An earlier `--mode latest` run: the registry chose id 1.
    let (result, _) = sync(&settings(registry.url(), "alert-packet", Mode::Latest)).await;
    result.unwrap();
    assert_eq!(contents(&client, "alert-packet").await[0].1, 1);

    let (result, _) = sync(&settings(registry.url(), "alert-packet", Mode::Import)).await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains(
            "`lsst.v11_1.alert` is already registered under subject alert-packet with id 1 (version 1), not with id 1101"
        ),
        "{message}"
    );
    assert_eq!(contents(&client, "alert-packet").await.len(), 1);
}

#[tokio::test]
async fn a_signal_stops_the_run_before_the_next_change() {
    let registry = ConfluentRegistry::start().await;
    let client = client(registry.url());
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    let mut out = Vec::new();
    let result = schema_sync::run(
        &settings(registry.url(), "alert-packet", Mode::Import),
        shutdown,
        &mut out,
    )
    .await;
    assert!(matches!(result, Err(SyncError::Interrupted)), "{result:?}");
    assert!(client.subjects().await.unwrap().is_empty());
    assert_eq!(client.get_mode(Some("alert-packet")).await.unwrap(), None);
}

#[tokio::test]
async fn versions_not_in_the_tree_are_kept_unless_pruned() {
    let registry = ConfluentRegistry::start().await;
    let tree = tree();
    let client = client(registry.url());
    let stray = r#"{"type":"record","name":"stray","namespace":"lsst.test","fields":[]}"#;
    client
        .register("alert-packet", stray, None, None)
        .await
        .unwrap();
    let mut settings = settings(registry.url(), "alert-packet", Mode::Latest);

    let (result, _) = sync(&settings).await;
    assert_eq!(result.unwrap().registered, 1);
    assert_eq!(contents(&client, "alert-packet").await.len(), 2);

    settings.prune = true;
    settings.dry_run = true;
    let (result, plan) = sync(&settings).await;
    result.unwrap();
    assert!(
        plan.contains("delete version 1 of alert-packet (id 1, `lsst.test.stray`)"),
        "{plan}"
    );
    assert_eq!(contents(&client, "alert-packet").await.len(), 2);
    settings.dry_run = false;
    let (result, _) = sync(&settings).await;
    assert_eq!(result.unwrap().deleted, 1);
    let left = contents(&client, "alert-packet").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].2, tree.latest().schema.to_json().to_string());
}

#[tokio::test]
async fn latest_mode_on_the_stack_registry_twice_then_a_conflicting_registration() {
    let stack = Stack::get();
    let tree = tree();
    let client = client(&stack.registry_url);
    let subject = unique_name("schema-sync-latest");
    // Per-version subjects have fixed names, which a shared registry cannot give one test:
    // they are covered on the test registry.
    let latest = settings(&stack.registry_url, &subject, Mode::Latest);

    let (result, summary) = sync(&latest).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.registered, 1, "{summary}");
    let first = contents(&client, &subject).await;
    assert_eq!(first.len(), 1);
    let found = client
        .lookup(&subject, &tree.latest().schema.to_json().to_string())
        .await
        .unwrap()
        .expect("the latest schema is registered");
    assert_eq!(found.id, first[0].1);
    assert_eq!(
        client.get_config(Some(&subject)).await.unwrap().as_deref(),
        Some("NONE")
    );

    let (result, summary) = sync(&latest).await;
    let outcome = result.unwrap();
    assert_eq!((outcome.registered, outcome.in_place), (0, 1), "{summary}");
    assert_eq!(contents(&client, &subject).await, first);

    // A different `lsst.v11_1.alert` already registered under another subject is refused.
    let conflicting = unique_name("schema-sync-conflict");
    client
        .register(&conflicting, &edited_latest(&tree), None, None)
        .await
        .unwrap();
    let before = contents(&client, &conflicting).await;
    let (result, _) = sync(&settings(&stack.registry_url, &conflicting, Mode::Latest)).await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains(&format!(
            "subject {conflicting} version {} (id {}) holds a different `lsst.v11_1.alert`",
            before[0].0, before[0].1
        )),
        "{message}"
    );
    assert!(
        message.contains("canonical forms differ at byte"),
        "{message}"
    );
    assert_eq!(contents(&client, &conflicting).await, before);
}

#[tokio::test]
async fn import_mode_on_the_stack_registry_is_refused_because_it_ignores_ids() {
    let stack = Stack::get();
    let client = client(&stack.registry_url);
    let subject = unique_name("schema-sync-import");
    let (result, _) = sync(&settings(&stack.registry_url, &subject, Mode::Import)).await;
    let error = result.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, SyncError::IgnoredId { requested: 300, .. }),
        "{message}"
    );
    assert!(
        message.contains("the registry ignored the requested schema id 300"),
        "{message}"
    );
    assert!(
        message.contains("does not support IMPORT mode"),
        "{message}"
    );
    assert!(message.contains("use --mode latest"), "{message}");
    assert!(message.contains("was removed again"), "{message}");
    // The registration Apicurio made under its own id was taken back, and the mode restored.
    assert!(contents(&client, &subject).await.is_empty());
    assert_ne!(
        client.get_mode(Some(&subject)).await.unwrap().as_deref(),
        Some("IMPORT")
    );
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

async fn run_binary(args: &[&str]) -> Run {
    let binary = service_binary("schema-sync");
    let started = Instant::now();
    let output = tokio::process::Command::new(binary)
        .args(args)
        .env("LOG_FORMAT", "json")
        .env_remove("ALERT_SCHEMA_DIR")
        .output()
        .await
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

#[tokio::test]
async fn the_binary_exits_non_zero_with_a_clear_message() {
    let schema_dir = schema_dir();
    let schema_dir = schema_dir.to_str().unwrap();

    // Nothing listens on port 1: give up after --wait 2.
    let run = run_binary(&[
        "--schema-registry-url",
        "http://127.0.0.1:1",
        "--schema-dir",
        schema_dir,
        "--wait",
        "2",
    ])
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: the schema registry at http://127.0.0.1:1 did not answer within 2 s"),
        "{}",
        run.stderr
    );
    assert!(run.elapsed >= Duration::from_secs(2), "{:?}", run.elapsed);
    assert!(run.elapsed < Duration::from_secs(20), "{:?}", run.elapsed);
    // Logs are JSON lines.
    let last_log = run.stderr.lines().find(|l| l.starts_with('{')).unwrap();
    serde_json::from_str::<serde_json::Value>(last_log).unwrap();

    let run = run_binary(&[
        "--schema-registry-url",
        "http://127.0.0.1:1",
        "--schema-dir",
        "/nonexistent/schema",
    ])
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: cannot load the alert schemas: /nonexistent/schema"),
        "{}",
        run.stderr
    );

    let run = run_binary(&["--mode", "everything"]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("everything"), "{}", run.stderr);

    // A conflicting id on a registry that honours ids.
    let registry = ConfluentRegistry::start().await;
    let client = client(registry.url());
    client
        .set_mode(Some("other"), "IMPORT", false)
        .await
        .unwrap();
    client
        .register("other", &edited_latest(&tree()), Some(1101), None)
        .await
        .unwrap();
    let run = run_binary(&[
        "--schema-registry-url",
        registry.url(),
        "--schema-dir",
        schema_dir,
    ])
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("schema id 1101 is already taken by `lsst.v11_1.alert`"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(client.subject_versions("alert-packet").await.is_err());

    // And the same registry without the conflict: exit 0 and a summary.
    client.delete_subject("other", false).await.unwrap();
    client.delete_subject("other", true).await.unwrap();
    let run = run_binary(&[
        "--schema-registry-url",
        registry.url(),
        "--schema-dir",
        schema_dir,
    ])
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "schema-sync: {} registered",
            tree().versions().count()
        )),
        "{}",
        run.stdout
    );
}
